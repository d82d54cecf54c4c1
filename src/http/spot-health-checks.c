/* spot-health-checks.c: /health checks of NATS, database, cache, hub, queues. */
#define G_LOG_DOMAIN "spot-http"

#include "http/spot-health-checks.h"

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_bool (JsonBuilder *b, const char *name, gboolean value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

static gboolean
check_nats (JsonBuilder *b, gpointer user_data)
{
  SpotNatsStatus status = { 0 };
  gboolean ok;

  spot_nats_connection_get_status (SPOT_NATS_CONNECTION (user_data), &status);
  ok = status.state == SPOT_NATS_STATE_CONNECTED;
  add_string (b, "state", spot_nats_state_to_string (status.state));
  add_bool (b, "embedded", status.embedded);
  add_int (b, "disconnects", (gint64)status.disconnects);
  add_int (b, "reconnects", (gint64)status.reconnects);
  add_string (b, "last_error", status.last_error);
  spot_nats_status_clear (&status);
  return ok;
}

void
spot_health_add_nats (SpotHealth *health, SpotNatsConnection *connection)
{
  spot_health_add_check (health, "nats", TRUE, check_nats, g_object_ref (connection),
                         g_object_unref);
}

static gboolean
check_repository (JsonBuilder *b, gpointer user_data)
{
  SpotRepository *repo = SPOT_REPOSITORY (user_data);
  g_autofree char *error = spot_repository_dup_last_error (repo);
  gboolean ok = spot_repository_is_connected (repo);

  add_bool (b, "connected", ok);
  add_string (b, "last_error", error);
  return ok;
}

void
spot_health_add_repository (SpotHealth *health, SpotRepository *repository)
{
  spot_health_add_check (health, "database", TRUE, check_repository, g_object_ref (repository),
                         g_object_unref);
}

static gboolean
check_live_cache (JsonBuilder *b, gpointer user_data)
{
  SpotLiveCacheStats stats = { 0 };

  spot_live_cache_get_stats (SPOT_LIVE_CACHE (user_data), &stats);
  add_bool (b, "synced", stats.synced);
  add_int (b, "keys", stats.keys);
  add_int (b, "updates", (gint64)stats.updates);
  add_int (b, "watcher_restarts", (gint64)stats.watcher_restarts);
  return stats.synced;
}

void
spot_health_add_live_cache (SpotHealth *health, SpotLiveCache *cache)
{
  spot_health_add_check (health, "live_cache", FALSE, check_live_cache, g_object_ref (cache),
                         g_object_unref);
}

static gboolean
check_hub (JsonBuilder *b, gpointer user_data)
{
  SpotCandleHubStats stats = { 0 };

  spot_candle_hub_get_stats (SPOT_CANDLE_HUB (user_data), &stats);
  add_bool (b, "attached", stats.attached);
  add_bool (b, "local_only", stats.local_only);
  add_int (b, "clients", stats.clients);
  add_int (b, "received", (gint64)stats.received);
  add_int (b, "coalesced", (gint64)stats.coalesced);
  add_int (b, "dropped", (gint64)stats.dropped);
  /* A single instance feeds every product in process and needs no
   * subscription. */
  return stats.attached || stats.local_only;
}

void
spot_health_add_candle_hub (SpotHealth *health, SpotCandleHub *hub)
{
  spot_health_add_check (health, "candle_hub", FALSE, check_hub, g_object_ref (hub),
                         g_object_unref);
}

typedef struct
{
  SpotBackpressureMonitor *monitor;
  double max_utilisation;
} BackpressureCheck;

static void
backpressure_check_free (gpointer data)
{
  BackpressureCheck *check = data;

  g_object_unref (check->monitor);
  g_free (check);
}

static gboolean
check_backpressure (JsonBuilder *b, gpointer user_data)
{
  BackpressureCheck *check = user_data;
  double max = spot_backpressure_monitor_get_max_utilisation (check->monitor);

  json_builder_set_member_name (b, "max_utilisation");
  json_builder_add_double_value (b, max);
  json_builder_set_member_name (b, "queues");
  spot_backpressure_monitor_add_json (check->monitor, b);
  return max < check->max_utilisation;
}

void
spot_health_add_backpressure (SpotHealth *health,
                              SpotBackpressureMonitor *monitor,
                              double max_utilisation)
{
  BackpressureCheck *check = g_new0 (BackpressureCheck, 1);

  check->monitor = g_object_ref (monitor);
  check->max_utilisation = max_utilisation;
  spot_health_add_check (health, "backpressure", FALSE, check_backpressure, check,
                         backpressure_check_free);
}
