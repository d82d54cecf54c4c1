/* spot-dbus-error.h: SPOT_ERROR codes as D-Bus error names.
 *
 * SPOT_ERROR_INVALID_ARGUMENT travels as
 * org.spotcanvas.SpotCanvas1.Error.InvalidArgument, SPOT_ERROR_NOT_FOUND as
 * ...Error.NotFound, and so on (docs/dbus.md lists them). Once registered, a
 * GError returned by a method handler goes out under its name and a client
 * in this project gets the SPOT_ERROR code back (strip the remote prefix
 * with g_dbus_error_strip_remote_error()).
 *
 * Thread safety: any thread; registration happens once.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SPOT_DBUS_ERROR_PREFIX "org.spotcanvas.SpotCanvas1.Error."

/* Registers the mapping (idempotent). */
void spot_dbus_error_register (void);

G_END_DECLS
