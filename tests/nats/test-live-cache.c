/* test-live-cache.c: the last-value map's greatest-start rule and snapshots. */
#define G_LOG_DOMAIN "spot-test"

#include "core/spot-error.h"
#include "nats-test-util.h"
#include "nats/spot-live-cache.h"

static void
test_greatest_start_wins_per_key (void)
{
  g_autoptr (SpotLiveCache) cache = spot_live_cache_new (NULL, NULL);
  SpotCandle c;
  SpotLiveCacheStats stats;

  c = nats_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 120, 3, "10");
  g_assert_cmpuint (spot_live_cache_update (cache, &c, 1), ==, 1);
  /* A correction of an older minute does not replace the open one. */
  c = nats_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 60, 9, "11");
  g_assert_cmpuint (spot_live_cache_update (cache, &c, 1), ==, 0);
  /* A lower revision of the same start neither. */
  c = nats_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 120, 2, "12");
  g_assert_cmpuint (spot_live_cache_update (cache, &c, 1), ==, 0);
  c = nats_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 120, 4, "13");
  g_assert_cmpuint (spot_live_cache_update (cache, &c, 1), ==, 1);

  g_assert_true (spot_live_cache_lookup (cache, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, &c));
  g_assert_cmpint (c.start, ==, 120);
  g_assert_cmpuint (c.rev, ==, 4);
  g_assert_false (spot_live_cache_lookup (cache, "BTC-USD", SPOT_GRANULARITY_ONE_DAY, &c));
  spot_live_cache_get_stats (cache, &stats);
  g_assert_cmpuint (stats.keys, ==, 1);
  g_assert_cmpuint (stats.older_ignored, ==, 2);
  g_assert_false (stats.synced);
}

static void
test_snapshot_selects_products_and_granularities (void)
{
  g_autoptr (SpotLiveCache) cache = spot_live_cache_new (NULL, NULL);
  const char *products[] = { "ETH-USD", "BTC-USD", "XRP-USD", NULL };
  SpotCandle cs[4];
  g_autoptr (GArray) snap = NULL;

  cs[0] = nats_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 60, 1, "1");
  cs[1] = nats_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_HOUR, 0, 1, "1");
  cs[2] = nats_test_candle ("ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, 60, 1, "1");
  cs[3] = nats_test_candle ("SOL-USD", SPOT_GRANULARITY_ONE_MINUTE, 60, 1, "1");
  spot_live_cache_update (cache, cs, 4);

  snap = spot_live_cache_snapshot (cache, products, 1u << SPOT_GRANULARITY_ONE_MINUTE);
  g_assert_cmpuint (snap->len, ==, 2);
  g_assert_cmpstr (g_array_index (snap, SpotCandle, 0).product_id, ==, "ETH-USD");
  g_assert_cmpstr (g_array_index (snap, SpotCandle, 1).product_id, ==, "BTC-USD");
  g_clear_pointer (&snap, g_array_unref);

  snap = spot_live_cache_snapshot (cache, NULL, SPOT_GRANULARITY_SET_ALL);
  g_assert_cmpuint (snap->len, ==, 4);
  g_assert_cmpstr (g_array_index (snap, SpotCandle, 0).product_id, ==, "BTC-USD");
  g_assert_cmpint (g_array_index (snap, SpotCandle, 0).granularity, ==,
                   SPOT_GRANULARITY_ONE_MINUTE);
  g_assert_cmpint (g_array_index (snap, SpotCandle, 1).granularity, ==, SPOT_GRANULARITY_ONE_HOUR);
  g_assert_cmpstr (g_array_index (snap, SpotCandle, 3).product_id, ==, "SOL-USD");
}

static void
test_start_without_connection_fails (void)
{
  g_autoptr (SpotLiveCache) cache = spot_live_cache_new (NULL, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_false (spot_live_cache_start (cache, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_assert_false (spot_live_cache_wait_synced (cache, 1));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nats/live-cache/greatest-start-wins", test_greatest_start_wins_per_key);
  g_test_add_func ("/nats/live-cache/snapshot", test_snapshot_selects_products_and_granularities);
  g_test_add_func ("/nats/live-cache/needs-connection", test_start_without_connection_fails);
  return g_test_run ();
}
