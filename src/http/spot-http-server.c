/* spot-http-server.c: routes, CORS, limits, logging and graceful stop. */
#define G_LOG_DOMAIN "spot-http"

#include "http/spot-http-server.h"

#include <libsoup/soup.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"
#include "core/spot-error.h"
#include "http/spot-candle-element.h"
#include "http/spot-html.h"
#include "http/spot-sse-client.h"
#include "http/spot-static-assets.h"
#include "http/spot-stream-selection.h"
#include "http/spot-template.h"
#include "model/spot-candle-json.h"
#include "model/spot-product.h"
#include "model/spot-time.h"

#define DEFAULT_PORT 8080
#define DEFAULT_BACKLOG 1024
#define DEFAULT_MAX_QUERY 8192
#define DASHBOARD_DEFAULT_PRODUCTS "BTC-USD,ETH-USD,SOL-USD"
#define DASHBOARD_MAX_DEFAULT_PRODUCTS 10
#define STATIC_MAX_AGE_VERSIONED "public, max-age=31536000, immutable"
#define REQUEST_INFO_KEY "spot-http-request-info"

struct _SpotHttpServer
{
  GObject parent_instance;

  SpotHttpOptions options;
  SoupServer *soup;
  GSocket *listener;
  guint16 port;
  GMainContext *context;

  SpotLiveCache *cache;
  SpotCandleHub *hub;
  SpotRepository *repository;
  SpotMetrics *metrics;
  SpotHealth *health;
  SpotStaticAssets *assets;

  GHashTable *clients; /* SpotSseClient* set */
  guint handled;       /* requests that reached a handler and are not finished */
  gint64 started_us;
  SpotHttpStats stats;

  gboolean stopping;
  GTask *stop_task;
  guint stop_timeout_id;
};

G_DEFINE_FINAL_TYPE (SpotHttpServer, spot_http_server, G_TYPE_OBJECT)

/* Per request: when it started, whether a handler took it, bytes of a
 * stream (its body does not accumulate, so its length is not the total). */
typedef struct
{
  gint64 start_us;
  char *remote; /* taken by the handler, while the connection is up */
  gboolean handled;
} RequestInfo;

/* ---- options ---------------------------------------------------------- */

void
spot_http_options_init (SpotHttpOptions *options)
{
  memset (options, 0, sizeof *options);
  options->host = g_strdup ("127.0.0.1");
  options->port = DEFAULT_PORT;
  options->backlog = DEFAULT_BACKLOG;
  options->cors_origins = g_new0 (char *, 1);
  options->sse_max_clients = 10000;
  options->sse_max_products = 200;
  options->sse_client_buffer = 1024 * 1024;
  options->sse_keepalive_ms = 15000;
  options->max_query_length = DEFAULT_MAX_QUERY;
  options->shutdown_timeout_ms = 5000;
  options->default_granularities = SPOT_GRANULARITY_SET_DEFAULT;
  options->api_default_limit = 300;
  options->api_max_limit = 10000;
}

void
spot_http_options_init_from_config (SpotHttpOptions *options, const SpotConfig *config)
{
  spot_http_options_init (options);
  g_free (options->host);
  options->host = g_strdup (config->http_host != NULL ? config->http_host : "");
  options->port = config->http_port;
  g_strfreev (options->cors_origins);
  options->cors_origins
      = config->cors_origins != NULL ? g_strdupv (config->cors_origins) : g_new0 (char *, 1);
  options->sse_max_clients = config->sse_max_clients;
  options->sse_max_products = config->sse_max_products;
  options->sse_client_buffer = config->sse_client_buffer;
  options->sse_keepalive_ms = config->sse_keepalive_s * 1000;
  if (config->granularities != 0)
    options->default_granularities = config->granularities;
  if (config->shutdown_timeout_s > 0)
    options->shutdown_timeout_ms = config->shutdown_timeout_s * 1000;
}

void
spot_http_options_clear (SpotHttpOptions *options)
{
  g_clear_pointer (&options->host, g_free);
  g_clear_pointer (&options->cors_origins, g_strfreev);
}

static void
options_copy (SpotHttpOptions *dst, const SpotHttpOptions *src)
{
  *dst = *src;
  dst->host = g_strdup (src->host != NULL ? src->host : "");
  dst->cors_origins
      = src->cors_origins != NULL ? g_strdupv (src->cors_origins) : g_new0 (char *, 1);
  if (dst->backlog == 0)
    dst->backlog = DEFAULT_BACKLOG;
  if (dst->max_query_length == 0)
    dst->max_query_length = DEFAULT_MAX_QUERY;
  if (dst->default_granularities == 0)
    dst->default_granularities = SPOT_GRANULARITY_SET_DEFAULT;
  if (dst->api_default_limit == 0)
    dst->api_default_limit = 300;
  if (dst->api_max_limit == 0)
    dst->api_max_limit = 10000;
  if (dst->sse_max_products == 0)
    dst->sse_max_products = 200;
}

/* ---- responses -------------------------------------------------------- */

static void
respond (SoupServerMessage *msg, guint status, const char *content_type, GBytes *body)
{
  soup_server_message_set_status (msg, status, NULL);
  if (body != NULL)
    {
      gsize len;
      gconstpointer data = g_bytes_get_data (body, &len);

      soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY, data, len);
    }
}

/* One-line plain-text answer (errors and short notes). */
static void
respond_text (SpotHttpServer *self, SoupServerMessage *msg, guint status, const char *text)
{
  g_autofree char *line = g_strdup_printf ("%s\n", text);

  g_strdelimit (line, "\r", ' ');
  if (status >= 400 && status < 500)
    self->stats.bad_requests++;
  /* A reason may quote the request: keep browsers from sniffing it as HTML. */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "X-Content-Type-Options", "nosniff");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_TAKE,
                                    g_steal_pointer (&line), strlen (text) + 1);
}

static void
respond_take (SoupServerMessage *msg, guint status, const char *content_type, char *text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE, text, strlen (text));
}

/* ---- logging ---------------------------------------------------------- */

static void
request_info_free (gpointer data)
{
  RequestInfo *info = data;

  g_free (info->remote);
  g_free (info);
}

static void
on_request_started (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  RequestInfo *info = g_new0 (RequestInfo, 1);

  info->start_us = g_get_monotonic_time ();
  g_object_set_data_full (G_OBJECT (msg), REQUEST_INFO_KEY, info, request_info_free);
}

static void check_stop_done (SpotHttpServer *self);

static void
log_request (const char *method,
             const char *path,
             guint status,
             guint64 bytes,
             gint64 start_us,
             const char *remote,
             const char *note)
{
  double duration_ms = (g_get_monotonic_time () - start_us) / 1000.0;
  char status_s[16], bytes_s[24], duration_s[32];
  g_autofree char *message = NULL;

  g_snprintf (status_s, sizeof status_s, "%u", status);
  g_snprintf (bytes_s, sizeof bytes_s, "%" G_GUINT64_FORMAT, bytes);
  g_snprintf (duration_s, sizeof duration_s, "%.3f", duration_ms);
  message
      = g_strdup_printf ("%s %s %u %" G_GUINT64_FORMAT " bytes %.3f ms%s%s", method, path, status,
                         bytes, duration_ms, note != NULL ? " " : "", note != NULL ? note : "");
  {
    const GLogField fields[] = {
      { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
      { "MESSAGE", message, -1 },
      { "PRIORITY", "6", -1 },
      { "SPOT_HTTP_METHOD", method, -1 },
      { "SPOT_HTTP_PATH", path, -1 },
      { "SPOT_HTTP_STATUS", status_s, -1 },
      { "SPOT_HTTP_BYTES", bytes_s, -1 },
      { "SPOT_HTTP_DURATION_MS", duration_s, -1 },
      { "SPOT_HTTP_REMOTE", remote != NULL ? remote : "", -1 },
    };
    g_log_structured_array (G_LOG_LEVEL_INFO, fields, G_N_ELEMENTS (fields));
  }
}

static void
request_done (SpotHttpServer *self, SoupServerMessage *msg, gboolean aborted)
{
  RequestInfo *info = g_object_get_data (G_OBJECT (msg), REQUEST_INFO_KEY);
  const char *method = soup_server_message_get_method (msg);
  GUri *uri = soup_server_message_get_uri (msg);

  if (info == NULL || method == NULL)
    return;
  if (info->handled)
    {
      info->handled = FALSE;
      self->handled--;
    }
  self->stats.requests++;
  log_request (method, uri != NULL ? g_uri_get_path (uri) : "?",
               soup_server_message_get_status (msg),
               (guint64)soup_server_message_get_response_body (msg)->length, info->start_us,
               info->remote, aborted ? "(aborted)" : NULL);
  if (self->stopping)
    check_stop_done (self);
}

static void
on_request_finished (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  request_done (SPOT_HTTP_SERVER (user_data), msg, FALSE);
}

static void
on_request_aborted (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  request_done (SPOT_HTTP_SERVER (user_data), msg, TRUE);
}

/* ---- CORS ------------------------------------------------------------- */

static gboolean
origin_allowed (SpotHttpServer *self, const char *origin)
{
  if (origin == NULL)
    return FALSE;
  for (guint i = 0; self->options.cors_origins[i] != NULL; i++)
    if (g_str_equal (self->options.cors_origins[i], "*")
        || g_ascii_strcasecmp (self->options.cors_origins[i], origin) == 0)
      return TRUE;
  return FALSE;
}

/* Request headers a browser may send cross-origin to these routes. */
static gboolean
headers_allowed (const char *requested)
{
  static const char *const allowed[]
      = { "datastar-request", "content-type", "cache-control", "last-event-id", "accept", NULL };
  g_auto (GStrv) names = NULL;

  if (requested == NULL)
    return TRUE;
  names = g_strsplit (requested, ",", -1);
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *name = g_ascii_strdown (g_strstrip (names[i]), -1);

      if (name[0] != '\0' && !g_strv_contains (allowed, name))
        return FALSE;
    }
  return TRUE;
}

/* ---- /stream ---------------------------------------------------------- */

/* A stream owns its connection, so libsoup never reports it finished: the
 * request is logged and counted here. */
static void
on_client_done (SpotSseClient *client, gpointer user_data)
{
  SpotHttpServer *self = user_data;
  SoupServerMessage *msg = spot_sse_client_get_message (client);
  RequestInfo *info = msg != NULL ? g_object_get_data (G_OBJECT (msg), REQUEST_INFO_KEY) : NULL;
  GUri *uri = msg != NULL ? soup_server_message_get_uri (msg) : NULL;
  SpotSseClientStats stats;

  spot_sse_client_get_stats (client, &stats);
  if (stats.slow)
    self->stats.sse_slow_disconnects++;
  self->stats.sse_coalesced += stats.coalesced;
  self->stats.requests++;
  if (info != NULL)
    {
      if (info->handled)
        {
          info->handled = FALSE;
          self->handled--;
        }
      log_request ("GET", uri != NULL ? g_uri_get_path (uri) : "/stream", SOUP_STATUS_OK,
                   stats.bytes, info->start_us, info->remote,
                   stats.slow ? "(stream, slow client cut off)" : "(stream)");
    }
  g_hash_table_remove (self->clients, client);
  if (self->stopping)
    check_stop_done (self);
}

static void
handle_stream (SpotHttpServer *self, SoupServerMessage *msg, GHashTable *query)
{
  SpotStreamSelection selection;
  SpotSseClientConfig config = { 0 };
  g_autoptr (GError) error = NULL;
  SpotSseClient *client;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                    "GET, OPTIONS");
      respond_text (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "a stream is GET only");
      return;
    }
  if (g_hash_table_size (self->clients) >= self->options.sse_max_clients)
    {
      self->stats.sse_rejected++;
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                    "5");
      respond_text (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                    "too many stream clients: SSE_MAX_CLIENTS reached, retry later");
      self->stats.bad_requests--; /* a 503, not the client's fault */
      return;
    }
  if (!spot_stream_selection_parse (query, self->options.sse_max_products,
                                    self->options.default_granularities, &selection, &error))
    {
      respond_text (self, msg, SOUP_STATUS_BAD_REQUEST, error->message);
      return;
    }
  config.hub = self->hub;
  config.cache = self->cache;
  config.metrics = self->metrics;
  config.buffer_bytes = self->options.sse_client_buffer;
  config.keepalive_ms = self->options.sse_keepalive_ms;
  client = spot_sse_client_start (msg, &selection, &config, on_client_done, self);
  g_hash_table_add (self->clients, client);
  self->stats.sse_streams++;
}

/* ---- / ---------------------------------------------------------------- */

static char *
default_dashboard_products (SpotHttpServer *self)
{
  g_autoptr (GArray) held = NULL;
  g_autoptr (GPtrArray) ids = NULL;

  if (self->cache == NULL)
    return g_strdup (DASHBOARD_DEFAULT_PRODUCTS);
  held = spot_live_cache_snapshot (self->cache, NULL, 1u << SPOT_GRANULARITY_ONE_MINUTE);
  if (held->len == 0)
    return g_strdup (DASHBOARD_DEFAULT_PRODUCTS);
  ids = g_ptr_array_new ();
  for (guint i = 0; i < held->len && ids->len < DASHBOARD_MAX_DEFAULT_PRODUCTS; i++)
    g_ptr_array_add (ids, g_array_index (held, SpotCandle, i).product_id);
  g_ptr_array_add (ids, NULL);
  return g_strjoinv (",", (char **)ids->pdata);
}

static void
handle_dashboard (SpotHttpServer *self, SoupServerMessage *msg, GHashTable *query)
{
  const SpotStaticAsset *page = spot_static_assets_lookup (self->assets, "templates/index.html");
  const SpotStaticAsset *js = spot_static_assets_lookup (self->assets, "static/app.js");
  const SpotStaticAsset *css = spot_static_assets_lookup (self->assets, "static/app.css");
  g_autoptr (GHashTable) q
      = query != NULL ? g_hash_table_ref (query) : g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *products = NULL;
  g_autofree char *granularities = NULL;
  g_autofree char *signals = NULL;
  g_autofree char *js_version = NULL;
  g_autofree char *css_version = NULL;
  g_autoptr (GString) choices = g_string_new (NULL);
  g_autoptr (GString) elements = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  SpotStreamSelection selection;
  char *html;

  if (page == NULL)
    {
      respond_text (self, msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
                    "dashboard template missing from the resources");
      return;
    }
  /* The same validation as /stream, with the dashboard's defaults. */
  products = g_strdup (g_hash_table_lookup (q, "products"));
  if (products == NULL || g_strstrip (products)[0] == '\0')
    {
      g_free (products);
      products = default_dashboard_products (self);
    }
  granularities = g_strdup (g_hash_table_lookup (q, "granularities"));
  if (granularities == NULL || granularities[0] == '\0')
    {
      g_free (granularities);
      granularities = g_strdup ("ONE_MINUTE");
    }
  {
    g_autoptr (GHashTable) sq = g_hash_table_new (g_str_hash, g_str_equal);

    g_hash_table_insert (sq, (char *)"products", products);
    g_hash_table_insert (sq, (char *)"granularities", granularities);
    if (!spot_stream_selection_parse (sq, self->options.sse_max_products,
                                      self->options.default_granularities, &selection, &error))
      {
        respond_text (self, msg, SOUP_STATUS_BAD_REQUEST, error->message);
        return;
      }
  }
  g_free (granularities);
  granularities = spot_granularity_set_to_string (selection.granularities);
  g_free (products);
  products = g_strjoinv (",", selection.products);

  for (gint g = 0; g < SPOT_GRANULARITY_COUNT; g++)
    {
      const char *name = spot_granularity_name (g);

      g_string_append_printf (
          choices,
          "<label class=\"label cursor-pointer gap-1\">"
          "<input type=\"checkbox\" class=\"checkbox checkbox-sm\" "
          "name=\"granularity\" value=\"%s\"%s>"
          "<span class=\"label-text\">%s</span></label>\n",
          name, spot_granularity_set_contains (selection.granularities, g) ? " checked" : "",
          spot_granularity_short_name (g));
    }
  /* Initial values straight from the cache, so the page is useful before
   * the stream opens (and without JavaScript). */
  for (guint p = 0; p < selection.n_products; p++)
    for (gint g = 0; g < SPOT_GRANULARITY_COUNT; g++)
      {
        SpotCandle candle;

        if (!spot_granularity_set_contains (selection.granularities, g))
          continue;
        g_string_append_c (elements, '\n');
        if (self->cache != NULL
            && spot_live_cache_lookup (self->cache, selection.products[p], g, &candle))
          spot_candle_element_append (elements, &candle);
        else
          spot_candle_element_append_placeholder (elements, selection.products[p], g);
      }
  signals
      = g_strdup_printf ("{\"products\":\"%s\",\"granularities\":\"%s\"}", products, granularities);
  js_version = js != NULL ? g_strndup (js->etag + 1, 12) : g_strdup ("missing");
  css_version = css != NULL ? g_strndup (css->etag + 1, 12) : g_strdup ("missing");
  {
    const char *vars[] = {
      "version",    PACKAGE_VERSION, "products",
      products,     "granularities", granularities,
      "signals",    signals,         "choices",
      choices->str, "elements",      elements->str,
      "js_version", js_version,      "css_version",
      css_version,  "stream_url",    "/stream?dialect=beta11",
      NULL,
    };
    html = spot_template_render (g_bytes_get_data (page->bytes, NULL),
                                 g_bytes_get_size (page->bytes), vars, &error);
  }
  spot_stream_selection_clear (&selection);
  if (html == NULL)
    {
      g_warning ("dashboard template: %s", error->message);
      respond_text (self, msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
      return;
    }
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "no-cache");
  respond_take (msg, SOUP_STATUS_OK, "text/html; charset=utf-8", html);
}

/* ---- /static ---------------------------------------------------------- */

static void
handle_static (SpotHttpServer *self, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  g_autofree char *rel = g_strconcat ("static/", path, NULL);
  const SpotStaticAsset *asset = spot_static_assets_lookup (self->assets, rel);
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  const char *if_none_match;

  if (asset == NULL)
    {
      respond_text (self, msg, SOUP_STATUS_NOT_FOUND, "no such static file");
      return;
    }
  soup_message_headers_replace (resp, "ETag", asset->etag);
  /* The page links assets with ?v=<etag prefix>: such URLs never change
   * content, others must be revalidated. */
  soup_message_headers_replace (
      resp, "Cache-Control",
      query != NULL && g_hash_table_contains (query, "v") ? STATIC_MAX_AGE_VERSIONED : "no-cache");
  if_none_match = soup_message_headers_get_one (req, "If-None-Match");
  if (if_none_match != NULL
      && (strstr (if_none_match, asset->etag) != NULL || g_str_equal (if_none_match, "*")))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_MODIFIED, NULL);
      return;
    }
  respond (msg, SOUP_STATUS_OK, asset->content_type, asset->bytes);
}

/* ---- /health and /metrics --------------------------------------------- */

static gboolean
add_http_summary (JsonBuilder *b, gpointer user_data)
{
  SpotHttpServer *self = user_data;

  json_builder_set_member_name (b, "sse");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "clients");
  json_builder_add_int_value (b, g_hash_table_size (self->clients));
  json_builder_set_member_name (b, "max_clients");
  json_builder_add_int_value (b, self->options.sse_max_clients);
  json_builder_set_member_name (b, "slow_disconnects");
  json_builder_add_int_value (b, (gint64)self->stats.sse_slow_disconnects);
  json_builder_set_member_name (b, "rejected");
  json_builder_add_int_value (b, (gint64)self->stats.sse_rejected);
  json_builder_end_object (b);
  return TRUE;
}

static void
handle_health (SpotHttpServer *self, SoupServerMessage *msg)
{
  gboolean healthy = TRUE;
  gint64 uptime_s = (g_get_monotonic_time () - self->started_us) / G_USEC_PER_SEC;
  char *json = spot_health_report (self->health, uptime_s, add_http_summary, self, &healthy);

  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "no-store");
  respond_take (msg, healthy ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE, "application/json",
                json);
}

static void
handle_metrics (SpotHttpServer *self, SoupServerMessage *msg)
{
  GString *text = g_string_sized_new (16384);

  spot_metrics_render (self->metrics, text);
  respond_take (msg, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8",
                g_string_free (text, FALSE));
}

/* ---- /api/candles ----------------------------------------------------- */

typedef struct
{
  SpotHttpServer *server;
  SoupServerMessage *msg;
  GCancellable *cancellable;
  gulong finished_id;
  SpotGranularity granularity;
  char product[SPOT_PRODUCT_ID_SIZE];
} ApiRequest;

static void
api_request_free (ApiRequest *req)
{
  g_clear_signal_handler (&req->finished_id, req->msg);
  g_object_unref (req->cancellable);
  g_object_unref (req->msg);
  g_object_unref (req->server);
  g_free (req);
}

static void
on_api_message_finished (SoupServerMessage *msg, gpointer user_data)
{
  ApiRequest *req = user_data;

  g_cancellable_cancel (req->cancellable);
}

static void
on_history (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ApiRequest *req = user_data;
  SpotHttpServer *self = req->server;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) candles
      = spot_repository_query_history_finish (SPOT_REPOSITORY (source), result, &error);

  if (g_cancellable_is_cancelled (req->cancellable))
    {
      api_request_free (req);
      return;
    }
  if (candles == NULL)
    {
      if (g_error_matches (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT))
        respond_text (self, req->msg, SOUP_STATUS_BAD_REQUEST, error->message);
      else
        {
          g_autofree char *line = g_strdup_printf ("database unavailable: %s", error->message);

          respond_text (self, req->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, line);
        }
    }
  else
    {
      GString *json = g_string_sized_new (64 + candles->len * 300);

      g_string_append (json, "{\"product_id\":\"");
      g_string_append (json, req->product);
      g_string_append (json, "\",\"granularity\":\"");
      g_string_append (json, spot_granularity_name (req->granularity));
      g_string_append (json, "\",\"candles\":[");
      for (guint i = 0; i < candles->len; i++)
        {
          if (i > 0)
            g_string_append_c (json, ',');
          spot_candle_json_append (json, &g_array_index (candles, SpotCandle, i));
        }
      g_string_append (json, "]}\n");
      respond_take (req->msg, SOUP_STATUS_OK, "application/json", g_string_free (json, FALSE));
    }
  soup_server_message_unpause (req->msg);
  api_request_free (req);
}

/* Epoch seconds or RFC 3339. */
static gboolean
parse_time_param (const char *name, const char *text, gint64 *out, GError **error)
{
  char *end = NULL;
  gint64 v;
  gint64 ns;

  if (text[0] != '\0' && (g_ascii_isdigit (text[0]) || text[0] == '-'))
    {
      v = g_ascii_strtoll (text, &end, 10);
      if (end != NULL && *end == '\0' && end != text)
        {
          *out = v;
          return TRUE;
        }
    }
  if (spot_time_parse_rfc3339 (text, -1, &ns, NULL))
    {
      *out = ns / SPOT_NS_PER_SECOND;
      return TRUE;
    }
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
               "%s=%.40s is neither epoch seconds nor an RFC 3339 time", name, text);
  return FALSE;
}

static gboolean
parse_api_params (SpotHttpServer *self,
                  GHashTable *query,
                  ApiRequest *req,
                  gint64 *start,
                  gint64 *end,
                  guint *limit,
                  GError **error)
{
  const char *product = query != NULL ? g_hash_table_lookup (query, "product") : NULL;
  const char *gran = query != NULL ? g_hash_table_lookup (query, "granularity") : NULL;
  const char *start_s = query != NULL ? g_hash_table_lookup (query, "start") : NULL;
  const char *end_s = query != NULL ? g_hash_table_lookup (query, "end") : NULL;
  const char *limit_s = query != NULL ? g_hash_table_lookup (query, "limit") : NULL;
  g_autoptr (GError) local = NULL;

  if (product == NULL || product[0] == '\0')
    {
      g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                           "product= is required (e.g. product=BTC-USD)");
      return FALSE;
    }
  if (!spot_product_id_validate (product, &local))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT, "bad product id: %s",
                   local->message);
      return FALSE;
    }
  g_strlcpy (req->product, product, sizeof req->product);
  if (gran == NULL || gran[0] == '\0')
    {
      g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                           "granularity= is required (e.g. granularity=ONE_MINUTE)");
      return FALSE;
    }
  if (!spot_granularity_parse (gran, -1, &req->granularity, &local))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT, "unknown granularity: %s",
                   local->message);
      return FALSE;
    }
  *limit = self->options.api_default_limit;
  if (limit_s != NULL)
    {
      guint64 v;

      if (!g_ascii_string_to_unsigned (limit_s, 10, 1, self->options.api_max_limit, &v, NULL))
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                       "limit=%.20s must be an integer from 1 to %u", limit_s,
                       self->options.api_max_limit);
          return FALSE;
        }
      *limit = (guint)v;
    }
  *end = g_get_real_time () / G_USEC_PER_SEC;
  if (end_s != NULL && !parse_time_param ("end", end_s, end, error))
    return FALSE;
  *start = *end - (gint64)*limit * spot_granularity_seconds (req->granularity);
  if (start_s != NULL && !parse_time_param ("start", start_s, start, error))
    return FALSE;
  if (*start > *end)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "start=%" G_GINT64_FORMAT " is after end=%" G_GINT64_FORMAT, *start, *end);
      return FALSE;
    }
  return TRUE;
}

static void
handle_api_candles (SpotHttpServer *self, SoupServerMessage *msg, GHashTable *query)
{
  ApiRequest *req = g_new0 (ApiRequest, 1);
  g_autoptr (GError) error = NULL;
  gint64 start, end;
  guint limit;

  if (!parse_api_params (self, query, req, &start, &end, &limit, &error))
    {
      g_free (req);
      respond_text (self, msg, SOUP_STATUS_BAD_REQUEST, error->message);
      return;
    }
  if (self->repository == NULL)
    {
      g_free (req);
      respond_text (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "no database configured");
      return;
    }
  req->server = g_object_ref (self);
  req->msg = g_object_ref (msg);
  req->cancellable = g_cancellable_new ();
  req->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_api_message_finished), req);
  soup_server_message_pause (msg);
  spot_repository_query_history_async (self->repository, req->product, req->granularity, start, end,
                                       limit, req->cancellable, on_history, req);
}

/* ---- dispatch --------------------------------------------------------- */

static void
server_callback (SoupServer *soup,
                 SoupServerMessage *msg,
                 const char *path,
                 GHashTable *query,
                 gpointer user_data)
{
  SpotHttpServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  const char *origin = soup_message_headers_get_one (req, "Origin");
  const char *raw_query = g_uri_get_query (soup_server_message_get_uri (msg));
  RequestInfo *info = g_object_get_data (G_OBJECT (msg), REQUEST_INFO_KEY);
  gboolean cors = origin_allowed (self, origin);

  if (info != NULL && !info->handled)
    {
      info->handled = TRUE;
      self->handled++;
      info->remote = g_strdup (soup_server_message_get_remote_host (msg));
    }

  if (self->stopping)
    {
      soup_message_headers_replace (resp, "Connection", "close");
      respond_text (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "shutting down");
      return;
    }

  if (cors)
    {
      soup_message_headers_replace (resp, "Access-Control-Allow-Origin", origin);
      soup_message_headers_append (resp, "Vary", "Origin");
    }

  if (method == SOUP_METHOD_OPTIONS)
    {
      const char *want_method = soup_message_headers_get_one (req, "Access-Control-Request-Method");
      const char *want_headers
          = soup_message_headers_get_one (req, "Access-Control-Request-Headers");

      soup_message_headers_replace (resp, "Allow", "GET, HEAD, OPTIONS");
      if (want_method == NULL)
        {
          soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
          return;
        }
      if (!cors)
        {
          respond_text (self, msg, SOUP_STATUS_FORBIDDEN, "origin not allowed by CORS_ORIGINS");
          return;
        }
      if (!g_str_equal (want_method, "GET") && !g_str_equal (want_method, "HEAD"))
        {
          respond_text (self, msg, SOUP_STATUS_FORBIDDEN, "only GET and HEAD are allowed");
          return;
        }
      if (!headers_allowed (want_headers))
        {
          respond_text (self, msg, SOUP_STATUS_FORBIDDEN, "request header not allowed");
          return;
        }
      soup_message_headers_replace (resp, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
      if (want_headers != NULL)
        soup_message_headers_replace (resp, "Access-Control-Allow-Headers", want_headers);
      soup_message_headers_replace (resp, "Access-Control-Max-Age", "600");
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
      return;
    }

  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      soup_message_headers_replace (resp, "Allow", "GET, HEAD, OPTIONS");
      respond_text (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "only GET, HEAD and OPTIONS");
      return;
    }

  if (raw_query != NULL && strlen (raw_query) > self->options.max_query_length)
    {
      g_autofree char *line = g_strdup_printf ("query too long: %zu bytes, at most %u",
                                               strlen (raw_query), self->options.max_query_length);

      respond_text (self, msg, SOUP_STATUS_REQUEST_URI_TOO_LONG, line);
      return;
    }

  if (g_str_equal (path, "/stream"))
    handle_stream (self, msg, query);
  else if (g_str_equal (path, "/"))
    handle_dashboard (self, msg, query);
  else if (g_str_equal (path, "/health"))
    handle_health (self, msg);
  else if (g_str_equal (path, "/metrics"))
    handle_metrics (self, msg);
  else if (g_str_equal (path, "/api/candles"))
    handle_api_candles (self, msg, query);
  else if (g_str_has_prefix (path, "/static/"))
    handle_static (self, msg, path + strlen ("/static/"), query);
  else
    respond_text (self, msg, SOUP_STATUS_NOT_FOUND, "not found");
}

/* ---- lifecycle -------------------------------------------------------- */

static GSocket *
listen_socket (SpotHttpServer *self, GError **error)
{
  g_autoptr (GInetAddress) address = NULL;
  g_autoptr (GSocketAddress) sockaddr = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) local = NULL;
  const char *host = self->options.host;

  if (host == NULL || host[0] == '\0')
    address = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
  else if (g_str_equal (host, "localhost"))
    address = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    address = g_inet_address_new_from_string (host);
  if (address == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO,
                   "HTTP_ADDR host \"%s\" is not an IP address (or localhost)", host);
      return NULL;
    }
  socket = g_socket_new (g_inet_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, &local);
  if (socket == NULL && (host == NULL || host[0] == '\0'))
    {
      /* No IPv6 on this machine: every IPv4 interface instead. */
      g_clear_error (&local);
      g_clear_object (&address);
      address = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
      socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                             &local);
    }
  if (socket == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "cannot create the HTTP socket: %s",
                   local->message);
      return NULL;
    }
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6
      && (host == NULL || host[0] == '\0'))
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, 0, NULL);
  sockaddr = g_inet_socket_address_new (address, self->options.port);
  if (!g_socket_bind (socket, sockaddr, TRUE, &local))
    {
      g_autofree char *where = g_inet_address_to_string (address);

      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "cannot bind HTTP_ADDR %s:%u: %s", where,
                   self->options.port, local->message);
      return NULL;
    }
  g_socket_set_listen_backlog (socket, (gint)self->options.backlog);
  if (!g_socket_listen (socket, &local))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "cannot listen on port %u: %s",
                   self->options.port, local->message);
      return NULL;
    }
  bound = g_socket_get_local_address (socket, &local);
  if (bound == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "cannot read the HTTP socket address: %s",
                   local->message);
      return NULL;
    }
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return g_steal_pointer (&socket);
}

gboolean
spot_http_server_start (SpotHttpServer *self, GError **error)
{
  g_autoptr (GError) local = NULL;

  g_return_val_if_fail (SPOT_IS_HTTP_SERVER (self), FALSE);
  g_return_val_if_fail (self->listener == NULL, FALSE);

  self->listener = listen_socket (self, error);
  if (self->listener == NULL)
    return FALSE;
  if (!soup_server_listen_socket (self->soup, self->listener, 0, &local))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "libsoup refused the HTTP socket: %s",
                   local->message);
      g_clear_object (&self->listener);
      return FALSE;
    }
  self->started_us = g_get_monotonic_time ();
  g_message ("HTTP listening on %s:%u (backlog %u)",
             self->options.host[0] != '\0' ? self->options.host : "*", self->port,
             self->options.backlog);
  return TRUE;
}

guint16
spot_http_server_get_port (SpotHttpServer *self)
{
  return self->port;
}

void
spot_http_server_get_stats (SpotHttpServer *self, SpotHttpStats *out)
{
  GHashTableIter iter;
  gpointer client;

  *out = self->stats;
  out->sse_clients = g_hash_table_size (self->clients);
  g_hash_table_iter_init (&iter, self->clients);
  while (g_hash_table_iter_next (&iter, &client, NULL))
    {
      SpotSseClientStats cs;

      spot_sse_client_get_stats (client, &cs);
      out->sse_coalesced += cs.coalesced;
    }
}

static void
finish_stop (SpotHttpServer *self)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->stop_task);

  g_clear_handle_id (&self->stop_timeout_id, g_source_remove);
  soup_server_disconnect (self->soup);
  g_clear_object (&self->listener);
  g_hash_table_remove_all (self->clients);
  g_message ("HTTP server stopped");
  if (task != NULL)
    g_task_return_boolean (task, TRUE);
}

static void
check_stop_done (SpotHttpServer *self)
{
  if (self->stop_task != NULL && g_hash_table_size (self->clients) == 0 && self->handled == 0)
    finish_stop (self);
}

static gboolean
on_stop_timeout (gpointer user_data)
{
  SpotHttpServer *self = user_data;

  self->stop_timeout_id = 0;
  g_message ("HTTP stop: %u streams and %u requests still open after %u ms, closing them",
             g_hash_table_size (self->clients), self->handled, self->options.shutdown_timeout_ms);
  finish_stop (self);
  return G_SOURCE_REMOVE;
}

void
spot_http_server_stop_async (SpotHttpServer *self,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr (GPtrArray) clients = NULL;
  GHashTableIter iter;
  gpointer client;

  g_task_set_source_tag (task, spot_http_server_stop_async);
  if (self->stop_task != NULL || self->listener == NULL)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  self->stopping = TRUE;
  self->stop_task = task;
  /* Ending a stream may finish it synchronously: iterate over a copy. */
  clients = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, self->clients);
  while (g_hash_table_iter_next (&iter, &client, NULL))
    g_ptr_array_add (clients, client);
  for (guint i = 0; i < clients->len; i++)
    spot_sse_client_end (g_ptr_array_index (clients, i));
  self->stop_timeout_id = g_timeout_add (self->options.shutdown_timeout_ms, on_stop_timeout, self);
  check_stop_done (self);
}

gboolean
spot_http_server_stop_finish (SpotHttpServer *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
spot_http_server_set_live_cache (SpotHttpServer *self, SpotLiveCache *cache)
{
  g_set_object (&self->cache, cache);
}

void
spot_http_server_set_hub (SpotHttpServer *self, SpotCandleHub *hub)
{
  g_set_object (&self->hub, hub);
}

void
spot_http_server_set_repository (SpotHttpServer *self, SpotRepository *repository)
{
  g_set_object (&self->repository, repository);
}

void
spot_http_server_set_metrics (SpotHttpServer *self, SpotMetrics *metrics)
{
  self->metrics = metrics != NULL ? metrics : spot_metrics_get_default ();
}

void
spot_http_server_set_health (SpotHttpServer *self, SpotHealth *health)
{
  g_clear_pointer (&self->health, spot_health_unref);
  if (health != NULL)
    self->health = spot_health_ref (health);
}

static void
spot_http_server_dispose (GObject *object)
{
  SpotHttpServer *self = SPOT_HTTP_SERVER (object);

  g_clear_handle_id (&self->stop_timeout_id, g_source_remove);
  if (self->soup != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->soup, self);
      soup_server_disconnect (self->soup);
    }
  if (self->clients != NULL)
    g_hash_table_remove_all (self->clients);
  g_clear_object (&self->soup);
  g_clear_object (&self->listener);
  g_clear_object (&self->cache);
  g_clear_object (&self->hub);
  g_clear_object (&self->repository);
  g_clear_pointer (&self->health, spot_health_unref);
  G_OBJECT_CLASS (spot_http_server_parent_class)->dispose (object);
}

static void
spot_http_server_finalize (GObject *object)
{
  SpotHttpServer *self = SPOT_HTTP_SERVER (object);

  g_clear_pointer (&self->clients, g_hash_table_unref);
  g_clear_pointer (&self->assets, spot_static_assets_free);
  spot_http_options_clear (&self->options);
  G_OBJECT_CLASS (spot_http_server_parent_class)->finalize (object);
}

static void
spot_http_server_class_init (SpotHttpServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = spot_http_server_dispose;
  object_class->finalize = spot_http_server_finalize;
}

static void
spot_http_server_init (SpotHttpServer *self)
{
  self->clients = g_hash_table_new_full (NULL, NULL, (GDestroyNotify)spot_sse_client_free, NULL);
  self->assets = spot_static_assets_new ();
  self->metrics = spot_metrics_get_default ();
}

SpotHttpServer *
spot_http_server_new (const SpotHttpOptions *options)
{
  SpotHttpServer *self = g_object_new (SPOT_TYPE_HTTP_SERVER, NULL);

  options_copy (&self->options, options);
  self->soup = soup_server_new ("server-header", PACKAGE_NAME "/" PACKAGE_VERSION, NULL);
  soup_server_add_handler (self->soup, NULL, server_callback, self, NULL);
  g_signal_connect (self->soup, "request-started", G_CALLBACK (on_request_started), self);
  g_signal_connect (self->soup, "request-finished", G_CALLBACK (on_request_finished), self);
  g_signal_connect (self->soup, "request-aborted", G_CALLBACK (on_request_aborted), self);
  self->started_us = g_get_monotonic_time ();
  return self;
}
