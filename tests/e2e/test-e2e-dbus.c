/* test-e2e-dbus: product control over D-Bus on a private session bus.
 *
 * AddProducts persists the products as active in PostgreSQL, applies them
 * live (the simulator sees them subscribed, a candle appears through
 * GetCandle) and lists them; RemoveProducts undoes it; removing a product
 * that is not active fails with ...Error.NotFound and changes nothing.
 * Skipped when dbus-daemon is missing. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "e2e-util.h"
#include "spot-test-harness.h"

#define NAME "org.spotcanvas.SpotCanvas1"
#define PATH "/org/spotcanvas/SpotCanvas1"

static GVariant *
call (GDBusConnection *bus, const char *method, GVariant *args, GError **error)
{
  return g_dbus_connection_call_sync (bus, NAME, PATH, NAME, method, args, NULL,
                                      G_DBUS_CALL_FLAGS_NONE, 30000, NULL, error);
}

static gboolean
db_active (PGconn *db, const char *product)
{
  const char *params[] = { product };
  PGresult *res = PQexecParams (db, "SELECT active FROM products WHERE product_id = $1", 1, NULL,
                                params, NULL, NULL, 0);
  gboolean active = PQntuples (res) == 1 && PQgetvalue (res, 0, 0)[0] == 't';

  PQclear (res);
  return active;
}

typedef struct
{
  GDBusConnection *bus;
  const char *product;
} CandleWait;

static gboolean
candle_available (gpointer data)
{
  CandleWait *w = data;
  g_autoptr (GVariant) reply
      = call (w->bus, "GetCandle", g_variant_new ("(ss)", w->product, "ONE_MINUTE"), NULL);

  return reply != NULL;
}

static void
test_dbus_adds_and_removes_products (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *daemon = g_find_program_in_path ("dbus-daemon");
  g_autoptr (E2eStack) stack = NULL;
  g_autoptr (GSubprocess) bus_process = NULL;
  g_autoptr (GDataInputStream) bus_out = NULL;
  g_autoptr (GDBusConnection) bus = NULL;
  g_autofree char *address = NULL;
  g_autofree char *bus_env = NULL;
  g_autoptr (GVariant) reply = NULL;
  char **ids;
  g_autofree char *products_env = NULL;
  const char *sim_args[] = { "--products=4", "--trades-per-second=5", "--history-minutes=5", NULL };
  E2eService *service;
  PGconn *db;
  const char **listed = NULL;

  if (daemon == NULL)
    {
      g_test_skip ("dbus-daemon not installed (Debian package dbus)");
      return;
    }
  bus_process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, daemon, "--session",
                                  "--nofork", "--print-address", NULL);
  g_assert_no_error (error);
  bus_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (bus_process));
  address = g_data_input_stream_read_line_utf8 (bus_out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (address);
  bus = g_dbus_connection_new_for_address_sync (
      address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
          | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);
  g_assert_no_error (error);

  stack = e2e_stack_start (sim_args);
  ids = stack->products;
  products_env = g_strdup_printf ("PRODUCTS=%s,%s", ids[0], ids[1]);
  bus_env = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", address);
  {
    const char *env[] = { products_env,       "DBUS_BUS=session", bus_env, "CONNECT_RATE=8",
                          "SUBSCRIBE_RATE=8", "REST_RATE=20",     NULL };
    service = e2e_stack_service_start (stack, env, 90);
  }
  db = e2e_db_connect (spot_test_postgres_conninfo (stack->pg));

  /* Wait for the name (bus ownership is asynchronous). */
  for (int i = 0; i < 100 && reply == NULL; i++)
    {
      g_clear_error (&error);
      reply = call (bus, "ListProducts", NULL, &error);
      if (reply == NULL)
        g_usleep (100 * 1000);
    }
  g_assert_no_error (error);
  g_variant_get (reply, "(^a&s)", &listed);
  g_assert_cmpuint (g_strv_length ((char **)listed), ==, 2);
  g_free (listed);
  g_clear_pointer (&reply, g_variant_unref);

  /* Add: persisted, listed, live. */
  {
    const char *add[] = { ids[2], ids[0], NULL };
    const char **added = NULL;
    CandleWait w = { bus, ids[2] };
    reply = call (bus, "AddProducts", g_variant_new ("(^as)", add), &error);
    g_assert_no_error (error);
    g_variant_get (reply, "(^a&s)", &added);
    g_assert_cmpuint (g_strv_length ((char **)added), ==, 1); /* ids[0] was active already */
    g_assert_cmpstr (added[0], ==, ids[2]);
    g_free (added);
    g_clear_pointer (&reply, g_variant_unref);
    g_assert_true (db_active (db, ids[2]));
    g_assert_true (e2e_wait_until (candle_available, &w, 30000));
  }
  reply = call (bus, "ListProducts", NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(^a&s)", &listed);
  g_assert_cmpuint (g_strv_length ((char **)listed), ==, 3);
  g_free (listed);
  g_clear_pointer (&reply, g_variant_unref);

  /* Remove an unknown one: NotFound, nothing changes. */
  {
    const char *remove[] = { ids[1], ids[3], NULL };
    reply = call (bus, "RemoveProducts", g_variant_new ("(^as)", remove), &error);
    g_assert_null (reply);
    g_assert_nonnull (error);
    g_assert_nonnull (strstr (g_dbus_error_get_remote_error (error), "NotFound"));
    g_clear_error (&error);
    g_assert_true (db_active (db, ids[1]));
  }
  /* Remove: persisted as inactive, no longer listed. */
  {
    const char *remove[] = { ids[2], NULL };
    reply = call (bus, "RemoveProducts", g_variant_new ("(^as)", remove), &error);
    g_assert_no_error (error);
    g_clear_pointer (&reply, g_variant_unref);
    g_assert_false (db_active (db, ids[2]));
    reply = call (bus, "ListProducts", NULL, &error);
    g_variant_get (reply, "(^a&s)", &listed);
    g_assert_cmpuint (g_strv_length ((char **)listed), ==, 2);
    g_free (listed);
    g_clear_pointer (&reply, g_variant_unref);
  }

  PQfinish (db);
  e2e_finish (service, NULL);
  g_dbus_connection_close_sync (bus, NULL, NULL);
  g_subprocess_send_signal (bus_process, SIGTERM);
  g_subprocess_wait (bus_process, NULL, NULL);
}

int
main (int argc, char **argv)
{
  e2e_test_init (&argc, &argv);
  g_test_add_func ("/e2e/dbus-adds-and-removes-products", test_dbus_adds_and_removes_products);
  return g_test_run ();
}
