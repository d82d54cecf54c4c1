/* test-product.c: product ids, routing hash and descriptions. */
#include "model/spot-product.h"

#include "core/spot-error.h"

static void
test_product_id_accepts_coinbase_ids (void)
{
  const char *good[] = { "BTC-USD", "ETH-EUR",   "1INCH-USD",
                         "A-B",     "SHIB-USDC", "ABCDEFGHIJKLMNOP-0123456789ABCDEF" };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_true (spot_product_id_validate (good[i], &error));
      g_assert_no_error (error);
      g_assert_cmpuint (strlen (good[i]) + 1, <=, SPOT_PRODUCT_ID_SIZE);
    }
}

static void
test_product_id_rejects_anything_else (void)
{
  const char *bad[] = { "",
                        "BTC",
                        "BTC-",
                        "-USD",
                        "btc-usd",
                        "BTC_USD",
                        "BTC-USD-X",
                        "BTC.USD",
                        "BTC-US D",
                        " BTC-USD",
                        "BTC-USD ",
                        "BTC-USD\n",
                        "BTC*-USD",
                        "BTC->",
                        "ABCDEFGHIJKLMNOPQ-USD",
                        "BTC-ABCDEFGHIJKLMNOPQ",
                        "BTC--USD",
                        "BTÇ-USD" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_false (spot_product_id_validate (bad[i], &error));
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "[A-Z0-9]{1,16}"));
    }
  g_autoptr (GError) error = NULL;
  g_assert_false (spot_product_id_validate ("eth-usd", &error));
  g_assert_nonnull (strstr (error->message, "\"eth-usd\""));
  g_clear_error (&error);
  g_assert_false (spot_product_id_validate (NULL, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
}

static void
test_product_id_hash_is_fnv1a_32 (void)
{
  /* Published FNV-1a 32-bit test vectors. */
  g_assert_cmphex (spot_product_id_hash (""), ==, 0x811c9dc5);
  g_assert_cmphex (spot_product_id_hash ("a"), ==, 0xe40c292c);
  g_assert_cmphex (spot_product_id_hash ("foobar"), ==, 0xbf9cf968);
  /* Stable across releases: routing depends on it. */
  g_assert_cmphex (spot_product_id_hash ("BTC-USD"), ==, spot_product_id_hash ("BTC-USD"));
  g_assert_cmphex (spot_product_id_hash ("BTC-USD"), !=, spot_product_id_hash ("ETH-USD"));
}

static void
test_product_list_parse_dedupes_keeping_order (void)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) ids
      = spot_product_id_list_parse (" ETH-USD, BTC-USD ,ETH-USD,SOL-USD , BTC-USD", &error);

  g_assert_no_error (error);
  g_assert_nonnull (ids);
  g_assert_cmpuint (g_strv_length (ids), ==, 3);
  g_assert_cmpstr (ids[0], ==, "ETH-USD");
  g_assert_cmpstr (ids[1], ==, "BTC-USD");
  g_assert_cmpstr (ids[2], ==, "SOL-USD");
}

static void
test_product_list_parse_blank_is_empty (void)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) ids = spot_product_id_list_parse ("  ", &error);

  g_assert_no_error (error);
  g_assert_nonnull (ids);
  g_assert_cmpuint (g_strv_length (ids), ==, 0);
}

static void
test_product_list_parse_rejects_bad_items (void)
{
  const char *bad[]
      = { "BTC-USD,,ETH-USD", "BTC-USD,", ",BTC-USD", "BTC-USD,eth-usd", "BTC-USD ETH-USD" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_auto (GStrv) ids = spot_product_id_list_parse (bad[i], &error);

      g_assert_null (ids);
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
    }
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) ids = spot_product_id_list_parse ("BTC-USD,eth-usd", &error);
  g_assert_nonnull (strstr (error->message, "eth-usd"));
}

static void
test_product_copy_is_deep (void)
{
  g_autoptr (SpotProduct) product = spot_product_new ("BTC-USD", "BTC", "USD", "online", TRUE);
  g_autoptr (SpotProduct) copy = spot_product_copy (product);

  g_assert_true (copy != product);
  g_assert_true (copy->product_id != product->product_id);
  g_assert_cmpstr (copy->product_id, ==, "BTC-USD");
  g_assert_cmpstr (copy->base, ==, "BTC");
  g_assert_cmpstr (copy->quote, ==, "USD");
  g_assert_cmpstr (copy->status, ==, "online");
  g_assert_true (copy->active);

  g_autoptr (SpotProduct) sparse = spot_product_new ("ETH-USD", NULL, NULL, NULL, FALSE);
  g_autoptr (SpotProduct) sparse_copy = spot_product_copy (sparse);
  g_assert_null (sparse_copy->status);
  g_assert_false (sparse_copy->active);
  spot_product_free (NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/product/id-accepts-coinbase-ids", test_product_id_accepts_coinbase_ids);
  g_test_add_func ("/product/id-rejects-anything-else", test_product_id_rejects_anything_else);
  g_test_add_func ("/product/id-hash-is-fnv1a-32", test_product_id_hash_is_fnv1a_32);
  g_test_add_func ("/product/list-parse-dedupes-keeping-order",
                   test_product_list_parse_dedupes_keeping_order);
  g_test_add_func ("/product/list-parse-blank-is-empty", test_product_list_parse_blank_is_empty);
  g_test_add_func ("/product/list-parse-rejects-bad-items",
                   test_product_list_parse_rejects_bad_items);
  g_test_add_func ("/product/copy-is-deep", test_product_copy_is_deep);
  return g_test_run ();
}
