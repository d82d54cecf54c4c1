/* Unit tests of bucket summaries and their merge. */
#include "aggregate/spot-candle-summary.h"
#include "engine-test-util.h"

static void
test_open_close_keys_whatever_the_order (void)
{
  SpotTrade t[]
      = { trade_at ("BTC-USD", 3, 500, "3", "1"), trade_at ("BTC-USD", 2, 500, "2", "1"),
          trade_at ("BTC-USD", 1, 900, "1", "1"), trade_at ("BTC-USD", 4, 100, "4", "1") };
  guint orders[][4] = { { 0, 1, 2, 3 }, { 3, 2, 1, 0 }, { 2, 0, 3, 1 } };

  for (guint o = 0; o < G_N_ELEMENTS (orders); o++)
    {
      SpotCandleSummary s;
      SpotCandle c = { 0 };
      spot_candle_summary_clear (&s);
      for (guint i = 0; i < 4; i++)
        g_assert_true (spot_candle_summary_add_trade (&s, &t[orders[o][i]], 7));
      spot_candle_summary_to_candle (&s, &c);
      assert_dec (c.open, "4");  /* earliest time */
      assert_dec (c.close, "1"); /* latest time */
      assert_dec (c.high, "4");
      assert_dec (c.low, "1");
      assert_dec (c.volume, "4");
      g_assert_cmpint (c.trades, ==, 4);
      g_assert_cmpuint (c.last_trade_id, ==, 4);
    }

  /* Same instant: the lower trade id opens, the higher closes. */
  SpotCandleSummary s;
  SpotCandle c = { 0 };
  spot_candle_summary_clear (&s);
  spot_candle_summary_add_trade (&s, &t[0], 0);
  spot_candle_summary_add_trade (&s, &t[1], 0);
  spot_candle_summary_to_candle (&s, &c);
  assert_dec (c.open, "2");
  assert_dec (c.close, "3");
}

static void
test_merge_equals_summary_of_union (void)
{
  SpotTrade t[6];
  const char *prices[] = { "68900.50", "68900.49", "68901", "68899.99", "68900.5", "0.00000001" };
  for (guint i = 0; i < 6; i++)
    t[i] = trade_at ("BTC-USD", 10 + i, (gint64)((i * 37) % 6) * 1000, prices[i], "0.00000001");

  SpotCandleSummary all, a, b;
  spot_candle_summary_clear (&all);
  spot_candle_summary_clear (&a);
  spot_candle_summary_clear (&b);
  for (guint i = 0; i < 6; i++)
    {
      spot_candle_summary_add_trade (&all, &t[i], i);
      spot_candle_summary_add_trade (i % 2 ? &a : &b, &t[i], i);
    }
  SpotCandleSummary merged;
  spot_candle_summary_clear (&merged);
  g_assert_true (spot_candle_summary_merge (&merged, &a));
  g_assert_true (spot_candle_summary_merge (&merged, &b));
  g_assert_true (spot_candle_summary_equal (&merged, &all));
  SpotCandle c = { 0 };
  spot_candle_summary_to_candle (&merged, &c);
  assert_dec (c.volume, "0.00000006");
  assert_dec (c.low, "0.00000001");
  assert_dec (c.high, "68901");
  g_assert_cmpint (c.ts_ns, ==, 5);
}

static void
test_rest_child_makes_count_unknown (void)
{
  SpotCandle rest
      = rest_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 60, "5", "6", "4", "5.5", "3");
  SpotCandleSummary r, live, parent;
  SpotTrade t = trade_at ("BTC-USD", 9, 10000, "7", "1");
  spot_candle_summary_from_candle (&r, &rest);
  spot_candle_summary_clear (&live);
  spot_candle_summary_add_trade (&live, &t, 1);
  spot_candle_summary_clear (&parent);
  spot_candle_summary_merge (&parent, &r);
  spot_candle_summary_merge (&parent, &live);
  SpotCandle c = { 0 };
  spot_candle_summary_to_candle (&parent, &c);
  /* The earlier live minute opens, the later REST minute closes. */
  assert_dec (c.open, "7");
  assert_dec (c.close, "5.5");
  assert_dec (c.volume, "4");
  g_assert_cmpint (c.trades, ==, SPOT_CANDLE_TRADES_UNKNOWN);
  g_assert_cmpuint (c.last_trade_id, ==, 9);
}

static void
test_mixed_scales_compare_numerically (void)
{
  SpotTrade a = trade_at ("BTC-USD", 1, 0, "100.5", "1.5");
  SpotTrade b = trade_at ("BTC-USD", 2, 1, "100.49", "0.25");
  SpotCandleSummary s;
  spot_candle_summary_clear (&s);
  spot_candle_summary_add_trade (&s, &a, 0);
  spot_candle_summary_add_trade (&s, &b, 0);
  SpotCandle c = { 0 };
  spot_candle_summary_to_candle (&s, &c);
  assert_dec (c.high, "100.5");
  assert_dec (c.low, "100.49");
  assert_dec (c.volume, "1.75");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/candle-summary/open-close-keys-whatever-the-order",
                   test_open_close_keys_whatever_the_order);
  g_test_add_func ("/candle-summary/merge-equals-summary-of-union",
                   test_merge_equals_summary_of_union);
  g_test_add_func ("/candle-summary/rest-child-makes-count-unknown",
                   test_rest_child_makes_count_unknown);
  g_test_add_func ("/candle-summary/mixed-scales-compare-numerically",
                   test_mixed_scales_compare_numerically);
  return g_test_run ();
}
