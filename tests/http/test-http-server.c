/* test-http-server.c: every route and every bad input through a real HTTP
 * client; SSE flow control, limits, CORS, logging and graceful stop. The
 * candle hub and live cache are real, fed in process (the NATS-fed stream is
 * test-sse-nats.c). */
#define G_LOG_DOMAIN "spot-test"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http-test-util.h"
#include "http/spot-http-server.h"
#include "model/spot-time.h"

typedef struct
{
  SpotHttpServer *server;
  SpotLiveCache *cache;
  SpotCandleHub *hub;
  SpotMetrics *metrics;
  SpotHealth *health;
  guint16 port;
  gboolean db_healthy;
} Fixture;

/* Log records of the server, captured for the request-logging test. */
static GPtrArray *http_log_lines;

static GLogWriterOutput
capture_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *method = NULL, *path = NULL, *status = NULL, *bytes = NULL, *duration = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "SPOT_HTTP_METHOD"))
        method = fields[i].value;
      else if (g_str_equal (fields[i].key, "SPOT_HTTP_PATH"))
        path = fields[i].value;
      else if (g_str_equal (fields[i].key, "SPOT_HTTP_STATUS"))
        status = fields[i].value;
      else if (g_str_equal (fields[i].key, "SPOT_HTTP_BYTES"))
        bytes = fields[i].value;
      else if (g_str_equal (fields[i].key, "SPOT_HTTP_DURATION_MS"))
        duration = fields[i].value;
    }
  if (method != NULL && http_log_lines != NULL)
    g_ptr_array_add (http_log_lines,
                     g_strdup_printf ("%s %s %s %s %s", method, path, status, bytes, duration));
  if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static gboolean
database_check (JsonBuilder *b, gpointer user_data)
{
  Fixture *f = user_data;

  json_builder_set_member_name (b, "connected");
  json_builder_add_boolean_value (b, f->db_healthy);
  return f->db_healthy;
}

static void
fixture_setup_with (Fixture *f, void (*tweak) (SpotHttpOptions *))
{
  SpotHttpOptions options;
  g_autoptr (GError) error = NULL;
  const char *origins[] = { "https://allowed.example", NULL };

  memset (f, 0, sizeof *f);
  f->db_healthy = TRUE;
  spot_http_options_init (&options);
  g_free (options.host);
  options.host = g_strdup ("127.0.0.1");
  options.port = 0;
  g_strfreev (options.cors_origins);
  options.cors_origins = g_strdupv ((char **)origins);
  options.sse_max_products = 3;
  options.shutdown_timeout_ms = 2000;
  if (tweak != NULL)
    tweak (&options);
  f->cache = spot_live_cache_new (NULL, NULL);
  f->hub = spot_candle_hub_new (0);
  f->metrics = spot_metrics_new (NULL, FALSE);
  f->health = spot_health_new ();
  spot_health_add_check (f->health, "database", TRUE, database_check, f, NULL);
  f->server = spot_http_server_new (&options);
  spot_http_server_set_live_cache (f->server, f->cache);
  spot_http_server_set_hub (f->server, f->hub);
  spot_http_server_set_metrics (f->server, f->metrics);
  spot_http_server_set_health (f->server, f->health);
  g_assert_true (spot_http_server_start (f->server, &error));
  g_assert_no_error (error);
  f->port = spot_http_server_get_port (f->server);
  g_assert_cmpuint (f->port, >, 0);
  spot_http_options_clear (&options);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  fixture_setup_with (f, (void (*) (SpotHttpOptions *))data);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->server);
  http_test_spin (20);
  g_clear_object (&f->hub);
  g_clear_object (&f->cache);
  g_clear_pointer (&f->health, spot_health_unref);
  g_clear_pointer (&f->metrics, spot_metrics_free);
}

static const char *
header (HttpResult *r, const char *name)
{
  return soup_message_headers_get_one (r->headers, name);
}

/* ---- dashboard and static files --------------------------------------- */

static void
test_dashboard_renders_selection_with_cached_values (Fixture *f, gconstpointer data)
{
  SpotCandle c
      = http_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 4, "68900.50");
  g_autoptr (HttpResult) r = NULL;

  spot_live_cache_update (f->cache, &c, 1);
  r = http_test_get (f->port, "/?products=BTC-USD,ETH-USD&granularities=ONE_MINUTE");
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (header (r, "Content-Type"), ==, "text/html; charset=utf-8");
  g_assert_nonnull (strstr (r->body, "<div id=\"spot-candles\">"));
  g_assert_nonnull (strstr (r->body, "id=\"candle-BTC-USD-ONE_MINUTE\""));
  g_assert_nonnull (strstr (r->body, "close=\"68900.50\""));
  g_assert_nonnull (
      strstr (r->body, "<spot-candle id=\"candle-ETH-USD-ONE_MINUTE\" product=\"ETH-USD\" "
                       "granularity=\"ONE_MINUTE\"></spot-candle>"));
  /* Signals for the stream, escaped inside the attribute. */
  g_assert_nonnull (
      strstr (r->body, "data-signals=\"{&quot;products&quot;:&quot;BTC-USD,ETH-USD&quot;"));
  g_assert_nonnull (strstr (r->body, "@get('/stream?dialect=beta11')"));
  g_assert_nonnull (strstr (r->body, "/static/app.js?v="));
}

static void
test_dashboard_rejects_bad_selection (Fixture *f, gconstpointer data)
{
  g_autoptr (HttpResult) r = http_test_get (f->port, "/?products=%3Cscript%3E");

  g_assert_cmpuint (r->status, ==, 400);
  g_assert_true (g_str_has_prefix (r->body, "bad product id"));
  /* The reason may quote the input; it is plain text the browser must not sniff. */
  g_assert_cmpstr (header (r, "Content-Type"), ==, "text/plain; charset=utf-8");
  g_assert_cmpstr (header (r, "X-Content-Type-Options"), ==, "nosniff");
}

static void
test_static_assets_have_etag_and_cache_headers (Fixture *f, gconstpointer data)
{
  g_autoptr (HttpResult) js = http_test_get (f->port, "/static/app.js");
  g_autoptr (HttpResult) css = NULL;
  g_autoptr (HttpResult) versioned = NULL;
  g_autoptr (HttpResult) again = NULL;
  g_autofree char *url = NULL;
  const char *etag;

  if (js->status == 404)
    {
      g_test_skip ("web bundle not built (no data/web/node_modules)");
      return;
    }
  g_assert_cmpuint (js->status, ==, 200);
  g_assert_cmpstr (header (js, "Content-Type"), ==, "text/javascript; charset=utf-8");
  g_assert_cmpstr (header (js, "Cache-Control"), ==, "no-cache");
  g_assert_cmpuint (js->length, >, 10000);
  etag = header (js, "ETag");
  g_assert_nonnull (etag);
  g_assert_true (etag[0] == '"');

  css = http_test_get (f->port, "/static/app.css");
  g_assert_cmpuint (css->status, ==, 200);
  g_assert_nonnull (strstr (css->body, "spot-candle"));

  versioned = http_test_get (f->port, "/static/app.js?v=abc");
  g_assert_cmpstr (header (versioned, "Cache-Control"), ==, "public, max-age=31536000, immutable");

  url = g_strdup_printf ("http://127.0.0.1:%u/static/app.js", f->port);
  {
    const char *headers[] = { "If-None-Match", etag, NULL };

    again = http_test_request ("GET", url, headers);
  }
  g_assert_cmpuint (again->status, ==, 304);
  g_assert_cmpuint (again->length, ==, 0);
}

static void
test_static_unknown_and_traversal_are_404 (Fixture *f, gconstpointer data)
{
  const char *paths[] = { "/static/nope.js", "/static/../templates/index.html",
                          "/static/%2e%2e/templates/index.html", "/static/", "/nope" };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr (HttpResult) r = http_test_get (f->port, paths[i]);

      g_test_message ("%s -> %u", paths[i], r->status);
      g_assert_cmpuint (r->status, ==, 404);
    }
}

/* ---- /health and /metrics --------------------------------------------- */

static void
test_health_is_200_when_healthy_and_503_when_not (Fixture *f, gconstpointer data)
{
  g_autoptr (HttpResult) ok = http_test_get (f->port, "/health");
  g_autoptr (HttpResult) bad = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root;

  g_assert_cmpuint (ok->status, ==, 200);
  g_assert_cmpstr (header (ok, "Content-Type"), ==, "application/json");
  g_assert_true (json_parser_load_from_data (parser, ok->body, -1, NULL));
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "status"), ==, "ok");
  g_assert_true (json_object_has_member (root, "uptime_s"));
  g_assert_true (json_object_get_boolean_member (
      json_object_get_object_member (json_object_get_object_member (root, "components"),
                                     "database"),
      "healthy"));
  g_assert_cmpint (
      json_object_get_int_member (json_object_get_object_member (root, "sse"), "clients"), ==, 0);

  f->db_healthy = FALSE;
  bad = http_test_get (f->port, "/health");
  g_assert_cmpuint (bad->status, ==, 503);
  g_assert_nonnull (strstr (bad->body, "\"status\":\"unhealthy\""));
}

static void
test_metrics_serves_prometheus_text (Fixture *f, gconstpointer data)
{
  g_autoptr (HttpResult) r = http_test_get (f->port, "/metrics");

  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (header (r, "Content-Type"), ==, "text/plain; version=0.0.4; charset=utf-8");
  g_assert_nonnull (strstr (r->body, "# TYPE spot_sse_clients gauge"));
  g_assert_nonnull (strstr (r->body, "spot_sse_slow_client_disconnects_total"));
}

/* ---- /api/candles ----------------------------------------------------- */

static void
test_api_candles_rejects_bad_parameters (Fixture *f, gconstpointer data)
{
  struct
  {
    const char *query;
    const char *prefix;
  } cases[] = {
    { "", "product= is required" },
    { "?product=BTC-USD", "granularity= is required" },
    { "?product=btc&granularity=ONE_MINUTE", "bad product id" },
    { "?product=BTC-USD&granularity=TEN_MINUTE", "unknown granularity" },
    { "?product=BTC-USD&granularity=1m&limit=0", "limit=0 must be" },
    { "?product=BTC-USD&granularity=1m&limit=abc", "limit=abc must be" },
    { "?product=BTC-USD&granularity=1m&limit=10001", "limit=10001 must be" },
    { "?product=BTC-USD&granularity=1m&start=yesterday", "start=yesterday is neither" },
    { "?product=BTC-USD&granularity=1m&start=200&end=100", "start=200 is after end=100" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/api/candles%s", cases[i].query);
      g_autoptr (HttpResult) r = http_test_get (f->port, path);

      g_test_message ("%s -> %u %s", path, r->status, r->body);
      g_assert_cmpuint (r->status, ==, 400);
      g_assert_true (g_str_has_prefix (r->body, cases[i].prefix));
      g_assert_cmpuint (strlen (r->body), ==, r->length);
      g_assert_null (strchr (r->body, '\n') + 1 == r->body + r->length ? NULL : "several lines");
    }
}

static void
test_api_candles_without_database_is_503 (Fixture *f, gconstpointer data)
{
  g_autoptr (HttpResult) r
      = http_test_get (f->port, "/api/candles?product=BTC-USD&granularity=ONE_MINUTE");

  g_assert_cmpuint (r->status, ==, 503);
  g_assert_cmpstr (r->body, ==, "no database configured\n");
}

/* ---- protocol-level checks -------------------------------------------- */

static void
test_long_query_is_414 (Fixture *f, gconstpointer data)
{
  g_autoptr (GString) path = g_string_new ("/stream?products=");
  g_autoptr (HttpResult) r = NULL;

  while (path->len < 9000)
    g_string_append (path, "BTC-USD,");
  r = http_test_get (f->port, path->str);
  g_assert_cmpuint (r->status, ==, 414);
  g_assert_true (g_str_has_prefix (r->body, "query too long"));
}

static void
test_other_methods_are_405 (Fixture *f, gconstpointer data)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/health", f->port);
  g_autoptr (HttpResult) r = http_test_request ("DELETE", url, NULL);

  g_assert_cmpuint (r->status, ==, 405);
  g_assert_cmpstr (header (r, "Allow"), ==, "GET, HEAD, OPTIONS");
}

static void
test_cors_allows_listed_origin_only (Fixture *f, gconstpointer data)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/health", f->port);
  const char *good[] = { "Origin", "https://allowed.example", NULL };
  const char *evil[] = { "Origin", "https://evil.example", NULL };
  g_autoptr (HttpResult) a = http_test_request ("GET", url, good);
  g_autoptr (HttpResult) b = http_test_request ("GET", url, evil);

  g_assert_cmpstr (header (a, "Access-Control-Allow-Origin"), ==, "https://allowed.example");
  g_assert_nonnull (strstr (header (a, "Vary"), "Origin"));
  g_assert_null (header (b, "Access-Control-Allow-Origin"));
}

static void
test_cors_preflight (Fixture *f, gconstpointer data)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/stream", f->port);
  const char *good[]
      = { "Origin", "https://allowed.example",        "Access-Control-Request-Method",
          "GET",    "Access-Control-Request-Headers", "Datastar-Request",
          NULL };
  const char *evil[]
      = { "Origin", "https://evil.example", "Access-Control-Request-Method", "GET", NULL };
  const char *post[]
      = { "Origin", "https://allowed.example", "Access-Control-Request-Method", "POST", NULL };
  const char *hdr[] = { "Origin", "https://allowed.example",        "Access-Control-Request-Method",
                        "GET",    "Access-Control-Request-Headers", "X-Secret",
                        NULL };
  g_autoptr (HttpResult) a = http_test_request ("OPTIONS", url, good);
  g_autoptr (HttpResult) b = http_test_request ("OPTIONS", url, evil);
  g_autoptr (HttpResult) c = http_test_request ("OPTIONS", url, post);
  g_autoptr (HttpResult) d = http_test_request ("OPTIONS", url, hdr);

  g_assert_cmpuint (a->status, ==, 204);
  g_assert_cmpstr (header (a, "Access-Control-Allow-Origin"), ==, "https://allowed.example");
  g_assert_cmpstr (header (a, "Access-Control-Allow-Methods"), ==, "GET, HEAD, OPTIONS");
  g_assert_cmpstr (header (a, "Access-Control-Allow-Headers"), ==, "Datastar-Request");
  g_assert_cmpstr (header (a, "Access-Control-Max-Age"), ==, "600");
  g_assert_cmpuint (b->status, ==, 403);
  g_assert_null (header (b, "Access-Control-Allow-Origin"));
  g_assert_cmpuint (c->status, ==, 403);
  g_assert_cmpuint (d->status, ==, 403);
}

static void
test_requests_are_logged_with_fields (Fixture *f, gconstpointer data)
{
  g_autoptr (HttpResult) r = NULL;
  gboolean found = FALSE;

  g_ptr_array_set_size (http_log_lines, 0);
  r = http_test_get (f->port, "/health");
  http_test_spin (50);
  for (guint i = 0; i < http_log_lines->len; i++)
    {
      const char *line = g_ptr_array_index (http_log_lines, i);
      g_auto (GStrv) parts = g_strsplit (line, " ", -1);

      g_test_message ("log: %s", line);
      if (g_strv_length (parts) == 5 && g_str_equal (parts[0], "GET")
          && g_str_equal (parts[1], "/health") && g_str_equal (parts[2], "200"))
        {
          g_assert_cmpuint (g_ascii_strtoull (parts[3], NULL, 10), ==, r->length);
          g_assert_cmpfloat (g_ascii_strtod (parts[4], NULL), >=, 0.0);
          found = TRUE;
        }
    }
  g_assert_true (found);
}

/* ---- /stream ---------------------------------------------------------- */

static void
test_stream_rejects_bad_input_with_400 (Fixture *f, gconstpointer data)
{
  struct
  {
    const char *query;
    const char *prefix;
  } cases[] = {
    { "", "empty selection" },
    { "?products=BTC-USD&granularities=TEN_MINUTE", "unknown granularity" },
    { "?products=BTC_USD", "bad product id" },
    { "?products=A-B,C-D,E-F,G-H", "too many products: 4 given, at most 3" },
    { "?datastar=%7Bnope", "malformed signals" },
    { "?products=BTC-USD&dialect=v7", "unknown dialect" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/stream%s", cases[i].query);
      g_autoptr (HttpResult) r = http_test_get (f->port, path);

      g_test_message ("%s -> %u %s", path, r->status, r->body);
      g_assert_cmpuint (r->status, ==, 400);
      g_assert_true (g_str_has_prefix (r->body, cases[i].prefix));
      g_assert_true (g_str_has_suffix (r->body, "\n"));
      g_assert_null (strchr (r->body, '\n') + 1 != r->body + r->length ? "several lines" : NULL);
    }
}

static void
test_stream_sends_initial_state_then_live_updates (Fixture *f, gconstpointer data)
{
  SpotCandle cached
      = http_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 2, "100.5");
  SpotCandle live
      = http_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 3, "101.25");
  SpotCandle other
      = http_test_candle ("ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 1, "9.5");
  SpotCandle older
      = http_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521740, 9, "1.5");
  SpotCandle unselected
      = http_test_candle ("SOL-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 1, "7");
  g_autoptr (SseReader) sse = NULL;
  gssize at;

  spot_live_cache_update (f->cache, &cached, 1);
  sse = sse_reader_open (f->port, "/stream?products=BTC-USD,ETH-USD&granularities=ONE_MINUTE");
  at = sse_reader_wait_for (sse, "</div>\n\n", 0, 5000);
  g_assert_cmpint (at, >, 0);
  g_assert_cmpuint (sse_reader_status (sse), ==, 200);
  g_assert_true (g_str_has_prefix (sse_reader_text (sse),
                                   "event: datastar-patch-elements\n"
                                   "data: elements <div id=\"spot-candles\">\n"
                                   "data: elements <spot-candle id=\"candle-BTC-USD-ONE_MINUTE\""));
  g_assert_nonnull (strstr (sse_reader_text (sse), "close=\"100.5\""));
  g_assert_nonnull (strstr (sse_reader_text (sse),
                            "data: elements <spot-candle id=\"candle-ETH-USD-ONE_MINUTE\" "
                            "product=\"ETH-USD\" granularity=\"ONE_MINUTE\"></spot-candle>\n"));

  /* Two changed elements in one batch arrive in one event; an older start
   * and an unselected product never show. */
  {
    SpotCandle batch[] = { older, live, other, unselected };

    spot_candle_hub_push (f->hub, batch, G_N_ELEMENTS (batch));
  }
  g_assert_cmpint (sse_reader_wait_for (sse, "close=\"9.5\"", at, 5000), >, 0);
  {
    const char *rest = sse_reader_text (sse) + at;

    g_assert_nonnull (strstr (rest, "close=\"101.25\""));
    g_assert_null (strstr (rest, "close=\"1.5\""));
    g_assert_null (strstr (rest, "SOL-USD"));
  }
  http_test_spin (100);
  g_assert_cmpuint (sse_reader_count_events (sse), ==, 2);
  g_assert_cmpfloat (spot_gauge_get (f->metrics->sse_clients), ==, 1.0);
}

static void
test_stream_speaks_beta11_when_asked (Fixture *f, gconstpointer data)
{
  g_autoptr (SseReader) sse = sse_reader_open (
      f->port,
      "/stream?datastar=%7B%22products%22%3A%22BTC-USD%22%2C%22dialect%22%3A%22beta11%22%7D");

  g_assert_cmpint (sse_reader_wait_for (sse, "</div>\n\n", 0, 5000), >, 0);
  g_assert_true (g_str_has_prefix (sse_reader_text (sse),
                                   "event: datastar-merge-fragments\n"
                                   "data: fragments <div id=\"spot-candles\">\n"));
}

static void
small_keepalive (SpotHttpOptions *o)
{
  o->sse_keepalive_ms = 150;
}

static void
test_stream_sends_keepalive_comments (Fixture *f, gconstpointer data)
{
  g_autoptr (SseReader) sse = sse_reader_open (f->port, "/stream?products=BTC-USD");

  g_assert_cmpint (sse_reader_wait_for (sse, ": keepalive\n\n", 0, 5000), >, 0);
}

static gboolean
no_clients (gpointer data)
{
  Fixture *f = data;
  SpotHttpStats stats;
  SpotCandleHubStats hub;

  spot_http_server_get_stats (f->server, &stats);
  spot_candle_hub_get_stats (f->hub, &hub);
  return stats.sse_clients == 0 && hub.clients == 0;
}

static void
test_stream_cleans_up_when_client_leaves (Fixture *f, gconstpointer data)
{
  SseReader *sse = sse_reader_open (f->port, "/stream?products=BTC-USD");
  SpotHttpStats stats;

  g_assert_cmpint (sse_reader_wait_for (sse, "</div>\n\n", 0, 5000), >, 0);
  spot_http_server_get_stats (f->server, &stats);
  g_assert_cmpuint (stats.sse_clients, ==, 1);
  sse_reader_close (sse);
  /* Noticed without a write: the keep-alive is 15 s here. */
  g_assert_true (http_test_wait_until (no_clients, f, 3000));
  g_assert_cmpfloat (spot_gauge_get (f->metrics->sse_clients), ==, 0.0);
}

static void
one_client (SpotHttpOptions *o)
{
  o->sse_max_clients = 1;
}

static void
test_stream_refuses_clients_over_the_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (SseReader) first = sse_reader_open (f->port, "/stream?products=BTC-USD");
  g_autoptr (HttpResult) second = NULL;

  g_assert_cmpint (sse_reader_wait_for (first, "</div>\n\n", 0, 5000), >, 0);
  second = http_test_get (f->port, "/stream?products=ETH-USD");
  g_assert_cmpuint (second->status, ==, 503);
  g_assert_cmpstr (header (second, "Retry-After"), ==, "5");
  g_assert_true (g_str_has_prefix (second->body, "too many stream clients"));
}

/* A client that sends its request and then reads nothing, with a tiny
 * receive window. */
static int
stalled_client (guint16 port, const char *path)
{
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  int rcvbuf = 1024;
  struct sockaddr_in addr = { 0 };
  g_autofree char *request = NULL;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), ==, 0);
  addr.sin_family = AF_INET;
  addr.sin_port = htons (port);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (connect (fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  request = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
  g_assert_cmpint (write (fd, request, strlen (request)), ==, (gssize)strlen (request));
  return fd;
}

static void
push_updates (Fixture *f, const char *product, guint n, guint first_rev, const char *last_close)
{
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *close = g_strdup_printf ("%u.5", 1000 + i);
      SpotCandle c = http_test_candle (product, SPOT_GRANULARITY_ONE_MINUTE, 1775521800,
                                       first_rev + i, i + 1 == n ? last_close : close);

      spot_candle_hub_push (f->hub, &c, 1);
      /* Let the hub deliver and libsoup write between pushes. */
      g_main_context_iteration (NULL, FALSE);
    }
}

static void
test_slow_client_gets_newest_state_not_backlog (Fixture *f, gconstpointer data)
{
  int fd = stalled_client (f->port,
                           "/stream?products=BTC-USD,ETH-USD,SOL-USD&granularities=ONE_MINUTE");
  g_autoptr (GString) got = g_string_new (NULL);
  const guint n = 60000;
  guint events = 0;
  const char *p;
  char buf[65536];
  SpotHttpStats stats;

  http_test_spin (200);
  push_updates (f, "BTC-USD", n, 1, "424242.42");
  http_test_spin (200);
  /* Now read everything that is there. */
  for (;;)
    {
      gssize r;

      http_test_spin (1);
      r = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0)
        {
          g_string_append_len (got, buf, r);
          continue;
        }
      if (strstr (got->str, "424242.42") != NULL || (r < 0 && errno != EAGAIN))
        break;
      if (got->len > 0 && r < 0)
        {
          /* Idle: give the server a moment to flush the coalesced rest. */
          http_test_spin (100);
          r = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
          if (r > 0)
            g_string_append_len (got, buf, r);
          else
            break;
        }
    }
  spot_http_server_get_stats (f->server, &stats);
  close (fd);
  for (p = got->str; (p = strstr (p, "event: ")) != NULL; p += 7)
    events++;
  g_test_message ("%u updates -> %u events, %" G_GSIZE_FORMAT
                  " bytes, coalesced so far %" G_GUINT64_FORMAT,
                  n, events, got->len, stats.sse_coalesced);
  g_assert_nonnull (strstr (got->str, "close=\"424242.42\""));
  g_assert_cmpuint (events, <, n / 4);
  g_assert_cmpuint (stats.sse_coalesced, >, n / 2);
}

static void
tiny_buffer (SpotHttpOptions *o)
{
  o->sse_client_buffer = 2048;
  o->sse_max_products = 200;
}

static gboolean
one_slow_disconnect (gpointer data)
{
  Fixture *f = data;
  SpotHttpStats stats;

  spot_http_server_get_stats (f->server, &stats);
  return stats.sse_slow_disconnects >= 1 && stats.sse_clients == 0;
}

static void
test_client_over_its_buffer_is_disconnected_and_counted (Fixture *f, gconstpointer data)
{
  g_autoptr (GString) path = g_string_new ("/stream?granularities=ONE_MINUTE&products=");
  int fd;

  for (guint i = 0; i < 100; i++)
    g_string_append_printf (path, "%sP%u-USD", i > 0 ? "," : "", i);
  fd = stalled_client (f->port, path->str);
  http_test_spin (200);
  /* Many distinct elements while the socket is stuck: coalescing cannot
   * shrink them, so the buffer bound is what stops the growth. */
  for (guint round = 0; round < 400 && !one_slow_disconnect (f); round++)
    {
      SpotCandle batch[100];

      for (guint i = 0; i < 100; i++)
        {
          g_autofree char *product = g_strdup_printf ("P%u-USD", i);

          batch[i] = http_test_candle (product, SPOT_GRANULARITY_ONE_MINUTE, 1775521800, round + 1,
                                       "12345.678901");
        }
      spot_candle_hub_push (f->hub, batch, 100);
      http_test_spin (5);
    }
  g_assert_true (http_test_wait_until (one_slow_disconnect, f, 5000));
  g_assert_cmpuint (spot_counter_get_units (f->metrics->sse_slow_client_disconnects), ==, 1);
  close (fd);
}

/* ---- graceful stop ---------------------------------------------------- */

static void
on_stopped (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *done = user_data;

  g_assert_true (spot_http_server_stop_finish (SPOT_HTTP_SERVER (source), result, NULL));
  *done = TRUE;
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *)data;
}

static void
test_stop_ends_streams_cleanly_and_stops_listening (Fixture *f, gconstpointer data)
{
  g_autoptr (SseReader) sse = sse_reader_open (f->port, "/stream?products=BTC-USD");
  gboolean stopped = FALSE;
  gint64 t0;
  GSocketClient *client;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) conn = NULL;

  g_assert_cmpint (sse_reader_wait_for (sse, "</div>\n\n", 0, 5000), >, 0);
  t0 = g_get_monotonic_time ();
  spot_http_server_stop_async (f->server, NULL, on_stopped, &stopped);
  g_assert_true (http_test_wait_until (is_true, &stopped, 5000));
  /* Ended by the terminating chunk, not by the timeout. */
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 1500 * 1000);
  g_assert_true (sse_reader_wait_eof (sse, 3000));

  client = g_socket_client_new ();
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", f->port, NULL, &error);
  g_assert_null (conn);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_object_unref (client);
}

#define ADD(path, func, tweak)                                                                     \
  g_test_add (path, Fixture, (gconstpointer)(tweak), fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  http_log_lines = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (capture_writer, NULL, NULL);

  ADD ("/http/dashboard/renders-selection-with-cached-values",
       test_dashboard_renders_selection_with_cached_values, NULL);
  ADD ("/http/dashboard/rejects-bad-selection", test_dashboard_rejects_bad_selection, NULL);
  ADD ("/http/static/etag-and-cache-headers", test_static_assets_have_etag_and_cache_headers, NULL);
  ADD ("/http/static/unknown-and-traversal-are-404", test_static_unknown_and_traversal_are_404,
       NULL);
  ADD ("/http/health/200-when-healthy-503-when-not",
       test_health_is_200_when_healthy_and_503_when_not, NULL);
  ADD ("/http/metrics/prometheus-text", test_metrics_serves_prometheus_text, NULL);
  ADD ("/http/api-candles/rejects-bad-parameters", test_api_candles_rejects_bad_parameters, NULL);
  ADD ("/http/api-candles/without-database-is-503", test_api_candles_without_database_is_503, NULL);
  ADD ("/http/long-query-is-414", test_long_query_is_414, NULL);
  ADD ("/http/other-methods-are-405", test_other_methods_are_405, NULL);
  ADD ("/http/cors/allows-listed-origin-only", test_cors_allows_listed_origin_only, NULL);
  ADD ("/http/cors/preflight", test_cors_preflight, NULL);
  ADD ("/http/requests-are-logged-with-fields", test_requests_are_logged_with_fields, NULL);
  ADD ("/http/stream/rejects-bad-input-with-400", test_stream_rejects_bad_input_with_400, NULL);
  ADD ("/http/stream/initial-state-then-live-updates",
       test_stream_sends_initial_state_then_live_updates, NULL);
  ADD ("/http/stream/beta11-when-asked", test_stream_speaks_beta11_when_asked, NULL);
  ADD ("/http/stream/keepalive-comments", test_stream_sends_keepalive_comments, small_keepalive);
  ADD ("/http/stream/cleans-up-when-client-leaves", test_stream_cleans_up_when_client_leaves, NULL);
  ADD ("/http/stream/refuses-clients-over-the-limit", test_stream_refuses_clients_over_the_limit,
       one_client);
  ADD ("/http/stream/slow-client-gets-newest-state-not-backlog",
       test_slow_client_gets_newest_state_not_backlog, NULL);
  ADD ("/http/stream/client-over-buffer-is-disconnected-and-counted",
       test_client_over_its_buffer_is_disconnected_and_counted, tiny_buffer);
  ADD ("/http/stop/ends-streams-cleanly-and-stops-listening",
       test_stop_ends_streams_cleanly_and_stops_listening, NULL);

  {
    int rc = g_test_run ();

    g_ptr_array_unref (http_log_lines);
    return rc;
  }
}
