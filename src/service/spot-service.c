/* spot-service.c: the orchestration of one spot-canvas instance. */
#define G_LOG_DOMAIN "spot-service"

#include "config.h"

#include "service/spot-service.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aggregate/spot-sharded-aggregator.h"
#include "coinbase/spot-coinbase-client.h"
#include "core/spot-error.h"
#include "core/spot-log.h"
#include "core/spot-thread.h"
#include "dbus/spot-controller.h"
#include "dbus/spot-dbus-service.h"
#include "model/spot-product.h"
#include "nats/spot-candle-hub.h"
#include "nats/spot-live-cache.h"
#include "nats/spot-nats-connection.h"
#include "nats/spot-nats-control.h"
#include "nats/spot-publisher.h"
#include "service/spot-candle-fanout.h"
#include "service/spot-service-web.h"
#include "store/spot-batch-writer.h"
#include "store/spot-database.h"

/* How often state, metrics and D-Bus properties are refreshed. */
#define TICK_INTERVAL_MS 1000
/* How often freed heap pages go back to the kernel (docs/operations.md,
 * "Memory"; 5 s measured no better on the loaded 2-core machine). */
#define TRIM_INTERVAL_S 10
#define TRIM_GROWTH_BYTES (8 * 1024 * 1024)
/* After start-up, no open exchange connection is normal for this long. */
#define EXCHANGE_GRACE_US (15 * G_USEC_PER_SEC)

struct _SpotService
{
  GObject parent_instance;

  const SpotConfig *config; /* borrowed */
  SpotServiceState state;
  GError *error;             /* start-up failure */
  GCancellable *cancellable; /* cancelled by stop */
  gboolean stop_requested;
  gboolean finished;
  gboolean rows_lost; /* complete candles journaled or lost at stop */
  gint64 started_us;
  gint64 running_us; /* when the exchange connections were started */
  gint64 shutdown_deadline_us;
  guint pending_starts; /* NATS and database starting in parallel */
  guint tick_id;
  char *degraded_reason;

  /* malloc_trim every TRIM_INTERVAL_S on its own thread. */
  GThread *trim_thread;
  GMutex trim_lock;
  GCond trim_cond;
  gboolean trim_stop;

  SpotServiceWeb *web;
  SpotDbusService *dbus;
  SpotNatsConnection *nats;
  SpotDatabase *database;
  SpotPublisher *publisher;
  SpotBatchWriter *writer;
  SpotLiveCache *live_cache;
  SpotCandleHub *hub;
  SpotNatsControl *control;
  SpotCandleFanout *fanout;
  SpotShardedAggregator *aggregator;
  SpotCoinbaseClient *coinbase;

  /* The deployment's active set (every instance's products). */
  GHashTable *active; /* char* id -> NULL (a set) */
  guint owned;        /* products of the active set this instance handles */

  /* spot.control.products messages received while starting, oldest first;
   * applied in order on entering running. */
  GQueue pending_control; /* ControlChange* */
  gboolean control_overflow; /* too many: re-read the database instead */

  GMainContext *context; /* the thread-default context at construction */
  GThread *drain_thread; /* shutdown steps 2-3, off the main loop */
};

/* Bounds the start-up queue of control messages (they are rare; a flood
 * falls back to re-reading the persisted set). */
#define MAX_PENDING_CONTROL 1024

typedef struct
{
  char **add;
  char **remove;
} ControlChange;

static void
control_change_free (ControlChange *change)
{
  g_strfreev (change->add);
  g_strfreev (change->remove);
  g_free (change);
}

enum
{
  PROP_0,
  PROP_STATE,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void spot_service_controller_init (SpotControllerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SpotService,
                               spot_service,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SPOT_TYPE_CONTROLLER,
                                                      spot_service_controller_init))

static void shutdown_continue (SpotService *self);

const char *
spot_service_state_to_string (SpotServiceState state)
{
  switch (state)
    {
    case SPOT_SERVICE_STATE_STARTING:
      return "starting";
    case SPOT_SERVICE_STATE_RUNNING:
      return "running";
    case SPOT_SERVICE_STATE_DEGRADED:
      return "degraded";
    case SPOT_SERVICE_STATE_STOPPING:
      return "stopping";
    case SPOT_SERVICE_STATE_STOPPED:
      return "stopped";
    case SPOT_SERVICE_STATE_FAILED:
      return "failed";
    default:
      return "unknown";
    }
}

/* ---- state ---------------------------------------------------------------- */

static void push_status (SpotService *self);

static void
set_state (SpotService *self, SpotServiceState state)
{
  if (self->state == state)
    return;
  g_message ("State %s -> %s%s%s", spot_service_state_to_string (self->state),
             spot_service_state_to_string (state),
             state == SPOT_SERVICE_STATE_DEGRADED && self->degraded_reason != NULL ? ": " : "",
             state == SPOT_SERVICE_STATE_DEGRADED && self->degraded_reason != NULL
                 ? self->degraded_reason
                 : "");
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  push_status (self);
}

static gboolean
is_up (SpotService *self)
{
  return self->state == SPOT_SERVICE_STATE_RUNNING || self->state == SPOT_SERVICE_STATE_DEGRADED;
}

static gboolean
nats_connected (SpotService *self)
{
  SpotNatsStatus status = { 0 };
  gboolean connected;

  if (self->nats == NULL)
    return FALSE;
  spot_nats_connection_get_status (self->nats, &status);
  connected = status.state == SPOT_NATS_STATE_CONNECTED;
  spot_nats_status_clear (&status);
  return connected;
}

static gboolean
database_connected (SpotService *self)
{
  return self->database != NULL && spot_database_is_connected (self->database);
}

/* NULL when healthy, else why not (static text). */
static const char *
degraded_reason (SpotService *self)
{
  if (!nats_connected (self))
    return "NATS not connected";
  if (!database_connected (self))
    return "database unreachable";
  /* The connections open staggered (CONNECT_RATE): give them a moment. */
  if (self->coinbase != NULL && self->owned > 0
      && g_get_monotonic_time () - self->running_us > EXCHANGE_GRACE_US
      && spot_coinbase_manager_get_n_open (spot_coinbase_client_get_manager (self->coinbase)) == 0)
    return "no exchange connection open";
  return NULL;
}

static void
evaluate_state (SpotService *self)
{
  const char *reason;

  if (!is_up (self))
    return;
  reason = degraded_reason (self);
  g_free (self->degraded_reason);
  self->degraded_reason = g_strdup (reason);
  set_state (self, reason != NULL ? SPOT_SERVICE_STATE_DEGRADED : SPOT_SERVICE_STATE_RUNNING);
}

static void
collect_counters (SpotService *self, SpotServiceCounters *c)
{
  memset (c, 0, sizeof *c);
  if (self->aggregator != NULL)
    {
      SpotEngineStats engine;
      spot_sharded_aggregator_get_stats (self->aggregator, &engine);
      c->candle_updates = engine.updates_live + engine.updates_complete + engine.updates_correction
                          + engine.updates_repair + engine.updates_seed;
      c->late_trades = engine.trades_late_dropped;
      c->corrected_trades = engine.trades_corrected;
      c->duplicate_trades = engine.trades_duplicate;
      c->dirty_minutes = engine.dirty_minutes;
      c->dirty_pending = engine.dirty_pending;
      c->shard_dropped = engine.trades_dropped;
    }
  if (self->publisher != NULL)
    {
      SpotPublisherStats pub;
      spot_publisher_get_stats (self->publisher, &pub);
      c->published = pub.published;
      c->publish_dropped = pub.dropped;
    }
  if (self->writer != NULL)
    {
      SpotBatchWriterStats w;
      spot_batch_writer_get_stats (self->writer, &w);
      c->db_batches = w.batches;
      c->db_rows = w.rows_written;
      c->db_last_write_us = w.last_write_latency_us;
    }
  c->nats_connected = nats_connected (self);
  c->db_connected = database_connected (self);
}

static void
push_status (SpotService *self)
{
  SpotDbusStatus status = { 0 };
  SpotCoinbaseConnectionStats cb = { 0 };
  SpotServiceCounters counters;
  SpotNatsStatus nats = { 0 };

  if (self->dbus == NULL)
    return;
  collect_counters (self, &counters);
  if (self->coinbase != NULL)
    {
      SpotCoinbaseManager *manager = spot_coinbase_client_get_manager (self->coinbase);
      spot_coinbase_manager_get_stats (manager, &cb);
      status.connections_up = spot_coinbase_manager_get_n_open (manager);
      status.connections_total = spot_coinbase_manager_get_n_connections (manager);
    }
  if (self->nats != NULL)
    spot_nats_connection_get_status (self->nats, &nats);
  status.state = spot_service_state_to_string (self->state);
  status.owned_product_count = self->owned;
  status.messages_received = cb.frames;
  status.trades_received = cb.trades;
  status.candles_published = counters.published;
  status.candles_stored = counters.db_rows;
  status.reconnects = cb.reconnects;
  status.sse_clients = self->web != NULL ? spot_service_web_get_sse_clients (self->web) : 0;
  status.nats_status = self->nats != NULL ? spot_nats_state_to_string (nats.state) : "stopped";
  status.database_status = self->database == NULL      ? "stopped"
                           : database_connected (self) ? "connected"
                                                       : "disconnected";
  spot_dbus_service_update_status (self->dbus, &status);
  spot_nats_status_clear (&nats);
}

/* glibc returns freed memory to the kernel only from the top of a heap;
 * bursts (seeding, completion waves, consumers delayed on a loaded machine)
 * leave free chunks in the middle that stay resident: at 500 products x 20
 * trades/s about half of the RSS was free heap (docs/operations.md,
 * "Memory"). malloc_trim(0) gives their pages back (MADV_DONTNEED). It
 * walks the free lists under each arena's lock for 10-100 ms on a loaded
 * two-core machine, so it runs on its own thread, never the main loop. */
/* Resident bytes of this process (/proc/self/statm; no allocator lock). */
static guint64
resident_bytes (void)
{
  g_autofree char *text = NULL;
  unsigned long long size = 0, resident = 0;

  if (!g_file_get_contents ("/proc/self/statm", &text, NULL, NULL)
      || sscanf (text, "%llu %llu", &size, &resident) != 2)
    return 0;
  return (guint64)resident * (guint64)sysconf (_SC_PAGESIZE);
}

/* The trim stalls every thread that allocates meanwhile (tens of ms): it
 * runs only when the resident size grew by TRIM_GROWTH_BYTES since the last
 * trim, so a settled service is not trimmed at all (the exchange-to-browser
 * p99 showed the stalls). */
static gpointer
trim_thread (gpointer data)
{
  SpotService *self = data; /* outlives the thread: joined by stop_trimming */
  gint64 interval_us = (gint64)TRIM_INTERVAL_S * G_USEC_PER_SEC;
  guint64 trimmed_at = 0; /* resident bytes after the last trim */

  spot_thread_set_background (SPOT_THREAD_BACKGROUND_NICE);
  g_mutex_lock (&self->trim_lock);
  while (!self->trim_stop)
    {
      gint64 until = g_get_monotonic_time () + interval_us;
      while (!self->trim_stop && g_cond_wait_until (&self->trim_cond, &self->trim_lock, until))
        ;
      if (self->trim_stop)
        break;
      g_mutex_unlock (&self->trim_lock);
      if (resident_bytes () >= trimmed_at + TRIM_GROWTH_BYTES)
        {
          gint64 started = g_get_monotonic_time ();
          int released = malloc_trim (0);
          trimmed_at = resident_bytes ();
          g_debug ("malloc_trim: %s in %" G_GINT64_FORMAT " us",
                   released ? "memory released" : "nothing to release",
                   g_get_monotonic_time () - started);
        }
      g_mutex_lock (&self->trim_lock);
    }
  g_mutex_unlock (&self->trim_lock);
  return NULL;
}

static void
start_trimming (SpotService *self)
{
  g_autoptr (GError) error = NULL;

  if (self->trim_thread != NULL)
    return;
  self->trim_thread = g_thread_try_new ("spot-heap-trim", trim_thread, self, &error);
  if (self->trim_thread == NULL)
    g_warning ("Heap trimming not started: %s", error->message);
}

static void
stop_trimming (SpotService *self)
{
  if (self->trim_thread == NULL)
    return;
  g_mutex_lock (&self->trim_lock);
  self->trim_stop = TRUE;
  g_cond_signal (&self->trim_cond);
  g_mutex_unlock (&self->trim_lock);
  g_thread_join (g_steal_pointer (&self->trim_thread));
}

static gboolean
on_tick (gpointer user_data)
{
  SpotService *self = user_data;
  SpotServiceCounters counters;

  collect_counters (self, &counters);
  if (self->web != NULL)
    spot_service_web_update (self->web, &counters);
  evaluate_state (self);
  push_status (self);
  return G_SOURCE_CONTINUE;
}

/* /health: the state machine itself; healthy only when running. */
static gboolean
health_service_check (JsonBuilder *builder, gpointer user_data)
{
  SpotService *self = user_data;

  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, spot_service_state_to_string (self->state));
  if (self->state == SPOT_SERVICE_STATE_DEGRADED && self->degraded_reason != NULL)
    {
      json_builder_set_member_name (builder, "reason");
      json_builder_add_string_value (builder, self->degraded_reason);
    }
  json_builder_set_member_name (builder, "shard_index");
  json_builder_add_int_value (builder, self->config->shard_index);
  json_builder_set_member_name (builder, "shard_count");
  json_builder_add_int_value (builder, self->config->shard_count);
  json_builder_set_member_name (builder, "active_products");
  json_builder_add_int_value (builder, g_hash_table_size (self->active));
  json_builder_set_member_name (builder, "owned_products");
  json_builder_add_int_value (builder, self->owned);
  return self->state == SPOT_SERVICE_STATE_RUNNING;
}

static gboolean
health_exchange_check (JsonBuilder *builder, gpointer user_data)
{
  SpotService *self = user_data;
  guint open = 0, total = 0;
  SpotCoinbaseConnectionStats cb = { 0 };

  if (self->coinbase != NULL)
    {
      SpotCoinbaseManager *manager = spot_coinbase_client_get_manager (self->coinbase);
      open = spot_coinbase_manager_get_n_open (manager);
      total = spot_coinbase_manager_get_n_connections (manager);
      spot_coinbase_manager_get_stats (manager, &cb);
    }
  json_builder_set_member_name (builder, "connections_open");
  json_builder_add_int_value (builder, open);
  json_builder_set_member_name (builder, "connections");
  json_builder_add_int_value (builder, total);
  json_builder_set_member_name (builder, "trades");
  json_builder_add_int_value (builder, (gint64)cb.trades);
  json_builder_set_member_name (builder, "reconnects");
  json_builder_add_int_value (builder, (gint64)cb.reconnects);
  return self->owned == 0 || open > 0;
}

/* ---- active products ------------------------------------------------------ */

static gboolean
owns (SpotService *self, const char *id)
{
  return spot_product_id_hash (id) % self->config->shard_count == self->config->shard_index;
}

static void
count_owned (SpotService *self)
{
  GHashTableIter iter;
  gpointer key;

  self->owned = 0;
  g_hash_table_iter_init (&iter, self->active);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (owns (self, key))
      self->owned++;
}

static int
compare_strv_items (const void *a, const void *b)
{
  return g_strcmp0 (*(const char *const *)a, *(const char *const *)b);
}

static char **
sorted_active (SpotService *self)
{
  g_autofree const char **keys = (const char **)g_hash_table_get_keys_as_array (self->active, NULL);
  char **out = g_strdupv ((char **)keys);

  /* qsort hands over pointers to the array's items, not the strings. */
  qsort (out, g_strv_length (out), sizeof (char *), compare_strv_items);
  return out;
}


/* Applies @add/@remove (already persisted by whoever changed them) to the
 * active set and to this instance's share; returns through @out_added and
 * @out_removed what actually changed. */
static void
apply_change (SpotService *self,
              const char *const *add,
              const char *const *remove,
              GPtrArray *out_added,
              GPtrArray *out_removed)
{
  g_autoptr (GPtrArray) owned_add = g_ptr_array_new ();
  g_autoptr (GPtrArray) owned_remove = g_ptr_array_new ();

  for (guint i = 0; add != NULL && add[i] != NULL; i++)
    {
      if (g_hash_table_contains (self->active, add[i]))
        continue;
      g_hash_table_add (self->active, g_strdup (add[i]));
      g_ptr_array_add (out_added, g_strdup (add[i]));
      if (owns (self, add[i]))
        g_ptr_array_add (owned_add, (gpointer)add[i]);
    }
  for (guint i = 0; remove != NULL && remove[i] != NULL; i++)
    {
      if (!g_hash_table_remove (self->active, remove[i]))
        continue;
      g_ptr_array_add (out_removed, g_strdup (remove[i]));
      if (owns (self, remove[i]))
        g_ptr_array_add (owned_remove, (gpointer)remove[i]);
    }
  count_owned (self);
  if (self->coinbase == NULL)
    return;
  if (owned_add->len > 0)
    {
      g_ptr_array_add (owned_add, NULL);
      g_message ("Adding %u products of this shard (seeded first)", owned_add->len - 1);
      spot_coinbase_client_add_products (self->coinbase, (const char *const *)owned_add->pdata);
    }
  if (owned_remove->len > 0)
    {
      g_ptr_array_add (owned_remove, NULL);
      g_message ("Removing %u products of this shard", owned_remove->len - 1);
      spot_coinbase_client_remove_products (self->coinbase,
                                            (const char *const *)owned_remove->pdata);
    }
}

static void
emit_changes (SpotService *self, GPtrArray *added, GPtrArray *removed)
{
  if (added->len == 0 && removed->len == 0)
    return;
  g_ptr_array_add (added, NULL);
  g_ptr_array_add (removed, NULL);
  qsort (added->pdata, added->len - 1, sizeof (char *), compare_strv_items);
  qsort (removed->pdata, removed->len - 1, sizeof (char *), compare_strv_items);
  spot_controller_emit_products_changed (SPOT_CONTROLLER (self), (const char *const *)added->pdata,
                                         (const char *const *)removed->pdata);
  g_ptr_array_set_size (added, added->len - 1);
  g_ptr_array_set_size (removed, removed->len - 1);
}

static void
apply_and_emit (SpotService *self, const char *const *add, const char *const *remove)
{
  g_autoptr (GPtrArray) added = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);

  apply_change (self, add, remove, added, removed);
  emit_changes (self, added, removed);
  push_status (self);
}

static void
on_control_message (const char *const *add, const char *const *remove, gpointer user_data)
{
  SpotService *self = user_data;
  ControlChange *change;

  if (self->stop_requested)
    return;
  g_debug ("Control message: %u to add, %u to remove",
           add != NULL ? g_strv_length ((char **)add) : 0,
           remove != NULL ? g_strv_length ((char **)remove) : 0);
  if (is_up (self))
    {
      /* Our own announcements come back too; they change nothing by then. */
      apply_and_emit (self, add, remove);
      return;
    }
  /* Starting: the active set is being loaded and seeded; applying now would
   * race it. Keep the message for the moment we are running. */
  if (self->control_overflow)
    return;
  if (g_queue_get_length (&self->pending_control) >= MAX_PENDING_CONTROL)
    {
      g_warning ("More than %u product-control messages while starting: the active products "
                 "are re-read from the database once running instead",
                 MAX_PENDING_CONTROL);
      g_queue_clear_full (&self->pending_control, (GDestroyNotify)control_change_free);
      self->control_overflow = TRUE;
      return;
    }
  change = g_new0 (ControlChange, 1);
  change->add = g_strdupv ((char **)add);
  change->remove = g_strdupv ((char **)remove);
  g_queue_push_tail (&self->pending_control, change);
  g_message ("Product-control message kept until running (%u waiting)",
             g_queue_get_length (&self->pending_control));
}

/* Entering running: the messages that came while starting, in order. */
static void
apply_pending_control (SpotService *self)
{
  ControlChange *change;

  if (self->control_overflow)
    {
      self->control_overflow = FALSE;
      spot_service_reload_products (self);
      return;
    }
  if (!g_queue_is_empty (&self->pending_control))
    g_message ("Applying %u product-control messages received while starting",
               g_queue_get_length (&self->pending_control));
  while ((change = g_queue_pop_head (&self->pending_control)) != NULL)
    {
      apply_and_emit (self, (const char *const *)change->add, (const char *const *)change->remove);
      control_change_free (change);
    }
}

/* ---- product persistence (one id at a time, in order) --------------------- */

typedef struct
{
  char **ids;
  guint next;
  gboolean active;
} PersistData;

static void
persist_data_free (PersistData *data)
{
  g_strfreev (data->ids);
  g_free (data);
}

static void persist_next (GTask *task);

static void
product_put_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (!spot_repository_put_product_finish (SPOT_REPOSITORY (source), result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  persist_next (g_steal_pointer (&task));
}

static void
product_active_set_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PersistData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!spot_repository_set_product_active_finish (SPOT_REPOSITORY (source), result, &error))
    {
      if (data->active && g_error_matches (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND))
        {
          /* New to the database: create it; the Coinbase client fills in its
           * metadata when it starts the product. */
          const char *id = data->ids[data->next - 1];
          g_auto (GStrv) parts = g_strsplit (id, "-", 2);
          g_autoptr (SpotProduct) product
              = spot_product_new (id, parts[0], parts[1] != NULL ? parts[1] : "", "online", TRUE);
          g_clear_error (&error);
          spot_repository_put_product_async (SPOT_REPOSITORY (source), product,
                                             g_task_get_cancellable (task), product_put_cb,
                                             g_steal_pointer (&task));
          return;
        }
      g_task_return_error (task, error);
      return;
    }
  persist_next (g_steal_pointer (&task));
}

static void
persist_next (GTask *task)
{
  SpotService *self = g_task_get_source_object (task);
  PersistData *data = g_task_get_task_data (task);

  if (data->ids[data->next] == NULL)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  spot_repository_set_product_active_async (
      spot_database_get_repository (self->database), data->ids[data->next++], data->active,
      g_task_get_cancellable (task), product_active_set_cb, task);
}

/* ---- SpotController ------------------------------------------------------- */

static char **
controller_list_products (SpotController *controller)
{
  return sorted_active (SPOT_SERVICE (controller));
}

static gboolean
check_can_change (SpotService *self, GError **error)
{
  if (!is_up (self) || self->database == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_BUSY, "the service is %s; try again when running",
                   spot_service_state_to_string (self->state));
      return FALSE;
    }
  return TRUE;
}

static void
products_persisted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SpotService *self = SPOT_SERVICE (source);
  g_autoptr (GTask) outer = user_data;
  PersistData *data = g_task_get_task_data (G_TASK (result));
  g_autoptr (GPtrArray) added = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) publish_error = NULL;
  GPtrArray *changed;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_prefix_error (&error, "storing the product change: ");
      g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }
  if (data->active)
    apply_change (self, (const char *const *)data->ids, NULL, added, removed);
  else
    apply_change (self, NULL, (const char *const *)data->ids, added, removed);
  changed = data->active ? added : removed;
  if (changed->len > 0 && self->nats != NULL)
    {
      g_ptr_array_add (changed, NULL);
      if (!spot_nats_control_publish (spot_nats_connection_get_nc (self->nats),
                                      data->active ? (const char *const *)changed->pdata : NULL,
                                      data->active ? NULL : (const char *const *)changed->pdata,
                                      &publish_error))
        /* Persisted and applied here; the others pick it up on SIGHUP or restart. */
        g_warning ("Product change not announced to other instances: %s", publish_error->message);
      g_ptr_array_set_size (changed, changed->len - 1);
    }
  {
    g_auto (GStrv) out = NULL;
    GPtrArray *copy = g_ptr_array_new ();
    for (guint i = 0; i < changed->len; i++)
      g_ptr_array_add (copy, g_strdup (g_ptr_array_index (changed, i)));
    g_ptr_array_add (copy, NULL);
    out = (char **)g_ptr_array_free (copy, FALSE);
    emit_changes (self, added, removed);
    push_status (self);
    g_task_return_pointer (outer, g_steal_pointer (&out), (GDestroyNotify)g_strfreev);
  }
}

static void
change_products_async (SpotService *self,
                       const char *const *product_ids,
                       gboolean active,
                       gpointer source_tag,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  g_autoptr (GTask) outer = g_task_new (self, cancellable, callback, user_data);
  GTask *inner;
  PersistData *data;
  GError *error = NULL;
  GPtrArray *ids = g_ptr_array_new ();

  g_task_set_source_tag (outer, source_tag);
  if (!check_can_change (self, &error))
    {
      g_ptr_array_free (ids, TRUE);
      g_task_return_error (outer, error);
      return;
    }
  for (guint i = 0; product_ids[i] != NULL; i++)
    {
      gboolean known = g_hash_table_contains (self->active, product_ids[i]);
      if (!active && !known)
        {
          g_ptr_array_free (ids, TRUE);
          g_task_return_new_error (outer, SPOT_ERROR, SPOT_ERROR_NOT_FOUND,
                                   "%s is not an active product", product_ids[i]);
          return;
        }
      if (active != known)
        g_ptr_array_add (ids, g_strdup (product_ids[i]));
    }
  g_ptr_array_add (ids, NULL);
  data = g_new0 (PersistData, 1);
  data->ids = (char **)g_ptr_array_free (ids, FALSE);
  data->active = active;
  inner = g_task_new (self, self->cancellable, products_persisted_cb, g_steal_pointer (&outer));
  g_task_set_task_data (inner, data, (GDestroyNotify)persist_data_free);
  persist_next (inner);
}

static void
controller_add_products_async (SpotController *controller,
                               const char *const *product_ids,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  change_products_async (SPOT_SERVICE (controller), product_ids, TRUE,
                         controller_add_products_async, cancellable, callback, user_data);
}

static char **
controller_products_finish (SpotController *controller, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, controller), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
controller_remove_products_async (SpotController *controller,
                                  const char *const *product_ids,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  change_products_async (SPOT_SERVICE (controller), product_ids, FALSE,
                         controller_remove_products_async, cancellable, callback, user_data);
}

static gboolean
controller_get_candle (SpotController *controller,
                       const char *product_id,
                       SpotGranularity granularity,
                       SpotCandle *out,
                       GError **error)
{
  SpotService *self = SPOT_SERVICE (controller);

  if (self->live_cache == NULL
      || !spot_live_cache_lookup (self->live_cache, product_id, granularity, out))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND, "no live candle for %s %s", product_id,
                   spot_granularity_name (granularity));
      return FALSE;
    }
  return TRUE;
}

static GVariant *
controller_get_status (SpotController *controller)
{
  SpotService *self = SPOT_SERVICE (controller);
  GVariantBuilder builder;
  SpotCandleFanoutStats fan = { 0 };

  if (self->fanout != NULL)
    spot_candle_fanout_get_stats (self->fanout, &fan);
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (
      &builder, "{sv}", "StateDetail",
      g_variant_new_string (self->degraded_reason != NULL ? self->degraded_reason : ""));
  g_variant_builder_add (
      &builder, "{sv}", "UptimeSeconds",
      g_variant_new_uint64 (
          (guint64)((g_get_monotonic_time () - self->started_us) / G_USEC_PER_SEC)));
  g_variant_builder_add (&builder, "{sv}", "HttpPort",
                         g_variant_new_uint32 (spot_service_get_http_port (self)));
  g_variant_builder_add (&builder, "{sv}", "CompleteCandlesEmitted",
                         g_variant_new_uint64 (fan.complete));
  return g_variant_builder_end (&builder);
}

static gboolean
controller_reconnect (SpotController *controller, GError **error)
{
  SpotService *self = SPOT_SERVICE (controller);

  if (self->coinbase == NULL || !is_up (self))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_BUSY, "the service is %s; nothing to reconnect",
                   spot_service_state_to_string (self->state));
      return FALSE;
    }
  g_message ("Reconnecting every exchange connection (D-Bus request)");
  spot_coinbase_manager_reconnect (spot_coinbase_client_get_manager (self->coinbase));
  return TRUE;
}

static void
spot_service_controller_init (SpotControllerInterface *iface)
{
  iface->list_products = controller_list_products;
  iface->add_products_async = controller_add_products_async;
  iface->add_products_finish = controller_products_finish;
  iface->remove_products_async = controller_remove_products_async;
  iface->remove_products_finish = controller_products_finish;
  iface->get_candle = controller_get_candle;
  iface->get_status = controller_get_status;
  iface->reconnect = controller_reconnect;
}

/* ---- start-up -------------------------------------------------------------- */

static void
fail_start (SpotService *self, GError *error)
{
  if (self->error == NULL && !self->stop_requested)
    {
      g_warning ("Start-up failed: %s", error->message);
      self->error = error;
      spot_service_stop (self, "start-up failure");
    }
  else
    g_error_free (error);
}

static gboolean
stopping (SpotService *self)
{
  return self->stop_requested;
}

static void
on_dirty (gpointer user_data, const SpotDirtyRange *ranges, guint n)
{
  SpotService *self = user_data;

  if (self != NULL && self->coinbase != NULL)
    spot_coinbase_client_queue_dirty (self->coinbase, ranges, n);
}

static void
on_published (const SpotCandle *candle, gint64 published_ns, gpointer user_data)
{
  SpotService *self = user_data;

  spot_service_web_observe_publish (self->web, published_ns - candle->ts_ns);
}

typedef struct
{
  SpotService *self;
  guint worker;
} QueueRef;

static guint
shard_queue_length (gpointer user_data)
{
  QueueRef *ref = user_data;
  guint length = 0, capacity = 0;

  if (ref->self->aggregator != NULL)
    spot_sharded_aggregator_get_queue (ref->self->aggregator, ref->worker, &length, &capacity);
  return length;
}

static void
engine_options_from_config (SpotEngineOptions *o, const SpotConfig *c)
{
  spot_engine_options_init_defaults (o);
  o->grace_ms = c->candle_grace_ms;
  o->correction_window_s = c->correction_window_s;
  o->repair_wait_ms = c->repair_wait_ms;
  o->repair_horizon_s = (gint64)c->repair_horizon_h * 3600;
  o->output = c->granularities;
  o->seed_hold_limit = c->seed_hold_limit;
  o->workers = c->shard_workers;
  o->queue_size = c->shard_queue;
  o->shard_index = c->shard_index;
  o->shard_count = c->shard_count;
}

static void coinbase_started_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static void
start_coinbase (SpotService *self)
{
  g_auto (GStrv) ids = sorted_active (self);

  count_owned (self);
  g_message ("Active products: %u in the deployment, %u handled by shard %u of %u",
             g_strv_length (ids), self->owned, self->config->shard_index,
             self->config->shard_count);
  spot_coinbase_client_start_async (self->coinbase, FALSE, (const char *const *)ids,
                                    self->cancellable, coinbase_started_cb, g_object_ref (self));
}

static void
coinbase_started_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SpotService) self = user_data;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) started = NULL;

  (void)source;
  if (stopping (self))
    return;
  started = spot_coinbase_client_start_finish (self->coinbase, result, &error);
  if (started == NULL)
    {
      g_prefix_error (&error, "starting the exchange connections: ");
      fail_start (self, g_steal_pointer (&error));
      return;
    }
  g_message ("Running: %u products subscribed, dashboard at http://%s:%u/", g_strv_length (started),
             self->config->http_host[0] != '\0' ? self->config->http_host : "0.0.0.0",
             spot_service_web_get_port (self->web));
  self->running_us = g_get_monotonic_time ();
  start_trimming (self);
  self->state = SPOT_SERVICE_STATE_RUNNING;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  apply_pending_control (self);
  evaluate_state (self);
  push_status (self);
}

static void
active_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SpotService) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) products = NULL;

  if (stopping (self))
    return;
  products = spot_repository_get_active_products_finish (SPOT_REPOSITORY (source), result, &error);
  if (products == NULL)
    {
      g_prefix_error (&error, "reading the active products: ");
      fail_start (self, g_steal_pointer (&error));
      return;
    }
  for (guint i = 0; i < products->len; i++)
    {
      SpotProduct *product = g_ptr_array_index (products, i);
      g_hash_table_add (self->active, g_strdup (product->product_id));
    }
  if (products->len == 0)
    g_message ("No active products in the database: add some with PRODUCTS, D-Bus AddProducts "
               "or a spot.control.products message");
  start_coinbase (self);
}

static void
active_replaced_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SpotService) self = user_data;
  g_autoptr (GError) error = NULL;

  if (stopping (self))
    return;
  if (!spot_repository_replace_active_products_finish (SPOT_REPOSITORY (source), result, &error))
    {
      g_prefix_error (&error, "storing PRODUCTS as the active set: ");
      fail_start (self, g_steal_pointer (&error));
      return;
    }
  start_coinbase (self);
}

static void
replace_active (SpotService *self, const char *const *ids)
{
  g_hash_table_remove_all (self->active);
  for (guint i = 0; ids[i] != NULL; i++)
    g_hash_table_add (self->active, g_strdup (ids[i]));
  spot_repository_replace_active_products_async (spot_database_get_repository (self->database), ids,
                                                 self->cancellable, active_replaced_cb,
                                                 g_object_ref (self));
}

static void
exchange_products_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SpotService) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) infos = NULL;
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();

  (void)source;
  if (stopping (self))
    return;
  infos = spot_coinbase_rest_list_products_finish (spot_coinbase_client_get_rest (self->coinbase),
                                                   result, &error);
  if (infos == NULL)
    {
      g_prefix_error (&error, "PRODUCTS=all: listing the exchange's products: ");
      fail_start (self, g_steal_pointer (&error));
      return;
    }
  for (guint i = 0; i < infos->len; i++)
    {
      SpotCoinbaseProductInfo *info = g_ptr_array_index (infos, i);
      if (spot_coinbase_product_info_is_tradable (info))
        g_ptr_array_add (ids, info->product->product_id);
    }
  g_ptr_array_add (ids, NULL);
  g_message ("PRODUCTS=all: %u online SPOT products on the exchange", ids->len - 1);
  replace_active (self, (const char *const *)ids->pdata);
}

static void
load_products (SpotService *self)
{
  const SpotConfig *c = self->config;

  if (c->products_all)
    spot_coinbase_rest_list_products_async (spot_coinbase_client_get_rest (self->coinbase),
                                            self->cancellable, exchange_products_cb,
                                            g_object_ref (self));
  else if (c->products != NULL)
    replace_active (self, (const char *const *)c->products);
  else
    spot_repository_get_active_products_async (spot_database_get_repository (self->database),
                                               self->cancellable, active_loaded_cb,
                                               g_object_ref (self));
}

/* NATS and PostgreSQL are up: build the pipeline. */
static gboolean
build_pipeline (SpotService *self, GError **error)
{
  const SpotConfig *c = self->config;
  natsConnection *nc = spot_nats_connection_get_nc (self->nats);
  natsConnection *js_nc = spot_nats_connection_get_js_nc (self->nats);
  SpotRepository *repository = spot_database_get_repository (self->database);
  SpotPublisherOptions pub_options;
  SpotBatchWriterConfig writer_config;
  SpotNatsKvConfig kv_config;
  SpotEngineOptions engine_options;
  SpotCandleSink sink;

  spot_publisher_options_init (&pub_options);
  pub_options.kv_bucket = c->kv_bucket;
  pub_options.kv_ttl_ms = (gint64)c->kv_ttl_s * 1000;
  pub_options.kv_replicas = (gint)c->kv_replicas;
  pub_options.kv_memory = c->kv_memory;
  pub_options.kv_ack_group = c->kv_ack_group;
  pub_options.kv_staleness_ms = c->kv_staleness_ms;
  self->publisher = spot_publisher_new (nc, &pub_options, error);
  if (self->publisher == NULL)
    return FALSE;
  if (js_nc != NULL)
    spot_publisher_set_js_connection (self->publisher, js_nc);
  spot_publisher_set_latency_func (self->publisher, on_published, self);
  if (!spot_publisher_start (self->publisher, error))
    return FALSE;

  spot_batch_writer_config_init (&writer_config);
  writer_config.conninfo = spot_database_get_conninfo (self->database);
  writer_config.state_dir = c->state_directory;
  writer_config.batch_size = c->batch_size;
  writer_config.flush_interval_ms = c->flush_interval_ms;
  self->writer = spot_batch_writer_new (&writer_config, error);
  if (self->writer == NULL)
    return FALSE;

  spot_nats_kv_config_init (&kv_config);
  kv_config.bucket = c->kv_bucket;
  kv_config.ttl_ms = (gint64)c->kv_ttl_s * 1000;
  kv_config.replicas = (gint)c->kv_replicas;
  kv_config.memory = c->kv_memory;
  self->live_cache = spot_live_cache_new (js_nc != NULL ? js_nc : nc, &kv_config);
  if (!spot_live_cache_start (self->live_cache, error))
    return FALSE;
  /* This instance's products reach its SSE clients in process (no NATS
   * round trip on the live path); other shards' products come from
   * candles.>, which a single instance does not need. */
  self->hub = spot_candle_hub_new (0);
  spot_candle_hub_set_local_shard (self->hub, c->shard_index, c->shard_count);
  if (c->shard_count > 1 && !spot_candle_hub_attach (self->hub, nc, error))
    return FALSE;

  self->fanout = spot_candle_fanout_new (self->publisher, self->writer);
  spot_candle_fanout_init_sink (self->fanout, &sink);
  spot_candle_fanout_set_hub (self->fanout, self->hub);
  spot_candle_fanout_set_processing_latency (
      self->fanout, spot_service_web_get_processing_latency (self->web));
  engine_options_from_config (&engine_options, c);
  self->aggregator = spot_sharded_aggregator_new (&engine_options, &sink, NULL, error);
  if (self->aggregator == NULL)
    return FALSE;
  for (guint i = 0; i < engine_options.workers; i++)
    {
      QueueRef *ref = g_new (QueueRef, 1);
      g_autofree char *name = g_strdup_printf ("shard-%u", i);
      ref->self = self;
      ref->worker = i;
      g_object_set_data_full (G_OBJECT (self), name, ref, g_free);
      spot_service_web_add_shard_queue (self->web, name, engine_options.queue_size,
                                        shard_queue_length, ref);
    }

  self->coinbase = spot_coinbase_client_new_from_config (
      c, self->aggregator, repository, spot_service_web_get_metrics (self->web),
      spot_service_web_get_monitor (self->web), error);
  if (self->coinbase == NULL)
    return FALSE;
  spot_candle_fanout_set_dirty_func (self->fanout, on_dirty, self);

  self->control = spot_nats_control_subscribe (nc, on_control_message, self, error);
  if (self->control == NULL)
    return FALSE;

  spot_service_web_set_components (self->web, self->nats, repository, self->live_cache, self->hub);
  spot_health_add_check (spot_service_web_get_health (self->web), "exchange", FALSE,
                         health_exchange_check, self, NULL);
  if (!spot_service_web_start (self->web, error))
    return FALSE;
  g_message ("HTTP listening on %s (port %u)", c->http_addr, spot_service_web_get_port (self->web));
  return TRUE;
}

static void
dependency_started (SpotService *self)
{
  g_autoptr (GError) error = NULL;

  if (--self->pending_starts > 0 || stopping (self))
    return;
  if (!build_pipeline (self, &error))
    {
      fail_start (self, g_steal_pointer (&error));
      return;
    }
  load_products (self);
}

static void
nats_started_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SpotService) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!spot_nats_connection_start_finish (SPOT_NATS_CONNECTION (source), result, &error))
    {
      self->pending_starts--;
      g_prefix_error (&error, "NATS: ");
      fail_start (self, g_steal_pointer (&error));
      return;
    }
  g_message ("NATS %s",
             nats_connected (self) ? "connected" : "started (reconnecting in the background)");
  dependency_started (self);
}

static void
database_started_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SpotService) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!spot_database_start_finish (SPOT_DATABASE (source), result, &error))
    {
      self->pending_starts--;
      g_prefix_error (&error, "database: ");
      fail_start (self, g_steal_pointer (&error));
      return;
    }
  g_message ("Database ready (%s, migrations %s)",
             spot_database_is_embedded (self->database) ? "embedded" : "external",
             self->config->migrate_on_start ? "applied" : "not checked");
  dependency_started (self);
}

void
spot_service_start (SpotService *self)
{
  const SpotConfig *c = self->config;
  SpotNatsConfig nats_config;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (self->state == SPOT_SERVICE_STATE_STARTING && self->web == NULL);
  self->started_us = g_get_monotonic_time ();
  self->web = spot_service_web_new (c);
  spot_health_add_check (spot_service_web_get_health (self->web), "service", TRUE,
                         health_service_check, self, NULL);

  if (c->dbus_bus != SPOT_DBUS_BUS_NONE)
    {
      self->dbus = spot_dbus_service_new (SPOT_CONTROLLER (self), c->shard_index, c->shard_count);
      spot_dbus_service_start (
          self->dbus, c->dbus_bus == SPOT_DBUS_BUS_SYSTEM ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION);
      push_status (self);
    }
  self->tick_id = g_timeout_add (TICK_INTERVAL_MS, on_tick, self);

  spot_nats_config_init (&nats_config);
  if (c->nats_urls != NULL)
    nats_config.urls = g_strjoinv (",", c->nats_urls);
  nats_config.state_dir = g_strdup (c->state_directory);
  nats_config.creds_file = g_strdup (c->nats_creds);
  nats_config.tls_ca_file = g_strdup (c->nats_tls_ca);
  nats_config.tls_cert_file = g_strdup (c->nats_tls_cert);
  nats_config.tls_key_file = g_strdup (c->nats_tls_key);
  nats_config.name = g_strdup_printf ("%s-%u", PACKAGE_NAME, c->shard_index);
  self->nats = spot_nats_connection_new (&nats_config, &error);
  spot_nats_config_clear (&nats_config);
  if (self->nats == NULL)
    {
      g_prefix_error (&error, "NATS: ");
      fail_start (self, g_steal_pointer (&error));
      return;
    }
  self->database = spot_database_new (c->database_url, c->state_directory, c->migrate_on_start);

  self->pending_starts = 2;
  spot_nats_connection_start_async (self->nats, self->cancellable, nats_started_cb,
                                    g_object_ref (self));
  spot_database_start_async (self->database, self->cancellable, database_started_cb,
                             g_object_ref (self));
}

/* ---- reload ---------------------------------------------------------------- */

static void
reload_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SpotService) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) products = NULL;
  g_autoptr (GHashTable) stored = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) add = g_ptr_array_new ();
  g_autoptr (GPtrArray) remove = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  products = spot_repository_get_active_products_finish (SPOT_REPOSITORY (source), result, &error);
  if (!is_up (self))
    return;
  if (products == NULL)
    {
      g_warning ("SIGHUP: reading the active products failed: %s", error->message);
      return;
    }
  for (guint i = 0; i < products->len; i++)
    {
      SpotProduct *product = g_ptr_array_index (products, i);
      g_hash_table_add (stored, product->product_id);
      if (!g_hash_table_contains (self->active, product->product_id))
        g_ptr_array_add (add, product->product_id);
    }
  g_hash_table_iter_init (&iter, self->active);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (stored, key))
      g_ptr_array_add (remove, key);
  /* apply_change removes entries of self->active: copy the ids first. */
  {
    g_auto (GStrv) add_v = NULL;
    g_auto (GStrv) remove_v = NULL;
    g_ptr_array_add (add, NULL);
    g_ptr_array_add (remove, NULL);
    add_v = g_strdupv ((char **)add->pdata);
    remove_v = g_strdupv ((char **)remove->pdata);
    g_message ("SIGHUP: %u products to add, %u to remove", g_strv_length (add_v),
               g_strv_length (remove_v));
    apply_and_emit (self, (const char *const *)add_v, (const char *const *)remove_v);
  }
}

void
spot_service_reload_products (SpotService *self)
{
  if (!is_up (self))
    {
      g_message ("SIGHUP ignored: the service is %s", spot_service_state_to_string (self->state));
      return;
    }
  spot_repository_get_active_products_async (spot_database_get_repository (self->database),
                                             self->cancellable, reload_loaded_cb,
                                             g_object_ref (self));
}

/* ---- shutdown -------------------------------------------------------------- */

static guint
remaining_ms (SpotService *self)
{
  gint64 left = self->shutdown_deadline_us - g_get_monotonic_time ();

  return left > 0 ? (guint)(left / 1000) : 1;
}

/* The hard backstop of the deadline: a drain step that overruns it (a
 * thread stuck in a library call, say) cannot hold the process. Past the
 * deadline plus a margin for the embedded children, the process exits with
 * SPOT_EXIT_SHUTDOWN_TIMEOUT. */
static gpointer
watchdog_thread (gpointer data)
{
  gint64 limit = GPOINTER_TO_SIZE (data) * (gint64)G_USEC_PER_SEC + 2 * G_USEC_PER_SEC;
  gint64 until = g_get_monotonic_time () + limit;

  while (g_get_monotonic_time () < until)
    g_usleep (100 * 1000);
  g_printerr ("%s: shutdown did not finish within SHUTDOWN_TIMEOUT_S; exiting\n", PACKAGE_NAME);
  _exit (SPOT_EXIT_SHUTDOWN_TIMEOUT);
  return NULL;
}

static void
finish_shutdown (SpotService *self)
{
  if (self->dbus != NULL)
    spot_dbus_service_stop (self->dbus);
  self->finished = TRUE;
  set_state (self, self->error != NULL ? SPOT_SERVICE_STATE_FAILED : SPOT_SERVICE_STATE_STOPPED);
  g_message ("Stopped");
}

static void
web_stopped_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SpotService) self = user_data;

  (void)source;
  (void)result;
  g_debug ("HTTP stopped");
  if (self->database != NULL)
    {
      spot_database_stop (self->database, remaining_ms (self));
      g_debug ("Database stopped");
    }
  finish_shutdown (self);
}

/* Steps 4-6, on the main loop once the drain thread is done. */
static void
shutdown_close (SpotService *self)
{
  /* 4. Close NATS (and the embedded nats-server). */
  if (self->hub != NULL)
    spot_candle_hub_detach (self->hub);
  if (self->live_cache != NULL)
    spot_live_cache_stop (self->live_cache);
  if (self->nats != NULL)
    {
      spot_nats_connection_close (self->nats, MIN (remaining_ms (self), 2000));
      g_debug ("NATS closed");
    }
  /* 5. Stop HTTP (SSE streams ended), then 6. the embedded PostgreSQL. */
  spot_service_web_stop_async (self->web, web_stopped_cb, g_object_ref (self));
}

/* Steps 2-3 wait for threads (shard workers, the publisher, the database
 * writer) for up to the whole deadline, so they run on their own thread and
 * the main loop keeps answering /health ("stopping"), D-Bus and SSE. The
 * main thread leaves the aggregator, publisher and writer alone (their
 * stop/close calls belong to this thread) until drain_done runs. */
static void
drain_steps (SpotService *self)
{
  guint timeout_ms = self->config->shutdown_timeout_s * 1000;

  /* 2. Drain the shards: everything accepted is emitted to the sink. */
  if (self->aggregator != NULL)
    {
      SpotCandleFanoutStats fan = { 0 };
      spot_sharded_aggregator_stop (self->aggregator);
      spot_candle_fanout_get_stats (self->fanout, &fan);
      g_message ("Shards drained: %" G_GUINT64_FORMAT " complete candles emitted since start",
                 fan.complete);
    }
  /* 3. Flush the publisher and the batch writer (what the database cannot
   * take now is journaled and written at the next start). */
  if (self->publisher != NULL)
    spot_publisher_stop (self->publisher, MIN (remaining_ms (self), timeout_ms));
  if (self->writer != NULL)
    {
      g_autoptr (GError) error = NULL;
      SpotBatchWriterStats stats;
      if (!spot_batch_writer_close (self->writer, remaining_ms (self), &error))
        {
          g_atomic_int_set (&self->rows_lost, TRUE);
          g_warning ("Batch writer: %s", error->message);
        }
      spot_batch_writer_get_stats (self->writer, &stats);
      g_message ("Batch writer flushed: %" G_GUINT64_FORMAT " rows written, %" G_GUINT64_FORMAT
                 " journaled for the next start",
                 stats.rows_written, stats.journal_rows);
    }
}

static gboolean drain_done (gpointer user_data);

static gpointer
drain_thread (gpointer data)
{
  SpotService *self = data; /* a reference, dropped by drain_done */

  drain_steps (self);
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, drain_done, self, NULL);
  return NULL;
}

static gboolean
drain_done (gpointer user_data)
{
  g_autoptr (SpotService) self = user_data;

  /* The thread's last act was to schedule this: the join is immediate. */
  g_thread_join (g_steal_pointer (&self->drain_thread));
  g_debug ("Drain steps done");
  shutdown_close (self);
  return G_SOURCE_REMOVE;
}

static void
shutdown_continue (SpotService *self)
{
  g_autoptr (GError) error = NULL;

  /* 1. Stop intake: no more control messages, close the WebSockets (their
   * inboxes drain into the engine). */
  g_clear_pointer (&self->control, spot_nats_control_free);
  if (self->coinbase != NULL)
    {
      spot_coinbase_client_stop (self->coinbase);
      g_debug ("Exchange connections closed");
    }
  if (self->aggregator == NULL && self->publisher == NULL && self->writer == NULL)
    {
      shutdown_close (self);
      return;
    }
  /* 2-3 on the drain thread; 4-6 follow on the main loop. */
  self->drain_thread
      = g_thread_try_new ("spot-shutdown-drain", drain_thread, g_object_ref (self), &error);
  if (self->drain_thread == NULL)
    {
      /* Out of threads: drain here, blocking the main loop as before. */
      g_warning ("Shutdown drain thread: %s; draining on the main loop", error->message);
      g_object_unref (self);
      drain_steps (self);
      shutdown_close (self);
    }
}

static gboolean
shutdown_idle (gpointer user_data)
{
  shutdown_continue (user_data);
  return G_SOURCE_REMOVE;
}

void
spot_service_stop (SpotService *self, const char *reason)
{
  g_autoptr (GThread) watchdog = NULL;

  if (self->stop_requested)
    return;
  self->stop_requested = TRUE;
  g_message ("Stopping on %s (deadline %u s)", reason, self->config->shutdown_timeout_s);
  g_cancellable_cancel (self->cancellable);
  if (self->tick_id != 0)
    g_clear_handle_id (&self->tick_id, g_source_remove);
  stop_trimming (self);
  self->shutdown_deadline_us
      = g_get_monotonic_time () + (gint64)self->config->shutdown_timeout_s * G_USEC_PER_SEC;
  watchdog = g_thread_new ("spot-shutdown-watchdog", watchdog_thread,
                           GSIZE_TO_POINTER (self->config->shutdown_timeout_s));
  set_state (self, SPOT_SERVICE_STATE_STOPPING);
  if (self->web == NULL)
    {
      finish_shutdown (self);
      return;
    }
  /* Let cancelled start-up callbacks run first; keep ourselves alive. */
  g_idle_add_full (G_PRIORITY_DEFAULT, shutdown_idle, g_object_ref (self), g_object_unref);
}

/* ---- GObject --------------------------------------------------------------- */

SpotServiceState
spot_service_get_state (SpotService *self)
{
  return self->state;
}

const GError *
spot_service_get_error (SpotService *self)
{
  return self->error;
}

gboolean
spot_service_is_finished (SpotService *self)
{
  return self->finished;
}

int
spot_service_get_exit_code (SpotService *self)
{
  if (self->error != NULL || self->rows_lost)
    return SPOT_EXIT_RUNTIME;
  return SPOT_EXIT_OK;
}

guint16
spot_service_get_http_port (SpotService *self)
{
  return self->web != NULL ? spot_service_web_get_port (self->web) : 0;
}

SpotService *
spot_service_new (const SpotConfig *config)
{
  SpotService *self = g_object_new (SPOT_TYPE_SERVICE, NULL);

  self->config = config;
  return self;
}

static void
spot_service_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SpotService *self = SPOT_SERVICE (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
spot_service_dispose (GObject *object)
{
  SpotService *self = SPOT_SERVICE (object);

  if (self->tick_id != 0)
    g_clear_handle_id (&self->tick_id, g_source_remove);
  stop_trimming (self);
  g_clear_pointer (&self->control, spot_nats_control_free);
  /* Workers may still report dirty minutes until the aggregator stops. */
  if (self->fanout != NULL)
    spot_candle_fanout_set_dirty_func (self->fanout, NULL, NULL);
  g_clear_pointer (&self->coinbase, spot_coinbase_client_free);
  g_clear_pointer (&self->aggregator, spot_sharded_aggregator_free);
  g_clear_object (&self->publisher);
  g_clear_pointer (&self->writer, spot_batch_writer_free);
  g_clear_pointer (&self->fanout, spot_candle_fanout_free);
  g_clear_object (&self->hub);
  g_clear_object (&self->live_cache);
  g_clear_object (&self->dbus);
  g_clear_pointer (&self->web, spot_service_web_free);
  g_clear_object (&self->nats);
  g_clear_object (&self->database);
  G_OBJECT_CLASS (spot_service_parent_class)->dispose (object);
}

static void
spot_service_finalize (GObject *object)
{
  SpotService *self = SPOT_SERVICE (object);

  g_clear_error (&self->error);
  g_clear_object (&self->cancellable);
  g_hash_table_unref (self->active);
  g_queue_clear_full (&self->pending_control, (GDestroyNotify)control_change_free);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->trim_lock);
  g_cond_clear (&self->trim_cond);
  g_free (self->degraded_reason);
  G_OBJECT_CLASS (spot_service_parent_class)->finalize (object);
}

static void
spot_service_class_init (SpotServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = spot_service_get_property;
  object_class->dispose = spot_service_dispose;
  object_class->finalize = spot_service_finalize;
  properties[PROP_STATE] = g_param_spec_int ("state", NULL, NULL, SPOT_SERVICE_STATE_STARTING,
                                             SPOT_SERVICE_STATE_FAILED, SPOT_SERVICE_STATE_STARTING,
                                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
spot_service_init (SpotService *self)
{
  self->state = SPOT_SERVICE_STATE_STARTING;
  self->cancellable = g_cancellable_new ();
  self->active = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->pending_control);
  self->context = g_main_context_ref_thread_default ();
  g_mutex_init (&self->trim_lock);
  g_cond_init (&self->trim_cond);
}
