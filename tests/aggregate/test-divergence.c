/* Unit tests of the 5-minute divergence comparison. */
#include "aggregate/spot-divergence.h"
#include "engine-test-util.h"

static void
test_numeric_comparison_names_field (void)
{
  SpotCandle ours = rest_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, DAY0, "68900.50", "68901",
                                 "68899", "68900.5", "1.50000000");
  SpotCandle ex = rest_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, DAY0, "68900.5", "68901.00",
                               "68899", "68900.50", "1.5");
  const char *field = "x";
  g_assert_false (spot_divergence_differs (&ours, &ex, &field));
  g_assert_null (field);
  ex.low = dec ("68898.99");
  g_assert_true (spot_divergence_differs (&ours, &ex, &field));
  g_assert_cmpstr (field, ==, "low");
}

static void
test_tracker_keeps_two_newest_starts (void)
{
  SpotDivergenceTracker t;
  SpotCandle out;
  spot_divergence_tracker_init (&t);
  for (gint64 i = 0; i < 4; i++)
    {
      SpotCandle c = rest_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, DAY0 + i * 300, "1", "1",
                                  "1", "1", "1");
      spot_divergence_tracker_offer (&t, &c);
      c.volume = dec ("2"); /* a later update of the same bucket replaces it */
      spot_divergence_tracker_offer (&t, &c);
    }
  SpotCandle old
      = rest_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, DAY0, "1", "1", "1", "1", "1");
  spot_divergence_tracker_offer (&t, &old);
  g_assert_false (spot_divergence_tracker_take (&t, DAY0, &out));
  g_assert_false (spot_divergence_tracker_take (&t, DAY0 + 300, &out));
  g_assert_true (spot_divergence_tracker_take (&t, DAY0 + 600, &out));
  assert_dec (out.volume, "2");
  g_assert_true (spot_divergence_tracker_take (&t, DAY0 + 900, &out));
  g_assert_false (spot_divergence_tracker_take (&t, DAY0 + 900, &out));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/divergence/numeric-comparison-names-field",
                   test_numeric_comparison_names_field);
  g_test_add_func ("/divergence/tracker-keeps-two-newest-starts",
                   test_tracker_keeps_two_newest_starts);
  return g_test_run ();
}
