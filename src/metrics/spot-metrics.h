/* spot-metrics.h: every metric family of the service, declared in one place.
 *
 * Components take their handles from a SpotMetrics (normally the process-wide
 * spot_metrics_get_default()) and update them from any thread. Products are
 * never labels: per-product detail belongs in logs and D-Bus, not in series.
 * docs/metrics.md describes each family; the names are:
 *
 * exchange input (src/coinbase)
 *   spot_trades_received_total                 counter
 *   spot_exchange_candles_received_total       counter
 *   spot_websocket_connections                 gauge
 *   spot_websocket_reconnects_total            counter
 *   spot_websocket_sequence_gaps_total         counter
 *   spot_websocket_stalls_total                counter
 * engine (src/aggregate)
 *   spot_candle_updates_total                  counter
 *   spot_processing_latency_seconds            histogram  exchange message timestamp -> update
 * emitted spot_late_trades_total                     counter    dropped: bucket state already
 * released spot_corrected_trades_total                counter    late but inside the correction
 * window spot_duplicate_trades_total                counter    at or under the dedupe high-water
 * mark spot_divergence_checks_total{result}       counter    match | divergent | skipped
 *   spot_repairs_queued_total                  counter    minutes marked dirty, queued for REST
 * repair spot_repairs_pending                       gauge      dirty minutes not yet repaired
 *   spot_rest_repairs_total{result}            counter    applied | failed | abandoned
 * outputs (src/nats, src/store, src/http)
 *   spot_nats_connected                        gauge 0/1
 *   spot_nats_messages_published_total         counter
 *   spot_publish_latency_seconds               histogram  update emitted -> NATS publish returned
 *   spot_database_connected                    gauge 0/1
 *   spot_db_batches_written_total              counter
 *   spot_db_rows_written_total                 counter
 *   spot_db_write_latency_seconds              histogram  one batch, send -> commit
 *   spot_sse_clients                           gauge
 *   spot_sse_slow_client_disconnects_total     counter
 * backpressure (SpotBackpressureMonitor)
 *   spot_dropped_messages_total{stage}         counter    inbox | shard_queue | nats | sse_client |
 * db spot_queue_length{queue}                   gauge spot_queue_capacity{queue} gauge
 *   spot_queue_utilisation_ratio{queue}        gauge      length / capacity, last sample
 *   spot_queue_high_water_mark{queue}          gauge      greatest length sampled
 *   spot_queue_dropped_total{queue}            counter
 * spot_build_info{version} (gauge, always 1) and the process_* families of
 * spot-process-metrics.h.
 *
 * Thread safety: spot_metrics_get_default() from any thread (created once);
 * spot_metrics_new/free at start-up or in tests; handles from any thread.
 */
#pragma once

#include <glib.h>

#include "metrics/spot-metric-registry.h"

G_BEGIN_DECLS

typedef enum
{
  SPOT_DROP_STAGE_INBOX,
  SPOT_DROP_STAGE_SHARD_QUEUE,
  SPOT_DROP_STAGE_NATS,
  SPOT_DROP_STAGE_SSE_CLIENT,
  SPOT_DROP_STAGE_DB,
  SPOT_DROP_STAGE_N,
} SpotDropStage;

typedef enum
{
  SPOT_DIVERGENCE_MATCH,
  SPOT_DIVERGENCE_DIVERGENT,
  SPOT_DIVERGENCE_SKIPPED, /* the bucket held dirty minutes */
  SPOT_DIVERGENCE_N,
} SpotDivergenceResult;

typedef enum
{
  SPOT_REST_REPAIR_APPLIED,
  SPOT_REST_REPAIR_FAILED,
  SPOT_REST_REPAIR_ABANDONED, /* older than the repair horizon */
  SPOT_REST_REPAIR_N,
} SpotRestRepairOutcome;

typedef struct
{
  SpotMetricRegistry *registry;

  SpotCounter *trades_received;
  SpotCounter *exchange_candles_received;
  SpotGauge *websocket_connections;
  SpotCounter *websocket_reconnects;
  SpotCounter *websocket_sequence_gaps;
  SpotCounter *websocket_stalls;

  SpotCounter *candle_updates;
  SpotHistogram *processing_latency; /* seconds, microsecond sum */
  SpotCounter *late_trades;
  SpotCounter *corrected_trades;
  SpotCounter *duplicate_trades;
  SpotCounter *divergence_checks[SPOT_DIVERGENCE_N];
  SpotCounter *dirty_minutes;       /* spot_repairs_queued_total */
  SpotGauge *dirty_minutes_pending; /* spot_repairs_pending */
  SpotCounter *rest_repairs[SPOT_REST_REPAIR_N];

  SpotGauge *nats_connected;
  SpotCounter *nats_messages_published;
  SpotHistogram *publish_latency;
  SpotGauge *database_connected;
  SpotCounter *db_batches_written;
  SpotCounter *db_rows_written;
  SpotHistogram *db_write_latency;
  SpotGauge *sse_clients;
  SpotCounter *sse_slow_client_disconnects;

  SpotCounter *dropped[SPOT_DROP_STAGE_N];

  /* Labelled by queue name; resolved by SpotBackpressureMonitor. */
  SpotMetricFamily *queue_length;
  SpotMetricFamily *queue_capacity;
  SpotMetricFamily *queue_utilisation;
  SpotMetricFamily *queue_high_water;
  SpotMetricFamily *queue_dropped;
} SpotMetrics;

/* Declares every family in @registry (a new one when NULL) and, when
 * @with_process_metrics, the process_* families. */
SpotMetrics *spot_metrics_new (SpotMetricRegistry *registry, gboolean with_process_metrics);
void spot_metrics_free (SpotMetrics *metrics);

/* The process-wide instance with process metrics, created on first call and
 * never freed. */
SpotMetrics *spot_metrics_get_default (void);

/* "inbox", "shard_queue", "nats", "sse_client", "db". */
const char *spot_drop_stage_to_string (SpotDropStage stage);

/* Appends the text of @metrics' registry (for /metrics). */
void spot_metrics_render (SpotMetrics *metrics, GString *out);

/* Number of queue series a deployment may have (inboxes, shard queues, ...). */
#define SPOT_METRICS_MAX_QUEUES 256

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotMetrics, spot_metrics_free)

G_END_DECLS
