/* spot-dbus-service.h: the org.spotcanvas.SpotCanvas1 object.
 *
 * Subclasses the skeleton generated from data/dbus/org.spotcanvas.SpotCanvas1.xml.
 * Method calls are validated here (product ids, granularities, list sizes)
 * and handed to a SpotController; GErrors go back as
 * org.spotcanvas.SpotCanvas1.Error.<Code> (spot-dbus-error.h).
 *
 * Properties are pushed with spot_dbus_service_update_status() as often as
 * the caller likes; they reach the bus coalesced, at most once per update
 * interval (default SPOT_DBUS_UPDATE_INTERVAL_MS): the first change after a
 * quiet interval goes out at once, later ones wait for the interval to end and
 * only the latest values are sent. ProductsChanged is an event and is never
 * delayed; it relays the controller's ::products-changed.
 *
 * Bus: spot_dbus_service_start() connects (asynchronously) to the session or
 * system bus, exports the object at SPOT_DBUS_OBJECT_PATH and owns
 * SPOT_DBUS_NAME. With no bus reachable it logs once and the service runs
 * without D-Bus; a lost name (another instance) is a warning.
 *
 * Thread safety: create, use and free on one thread (the main thread); its
 * thread-default main context at creation runs the timers and the bus
 * callbacks.
 */
#pragma once

#include <gio/gio.h>

#include "dbus/spot-controller.h"
#include "dbus/spot-dbus-generated.h"

G_BEGIN_DECLS

#define SPOT_DBUS_NAME "org.spotcanvas.SpotCanvas1"
#define SPOT_DBUS_OBJECT_PATH "/org/spotcanvas/SpotCanvas1"
#define SPOT_DBUS_INTERFACE "org.spotcanvas.SpotCanvas1"
#define SPOT_DBUS_UPDATE_INTERVAL_MS 1000
/* AddProducts/RemoveProducts take at most this many ids per call. */
#define SPOT_DBUS_MAX_PRODUCTS_PER_CALL 1000

/* The pushed part of the properties; strings are copied. NULL strings are
 * shown as "unknown". */
typedef struct
{
  const char *state;
  guint owned_product_count;
  guint connections_up;
  guint connections_total;
  guint64 messages_received;
  guint64 trades_received;
  guint64 candles_published;
  guint64 candles_stored;
  guint64 reconnects;
  guint sse_clients;
  const char *nats_status;
  const char *database_status;
} SpotDbusStatus;

typedef enum
{
  SPOT_DBUS_BUS_STATE_STOPPED,     /* not started, stopped, or bus NONE */
  SPOT_DBUS_BUS_STATE_CONNECTING,  /* connecting or waiting for the name */
  SPOT_DBUS_BUS_STATE_OWNED,       /* exported and owning SPOT_DBUS_NAME */
  SPOT_DBUS_BUS_STATE_UNAVAILABLE, /* no bus reachable: running without D-Bus */
  SPOT_DBUS_BUS_STATE_NAME_LOST,   /* another process owns the name, or the bus went away */
} SpotDbusBusState;

#define SPOT_TYPE_DBUS_SERVICE (spot_dbus_service_get_type ())
G_DECLARE_FINAL_TYPE (
    SpotDbusService, spot_dbus_service, SPOT, DBUS_SERVICE, SpotDbusCanvasSkeleton)

/* Version is PACKAGE_VERSION; State starts as "starting". */
SpotDbusService *
spot_dbus_service_new (SpotController *controller, guint shard_index, guint shard_count);

/* Minimum spacing of PropertiesChanged; 0 sends every update at once. */
void spot_dbus_service_set_update_interval (SpotDbusService *self, guint interval_ms);

void spot_dbus_service_update_status (SpotDbusService *self, const SpotDbusStatus *status);

/* Exports on @connection without owning a name (tests, peer connections). */
gboolean
spot_dbus_service_export (SpotDbusService *self, GDBusConnection *connection, GError **error);

/* Connects to @bus_type (G_BUS_TYPE_SESSION, G_BUS_TYPE_SYSTEM; NONE does
 * nothing), exports and owns the name. Never fails: progress is in
 * ::notify::bus-state and the log. */
void spot_dbus_service_start (SpotDbusService *self, GBusType bus_type);

/* Releases the name, unexports, closes the connection. Idempotent. */
void spot_dbus_service_stop (SpotDbusService *self);

SpotDbusBusState spot_dbus_service_get_bus_state (SpotDbusService *self);

const char *spot_dbus_bus_state_to_string (SpotDbusBusState state);

G_END_DECLS
