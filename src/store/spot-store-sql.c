#define G_LOG_DOMAIN "spot-store"

#include "store/spot-store-sql.h"

#include <stdlib.h>
#include <string.h>

/* 9999-12-31T23:59:59Z */
#define SPOT_STORE_MAX_TIME_S G_GINT64_CONSTANT (253402300799)

#include "core/spot-error.h"

#define CANDLE_COLUMN_LIST \
  "product_id, granularity, start, open, high, low, close, volume, trades, last_trade_id, " \
  "complete, rev, ts"

/* The rule of spot_store_candle_supersedes(), in SQL. */
#define UPSERT_TAIL                                                                         \
  " ON CONFLICT (product_id, granularity, start) DO UPDATE SET"                             \
  " open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close," \
  " volume = EXCLUDED.volume, trades = EXCLUDED.trades,"                                    \
  " last_trade_id = EXCLUDED.last_trade_id, complete = EXCLUDED.complete,"                  \
  " rev = EXCLUDED.rev, ts = EXCLUDED.ts, updated_at = now()"                               \
  " WHERE (EXCLUDED.rev > candles.rev"                                                      \
  "        OR (EXCLUDED.rev = candles.rev AND EXCLUDED.complete AND NOT candles.complete))"  \
  "   AND (EXCLUDED.complete OR NOT candles.complete)"

static const char *const strategy_names[] = { "values", "unnest", "copy" };

const char *
spot_store_strategy_name (SpotStoreStrategy strategy)
{
  if ((guint) strategy >= G_N_ELEMENTS (strategy_names))
    return "invalid";
  return strategy_names[strategy];
}

gboolean
spot_store_strategy_parse (const char *text, SpotStoreStrategy *out, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (strategy_names); i++)
    if (text != NULL && g_ascii_strcasecmp (text, strategy_names[i]) == 0)
      {
        *out = (SpotStoreStrategy) i;
        return TRUE;
      }
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
               "unknown upsert strategy \"%s\" (expected values, unnest or copy)",
               text != NULL ? text : "");
  return FALSE;
}

gboolean
spot_store_candle_check (const SpotCandle *c, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (!spot_candle_validate (c, &local))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT, "candle %.34s %s %" G_GINT64_FORMAT
                   " cannot be stored: %s", c->product_id,
                   spot_granularity_name (c->granularity) != NULL ? spot_granularity_name (c->granularity) : "?",
                   c->start, local->message);
      return FALSE;
    }
  if (c->start < 0 || c->start > SPOT_STORE_MAX_TIME_S || c->ts_ns < 0)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "candle %s %s %" G_GINT64_FORMAT " cannot be stored: %s outside 1970..9999",
                   c->product_id, spot_granularity_name (c->granularity), c->start,
                   c->ts_ns < 0 ? "ts" : "start");
      return FALSE;
    }
  if (c->rev > (guint64) G_MAXINT64 || c->last_trade_id > (guint64) G_MAXINT64 || c->trades < -1)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "candle %s %s %" G_GINT64_FORMAT " cannot be stored: %s out of range",
                   c->product_id, spot_granularity_name (c->granularity), c->start,
                   c->rev > (guint64) G_MAXINT64 ? "rev"
                   : c->trades < -1             ? "trades"
                                                : "last_trade_id");
      return FALSE;
    }
  return TRUE;
}

/* Hand-rolled formatting: with g_snprintf the parameters of a batch took
 * about 15% of the batched upsert's CPU (bench-store). */
static char *
put_uint (char *p, guint64 v)
{
  char tmp[24];
  int n = 0;
  do
    {
      tmp[n++] = (char) ('0' + v % 10);
      v /= 10;
    }
  while (v != 0);
  while (n > 0)
    *p++ = tmp[--n];
  return p;
}

static void
format_int (char *buf, gint64 v)
{
  char *p = buf;
  if (v < 0)
    {
      *p++ = '-';
      p = put_uint (p, (guint64) 0 - (guint64) v);
    }
  else
    p = put_uint (p, (guint64) v);
  *p = '\0';
}

static char *
put_digits (char *p, guint64 v, int width)
{
  for (int i = width - 1; i >= 0; i--)
    {
      p[i] = (char) ('0' + v % 10);
      v /= 10;
    }
  return p + width;
}

/* "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" for years 0..9999 (civil-from-days). */
static void
format_utc (gint64 seconds, gint64 micros, char *buf, gsize size)
{
  gint64 days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
  gint64 sod = seconds - days * 86400;
  gint64 z = days + 719468;
  gint64 era = (z >= 0 ? z : z - 146096) / 146097;
  gint64 doe = z - era * 146097;
  gint64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  gint64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  gint64 mp = (5 * doy + 2) / 153;
  gint64 d = doy - (153 * mp + 2) / 5 + 1;
  gint64 m = mp < 10 ? mp + 3 : mp - 9;
  gint64 y = yoe + era * 400 + (m <= 2);
  char *p = buf;

  /* spot_store_candle_check() keeps times inside years 1970..9999. */
  g_assert (size >= 32 && y >= 0 && y <= 9999);
  p = put_digits (p, (guint64) y, 4);
  *p++ = '-';
  p = put_digits (p, (guint64) m, 2);
  *p++ = '-';
  p = put_digits (p, (guint64) d, 2);
  *p++ = 'T';
  p = put_digits (p, (guint64) (sod / 3600), 2);
  *p++ = ':';
  p = put_digits (p, (guint64) (sod / 60 % 60), 2);
  *p++ = ':';
  p = put_digits (p, (guint64) (sod % 60), 2);
  if (micros >= 0)
    {
      *p++ = '.';
      p = put_digits (p, (guint64) micros, 6);
    }
  *p++ = 'Z';
  *p = '\0';
}

void
spot_store_candle_params (const SpotCandle *c, SpotStoreCandleParams *p)
{
  format_utc (c->start, -1, p->start, sizeof p->start);
  spot_decimal_format (&c->open, p->open, sizeof p->open);
  spot_decimal_format (&c->high, p->high, sizeof p->high);
  spot_decimal_format (&c->low, p->low, sizeof p->low);
  spot_decimal_format (&c->close, p->close, sizeof p->close);
  spot_decimal_format (&c->volume, p->volume, sizeof p->volume);
  format_int (p->trades, c->trades);
  *put_uint (p->last_trade_id, c->last_trade_id) = '\0';
  *put_uint (p->rev, c->rev) = '\0';
  if (c->ts_ns != SPOT_CANDLE_TS_UNKNOWN)
    {
      gint64 s = c->ts_ns / G_GINT64_CONSTANT (1000000000);
      gint64 rem = c->ts_ns % G_GINT64_CONSTANT (1000000000);
      if (rem < 0)
        {
          s -= 1;
          rem += G_GINT64_CONSTANT (1000000000);
        }
      format_utc (s, rem / 1000, p->ts, sizeof p->ts);
    }
  p->values[0] = c->product_id;
  p->values[1] = spot_granularity_name (c->granularity);
  p->values[2] = p->start;
  p->values[3] = p->open;
  p->values[4] = p->high;
  p->values[5] = p->low;
  p->values[6] = p->close;
  p->values[7] = p->volume;
  p->values[8] = c->trades == SPOT_CANDLE_TRADES_UNKNOWN ? NULL : p->trades;
  p->values[9] = c->last_trade_id == SPOT_CANDLE_TRADE_ID_UNKNOWN ? NULL : p->last_trade_id;
  p->values[10] = c->complete ? "t" : "f";
  p->values[11] = p->rev;
  p->values[12] = c->ts_ns == SPOT_CANDLE_TS_UNKNOWN ? NULL : p->ts;
}

gboolean
spot_store_candle_supersedes (const SpotCandle *incoming, const SpotCandle *stored)
{
  if (stored->complete && !incoming->complete)
    return FALSE;
  if (incoming->rev > stored->rev)
    return TRUE;
  return incoming->rev == stored->rev && incoming->complete && !stored->complete;
}

int
spot_store_candle_key_compare (const SpotCandle *a, const SpotCandle *b)
{
  int c = strcmp (a->product_id, b->product_id);
  if (c != 0)
    return c;
  if (a->granularity != b->granularity)
    return a->granularity < b->granularity ? -1 : 1;
  if (a->start != b->start)
    return a->start < b->start ? -1 : 1;
  return 0;
}

const char *
spot_store_upsert_one_sql (void)
{
  return "INSERT INTO candles (" CANDLE_COLUMN_LIST ") VALUES "
         "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)" UPSERT_TAIL
         " RETURNING rev";
}

const char *
spot_store_upsert_repair_sql (void)
{
  /* A REST minute is final and replaces whatever is stored: it carries no
   * revision of its own (REST has none), so it is written as the stored
   * revision + 1 whenever a value differs, never blocked by the live rule. */
  return "INSERT INTO candles (" CANDLE_COLUMN_LIST ") VALUES "
         "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, GREATEST($12::bigint, 1), $13)"
         " ON CONFLICT (product_id, granularity, start) DO UPDATE SET"
         " open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,"
         " close = EXCLUDED.close, volume = EXCLUDED.volume, trades = EXCLUDED.trades,"
         " last_trade_id = EXCLUDED.last_trade_id, ts = EXCLUDED.ts, complete = true,"
         " rev = candles.rev + 1, updated_at = now()"
         " WHERE (candles.open, candles.high, candles.low, candles.close, candles.volume,"
         " candles.complete) IS DISTINCT FROM"
         " (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume, true)"
         " RETURNING rev";
}

const char *
spot_store_upsert_unnest_sql (void)
{
  return "INSERT INTO candles (" CANDLE_COLUMN_LIST ") SELECT * FROM unnest("
         "$1::text[], $2::text[], $3::timestamptz[], $4::numeric[], $5::numeric[], "
         "$6::numeric[], $7::numeric[], $8::numeric[], $9::bigint[], $10::bigint[], "
         "$11::boolean[], $12::bigint[], $13::timestamptz[])" UPSERT_TAIL;
}

const char *
spot_store_stage_create_sql (void)
{
  return "CREATE TEMPORARY TABLE IF NOT EXISTS candles_stage ("
         " product_id text, granularity text, start timestamptz, open numeric, high numeric,"
         " low numeric, close numeric, volume numeric, trades bigint, last_trade_id bigint,"
         " complete boolean, rev bigint, ts timestamptz) ON COMMIT DELETE ROWS";
}

const char *
spot_store_stage_copy_sql (void)
{
  return "COPY candles_stage (" CANDLE_COLUMN_LIST ") FROM STDIN";
}

const char *
spot_store_stage_merge_sql (void)
{
  return "INSERT INTO candles (" CANDLE_COLUMN_LIST ") SELECT " CANDLE_COLUMN_LIST
         " FROM candles_stage" UPSERT_TAIL;
}

char *
spot_store_build_values_sql (guint n_rows)
{
  GString *s = g_string_sized_new (160 + n_rows * 80);
  guint p = 1;

  g_return_val_if_fail (n_rows > 0 && n_rows * SPOT_STORE_CANDLE_COLUMNS <= 65535, NULL);
  g_string_append (s, "INSERT INTO candles (" CANDLE_COLUMN_LIST ") VALUES ");
  for (guint r = 0; r < n_rows; r++)
    {
      g_string_append (s, r == 0 ? "(" : ", (");
      for (guint c = 0; c < SPOT_STORE_CANDLE_COLUMNS; c++)
        {
          /* The first row carries the types; later rows follow them. */
          static const char *const types[] = { "::text", "::text", "::timestamptz", "::numeric",
                                               "::numeric", "::numeric", "::numeric", "::numeric",
                                               "::bigint", "::bigint", "::boolean", "::bigint",
                                               "::timestamptz" };
          g_string_append_printf (s, "%s$%u%s", c == 0 ? "" : ", ", p++, r == 0 ? types[c] : "");
        }
      g_string_append_c (s, ')');
    }
  g_string_append (s, UPSERT_TAIL);
  return g_string_free (s, FALSE);
}

void
spot_store_unnest_append (GString *arrays[SPOT_STORE_CANDLE_COLUMNS],
                          const SpotStoreCandleParams *p)
{
  /* Every value is made of [A-Za-z0-9.:-] (ids, names, ISO times, decimals,
   * integers, t/f), so no element needs quoting in an array literal. */
  for (guint c = 0; c < SPOT_STORE_CANDLE_COLUMNS; c++)
    {
      GString *a = arrays[c];
      g_string_append_c (a, a->len == 0 ? '{' : ',');
      g_string_append (a, p->values[c] != NULL ? p->values[c] : "NULL");
    }
}

void
spot_store_unnest_finish (GString *arrays[SPOT_STORE_CANDLE_COLUMNS])
{
  for (guint c = 0; c < SPOT_STORE_CANDLE_COLUMNS; c++)
    {
      if (arrays[c]->len == 0)
        g_string_append_c (arrays[c], '{');
      g_string_append_c (arrays[c], '}');
    }
}

void
spot_store_copy_append (GString *buf, const SpotStoreCandleParams *p)
{
  for (guint c = 0; c < SPOT_STORE_CANDLE_COLUMNS; c++)
    {
      if (c > 0)
        g_string_append_c (buf, '\t');
      g_string_append (buf, p->values[c] != NULL ? p->values[c] : "\\N");
    }
  g_string_append_c (buf, '\n');
}

static gboolean
parse_int64 (const char *text, gint64 *out)
{
  char *end = NULL;
  gint64 v = g_ascii_strtoll (text, &end, 10);
  if (end == text || *end != '\0')
    return FALSE;
  *out = v;
  return TRUE;
}

gboolean
spot_store_candle_from_row (const PGresult *res, int row, int col0, SpotCandle *out, GError **error)
{
  SpotDecimal *decimals[] = { &out->open, &out->high, &out->low, &out->close, &out->volume };
  const char *id = PQgetvalue (res, row, col0);
  gint64 v = 0;

  memset (out, 0, sizeof *out);
  if (strlen (id) >= sizeof out->product_id)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "stored product id \"%s\" is too long", id);
      return FALSE;
    }
  g_strlcpy (out->product_id, id, sizeof out->product_id);
  if (!spot_granularity_parse (PQgetvalue (res, row, col0 + 1), -1, &out->granularity, error))
    return FALSE;
  if (!parse_int64 (PQgetvalue (res, row, col0 + 2), &out->start))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "stored start \"%s\" is not an integer",
                   PQgetvalue (res, row, col0 + 2));
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (decimals); i++)
    if (!spot_decimal_parse (PQgetvalue (res, row, col0 + 3 + (int) i), -1, decimals[i], error))
      {
        g_prefix_error (error, "stored candle %s %s %" G_GINT64_FORMAT ": ", out->product_id,
                        spot_granularity_name (out->granularity), out->start);
        return FALSE;
      }
  out->trades = SPOT_CANDLE_TRADES_UNKNOWN;
  if (!PQgetisnull (res, row, col0 + 8) && parse_int64 (PQgetvalue (res, row, col0 + 8), &v))
    out->trades = v;
  out->last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  if (!PQgetisnull (res, row, col0 + 9) && parse_int64 (PQgetvalue (res, row, col0 + 9), &v))
    out->last_trade_id = (guint64) v;
  out->complete = PQgetvalue (res, row, col0 + 10)[0] == 't';
  if (parse_int64 (PQgetvalue (res, row, col0 + 11), &v))
    out->rev = (guint64) v;
  out->ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  if (!PQgetisnull (res, row, col0 + 12) && parse_int64 (PQgetvalue (res, row, col0 + 12), &v))
    out->ts_ns = v * 1000;
  return TRUE;
}
