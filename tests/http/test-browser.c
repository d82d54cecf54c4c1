/* test-browser.c: the dashboard in headless Chromium (Debian's chromium),
 * driven over the Chrome DevTools protocol: the page loads the bundle from
 * the GResource, opens /stream with the beta.11 Datastar client, and a
 * <spot-candle> element changes live when a candle is published on a real
 * nats-server. A screenshot is kept in <build>/tests/artifacts/. */
#define G_LOG_DOMAIN "spot-test"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "http-test-util.h"
#include "http/spot-http-server.h"
#include "http/spot-static-assets.h"
#include "model/spot-candle-json.h"
#include "nats/spot-nats-connection.h"
#include "spot-test-harness.h"

typedef struct
{
  SoupWebsocketConnection *ws;
  guint next_id;
  guint want_id;
  JsonNode *reply; /* result of want_id */
} Cdp;

static void
on_ws_message (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer user_data)
{
  Cdp *cdp = user_data;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *obj;

  if (!json_parser_load_from_data (parser, g_bytes_get_data (message, NULL),
                                   g_bytes_get_size (message), NULL))
    return;
  obj = json_node_get_object (json_parser_get_root (parser));
  if (obj == NULL || !json_object_has_member (obj, "id")
      || (guint)json_object_get_int_member (obj, "id") != cdp->want_id)
    return;
  g_clear_pointer (&cdp->reply, json_node_unref);
  cdp->reply = json_node_copy (json_parser_get_root (parser));
}

static gboolean
have_reply (gpointer data)
{
  return ((Cdp *)data)->reply != NULL;
}

/* Sends a command and waits for its answer; returns the "result" object. */
static JsonObject *
cdp_call (Cdp *cdp, const char *method, const char *params_json)
{
  g_autofree char *text = NULL;
  JsonObject *obj;

  cdp->want_id = ++cdp->next_id;
  g_clear_pointer (&cdp->reply, json_node_unref);
  text = g_strdup_printf ("{\"id\":%u,\"method\":\"%s\",\"params\":%s}", cdp->want_id, method,
                          params_json != NULL ? params_json : "{}");
  soup_websocket_connection_send_text (cdp->ws, text);
  g_assert_true (http_test_wait_until (have_reply, cdp, 20000));
  obj = json_node_get_object (cdp->reply);
  if (json_object_has_member (obj, "error"))
    g_error ("CDP %s failed: %s", method,
             json_to_string (json_object_get_member (obj, "error"), FALSE));
  return json_object_get_object_member (obj, "result");
}

/* Evaluates @expression in the page; returns its string value (newly allocated). */
static char *
cdp_eval_string (Cdp *cdp, const char *expression)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) params = NULL;
  g_autofree char *params_json = NULL;
  JsonObject *result, *value;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "expression");
  json_builder_add_string_value (b, expression);
  json_builder_set_member_name (b, "returnByValue");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_end_object (b);
  params = json_builder_get_root (b);
  params_json = json_to_string (params, FALSE);
  result = cdp_call (cdp, "Runtime.evaluate", params_json);
  value = json_object_get_object_member (result, "result");
  if (!json_object_has_member (value, "value")
      || json_node_get_value_type (json_object_get_member (value, "value")) != G_TYPE_STRING)
    return g_strdup ("");
  return g_strdup (json_object_get_string_member (value, "value"));
}

typedef struct
{
  GAsyncResult *result;
} Waiter;

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ((Waiter *)user_data)->result = g_object_ref (result);
}

static gboolean
waiter_done (gpointer data)
{
  return ((Waiter *)data)->result != NULL;
}

static char *
find_chromium (void)
{
  const char *names[] = { "chromium", "chromium-browser", "google-chrome" };

  if (g_file_test ("/usr/bin/chromium", G_FILE_TEST_IS_EXECUTABLE))
    return g_strdup ("/usr/bin/chromium");
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      char *path = g_find_program_in_path (names[i]);

      if (path != NULL)
        return path;
    }
  return NULL;
}

typedef struct
{
  char *dir;
} PortFile;

static gboolean
devtools_port_known (gpointer data)
{
  g_autofree char *path = g_build_filename (((PortFile *)data)->dir, "DevToolsActivePort", NULL);
  g_autofree char *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL) && strchr (text, '\n') != NULL;
}

static gboolean
hub_has_client (gpointer data)
{
  SpotCandleHubStats stats;

  spot_candle_hub_get_stats (SPOT_CANDLE_HUB (data), &stats);
  return stats.clients >= 1;
}

typedef struct
{
  Cdp *cdp;
  const char *expression;
  const char *want;
  char *last;
} EvalWait;

static gboolean
eval_matches (gpointer data)
{
  EvalWait *w = data;

  g_free (w->last);
  w->last = cdp_eval_string (w->cdp, w->expression);
  return strstr (w->last, w->want) != NULL;
}

#define ELEMENT_EXPR                                                                               \
  "(() => { const e = document.getElementById('candle-BTC-USD-ONE_MINUTE');"                       \
  " if (!e) return 'missing'; const s = e.shadowRoot ? e.shadowRoot.textContent : 'no-shadow';"    \
  " return 'close=' + e.getAttribute('close') + ' shadow=' + s; })()"

static void
test_dashboard_shows_a_candle_changing_live (void)
{
  g_autofree char *chromium = find_chromium ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestNats) nats = NULL;
  g_autoptr (SpotNatsConnection) conn = NULL;
  g_autoptr (SpotCandleHub) hub = NULL;
  g_autoptr (SpotLiveCache) cache = NULL;
  g_autoptr (SpotHttpServer) server = NULL;
  g_autoptr (SoupSession) session = NULL;
  g_autoptr (SoupMessage) ws_msg = NULL;
  g_autofree char *profile = NULL;
  g_autofree char *page_url = NULL;
  g_autofree char *port_text = NULL;
  g_autofree char *port_path = NULL;
  g_autofree char *artifacts = NULL;
  g_autofree char *png_path = NULL;
  g_autofree char *ws_url = NULL;
  natsConnection *publisher = NULL;
  SpotNatsConfig config;
  SpotHttpOptions options;
  PortFile pf;
  GPid pid;
  Cdp cdp = { 0 };
  Waiter waiter = { 0 };
  EvalWait wait = { 0 };
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  SpotCandle first = http_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, now, 1, "70000.25");
  SpotCandle changed
      = http_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, now, 2, "70123.45");

  nats = spot_test_nats_start (&error);
  g_assert_no_error (error);
  spot_nats_config_init (&config);
  config.urls = g_strdup (spot_test_nats_url (nats));
  conn = spot_nats_connection_new (&config, &error);
  spot_nats_config_clear (&config);
  g_assert_no_error (error);
  g_assert_true (spot_nats_connection_start_sync (conn, 10000, &error));
  g_assert_cmpint (natsConnection_ConnectTo (&publisher, spot_test_nats_url (nats)), ==, NATS_OK);
  hub = spot_candle_hub_new (0);
  g_assert_true (spot_candle_hub_attach (hub, spot_nats_connection_get_nc (conn), &error));
  cache = spot_live_cache_new (NULL, NULL);
  spot_live_cache_update (cache, &first, 1);

  spot_http_options_init (&options);
  options.port = 0;
  server = spot_http_server_new (&options);
  spot_http_options_clear (&options);
  spot_http_server_set_hub (server, hub);
  spot_http_server_set_live_cache (server, cache);
  g_assert_true (spot_http_server_start (server, &error));
  g_assert_no_error (error);

  profile = g_dir_make_tmp ("spot-chromium-XXXXXX", &error);
  g_assert_no_error (error);
  page_url
      = g_strdup_printf ("http://127.0.0.1:%u/?products=BTC-USD,ETH-USD&granularities=ONE_MINUTE",
                         spot_http_server_get_port (server));
  {
    g_autofree char *user_data = g_strdup_printf ("--user-data-dir=%s", profile);
    const char *argv[] = { chromium,
                           "--headless",
                           "--no-sandbox",
                           "--disable-gpu",
                           "--disable-quic",
                           "--no-first-run",
                           "--disable-background-networking",
                           "--disable-component-update",
                           "--disable-sync",
                           "--disable-dev-shm-usage",
                           "--window-size=1280,720",
                           "--remote-debugging-port=0",
                           user_data,
                           page_url,
                           NULL };

    g_assert_true (g_spawn_async (NULL, (char **)argv, NULL,
                                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL
                                      | G_SPAWN_STDERR_TO_DEV_NULL,
                                  NULL, NULL, &pid, &error));
    g_assert_no_error (error);
  }
  pf.dir = profile;
  g_assert_true (http_test_wait_until (devtools_port_known, &pf, 30000));
  port_path = g_build_filename (profile, "DevToolsActivePort", NULL);
  g_assert_true (g_file_get_contents (port_path, &port_text, NULL, NULL));
  *strchr (port_text, '\n') = '\0';

  /* The page target's WebSocket. */
  {
    g_autofree char *list_url = g_strdup_printf ("http://127.0.0.1:%s/json/list", port_text);
    g_autoptr (HttpResult) list = http_test_request ("GET", list_url, NULL);
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonArray *targets;

    g_assert_cmpuint (list->status, ==, 200);
    g_assert_true (json_parser_load_from_data (parser, list->body, -1, NULL));
    targets = json_node_get_array (json_parser_get_root (parser));
    for (guint i = 0; i < json_array_get_length (targets); i++)
      {
        JsonObject *t = json_array_get_object_element (targets, i);

        if (g_str_equal (json_object_get_string_member (t, "type"), "page"))
          {
            ws_url = g_strdup (json_object_get_string_member (t, "webSocketDebuggerUrl"));
            break;
          }
      }
    g_assert_nonnull (ws_url);
  }
  session = soup_session_new ();
  ws_msg = soup_message_new ("GET", ws_url);
  soup_session_websocket_connect_async (session, ws_msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        on_connected, &waiter);
  g_assert_true (http_test_wait_until (waiter_done, &waiter, 20000));
  cdp.ws = soup_session_websocket_connect_finish (session, waiter.result, &error);
  g_clear_object (&waiter.result);
  g_assert_no_error (error);
  soup_websocket_connection_set_max_incoming_payload_size (cdp.ws, 64 * 1024 * 1024);
  g_signal_connect (cdp.ws, "message", G_CALLBACK (on_ws_message), &cdp);

  /* The server-rendered value, rendered by the custom element. */
  wait.cdp = &cdp;
  wait.expression = ELEMENT_EXPR;
  wait.want = "shadow=BTC-USD";
  if (!http_test_wait_until (eval_matches, &wait, 20000))
    g_error ("element never rendered: %s", wait.last);
  g_assert_nonnull (strstr (wait.last, "close=70000.25"));
  g_assert_nonnull (strstr (wait.last, "70000.25"));

  /* The Datastar client opened the stream; now a candle on NATS. */
  g_assert_true (http_test_wait_until (hub_has_client, hub, 20000));
  {
    g_autofree char *json = spot_candle_to_json (&changed);

    g_assert_cmpint (natsConnection_PublishString (publisher, "candles.BTC-USD.ONE_MINUTE", json),
                     ==, NATS_OK);
    g_assert_cmpint (natsConnection_Flush (publisher), ==, NATS_OK);
  }
  wait.want = "close=70123.45";
  if (!http_test_wait_until (eval_matches, &wait, 20000))
    g_error ("element never changed: %s", wait.last);
  /* ...and the custom element re-rendered it. */
  g_assert_nonnull (strstr (strstr (wait.last, "shadow="), "70123.45"));

  {
    JsonObject *shot = cdp_call (&cdp, "Page.captureScreenshot", "{\"format\":\"png\"}");
    gsize len = 0;
    g_autofree guchar *png = g_base64_decode (json_object_get_string_member (shot, "data"), &len);
    const char *build_root = g_getenv ("SPOT_BUILD_ROOT");

    artifacts
        = g_build_filename (build_root != NULL ? build_root : ".", "tests", "artifacts", NULL);
    g_assert_cmpint (g_mkdir_with_parents (artifacts, 0755), ==, 0);
    png_path = g_build_filename (artifacts, "dashboard.png", NULL);
    g_assert_cmpuint (len, >, 1000);
    g_assert_true (g_file_set_contents (png_path, (const char *)png, len, &error));
    g_test_message ("screenshot: %s (%" G_GSIZE_FORMAT " bytes)", png_path, len);
  }

  soup_websocket_connection_close (cdp.ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_clear_object (&cdp.ws);
  g_clear_pointer (&cdp.reply, json_node_unref);
  g_free (wait.last);
  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
  g_spawn_close_pid (pid);
  spot_test_remove_tree (profile);
  natsConnection_Destroy (publisher);
  g_clear_object (&server);
  http_test_spin (20);
  spot_candle_hub_detach (hub);
  spot_nats_connection_close (conn, 2000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  spot_test_require_program ("nats-server");
  {
    g_autofree char *chromium = find_chromium ();
    g_autoptr (SpotStaticAssets) assets = spot_static_assets_new ();

    if (chromium == NULL)
      {
        g_print ("1..0 # SKIP chromium is not installed\n");
        return 77;
      }
    if (spot_static_assets_lookup (assets, "static/app.js") == NULL)
      {
        g_print ("1..0 # SKIP web bundle not built (run tools/quickstart setup)\n");
        return 77;
      }
  }
  g_test_add_func ("/browser/dashboard-shows-a-candle-changing-live",
                   test_dashboard_shows_a_candle_changing_live);
  return g_test_run ();
}
