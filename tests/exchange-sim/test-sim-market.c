/* test-sim-market.c: the simulator's market, trade log, roll-ups and text. */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "core/spot-error.h"
#include "spot-sim-market.h"
#include "spot-sim-wire.h"

#define T0_US (G_GINT64_CONSTANT (1775521800) * G_USEC_PER_SEC) /* a 5-minute boundary */

static SpotSimMarket *
market_new (guint64 seed, guint n, double tps, guint history)
{
  SpotSimMarketConfig c = {
    .seed = seed,
    .n_products = n,
    .trades_per_second = tps,
    .history_minutes = history,
    .snapshot_trades = 100,
    .horizon_minutes = 27 * 60,
  };
  g_autoptr (GError) error = NULL;
  SpotSimMarket *m = spot_sim_market_new (&c, T0_US, &error);
  g_assert_no_error (error);
  return m;
}

static char *
fmt (__int128 v, gint exp, gboolean strip)
{
  GString *s = g_string_new (NULL);
  spot_sim_format_decimal (s, v, exp, strip);
  return g_string_free (s, FALSE);
}

static void
test_decimals_print_like_coinbase (void)
{
  struct
  {
    gint64 v;
    gint exp;
    gboolean strip;
    const char *want;
  } cases[] = {
    { 6890050, -2, FALSE, "68900.50" },
    { 6890050, -2, TRUE, "68900.5" },
    { 150000, -8, FALSE, "0.00150000" },
    { 150000, -8, TRUE, "0.0015" },
    { 2456, -8, TRUE, "0.00002456" },
    { 7, 0, TRUE, "7" },
    { 1200, -2, TRUE, "12" },
    { 0, -2, TRUE, "0" },
    { 0, -2, FALSE, "0.00" },
    { 5, 2, TRUE, "500" },
    { 1, -1, FALSE, "0.1" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *s = fmt (cases[i].v, cases[i].exp, cases[i].strip);
      g_assert_cmpstr (s, ==, cases[i].want);
    }
  /* Beyond int64: a day's volume of a meme coin in base units. */
  __int128 big = (__int128)G_MAXINT64 * 100 + 5;
  g_autofree char *b = fmt (big, -2, TRUE);
  g_assert_cmpstr (b, ==, "9223372036854775807.05");
  g_autofree char *inc = spot_sim_increment_string (-8);
  g_assert_cmpstr (inc, ==, "0.00000001");
}

static void
test_time_text_forms (void)
{
  GString *s = g_string_new (NULL);
  spot_sim_append_rfc3339_ns (s, G_GINT64_CONSTANT (1775572202789012345));
  g_assert_cmpstr (s->str, ==, "2026-04-07T14:30:02.789012345Z");
  g_string_truncate (s, 0);
  SpotSimTimeCache cache = { 0 };
  spot_sim_append_rfc3339_us (s, &cache, G_GINT64_CONSTANT (1775572202000042));
  g_assert_cmpstr (s->str, ==, "2026-04-07T14:30:02.000042Z");
  g_string_truncate (s, 0);
  spot_sim_append_go_time (s, G_GINT64_CONSTANT (1687552316121961769),
                           G_GINT64_CONSTANT (91717525857105));
  g_assert_cmpstr (s->str, ==, "2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105");
  g_string_free (s, TRUE);
}

static void
test_same_seed_same_trades (void)
{
  g_autoptr (SpotSimMarket) a = market_new (42, 10, 20, 2);
  g_autoptr (SpotSimMarket) b = market_new (42, 10, 20, 2);
  g_autoptr (SpotSimMarket) c = market_new (43, 10, 20, 2);
  gboolean differs = FALSE;
  for (guint p = 0; p < 10; p++)
    {
      g_assert_cmpstr (spot_sim_market_product (a, p)->product_id, ==,
                       spot_sim_market_product (b, p)->product_id);
      SpotSimTrade ta[64], tb[64], tc[64];
      guint na = spot_sim_market_recent (a, p, ta, 64);
      guint nb = spot_sim_market_recent (b, p, tb, 64);
      guint nc = spot_sim_market_recent (c, p, tc, 64);
      g_assert_cmpuint (na, ==, 64);
      g_assert_cmpuint (na, ==, nb);
      g_assert_cmpmem (ta, sizeof ta, tb, sizeof tb);
      if (nc != na || memcmp (ta, tc, sizeof ta) != 0)
        differs = TRUE;
    }
  g_assert_true (differs);
}

static void
test_products_unique_with_exchange_increments (void)
{
  g_autoptr (SpotSimMarket) m = market_new (7, 400, 1, 0);
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint p = 0; p < 400; p++)
    {
      const SpotSimProductInfo *info = spot_sim_market_product (m, p);
      g_assert_false (g_hash_table_contains (ids, info->product_id));
      g_hash_table_add (ids, info->product_id);
      g_assert_true (g_regex_match_simple ("^[A-Z]{3,5}-[A-Z]{3,4}$", info->product_id, 0, 0));
      g_assert_cmpint (info->quote_exp, <=, 0);
      g_assert_cmpint (info->quote_exp, >=, -12);
    }
  gint shib = spot_sim_market_find (m, "SHIB-USD");
  g_assert_cmpint (shib, >=, 0);
  g_assert_cmpint (spot_sim_market_product (m, (guint)shib)->quote_exp, ==, -8);
  g_assert_cmpint (spot_sim_market_product (m, (guint)shib)->base_exp, ==, 0);
}

static void
test_explicit_ids_and_bad_ones (void)
{
  char *ids[] = { "BTC-USD", "FOO-EUR", NULL };
  SpotSimMarketConfig c = { .seed = 1,
                            .product_ids = ids,
                            .trades_per_second = 1,
                            .snapshot_trades = 10,
                            .horizon_minutes = 60 };
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotSimMarket) m = spot_sim_market_new (&c, T0_US, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (spot_sim_market_n_products (m), ==, 2);
  g_assert_cmpint (spot_sim_market_find (m, "FOO-EUR"), ==, 1);

  char *bad[] = { "btc_usd", NULL };
  c.product_ids = bad;
  g_autoptr (SpotSimMarket) none = spot_sim_market_new (&c, T0_US, &error);
  g_assert_null (none);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "btc_usd"));
}

/* Every granularity equals a plain aggregation of the trade log. */
static void
test_candles_equal_plain_aggregation_of_trades (void)
{
  g_autoptr (SpotSimMarket) m = market_new (9, 3, 2, 0);
  /* Eight hours of trades, plus the running bucket. */
  gint64 end_us = T0_US + G_GINT64_CONSTANT (8 * 3600) * G_USEC_PER_SEC + 17 * G_USEC_PER_SEC;
  g_autoptr (GArray) log = g_array_new (FALSE, FALSE, sizeof (SpotSimTrade));
  for (gint64 t = T0_US + 250000; t <= end_us; t += 250000)
    {
      spot_sim_market_advance (m, t);
      guint n = 0;
      const SpotSimTrade *batch = spot_sim_market_last_batch (m, 1, &n);
      g_array_append_vals (log, batch, n);
    }
  g_assert_cmpuint (log->len, >, 50000);
  const gint64 grans[] = { 60, 300, 900, 1800, 3600, 7200, 14400, 21600, 86400 };
  for (guint gi = 0; gi < G_N_ELEMENTS (grans); gi++)
    {
      gint64 g = grans[gi];
      gint64 start = T0_US / G_USEC_PER_SEC - 86400, end = end_us / G_USEC_PER_SEC;
      if ((end - start) / g > 350)
        start = end - 350 * g;
      g_autoptr (GArray) got = spot_sim_market_candles (m, 1, g, start, end, 350);
      /* Plain aggregation, newest bucket first. */
      g_autoptr (GArray) want = g_array_new (FALSE, FALSE, sizeof (SpotSimCandle));
      for (guint i = 0; i < log->len; i++)
        {
          const SpotSimTrade *t = &g_array_index (log, SpotSimTrade, i);
          gint64 b = t->time_us / G_USEC_PER_SEC / g * g;
          if (b < start || b > end)
            continue;
          SpotSimCandle *last
              = want->len > 0 ? &g_array_index (want, SpotSimCandle, want->len - 1) : NULL;
          if (last == NULL || last->start != b)
            {
              SpotSimCandle c = { .start = b, .open = t->price, .high = t->price, .low = t->price };
              g_array_append_val (want, c);
              last = &g_array_index (want, SpotSimCandle, want->len - 1);
            }
          last->high = MAX (last->high, t->price);
          last->low = MIN (last->low, t->price);
          last->close = t->price;
          last->volume += t->size;
          last->trades++;
        }
      g_assert_cmpuint (got->len, ==, MIN (want->len, 350));
      for (guint i = 0; i < got->len; i++)
        {
          SpotSimCandle *a = &g_array_index (got, SpotSimCandle, i);
          SpotSimCandle *b = &g_array_index (want, SpotSimCandle, want->len - 1 - i);
          g_assert_cmpint (a->start, ==, b->start);
          g_assert_cmpint (a->open, ==, b->open);
          g_assert_cmpint (a->high, ==, b->high);
          g_assert_cmpint (a->low, ==, b->low);
          g_assert_cmpint (a->close, ==, b->close);
          g_assert_true (a->volume == b->volume);
          g_assert_cmpint (a->trades, ==, b->trades);
        }
      g_autoptr (GArray) two = spot_sim_market_candles (m, 1, g, start, end, 2);
      g_assert_cmpuint (two->len, ==, MIN (2u, got->len));
    }
}

static void
test_trade_times_never_go_back (void)
{
  g_autoptr (SpotSimMarket) m = market_new (5, 2, 50, 0);
  spot_sim_market_advance (m, T0_US + 10 * G_USEC_PER_SEC);
  SpotSimTrade last;
  g_assert_cmpuint (spot_sim_market_recent (m, 0, &last, 1), ==, 1);
  /* The clock steps back 5 s: no trade until it passes the last one. */
  g_assert_cmpuint (spot_sim_market_advance (m, T0_US + 5 * G_USEC_PER_SEC), ==, 0);
  spot_sim_market_advance (m, T0_US + 12 * G_USEC_PER_SEC);
  guint n = 0;
  const SpotSimTrade *batch = spot_sim_market_last_batch (m, 0, &n);
  g_assert_cmpuint (n, >, 0);
  g_assert_cmpint (batch[0].time_us, >=, last.time_us);
  g_assert_cmpint (batch[0].trade_id, ==, last.trade_id + 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sim-market/decimals-print-like-coinbase", test_decimals_print_like_coinbase);
  g_test_add_func ("/sim-market/time-text-forms", test_time_text_forms);
  g_test_add_func ("/sim-market/same-seed-same-trades", test_same_seed_same_trades);
  g_test_add_func ("/sim-market/products-unique-with-exchange-increments",
                   test_products_unique_with_exchange_increments);
  g_test_add_func ("/sim-market/explicit-ids-and-bad-ones", test_explicit_ids_and_bad_ones);
  g_test_add_func ("/sim-market/candles-equal-plain-aggregation-of-trades",
                   test_candles_equal_plain_aggregation_of_trades);
  g_test_add_func ("/sim-market/trade-times-never-go-back", test_trade_times_never_go_back);
  return g_test_run ();
}
