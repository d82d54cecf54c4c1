/* test-candle.c: candle invariants, keys and numeric equality. */
#include "model/spot-candle.h"

#include "core/spot-error.h"

static SpotDecimal
dec (const char *text)
{
  SpotDecimal d;
  g_assert_true (spot_decimal_parse (text, -1, &d, NULL));
  return d;
}

static SpotCandle
good_candle (void)
{
  SpotCandle c = { .product_id = "BTC-USD",
                   .granularity = SPOT_GRANULARITY_ONE_MINUTE,
                   .start = 1775521800,
                   .trades = 12,
                   .last_trade_id = 995098701,
                   .complete = FALSE,
                   .rev = 3,
                   .ts_ns = G_GINT64_CONSTANT (1775521802789012345) };

  c.open = dec ("68900.50");
  c.high = dec ("68950.00");
  c.low = dec ("68890.1");
  c.close = dec ("68910.25");
  c.volume = dec ("12.34567890");
  return c;
}

static void
assert_invalid (const SpotCandle *c, const char *needle)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (spot_candle_validate (c, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, needle) == NULL)
    g_error ("\"%s\" does not mention %s", error->message, needle);
}

static void
test_candle_validate_accepts_live_and_rest_candles (void)
{
  SpotCandle c = good_candle ();
  g_autoptr (GError) error = NULL;

  g_assert_true (spot_candle_validate (&c, &error));
  g_assert_no_error (error);

  c.trades = SPOT_CANDLE_TRADES_UNKNOWN;
  c.last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  c.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  c.volume = SPOT_DECIMAL_ZERO;
  c.open = c.high = c.low = c.close = dec ("1");
  g_assert_true (spot_candle_validate (&c, &error));
  g_assert_no_error (error);
}

static void
test_candle_validate_names_the_field_at_fault (void)
{
  SpotCandle c;

  c = good_candle ();
  g_strlcpy (c.product_id, "BTC_USD", sizeof c.product_id);
  assert_invalid (&c, "product_id");

  c = good_candle ();
  c.granularity = SPOT_GRANULARITY_COUNT;
  assert_invalid (&c, "granularity");

  c = good_candle ();
  c.granularity = SPOT_GRANULARITY_ONE_HOUR;
  assert_invalid (&c, "start");

  c = good_candle ();
  c.start = -30;
  assert_invalid (&c, "start");

  c = good_candle ();
  c.open = dec ("0");
  assert_invalid (&c, "open");

  c = good_candle ();
  c.low = dec ("-1");
  assert_invalid (&c, "low");

  c = good_candle ();
  c.low = dec ("68960");
  assert_invalid (&c, "low");

  c = good_candle ();
  c.open = dec ("68950.000001");
  assert_invalid (&c, "open");

  c = good_candle ();
  c.close = dec ("68890.09");
  assert_invalid (&c, "close");

  c = good_candle ();
  c.volume = dec ("-0.00000001");
  assert_invalid (&c, "volume");

  c = good_candle ();
  c.trades = -2;
  assert_invalid (&c, "trades");
}

static void
test_candle_key_joins_product_and_granularity (void)
{
  SpotCandle c = good_candle ();
  char buf[64];

  g_assert_cmpuint (spot_candle_key (&c, buf, sizeof buf), ==, strlen ("BTC-USD.ONE_MINUTE"));
  g_assert_cmpstr (buf, ==, "BTC-USD.ONE_MINUTE");
  g_strlcpy (c.product_id, "ABCDEFGHIJKLMNOP-0123456789ABCDEF", sizeof c.product_id);
  c.granularity = SPOT_GRANULARITY_FIFTEEN_MINUTE;
  spot_candle_key (&c, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "ABCDEFGHIJKLMNOP-0123456789ABCDEF.FIFTEEN_MINUTE");
}

static void
test_candle_values_equal_compares_numerically (void)
{
  SpotCandle a = good_candle ();
  SpotCandle b = good_candle ();

  /* Scales and bookkeeping fields differ, values do not. */
  b.open = dec ("68900.5");
  b.high = dec ("68950");
  b.volume = dec ("12.3456789000");
  b.trades = SPOT_CANDLE_TRADES_UNKNOWN;
  b.rev = 99;
  b.complete = TRUE;
  b.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  g_assert_true (spot_candle_values_equal (&a, &b));

  b.volume = dec ("12.34567891");
  g_assert_false (spot_candle_values_equal (&a, &b));
  b = good_candle ();
  b.start += 60;
  g_assert_false (spot_candle_values_equal (&a, &b));
  b = good_candle ();
  g_strlcpy (b.product_id, "ETH-USD", sizeof b.product_id);
  g_assert_false (spot_candle_values_equal (&a, &b));
  b = good_candle ();
  b.close = dec ("68910.24");
  g_assert_false (spot_candle_values_equal (&a, &b));
}

static void
test_candle_update_kinds_have_names (void)
{
  g_assert_cmpstr (spot_candle_update_kind_to_string (SPOT_CANDLE_UPDATE_LIVE), ==, "live");
  g_assert_cmpstr (spot_candle_update_kind_to_string (SPOT_CANDLE_UPDATE_COMPLETE), ==, "complete");
  g_assert_cmpstr (spot_candle_update_kind_to_string (SPOT_CANDLE_UPDATE_CORRECTION), ==,
                   "correction");
  g_assert_cmpstr (spot_candle_update_kind_to_string (SPOT_CANDLE_UPDATE_REPAIR), ==, "repair");
  g_assert_cmpstr (spot_candle_update_kind_to_string (SPOT_CANDLE_UPDATE_SEED), ==, "seed");
  g_assert_cmpstr (spot_candle_update_kind_to_string ((SpotCandleUpdateKind)77), ==, "unknown");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/candle/validate-accepts-live-and-rest-candles",
                   test_candle_validate_accepts_live_and_rest_candles);
  g_test_add_func ("/candle/validate-names-the-field-at-fault",
                   test_candle_validate_names_the_field_at_fault);
  g_test_add_func ("/candle/key-joins-product-and-granularity",
                   test_candle_key_joins_product_and_granularity);
  g_test_add_func ("/candle/values-equal-compares-numerically",
                   test_candle_values_equal_compares_numerically);
  g_test_add_func ("/candle/update-kinds-have-names", test_candle_update_kinds_have_names);
  return g_test_run ();
}
