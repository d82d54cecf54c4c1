/* test-dbus-monitor.c: the GTK4 monitor against a service on a private bus.
 *
 * Usage: test-dbus-monitor MONITOR_BINARY. Runs `spot-canvas-monitor
 * --self-test` under xvfb-run (X11 backend, cairo renderer) while this
 * process serves org.spotcanvas.SpotCanvas1 with the in-memory controller;
 * the monitor must show the state, add and remove a product through its
 * own buttons (the controller sees both), show a live candle and paint a
 * frame, saved as tests/dbus/monitor-self-test.png in the build directory.
 */
#define G_LOG_DOMAIN "spot-dbus-test"

#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "dbus/spot-dbus-service.h"

#include "dbus-test-log.h"
#include "spot-test-controller.h"

static const char *monitor_binary;

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **)user_data = g_object_ref (result);
}

typedef struct
{
  guint added;
  guint removed;
} ChangeCount;

static void
on_products_changed (SpotController *controller,
                     const char *const *added,
                     const char *const *removed,
                     gpointer user_data)
{
  ChangeCount *count = user_data;

  if (added != NULL && g_strv_contains (added, "MONITOR-USD"))
    count->added++;
  if (removed != NULL && g_strv_contains (removed, "MONITOR-USD"))
    count->removed++;
}

static void
test_monitor_shows_state_and_controls_products (void)
{
  static const char *const products[] = { "BTC-USD", "ETH-USD", "SOL-USD", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GTestDBus) bus = NULL;
  g_autoptr (SpotTestController) controller = NULL;
  g_autoptr (SpotDbusService) service = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) monitor = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *xvfb_run = g_find_program_in_path ("xvfb-run");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *png = NULL;
  g_autofree char *png_data = NULL;
  gsize png_size = 0;
  SpotDbusStatus status = { .state = "running",
                            .connections_up = 3,
                            .connections_total = 3,
                            .trades_received = 12345,
                            .nats_status = "connected",
                            .database_status = "connected" };
  ChangeCount changes = { 0 };
  SpotCandle candle;
  gint64 deadline;

  if (xvfb_run == NULL)
    {
      g_test_skip ("xvfb-run is not installed (Debian package xvfb)");
      return;
    }

  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (bus);
  controller = spot_test_controller_new (products);
  spot_test_candle_init (&candle, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800);
  spot_test_controller_put_candle (controller, &candle);
  g_signal_connect (controller, "products-changed", G_CALLBACK (on_products_changed), &changes);
  service = spot_dbus_service_new (SPOT_CONTROLLER (controller), 0, 1);
  spot_dbus_service_set_update_interval (service, 100);
  spot_dbus_service_update_status (service, &status);
  spot_dbus_service_start (service, G_BUS_TYPE_SESSION);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (spot_dbus_service_get_bus_state (service) != SPOT_DBUS_BUS_STATE_OWNED)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }

  png = g_build_filename (g_getenv ("G_TEST_BUILDDIR") != NULL ? g_getenv ("G_TEST_BUILDDIR") : ".",
                          "dbus", "monitor-self-test.png", NULL);
  g_unlink (png);
  launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "GDK_BACKEND", "x11", TRUE);
  /* Xvfb has no GPU: the cairo renderer draws the same widgets. */
  g_subprocess_launcher_setenv (launcher, "GSK_RENDERER", "cairo", TRUE);
  /* No accessibility bus on the private bus. */
  g_subprocess_launcher_setenv (launcher, "GTK_A11Y", "none", TRUE);
  g_subprocess_launcher_setenv (launcher, "NO_AT_BRIDGE", "1", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "WAYLAND_DISPLAY");
  /* Under ASan: fontconfig's caches live until exit by design. */
  if (g_getenv ("LSAN_OPTIONS") != NULL && g_getenv ("G_TEST_SRCDIR") != NULL)
    {
      g_autofree char *supp
          = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "dbus", "monitor-lsan.supp", NULL);
      g_autofree char *lsan = g_strdup_printf ("suppressions=%s", supp);

      g_subprocess_launcher_setenv (launcher, "LSAN_OPTIONS", lsan, TRUE);
    }
  monitor = g_subprocess_launcher_spawn (launcher, &error, xvfb_run, "-a", "-s",
                                         "-screen 0 1280x800x24", monitor_binary, "--self-test",
                                         "--screenshot", png, NULL);
  g_assert_no_error (error);
  /* Serve the monitor's calls while it runs. */
  g_subprocess_communicate_utf8_async (monitor, NULL, NULL, store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (g_subprocess_communicate_utf8_finish (monitor, result, &out, &err, &error));
  g_assert_no_error (error);
  g_test_message ("monitor stdout: %s\nmonitor stderr: %s", out, err);

  g_assert_true (g_subprocess_get_if_exited (monitor));
  g_assert_cmpint (g_subprocess_get_exit_status (monitor), ==, 0);
  g_assert_nonnull (strstr (out,
                            "self-test: state=running products=3 added-and-removed=MONITOR-USD "
                            "candle=BTC-USD ONE_MINUTE"));
  /* The window's buttons went through D-Bus to the controller. */
  g_assert_cmpuint (changes.added, ==, 1);
  g_assert_cmpuint (changes.removed, ==, 1);
  g_assert_false (spot_test_controller_has_product (controller, "MONITOR-USD"));
  /* A real frame: a PNG of some size. */
  g_assert_true (g_file_get_contents (png, &png_data, &png_size, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (png_size, >, 5000);
  g_assert_cmpmem (png_data, 8, "\x89PNG\r\n\x1a\n", 8);
  g_test_message ("screenshot: %s (%" G_GSIZE_FORMAT " bytes)", png, png_size);

  spot_dbus_service_stop (service);
  g_clear_object (&service);
  g_main_context_iteration (NULL, FALSE);
  g_test_dbus_down (bus);
  dbus_test_log_take ("*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dbus_test_log_init ();
  if (argc < 2)
    {
      g_printerr ("usage: %s MONITOR_BINARY\n", argv[0]);
      return 1;
    }
  monitor_binary = argv[1];
  g_test_add_func ("/dbus/monitor/shows-state-and-controls-products",
                   test_monitor_shows_state_and_controls_products);
  return g_test_run ();
}
