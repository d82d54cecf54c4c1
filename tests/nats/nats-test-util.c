/* nats-test-util.c: candles for the NATS tests. */
#define G_LOG_DOMAIN "spot-test"

#include "nats-test-util.h"

#include <string.h>

#include "model/spot-time.h"

SpotCandle
nats_test_candle (const char *product_id, SpotGranularity g, gint64 start, guint64 rev, const char *price)
{
  SpotCandle c;

  memset (&c, 0, sizeof c);
  g_strlcpy (c.product_id, product_id, sizeof c.product_id);
  c.granularity = g;
  c.start = start;
  g_assert_true (spot_decimal_parse (price, -1, &c.open, NULL));
  c.high = c.open;
  c.low = c.open;
  c.close = c.open;
  c.volume = spot_decimal_from_int (1);
  c.trades = 1;
  c.last_trade_id = rev + 1000;
  c.complete = FALSE;
  c.rev = rev;
  c.ts_ns = spot_time_now_ns ();
  return c;
}

SpotCandleUpdate
nats_test_update (const char *product_id, SpotGranularity g, gint64 start, guint64 rev,
                  SpotCandleUpdateKind kind)
{
  SpotCandleUpdate u;
  char price[32];

  g_snprintf (price, sizeof price, "%" G_GUINT64_FORMAT ".5", rev + 1);
  u.candle = nats_test_candle (product_id, g, start, rev, price);
  u.kind = kind;
  u.candle.complete = kind != SPOT_CANDLE_UPDATE_LIVE;
  return u;
}

static gboolean
on_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
nats_test_wait_until (gboolean (*done) (gpointer), gpointer data, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (timeout_ms, on_timeout, &timed_out);

  while (!done (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  return done (data);
}
