/* spot-candle-decode.c: single-pass reader of the candle JSON form. */
#define G_LOG_DOMAIN "spot-nats"

#include "nats/spot-candle-decode.h"

#include <string.h>

#include "model/spot-candle-json.h"
#include "model/spot-time.h"
#include "model/spot-trade.h"

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
spot_candle_decode_fast (const char *json, gsize len, SpotCandle *out)
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

  /* The same checks as spot_candle_from_json(), in its order. */
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
spot_candle_decode (const char *json, gsize len, SpotCandle *out, GError **error)
{
  if (spot_candle_decode_fast (json, len, out))
    return TRUE;
  return spot_candle_from_json (json, (gssize)len, out, error);
}
