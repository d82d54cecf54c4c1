/* spot-candle-json.c: the one JSON form of a candle.
 *
 * Writing is by hand into the caller's GString (it runs for every published
 * update); reading uses json-glib and checks every field. */
#define G_LOG_DOMAIN "spot-model"

#include "model/spot-candle-json.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "core/spot-error.h"
#include "model/spot-time.h"
#include "model/spot-trade.h"

static void
append_u64 (GString *out, guint64 v)
{
  char tmp[24];
  char *p = tmp + sizeof tmp;

  do
    {
      *--p = (char)('0' + v % 10);
      v /= 10;
    }
  while (v != 0);
  g_string_append_len (out, p, (gssize)(tmp + sizeof tmp - p));
}

static void
append_i64 (GString *out, gint64 v)
{
  if (v < 0)
    {
      g_string_append_c (out, '-');
      append_u64 (out, -(guint64)v);
    }
  else
    append_u64 (out, (guint64)v);
}

/* Valid product ids need no escaping; anything else is escaped so the
 * output stays JSON whatever the struct holds. */
static void
append_json_string (GString *out, const char *s, gsize max)
{
  g_string_append_c (out, '"');
  for (gsize i = 0; i < max && s[i] != '\0'; i++)
    {
      guchar c = (guchar)s[i];
      if (c == '"' || c == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char)c);
        }
      else if (c < 0x20 || c >= 0x7f)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char)c);
    }
  g_string_append_c (out, '"');
}

static void
append_decimal_field (GString *out, const char *key, const SpotDecimal *d)
{
  char buf[SPOT_DECIMAL_BUFSIZE + 256];
  gsize n = spot_decimal_format (d, buf, sizeof buf);

  g_string_append (out, key);
  g_string_append_c (out, '"');
  g_string_append_len (out, buf, (gssize)n);
  g_string_append_c (out, '"');
}

void
spot_candle_json_append (GString *out, const SpotCandle *c)
{
  g_return_if_fail (out != NULL);
  g_return_if_fail (c != NULL);

  const char *gname = c->granularity >= 0 && c->granularity < SPOT_GRANULARITY_COUNT
                          ? spot_granularity_name (c->granularity)
                          : "INVALID";

  g_string_append (out, "{\"product_id\":");
  append_json_string (out, c->product_id, sizeof c->product_id);
  g_string_append (out, ",\"granularity\":\"");
  g_string_append (out, gname);
  g_string_append (out, "\",\"start\":");
  append_i64 (out, c->start);
  append_decimal_field (out, ",\"open\":", &c->open);
  append_decimal_field (out, ",\"high\":", &c->high);
  append_decimal_field (out, ",\"low\":", &c->low);
  append_decimal_field (out, ",\"close\":", &c->close);
  append_decimal_field (out, ",\"volume\":", &c->volume);
  g_string_append (out, ",\"trades\":");
  if (c->trades == SPOT_CANDLE_TRADES_UNKNOWN)
    g_string_append (out, "null");
  else
    append_i64 (out, c->trades);
  g_string_append (out, ",\"last_trade_id\":");
  if (c->last_trade_id == SPOT_CANDLE_TRADE_ID_UNKNOWN)
    g_string_append (out, "null");
  else
    {
      g_string_append_c (out, '"');
      append_u64 (out, c->last_trade_id);
      g_string_append_c (out, '"');
    }
  g_string_append (out,
                   c->complete ? ",\"complete\":true,\"rev\":" : ",\"complete\":false,\"rev\":");
  append_u64 (out, c->rev);
  g_string_append (out, ",\"ts\":");
  if (c->ts_ns == SPOT_CANDLE_TS_UNKNOWN)
    g_string_append (out, "null}");
  else
    {
      char buf[SPOT_TIME_BUFSIZE];
      gsize n = spot_time_format_rfc3339 (c->ts_ns, buf, sizeof buf);
      g_string_append_c (out, '"');
      g_string_append_len (out, buf, (gssize)n);
      g_string_append (out, "\"}");
    }
}

char *
spot_candle_to_json (const SpotCandle *candle)
{
  GString *out = g_string_sized_new (320);

  spot_candle_json_append (out, candle);
  return g_string_free (out, FALSE);
}

static const char *
node_kind (JsonNode *node)
{
  if (JSON_NODE_HOLDS_NULL (node))
    return "null";
  if (JSON_NODE_HOLDS_OBJECT (node))
    return "an object";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "an array";
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      return "a string";
    case G_TYPE_INT64:
      return "an integer";
    case G_TYPE_DOUBLE:
      return "a fractional number";
    case G_TYPE_BOOLEAN:
      return "a boolean";
    default:
      return "an unexpected value";
    }
}

static gboolean field_error (GError **error, const char *field, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
field_error (GError **error, const char *field, const char *fmt, ...)
{
  va_list args;
  g_autofree char *why = NULL;

  va_start (args, fmt);
  why = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "candle JSON field \"%s\" %s", field, why);
  return FALSE;
}

/* The member @name; NULL (and an error) when it is missing, or when it is
 * null and @nullable is FALSE. *is_null tells a present null apart. */
static JsonNode *
get_member (JsonObject *obj, const char *name, gboolean nullable, gboolean *is_null, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  *is_null = FALSE;
  if (node == NULL)
    {
      field_error (error, name, "is missing");
      return NULL;
    }
  if (JSON_NODE_HOLDS_NULL (node))
    {
      if (!nullable)
        {
          field_error (error, name, "is null");
          return NULL;
        }
      *is_null = TRUE;
    }
  return node;
}

static const char *
get_string (JsonObject *obj, const char *name, gboolean nullable, GError **error, gboolean *ok)
{
  gboolean is_null;
  JsonNode *node = get_member (obj, name, nullable, &is_null, error);

  *ok = FALSE;
  if (node == NULL)
    return NULL;
  if (is_null)
    {
      *ok = TRUE;
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      field_error (error, name, "must be a string, not %s", node_kind (node));
      return NULL;
    }
  *ok = TRUE;
  return json_node_get_string (node);
}

/* FALSE with an error, or TRUE with *is_null or *out set. */
static gboolean
get_integer (JsonObject *obj,
             const char *name,
             gboolean nullable,
             gint64 *out,
             gboolean *is_null,
             GError **error)
{
  JsonNode *node = get_member (obj, name, nullable, is_null, error);

  if (node == NULL)
    return FALSE;
  if (*is_null)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return field_error (error, name, "must be an integer, not %s", node_kind (node));
  *out = json_node_get_int (node);
  return TRUE;
}

static gboolean
get_decimal (JsonObject *obj, const char *name, SpotDecimal *out, GError **error)
{
  gboolean ok;
  const char *text = get_string (obj, name, FALSE, error, &ok);
  g_autoptr (GError) local = NULL;

  if (!ok)
    return FALSE;
  if (!spot_decimal_parse (text, -1, out, &local))
    return field_error (error, name, "%s", local->message);
  return TRUE;
}

gboolean
spot_candle_from_json (const char *json, gssize len, SpotCandle *out, GError **error)
{
  g_return_val_if_fail (json != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  SpotCandle c = { 0 };
  JsonObject *obj;
  const char *text;
  gboolean ok, is_null;
  gint64 v;

  if (!json_parser_load_from_data (parser, json, len, &local))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "candle JSON is malformed: %s",
                   local->message);
      return FALSE;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "candle JSON must be an object, not %s",
                   root == NULL ? "empty" : node_kind (root));
      return FALSE;
    }
  obj = json_node_get_object (root);

  text = get_string (obj, "product_id", FALSE, error, &ok);
  if (!ok)
    return FALSE;
  if (!spot_product_id_validate (text, &local))
    return field_error (error, "product_id", "%s", local->message);
  g_strlcpy (c.product_id, text, sizeof c.product_id);

  text = get_string (obj, "granularity", FALSE, error, &ok);
  if (!ok)
    return FALSE;
  if (!spot_granularity_parse (text, -1, &c.granularity, &local))
    return field_error (error, "granularity", "%s", local->message);
  /* Only the writer's form: one spelling per key keeps stored JSON comparable. */
  if (strcmp (text, spot_granularity_name (c.granularity)) != 0)
    return field_error (error, "granularity",
                        "must be a Coinbase name such as ONE_MINUTE, not \"%s\"", text);

  if (!get_integer (obj, "start", FALSE, &c.start, &is_null, error))
    return FALSE;

  if (!get_decimal (obj, "open", &c.open, error) || !get_decimal (obj, "high", &c.high, error)
      || !get_decimal (obj, "low", &c.low, error) || !get_decimal (obj, "close", &c.close, error)
      || !get_decimal (obj, "volume", &c.volume, error))
    return FALSE;

  if (!get_integer (obj, "trades", TRUE, &v, &is_null, error))
    return FALSE;
  if (is_null)
    c.trades = SPOT_CANDLE_TRADES_UNKNOWN;
  else if (v < 0)
    return field_error (error, "trades", "must not be negative (%" G_GINT64_FORMAT ")", v);
  else
    c.trades = v;

  text = get_string (obj, "last_trade_id", TRUE, error, &ok);
  if (!ok)
    return FALSE;
  if (text == NULL)
    c.last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  else if (!spot_trade_id_parse (text, -1, &c.last_trade_id, &local))
    return field_error (error, "last_trade_id", "%s", local->message);
  else if (c.last_trade_id == 0)
    return field_error (error, "last_trade_id", "must be positive or null");

  gboolean complete_null;
  JsonNode *complete = get_member (obj, "complete", FALSE, &complete_null, error);
  if (complete == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (complete) || json_node_get_value_type (complete) != G_TYPE_BOOLEAN)
    return field_error (error, "complete", "must be a boolean, not %s", node_kind (complete));
  c.complete = json_node_get_boolean (complete);

  if (!get_integer (obj, "rev", FALSE, &v, &is_null, error))
    return FALSE;
  if (v < 0)
    return field_error (error, "rev", "must not be negative (%" G_GINT64_FORMAT ")", v);
  c.rev = (guint64)v;

  text = get_string (obj, "ts", TRUE, error, &ok);
  if (!ok)
    return FALSE;
  if (text == NULL)
    c.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  else if (!spot_time_parse_rfc3339 (text, -1, &c.ts_ns, &local))
    return field_error (error, "ts", "%s", local->message);
  else if (c.ts_ns == SPOT_CANDLE_TS_UNKNOWN)
    return field_error (error, "ts", "must not be the epoch itself (use null)");

  if (!spot_candle_validate (&c, &local))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "candle JSON is inconsistent: %s",
                   local->message);
      return FALSE;
    }
  *out = c;
  return TRUE;
}
