/* test-trade.c: trade ids, validation and ordering. */
#include "model/spot-trade.h"

#include "core/spot-error.h"
#include "model/spot-time.h"

static void
test_trade_id_parses_numbers (void)
{
  guint64 id = 0;

  g_assert_true (spot_trade_id_parse ("995098700", -1, &id, NULL));
  g_assert_cmpuint (id, ==, 995098700);
  g_assert_true (spot_trade_id_parse ("18446744073709551615", -1, &id, NULL));
  g_assert_cmpuint (id, ==, G_MAXUINT64);
  g_assert_true (spot_trade_id_parse ("0", -1, &id, NULL));
  g_assert_cmpuint (id, ==, 0);
  g_assert_true (spot_trade_id_parse ("123\"", 3, &id, NULL));
  g_assert_cmpuint (id, ==, 123);
}

static void
test_trade_id_rejects_signs_empty_and_overflow (void)
{
  const char *bad[] = { "",
                        "-1",
                        "+1",
                        " 1",
                        "1 ",
                        "1a",
                        "0x10",
                        "1.0",
                        "18446744073709551616",
                        "99999999999999999999999" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      guint64 id = 7;

      g_assert_false (spot_trade_id_parse (bad[i], -1, &id, &error));
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
      if (*bad[i] != '\0')
        g_assert_nonnull (strstr (error->message, bad[i]));
      g_assert_cmpuint (id, ==, 7);
    }
}

static SpotTrade
good_trade (void)
{
  SpotTrade t = { .product_id = "BTC-USD",
                  .trade_id = 995098700,
                  .time_ns = G_GINT64_CONSTANT (1775572202) * SPOT_NS_PER_SECOND,
                  .side = SPOT_TRADE_SIDE_BUY };

  g_assert_true (spot_decimal_parse ("68900.50", -1, &t.price, NULL));
  g_assert_true (spot_decimal_parse ("0.00000001", -1, &t.size, NULL));
  t.message_ns = t.time_ns + 1000;
  return t;
}

static void
assert_invalid (const SpotTrade *t, const char *needle)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (spot_trade_validate (t, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, needle));
}

static void
test_trade_validate_checks_every_field (void)
{
  SpotTrade t = good_trade ();
  g_autoptr (GError) error = NULL;

  g_assert_true (spot_trade_validate (&t, &error));
  g_assert_no_error (error);

  t = good_trade ();
  g_strlcpy (t.product_id, "btc-usd", sizeof t.product_id);
  assert_invalid (&t, "btc-usd");

  t = good_trade ();
  t.trade_id = 0;
  assert_invalid (&t, "trade_id");

  t = good_trade ();
  t.price = SPOT_DECIMAL_ZERO;
  assert_invalid (&t, "price");

  t = good_trade ();
  g_assert_true (spot_decimal_parse ("-1.5", -1, &t.price, NULL));
  assert_invalid (&t, "-1.5");

  t = good_trade ();
  g_assert_true (spot_decimal_parse ("0.000", -1, &t.size, NULL));
  assert_invalid (&t, "size");

  t = good_trade ();
  t.time_ns = G_GINT64_CONSTANT (946684799) * SPOT_NS_PER_SECOND;
  assert_invalid (&t, "1999-12-31T23:59:59");

  t = good_trade ();
  t.time_ns = G_GINT64_CONSTANT (946684800) * SPOT_NS_PER_SECOND;
  g_assert_true (spot_trade_validate (&t, NULL));
}

static void
test_trade_compare_orders_by_time_then_numeric_id (void)
{
  SpotTrade a = good_trade ();
  SpotTrade b = good_trade ();

  g_assert_cmpint (spot_trade_compare_time (&a, &b), ==, 0);
  b.trade_id = a.trade_id + 1;
  g_assert_cmpint (spot_trade_compare_time (&a, &b), <, 0);
  g_assert_cmpint (spot_trade_compare_time (&b, &a), >, 0);
  /* Time wins over id. */
  a.time_ns += 1;
  g_assert_cmpint (spot_trade_compare_time (&a, &b), >, 0);
  /* Ids compare as numbers, not text ("9" < "10"), and above G_MAXINT64. */
  a = good_trade ();
  b = good_trade ();
  a.trade_id = 9;
  b.trade_id = 10;
  g_assert_cmpint (spot_trade_compare_time (&a, &b), <, 0);
  a.trade_id = G_MAXUINT64;
  b.trade_id = 1;
  g_assert_cmpint (spot_trade_compare_time (&a, &b), >, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/trade/id-parses-numbers", test_trade_id_parses_numbers);
  g_test_add_func ("/trade/id-rejects-signs-empty-and-overflow",
                   test_trade_id_rejects_signs_empty_and_overflow);
  g_test_add_func ("/trade/validate-checks-every-field", test_trade_validate_checks_every_field);
  g_test_add_func ("/trade/compare-orders-by-time-then-numeric-id",
                   test_trade_compare_orders_by_time_then_numeric_id);
  return g_test_run ();
}
