/* spot-service-web.c: HTTP server, /health checks and pipeline metrics. */
#define G_LOG_DOMAIN "spot-service"

#include "config.h"

#include "service/spot-service-web.h"

#include "http/spot-health-checks.h"
#include "http/spot-http-server.h"
#include "metrics/spot-backpressure-monitor.h"
#include "metrics/spot-metrics.h"

struct _SpotServiceWeb
{
  SpotMetrics *metrics; /* process default, never freed */
  SpotBackpressureMonitor *monitor;
  SpotHealth *health;
  SpotHttpServer *server;
  gboolean started;
  GPtrArray *queues; /* SpotMonitoredQueue*, removed on free */
  SpotServiceCounters last;
};

SpotServiceWeb *
spot_service_web_new (const SpotConfig *config)
{
  SpotServiceWeb *web = g_new0 (SpotServiceWeb, 1);
  SpotHttpOptions options;

  web->metrics = spot_metrics_get_default ();
  web->monitor
      = spot_backpressure_monitor_new (web->metrics, SPOT_BACKPRESSURE_DEFAULT_INTERVAL_MS);
  web->health = spot_health_new ();
  web->queues = g_ptr_array_new ();
  spot_http_options_init_from_config (&options, config);
  web->server = spot_http_server_new (&options);
  spot_http_options_clear (&options);
  spot_http_server_set_metrics (web->server, web->metrics);
  spot_http_server_set_health (web->server, web->health);
  spot_health_add_backpressure (web->health, web->monitor, 0.9);
  return web;
}

void
spot_service_web_free (SpotServiceWeb *web)
{
  if (web == NULL)
    return;
  for (guint i = 0; i < web->queues->len; i++)
    spot_backpressure_monitor_remove_queue (web->monitor, g_ptr_array_index (web->queues, i));
  g_ptr_array_unref (web->queues);
  g_clear_object (&web->server);
  g_clear_pointer (&web->health, spot_health_unref);
  g_clear_object (&web->monitor);
  g_free (web);
}

gpointer
spot_service_web_get_metrics (SpotServiceWeb *web)
{
  return web->metrics;
}

SpotHistogram *
spot_service_web_get_processing_latency (SpotServiceWeb *web)
{
  return web->metrics->processing_latency;
}

gpointer
spot_service_web_get_monitor (SpotServiceWeb *web)
{
  return web->monitor;
}

SpotHealth *
spot_service_web_get_health (SpotServiceWeb *web)
{
  return web->health;
}

void
spot_service_web_add_shard_queue (SpotServiceWeb *web,
                                  const char *name,
                                  guint capacity,
                                  SpotServiceQueueLengthFunc get_length,
                                  gpointer user_data)
{
  SpotMonitoredQueue *queue = spot_backpressure_monitor_add_queue (
      web->monitor, name, SPOT_DROP_STAGE_SHARD_QUEUE, capacity, get_length, user_data, NULL);

  if (queue != NULL)
    g_ptr_array_add (web->queues, queue);
}

void
spot_service_web_set_components (SpotServiceWeb *web,
                                 SpotNatsConnection *nats,
                                 SpotRepository *repository,
                                 SpotLiveCache *cache,
                                 SpotCandleHub *hub)
{
  if (nats != NULL)
    spot_health_add_nats (web->health, nats);
  if (repository != NULL)
    {
      spot_health_add_repository (web->health, repository);
      spot_http_server_set_repository (web->server, repository);
    }
  if (cache != NULL)
    {
      spot_health_add_live_cache (web->health, cache);
      spot_http_server_set_live_cache (web->server, cache);
    }
  if (hub != NULL)
    {
      spot_health_add_candle_hub (web->health, hub);
      spot_http_server_set_hub (web->server, hub);
    }
}

gboolean
spot_service_web_start (SpotServiceWeb *web, GError **error)
{
  if (!spot_http_server_start (web->server, error))
    return FALSE;
  web->started = TRUE;
  return TRUE;
}

gboolean
spot_service_web_is_started (SpotServiceWeb *web)
{
  return web->started;
}

guint16
spot_service_web_get_port (SpotServiceWeb *web)
{
  return web->started ? spot_http_server_get_port (web->server) : 0;
}

guint
spot_service_web_get_sse_clients (SpotServiceWeb *web)
{
  SpotHttpStats stats;

  if (!web->started)
    return 0;
  spot_http_server_get_stats (web->server, &stats);
  return stats.sse_clients;
}

/* Counters only grow: add what is new since the last sample. */
static void
advance (SpotCounter *counter, guint64 now, guint64 before)
{
  if (now > before)
    spot_counter_add (counter, now - before);
}

void
spot_service_web_update (SpotServiceWeb *web, const SpotServiceCounters *c)
{
  SpotMetrics *m = web->metrics;
  const SpotServiceCounters *p = &web->last;

  advance (m->candle_updates, c->candle_updates, p->candle_updates);
  advance (m->late_trades, c->late_trades, p->late_trades);
  advance (m->corrected_trades, c->corrected_trades, p->corrected_trades);
  advance (m->duplicate_trades, c->duplicate_trades, p->duplicate_trades);
  advance (m->dirty_minutes, c->dirty_minutes, p->dirty_minutes);
  advance (m->dropped[SPOT_DROP_STAGE_SHARD_QUEUE], c->shard_dropped, p->shard_dropped);
  advance (m->nats_messages_published, c->published, p->published);
  advance (m->dropped[SPOT_DROP_STAGE_NATS], c->publish_dropped, p->publish_dropped);
  advance (m->db_batches_written, c->db_batches, p->db_batches);
  advance (m->db_rows_written, c->db_rows, p->db_rows);
  if (c->db_batches > p->db_batches && c->db_last_write_us > 0)
    spot_histogram_observe_ns (m->db_write_latency, c->db_last_write_us * 1000);
  spot_gauge_set (m->dirty_minutes_pending, (double)c->dirty_pending);
  spot_gauge_set (m->nats_connected, c->nats_connected ? 1 : 0);
  spot_gauge_set (m->database_connected, c->db_connected ? 1 : 0);
  web->last = *c;
}

void
spot_service_web_observe_publish (SpotServiceWeb *web, gint64 latency_ns)
{
  if (latency_ns >= 0)
    spot_histogram_observe_ns (web->metrics->publish_latency, latency_ns);
}

static void
server_stopped_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!spot_http_server_stop_finish (SPOT_HTTP_SERVER (source), result, &error))
    g_warning ("HTTP stop: %s", error->message);
  g_task_return_boolean (task, TRUE);
}

void
spot_service_web_stop_async (SpotServiceWeb *web, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_source_tag (task, spot_service_web_stop_async);
  if (!web->started)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  web->started = FALSE;
  spot_http_server_stop_async (web->server, NULL, server_stopped_cb, task);
}
