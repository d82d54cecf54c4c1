/* test-nats-subject.c: subjects, KV keys and bucket names. */
#define G_LOG_DOMAIN "spot-test"

#include "core/spot-error.h"
#include "nats/spot-nats-subject.h"

#include <string.h>

static void
test_formats_subject_key_and_kv_subject (void)
{
  char buf[SPOT_NATS_SUBJECT_SIZE];

  g_assert_cmpuint (spot_nats_key_format ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, buf, sizeof buf),
                    ==, 18);
  g_assert_cmpstr (buf, ==, "BTC-USD.ONE_MINUTE");
  spot_nats_subject_format ("ETH-EUR", SPOT_GRANULARITY_ONE_DAY, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "candles.ETH-EUR.ONE_DAY");
  spot_nats_kv_subject_format ("live-candles", "BTC-USD", SPOT_GRANULARITY_SIX_HOUR, buf,
                               sizeof buf);
  g_assert_cmpstr (buf, ==, "$KV.live-candles.BTC-USD.SIX_HOUR");
}

static void
test_format_refuses_small_buffer_and_bad_granularity (void)
{
  char buf[8];

  g_assert_cmpuint (spot_nats_key_format ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, buf, sizeof buf),
                    ==, 0);
  g_assert_cmpstr (buf, ==, "");
  g_assert_cmpuint (spot_nats_subject_format ("A-B", SPOT_GRANULARITY_INVALID, buf, sizeof buf), ==,
                    0);
}

static void
test_longest_product_fits (void)
{
  char buf[SPOT_NATS_SUBJECT_SIZE];
  const char *id = "ABCDEFGHIJKLMNOP-ABCDEFGHIJKLMNOP";

  g_assert_cmpuint (
      spot_nats_key_format (id, SPOT_GRANULARITY_FIFTEEN_MINUTE, buf, SPOT_NATS_KEY_SIZE), >, 0);
  g_assert_cmpuint (spot_nats_kv_subject_format ("live-candles", id,
                                                 SPOT_GRANULARITY_FIFTEEN_MINUTE, buf, sizeof buf),
                    >, 0);
}

static void
test_parses_key_and_subject (void)
{
  char product[SPOT_PRODUCT_ID_SIZE];
  SpotGranularity g = SPOT_GRANULARITY_INVALID;

  g_assert_true (spot_nats_key_parse ("SOL-USDC.FIVE_MINUTE", -1, product, &g, NULL));
  g_assert_cmpstr (product, ==, "SOL-USDC");
  g_assert_cmpint (g, ==, SPOT_GRANULARITY_FIVE_MINUTE);
  g_assert_true (spot_nats_subject_parse ("candles.BTC-USD.TWO_HOUR", product, &g, NULL));
  g_assert_cmpstr (product, ==, "BTC-USD");
  g_assert_cmpint (g, ==, SPOT_GRANULARITY_TWO_HOUR);
  /* A length-limited key. */
  g_assert_true (spot_nats_key_parse ("BTC-USD.ONE_HOURxyz", 16, product, &g, NULL));
  g_assert_cmpint (g, ==, SPOT_GRANULARITY_ONE_HOUR);
}

static void
test_parse_rejects_malformed_keys_naming_them (void)
{
  const char *bad[] = { "BTC-USD",          "btc-usd.ONE_MINUTE",   ".ONE_MINUTE",
                        "BTC-USD.ONE_WEEK", "BTC-USD.ONE_MINUTE.X", "BTCUSD.ONE_MINUTE" };
  char product[SPOT_PRODUCT_ID_SIZE];
  SpotGranularity g;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_false (spot_nats_key_parse (bad[i], -1, product, &g, &error));
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
      g_assert_nonnull (strstr (error->message, bad[i]));
    }
  {
    g_autoptr (GError) error = NULL;

    g_assert_false (spot_nats_subject_parse ("trades.BTC-USD.ONE_MINUTE", product, &g, &error));
    g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
  }
}

static void
test_bucket_names (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (spot_nats_bucket_name_validate ("live-candles", NULL));
  g_assert_true (spot_nats_bucket_name_validate ("Live_2", NULL));
  g_assert_false (spot_nats_bucket_name_validate ("live.candles", &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_assert_false (spot_nats_bucket_name_validate ("", NULL));
  g_assert_false (spot_nats_bucket_name_validate ("a b", NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nats/subject/formats", test_formats_subject_key_and_kv_subject);
  g_test_add_func ("/nats/subject/refuses-small-buffer",
                   test_format_refuses_small_buffer_and_bad_granularity);
  g_test_add_func ("/nats/subject/longest-product-fits", test_longest_product_fits);
  g_test_add_func ("/nats/subject/parses", test_parses_key_and_subject);
  g_test_add_func ("/nats/subject/rejects-malformed",
                   test_parse_rejects_malformed_keys_naming_them);
  g_test_add_func ("/nats/subject/bucket-names", test_bucket_names);
  return g_test_run ();
}
