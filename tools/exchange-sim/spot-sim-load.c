/* spot-sim-load.c: spot-exchange-sim-load, a load client for the simulator.
 *
 * Opens --connections WebSockets, subscribes each to market_trades for its
 * share of the products, and counts what arrives (trades by their
 * "trade_id" keys, without a JSON parse, so the figure is the simulator's
 * emit rate rather than this client's parser). Prints trades/s, messages/s,
 * MB/s and sequence gaps over the measured window.
 *
 * Runs on one main loop; the product list is fetched before the loop starts.
 */
#define G_LOG_DOMAIN "spot-exchange-sim"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

typedef struct
{
  SoupWebsocketConnection *ws;
  gint64 last_seq;
  guint index;
} LoadConn;

typedef struct
{
  guint64 trades;
  guint64 messages;
  guint64 bytes;
  guint64 gaps;
  guint64 closed;
  guint open;
  gboolean failed;
} Counters;

static Counters counters;
static char **product_ids;
static guint n_products;
static gint per_conn = 20;

static guint64
count_trades (const char *text, gsize len)
{
  static const char key[] = "\"trade_id\"";
  guint64 n = 0;
  const char *p = text, *end = text + len;
  while (p < end && (p = memmem (p, (gsize)(end - p), key, sizeof key - 1)) != NULL)
    {
      n++;
      p += sizeof key - 1;
    }
  return n;
}

static void
message_cb (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
  LoadConn *c = data;
  gsize len = 0;
  const char *text = g_bytes_get_data (message, &len);
  counters.messages++;
  counters.bytes += len;
  counters.trades += count_trades (text, len);
  const char *s = memmem (text, MIN (len, 256), "\"sequence_num\":", 15);
  if (s != NULL)
    {
      gint64 seq = g_ascii_strtoll (s + 15, NULL, 10);
      if (c->last_seq >= 0 && seq != c->last_seq + 1)
        counters.gaps++;
      c->last_seq = seq;
    }
}

static void
closed_cb (SoupWebsocketConnection *ws, gpointer data)
{
  counters.closed++;
}

static void
connected_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  LoadConn *c = data;
  g_autoptr (GError) error = NULL;
  c->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), res, &error);
  if (c->ws == NULL)
    {
      g_printerr ("connection %u: %s\n", c->index, error->message);
      counters.failed = TRUE;
      return;
    }
  soup_websocket_connection_set_max_incoming_payload_size (c->ws, 256 * 1024 * 1024);
  g_signal_connect (c->ws, "message", G_CALLBACK (message_cb), c);
  g_signal_connect (c->ws, "closed", G_CALLBACK (closed_cb), c);
  GString *req
      = g_string_new ("{\"type\":\"subscribe\",\"channel\":\"market_trades\",\"product_ids\":[");
  for (gint k = 0; k < per_conn; k++)
    g_string_append_printf (
        req, "%s\"%s\"", k == 0 ? "" : ",",
        product_ids[((guint)c->index * (guint)per_conn + (guint)k) % n_products]);
  g_string_append (req, "]}");
  soup_websocket_connection_send_text (c->ws, req->str);
  g_string_free (req, TRUE);
  counters.open++;
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autofree char *url = NULL;
  gint connections = 25;
  gint seconds = 10;
  gint warmup = 3;
  GOptionEntry entries[] = {
    { "url", 'u', 0, G_OPTION_ARG_STRING, &url, "Simulator base URL, e.g. http://127.0.0.1:PORT",
      "URL" },
    { "connections", 'c', 0, G_OPTION_ARG_INT, &connections, "WebSocket connections (default 25)",
      "N" },
    { "products-per-connection", 'p', 0, G_OPTION_ARG_INT, &per_conn,
      "Products per connection (default 20)", "N" },
    { "seconds", 's', 0, G_OPTION_ARG_INT, &seconds, "Measured seconds (default 10)", "S" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &warmup,
      "Seconds before measuring (default 3; skips snapshots)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- load client for spot-exchange-sim");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || url == NULL || connections < 1
      || per_conn < 1 || seconds < 1 || warmup < 0)
    {
      g_printerr ("spot-exchange-sim-load: %s\n",
                  error != NULL ? error->message : "--url is required (see --help)");
      return 2;
    }

  g_autoptr (SoupSession) session = soup_session_new_with_options (
      "max-conns", connections + 10, "max-conns-per-host", connections + 10, NULL);
  g_autofree char *products_url = g_strconcat (url, "/api/v3/brokerage/market/products", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", products_url);
  if (msg == NULL)
    {
      g_printerr ("spot-exchange-sim-load: --url %s is not a URL\n", url);
      return 2;
    }
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL, &error);
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (body == NULL
      || !json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                      (gssize)g_bytes_get_size (body), &error))
    {
      g_printerr ("spot-exchange-sim-load: products from %s: %s\n", products_url, error->message);
      return 1;
    }
  JsonArray *arr = json_object_get_array_member (
      json_node_get_object (json_parser_get_root (parser)), "products");
  n_products = json_array_get_length (arr);
  product_ids = g_new0 (char *, n_products + 1);
  for (guint i = 0; i < n_products; i++)
    product_ids[i] = g_strdup (
        json_object_get_string_member (json_array_get_object_element (arr, i), "product_id"));

  g_autofree char *ws_url = g_strdup (url);
  memcpy (ws_url, "ws", 2); /* http -> ws, https -> wss */
  if (g_str_has_prefix (url, "http://"))
    {
      g_free (ws_url);
      ws_url = g_strconcat ("ws://", url + strlen ("http://"), "/", NULL);
    }
  g_autofree LoadConn *conns = g_new0 (LoadConn, (gsize)connections);
  for (gint i = 0; i < connections; i++)
    {
      conns[i].index = (guint)i;
      conns[i].last_seq = -1;
      g_autoptr (SoupMessage) wm = soup_message_new ("GET", ws_url);
      soup_session_websocket_connect_async (session, wm, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                            connected_cb, &conns[i]);
    }

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_timeout_add_seconds ((guint)warmup, quit_cb, loop);
  g_main_loop_run (loop);
  Counters start = counters;
  gint64 t0 = g_get_monotonic_time ();
  g_timeout_add_seconds ((guint)seconds, quit_cb, loop);
  g_main_loop_run (loop);
  double dt = (double)(g_get_monotonic_time () - t0) / 1e6;

  printf ("connections %u/%d, products/connection %d, window %.2f s\n", counters.open, connections,
          per_conn, dt);
  printf ("trades/s %.0f  messages/s %.0f  MB/s %.2f  sequence gaps %" G_GUINT64_FORMAT
          "  closed %" G_GUINT64_FORMAT "\n",
          (double)(counters.trades - start.trades) / dt,
          (double)(counters.messages - start.messages) / dt,
          (double)(counters.bytes - start.bytes) / dt / 1e6, counters.gaps, counters.closed);

  for (gint i = 0; i < connections; i++)
    if (conns[i].ws != NULL)
      {
        g_signal_handlers_disconnect_by_data (conns[i].ws, &conns[i]);
        g_object_unref (conns[i].ws);
      }
  g_strfreev (product_ids);
  return counters.failed ? 1 : 0;
}
