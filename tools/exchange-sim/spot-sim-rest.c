/* spot-sim-rest.c: the simulator's public REST market endpoints and its
 * control endpoint (/_sim/stats, /_sim/fault). */
#define G_LOG_DOMAIN "spot-exchange-sim"

#include <string.h>

#include "spot-sim-server-private.h"

static const struct
{
  const char *name;
  gint64 seconds;
} granularities[] = {
  { "ONE_MINUTE", 60 },      { "FIVE_MINUTE", 300 }, { "FIFTEEN_MINUTE", 900 },
  { "THIRTY_MINUTE", 1800 }, { "ONE_HOUR", 3600 },   { "TWO_HOUR", 7200 },
  { "FOUR_HOUR", 14400 },    { "SIX_HOUR", 21600 },  { "ONE_DAY", 86400 },
};

/* ---- REST ------------------------------------------------------------- */

static void
respond_json (SoupServerMessage *msg, guint status, GString *body)
{
  gsize len = body->len;
  /* libsoup 3.2 leaks the socket of a keep-alive connection that the client
   * closes (fixed upstream in 3.3): close every connection ourselves. */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    g_string_free (body, FALSE), len);
}

static void
respond_error (SoupServerMessage *msg, guint status, const char *code, const char *message)
{
  GString *s = g_string_new ("{\"error\":");
  spot_sim_append_json_string (s, code);
  g_string_append (s, ",\"error_details\":");
  spot_sim_append_json_string (s, message);
  g_string_append (s, ",\"message\":");
  spot_sim_append_json_string (s, message);
  g_string_append_c (s, '}');
  respond_json (msg, status, s);
}

static void
append_product (SpotSimServer *self, GString *s, guint p)
{
  const SpotSimProductInfo *info = spot_sim_market_product (self->market, p);
  g_autofree char *base_inc = spot_sim_increment_string (info->base_exp);
  g_autofree char *quote_inc = spot_sim_increment_string (info->quote_exp);
  g_string_append (s, "{\"product_id\":");
  spot_sim_append_json_string (s, info->product_id);
  g_string_append (s, ",\"price\":\"");
  spot_sim_format_decimal (s, spot_sim_market_last_price (self->market, p), info->quote_exp, TRUE);
  g_string_append_printf (
      s,
      "\",\"price_percentage_change_24h\":\"0\",\"volume_24h\":\"0\","
      "\"volume_percentage_change_24h\":\"0\",\"base_increment\":\"%s\","
      "\"quote_increment\":\"%s\",\"quote_min_size\":\"1\",\"quote_max_size\":\"10000000\","
      "\"base_min_size\":\"%s\",\"base_max_size\":\"100000000000\","
      "\"base_name\":\"%s\",\"quote_name\":\"%s\",\"watched\":false,\"is_disabled\":false,"
      "\"new\":false,\"status\":\"online\",\"cancel_only\":false,\"limit_only\":false,"
      "\"post_only\":false,\"trading_disabled\":false,\"auction_mode\":false,"
      "\"product_type\":\"SPOT\",\"quote_currency_id\":\"%s\",\"base_currency_id\":\"%s\","
      "\"fcm_trading_session_details\":null,\"mid_market_price\":\"\",\"alias\":\"\","
      "\"alias_to\":[],\"base_display_symbol\":\"%s\",\"quote_display_symbol\":\"%s\","
      "\"view_only\":false,\"price_increment\":\"%s\",\"display_name\":\"%s\","
      "\"product_venue\":\"CBE\",\"approximate_quote_24h_volume\":\"0\"}",
      base_inc, quote_inc, base_inc, info->base, info->quote, info->quote, info->base, info->base,
      info->quote, quote_inc, info->product_id);
}

static gboolean
parse_i64 (const char *text, gint64 *out)
{
  return text != NULL && g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, out, NULL);
}

static void
rest_candles (SpotSimServer *self, SoupServerMessage *msg, guint p, GHashTable *query)
{
  const char *gname = query != NULL ? g_hash_table_lookup (query, "granularity") : NULL;
  const char *start_s = query != NULL ? g_hash_table_lookup (query, "start") : NULL;
  const char *end_s = query != NULL ? g_hash_table_lookup (query, "end") : NULL;
  const char *limit_s = query != NULL ? g_hash_table_lookup (query, "limit") : NULL;
  gint64 g = 0, start = 0, end = 0, limit = 350;
  for (guint i = 0; gname != NULL && i < G_N_ELEMENTS (granularities); i++)
    if (g_str_equal (granularities[i].name, gname))
      g = granularities[i].seconds;
  if (g == 0)
    {
      respond_error (msg, 400, "INVALID_ARGUMENT", "granularity argument is invalid");
      return;
    }
  if (!parse_i64 (start_s, &start) || !parse_i64 (end_s, &end) || start < 0 || end < start)
    {
      respond_error (msg, 400, "INVALID_ARGUMENT", "start and end argument is invalid");
      return;
    }
  if ((end - start) / g > 350)
    {
      respond_error (msg, 400, "INVALID_ARGUMENT",
                     "start and end argument is invalid - number of candles requested should be "
                     "less than 350");
      return;
    }
  if (limit_s != NULL && (!parse_i64 (limit_s, &limit) || limit < 1 || limit > 350))
    {
      respond_error (msg, 400, "INVALID_ARGUMENT",
                     "limit argument is invalid - should be between 1 and 350");
      return;
    }
  if (self->rest_refuse_from_s > 0 && g >= self->rest_refuse_from_s)
    {
      self->rest_candles_refused++;
      respond_error (msg, 503, "UNAVAILABLE", "candles temporarily unavailable (rest-candles fault)");
      return;
    }
  /* Bring the log up to now so the open bucket is current, and send those
   * trades at once: REST never shows a trade subscribers were not offered. */
  spot_sim_server_flush (self, (gint)p);

  g_autoptr (GArray) candles
      = spot_sim_market_candles (self->market, p, g, start, end, (guint)limit);
  GString *s = g_string_new ("{\"candles\":[");
  for (guint i = 0; i < candles->len; i++)
    {
      if (i > 0)
        g_string_append_c (s, ',');
      spot_sim_append_candle (s, spot_sim_market_product (self->market, p),
                              &g_array_index (candles, SpotSimCandle, i), FALSE);
    }
  g_string_append (s, "]}");
  respond_json (msg, 200, s);
}

static void
rest_cb (
    SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  SpotSimServer *self = data;
  if (g_strcmp0 (soup_server_message_get_method (msg), "GET") != 0)
    {
      respond_error (msg, 405, "METHOD_NOT_ALLOWED", "only GET is allowed");
      return;
    }
  if (g_str_equal (path, "/api/v3/brokerage/time"))
    {
      gint64 ns = spot_sim_server_now_ns (self);
      GString *s = g_string_new ("{\"iso\":\"");
      spot_sim_append_rfc3339_ns (s, ns - ns % 1000000);
      g_string_append_printf (s,
                              "\",\"epochSeconds\":\"%" G_GINT64_FORMAT
                              "\",\"epochMillis\":\"%" G_GINT64_FORMAT "\"}",
                              ns / 1000000000, ns / 1000000);
      respond_json (msg, 200, s);
      return;
    }

  const char *rest = NULL;
  if (g_str_has_prefix (path, "/api/v3/brokerage/market/products"))
    rest = path + strlen ("/api/v3/brokerage/market/products");
  else if (g_str_has_prefix (path, "/api/v3/brokerage/products"))
    rest = path + strlen ("/api/v3/brokerage/products");
  if (rest == NULL)
    {
      respond_error (msg, 404, "NOT_FOUND", "Not Found");
      return;
    }

  guint n = spot_sim_market_n_products (self->market);
  if (*rest == '\0' || g_str_equal (rest, "/"))
    {
      const char *type = query != NULL ? g_hash_table_lookup (query, "product_type") : NULL;
      const char *ids = query != NULL ? g_hash_table_lookup (query, "product_ids") : NULL;
      gint64 limit = G_MAXINT64, offset = 0;
      if (query != NULL && g_hash_table_contains (query, "limit")
          && (!parse_i64 (g_hash_table_lookup (query, "limit"), &limit) || limit < 0))
        {
          respond_error (msg, 400, "INVALID_ARGUMENT", "limit argument is invalid");
          return;
        }
      if (query != NULL && g_hash_table_contains (query, "offset")
          && (!parse_i64 (g_hash_table_lookup (query, "offset"), &offset) || offset < 0))
        {
          respond_error (msg, 400, "INVALID_ARGUMENT", "offset argument is invalid");
          return;
        }
      if (limit == 0)
        limit = G_MAXINT64;
      /* Coinbase repeats the parameter (product_ids=A&product_ids=B); the
       * table libsoup hands us keeps one, so read the raw query. */
      g_autoptr (GPtrArray) wanted_list = g_ptr_array_new_with_free_func (g_free);
      const char *raw = g_uri_get_query (soup_server_message_get_uri (msg));
      g_auto (GStrv) pairs = ids != NULL && raw != NULL ? g_strsplit (raw, "&", -1) : NULL;
      for (guint i = 0; pairs != NULL && pairs[i] != NULL; i++)
        {
          if (!g_str_has_prefix (pairs[i], "product_ids="))
            continue;
          g_autofree char *value = g_uri_unescape_string (pairs[i] + strlen ("product_ids="), NULL);
          g_auto (GStrv) items = value != NULL ? g_strsplit (value, ",", -1) : NULL;
          for (guint k = 0; items != NULL && items[k] != NULL; k++)
            g_ptr_array_add (wanted_list, g_strdup (items[k]));
        }
      g_ptr_array_add (wanted_list, NULL);
      const char *const *wanted = ids != NULL ? (const char *const *)wanted_list->pdata : NULL;
      GString *s = g_string_new ("{\"products\":[");
      gint64 listed = 0, seen = 0;
      for (guint p = 0; p < n; p++)
        {
          if (type != NULL && g_ascii_strcasecmp (type, "SPOT") != 0)
            break;
          if (wanted != NULL
              && !g_strv_contains (wanted, spot_sim_market_product (self->market, p)->product_id))
            continue;
          if (seen++ < offset || listed >= limit)
            continue;
          if (listed++ > 0)
            g_string_append_c (s, ',');
          append_product (self, s, p);
        }
      g_string_append_printf (s, "],\"num_products\":%" G_GINT64_FORMAT "}", listed);
      respond_json (msg, 200, s);
      return;
    }

  g_auto (GStrv) parts = g_strsplit (rest + 1, "/", -1);
  gint p = spot_sim_market_find (self->market, parts[0]);
  if (p < 0)
    {
      g_autofree char *m = g_strdup_printf ("ProductID %s not found", parts[0]);
      respond_error (msg, 404, "NOT_FOUND", m);
      return;
    }
  if (parts[1] == NULL)
    {
      GString *s = g_string_new (NULL);
      append_product (self, s, (guint)p);
      respond_json (msg, 200, s);
    }
  else if (g_str_equal (parts[1], "candles") && parts[2] == NULL)
    rest_candles (self, msg, (guint)p, query);
  else
    respond_error (msg, 404, "NOT_FOUND", "Not Found");
}

/* ---- control endpoint ------------------------------------------------- */

static void
control_stats (SpotSimServer *self, SoupServerMessage *msg)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (
      s,
      "{\"uptime_s\":%.3f,\"skew_ms\":%" G_GINT64_FORMAT ",\"connections\":%u,"
      "\"connections_total\":%" G_GUINT64_FORMAT ",\"messages_sent\":%" G_GUINT64_FORMAT
      ",\"bytes_sent\":%" G_GUINT64_FORMAT ",\"trades_generated\":%" G_GUINT64_FORMAT
      ",\"trades_sent\":%" G_GUINT64_FORMAT ",\"trades_sent_last_second\":%" G_GUINT64_FORMAT
      ",\"slow_consumers_dropped\":%" G_GUINT64_FORMAT ",\"rest_candles_refused\":%" G_GUINT64_FORMAT
      ",\"products\":[",
      (double)(g_get_monotonic_time () - self->start_mono_us) / 1e6, self->skew_ms,
      self->conns->len, self->conns_total, self->messages_sent, self->bytes_sent,
      self->trades_generated_total, self->trades_sent_total, self->trades_sent_rate,
      self->slow_consumers_dropped, self->rest_candles_refused);
  guint n = spot_sim_market_n_products (self->market);
  for (guint p = 0; p < n; p++)
    g_string_append_printf (
        s,
        "%s{\"product_id\":\"%s\",\"trades_generated\":%" G_GUINT64_FORMAT
        ",\"trades_sent\":%" G_GUINT64_FORMAT ",\"last_trade_id\":\"%" G_GINT64_FORMAT "\"}",
        p == 0 ? "" : ",", spot_sim_market_product (self->market, p)->product_id,
        spot_sim_market_trades_generated (self->market, p), self->trades_sent[p],
        spot_sim_market_last_trade_id (self->market, p));
  g_string_append (s, "],\"connection_list\":[");
  for (guint i = 0; i < self->conns->len; i++)
    {
      Conn *c = g_ptr_array_index (self->conns, i);
      g_string_append_printf (
          s,
          "%s{\"id\":%u,\"peer\":\"%s\",\"market_trades\":%u,\"candles\":%u,"
          "\"heartbeats\":%s,\"sequence_num\":%" G_GINT64_FORMAT
          ",\"messages_sent\":%" G_GUINT64_FORMAT ",\"trades_sent\":%" G_GUINT64_FORMAT
          ",\"bytes_sent\":%" G_GUINT64_FORMAT ",\"backlog_bytes\":%" G_GUINT64_FORMAT
          ",\"delayed\":%u,\"batch_phase_us\":%" G_GINT64_FORMAT "}",
          i == 0 ? "" : ",", c->id, c->peer != NULL ? c->peer : "", c->trades_list->len,
          c->candles_list->len, c->heartbeats ? "true" : "false", c->seq, c->messages_sent,
          c->trades_sent, c->bytes_sent, c->backlog, g_queue_get_length (&c->delayed),
          c->batch_phase_clock_us % ((gint64)self->config.batch_ms * 1000));
    }
  g_string_append (s, "]}");
  respond_json (msg, 200, s);
}

static void
control_cb (
    SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  SpotSimServer *self = data;
  if (g_str_equal (path, "/_sim/stats"))
    {
      control_stats (self, msg);
      return;
    }
  if (!g_str_equal (path, "/_sim/fault"))
    {
      respond_error (msg, 404, "NOT_FOUND",
                     "control paths: /_sim/stats, POST /_sim/fault?kind=&connection=&value=");
      return;
    }
  if (g_strcmp0 (soup_server_message_get_method (msg), "POST") != 0)
    {
      respond_error (msg, 405, "METHOD_NOT_ALLOWED", "faults are applied with POST");
      return;
    }
  const char *kind_s = query != NULL ? g_hash_table_lookup (query, "kind") : NULL;
  const char *conn_s = query != NULL ? g_hash_table_lookup (query, "connection") : NULL;
  const char *value_s = query != NULL ? g_hash_table_lookup (query, "value") : NULL;
  SpotSimFaultKind kind;
  gint64 value = 0, conn_id = 0;
  if (!spot_sim_fault_kind_from_string (kind_s, &kind))
    {
      g_autofree char *m = g_strdup_printf (
          "kind=%s is not a fault (close1001 drop stall skip-sequence newest-first "
          "dup-snapshot oversized malformed wrong-type delay skew heartbeat-string clear)",
          kind_s != NULL ? kind_s : "");
      respond_error (msg, 400, "INVALID_ARGUMENT", m);
      return;
    }
  if (value_s == NULL)
    value = spot_sim_fault_default_value (kind);
  else if (!parse_i64 (value_s, &value))
    {
      respond_error (msg, 400, "INVALID_ARGUMENT", "value must be an integer");
      return;
    }
  if (conn_s != NULL && !g_str_equal (conn_s, "all")
      && (!parse_i64 (conn_s, &conn_id) || conn_id <= 0 || conn_id > G_MAXUINT))
    {
      respond_error (msg, 400, "INVALID_ARGUMENT", "connection must be all or a connection id");
      return;
    }
  guint applied = spot_sim_server_apply_fault (self, kind, (guint)conn_id, value);
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "{\"kind\":\"%s\",\"value\":%" G_GINT64_FORMAT ",\"applied\":%u}",
                          spot_sim_fault_kind_to_string (kind), value, applied);
  respond_json (msg, 200, s);
}

void
spot_sim_rest_register (SpotSimServer *self)
{
  soup_server_add_handler (self->soup, "/api", rest_cb, self, NULL);
  soup_server_add_handler (self->soup, "/_sim", control_cb, self, NULL);
}
