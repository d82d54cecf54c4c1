/* spot-metrics.c: every metric family of the service, declared in one place. */
#define G_LOG_DOMAIN "spot-metrics"

#include "config.h"

#include "metrics/spot-metrics.h"

#include "metrics/spot-process-metrics.h"

static const char *const drop_stage_names[SPOT_DROP_STAGE_N] = {
  "inbox", "shard_queue", "nats", "sse_client", "db",
};
static const char *const divergence_names[SPOT_DIVERGENCE_N] = { "match", "divergent", "skipped" };
static const char *const repair_names[SPOT_REST_REPAIR_N] = { "applied", "failed", "abandoned" };

/* Database batches: from a few ms to tens of seconds while PostgreSQL is slow. */
static const double db_latency_bounds[] = {
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
};
/* Core NATS publishes: tens of microseconds to a stall of StallWait or more. */
static const double publish_latency_bounds[] = {
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
  0.0025,  0.005,    0.01,    0.025,  0.1,     0.25,   1.0,
};

const char *
spot_drop_stage_to_string (SpotDropStage stage)
{
  g_return_val_if_fail (stage < SPOT_DROP_STAGE_N, "unknown");
  return drop_stage_names[stage];
}

static SpotHistogram *
latency_histogram (SpotMetricRegistry *registry,
                   const char *name,
                   const char *help,
                   const double *bounds,
                   guint n_bounds)
{
  return spot_metric_registry_histogram (registry, name, help, bounds, n_bounds,
                                         SPOT_HISTOGRAM_SCALE_US);
}

static SpotMetricFamily *
labelled (SpotMetricRegistry *registry,
          SpotMetricType type,
          const char *name,
          const char *help,
          const char *label)
{
  const char *labels[] = { label, NULL };
  SpotMetricOptions options = { .max_series = SPOT_METRICS_MAX_QUEUES };

  return spot_metric_registry_add_family (registry, type, name, help, labels, &options);
}

SpotMetrics *
spot_metrics_new (SpotMetricRegistry *registry, gboolean with_process_metrics)
{
  SpotMetrics *m = g_new0 (SpotMetrics, 1);
  SpotMetricRegistry *r;
  SpotMetricFamily *family;
  guint n_latency;
  const double *latency = spot_histogram_latency_bounds (&n_latency);

  m->registry
      = registry != NULL ? spot_metric_registry_ref (registry) : spot_metric_registry_new ();
  r = m->registry;

  m->trades_received = spot_metric_registry_counter (
      r, "spot_trades_received_total", "Trades received from the exchange WebSocket.");
  m->exchange_candles_received = spot_metric_registry_counter (
      r, "spot_exchange_candles_received_total",
      "5-minute candles received from the exchange WebSocket candles channel.");
  m->websocket_connections = spot_metric_registry_gauge (
      r, "spot_websocket_connections",
      "Exchange WebSocket connections currently open and subscribed.");
  m->websocket_reconnects = spot_metric_registry_counter (
      r, "spot_websocket_reconnects_total",
      "Exchange WebSocket reconnections after a close, error or stall.");
  m->websocket_sequence_gaps = spot_metric_registry_counter (
      r, "spot_websocket_sequence_gaps_total",
      "Jumps in sequence_num on an exchange WebSocket connection (lost messages).");
  m->websocket_stalls = spot_metric_registry_counter (
      r, "spot_websocket_stalls_total",
      "Exchange WebSocket connections that went silent past STALL_TIMEOUT_S.");

  m->candle_updates = spot_metric_registry_counter (
      r, "spot_candle_updates_total",
      "Candle updates emitted by the aggregation engine (live, complete, corrected, repaired).");
  m->processing_latency = latency_histogram (r, "spot_processing_latency_seconds",
                                             "Time from the exchange message timestamp to the "
                                             "candle update being emitted, live updates only.",
                                             latency, n_latency);
  m->late_trades = spot_metric_registry_counter (
      r, "spot_late_trades_total",
      "Late trades dropped because their bucket's state had been released.");
  m->corrected_trades = spot_metric_registry_counter (
      r, "spot_corrected_trades_total",
      "Late trades applied inside the correction window, emitting corrected revisions.");
  m->duplicate_trades = spot_metric_registry_counter (
      r, "spot_duplicate_trades_total",
      "Trades dropped as duplicates (at or under the product's trade_id high-water mark).");
  family = labelled (
      r, SPOT_METRIC_COUNTER, "spot_divergence_checks_total",
      "Completed exchange 5-minute candles compared with the service's own, by result.", "result");
  for (guint i = 0; i < SPOT_DIVERGENCE_N; i++)
    m->divergence_checks[i] = spot_metric_family_counter (family, divergence_names[i], NULL);
  /* Named after repairs: promtool rejects "minutes" in a name (not a base unit). */
  m->dirty_minutes = spot_metric_registry_counter (
      r, "spot_repairs_queued_total",
      "Minutes marked dirty (trades may have been missed) and queued for a REST repair.");
  m->dirty_minutes_pending = spot_metric_registry_gauge (
      r, "spot_repairs_pending", "Dirty minutes waiting for their REST repair.");
  family = labelled (r, SPOT_METRIC_COUNTER, "spot_rest_repairs_total",
                     "REST repairs of dirty minutes, by result.", "result");
  for (guint i = 0; i < SPOT_REST_REPAIR_N; i++)
    m->rest_repairs[i] = spot_metric_family_counter (family, repair_names[i], NULL);

  m->nats_connected = spot_metric_registry_gauge (r, "spot_nats_connected",
                                                  "1 when the NATS connection is up, else 0.");
  m->nats_messages_published = spot_metric_registry_counter (
      r, "spot_nats_messages_published_total", "Candle updates published on NATS subjects.");
  m->publish_latency
      = latency_histogram (r, "spot_publish_latency_seconds",
                           "Time from a candle update being emitted to its NATS publish returning.",
                           publish_latency_bounds, G_N_ELEMENTS (publish_latency_bounds));
  m->database_connected = spot_metric_registry_gauge (
      r, "spot_database_connected", "1 when the PostgreSQL connection is up, else 0.");
  m->db_batches_written = spot_metric_registry_counter (r, "spot_db_batches_written_total",
                                                        "Batches committed to PostgreSQL.");
  m->db_rows_written = spot_metric_registry_counter (r, "spot_db_rows_written_total",
                                                     "Candle rows upserted into PostgreSQL.");
  m->db_write_latency
      = latency_histogram (r, "spot_db_write_latency_seconds",
                           "Time to write one batch to PostgreSQL, from send to commit.",
                           db_latency_bounds, G_N_ELEMENTS (db_latency_bounds));
  m->sse_clients
      = spot_metric_registry_gauge (r, "spot_sse_clients", "Connected /stream (SSE) clients.");
  m->sse_slow_client_disconnects = spot_metric_registry_counter (
      r, "spot_sse_slow_client_disconnects_total",
      "SSE clients disconnected because their buffer passed SSE_CLIENT_BUFFER.");

  family = labelled (r, SPOT_METRIC_COUNTER, "spot_dropped_messages_total",
                     "Messages or batches dropped because a bounded queue was full, by stage.",
                     "stage");
  for (guint i = 0; i < SPOT_DROP_STAGE_N; i++)
    m->dropped[i] = spot_metric_family_counter (family, drop_stage_names[i], NULL);

  m->queue_length = labelled (r, SPOT_METRIC_GAUGE, "spot_queue_length",
                              "Items in the queue at the last sample.", "queue");
  m->queue_capacity = labelled (r, SPOT_METRIC_GAUGE, "spot_queue_capacity",
                                "Capacity of the queue in items.", "queue");
  m->queue_utilisation = labelled (r, SPOT_METRIC_GAUGE, "spot_queue_utilisation_ratio",
                                   "Queue length divided by capacity at the last sample.", "queue");
  m->queue_high_water = labelled (r, SPOT_METRIC_GAUGE, "spot_queue_high_water_mark",
                                  "Greatest queue length sampled since start.", "queue");
  m->queue_dropped = labelled (r, SPOT_METRIC_COUNTER, "spot_queue_dropped_total",
                               "Items dropped because the queue was full.", "queue");

  family = labelled (r, SPOT_METRIC_GAUGE, "spot_build_info",
                     "Always 1; the version label names the running build.", "version");
  spot_gauge_set (spot_metric_family_gauge (family, PACKAGE_VERSION, NULL), 1.0);

  if (with_process_metrics)
    spot_process_metrics_register (r);
  return m;
}

void
spot_metrics_free (SpotMetrics *metrics)
{
  if (metrics == NULL)
    return;
  spot_metric_registry_unref (metrics->registry);
  g_free (metrics);
}

SpotMetrics *
spot_metrics_get_default (void)
{
  static SpotMetrics *default_metrics;

  if (g_once_init_enter (&default_metrics))
    g_once_init_leave (&default_metrics, spot_metrics_new (NULL, TRUE));
  return default_metrics;
}

void
spot_metrics_render (SpotMetrics *metrics, GString *out)
{
  spot_metric_registry_render (metrics->registry, out);
}
