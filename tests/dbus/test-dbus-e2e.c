/* test-dbus-e2e.c: the real service controlled over D-Bus, two shards.
 *
 * Usage: test-dbus-e2e SPOT_CANVAS EXCHANGE_SIM.
 *
 * Real nats-server and PostgreSQL (tests/harness), the exchange simulator,
 * and two spot-canvas instances (SHARD_COUNT=2), each owning
 * org.spotcanvas.SpotCanvas1 on its own private dbus-daemon. A product added
 * with busctl on one instance is stored in the database and reaches the
 * other instance over NATS (spot.control.products); a removal on the other
 * comes back the same way; GetCandle serves live candles on both; invalid
 * input is refused with the D-Bus error names of docs/dbus.md.
 */
#define G_LOG_DOMAIN "spot-dbus-test"

#include "config.h"

#include <string.h>
#include <sys/prctl.h>
#include <signal.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libpq-fe.h>

#include "core/spot-error.h"
#include "dbus/spot-dbus-error.h"
#include "dbus/spot-dbus-service.h"
#include "model/spot-product.h"
#include "spot-test-harness.h"

#define READY_TIMEOUT_S 90

static const char *spot_canvas_binary;
static const char *exchange_sim_binary;

typedef struct
{
  GSubprocess *daemon;
  char *address;
} Bus;

typedef struct
{
  GSubprocess *process;
  char *log_path;
  Bus bus;
  GDBusConnection *client;
} Instance;

static char *tmp_dir;

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
wait_for_file (const char *path, GSubprocess *process, const char *what)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (process != NULL && g_subprocess_get_identifier (process) == NULL)
        g_error ("%s exited before creating %s", what, path);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20000);
    }
}

static void
bus_start (Bus *bus, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *socket_path = g_build_filename (tmp_dir, name, NULL);
  g_autofree char *address_arg = NULL;

  bus->address = g_strdup_printf ("unix:path=%s", socket_path);
  address_arg = g_strdup_printf ("--address=%s", bus->address);
  g_autoptr (GSubprocessLauncher) launcher = new_launcher (G_SUBPROCESS_FLAGS_NONE);

  bus->daemon = g_subprocess_launcher_spawn (launcher, &error, "dbus-daemon", "--session",
                                             "--nofork", "--nosyslog", address_arg, NULL);
  g_assert_no_error (error);
  wait_for_file (socket_path, bus->daemon, "dbus-daemon");
}

static void
bus_stop (Bus *bus)
{
  if (bus->daemon != NULL)
    {
      g_subprocess_send_signal (bus->daemon, SIGTERM);
      g_subprocess_wait (bus->daemon, NULL, NULL);
    }
  g_clear_object (&bus->daemon);
  g_clear_pointer (&bus->address, g_free);
}

static void
dump_log (Instance *instance)
{
  g_autofree char *text = NULL;

  if (instance->log_path != NULL && g_file_get_contents (instance->log_path, &text, NULL, NULL))
    g_test_message ("---- %s ----\n%s", instance->log_path, text);
}

static Instance instances[2];

static void
dump_logs_on_failure (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (instances); i++)
    dump_log (&instances[i]);
}

static void
instance_start (Instance *instance,
                guint index,
                const char *nats_url,
                const char *database_url,
                const char *ws_url,
                const char *rest_url)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher = new_launcher (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autofree char *bus_name = g_strdup_printf ("bus%u", index);
  g_autofree char *state_dir = g_strdup_printf ("%s/state%u", tmp_dir, index);
  g_autofree char *shard = g_strdup_printf ("%u", index);
  gint64 deadline;

  bus_start (&instance->bus, bus_name);
  g_assert_cmpint (g_mkdir_with_parents (state_dir, 0700), ==, 0);
  instance->log_path = g_strdup_printf ("%s/spot-canvas-%u.log", tmp_dir, index);
  g_subprocess_launcher_set_stdout_file_path (launcher, instance->log_path);
  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS", instance->bus.address, TRUE);
  g_subprocess_launcher_setenv (launcher, "DBUS_BUS", "session", TRUE);
  g_subprocess_launcher_setenv (launcher, "NATS_URL", nats_url, TRUE);
  g_subprocess_launcher_setenv (launcher, "DATABASE_URL", database_url, TRUE);
  g_subprocess_launcher_setenv (launcher, "STATE_DIRECTORY", state_dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "HTTP_ADDR", "127.0.0.1:0", TRUE);
  g_subprocess_launcher_setenv (launcher, "PRODUCTS", "BTC-USD,ETH-USD", TRUE);
  g_subprocess_launcher_setenv (launcher, "SHARD_INDEX", shard, TRUE);
  g_subprocess_launcher_setenv (launcher, "SHARD_COUNT", "2", TRUE);
  g_subprocess_launcher_setenv (launcher, "SHARD_WORKERS", "2", TRUE);
  g_subprocess_launcher_setenv (launcher, "COINBASE_WS_URL", ws_url, TRUE);
  g_subprocess_launcher_setenv (launcher, "COINBASE_REST_URL", rest_url, TRUE);
  g_subprocess_launcher_setenv (launcher, "LOG_LEVEL", "info", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "G_DEBUG");
  instance->process
      = g_subprocess_launcher_spawn (launcher, &error, spot_canvas_binary, "run", NULL);
  g_assert_no_error (error);

  instance->client = g_dbus_connection_new_for_address_sync (
      instance->bus.address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
          | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);
  g_assert_no_error (error);

  /* Ready for control once it owns the name. */
  deadline = g_get_monotonic_time () + READY_TIMEOUT_S * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
          instance->client, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
          "NameHasOwner", g_variant_new ("(s)", SPOT_DBUS_NAME), G_VARIANT_TYPE ("(b)"),
          G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
      gboolean owned = FALSE;

      g_assert_no_error (error);
      g_variant_get (reply, "(b)", &owned);
      if (owned)
        break;
      if (g_subprocess_get_identifier (instance->process) == NULL
          || g_get_monotonic_time () > deadline)
        {
          dump_log (instance);
          g_error ("instance %u never owned %s", index, SPOT_DBUS_NAME);
        }
      g_usleep (100000);
    }
}

static void
instance_stop (Instance *instance)
{
  if (instance->process != NULL)
    {
      g_subprocess_send_signal (instance->process, SIGTERM);
      g_subprocess_wait (instance->process, NULL, NULL);
      g_test_message ("instance exited with %d", g_subprocess_get_exit_status (instance->process));
      /* SIGTERM is an orderly stop. */
      if (!g_subprocess_get_if_exited (instance->process)
          || g_subprocess_get_exit_status (instance->process) != 0)
        {
          dump_log (instance);
          g_error ("spot-canvas did not stop cleanly on SIGTERM");
        }
    }
  g_clear_object (&instance->process);
  if (instance->client != NULL)
    g_dbus_connection_close_sync (instance->client, NULL, NULL);
  g_clear_object (&instance->client);
  bus_stop (&instance->bus);
  g_clear_pointer (&instance->log_path, g_free);
}

static GVariant *
call (
    Instance *instance, const char *method, GVariant *args, const char *reply_type, GError **error)
{
  return g_dbus_connection_call_sync (instance->client, SPOT_DBUS_NAME, SPOT_DBUS_OBJECT_PATH,
                                      SPOT_DBUS_INTERFACE, method, args,
                                      reply_type != NULL ? G_VARIANT_TYPE (reply_type) : NULL,
                                      G_DBUS_CALL_FLAGS_NONE, 30000, NULL, error);
}

static char *
list_products (Instance *instance)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = call (instance, "ListProducts", NULL, "(as)", &error);
  g_autofree const char **ids = NULL;

  g_assert_no_error (error);
  g_variant_get (reply, "(^a&s)", &ids);
  return g_strjoinv (",", (char **)ids);
}

/* Polls ListProducts until it equals @expected (comma-joined, sorted). */
static void
wait_for_products (Instance *instance, const char *expected)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *actual = list_products (instance);

      if (g_strcmp0 (actual, expected) == 0)
        return;
      if (g_get_monotonic_time () > deadline)
        {
          dump_logs_on_failure ();
          g_error ("ListProducts gives %s, expected %s", actual, expected);
        }
      g_usleep (100000);
    }
}

static int
busctl (Instance *instance, const char *const *args, char **out, char **err)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *address = g_strdup_printf ("--address=%s", instance->bus.address);
  int status = 0;

  g_ptr_array_add (argv, "busctl");
  g_ptr_array_add (argv, "--no-pager");
  g_ptr_array_add (argv, address);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer)args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               out, err, &status, &error));
  g_assert_no_error (error);
  g_test_message ("busctl %s -> %d: %s%s", args[4], status, *out, *err);
  return g_spawn_check_wait_status (status, NULL) ? 0 : 1;
}

static char *
stored_active_products (const char *conninfo)
{
  PGconn *conn = PQconnectdb (conninfo);
  PGresult *result;
  GString *ids = g_string_new (NULL);

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  result = PQexec (conn, "SELECT product_id FROM products WHERE active ORDER BY product_id");
  g_assert_cmpint (PQresultStatus (result), ==, PGRES_TUPLES_OK);
  for (int i = 0; i < PQntuples (result); i++)
    g_string_append_printf (ids, "%s%s", i > 0 ? "," : "", PQgetvalue (result, i, 0));
  PQclear (result);
  PQfinish (conn);
  return g_string_free (ids, FALSE);
}

static char *
wait_for_candle (Instance *instance, const char *product)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) reply
          = call (instance, "GetCandle", g_variant_new ("(ss)", product, "1m"), "(s)", &error);
      char *json = NULL;

      if (reply != NULL)
        {
          g_variant_get (reply, "(s)", &json);
          return json;
        }
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND);
      if (g_get_monotonic_time () > deadline)
        {
          dump_logs_on_failure ();
          g_error ("no live candle for %s: %s", product, error->message);
        }
      g_usleep (200000);
    }
}

static GVariant *
get_property (Instance *instance, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      instance->client, SPOT_DBUS_NAME, SPOT_DBUS_OBJECT_PATH, "org.freedesktop.DBus.Properties",
      "Get", g_variant_new ("(ss)", SPOT_DBUS_INTERFACE, name), G_VARIANT_TYPE ("(v)"),
      G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
  GVariant *value = NULL;

  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  return value;
}

/* Each instance owns its share of the active set: the counts of the two add
 * up to the whole, as FNV-1a-32(id) % 2 says. Properties follow at 1 Hz. */
static void
wait_for_shares (const char *const *active)
{
  guint expected[2] = { 0, 0 };
  gint64 deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;

  for (guint i = 0; active[i] != NULL; i++)
    expected[spot_product_id_hash (active[i]) % 2]++;
  for (;;)
    {
      gboolean settled = TRUE;

      for (guint i = 0; i < 2; i++)
        {
          g_autoptr (GVariant) owned = get_property (&instances[i], "OwnedProductCount");
          g_autoptr (GVariant) all = get_property (&instances[i], "ProductCount");

          settled = settled && g_variant_get_uint32 (owned) == expected[i]
                    && g_variant_get_uint32 (all) == g_strv_length ((char **)active);
        }
      if (settled)
        return;
      if (g_get_monotonic_time () > deadline)
        {
          dump_logs_on_failure ();
          g_error ("OwnedProductCount never became %u and %u", expected[0], expected[1]);
        }
      g_usleep (200000);
    }
}

/* Control messages reach an instance only once it is running (it drops
 * them while starting), so changes wait for State "running" on both. */
static void
wait_for_running (Instance *instance)
{
  gint64 deadline = g_get_monotonic_time () + READY_TIMEOUT_S * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr (GVariant) state = get_property (instance, "State");

      if (g_strcmp0 (g_variant_get_string (state, NULL), "running") == 0)
        return;
      if (g_get_monotonic_time () > deadline)
        {
          dump_logs_on_failure ();
          g_error ("State stays %s", g_variant_get_string (state, NULL));
        }
      g_usleep (100000);
    }
}

#define TARGET SPOT_DBUS_NAME, SPOT_DBUS_OBJECT_PATH, SPOT_DBUS_INTERFACE

static void
test_products_added_on_one_shard_reach_the_other_and_the_database (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestNats) nats = NULL;
  g_autoptr (SpotTestPostgres) pg = NULL;
  g_autoptr (GSubprocessLauncher) sim_launcher = NULL;
  g_autoptr (GSubprocess) sim = NULL;
  g_autofree char *ports_file = NULL;
  g_autofree char *ports = NULL;
  g_autofree char *ws_url = NULL;
  g_autofree char *rest_url = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *stored = NULL;
  g_auto (GStrv) lines = NULL;

  spot_test_require_program ("nats-server");
  spot_test_require_program ("dbus-daemon");
  spot_test_require_program ("busctl");

  tmp_dir = g_dir_make_tmp ("spot-dbus-e2e-XXXXXX", &error);
  g_assert_no_error (error);
  nats = spot_test_nats_start (&error);
  g_assert_no_error (error);
  pg = spot_test_postgres_start (&error);
  g_assert_no_error (error);

  ports_file = g_build_filename (tmp_dir, "sim-ports", NULL);
  sim_launcher = new_launcher (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  sim = g_subprocess_launcher_spawn (sim_launcher, &error, exchange_sim_binary, "--port", "0",
                                     "--ports-file", ports_file, "--product-ids",
                                     "BTC-USD,ETH-USD,SOL-USD,ADA-USD", "--trades-per-second", "20",
                                     "--history-minutes", "5", "--exit-with-parent", NULL);
  g_assert_no_error (error);
  wait_for_file (ports_file, sim, "spot-exchange-sim");
  g_assert_true (g_file_get_contents (ports_file, &ports, NULL, &error));
  lines = g_strsplit (ports, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "ws="))
      ws_url = g_strdup (lines[i] + 3);
    else if (g_str_has_prefix (lines[i], "rest="))
      rest_url = g_strdup (lines[i] + 5);
  g_assert_nonnull (ws_url);
  g_assert_nonnull (rest_url);

  instance_start (&instances[0], 0, spot_test_nats_url (nats), spot_test_postgres_conninfo (pg),
                  ws_url, rest_url);
  instance_start (&instances[1], 1, spot_test_nats_url (nats), spot_test_postgres_conninfo (pg),
                  ws_url, rest_url);
  wait_for_products (&instances[0], "BTC-USD,ETH-USD");
  wait_for_products (&instances[1], "BTC-USD,ETH-USD");
  wait_for_running (&instances[0]);
  wait_for_running (&instances[1]);

  /* Add on shard 0 with busctl: stored, and shard 1 hears of it. */
  {
    const char *args[] = { "call", TARGET, "AddProducts", "as", "2", "SOL-USD", "BTC-USD", NULL };
    g_assert_cmpint (busctl (&instances[0], args, &out, &err), ==, 0);
    g_assert_cmpstr (out, ==, "as 1 \"SOL-USD\"\n");
  }
  wait_for_products (&instances[0], "BTC-USD,ETH-USD,SOL-USD");
  wait_for_products (&instances[1], "BTC-USD,ETH-USD,SOL-USD");
  stored = stored_active_products (spot_test_postgres_conninfo (pg));
  g_assert_cmpstr (stored, ==, "BTC-USD,ETH-USD,SOL-USD");
  g_clear_pointer (&stored, g_free);

  /* Remove on shard 1: shard 0 hears of it, the database forgets it. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *args[] = { "call", TARGET, "RemoveProducts", "as", "1", "ETH-USD", NULL };
    g_assert_cmpint (busctl (&instances[1], args, &out, &err), ==, 0);
    g_assert_cmpstr (out, ==, "as 1 \"ETH-USD\"\n");
  }
  wait_for_products (&instances[1], "BTC-USD,SOL-USD");
  wait_for_products (&instances[0], "BTC-USD,SOL-USD");
  stored = stored_active_products (spot_test_postgres_conninfo (pg));
  g_assert_cmpstr (stored, ==, "BTC-USD,SOL-USD");
  wait_for_shares ((const char *const[]){ "BTC-USD", "SOL-USD", NULL });
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (GVariant) version = get_property (&instances[i], "Version");
      g_autoptr (GVariant) shard = get_property (&instances[i], "ShardIndex");

      g_assert_cmpstr (g_variant_get_string (version, NULL), ==, PACKAGE_VERSION);
      g_assert_cmpuint (g_variant_get_uint32 (shard), ==, i);
    }

  /* Live candles on both instances, whichever shard builds them. */
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *json = wait_for_candle (&instances[i], "BTC-USD");
      g_assert_true (
          g_str_has_prefix (json, "{\"product_id\":\"BTC-USD\",\"granularity\":\"ONE_MINUTE\","));
    }

  /* Errors from the real service. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *args[] = { "call", TARGET, "AddProducts", "as", "1", "btc-usd", NULL };
    g_assert_cmpint (busctl (&instances[0], args, &out, &err), !=, 0);
    g_assert_nonnull (strstr (err, "btc-usd"));
  }
  {
    g_autoptr (GVariant) reply
        = call (&instances[1], "RemoveProducts",
                g_variant_new ("(^as)", (const char *const[]){ "NOPE-USD", NULL }), "(as)", &error);
    g_assert_null (reply);
    g_assert_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }
  {
    g_autoptr (GVariant) reply
        = call (&instances[0], "GetCandle", g_variant_new ("(ss)", "BTC-USD", "7m"), "(s)", &error);
    g_assert_null (reply);
    g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
  }

  if (g_test_failed ())
    dump_logs_on_failure ();
  for (guint i = 0; i < G_N_ELEMENTS (instances); i++)
    instance_stop (&instances[i]);
  g_subprocess_send_signal (sim, SIGTERM);
  g_subprocess_wait (sim, NULL, NULL);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  if (argc < 3)
    {
      g_printerr ("usage: %s SPOT_CANVAS EXCHANGE_SIM\n", argv[0]);
      return 1;
    }
  spot_canvas_binary = argv[1];
  exchange_sim_binary = argv[2];
  spot_dbus_error_register ();
  g_test_add_func ("/dbus/e2e/products-added-on-one-shard-reach-the-other-and-the-database",
                   test_products_added_on_one_shard_reach_the_other_and_the_database);
  status = g_test_run ();
  if (tmp_dir != NULL)
    {
      const char *rm[] = { "rm", "-rf", tmp_dir, NULL };

      /* Logs, sockets and the instances' state directories. */
      if (!g_spawn_sync (NULL, (char **)rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                         NULL))
        g_printerr ("cannot remove %s\n", tmp_dir);
      g_free (tmp_dir);
    }
  return status;
}
