/* spot-monitor-window.h: the monitor's one window.
 *
 * Shows the state, counters, connections and NATS/database status of a
 * running spot-canvas (org.spotcanvas.SpotCanvas1 properties, updated on
 * PropertiesChanged), its active products with add/remove, and the live
 * candle of the selected product at a chosen granularity (GetCandle, once a
 * second). All D-Bus calls are asynchronous.
 *
 * Thread safety: GTK main thread only.
 */
#pragma once

#include <gtk/gtk.h>

#include "dbus/spot-dbus-generated.h"

G_BEGIN_DECLS

#define SPOT_TYPE_MONITOR_WINDOW (spot_monitor_window_get_type ())
G_DECLARE_FINAL_TYPE (
    SpotMonitorWindow, spot_monitor_window, SPOT, MONITOR_WINDOW, GtkApplicationWindow)

SpotMonitorWindow *spot_monitor_window_new (GtkApplication *application);

/* Shows @proxy (NULL: not connected, with @reason). */
void
spot_monitor_window_set_proxy (SpotMonitorWindow *self, SpotDbusCanvas *proxy, const char *reason);

/* For the self-test: the texts shown and the controls. */
const char *spot_monitor_window_get_state_text (SpotMonitorWindow *self);
const char *spot_monitor_window_get_candle_text (SpotMonitorWindow *self);
const char *spot_monitor_window_get_error_text (SpotMonitorWindow *self);
guint spot_monitor_window_get_product_rows (SpotMonitorWindow *self);
gboolean spot_monitor_window_has_product_row (SpotMonitorWindow *self, const char *product_id);
/* Types @product_id into the entry and presses Add, as a user would. */
void spot_monitor_window_click_add (SpotMonitorWindow *self, const char *product_id);
/* Presses the Remove button of @product_id's row; FALSE when there is none. */
gboolean spot_monitor_window_click_remove (SpotMonitorWindow *self, const char *product_id);
/* Selects @product_id's row (its live candle is shown). */
gboolean spot_monitor_window_select_product (SpotMonitorWindow *self, const char *product_id);

G_END_DECLS
