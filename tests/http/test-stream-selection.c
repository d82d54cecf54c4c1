/* test-stream-selection.c: /stream selections from the query and from
 * Datastar signals, and the one-line reasons for bad ones. */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "core/spot-error.h"
#include "http/spot-stream-selection.h"

#define ONE_MINUTE_ONLY (1u << SPOT_GRANULARITY_ONE_MINUTE)

static GHashTable *
query (const char *first, ...)
{
  GHashTable *q = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  va_list args;
  const char *key = first;

  va_start (args, first);
  while (key != NULL)
    {
      const char *value = va_arg (args, const char *);

      g_hash_table_insert (q, g_strdup (key), g_strdup (value));
      key = va_arg (args, const char *);
    }
  va_end (args);
  return q;
}

static char *
parse_error (GHashTable *q, guint max)
{
  SpotStreamSelection sel;
  GError *error = NULL;
  char *message;

  g_assert_false (spot_stream_selection_parse (q, max, SPOT_GRANULARITY_SET_DEFAULT, &sel, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_assert_null (strchr (error->message, '\n'));
  g_assert_null (sel.products);
  message = g_strdup (error->message);
  g_error_free (error);
  return message;
}

static void
test_query_selects_products_and_granularities (void)
{
  g_autoptr (GHashTable) q
      = query ("products", "BTC-USD, ETH-USD,BTC-USD", "granularities", "ONE_MINUTE,5m", NULL);
  SpotStreamSelection sel;
  g_autoptr (GError) error = NULL;

  g_assert_true (spot_stream_selection_parse (q, 200, SPOT_GRANULARITY_SET_DEFAULT, &sel, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sel.n_products, ==, 2);
  g_assert_cmpstr (sel.products[0], ==, "BTC-USD");
  g_assert_cmpstr (sel.products[1], ==, "ETH-USD");
  g_assert_cmpuint (sel.granularities, ==, ONE_MINUTE_ONLY | (1u << SPOT_GRANULARITY_FIVE_MINUTE));
  g_assert_cmpint (sel.dialect, ==, SPOT_DATASTAR_V1);
  spot_stream_selection_clear (&sel);
}

static void
test_missing_granularities_use_the_default_set (void)
{
  g_autoptr (GHashTable) q = query ("products", "SOL-USD", NULL);
  SpotStreamSelection sel;

  g_assert_true (spot_stream_selection_parse (q, 200, ONE_MINUTE_ONLY, &sel, NULL));
  g_assert_cmpuint (sel.granularities, ==, ONE_MINUTE_ONLY);
  spot_stream_selection_clear (&sel);
}

static void
test_signals_select_as_strings_or_arrays (void)
{
  g_autoptr (GHashTable) a = query (
      "datastar", "{\"products\":\"BTC-USD,ETH-USD\",\"granularities\":\"ONE_HOUR\"}", NULL);
  g_autoptr (GHashTable) b = query (
      "datastar", "{\"products\":[\"BTC-USD\",\"ETH-USD\"],\"granularities\":[\"1h\"],\"x\":{}}",
      NULL);
  SpotStreamSelection sa, sb;

  g_assert_true (spot_stream_selection_parse (a, 200, SPOT_GRANULARITY_SET_DEFAULT, &sa, NULL));
  g_assert_true (spot_stream_selection_parse (b, 200, SPOT_GRANULARITY_SET_DEFAULT, &sb, NULL));
  g_assert_cmpuint (sa.n_products, ==, 2);
  g_assert_cmpuint (sb.n_products, ==, 2);
  g_assert_cmpstr (sb.products[1], ==, "ETH-USD");
  g_assert_cmpuint (sa.granularities, ==, 1u << SPOT_GRANULARITY_ONE_HOUR);
  g_assert_cmpuint (sb.granularities, ==, 1u << SPOT_GRANULARITY_ONE_HOUR);
  spot_stream_selection_clear (&sa);
  spot_stream_selection_clear (&sb);
}

static void
test_query_wins_over_signals (void)
{
  g_autoptr (GHashTable) q = query ("datastar", "{\"products\":\"BTC-USD\",\"dialect\":\"v1\"}",
                                    "products", "DOGE-USD", "dialect", "beta11", NULL);
  SpotStreamSelection sel;

  g_assert_true (spot_stream_selection_parse (q, 200, SPOT_GRANULARITY_SET_DEFAULT, &sel, NULL));
  g_assert_cmpuint (sel.n_products, ==, 1);
  g_assert_cmpstr (sel.products[0], ==, "DOGE-USD");
  g_assert_cmpint (sel.dialect, ==, SPOT_DATASTAR_BETA11);
  spot_stream_selection_clear (&sel);
}

static void
test_dialect_from_signals (void)
{
  g_autoptr (GHashTable) q
      = query ("datastar", "{\"products\":\"BTC-USD\",\"dialect\":\"beta11\"}", NULL);
  SpotStreamSelection sel;

  g_assert_true (spot_stream_selection_parse (q, 200, SPOT_GRANULARITY_SET_DEFAULT, &sel, NULL));
  g_assert_cmpint (sel.dialect, ==, SPOT_DATASTAR_BETA11);
  spot_stream_selection_clear (&sel);
}

static void
test_bad_inputs_fail_with_one_line_reasons (void)
{
  struct
  {
    GHashTable *q;
    const char *needle;
  } cases[] = {
    { query ("products", "BTC-USD", "granularities", "TEN_MINUTE", NULL), "unknown granularity" },
    { query ("products", "BTC-USD", "granularities", "", NULL), "empty selection" },
    { query ("products", "btc-usd", NULL), "bad product id" },
    { query ("products", "BTC-USD,,ETH-USD", NULL), "bad product id" },
    { query ("products", "", NULL), "empty selection" },
    { query ("granularities", "ONE_MINUTE", NULL), "empty selection" },
    { query ("products", "A-B,C-D,E-F,G-H", NULL), "too many products" },
    { query ("datastar", "{not json", NULL), "malformed signals" },
    { query ("datastar", "[1,2]", NULL), "malformed signals" },
    { query ("datastar", "{\"products\":42}", NULL), "malformed signals" },
    { query ("datastar", "{\"products\":[\"BTC-USD\",7]}", NULL), "malformed signals" },
    { query ("products", "BTC-USD", "dialect", "v9", NULL), "unknown dialect" },
    { NULL, "empty selection" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *message = parse_error (cases[i].q, 3);

      g_test_message ("case %u: %s", i, message);
      g_assert_nonnull (strstr (message, cases[i].needle));
      g_clear_pointer (&cases[i].q, g_hash_table_unref);
    }
}

static void
test_too_many_products_names_the_limit (void)
{
  g_autoptr (GHashTable) q = query ("products", "A-B,C-D,E-F", NULL);
  g_autofree char *message = parse_error (q, 2);

  g_assert_cmpstr (message, ==, "too many products: 3 given, at most 2 per stream");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/stream-selection/query-selects-products-and-granularities",
                   test_query_selects_products_and_granularities);
  g_test_add_func ("/stream-selection/missing-granularities-use-the-default-set",
                   test_missing_granularities_use_the_default_set);
  g_test_add_func ("/stream-selection/signals-select-as-strings-or-arrays",
                   test_signals_select_as_strings_or_arrays);
  g_test_add_func ("/stream-selection/query-wins-over-signals", test_query_wins_over_signals);
  g_test_add_func ("/stream-selection/dialect-from-signals", test_dialect_from_signals);
  g_test_add_func ("/stream-selection/bad-inputs-fail-with-one-line-reasons",
                   test_bad_inputs_fail_with_one_line_reasons);
  g_test_add_func ("/stream-selection/too-many-products-names-the-limit",
                   test_too_many_products_names_the_limit);
  return g_test_run ();
}
