/* spot-service-web.h: the service's HTTP side, /health and the metrics it
 * feeds from the pipeline's counters.
 *
 * Kept apart from spot-service.c because src/metrics and the engine both
 * declare an enum SpotRepairResult: no file may include both, so everything
 * that touches SpotMetrics or the HTTP server (which includes it) lives here
 * behind plain types.
 *
 * Thread safety: main thread, except spot_service_web_observe_publish()
 * (any thread: the publisher's latency callback).
 */
#pragma once

#include <gio/gio.h>

#include "config/spot-config.h"
#include "http/spot-health.h"
#include "metrics/spot-histogram.h"
#include "nats/spot-candle-hub.h"
#include "nats/spot-live-cache.h"
#include "nats/spot-nats-connection.h"
#include "store/spot-repository.h"

G_BEGIN_DECLS

typedef struct _SpotServiceWeb SpotServiceWeb;

/* Cumulative figures sampled from the pipeline once a second. */
typedef struct
{
  guint64 candle_updates; /* handed to the sink (live + complete) */
  guint64 late_trades;
  guint64 corrected_trades;
  guint64 duplicate_trades;
  guint64 dirty_minutes;
  guint64 dirty_pending;
  guint64 shard_dropped; /* trades in batches dropped from full shard queues */
  guint64 published;     /* core NATS publishes */
  guint64 publish_dropped;
  guint64 db_batches;
  guint64 db_rows;
  gint64 db_last_write_us; /* duration of the last batch, 0 when none */
  gboolean nats_connected;
  gboolean db_connected;
} SpotServiceCounters;

typedef guint (*SpotServiceQueueLengthFunc) (gpointer user_data);

/* Metrics (the process default registry) and the backpressure monitor
 * exist from here on; the HTTP server from _start. */
SpotServiceWeb *spot_service_web_new (const SpotConfig *config);
void spot_service_web_free (SpotServiceWeb *web);

/* SpotMetrics* and SpotBackpressureMonitor*, as the Coinbase client takes them. */
gpointer spot_service_web_get_metrics (SpotServiceWeb *web);
gpointer spot_service_web_get_monitor (SpotServiceWeb *web);
SpotHealth *spot_service_web_get_health (SpotServiceWeb *web);
/* spot_processing_latency_seconds, for the engine's sink. */
SpotHistogram *spot_service_web_get_processing_latency (SpotServiceWeb *web);

/* A bounded queue for the backpressure monitor (shard queues). */
void spot_service_web_add_shard_queue (SpotServiceWeb *web,
                                       const char *name,
                                       guint capacity,
                                       SpotServiceQueueLengthFunc get_length,
                                       gpointer user_data);

/* Registers the components' /health checks and hands them to the server. */
void spot_service_web_set_components (SpotServiceWeb *web,
                                      SpotNatsConnection *nats,
                                      SpotRepository *repository,
                                      SpotLiveCache *cache,
                                      SpotCandleHub *hub);

/* Binds HTTP_ADDR and serves. */
gboolean spot_service_web_start (SpotServiceWeb *web, GError **error);
gboolean spot_service_web_is_started (SpotServiceWeb *web);
guint16 spot_service_web_get_port (SpotServiceWeb *web);
guint spot_service_web_get_sse_clients (SpotServiceWeb *web);

void spot_service_web_update (SpotServiceWeb *web, const SpotServiceCounters *counters);

/* Any thread: one published live update's latency (exchange timestamp to
 * NATS publish). */
void spot_service_web_observe_publish (SpotServiceWeb *web, gint64 latency_ns);

/* Graceful HTTP stop (SSE streams ended); completes on the main context at
 * once when the server never started. */
void
spot_service_web_stop_async (SpotServiceWeb *web, GAsyncReadyCallback callback, gpointer user_data);

G_END_DECLS
