/* spot-candle-json.c: the one JSON form of a candle.
 *
 * Writing is by hand into the caller's GString (it runs for every published
 * update). Reading runs for every message the hub and the live cache
 * receive, so it first tries a single-pass reader of the form the writer
 * produces (any field order and whitespace, ~2 us); whatever that reader is
 * not sure about (escapes, unknown or repeated fields, other number forms,
 * every error) goes to the json-glib reader (~25 us), which stays the one
 * definition of what is accepted and of every error message. */
#define G_LOG_DOMAIN "spot-model"

#include "model/spot-candle-json.h"
#include "model/spot-candle-json-private.h"

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
spot_candle_from_json_tree (const char *json, gssize len, SpotCandle *out, GError **error)
{
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

/* The single-pass reader. It only ever answers "yes, this candle" or "ask
 * json-glib", so it needs no error messages of its own. */

enum
{
  F_PRODUCT_ID,
  F_GRANULARITY,
  F_START,
  F_OPEN,
  F_HIGH,
  F_LOW,
  F_CLOSE,
  F_VOLUME,
  F_TRADES,
  F_LAST_TRADE_ID,
  F_COMPLETE,
  F_REV,
  F_TS,
  N_FIELDS
};

static const char *const field_names[N_FIELDS] = {
  "product_id", "granularity", "start",         "open",     "high", "low", "close",
  "volume",     "trades",      "last_trade_id", "complete", "rev",  "ts",
};

typedef struct
{
  const char *p;
  const char *end;
} Scan;

static void
skip_ws (Scan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

/* A string without escapes; sets [*start, *start + *len). */
static gboolean
scan_string (Scan *s, const char **start, gsize *len)
{
  const char *q;

  if (s->p >= s->end || *s->p != '"')
    return FALSE;
  q = s->p + 1;
  while (q < s->end && *q != '"')
    {
      if (*q == '\\' || (guchar)*q < 0x20)
        return FALSE;
      q++;
    }
  if (q >= s->end)
    return FALSE;
  *start = s->p + 1;
  *len = (gsize)(q - *start);
  s->p = q + 1;
  return TRUE;
}

static gboolean
scan_literal (Scan *s, const char *word)
{
  gsize n = strlen (word);

  if ((gsize)(s->end - s->p) < n || memcmp (s->p, word, n) != 0)
    return FALSE;
  s->p += n;
  return TRUE;
}

/* A JSON integer (no fraction, no exponent) that fits a gint64. */
static gboolean
scan_int (Scan *s, gint64 *out)
{
  gboolean negative = FALSE;
  guint64 v = 0;
  const char *digits;

  if (s->p < s->end && *s->p == '-')
    {
      negative = TRUE;
      s->p++;
    }
  digits = s->p;
  while (s->p < s->end && g_ascii_isdigit (*s->p))
    {
      guint d = (guint)(*s->p - '0');

      if (v > (G_MAXUINT64 - d) / 10)
        return FALSE;
      v = v * 10 + d;
      s->p++;
    }
  if (s->p == digits || (s->p - digits > 1 && *digits == '0'))
    return FALSE;
  if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
    return FALSE;
  if (negative ? v > (guint64)G_MAXINT64 + 1 : v > (guint64)G_MAXINT64)
    return FALSE;
  *out = negative ? (gint64)(0 - v) : (gint64)v;
  return TRUE;
}

static gint
field_index (const char *key, gsize len)
{
  for (gint i = 0; i < N_FIELDS; i++)
    if (strlen (field_names[i]) == len && memcmp (field_names[i], key, len) == 0)
      return i;
  return -1;
}

/* Copies [start, start + len) into @buf as a C string; FALSE if too long. */
static gboolean
copy_text (char *buf, gsize size, const char *start, gsize len)
{
  if (len >= size)
    return FALSE;
  memcpy (buf, start, len);
  buf[len] = '\0';
  return TRUE;
}

gboolean
spot_candle_from_json_fast (const char *json, gsize len, SpotCandle *out)
{
  Scan s = { json, json + len };
  const char *text[N_FIELDS] = { NULL };
  gsize text_len[N_FIELDS] = { 0 };
  gboolean is_null[N_FIELDS] = { FALSE };
  gint64 ints[N_FIELDS] = { 0 };
  guint seen = 0;
  SpotCandle c;
  char buf[64];

  skip_ws (&s);
  if (s.p >= s.end || *s.p != '{')
    return FALSE;
  s.p++;
  for (;;)
    {
      const char *key;
      gsize key_len;
      gint f;

      skip_ws (&s);
      if (!scan_string (&s, &key, &key_len))
        return FALSE;
      f = field_index (key, key_len);
      if (f < 0 || (seen & (1u << f)) != 0)
        return FALSE;
      seen |= 1u << f;
      skip_ws (&s);
      if (s.p >= s.end || *s.p != ':')
        return FALSE;
      s.p++;
      skip_ws (&s);
      switch (f)
        {
        case F_START:
        case F_TRADES:
        case F_REV:
          if (f == F_TRADES && scan_literal (&s, "null"))
            is_null[f] = TRUE;
          else if (!scan_int (&s, &ints[f]))
            return FALSE;
          break;
        case F_COMPLETE:
          if (scan_literal (&s, "true"))
            ints[f] = 1;
          else if (scan_literal (&s, "false"))
            ints[f] = 0;
          else
            return FALSE;
          break;
        default:
          if ((f == F_LAST_TRADE_ID || f == F_TS) && scan_literal (&s, "null"))
            is_null[f] = TRUE;
          else if (!scan_string (&s, &text[f], &text_len[f]))
            return FALSE;
          break;
        }
      skip_ws (&s);
      if (s.p < s.end && *s.p == ',')
        {
          s.p++;
          continue;
        }
      if (s.p < s.end && *s.p == '}')
        {
          s.p++;
          break;
        }
      return FALSE;
    }
  skip_ws (&s);
  if (s.p != s.end || seen != (1u << N_FIELDS) - 1)
    return FALSE;

  /* The same checks as spot_candle_from_json_tree(), in its order. */
  memset (&c, 0, sizeof c);
  if (!copy_text (c.product_id, sizeof c.product_id, text[F_PRODUCT_ID], text_len[F_PRODUCT_ID])
      || !spot_product_id_validate (c.product_id, NULL))
    return FALSE;
  if (!spot_granularity_parse (text[F_GRANULARITY], (gssize)text_len[F_GRANULARITY], &c.granularity,
                               NULL)
      || strlen (spot_granularity_name (c.granularity)) != text_len[F_GRANULARITY]
      || memcmp (spot_granularity_name (c.granularity), text[F_GRANULARITY],
                 text_len[F_GRANULARITY])
             != 0)
    return FALSE;
  c.start = ints[F_START];
  if (!spot_decimal_parse (text[F_OPEN], (gssize)text_len[F_OPEN], &c.open, NULL)
      || !spot_decimal_parse (text[F_HIGH], (gssize)text_len[F_HIGH], &c.high, NULL)
      || !spot_decimal_parse (text[F_LOW], (gssize)text_len[F_LOW], &c.low, NULL)
      || !spot_decimal_parse (text[F_CLOSE], (gssize)text_len[F_CLOSE], &c.close, NULL)
      || !spot_decimal_parse (text[F_VOLUME], (gssize)text_len[F_VOLUME], &c.volume, NULL))
    return FALSE;
  if (is_null[F_TRADES])
    c.trades = SPOT_CANDLE_TRADES_UNKNOWN;
  else if (ints[F_TRADES] < 0)
    return FALSE;
  else
    c.trades = ints[F_TRADES];
  if (is_null[F_LAST_TRADE_ID])
    c.last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  else if (!copy_text (buf, sizeof buf, text[F_LAST_TRADE_ID], text_len[F_LAST_TRADE_ID])
           || !spot_trade_id_parse (buf, -1, &c.last_trade_id, NULL) || c.last_trade_id == 0)
    return FALSE;
  c.complete = ints[F_COMPLETE] != 0;
  if (ints[F_REV] < 0)
    return FALSE;
  c.rev = (guint64)ints[F_REV];
  if (is_null[F_TS])
    c.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  else if (!spot_time_parse_rfc3339 (text[F_TS], (gssize)text_len[F_TS], &c.ts_ns, NULL)
           || c.ts_ns == SPOT_CANDLE_TS_UNKNOWN)
    return FALSE;
  if (!spot_candle_validate (&c, NULL))
    return FALSE;
  *out = c;
  return TRUE;
}

gboolean
spot_candle_from_json (const char *json, gssize len, SpotCandle *out, GError **error)
{
  g_return_val_if_fail (json != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (spot_candle_from_json_fast (json, len < 0 ? strlen (json) : (gsize)len, out))
    return TRUE;
  return spot_candle_from_json_tree (json, len, out, error);
}
