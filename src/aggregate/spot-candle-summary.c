#define G_LOG_DOMAIN "spot-aggregate"

#include "aggregate/spot-candle-summary.h"

#include <string.h>

static inline SpotDecimal
dec (__int128 units, guint8 scale)
{
  return (SpotDecimal){ units, scale };
}

/* <0, 0, >0 comparing two (units, scale) values. */
static inline int
cmp (__int128 a, guint8 as, __int128 b, guint8 bs)
{
  if (G_LIKELY (as == bs))
    return (a > b) - (a < b);
  SpotDecimal da = dec (a, as), db = dec (b, bs);
  return spot_decimal_compare_slow (&da, &db);
}

static inline gboolean
key_less (gint64 at, guint64 aid, gint64 bt, guint64 bid)
{
  return at < bt || (at == bt && aid < bid);
}

void
spot_candle_summary_clear (SpotCandleSummary *summary)
{
  memset (summary, 0, sizeof *summary);
}

static inline gboolean
add_volume (SpotCandleSummary *s, __int128 units, guint8 scale)
{
  if (G_LIKELY (s->volume_scale == scale))
    {
      __int128 sum = s->volume + units;
      if (G_LIKELY (sum <= SPOT_DECIMAL_MAX_UNITS))
        {
          s->volume = sum;
          return TRUE;
        }
    }
  SpotDecimal a = dec (s->volume, s->volume_scale), b = dec (units, scale), out;
  if (!spot_decimal_add_slow (&a, &b, &out, NULL))
    return FALSE;
  s->volume = out.units;
  s->volume_scale = out.scale;
  return TRUE;
}

gboolean
spot_candle_summary_add_trade (SpotCandleSummary *s, const SpotTrade *t, gint64 message_ns)
{
  const __int128 price = t->price.units;
  const guint8 ps = t->price.scale;

  if (G_UNLIKELY (!s->has_data))
    {
      s->open = s->high = s->low = s->close = price;
      s->open_scale = s->high_scale = s->low_scale = s->close_scale = ps;
      s->volume = t->size.units;
      s->volume_scale = t->size.scale;
      s->open_time_ns = s->close_time_ns = t->time_ns;
      s->open_trade_id = s->close_trade_id = t->trade_id;
      s->last_trade_id = t->trade_id;
      s->trades = 1;
      s->ts_ns = message_ns;
      s->has_data = TRUE;
      return TRUE;
    }

  if (!add_volume (s, t->size.units, t->size.scale))
    return FALSE;
  if (key_less (t->time_ns, t->trade_id, s->open_time_ns, s->open_trade_id))
    {
      s->open = price;
      s->open_scale = ps;
      s->open_time_ns = t->time_ns;
      s->open_trade_id = t->trade_id;
    }
  if (key_less (s->close_time_ns, s->close_trade_id, t->time_ns, t->trade_id))
    {
      s->close = price;
      s->close_scale = ps;
      s->close_time_ns = t->time_ns;
      s->close_trade_id = t->trade_id;
    }
  if (cmp (price, ps, s->high, s->high_scale) > 0)
    {
      s->high = price;
      s->high_scale = ps;
    }
  if (cmp (price, ps, s->low, s->low_scale) < 0)
    {
      s->low = price;
      s->low_scale = ps;
    }
  if (t->trade_id > s->last_trade_id)
    s->last_trade_id = t->trade_id;
  if (s->trades >= 0)
    s->trades++;
  if (message_ns > s->ts_ns)
    s->ts_ns = message_ns;
  return TRUE;
}

gboolean
spot_candle_summary_merge (SpotCandleSummary *d, const SpotCandleSummary *s)
{
  if (!s->has_data)
    return TRUE;
  if (!d->has_data)
    {
      *d = *s;
      return TRUE;
    }

  if (!add_volume (d, s->volume, s->volume_scale))
    return FALSE;
  if (key_less (s->open_time_ns, s->open_trade_id, d->open_time_ns, d->open_trade_id))
    {
      d->open = s->open;
      d->open_scale = s->open_scale;
      d->open_time_ns = s->open_time_ns;
      d->open_trade_id = s->open_trade_id;
    }
  if (key_less (d->close_time_ns, d->close_trade_id, s->close_time_ns, s->close_trade_id))
    {
      d->close = s->close;
      d->close_scale = s->close_scale;
      d->close_time_ns = s->close_time_ns;
      d->close_trade_id = s->close_trade_id;
    }
  if (cmp (s->high, s->high_scale, d->high, d->high_scale) > 0)
    {
      d->high = s->high;
      d->high_scale = s->high_scale;
    }
  if (cmp (s->low, s->low_scale, d->low, d->low_scale) < 0)
    {
      d->low = s->low;
      d->low_scale = s->low_scale;
    }
  if (s->last_trade_id > d->last_trade_id)
    d->last_trade_id = s->last_trade_id;
  /* A REST child has no count: the parent's count is then unknown too,
   * rather than a partial sum that looks exact. */
  if (d->trades < 0 || s->trades < 0)
    d->trades = SPOT_CANDLE_TRADES_UNKNOWN;
  else
    d->trades += s->trades;
  if (s->ts_ns > d->ts_ns)
    d->ts_ns = s->ts_ns;
  return TRUE;
}

void
spot_candle_summary_from_candle (SpotCandleSummary *s, const SpotCandle *c)
{
  gint64 start_ns = c->start * G_GINT64_CONSTANT (1000000000);

  memset (s, 0, sizeof *s);
  s->open = c->open.units;
  s->open_scale = c->open.scale;
  s->high = c->high.units;
  s->high_scale = c->high.scale;
  s->low = c->low.units;
  s->low_scale = c->low.scale;
  s->close = c->close.units;
  s->close_scale = c->close.scale;
  s->volume = c->volume.units;
  s->volume_scale = c->volume.scale;
  s->open_time_ns = start_ns;
  s->open_trade_id = 0;
  s->close_time_ns = start_ns;
  s->close_trade_id = c->last_trade_id;
  s->last_trade_id = c->last_trade_id;
  s->trades = c->trades;
  s->ts_ns = c->ts_ns;
  s->has_data = TRUE;
}

void
spot_candle_summary_to_candle (const SpotCandleSummary *s, SpotCandle *c)
{
  c->open = dec (s->open, s->open_scale);
  c->high = dec (s->high, s->high_scale);
  c->low = dec (s->low, s->low_scale);
  c->close = dec (s->close, s->close_scale);
  c->volume = dec (s->volume, s->volume_scale);
  c->trades = s->trades;
  c->last_trade_id
      = s->trades < 0 && s->last_trade_id == 0 ? SPOT_CANDLE_TRADE_ID_UNKNOWN : s->last_trade_id;
  c->ts_ns = s->ts_ns;
}

gboolean
spot_candle_summary_equal (const SpotCandleSummary *a, const SpotCandleSummary *b)
{
  if (a->has_data != b->has_data)
    return FALSE;
  if (!a->has_data)
    return TRUE;
  return cmp (a->open, a->open_scale, b->open, b->open_scale) == 0
         && cmp (a->high, a->high_scale, b->high, b->high_scale) == 0
         && cmp (a->low, a->low_scale, b->low, b->low_scale) == 0
         && cmp (a->close, a->close_scale, b->close, b->close_scale) == 0
         && cmp (a->volume, a->volume_scale, b->volume, b->volume_scale) == 0
         && a->trades == b->trades && a->last_trade_id == b->last_trade_id;
}
