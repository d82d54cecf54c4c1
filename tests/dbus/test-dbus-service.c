/* test-dbus-service.c: org.spotcanvas.SpotCanvas1 on a private bus.
 *
 * GTestDBus starts a private dbus-daemon; the service owns its name there
 * with an in-memory controller, and real clients talk to it: the generated
 * GDBusProxy, busctl --user and gdbus call (pointed at the private bus by
 * DBUS_SESSION_BUS_ADDRESS, which GTestDBus sets).
 */
#define G_LOG_DOMAIN "spot-dbus-test"

#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "core/spot-error.h"
#include "dbus/spot-dbus-error.h"
#include "dbus/spot-dbus-service.h"
#include "model/spot-candle-json.h"

#include "dbus-test-log.h"
#include "spot-test-controller.h"

#define WAIT_TIMEOUT_US (10 * G_USEC_PER_SEC)

/* Spins the default context until @cond holds; fails after 10 s. */
#define WAIT_FOR(cond)                                                                             \
  G_STMT_START                                                                                     \
  {                                                                                                \
    gint64 wait_deadline_ = g_get_monotonic_time () + WAIT_TIMEOUT_US;                             \
    while (!(cond))                                                                                \
      {                                                                                            \
        g_assert_cmpint (g_get_monotonic_time (), <, wait_deadline_);                              \
        if (!g_main_context_iteration (NULL, FALSE))                                               \
          g_usleep (1000);                                                                         \
      }                                                                                            \
  }                                                                                                \
  G_STMT_END

static const char *const initial_products[] = { "ETH-USD", "BTC-USD", NULL };

typedef struct
{
  GTestDBus *bus;
  SpotTestController *controller;
  SpotDbusService *service;
  GDBusConnection *client;
  SpotDbusCanvas *proxy;
  /* ProductsChanged as received by the proxy */
  guint products_changed;
  char **last_added;
  char **last_removed;
} Fixture;

static void
spin_for_ms (guint ms)
{
  gint64 until = g_get_monotonic_time () + (gint64)ms * 1000;

  while (g_get_monotonic_time () < until)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **)user_data = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  WAIT_FOR (*slot != NULL);
  return *slot;
}

static void
on_products_changed (SpotDbusCanvas *proxy,
                     const char *const *added,
                     const char *const *removed,
                     gpointer user_data)
{
  Fixture *f = user_data;

  f->products_changed++;
  g_strfreev (f->last_added);
  g_strfreev (f->last_removed);
  f->last_added = g_strdupv ((char **)added);
  f->last_removed = g_strdupv ((char **)removed);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  SpotCandle candle;

  f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (f->bus);

  f->controller = spot_test_controller_new (initial_products);
  spot_test_candle_init (&candle, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800);
  spot_test_controller_put_candle (f->controller, &candle);

  f->service = spot_dbus_service_new (SPOT_CONTROLLER (f->controller), 1, 4);
  spot_dbus_service_set_update_interval (f->service, 50);
  spot_dbus_service_start (f->service, G_BUS_TYPE_SESSION);
  WAIT_FOR (spot_dbus_service_get_bus_state (f->service) == SPOT_DBUS_BUS_STATE_OWNED);
  g_assert_cmpuint (
      dbus_test_log_take ("D-Bus: owning org.spotcanvas.SpotCanvas1 on the session bus"), ==, 1);

  f->client = g_dbus_connection_new_for_address_sync (
      g_test_dbus_get_bus_address (f->bus),
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
          | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);
  g_assert_no_error (error);
  /* Asynchronously: this thread serves the GetAll the proxy starts with. */
  spot_dbus_canvas_proxy_new (f->client, G_DBUS_PROXY_FLAGS_NONE, SPOT_DBUS_NAME,
                              SPOT_DBUS_OBJECT_PATH, NULL, store_result, &result);
  f->proxy = spot_dbus_canvas_proxy_new_finish (wait_result (&result), &error);
  g_assert_no_error (error);
  g_signal_connect (f->proxy, "products-changed", G_CALLBACK (on_products_changed), f);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->proxy);
  g_dbus_connection_close_sync (f->client, NULL, NULL);
  g_clear_object (&f->client);
  spot_dbus_service_stop (f->service);
  g_clear_object (&f->service);
  g_clear_object (&f->controller);
  /* Let the closes finish before the daemon goes. */
  spin_for_ms (20);
  g_test_dbus_down (f->bus);
  g_clear_object (&f->bus);
  g_clear_pointer (&f->last_added, g_strfreev);
  g_clear_pointer (&f->last_removed, g_strfreev);
  dbus_test_log_take ("*");
}

/* Errors as a client of this project sees them: the SPOT_ERROR code, the
 * remote name, and the message. */
static void
assert_remote_error (GError *error, gint code, const char *name, const char *message_glob)
{
  g_autofree char *remote = NULL;

  g_assert_nonnull (error);
  g_assert_true (g_dbus_error_is_remote_error (error));
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, name);
  g_assert_error (error, SPOT_ERROR, code);
  g_dbus_error_strip_remote_error (error);
  if (!g_pattern_match_simple (message_glob, error->message))
    g_error ("error message “%s” does not match “%s”", error->message, message_glob);
}

static char **
call_list (Fixture *f)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  char **products = NULL;

  spot_dbus_canvas_call_list_products (f->proxy, NULL, store_result, &result);
  g_assert_true (spot_dbus_canvas_call_list_products_finish (f->proxy, &products,
                                                             wait_result (&result), &error));
  g_assert_no_error (error);
  return products;
}

static char **
call_add (Fixture *f, const char *const *ids, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  char **added = NULL;

  spot_dbus_canvas_call_add_products (f->proxy, ids, NULL, store_result, &result);
  if (!spot_dbus_canvas_call_add_products_finish (f->proxy, &added, wait_result (&result), error))
    return NULL;
  return added;
}

static char **
call_remove (Fixture *f, const char *const *ids, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  char **removed = NULL;

  spot_dbus_canvas_call_remove_products (f->proxy, ids, NULL, store_result, &result);
  if (!spot_dbus_canvas_call_remove_products_finish (f->proxy, &removed, wait_result (&result),
                                                     error))
    return NULL;
  return removed;
}

static char *
call_get_candle (Fixture *f, const char *product, const char *granularity, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  char *json = NULL;

  spot_dbus_canvas_call_get_candle (f->proxy, product, granularity, NULL, store_result, &result);
  if (!spot_dbus_canvas_call_get_candle_finish (f->proxy, &json, wait_result (&result), error))
    return NULL;
  return json;
}

static void
assert_strv (char **actual, const char *const *expected)
{
  g_autofree char *a = g_strjoinv (",", actual);
  g_autofree char *e = g_strjoinv (",", (char **)expected);

  g_assert_cmpstr (a, ==, e);
}

static void
test_exposes_identity_and_initial_state (Fixture *f, gconstpointer data)
{
  g_assert_cmpstr (spot_dbus_canvas_get_version (f->proxy), ==, PACKAGE_VERSION);
  g_assert_cmpuint (spot_dbus_canvas_get_shard_index (f->proxy), ==, 1);
  g_assert_cmpuint (spot_dbus_canvas_get_shard_count (f->proxy), ==, 4);
  g_assert_cmpstr (spot_dbus_canvas_get_state (f->proxy), ==, "starting");
  g_assert_cmpuint (spot_dbus_canvas_get_product_count (f->proxy), ==, 2);
  g_assert_cmpstr (spot_dbus_canvas_get_nats_status (f->proxy), ==, "unknown");
}

static void
test_lists_products_sorted (Fixture *f, gconstpointer data)
{
  g_auto (GStrv) products = call_list (f);
  static const char *const expected[] = { "BTC-USD", "ETH-USD", NULL };

  assert_strv (products, expected);
}

static void
test_adds_products_and_signals_the_change (Fixture *f, gconstpointer data)
{
  static const char *const request[] = { "SOL-USD", "BTC-USD", "SOL-USD", "ADA-EUR", NULL };
  static const char *const expected_added[] = { "SOL-USD", "ADA-EUR", NULL };
  static const char *const expected_all[] = { "ADA-EUR", "BTC-USD", "ETH-USD", "SOL-USD", NULL };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) added = call_add (f, request, &error);
  g_auto (GStrv) products = NULL;

  g_assert_no_error (error);
  /* Already active ids and duplicates are not reported as added. */
  assert_strv (added, expected_added);
  WAIT_FOR (f->products_changed == 1);
  assert_strv (f->last_added, expected_added);
  g_assert_cmpuint (g_strv_length (f->last_removed), ==, 0);
  products = call_list (f);
  assert_strv (products, expected_all);
  WAIT_FOR (spot_dbus_canvas_get_product_count (f->proxy) == 4);
  g_assert_cmpuint (dbus_test_log_take ("D-Bus AddProducts SOL-USD,BTC-USD,ADA-EUR from :*"), ==,
                    1);
}

static void
test_rejects_invalid_product_ids_whole (Fixture *f, gconstpointer data)
{
  static const char *const bad[] = { "SOL-USD", "btc usd", NULL };
  static const char *const empty[] = { NULL };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) added = call_add (f, bad, &error);

  g_assert_null (added);
  assert_remote_error (error, SPOT_ERROR_INVALID_ARGUMENT,
                       "org.spotcanvas.SpotCanvas1.Error.InvalidArgument", "*btc usd*");
  /* Nothing of a rejected call is applied. */
  g_assert_false (spot_test_controller_has_product (f->controller, "SOL-USD"));
  g_clear_error (&error);

  added = call_add (f, empty, &error);
  g_assert_null (added);
  assert_remote_error (error, SPOT_ERROR_INVALID_ARGUMENT,
                       "org.spotcanvas.SpotCanvas1.Error.InvalidArgument",
                       "AddProducts needs at least one product id*");
  g_clear_error (&error);

  added = call_remove (f, empty, &error);
  g_assert_null (added);
  assert_remote_error (error, SPOT_ERROR_INVALID_ARGUMENT,
                       "org.spotcanvas.SpotCanvas1.Error.InvalidArgument",
                       "RemoveProducts needs at least one product id*");
  g_assert_cmpuint (f->products_changed, ==, 0);
}

static void
test_rejects_too_many_products (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) added = NULL;

  for (guint i = 0; i <= SPOT_DBUS_MAX_PRODUCTS_PER_CALL; i++)
    g_ptr_array_add (ids, g_strdup_printf ("C%u-USD", i));
  g_ptr_array_add (ids, NULL);
  added = call_add (f, (const char *const *)ids->pdata, &error);
  g_assert_null (added);
  assert_remote_error (error, SPOT_ERROR_INVALID_ARGUMENT,
                       "org.spotcanvas.SpotCanvas1.Error.InvalidArgument", "*at most 1000*1001*");
}

static void
test_removes_products_or_reports_unknown (Fixture *f, gconstpointer data)
{
  static const char *const unknown[] = { "BTC-USD", "DOGE-USD", NULL };
  static const char *const known[] = { "ETH-USD", NULL };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) removed = call_remove (f, unknown, &error);

  g_assert_null (removed);
  assert_remote_error (error, SPOT_ERROR_NOT_FOUND, "org.spotcanvas.SpotCanvas1.Error.NotFound",
                       "*DOGE-USD*not in the active set*");
  g_assert_true (spot_test_controller_has_product (f->controller, "BTC-USD"));

  removed = call_remove (f, known, NULL);
  assert_strv (removed, known);
  WAIT_FOR (f->products_changed == 1);
  assert_strv (f->last_removed, known);
  g_assert_false (spot_test_controller_has_product (f->controller, "ETH-USD"));
  WAIT_FOR (spot_dbus_canvas_get_product_count (f->proxy) == 1);
}

static void
test_controller_failure_reaches_the_caller (Fixture *f, gconstpointer data)
{
  static const char *const ids[] = { "XRP-USD", NULL };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) added = NULL;

  spot_test_controller_fail_next (f->controller, SPOT_ERROR_DATABASE,
                                  "cannot store products: connection refused");
  added = call_add (f, ids, &error);
  g_assert_null (added);
  assert_remote_error (error, SPOT_ERROR_DATABASE, "org.spotcanvas.SpotCanvas1.Error.Database",
                       "cannot store products: connection refused");
}

static void
test_get_candle_returns_the_json_form (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = call_get_candle (f, "BTC-USD", "1m", &error);
  SpotCandle expected;
  SpotCandle parsed;

  g_assert_no_error (error);
  g_assert_true (spot_candle_from_json (json, -1, &parsed, &error));
  g_assert_no_error (error);
  spot_test_candle_init (&expected, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800);
  g_assert_true (spot_candle_values_equal (&parsed, &expected));
  g_assert_cmpuint (parsed.rev, ==, 3);
  g_assert_cmpint (parsed.trades, ==, 12);
}

static void
test_get_candle_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = call_get_candle (f, "BTC-USD", "TEN_MINUTE", &error);

  g_assert_null (json);
  assert_remote_error (error, SPOT_ERROR_INVALID_ARGUMENT,
                       "org.spotcanvas.SpotCanvas1.Error.InvalidArgument", "*TEN_MINUTE*");
  g_clear_error (&error);

  json = call_get_candle (f, "BTC/USD", "ONE_MINUTE", &error);
  g_assert_null (json);
  assert_remote_error (error, SPOT_ERROR_INVALID_ARGUMENT,
                       "org.spotcanvas.SpotCanvas1.Error.InvalidArgument", "*BTC/USD*");
  g_clear_error (&error);

  json = call_get_candle (f, "ETH-USD", "ONE_HOUR", &error);
  g_assert_null (json);
  assert_remote_error (error, SPOT_ERROR_NOT_FOUND, "org.spotcanvas.SpotCanvas1.Error.NotFound",
                       "no live ONE_HOUR candle for ETH-USD");
}

static void
test_get_status_merges_controller_details (Fixture *f, gconstpointer data)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = NULL;
  g_autoptr (GVariantDict) dict = NULL;
  SpotDbusStatus pushed = { .state = "running", .trades_received = 42, .nats_status = "connected" };
  const char *text = NULL;
  guint64 trades = 0;
  guint32 count = 0;

  spot_dbus_service_update_status (f->service, &pushed);
  spot_dbus_canvas_call_get_status (f->proxy, NULL, store_result, &result);
  g_assert_true (
      spot_dbus_canvas_call_get_status_finish (f->proxy, &status, wait_result (&result), &error));
  g_assert_no_error (error);
  dict = g_variant_dict_new (status);
  g_assert_true (g_variant_dict_lookup (dict, "state", "&s", &text));
  g_assert_cmpstr (text, ==, "running");
  g_assert_true (g_variant_dict_lookup (dict, "trades_received", "t", &trades));
  g_assert_cmpuint (trades, ==, 42);
  g_assert_true (g_variant_dict_lookup (dict, "product_count", "u", &count));
  g_assert_cmpuint (count, ==, 2);
  g_assert_true (g_variant_dict_lookup (dict, "nats_status", "&s", &text));
  g_assert_cmpstr (text, ==, "connected");
  g_assert_true (g_variant_dict_lookup (dict, "database_status", "&s", &text));
  g_assert_cmpstr (text, ==, "unknown");
  g_assert_true (g_variant_dict_lookup (dict, "controller", "&s", &text));
  g_assert_cmpstr (text, ==, "test");
}

static void
test_reconnect_reaches_the_controller (Fixture *f, gconstpointer data)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  spot_dbus_canvas_call_reconnect (f->proxy, NULL, store_result, &result);
  g_assert_true (spot_dbus_canvas_call_reconnect_finish (f->proxy, wait_result (&result), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (spot_test_controller_reconnects (f->controller), ==, 1);
}

typedef struct
{
  guint count;
  gint64 times[64];
  guint64 last_trades;
} ChangedLog;

static void
on_properties_changed (GDBusConnection *connection,
                       const char *sender,
                       const char *path,
                       const char *interface,
                       const char *signal,
                       GVariant *parameters,
                       gpointer user_data)
{
  ChangedLog *log = user_data;
  g_autoptr (GVariant) changed = g_variant_get_child_value (parameters, 1);
  guint64 trades;

  if (log->count < G_N_ELEMENTS (log->times))
    log->times[log->count] = g_get_monotonic_time ();
  log->count++;
  if (g_variant_lookup (changed, "TradesReceived", "t", &trades))
    log->last_trades = trades;
}

static void
test_properties_changed_is_rate_bounded_and_keeps_the_latest (Fixture *f, gconstpointer data)
{
  ChangedLog log = { 0 };
  const guint interval_ms = 200;
  const guint pushes = 50;
  gint64 started;
  gint64 elapsed_ms;
  guint bound;
  guint subscription;

  spot_dbus_service_set_update_interval (f->service, interval_ms);
  subscription = g_dbus_connection_signal_subscribe (
      f->client, SPOT_DBUS_NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged",
      SPOT_DBUS_OBJECT_PATH, SPOT_DBUS_INTERFACE, G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed,
      &log, NULL);
  /* Let the subscription's AddMatch reach the bus before the burst. */
  spin_for_ms (interval_ms + 50);
  started = g_get_monotonic_time ();
  for (guint i = 1; i <= pushes; i++)
    {
      SpotDbusStatus status = { .state = "running", .trades_received = i, .connections_up = 2 };

      spot_dbus_service_update_status (f->service, &status);
      spin_for_ms (20);
    }
  elapsed_ms = (g_get_monotonic_time () - started) / 1000;
  spin_for_ms (2 * interval_ms + 100);

  /* One leading emission, then at most one per interval, plus the trailing
   * one carrying the last values. */
  bound = 2 + (guint)(elapsed_ms / interval_ms);
  g_test_message ("%u pushes in %" G_GINT64_FORMAT " ms gave %u PropertiesChanged (bound %u)",
                  pushes, elapsed_ms, log.count, bound);
  g_assert_cmpuint (log.count, >=, 2);
  g_assert_cmpuint (log.count, <=, bound);
  for (guint i = 1; i < MIN (log.count, G_N_ELEMENTS (log.times)); i++)
    g_assert_cmpint (log.times[i] - log.times[i - 1], >=, (gint64)interval_ms * 1000 / 2);
  g_assert_cmpuint (log.last_trades, ==, pushes);
  g_assert_cmpuint (spot_dbus_canvas_get_trades_received (f->proxy), ==, pushes);
  g_assert_cmpstr (spot_dbus_canvas_get_state (f->proxy), ==, "running");
  g_dbus_connection_signal_unsubscribe (f->client, subscription);
}

static void
test_second_instance_loses_the_name (Fixture *f, gconstpointer data)
{
  g_autoptr (SpotDbusService) second
      = spot_dbus_service_new (SPOT_CONTROLLER (f->controller), 0, 1);

  spot_dbus_service_start (second, G_BUS_TYPE_SESSION);
  WAIT_FOR (spot_dbus_service_get_bus_state (second) == SPOT_DBUS_BUS_STATE_NAME_LOST);
  g_assert_cmpuint (
      dbus_test_log_take ("*cannot own org.spotcanvas.SpotCanvas1*another process owns it*"), ==,
      1);
  /* The first keeps serving. */
  g_assert_cmpuint (spot_dbus_service_get_bus_state (f->service), ==, SPOT_DBUS_BUS_STATE_OWNED);
  g_assert_cmpuint (spot_dbus_canvas_get_shard_count (f->proxy), ==, 4);
  spot_dbus_service_stop (second);
}

/* ---- real command-line clients ---- */

static int
run_tool (const char *const *argv, char **out, char **err)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GAsyncResult) result = NULL;

  process = g_subprocess_newv (
      argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  /* Asynchronously: this process serves the calls the tool makes. */
  g_subprocess_communicate_utf8_async (process, NULL, NULL, store_result, &result);
  g_assert_true (
      g_subprocess_communicate_utf8_finish (process, wait_result (&result), out, err, &error));
  g_assert_no_error (error);
  g_test_message ("%s %s -> %d\nstdout: %s\nstderr: %s", argv[0], argv[1],
                  g_subprocess_get_exit_status (process), *out, *err);
  return g_subprocess_get_exit_status (process);
}

static gboolean
have_program (const char *name)
{
  g_autofree char *path = g_find_program_in_path (name);

  if (path == NULL)
    {
      g_test_skip_printf ("%s is not installed", name);
      return FALSE;
    }
  return TRUE;
}

#define BUSCTL "busctl", "--user", "--no-pager"
#define TARGET SPOT_DBUS_NAME, SPOT_DBUS_OBJECT_PATH, SPOT_DBUS_INTERFACE

static void
test_busctl_calls_and_errors (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (!have_program ("busctl"))
    return;

  {
    const char *argv[] = { BUSCTL, "call", TARGET, "ListProducts", NULL };
    g_assert_cmpint (run_tool (argv, &out, &err), ==, 0);
    g_assert_cmpstr (out, ==, "as 2 \"BTC-USD\" \"ETH-USD\"\n");
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *argv[]
        = { BUSCTL, "call", TARGET, "AddProducts", "as", "2", "ADA-USD", "BTC-USD", NULL };
    g_assert_cmpint (run_tool (argv, &out, &err), ==, 0);
    g_assert_cmpstr (out, ==, "as 1 \"ADA-USD\"\n");
    g_assert_true (spot_test_controller_has_product (f->controller, "ADA-USD"));
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *argv[] = { BUSCTL, "call", TARGET, "AddProducts", "as", "1", "ada_usd", NULL };
    g_assert_cmpint (run_tool (argv, &out, &err), !=, 0);
    g_assert_true (strstr (err, "ada_usd") != NULL);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *argv[] = { BUSCTL, "call", TARGET, "RemoveProducts", "as", "0", NULL };
    g_assert_cmpint (run_tool (argv, &out, &err), !=, 0);
    g_assert_true (strstr (err, "at least one product id") != NULL);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *argv[] = { BUSCTL, "get-property", TARGET, "ShardCount", NULL };
    g_assert_cmpint (run_tool (argv, &out, &err), ==, 0);
    g_assert_cmpstr (out, ==, "u 4\n");
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *argv[] = { BUSCTL, "call", TARGET, "Reconnect", NULL };
    g_assert_cmpint (run_tool (argv, &out, &err), ==, 0);
    g_assert_cmpuint (spot_test_controller_reconnects (f->controller), ==, 1);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *argv[] = { BUSCTL, "introspect", SPOT_DBUS_NAME, SPOT_DBUS_OBJECT_PATH, NULL };
    g_assert_cmpint (run_tool (argv, &out, &err), ==, 0);
    g_assert_true (strstr (out, ".GetCandle") != NULL);
    g_assert_true (strstr (out, ".ProductsChanged") != NULL);
  }
}

#define GDBUS_CALL                                                                                 \
  "gdbus", "call", "--session", "--dest", SPOT_DBUS_NAME, "--object-path", SPOT_DBUS_OBJECT_PATH,  \
      "--method"

static void
test_gdbus_calls_and_errors (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (!have_program ("gdbus"))
    return;

  {
    const char *argv[]
        = { GDBUS_CALL, SPOT_DBUS_INTERFACE ".GetCandle", "BTC-USD", "ONE_MINUTE", NULL };
    g_assert_cmpint (run_tool (argv, &out, &err), ==, 0);
    g_assert_true (
        g_str_has_prefix (out, "('{\"product_id\":\"BTC-USD\",\"granularity\":\"ONE_MINUTE\","));
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *argv[]
        = { GDBUS_CALL, SPOT_DBUS_INTERFACE ".GetCandle", "BTC-USD", "TEN_MINUTE", NULL };
    g_assert_cmpint (run_tool (argv, &out, &err), !=, 0);
    g_assert_true (strstr (err, "GDBus.Error:org.spotcanvas.SpotCanvas1.Error.InvalidArgument")
                   != NULL);
    g_assert_true (strstr (err, "TEN_MINUTE") != NULL);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *argv[]
        = { GDBUS_CALL, SPOT_DBUS_INTERFACE ".RemoveProducts", "['NOPE-USD']", NULL };
    g_assert_cmpint (run_tool (argv, &out, &err), !=, 0);
    g_assert_true (strstr (err, "GDBus.Error:org.spotcanvas.SpotCanvas1.Error.NotFound") != NULL);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *argv[] = { GDBUS_CALL, SPOT_DBUS_INTERFACE ".AddProducts", "@as []", NULL };
    g_assert_cmpint (run_tool (argv, &out, &err), !=, 0);
    g_assert_true (strstr (err, "Error.InvalidArgument") != NULL);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *argv[] = { GDBUS_CALL, SPOT_DBUS_INTERFACE ".GetStatus", NULL };
    g_assert_cmpint (run_tool (argv, &out, &err), ==, 0);
    g_assert_true (strstr (out, "'version': <'" PACKAGE_VERSION "'>") != NULL);
  }
}

/* ---- without a bus ---- */

static void
test_survives_the_bus_going_away (void)
{
  g_autoptr (GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_autoptr (SpotTestController) controller = spot_test_controller_new (initial_products);
  g_autoptr (SpotDbusService) service = NULL;
  SpotDbusStatus status = { .state = "running" };

  g_test_dbus_up (bus);
  service = spot_dbus_service_new (SPOT_CONTROLLER (controller), 0, 1);
  spot_dbus_service_start (service, G_BUS_TYPE_SESSION);
  WAIT_FOR (spot_dbus_service_get_bus_state (service) == SPOT_DBUS_BUS_STATE_OWNED);
  dbus_test_log_take ("*");

  g_test_dbus_stop (bus);
  WAIT_FOR (spot_dbus_service_get_bus_state (service) == SPOT_DBUS_BUS_STATE_NAME_LOST);
  g_assert_cmpuint (dbus_test_log_take ("D-Bus: the session bus connection is gone*"), ==, 1);
  /* The rest of the service carries on. */
  spot_dbus_service_update_status (service, &status);
  g_assert_cmpstr (spot_dbus_canvas_get_state (SPOT_DBUS_CANVAS (service)), ==, "running");
  spot_dbus_service_stop (service);
  g_clear_object (&service);
  g_test_dbus_down (bus);
}

static void
test_runs_without_a_bus (void)
{
  g_autoptr (SpotTestController) controller = NULL;
  g_autoptr (SpotDbusService) service = NULL;
  g_autofree char *runtime_dir = NULL;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      return;
    }

  /* No address and no $XDG_RUNTIME_DIR/bus: not even a connection attempt
   * (and never dbus-launch). */
  runtime_dir = g_dir_make_tmp ("spot-dbus-test-XXXXXX", NULL);
  g_assert_nonnull (runtime_dir);
  g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
  g_setenv ("XDG_RUNTIME_DIR", runtime_dir, TRUE);
  controller = spot_test_controller_new (NULL);
  service = spot_dbus_service_new (SPOT_CONTROLLER (controller), 0, 1);
  spot_dbus_service_start (service, G_BUS_TYPE_SESSION);
  g_assert_cmpuint (spot_dbus_service_get_bus_state (service), ==, SPOT_DBUS_BUS_STATE_UNAVAILABLE);
  g_assert_cmpuint (dbus_test_log_take ("D-Bus: no session bus (*)*running without D-Bus control"),
                    ==, 1);

  /* An address nobody listens on: the connection fails asynchronously. */
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/spot-canvas-bus", TRUE);
  spot_dbus_service_start (service, G_BUS_TYPE_SESSION);
  g_assert_cmpuint (spot_dbus_service_get_bus_state (service), ==, SPOT_DBUS_BUS_STATE_CONNECTING);
  WAIT_FOR (spot_dbus_service_get_bus_state (service) == SPOT_DBUS_BUS_STATE_UNAVAILABLE);
  g_assert_cmpuint (
      dbus_test_log_take ("D-Bus: the session bus is not reachable*running without D-Bus control"),
      ==, 1);

  /* Status updates still work without a bus. */
  {
    SpotDbusStatus status = { .state = "running" };
    spot_dbus_service_update_status (service, &status);
    g_assert_cmpstr (spot_dbus_canvas_get_state (SPOT_DBUS_CANVAS (service)), ==, "running");
  }
  spot_dbus_service_start (service, G_BUS_TYPE_NONE);
  g_assert_cmpuint (spot_dbus_service_get_bus_state (service), ==, SPOT_DBUS_BUS_STATE_STOPPED);
  g_rmdir (runtime_dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dbus_test_log_init ();

#define ADD(path, func)                                                                            \
  g_test_add ("/dbus/service/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("exposes-identity-and-initial-state", test_exposes_identity_and_initial_state);
  ADD ("lists-products-sorted", test_lists_products_sorted);
  ADD ("adds-products-and-signals-the-change", test_adds_products_and_signals_the_change);
  ADD ("rejects-invalid-product-ids-whole", test_rejects_invalid_product_ids_whole);
  ADD ("rejects-too-many-products", test_rejects_too_many_products);
  ADD ("removes-products-or-reports-unknown", test_removes_products_or_reports_unknown);
  ADD ("controller-failure-reaches-the-caller", test_controller_failure_reaches_the_caller);
  ADD ("get-candle-returns-the-json-form", test_get_candle_returns_the_json_form);
  ADD ("get-candle-errors", test_get_candle_errors);
  ADD ("get-status-merges-controller-details", test_get_status_merges_controller_details);
  ADD ("reconnect-reaches-the-controller", test_reconnect_reaches_the_controller);
  ADD ("properties-changed-is-rate-bounded-and-keeps-the-latest",
       test_properties_changed_is_rate_bounded_and_keeps_the_latest);
  ADD ("second-instance-loses-the-name", test_second_instance_loses_the_name);
  ADD ("busctl-calls-and-errors", test_busctl_calls_and_errors);
  ADD ("gdbus-calls-and-errors", test_gdbus_calls_and_errors);
#undef ADD
  g_test_add_func ("/dbus/service/runs-without-a-bus", test_runs_without_a_bus);
  g_test_add_func ("/dbus/service/survives-the-bus-going-away", test_survives_the_bus_going_away);
  return g_test_run ();
}
