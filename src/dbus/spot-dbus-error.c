/* spot-dbus-error.c: the SPOT_ERROR <-> D-Bus error name table. */
#define G_LOG_DOMAIN "spot-dbus"

#include "config.h"

#include "dbus/spot-dbus-error.h"

#include "core/spot-error.h"

static const GDBusErrorEntry spot_dbus_error_entries[] = {
  { SPOT_ERROR_FAILED, SPOT_DBUS_ERROR_PREFIX "Failed" },
  { SPOT_ERROR_INVALID_ARGUMENT, SPOT_DBUS_ERROR_PREFIX "InvalidArgument" },
  { SPOT_ERROR_INVALID_CONFIG, SPOT_DBUS_ERROR_PREFIX "InvalidConfig" },
  { SPOT_ERROR_PARSE, SPOT_DBUS_ERROR_PREFIX "Parse" },
  { SPOT_ERROR_OVERFLOW, SPOT_DBUS_ERROR_PREFIX "Overflow" },
  { SPOT_ERROR_NOT_FOUND, SPOT_DBUS_ERROR_PREFIX "NotFound" },
  { SPOT_ERROR_IO, SPOT_DBUS_ERROR_PREFIX "IO" },
  { SPOT_ERROR_TIMEOUT, SPOT_DBUS_ERROR_PREFIX "Timeout" },
  { SPOT_ERROR_DATABASE, SPOT_DBUS_ERROR_PREFIX "Database" },
  { SPOT_ERROR_NATS, SPOT_DBUS_ERROR_PREFIX "Nats" },
  { SPOT_ERROR_EXCHANGE, SPOT_DBUS_ERROR_PREFIX "Exchange" },
  { SPOT_ERROR_BUSY, SPOT_DBUS_ERROR_PREFIX "Busy" },
  { SPOT_ERROR_CLOSED, SPOT_DBUS_ERROR_PREFIX "Closed" },
  { SPOT_ERROR_CANCELLED, SPOT_DBUS_ERROR_PREFIX "Cancelled" },
};

void
spot_dbus_error_register (void)
{
  static gsize registered = 0;

  /* spot_error_quark() interns the same name the registration uses. */
  (void)spot_error_quark ();
  g_dbus_error_register_error_domain ("spot-error-quark", &registered, spot_dbus_error_entries,
                                      G_N_ELEMENTS (spot_dbus_error_entries));
}
