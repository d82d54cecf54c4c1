/* Unit tests of the injected clock and its exchange offset estimate. */
#include "aggregate/spot-candle-clock.h"
#include "engine-test-util.h"

static void
test_manual_clock_moves (void)
{
  g_autoptr (SpotCandleClock) c = spot_candle_clock_new_manual (1000);
  g_assert_cmpint (spot_candle_clock_now_ns (c), ==, 1000);
  spot_candle_clock_advance_manual (c, 500);
  g_assert_cmpint (spot_candle_clock_local_ns (c), ==, 1500);
  spot_candle_clock_set_offset_ns (c, 200);
  g_assert_cmpint (spot_candle_clock_now_ns (c), ==, 1300);
}

static void
test_offset_is_minimum_over_last_minute_and_connections (void)
{
  g_autoptr (SpotCandleClock) c = spot_candle_clock_new_manual (0);
  const gint64 s = NS_PER_S;

  spot_candle_clock_observe (c, 0, 100 * s, 100 * s - 80 * MS_NS); /* 80 ms */
  spot_candle_clock_observe (c, 0, 101 * s, 101 * s - 30 * MS_NS); /* 30 ms */
  spot_candle_clock_observe (c, 0, 102 * s, 102 * s - 60 * MS_NS);
  g_assert_cmpint (spot_candle_clock_get_offset_ns (c), ==, 30 * MS_NS);
  /* Another connection with a smaller delay wins. */
  spot_candle_clock_observe (c, 1, 103 * s, 103 * s - 10 * MS_NS);
  g_assert_cmpint (spot_candle_clock_get_offset_ns (c), ==, 10 * MS_NS);
  /* After more than a minute, old minima are forgotten. */
  spot_candle_clock_observe (c, 0, 170 * s, 170 * s - 50 * MS_NS);
  spot_candle_clock_observe (c, 0, 200 * s, 200 * s - 45 * MS_NS);
  g_assert_cmpint (spot_candle_clock_get_offset_ns (c), ==, 45 * MS_NS);
  /* A clock ahead of the exchange gives a negative offset. */
  spot_candle_clock_set_offset_ns (c, 0);
  spot_candle_clock_observe (c, 2, 300 * s, 300 * s + 400 * MS_NS);
  g_assert_cmpint (spot_candle_clock_get_offset_ns (c), ==, -400 * MS_NS);
}

static gint64
fixed_now (gpointer data)
{
  return *(gint64 *)data;
}

static void
test_custom_clock (void)
{
  gint64 now = 42;
  g_autoptr (SpotCandleClock) c = spot_candle_clock_new_custom (fixed_now, &now);
  g_assert_cmpint (spot_candle_clock_now_ns (c), ==, 42);
  now = 43;
  g_assert_cmpint (spot_candle_clock_now_ns (c), ==, 43);
  g_autoptr (SpotCandleClock) real = spot_candle_clock_new ();
  g_assert_cmpint (spot_candle_clock_now_ns (real), >, DAY0 * NS_PER_S - 365 * 86400 * NS_PER_S);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/candle-clock/manual-clock-moves", test_manual_clock_moves);
  g_test_add_func ("/candle-clock/offset-is-minimum-over-last-minute-and-connections",
                   test_offset_is_minimum_over_last_minute_and_connections);
  g_test_add_func ("/candle-clock/custom-clock", test_custom_clock);
  return g_test_run ();
}
