/* test-dbus-policy.c: the system bus policy lets only root and the install
 * group control the service.
 *
 * Usage: test-dbus-policy POLICY_FILE, a copy of
 * data/dbus/org.spotcanvas.SpotCanvas1.conf.in configured with the group
 * "nogroup". A private dbus-daemon runs with the essentials of Debian's
 * system.conf (deny by default) plus that policy; this process (root) owns
 * the name with the in-memory controller, and busctl runs as root, as
 * nobody (in nogroup) and as daemon (not in it).
 *
 * Needs root (to switch users) and setpriv, busctl, dbus-daemon: skipped
 * otherwise.
 */
#define G_LOG_DOMAIN "spot-dbus-test"

#include "config.h"

#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "dbus/spot-dbus-service.h"

#include "dbus-test-log.h"
#include "spot-test-controller.h"

static const char *policy_file;

static const char bus_config[]
    = "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
      " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
      "<busconfig>\n"
      "  <type>system</type>\n"
      "  <listen>unix:path=%s/bus</listen>\n"
      "  <auth>EXTERNAL</auth>\n"
      "  <policy context=\"default\">\n"
      "    <allow user=\"*\"/>\n"
      "    <deny own=\"*\"/>\n"
      "    <deny send_type=\"method_call\"/>\n"
      "    <allow send_type=\"signal\"/>\n"
      "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
      "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
      "    <allow receive_type=\"method_call\"/>\n"
      "    <allow receive_type=\"method_return\"/>\n"
      "    <allow receive_type=\"error\"/>\n"
      "    <allow receive_type=\"signal\"/>\n"
      "    <allow send_destination=\"org.freedesktop.DBus\" "
      "send_interface=\"org.freedesktop.DBus\"/>\n"
      "    <allow send_destination=\"org.freedesktop.DBus\" "
      "send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
      "  </policy>\n"
      "  <include>%s</include>\n"
      "</busconfig>\n";

/* Children (dbus-daemon, the service) die with this test even when it
 * aborts; otherwise they would keep meson's output pipe open. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static GSubprocessLauncher *
new_launcher (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  return launcher;
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **)user_data = g_object_ref (result);
}

/* Runs busctl as @user ("root", "nobody", "daemon") and serves its call
 * meanwhile. Returns the exit status; *err gets stderr. */
static int
busctl_as (const char *user, const char *address, const char *const *args, char **out, char **err)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *address_arg = g_strdup_printf ("--address=%s", address);

  if (g_strcmp0 (user, "root") != 0)
    {
      g_ptr_array_add (argv, g_strdup ("setpriv"));
      g_ptr_array_add (argv, g_strdup_printf ("--reuid=%s", user));
      g_ptr_array_add (
          argv, g_strdup_printf ("--regid=%s", g_strcmp0 (user, "nobody") == 0 ? "nogroup" : user));
      g_ptr_array_add (argv, g_strdup ("--init-groups"));
    }
  g_ptr_array_add (argv, g_strdup ("busctl"));
  g_ptr_array_add (argv, g_strdup ("--no-pager"));
  g_ptr_array_add (argv, g_steal_pointer (&address_arg));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);

  process
      = g_subprocess_newv ((const char *const *)argv->pdata,
                           G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (g_subprocess_communicate_utf8_finish (process, result, out, err, &error));
  g_assert_no_error (error);
  g_test_message ("as %s: busctl %s %s -> %d: %s%s", user, args[0], args[4] != NULL ? args[4] : "",
                  g_subprocess_get_exit_status (process), *out, *err);
  return g_subprocess_get_exit_status (process);
}

#define TARGET SPOT_DBUS_NAME, SPOT_DBUS_OBJECT_PATH, SPOT_DBUS_INTERFACE

static void
expect (const char *user, const char *address, gboolean allowed, const char *const *args)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = busctl_as (user, address, args, &out, &err);

  if (allowed)
    g_assert_cmpint (status, ==, 0);
  else
    {
      g_assert_cmpint (status, !=, 0);
      g_assert_nonnull (strstr (err, "ccess denied"));
    }
}

static void
test_only_root_and_the_group_control_the_service (void)
{
  static const char *const products[] = { "BTC-USD", NULL };
  static const char *const list[] = { "call", TARGET, "ListProducts", NULL };
  static const char *const candle[] = { "call", TARGET, "GetCandle", "ss", "BTC-USD", "1m", NULL };
  static const char *const state[] = { "get-property", TARGET, "State", NULL };
  static const char *const add_eth[]
      = { "call", TARGET, "AddProducts", "as", "1", "ETH-USD", NULL };
  static const char *const add_sol[]
      = { "call", TARGET, "AddProducts", "as", "1", "SOL-USD", NULL };
  static const char *const add_ada[]
      = { "call", TARGET, "AddProducts", "as", "1", "ADA-USD", NULL };
  static const char *const remove_btc[]
      = { "call", TARGET, "RemoveProducts", "as", "1", "BTC-USD", NULL };
  static const char *const reconnect[] = { "call", TARGET, "Reconnect", NULL };
  const char *const programs[] = { "setpriv", "busctl", "dbus-daemon", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *config = NULL;
  g_autofree char *address = NULL;
  g_autofree char *socket_path = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) daemon = NULL;
  g_autoptr (SpotTestController) controller = NULL;
  g_autoptr (SpotDbusService) service = NULL;
  SpotCandle c;
  gint64 deadline;

  if (getuid () != 0)
    {
      g_test_skip ("needs root to run clients as other users");
      return;
    }
  for (guint i = 0; programs[i] != NULL; i++)
    {
      g_autofree char *path = g_find_program_in_path (programs[i]);
      if (path == NULL)
        {
          g_test_skip_printf ("%s is not installed", programs[i]);
          return;
        }
    }

  dir = g_dir_make_tmp ("spot-dbus-policy-XXXXXX", &error);
  g_assert_no_error (error);
  /* Other users must reach the socket. */
  g_assert_cmpint (g_chmod (dir, 0755), ==, 0);
  config = g_strdup_printf (bus_config, dir, policy_file);
  config_path = g_build_filename (dir, "bus.conf", NULL);
  g_assert_true (g_file_set_contents (config_path, config, -1, &error));
  socket_path = g_build_filename (dir, "bus", NULL);
  address = g_strdup_printf ("unix:path=%s", socket_path);
  launcher = new_launcher (G_SUBPROCESS_FLAGS_NONE);
  daemon = g_subprocess_launcher_spawn (launcher, &error, "dbus-daemon", "--nofork", "--nosyslog",
                                        "--config-file", config_path, NULL);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!g_file_test (socket_path, G_FILE_TEST_EXISTS))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10000);
    }

  controller = spot_test_controller_new (products);
  spot_test_candle_init (&c, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800);
  spot_test_controller_put_candle (controller, &c);
  service = spot_dbus_service_new (SPOT_CONTROLLER (controller), 0, 1);
  g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", address, TRUE);
  spot_dbus_service_start (service, G_BUS_TYPE_SYSTEM);
  while (spot_dbus_service_get_bus_state (service) == SPOT_DBUS_BUS_STATE_CONNECTING)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  /* root may own the name. */
  g_assert_cmpint (spot_dbus_service_get_bus_state (service), ==, SPOT_DBUS_BUS_STATE_OWNED);

  /* Anyone reads. */
  expect ("daemon", address, TRUE, list);
  expect ("daemon", address, TRUE, candle);
  expect ("daemon", address, TRUE, state);
  /* Only root and the group control. */
  expect ("daemon", address, FALSE, add_eth);
  expect ("daemon", address, FALSE, remove_btc);
  expect ("daemon", address, FALSE, reconnect);
  g_assert_false (spot_test_controller_has_product (controller, "ETH-USD"));
  g_assert_true (spot_test_controller_has_product (controller, "BTC-USD"));
  g_assert_cmpuint (spot_test_controller_reconnects (controller), ==, 0);

  expect ("nobody", address, TRUE, add_sol);
  g_assert_true (spot_test_controller_has_product (controller, "SOL-USD"));
  expect ("root", address, TRUE, add_ada);
  expect ("root", address, TRUE, reconnect);
  g_assert_true (spot_test_controller_has_product (controller, "ADA-USD"));
  g_assert_cmpuint (spot_test_controller_reconnects (controller), ==, 1);

  spot_dbus_service_stop (service);
  g_subprocess_send_signal (daemon, SIGTERM);
  g_subprocess_wait (daemon, NULL, NULL);
  g_unlink (config_path);
  g_unlink (socket_path);
  g_rmdir (dir);
  dbus_test_log_take ("*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dbus_test_log_init ();
  if (argc < 2)
    {
      g_printerr ("usage: %s POLICY_FILE\n", argv[0]);
      return 1;
    }
  policy_file = argv[1];
  g_test_add_func ("/dbus/policy/only-root-and-the-group-control-the-service",
                   test_only_root_and_the_group_control_the_service);
  return g_test_run ();
}
