/* test-coinbase-pacer.c: rate spacing, full-jitter backoff, REST parsing. */
#include <string.h>

#include <glib.h>

#include "coinbase/spot-coinbase-pacer.h"
#include "coinbase/spot-coinbase-rest.h"
#include "core/spot-error.h"

static void
test_pacer_spaces_actions_at_the_rate (void)
{
  SpotCoinbasePacer p;
  spot_coinbase_pacer_init (&p, 4.0);
  gint64 now = 1000000;
  /* A burst of 12 at one instant gets slots 250 ms apart. */
  for (guint i = 0; i < 12; i++)
    g_assert_cmpint (spot_coinbase_pacer_reserve (&p, now), ==, (gint64)i * 250000);
  /* Long after, no delay. */
  g_assert_cmpint (spot_coinbase_pacer_reserve (&p, now + 100 * G_USEC_PER_SEC), ==, 0);
  /* Any one-second window holds at most 4 slots. */
  spot_coinbase_pacer_init (&p, 4.0);
  gint64 slots[40];
  for (guint i = 0; i < 40; i++)
    slots[i]
        = now + (gint64)(i * 37000) + spot_coinbase_pacer_reserve (&p, now + (gint64)(i * 37000));
  for (guint i = 0; i + 4 < 40; i++)
    g_assert_cmpint (slots[i + 4] - slots[i], >=, G_USEC_PER_SEC);
}

static void
test_backoff_is_full_jitter_capped (void)
{
  gint64 base = 2000000, cap = 60000000;
  g_assert_cmpint (spot_coinbase_backoff_us (0, base, cap, 0.0), ==, 0);
  g_assert_cmpint (spot_coinbase_backoff_us (0, base, cap, 0.5), ==, 1000000);
  g_assert_cmpint (spot_coinbase_backoff_us (1, base, cap, 0.5), ==, 2000000);
  g_assert_cmpint (spot_coinbase_backoff_us (4, base, cap, 0.5), ==, 16000000);
  g_assert_cmpint (spot_coinbase_backoff_us (5, base, cap, 0.5), ==, 30000000);
  g_assert_cmpint (spot_coinbase_backoff_us (50, base, cap, 0.5), ==, 30000000);
  g_assert_cmpint (spot_coinbase_backoff_us (50, base, cap, 0.9999999), <, cap);
  for (guint i = 0; i < 1000; i++)
    {
      gint64 d = spot_coinbase_backoff_us (3, base, cap, g_random_double ());
      g_assert_cmpint (d, >=, 0);
      g_assert_cmpint (d, <, 16000000);
    }
}

static void
test_rest_candles_parse_oldest_first (void)
{
  const char *body = "{\"candles\":[{\"start\":\"1712192460\",\"low\":\"1.5\",\"high\":\"2\","
                     "\"open\":\"1.5\",\"close\":\"2\",\"volume\":\"3\"},"
                     "{\"start\":\"1712192400\",\"low\":\"1\",\"high\":\"1\",\"open\":\"1\","
                     "\"close\":\"1\",\"volume\":\"0.25\"}]}";
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) c = spot_coinbase_rest_parse_candles (body, strlen (body), "BTC-USD",
                                                           SPOT_GRANULARITY_ONE_MINUTE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c->len, ==, 2);
  g_assert_cmpint (g_array_index (c, SpotCandle, 0).start, ==, 1712192400);
  g_assert_cmpint (g_array_index (c, SpotCandle, 0).trades, ==, SPOT_CANDLE_TRADES_UNKNOWN);
  g_assert_true (g_array_index (c, SpotCandle, 0).complete);
  g_assert_cmpstr (g_array_index (c, SpotCandle, 1).product_id, ==, "BTC-USD");
}

static void
test_rest_candles_with_bad_values_fail_whole_response (void)
{
  const char *bad[] = {
    "{\"candles\":[{\"start\":\"1712192400\",\"low\":\"1\",\"high\":\"1\",\"open\":\"1\",\"close\":"
    "\"NaN\",\"volume\":\"1\"}]}",
    "{\"candles\":[{\"start\":\"1712192401\",\"low\":\"1\",\"high\":\"1\",\"open\":\"1\",\"close\":"
    "\"1\",\"volume\":\"1\"}]}",
    "{\"candles\":[{\"start\":\"1712192400\",\"low\":\"2\",\"high\":\"1\",\"open\":\"1\",\"close\":"
    "\"1\",\"volume\":\"1\"}]}",
    "{\"candles\":{}}",
    "not json",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_null (spot_coinbase_rest_parse_candles (bad[i], strlen (bad[i]), "BTC-USD",
                                                       SPOT_GRANULARITY_ONE_MINUTE, &error));
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
    }
}

static void
test_rest_products_filter_tradable_spot (void)
{
  const char *body = "{\"products\":["
                     "{\"product_id\":\"BTC-USD\",\"status\":\"online\",\"base_currency_id\":"
                     "\"BTC\",\"quote_currency_id\":\"USD\",\"trading_disabled\":false,\"is_"
                     "disabled\":false,\"product_type\":\"SPOT\"},"
                     "{\"product_id\":\"OLD-USD\",\"status\":\"delisted\",\"trading_disabled\":"
                     "false,\"is_disabled\":false,\"product_type\":\"SPOT\"},"
                     "{\"product_id\":\"OFF-USD\",\"status\":\"online\",\"trading_disabled\":true,"
                     "\"is_disabled\":false,\"product_type\":\"SPOT\"},"
                     "{\"product_id\":\"DIS-USD\",\"status\":\"online\",\"trading_disabled\":false,"
                     "\"is_disabled\":true,\"product_type\":\"SPOT\"},"
                     "{\"product_id\":\"BIT-PERP\",\"status\":\"online\",\"trading_disabled\":"
                     "false,\"is_disabled\":false,\"product_type\":\"FUTURE\"},"
                     "{\"product_id\":\"bad id\",\"status\":\"online\"}],\"num_products\":6}";
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) p = spot_coinbase_rest_parse_products (body, strlen (body), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (p->len, ==, 5);
  guint tradable = 0;
  for (guint i = 0; i < p->len; i++)
    if (spot_coinbase_product_info_is_tradable (g_ptr_array_index (p, i)))
      tradable++;
  g_assert_cmpuint (tradable, ==, 1);
  SpotCoinbaseProductInfo *btc = g_ptr_array_index (p, 0);
  g_assert_cmpstr (btc->product->base, ==, "BTC");
  g_assert_cmpstr (btc->product->quote, ==, "USD");
  g_assert_true (btc->product->active);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/coinbase/pacer/spaces-actions-at-the-rate",
                   test_pacer_spaces_actions_at_the_rate);
  g_test_add_func ("/coinbase/pacer/backoff-is-full-jitter-capped",
                   test_backoff_is_full_jitter_capped);
  g_test_add_func ("/coinbase/rest/candles-parse-oldest-first",
                   test_rest_candles_parse_oldest_first);
  g_test_add_func ("/coinbase/rest/candles-with-bad-values-fail-whole-response",
                   test_rest_candles_with_bad_values_fail_whole_response);
  g_test_add_func ("/coinbase/rest/products-filter-tradable-spot",
                   test_rest_products_filter_tradable_spot);
  return g_test_run ();
}
