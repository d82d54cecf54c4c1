/* spot-dbus-service.c: validation, error mapping, coalesced properties and
 * bus ownership for org.spotcanvas.SpotCanvas1. */
#define G_LOG_DOMAIN "spot-dbus"

#include "config.h"

#include "dbus/spot-dbus-service.h"

#include <stdlib.h>
#include <string.h>

#include "core/spot-error.h"
#include "dbus/spot-dbus-error.h"
#include "model/spot-candle-json.h"
#include "model/spot-product.h"

struct _SpotDbusService
{
  SpotDbusCanvasSkeleton parent_instance;

  SpotController *controller;
  gulong products_changed_id;

  /* Latest pushed values (GetStatus reads them at once); the skeleton's
   * properties follow at the bounded rate. */
  SpotDbusStatus latest;
  guint product_count;
  guint interval_ms;
  gint64 last_flush_us; /* monotonic; 0 = never */
  guint flush_source_id;

  GBusType bus_type;
  SpotDbusBusState bus_state;
  GCancellable *connect_cancellable;
  GDBusConnection *connection;
  gulong closed_id;
  guint owner_id;
};

enum
{
  PROP_0,
  PROP_BUS_STATE,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void spot_dbus_service_iface_init (SpotDbusCanvasIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SpotDbusService,
                               spot_dbus_service,
                               SPOT_TYPE_DBUS_CANVAS_SKELETON,
                               G_IMPLEMENT_INTERFACE (SPOT_TYPE_DBUS_CANVAS,
                                                      spot_dbus_service_iface_init))

static const char *
or_unknown (const char *text)
{
  return text != NULL ? text : "unknown";
}

/* Strings of @status are copied into self->latest. */
static void
latest_set (SpotDbusService *self, const SpotDbusStatus *status)
{
  char *state = g_strdup (or_unknown (status->state));
  char *nats = g_strdup (or_unknown (status->nats_status));
  char *database = g_strdup (or_unknown (status->database_status));

  g_free ((char *)self->latest.state);
  g_free ((char *)self->latest.nats_status);
  g_free ((char *)self->latest.database_status);
  self->latest = *status;
  self->latest.state = state;
  self->latest.nats_status = nats;
  self->latest.database_status = database;
}

static void
flush_properties (SpotDbusService *self)
{
  SpotDbusCanvas *object = SPOT_DBUS_CANVAS (self);

  self->last_flush_us = g_get_monotonic_time ();
  /* The generated setters mark only values that differ and send one
   * PropertiesChanged for all of them from an idle. */
  g_object_freeze_notify (G_OBJECT (self));
  spot_dbus_canvas_set_state (object, self->latest.state);
  spot_dbus_canvas_set_product_count (object, self->product_count);
  spot_dbus_canvas_set_owned_product_count (object, self->latest.owned_product_count);
  spot_dbus_canvas_set_connections_up (object, self->latest.connections_up);
  spot_dbus_canvas_set_connections_total (object, self->latest.connections_total);
  spot_dbus_canvas_set_messages_received (object, self->latest.messages_received);
  spot_dbus_canvas_set_trades_received (object, self->latest.trades_received);
  spot_dbus_canvas_set_candles_published (object, self->latest.candles_published);
  spot_dbus_canvas_set_candles_stored (object, self->latest.candles_stored);
  spot_dbus_canvas_set_reconnects (object, self->latest.reconnects);
  spot_dbus_canvas_set_sse_clients (object, self->latest.sse_clients);
  spot_dbus_canvas_set_nats_status (object, self->latest.nats_status);
  spot_dbus_canvas_set_database_status (object, self->latest.database_status);
  g_object_thaw_notify (G_OBJECT (self));
}

static gboolean
flush_timeout_cb (gpointer user_data)
{
  SpotDbusService *self = user_data;

  self->flush_source_id = 0;
  flush_properties (self);
  return G_SOURCE_REMOVE;
}

/* Leading edge at once, then at most one flush per interval carrying the
 * latest values. */
static void
schedule_flush (SpotDbusService *self)
{
  gint64 now;
  gint64 due;

  if (self->flush_source_id != 0)
    return;
  now = g_get_monotonic_time ();
  due = self->last_flush_us + (gint64)self->interval_ms * 1000;
  if (self->last_flush_us == 0 || now >= due)
    {
      flush_properties (self);
      return;
    }
  self->flush_source_id = g_timeout_add ((guint)((due - now + 999) / 1000), flush_timeout_cb, self);
  g_source_set_name_by_id (self->flush_source_id, "[spot-dbus] properties");
}

void
spot_dbus_service_update_status (SpotDbusService *self, const SpotDbusStatus *status)
{
  g_return_if_fail (SPOT_IS_DBUS_SERVICE (self));
  g_return_if_fail (status != NULL);

  latest_set (self, status);
  schedule_flush (self);
}

void
spot_dbus_service_set_update_interval (SpotDbusService *self, guint interval_ms)
{
  g_return_if_fail (SPOT_IS_DBUS_SERVICE (self));
  self->interval_ms = interval_ms;
}

/* ---- method calls ---- */

/* Anything that is not a SPOT_ERROR would reach clients as an unmapped
 * GError; give it a SPOT_ERROR name and keep the message. */
static void
return_error (GDBusMethodInvocation *invocation, const GError *error)
{
  if (error->domain == SPOT_ERROR)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_error_literal (
      invocation, SPOT_ERROR,
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? SPOT_ERROR_CANCELLED
                                                                : SPOT_ERROR_FAILED,
      error->message);
}

/* Checks a product list from a caller: non-empty, bounded, every id valid.
 * Returns the ids without duplicates, first order kept. */
static char **
validate_product_list (const char *method, const char *const *ids, GError **error)
{
  g_autoptr (GPtrArray) unique = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  guint n = ids != NULL ? g_strv_length ((char **)ids) : 0;

  if (n == 0)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "%s needs at least one product id (e.g. [\"BTC-USD\"])", method);
      return NULL;
    }
  if (n > SPOT_DBUS_MAX_PRODUCTS_PER_CALL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "%s takes at most %d product ids per call, got %u", method,
                   SPOT_DBUS_MAX_PRODUCTS_PER_CALL, n);
      return NULL;
    }
  for (guint i = 0; i < n; i++)
    {
      if (!spot_product_id_validate (ids[i], error))
        return NULL;
      if (g_hash_table_add (seen, (gpointer)ids[i]))
        g_ptr_array_add (unique, g_strdup (ids[i]));
    }
  g_ptr_array_add (unique, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&unique), FALSE);
}

static char *
join_for_log (const char *const *ids)
{
  return g_strjoinv (",", (char **)ids);
}

static void
add_products_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GDBusMethodInvocation) invocation = user_data;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) added = NULL;

  added = spot_controller_add_products_finish (SPOT_CONTROLLER (source), result, &error);
  if (added == NULL)
    {
      g_message ("D-Bus AddProducts from %s failed: %s",
                 g_dbus_method_invocation_get_sender (invocation), error->message);
      return_error (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(^as)", added));
}

static gboolean
handle_add_products (SpotDbusCanvas *object,
                     GDBusMethodInvocation *invocation,
                     const char *const *arg_products)
{
  SpotDbusService *self = SPOT_DBUS_SERVICE (object);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) ids = validate_product_list ("AddProducts", arg_products, &error);
  g_autofree char *joined = NULL;

  if (ids == NULL)
    {
      return_error (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  joined = join_for_log ((const char *const *)ids);
  g_message ("D-Bus AddProducts %s from %s", joined,
             g_dbus_method_invocation_get_sender (invocation));
  spot_controller_add_products_async (self->controller, (const char *const *)ids, NULL,
                                      add_products_cb, g_object_ref (invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
remove_products_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GDBusMethodInvocation) invocation = user_data;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) removed = NULL;

  removed = spot_controller_remove_products_finish (SPOT_CONTROLLER (source), result, &error);
  if (removed == NULL)
    {
      g_message ("D-Bus RemoveProducts from %s failed: %s",
                 g_dbus_method_invocation_get_sender (invocation), error->message);
      return_error (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(^as)", removed));
}

static gboolean
handle_remove_products (SpotDbusCanvas *object,
                        GDBusMethodInvocation *invocation,
                        const char *const *arg_products)
{
  SpotDbusService *self = SPOT_DBUS_SERVICE (object);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) ids = validate_product_list ("RemoveProducts", arg_products, &error);
  g_autofree char *joined = NULL;

  if (ids == NULL)
    {
      return_error (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  joined = join_for_log ((const char *const *)ids);
  g_message ("D-Bus RemoveProducts %s from %s", joined,
             g_dbus_method_invocation_get_sender (invocation));
  spot_controller_remove_products_async (self->controller, (const char *const *)ids, NULL,
                                         remove_products_cb, g_object_ref (invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static int
compare_ids (const void *a, const void *b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static gboolean
handle_list_products (SpotDbusCanvas *object, GDBusMethodInvocation *invocation)
{
  SpotDbusService *self = SPOT_DBUS_SERVICE (object);
  g_auto (GStrv) products = spot_controller_list_products (self->controller);

  /* The interface promises a sorted list, whatever the controller does. */
  qsort (products, g_strv_length (products), sizeof (char *), compare_ids);
  spot_dbus_canvas_complete_list_products (object, invocation, (const char *const *)products);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_candle (SpotDbusCanvas *object,
                   GDBusMethodInvocation *invocation,
                   const char *arg_product,
                   const char *arg_granularity)
{
  SpotDbusService *self = SPOT_DBUS_SERVICE (object);
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  SpotGranularity granularity;
  SpotCandle candle;

  if (!spot_product_id_validate (arg_product, &error))
    {
      return_error (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (!spot_granularity_parse (arg_granularity, -1, &granularity, &error))
    {
      /* A bad argument to a method, whatever the parser calls it. */
      g_dbus_method_invocation_return_error_literal (invocation, SPOT_ERROR,
                                                     SPOT_ERROR_INVALID_ARGUMENT, error->message);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  memset (&candle, 0, sizeof candle);
  if (!spot_controller_get_candle (self->controller, arg_product, granularity, &candle, &error))
    {
      return_error (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  json = spot_candle_to_json (&candle);
  spot_dbus_canvas_complete_get_candle (object, invocation, json);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static GVariant *
build_status (SpotDbusService *self)
{
  g_autoptr (GVariant) extra = spot_controller_get_status (self->controller);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GVariantBuilder builder;
  GVariantIter iter;
  const char *key;
  GVariant *value;
  struct
  {
    const char *key;
    GVariant *value;
  } own[] = {
    { "state", g_variant_new_string (self->latest.state) },
    { "version", g_variant_new_string (PACKAGE_VERSION) },
    { "shard_index",
      g_variant_new_uint32 (spot_dbus_canvas_get_shard_index (SPOT_DBUS_CANVAS (self))) },
    { "shard_count",
      g_variant_new_uint32 (spot_dbus_canvas_get_shard_count (SPOT_DBUS_CANVAS (self))) },
    { "product_count", g_variant_new_uint32 (self->product_count) },
    { "owned_product_count", g_variant_new_uint32 (self->latest.owned_product_count) },
    { "connections_up", g_variant_new_uint32 (self->latest.connections_up) },
    { "connections_total", g_variant_new_uint32 (self->latest.connections_total) },
    { "messages_received", g_variant_new_uint64 (self->latest.messages_received) },
    { "trades_received", g_variant_new_uint64 (self->latest.trades_received) },
    { "candles_published", g_variant_new_uint64 (self->latest.candles_published) },
    { "candles_stored", g_variant_new_uint64 (self->latest.candles_stored) },
    { "reconnects", g_variant_new_uint64 (self->latest.reconnects) },
    { "sse_clients", g_variant_new_uint32 (self->latest.sse_clients) },
    { "nats_status", g_variant_new_string (self->latest.nats_status) },
    { "database_status", g_variant_new_string (self->latest.database_status) },
    { "dbus_bus", g_variant_new_string (self->bus_type == G_BUS_TYPE_SYSTEM    ? "system"
                                        : self->bus_type == G_BUS_TYPE_SESSION ? "session"
                                                                               : "none") },
  };

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  /* The controller's entries win over ours of the same name. */
  g_variant_iter_init (&iter, extra);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_hash_table_add (seen, (gpointer)key);
      g_variant_builder_add (&builder, "{sv}", key, value);
      g_variant_unref (value);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (own); i++)
    {
      if (g_hash_table_contains (seen, own[i].key))
        g_variant_unref (g_variant_ref_sink (own[i].value));
      else
        g_variant_builder_add (&builder, "{sv}", own[i].key, own[i].value);
    }
  return g_variant_builder_end (&builder);
}

static gboolean
handle_get_status (SpotDbusCanvas *object, GDBusMethodInvocation *invocation)
{
  spot_dbus_canvas_complete_get_status (object, invocation,
                                        build_status (SPOT_DBUS_SERVICE (object)));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_reconnect (SpotDbusCanvas *object, GDBusMethodInvocation *invocation)
{
  SpotDbusService *self = SPOT_DBUS_SERVICE (object);
  g_autoptr (GError) error = NULL;

  g_message ("D-Bus Reconnect from %s", g_dbus_method_invocation_get_sender (invocation));
  if (!spot_controller_reconnect (self->controller, &error))
    {
      return_error (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  spot_dbus_canvas_complete_reconnect (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
spot_dbus_service_iface_init (SpotDbusCanvasIface *iface)
{
  iface->handle_list_products = handle_list_products;
  iface->handle_add_products = handle_add_products;
  iface->handle_remove_products = handle_remove_products;
  iface->handle_get_candle = handle_get_candle;
  iface->handle_get_status = handle_get_status;
  iface->handle_reconnect = handle_reconnect;
}

static void
products_changed_cb (SpotController *controller,
                     const char *const *added,
                     const char *const *removed,
                     gpointer user_data)
{
  SpotDbusService *self = user_data;
  g_auto (GStrv) products = spot_controller_list_products (controller);

  spot_dbus_canvas_emit_products_changed (SPOT_DBUS_CANVAS (self), added, removed);
  self->product_count = g_strv_length (products);
  schedule_flush (self);
}

/* ---- bus ---- */

const char *
spot_dbus_bus_state_to_string (SpotDbusBusState state)
{
  switch (state)
    {
    case SPOT_DBUS_BUS_STATE_STOPPED:
      return "stopped";
    case SPOT_DBUS_BUS_STATE_CONNECTING:
      return "connecting";
    case SPOT_DBUS_BUS_STATE_OWNED:
      return "owned";
    case SPOT_DBUS_BUS_STATE_UNAVAILABLE:
      return "unavailable";
    case SPOT_DBUS_BUS_STATE_NAME_LOST:
      return "name-lost";
    default:
      return "invalid";
    }
}

static void
set_bus_state (SpotDbusService *self, SpotDbusBusState state)
{
  if (self->bus_state == state)
    return;
  g_debug ("D-Bus state %s -> %s", spot_dbus_bus_state_to_string (self->bus_state),
           spot_dbus_bus_state_to_string (state));
  self->bus_state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUS_STATE]);
}

static const char *
bus_name_for_log (GBusType bus_type)
{
  return bus_type == G_BUS_TYPE_SYSTEM ? "system" : "session";
}

gboolean
spot_dbus_service_export (SpotDbusService *self, GDBusConnection *connection, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (SPOT_IS_DBUS_SERVICE (self), FALSE);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), FALSE);

  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self), connection,
                                         SPOT_DBUS_OBJECT_PATH, &local_error))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "cannot export %s on D-Bus: %s",
                   SPOT_DBUS_OBJECT_PATH, local_error->message);
      return FALSE;
    }
  return TRUE;
}

static void
name_acquired_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  SpotDbusService *self = user_data;

  g_message ("D-Bus: owning %s on the %s bus", name, bus_name_for_log (self->bus_type));
  set_bus_state (self, SPOT_DBUS_BUS_STATE_OWNED);
}

static void
name_lost_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  SpotDbusService *self = user_data;

  if (connection == NULL || g_dbus_connection_is_closed (connection))
    g_warning ("D-Bus: the %s bus connection is gone; running without D-Bus control",
               bus_name_for_log (self->bus_type));
  else
    g_warning ("D-Bus: cannot own %s on the %s bus: another process owns it (another "
               "instance running?); this instance runs without D-Bus control",
               name, bus_name_for_log (self->bus_type));
  set_bus_state (self, SPOT_DBUS_BUS_STATE_NAME_LOST);
}

static void
connection_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SpotDbusService) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) connection
      = g_dbus_connection_new_for_address_finish (result, &error);

  if (connection == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_clear_object (&self->connect_cancellable);
      g_message ("D-Bus: the %s bus is not reachable (%s); running without D-Bus control",
                 bus_name_for_log (self->bus_type), error->message);
      set_bus_state (self, SPOT_DBUS_BUS_STATE_UNAVAILABLE);
      return;
    }
  g_clear_object (&self->connect_cancellable);
  /* A bus that goes away must not take the service with it. */
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  if (!spot_dbus_service_export (self, connection, &error))
    {
      g_warning ("D-Bus: %s; running without D-Bus control", error->message);
      g_dbus_connection_close (connection, NULL, NULL, NULL);
      set_bus_state (self, SPOT_DBUS_BUS_STATE_UNAVAILABLE);
      return;
    }
  self->connection = g_steal_pointer (&connection);
  self->owner_id
      = g_bus_own_name_on_connection (self->connection, SPOT_DBUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
                                      name_acquired_cb, name_lost_cb, self, NULL);
}

/* The address without dbus-launch: GLib would spawn it ("autolaunch:") when
 * no session bus is advertised, which on a server or in a container only
 * starts a stray daemon nobody talks to. */
static char *
bus_address (GBusType bus_type, GError **error)
{
  const char *env;
  const char *runtime_dir;
  g_autofree char *socket_path = NULL;
  g_autofree char *escaped = NULL;

  if (bus_type == G_BUS_TYPE_SYSTEM)
    return g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SYSTEM, NULL, error);

  env = g_getenv ("DBUS_SESSION_BUS_ADDRESS");
  if (env != NULL && env[0] != '\0')
    return g_strdup (env);
  runtime_dir = g_getenv ("XDG_RUNTIME_DIR");
  if (runtime_dir != NULL && runtime_dir[0] != '\0')
    {
      socket_path = g_build_filename (runtime_dir, "bus", NULL);
      if (g_file_test (socket_path, G_FILE_TEST_EXISTS))
        {
          escaped = g_dbus_address_escape_value (socket_path);
          return g_strdup_printf ("unix:path=%s", escaped);
        }
    }
  g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND,
                       "DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist");
  return NULL;
}

void
spot_dbus_service_start (SpotDbusService *self, GBusType bus_type)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *address = NULL;

  g_return_if_fail (SPOT_IS_DBUS_SERVICE (self));
  g_return_if_fail (bus_type == G_BUS_TYPE_SESSION || bus_type == G_BUS_TYPE_SYSTEM
                    || bus_type == G_BUS_TYPE_NONE);

  spot_dbus_service_stop (self);
  self->bus_type = bus_type;
  if (bus_type == G_BUS_TYPE_NONE)
    {
      g_info ("D-Bus disabled by configuration");
      return;
    }
  address = bus_address (bus_type, &error);
  if (address == NULL)
    {
      g_message ("D-Bus: no %s bus (%s); running without D-Bus control",
                 bus_name_for_log (bus_type), error->message);
      set_bus_state (self, SPOT_DBUS_BUS_STATE_UNAVAILABLE);
      return;
    }
  set_bus_state (self, SPOT_DBUS_BUS_STATE_CONNECTING);
  self->connect_cancellable = g_cancellable_new ();
  g_dbus_connection_new_for_address (address,
                                     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
                                         | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                     NULL, self->connect_cancellable, connection_ready_cb,
                                     g_object_ref (self));
}

void
spot_dbus_service_stop (SpotDbusService *self)
{
  g_return_if_fail (SPOT_IS_DBUS_SERVICE (self));

  if (self->connect_cancellable != NULL)
    {
      g_cancellable_cancel (self->connect_cancellable);
      g_clear_object (&self->connect_cancellable);
    }
  if (self->owner_id != 0)
    {
      g_bus_unown_name (self->owner_id);
      self->owner_id = 0;
    }
  if (g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (self)) != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self));
  if (self->connection != NULL)
    {
      /* Asynchronous: the close holds its own reference and never blocks
       * the loop. */
      g_dbus_connection_close (self->connection, NULL, NULL, NULL);
      g_clear_object (&self->connection);
    }
  set_bus_state (self, SPOT_DBUS_BUS_STATE_STOPPED);
}

SpotDbusBusState
spot_dbus_service_get_bus_state (SpotDbusService *self)
{
  g_return_val_if_fail (SPOT_IS_DBUS_SERVICE (self), SPOT_DBUS_BUS_STATE_STOPPED);
  return self->bus_state;
}

/* ---- object ---- */

SpotDbusService *
spot_dbus_service_new (SpotController *controller, guint shard_index, guint shard_count)
{
  SpotDbusService *self;
  g_auto (GStrv) products = NULL;

  g_return_val_if_fail (SPOT_IS_CONTROLLER (controller), NULL);

  spot_dbus_error_register ();
  self = g_object_new (SPOT_TYPE_DBUS_SERVICE, NULL);
  self->controller = g_object_ref (controller);
  self->products_changed_id
      = g_signal_connect (controller, "products-changed", G_CALLBACK (products_changed_cb), self);
  spot_dbus_canvas_set_version (SPOT_DBUS_CANVAS (self), PACKAGE_VERSION);
  spot_dbus_canvas_set_shard_index (SPOT_DBUS_CANVAS (self), shard_index);
  spot_dbus_canvas_set_shard_count (SPOT_DBUS_CANVAS (self), shard_count);
  products = spot_controller_list_products (controller);
  self->product_count = g_strv_length (products);
  flush_properties (self);
  self->last_flush_us = 0;
  return self;
}

static void
spot_dbus_service_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SpotDbusService *self = SPOT_DBUS_SERVICE (object);

  switch (prop_id)
    {
    case PROP_BUS_STATE:
      g_value_set_int (value, self->bus_state);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
spot_dbus_service_dispose (GObject *object)
{
  SpotDbusService *self = SPOT_DBUS_SERVICE (object);

  spot_dbus_service_stop (self);
  g_clear_handle_id (&self->flush_source_id, g_source_remove);
  if (self->controller != NULL)
    {
      g_clear_signal_handler (&self->products_changed_id, self->controller);
      g_clear_object (&self->controller);
    }
  G_OBJECT_CLASS (spot_dbus_service_parent_class)->dispose (object);
}

static void
spot_dbus_service_finalize (GObject *object)
{
  SpotDbusService *self = SPOT_DBUS_SERVICE (object);

  g_free ((char *)self->latest.state);
  g_free ((char *)self->latest.nats_status);
  g_free ((char *)self->latest.database_status);
  G_OBJECT_CLASS (spot_dbus_service_parent_class)->finalize (object);
}

static void
spot_dbus_service_class_init (SpotDbusServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = spot_dbus_service_dispose;
  object_class->finalize = spot_dbus_service_finalize;
  object_class->get_property = spot_dbus_service_get_property;

  /* An int holding a SpotDbusBusState: no enum GType for one property. */
  properties[PROP_BUS_STATE]
      = g_param_spec_int ("bus-state", NULL, NULL, SPOT_DBUS_BUS_STATE_STOPPED,
                          SPOT_DBUS_BUS_STATE_NAME_LOST, SPOT_DBUS_BUS_STATE_STOPPED,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
spot_dbus_service_init (SpotDbusService *self)
{
  static const SpotDbusStatus initial = { .state = "starting" };

  self->interval_ms = SPOT_DBUS_UPDATE_INTERVAL_MS;
  latest_set (self, &initial);
}
