/* spot-monitor-main.c: the GTK4 monitor for spot-canvas.
 *
 *   spot-canvas-monitor [--system]
 *   spot-canvas-monitor --self-test [--screenshot FILE]
 *
 * --self-test connects, waits for the service's state and products, adds
 * and removes a product through the window's own buttons, shows a live
 * candle, waits for a painted frame, optionally saves it as PNG, prints a
 * summary line and exits 0 (1 with the failing step after 30 s). The tests
 * run it under Xvfb against a private bus.
 */
#define G_LOG_DOMAIN "spot-monitor"

#include "config.h"

#include <gtk/gtk.h>

#include "dbus/spot-dbus-error.h"
#include "dbus/spot-dbus-service.h"
#include "spot-monitor-window.h"

#define SELF_TEST_PRODUCT "MONITOR-USD"
#define SELF_TEST_TIMEOUT_S 30

typedef enum
{
  STEP_WAIT_STATE,
  STEP_WAIT_ADDED,
  STEP_WAIT_REMOVED,
  STEP_WAIT_FRAME,
  STEP_DONE,
} SelfTestStep;

static const char *const step_names[] = {
  "waiting for the state and products",
  "waiting for the added product",
  "waiting for the removal and a live candle",
  "waiting for a painted frame",
  "done",
};

typedef struct
{
  GtkApplication *app;
  SpotMonitorWindow *window;
  gboolean system_bus;
  gboolean self_test;
  char *screenshot;
  int exit_status;
  SelfTestStep step;
  guint initial_rows;
  gint64 deadline;
  gboolean painted;
} Monitor;

static void
proxy_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Monitor *m = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotDbusCanvas) proxy = spot_dbus_canvas_proxy_new_finish (result, &error);

  if (m->window == NULL)
    return;
  if (proxy == NULL)
    {
      g_autofree char *reason = g_strdup_printf ("Cannot reach spot-canvas: %s", error->message);
      spot_monitor_window_set_proxy (m->window, NULL, reason);
      return;
    }
  spot_monitor_window_set_proxy (m->window, proxy, NULL);
}

static void
bus_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Monitor *m = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) connection = g_bus_get_finish (result, &error);

  if (m->window == NULL)
    return;
  if (connection == NULL)
    {
      g_autofree char *reason
          = g_strdup_printf ("No %s bus: %s", m->system_bus ? "system" : "session", error->message);
      spot_monitor_window_set_proxy (m->window, NULL, reason);
      return;
    }
  /* Opening the monitor must not start the service by activation. */
  spot_dbus_canvas_proxy_new (connection, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START_AT_CONSTRUCTION,
                              SPOT_DBUS_NAME, SPOT_DBUS_OBJECT_PATH, NULL, proxy_ready_cb, m);
}

static void
save_screenshot (Monitor *m)
{
  GtkWidget *widget = GTK_WIDGET (m->window);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    {
      g_printerr ("self-test: nothing to render\n");
      m->exit_status = 1;
      return;
    }
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (m->window)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, m->screenshot))
    {
      g_printerr ("self-test: cannot write %s\n", m->screenshot);
      m->exit_status = 1;
    }
}

static void
after_paint_cb (GdkFrameClock *clock, gpointer user_data)
{
  Monitor *m = user_data;

  m->painted = TRUE;
}

static gboolean
self_test_tick (gpointer user_data)
{
  Monitor *m = user_data;
  SpotMonitorWindow *w = m->window;
  const char *state = spot_monitor_window_get_state_text (w);

  if (g_get_monotonic_time () > m->deadline)
    {
      g_printerr ("self-test: FAILED %s (state “%s”, %u product rows, candle “%s”, error “%s”)\n",
                  step_names[m->step], state, spot_monitor_window_get_product_rows (w),
                  spot_monitor_window_get_candle_text (w), spot_monitor_window_get_error_text (w));
      m->exit_status = 1;
      g_application_quit (G_APPLICATION (m->app));
      return G_SOURCE_REMOVE;
    }

  switch (m->step)
    {
    case STEP_WAIT_STATE:
      if (g_strcmp0 (state, "—") == 0 || spot_monitor_window_get_product_rows (w) == 0)
        break;
      m->initial_rows = spot_monitor_window_get_product_rows (w);
      spot_monitor_window_click_add (w, SELF_TEST_PRODUCT);
      m->step = STEP_WAIT_ADDED;
      break;
    case STEP_WAIT_ADDED:
      if (!spot_monitor_window_has_product_row (w, SELF_TEST_PRODUCT))
        break;
      spot_monitor_window_click_remove (w, SELF_TEST_PRODUCT);
      m->step = STEP_WAIT_REMOVED;
      break;
    case STEP_WAIT_REMOVED:
      if (spot_monitor_window_has_product_row (w, SELF_TEST_PRODUCT)
          || spot_monitor_window_get_product_rows (w) != m->initial_rows)
        break;
      /* The tests' service has a live ONE_MINUTE candle for BTC-USD. */
      if (!g_str_has_prefix (spot_monitor_window_get_candle_text (w), "BTC-USD ONE_MINUTE"))
        {
          spot_monitor_window_select_product (w, "BTC-USD");
          break;
        }
      m->painted = FALSE;
      m->step = STEP_WAIT_FRAME;
      gtk_widget_queue_draw (GTK_WIDGET (w));
      break;
    case STEP_WAIT_FRAME:
      if (!m->painted)
        break;
      if (m->screenshot != NULL)
        save_screenshot (m);
      g_print ("self-test: state=%s products=%u added-and-removed=%s candle=%s\n", state,
               m->initial_rows, SELF_TEST_PRODUCT, spot_monitor_window_get_candle_text (w));
      m->step = STEP_DONE;
      g_application_quit (G_APPLICATION (m->app));
      return G_SOURCE_REMOVE;
    case STEP_DONE:
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
window_mapped_cb (GtkWidget *widget, gpointer user_data)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);

  g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), user_data);
}

static void
activate_cb (GApplication *app, gpointer user_data)
{
  Monitor *m = user_data;

  if (m->window != NULL)
    {
      gtk_window_present (GTK_WINDOW (m->window));
      return;
    }
  m->window = spot_monitor_window_new (GTK_APPLICATION (app));
  g_object_add_weak_pointer (G_OBJECT (m->window), (gpointer *)&m->window);
  if (m->self_test)
    {
      g_signal_connect (m->window, "map", G_CALLBACK (window_mapped_cb), m);
      m->deadline = g_get_monotonic_time () + SELF_TEST_TIMEOUT_S * G_USEC_PER_SEC;
      g_timeout_add (100, self_test_tick, m);
    }
  gtk_window_present (GTK_WINDOW (m->window));
  g_bus_get (m->system_bus ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, NULL, bus_ready_cb, m);
}

int
main (int argc, char **argv)
{
  Monitor m = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context = NULL;
  g_autofree char *screenshot = NULL;
  const GOptionEntry entries[] = {
    { "system", 0, 0, G_OPTION_ARG_NONE, &m.system_bus, "Watch the instance on the system bus",
      NULL },
    { "self-test", 0, 0, G_OPTION_ARG_NONE, &m.self_test,
      "Exercise the window against a running service and exit", NULL },
    { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, &screenshot,
      "With --self-test: save the window as PNG", "FILE" },
    { NULL },
  };
  int status;

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, "Watch and control a running spot-canvas over D-Bus.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  m.screenshot = screenshot;
  spot_dbus_error_register ();

  /* A self-test must not hand over to an already running monitor. */
  m.app = gtk_application_new ("org.spotcanvas.Monitor", m.self_test ? G_APPLICATION_NON_UNIQUE
                                                                     : G_APPLICATION_DEFAULT_FLAGS);
  g_signal_connect (m.app, "activate", G_CALLBACK (activate_cb), &m);
  status = g_application_run (G_APPLICATION (m.app), argc, argv);
  g_clear_object (&m.app);
  return status != 0 ? status : m.exit_status;
}
