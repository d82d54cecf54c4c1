/* store-test-util.h: small helpers shared by the store tests. */
#pragma once

#include <glib.h>
#include <string.h>

#include "model/spot-candle.h"

static inline SpotDecimal
dec (const char *text)
{
  SpotDecimal d;
  g_autoptr (GError) error = NULL;
  g_assert_true (spot_decimal_parse (text, -1, &d, &error));
  g_assert_no_error (error);
  return d;
}

static inline gboolean
dec_equals (const SpotDecimal *d, const char *text)
{
  SpotDecimal other = dec (text);
  return spot_decimal_equal (d, &other);
}

/* A valid candle: o/h/l/c from text, volume, trades (-1 unknown),
 * last trade id (0 unknown), complete, rev. */
static inline SpotCandle
make_candle (const char *product,
             SpotGranularity g,
             gint64 start,
             const char *open,
             const char *high,
             const char *low,
             const char *close,
             const char *volume,
             gint64 trades,
             guint64 last_trade_id,
             gboolean complete,
             guint64 rev)
{
  SpotCandle c;
  memset (&c, 0, sizeof c);
  g_strlcpy (c.product_id, product, sizeof c.product_id);
  c.granularity = g;
  c.start = start;
  c.open = dec (open);
  c.high = dec (high);
  c.low = dec (low);
  c.close = dec (close);
  c.volume = dec (volume);
  c.trades = trades;
  c.last_trade_id = last_trade_id;
  c.complete = complete;
  c.rev = rev;
  /* ts_ns (int64 nanoseconds) ends in 2262. */
  c.ts_ns = trades >= 0 && start < G_GINT64_CONSTANT (9000000000)
                ? start * G_GINT64_CONSTANT (1000000000) + 123456789
                : SPOT_CANDLE_TS_UNKNOWN;
  return c;
}

/* A simple candle whose four prices are @price. */
static inline SpotCandle
flat_candle (const char *product, SpotGranularity g, gint64 start, const char *price,
             const char *volume, gboolean complete, guint64 rev)
{
  return make_candle (product, g, start, price, price, price, price, volume, 3,
                      (guint64) (start / 60) * 10 + rev, complete, rev);
}
