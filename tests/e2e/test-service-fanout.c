/* test-service-fanout: the service's engine sink and state names (pure parts
 * of src/service; the rest is pinned end to end). */
#include "config.h"

#include <string.h>

#include "service/spot-candle-fanout.h"
#include "service/spot-service.h"

typedef struct
{
  guint calls;
  guint ranges;
  char first[SPOT_PRODUCT_ID_SIZE];
} DirtySeen;

static void
on_dirty (gpointer user_data, const SpotDirtyRange *ranges, guint n)
{
  DirtySeen *seen = user_data;

  if (seen->calls++ == 0)
    g_strlcpy (seen->first, ranges[0].product_id, sizeof seen->first);
  seen->ranges += n;
}

static void
test_fanout_counts_complete_candles_and_forwards_dirty_minutes (void)
{
  SpotCandleFanout *fanout = spot_candle_fanout_new (NULL, NULL);
  SpotCandleSink sink;
  SpotCandleUpdate updates[3];
  SpotDirtyRange ranges[2];
  SpotCandleFanoutStats stats;
  DirtySeen seen = { 0 };

  memset (updates, 0, sizeof updates);
  memset (ranges, 0, sizeof ranges);
  spot_candle_fanout_init_sink (fanout, &sink);
  g_assert_true (sink.user_data == fanout);

  sink.emit_live (sink.user_data, 0, updates, 3);
  updates[0].candle.complete = TRUE;
  updates[0].kind = SPOT_CANDLE_UPDATE_COMPLETE;
  updates[1].candle.complete = TRUE;
  updates[1].kind = SPOT_CANDLE_UPDATE_REPAIR;
  sink.emit_complete (sink.user_data, 1, updates, 3);

  /* Before a repair coordinator is attached, dirty minutes are only counted. */
  g_strlcpy (ranges[0].product_id, "BTC-USD", sizeof ranges[0].product_id);
  sink.emit_dirty (sink.user_data, 0, ranges, 1);
  spot_candle_fanout_set_dirty_func (fanout, on_dirty, &seen);
  sink.emit_dirty (sink.user_data, 2, ranges, 2);

  spot_candle_fanout_get_stats (fanout, &stats);
  g_assert_cmpuint (stats.live, ==, 3);
  g_assert_cmpuint (stats.complete, ==, 2);
  g_assert_cmpuint (stats.dirty_ranges, ==, 3);
  g_assert_cmpuint (seen.calls, ==, 1);
  g_assert_cmpuint (seen.ranges, ==, 2);
  g_assert_cmpstr (seen.first, ==, "BTC-USD");
  spot_candle_fanout_free (fanout);
}

static void
test_state_names_are_stable (void)
{
  /* /health and D-Bus clients match on these. */
  g_assert_cmpstr (spot_service_state_to_string (SPOT_SERVICE_STATE_STARTING), ==, "starting");
  g_assert_cmpstr (spot_service_state_to_string (SPOT_SERVICE_STATE_RUNNING), ==, "running");
  g_assert_cmpstr (spot_service_state_to_string (SPOT_SERVICE_STATE_DEGRADED), ==, "degraded");
  g_assert_cmpstr (spot_service_state_to_string (SPOT_SERVICE_STATE_STOPPING), ==, "stopping");
  g_assert_cmpstr (spot_service_state_to_string (SPOT_SERVICE_STATE_STOPPED), ==, "stopped");
  g_assert_cmpstr (spot_service_state_to_string (SPOT_SERVICE_STATE_FAILED), ==, "failed");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/service/fanout-counts-complete-candles-and-forwards-dirty-minutes",
                   test_fanout_counts_complete_candles_and_forwards_dirty_minutes);
  g_test_add_func ("/service/state-names-are-stable", test_state_names_are_stable);
  return g_test_run ();
}
