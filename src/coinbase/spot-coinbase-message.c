/* spot-coinbase-message.c: WebSocket frames to typed events with json-glib. */
#define G_LOG_DOMAIN "spot-coinbase"

#include "coinbase/spot-coinbase-message.h"
#include "coinbase/spot-coinbase-fast.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "core/spot-error.h"
#include "model/spot-decimal.h"
#include "model/spot-product.h"
#include "model/spot-time.h"
#include "model/spot-trade.h"

struct _SpotCoinbaseParser
{
  JsonParser *json;
  gboolean json_only; /* tests and the fuzz oracle: skip the lean parser */
};

const char *
spot_coinbase_message_kind_to_string (SpotCoinbaseMessageKind kind)
{
  switch (kind)
    {
    case SPOT_COINBASE_MESSAGE_MARKET_TRADES:
      return "market_trades";
    case SPOT_COINBASE_MESSAGE_CANDLES:
      return "candles";
    case SPOT_COINBASE_MESSAGE_HEARTBEATS:
      return "heartbeats";
    case SPOT_COINBASE_MESSAGE_SUBSCRIPTIONS:
      return "subscriptions";
    case SPOT_COINBASE_MESSAGE_ERROR:
      return "error";
    case SPOT_COINBASE_MESSAGE_UNKNOWN:
    default:
      return "unknown";
    }
}

void
spot_coinbase_message_init (SpotCoinbaseMessage *msg)
{
  memset (msg, 0, sizeof *msg);
  msg->sequence_num = -1;
  msg->heartbeat_counter = -1;
}

void
spot_coinbase_message_clear (SpotCoinbaseMessage *msg)
{
  g_clear_pointer (&msg->trades, spot_trade_batch_free);
  g_clear_pointer (&msg->candles, g_array_unref);
  g_clear_pointer (&msg->subscriptions, g_array_unref);
  g_clear_pointer (&msg->rejected, g_array_unref);
  g_clear_pointer (&msg->error_message, g_free);
  g_clear_pointer (&msg->first_reject_reason, g_free);
  spot_coinbase_message_init (msg);
}

SpotCoinbaseParser *
spot_coinbase_parser_new (void)
{
  SpotCoinbaseParser *parser = g_new0 (SpotCoinbaseParser, 1);
  /* Immutable: no copy of every string node into a builder tree is kept
   * around longer than necessary. */
  parser->json = json_parser_new_immutable ();
  return parser;
}

void
spot_coinbase_parser_set_json_only (SpotCoinbaseParser *parser, gboolean json_only)
{
  parser->json_only = json_only;
}

void
spot_coinbase_parser_free (SpotCoinbaseParser *parser)
{
  if (parser == NULL)
    return;
  g_clear_object (&parser->json);
  g_free (parser);
}

gboolean
spot_coinbase_parse_amount (
    const char *text, gsize len, gboolean allow_zero, SpotDecimal *out, GError **error)
{
  SpotDecimal d;
  if (!spot_decimal_parse (text, (gssize)len, &d, error))
    return FALSE;
  if (d.units < 0 || (!allow_zero && d.units == 0))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "amount \"%.*s\" must be %s",
                   (int)MIN (len, 48), text, allow_zero ? "zero or positive" : "positive");
      return FALSE;
    }
  /* Integer digits = total digits minus scale; count them from the text. */
  gsize int_digits = 0;
  for (gsize i = 0; i < len && text[i] != '.'; i++)
    if (text[i] >= '0' && text[i] <= '9')
      int_digits++;
  if (int_digits > SPOT_COINBASE_MAX_INTEGER_DIGITS)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "amount \"%.*s\" is absurdly large (more than %d integer digits)",
                   (int)MIN (len, 48), text, SPOT_COINBASE_MAX_INTEGER_DIGITS);
      return FALSE;
    }
  *out = d;
  return TRUE;
}

/* The string value of member @name, or NULL when missing or not a string. */
static const char *
get_string (JsonObject *obj, const char *name, gsize *len)
{
  JsonNode *node = json_object_get_member (obj, name);
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  const char *s = json_node_get_string (node);
  if (len != NULL)
    *len = strlen (s);
  return s;
}

static void
reject (SpotCoinbaseMessage *out, const char *product_id, gint64 time_ns, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

static void
reject (SpotCoinbaseMessage *out, const char *product_id, gint64 time_ns, const char *fmt, ...)
{
  out->n_rejected++;
  if (out->first_reject_reason == NULL)
    {
      va_list ap;
      va_start (ap, fmt);
      out->first_reject_reason = g_strdup_vprintf (fmt, ap);
      va_end (ap);
    }
  if (product_id != NULL && time_ns != 0)
    {
      if (out->rejected == NULL)
        out->rejected = g_array_new (FALSE, FALSE, sizeof (SpotCoinbaseRejected));
      SpotCoinbaseRejected r = { 0 };
      g_strlcpy (r.product_id, product_id, sizeof r.product_id);
      r.time_ns = time_ns;
      g_array_append_val (out->rejected, r);
    }
}

static gboolean
parse_product (const char *id, char dest[SPOT_PRODUCT_ID_SIZE])
{
  if (id == NULL || strlen (id) >= SPOT_PRODUCT_ID_SIZE || !spot_product_id_validate (id, NULL))
    return FALSE;
  g_strlcpy (dest, id, SPOT_PRODUCT_ID_SIZE);
  return TRUE;
}

static void
parse_trade (SpotCoinbaseMessage *out, JsonNode *node)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      reject (out, NULL, 0, "trade is not an object");
      return;
    }
  JsonObject *t = json_node_get_object (node);
  gsize len = 0;
  char product[SPOT_PRODUCT_ID_SIZE] = "";
  const char *pid = get_string (t, "product_id", NULL);
  if (!parse_product (pid, product))
    {
      reject (out, NULL, 0, "trade without a valid product_id");
      return;
    }
  gint64 time_ns = 0;
  const char *time_s = get_string (t, "time", &len);
  if (time_s == NULL || !spot_time_parse_rfc3339 (time_s, (gssize)len, &time_ns, NULL))
    {
      reject (out, NULL, 0, "trade of %s without a valid time", product);
      return;
    }
  if (time_ns < SPOT_COINBASE_MIN_TIME_NS
      || (out->timestamp_ns != 0 && time_ns > out->timestamp_ns + SPOT_COINBASE_MAX_FUTURE_NS))
    {
      reject (out, NULL, 0, "trade of %s has an absurd time %s", product, time_s);
      return;
    }

  SpotTrade *trade = spot_trade_batch_add (out->trades);
  gboolean ok = TRUE;
  const char *why = NULL;
  const char *id_s = get_string (t, "trade_id", &len);
  if (id_s == NULL || !spot_trade_id_parse (id_s, (gssize)len, &trade->trade_id, NULL)
      || trade->trade_id == 0)
    ok = FALSE, why = "trade_id";
  const char *price_s = ok ? get_string (t, "price", &len) : NULL;
  if (ok
      && (price_s == NULL
          || !spot_coinbase_parse_amount (price_s, len, FALSE, &trade->price, NULL)))
    ok = FALSE, why = "price";
  const char *size_s = ok ? get_string (t, "size", &len) : NULL;
  if (ok
      && (size_s == NULL || !spot_coinbase_parse_amount (size_s, len, FALSE, &trade->size, NULL)))
    ok = FALSE, why = "size";
  if (!ok)
    {
      out->trades->n_trades--;
      reject (out, product, time_ns, "trade of %s has a missing or invalid %s", product, why);
      return;
    }
  const char *side = get_string (t, "side", NULL);
  if (side != NULL && strcmp (side, "BUY") == 0)
    trade->side = SPOT_TRADE_SIDE_BUY;
  else if (side != NULL && strcmp (side, "SELL") == 0)
    trade->side = SPOT_TRADE_SIDE_SELL;
  else
    trade->side = SPOT_TRADE_SIDE_UNKNOWN;
  memcpy (trade->product_id, product, sizeof product);
  trade->time_ns = time_ns;
  trade->message_ns = out->timestamp_ns;
}

static void
parse_candle (SpotCoinbaseMessage *out, JsonNode *node)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      reject (out, NULL, 0, "candle is not an object");
      return;
    }
  JsonObject *o = json_node_get_object (node);
  SpotCandle c;
  memset (&c, 0, sizeof c);
  if (!parse_product (get_string (o, "product_id", NULL), c.product_id))
    {
      reject (out, NULL, 0, "candle without a valid product_id");
      return;
    }
  gsize len = 0;
  const char *start_s = get_string (o, "start", &len);
  gint64 start = 0;
  if (start_s == NULL
      || !g_ascii_string_to_signed (start_s, 10, SPOT_COINBASE_MIN_TIME_NS / SPOT_NS_PER_SECOND,
                                    G_GINT64_CONSTANT (4102444800), &start, NULL)
      || start % 300 != 0)
    {
      reject (out, NULL, 0, "candle of %s without a valid start", c.product_id);
      return;
    }
  struct
  {
    const char *name;
    SpotDecimal *dest;
    gboolean zero_ok;
  } fields[] = {
    { "open", &c.open, FALSE },   { "high", &c.high, FALSE },    { "low", &c.low, FALSE },
    { "close", &c.close, FALSE }, { "volume", &c.volume, TRUE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      const char *v = get_string (o, fields[i].name, &len);
      if (v == NULL
          || !spot_coinbase_parse_amount (v, len, fields[i].zero_ok, fields[i].dest, NULL))
        {
          reject (out, NULL, 0, "candle of %s has a missing or invalid %s", c.product_id,
                  fields[i].name);
          return;
        }
    }
  c.granularity = SPOT_GRANULARITY_FIVE_MINUTE;
  c.start = start;
  c.trades = SPOT_CANDLE_TRADES_UNKNOWN;
  c.last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  c.ts_ns = out->timestamp_ns;
  if (!spot_candle_validate (&c, NULL))
    {
      reject (out, NULL, 0, "candle of %s at %" G_GINT64_FORMAT " is inconsistent", c.product_id,
              start);
      return;
    }
  g_array_append_val (out->candles, c);
}

static void
parse_heartbeat (SpotCoinbaseMessage *out, JsonNode *node)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      reject (out, NULL, 0, "heartbeat is not an object");
      return;
    }
  JsonNode *c = json_object_get_member (json_node_get_object (node), "heartbeat_counter");
  gint64 v = -1;
  if (c != NULL && JSON_NODE_TYPE (c) == JSON_NODE_VALUE)
    {
      GType type = json_node_get_value_type (c);
      if (type == G_TYPE_INT64)
        v = json_node_get_int (c);
      else if (type == G_TYPE_STRING
               && !g_ascii_string_to_signed (json_node_get_string (c), 10, 0, G_MAXINT64, &v, NULL))
        v = -1;
    }
  if (v < 0)
    reject (out, NULL, 0, "heartbeat without a valid heartbeat_counter");
  else
    out->heartbeat_counter = v;
}

static void
parse_subscriptions (SpotCoinbaseMessage *out, JsonNode *node)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return;
  JsonNode *subs = json_object_get_member (json_node_get_object (node), "subscriptions");
  if (subs == NULL || !JSON_NODE_HOLDS_OBJECT (subs))
    return;
  JsonObjectIter iter;
  const char *channel;
  JsonNode *list;
  json_object_iter_init (&iter, json_node_get_object (subs));
  while (json_object_iter_next (&iter, &channel, &list))
    {
      SpotCoinbaseSubscription s = { 0 };
      if (strlen (channel) >= sizeof s.channel)
        continue;
      g_strlcpy (s.channel, channel, sizeof s.channel);
      if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list)
          || json_array_get_length (json_node_get_array (list)) == 0)
        {
          g_array_append_val (out->subscriptions, s);
          continue;
        }
      JsonArray *arr = json_node_get_array (list);
      for (guint i = 0; i < json_array_get_length (arr); i++)
        {
          JsonNode *e = json_array_get_element (arr, i);
          if (JSON_NODE_TYPE (e) != JSON_NODE_VALUE
              || json_node_get_value_type (e) != G_TYPE_STRING)
            continue;
          if (!parse_product (json_node_get_string (e), s.product_id))
            s.product_id[0] = '\0';
          g_array_append_val (out->subscriptions, s);
        }
    }
}

gboolean
spot_coinbase_parser_parse (SpotCoinbaseParser *parser,
                            const char *data,
                            gsize len,
                            gint64 receive_ns,
                            gint connection_id,
                            SpotCoinbaseMessage *out,
                            GError **error)
{
  g_return_val_if_fail (parser != NULL && out != NULL, FALSE);
  spot_coinbase_message_clear (out);
  if (data == NULL)
    data = ""; /* an empty frame (GBytes gives NULL) */
  /* The hot shape first; anything unusual takes the full path below. */
  if (!parser->json_only
      && spot_coinbase_fast_parse_trades (data, len, receive_ns, connection_id, out))
    return TRUE;
  if (len > G_MAXSSIZE || !json_parser_load_from_data (parser->json, data, (gssize)len, error))
    {
      g_prefix_error (error, "frame of %" G_GSIZE_FORMAT " bytes is not JSON: ", len);
      if (error != NULL && *error != NULL && (*error)->domain != SPOT_ERROR)
        {
          (*error)->domain = SPOT_ERROR;
          (*error)->code = SPOT_ERROR_PARSE;
        }
      return FALSE;
    }
  JsonNode *root = json_parser_get_root (parser->json);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "frame of %" G_GSIZE_FORMAT " bytes is not a JSON object", len);
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (root);

  const char *channel = get_string (obj, "channel", NULL);
  if (channel == NULL)
    {
      const char *type = get_string (obj, "type", NULL);
      if (type != NULL && strcmp (type, "error") == 0)
        {
          const char *m = get_string (obj, "message", NULL);
          out->kind = SPOT_COINBASE_MESSAGE_ERROR;
          out->error_message = g_strdup (m != NULL ? m : "");
          return TRUE;
        }
      if (type == NULL && json_object_has_member (obj, "channel"))
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "channel is not a string");
          return FALSE;
        }
      out->kind = SPOT_COINBASE_MESSAGE_UNKNOWN;
      return TRUE;
    }

  if (strcmp (channel, "market_trades") == 0)
    out->kind = SPOT_COINBASE_MESSAGE_MARKET_TRADES;
  else if (strcmp (channel, "candles") == 0)
    out->kind = SPOT_COINBASE_MESSAGE_CANDLES;
  else if (strcmp (channel, "heartbeats") == 0)
    out->kind = SPOT_COINBASE_MESSAGE_HEARTBEATS;
  else if (strcmp (channel, "subscriptions") == 0)
    out->kind = SPOT_COINBASE_MESSAGE_SUBSCRIPTIONS;
  else
    out->kind = SPOT_COINBASE_MESSAGE_UNKNOWN;

  /* Envelope: sequence_num and timestamp, when present, must be well typed. */
  JsonNode *seq = json_object_get_member (obj, "sequence_num");
  if (seq != NULL)
    {
      if (JSON_NODE_TYPE (seq) != JSON_NODE_VALUE || json_node_get_value_type (seq) != G_TYPE_INT64
          || json_node_get_int (seq) < 0)
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                       "%s message: sequence_num is not a non-negative integer", channel);
          return FALSE;
        }
      out->sequence_num = json_node_get_int (seq);
    }
  gsize ts_len = 0;
  const char *ts = get_string (obj, "timestamp", &ts_len);
  if (ts != NULL)
    {
      if (!spot_time_parse_rfc3339 (ts, (gssize)ts_len, &out->timestamp_ns, error))
        {
          g_prefix_error (error, "%s message: timestamp: ", channel);
          return FALSE;
        }
    }
  else if (json_object_has_member (obj, "timestamp"))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "%s message: timestamp is not a string",
                   channel);
      return FALSE;
    }
  if (out->kind == SPOT_COINBASE_MESSAGE_UNKNOWN)
    return TRUE;

  JsonNode *events_node = json_object_get_member (obj, "events");
  if (events_node == NULL || !JSON_NODE_HOLDS_ARRAY (events_node))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "%s message: events is missing or not an array", channel);
      return FALSE;
    }
  if (out->kind != SPOT_COINBASE_MESSAGE_SUBSCRIPTIONS && out->timestamp_ns == 0)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "%s message without a timestamp", channel);
      return FALSE;
    }
  JsonArray *events = json_node_get_array (events_node);
  guint n_events = json_array_get_length (events);

  switch (out->kind)
    {
    case SPOT_COINBASE_MESSAGE_MARKET_TRADES:
      out->trades = spot_trade_batch_new (16);
      out->trades->message_ns = out->timestamp_ns;
      out->trades->receive_ns = receive_ns;
      out->trades->connection_id = connection_id;
      break;
    case SPOT_COINBASE_MESSAGE_CANDLES:
      out->candles = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
      break;
    case SPOT_COINBASE_MESSAGE_SUBSCRIPTIONS:
      out->subscriptions = g_array_new (FALSE, FALSE, sizeof (SpotCoinbaseSubscription));
      break;
    default:
      break;
    }

  for (guint e = 0; e < n_events; e++)
    {
      JsonNode *ev = json_array_get_element (events, e);
      if (out->kind == SPOT_COINBASE_MESSAGE_HEARTBEATS)
        {
          parse_heartbeat (out, ev);
          continue;
        }
      if (out->kind == SPOT_COINBASE_MESSAGE_SUBSCRIPTIONS)
        {
          parse_subscriptions (out, ev);
          continue;
        }
      if (!JSON_NODE_HOLDS_OBJECT (ev))
        {
          reject (out, NULL, 0, "%s event is not an object", channel);
          continue;
        }
      JsonObject *evo = json_node_get_object (ev);
      const char *type = get_string (evo, "type", NULL);
      if (type != NULL && strcmp (type, "snapshot") == 0)
        out->snapshot = TRUE;
      else if (type == NULL || strcmp (type, "update") != 0)
        {
          /* An unknown event type is ignored like an unknown channel. */
          continue;
        }
      const char *member = out->kind == SPOT_COINBASE_MESSAGE_MARKET_TRADES ? "trades" : "candles";
      JsonNode *items = json_object_get_member (evo, member);
      if (items == NULL || !JSON_NODE_HOLDS_ARRAY (items))
        {
          reject (out, NULL, 0, "%s event: %s is missing or not an array", channel, member);
          continue;
        }
      JsonArray *arr = json_node_get_array (items);
      guint n = json_array_get_length (arr);
      for (guint i = 0; i < n; i++)
        {
          if (out->kind == SPOT_COINBASE_MESSAGE_MARKET_TRADES)
            parse_trade (out, json_array_get_element (arr, i));
          else
            parse_candle (out, json_array_get_element (arr, i));
        }
    }
  return TRUE;
}
