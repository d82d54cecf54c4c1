/* Unit tests of the store's pure SQL and parameter code. */
#include <string.h>

#include "core/spot-error.h"
#include "store/spot-store-sql.h"
#include "store-test-util.h"

static void
test_params_are_exact_text (void)
{
  SpotCandle c = make_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, "68900.50",
                              "68950.00", "68800.25", "68900.10", "12.34500000", 12, 995098701,
                              FALSE, 3);
  SpotStoreCandleParams p;

  c.ts_ns = G_GINT64_CONSTANT (1775521802789012345);
  spot_store_candle_params (&c, &p);
  g_assert_cmpstr (p.values[0], ==, "BTC-USD");
  g_assert_cmpstr (p.values[1], ==, "ONE_MINUTE");
  g_assert_cmpstr (p.values[2], ==, "2026-04-07T00:30:00Z");
  g_assert_cmpstr (p.values[3], ==, "68900.50");
  g_assert_cmpstr (p.values[7], ==, "12.34500000");
  g_assert_cmpstr (p.values[8], ==, "12");
  g_assert_cmpstr (p.values[9], ==, "995098701");
  g_assert_cmpstr (p.values[10], ==, "f");
  g_assert_cmpstr (p.values[11], ==, "3");
  /* Nanoseconds truncated to PostgreSQL's microseconds. */
  g_assert_cmpstr (p.values[12], ==, "2026-04-07T00:30:02.789012Z");
}

static void
test_rest_candle_unknowns_are_null (void)
{
  SpotCandle c = make_candle ("ETH-EUR", SPOT_GRANULARITY_ONE_DAY, 1775520000, "1", "2", "1", "2",
                              "0", SPOT_CANDLE_TRADES_UNKNOWN, SPOT_CANDLE_TRADE_ID_UNKNOWN, TRUE, 0);
  SpotStoreCandleParams p;

  spot_store_candle_params (&c, &p);
  g_assert_null (p.values[8]);
  g_assert_null (p.values[9]);
  g_assert_null (p.values[12]);
  g_assert_cmpstr (p.values[10], ==, "t");
}

static void
test_supersedes_follows_rev_and_completion (void)
{
  SpotCandle stored = flat_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 60, "1", "1", FALSE, 5);
  SpotCandle in = stored;

  in.rev = 6;
  g_assert_true (spot_store_candle_supersedes (&in, &stored));
  in.rev = 4;
  g_assert_false (spot_store_candle_supersedes (&in, &stored));
  in.rev = 5;
  g_assert_false (spot_store_candle_supersedes (&in, &stored));
  in.complete = TRUE; /* same rev, completes the row */
  g_assert_true (spot_store_candle_supersedes (&in, &stored));

  stored.complete = TRUE;
  in.complete = FALSE;
  in.rev = 99; /* an incomplete candle never replaces a complete one */
  g_assert_false (spot_store_candle_supersedes (&in, &stored));
  in.complete = TRUE;
  g_assert_true (spot_store_candle_supersedes (&in, &stored));
  in.rev = 5;
  g_assert_false (spot_store_candle_supersedes (&in, &stored));
}

static void
test_check_rejects_invalid_candles (void)
{
  SpotCandle c = make_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, 300, "10", "12", "9", "11",
                              "1", 1, 1, FALSE, 1);
  g_autoptr (GError) error = NULL;

  g_assert_true (spot_store_candle_check (&c, &error));
  c.low = dec ("13"); /* low above high */
  g_assert_false (spot_store_candle_check (&c, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "BTC-USD"));
  g_clear_error (&error);

  c = make_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, 300, "10", "12", "9", "11", "1", 1, 1,
                   FALSE, 1);
  c.start = 301; /* not aligned */
  g_assert_false (spot_store_candle_check (&c, &error));
  g_clear_error (&error);

  c.start = 300;
  c.rev = G_MAXUINT64;
  g_assert_false (spot_store_candle_check (&c, &error));
  g_assert_nonnull (strstr (error->message, "rev"));
  g_clear_error (&error);

  c.rev = 1;
  c.last_trade_id = (guint64) G_MAXINT64 + 1;
  g_assert_false (spot_store_candle_check (&c, &error));
  g_assert_nonnull (strstr (error->message, "last_trade_id"));
  g_clear_error (&error);

  c.last_trade_id = 1;
  c.start = G_GINT64_CONSTANT (253402300800); /* year 10000 */
  g_assert_false (spot_store_candle_check (&c, &error));
  g_assert_nonnull (strstr (error->message, "start"));
}

static void
test_times_format_as_iso_utc (void)
{
  static const struct { gint64 s; const char *text; } cases[] = {
    { 0, "1970-01-01T00:00:00Z" },
    { 951782400, "2000-02-29T00:00:00Z" },
    { 1775521800, "2026-04-07T00:30:00Z" },
    { 4107542399, "2100-02-28T23:59:59Z" },
    { G_GINT64_CONSTANT (253402300740), "9999-12-31T23:59:00Z" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      SpotCandle c = flat_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, cases[i].s, "1", "1", TRUE, 1);
      SpotStoreCandleParams p;
      /* ts_ns (int64 nanoseconds) ends in 2262. */
      gboolean with_ts = cases[i].s < G_GINT64_CONSTANT (9000000000);
      c.ts_ns = with_ts ? cases[i].s * G_GINT64_CONSTANT (1000000000) + 1999 : SPOT_CANDLE_TS_UNKNOWN;
      spot_store_candle_params (&c, &p);
      g_assert_cmpstr (p.values[2], ==, cases[i].text);
      if (!with_ts)
        continue;
      g_assert_true (g_str_has_suffix (p.values[12], ".000001Z"));
      g_assert_cmpint (strncmp (p.values[12], cases[i].text, 19), ==, 0);
    }
}

static void
test_values_sql_numbers_parameters (void)
{
  g_autofree char *one = spot_store_build_values_sql (1);
  g_autofree char *three = spot_store_build_values_sql (3);

  g_assert_nonnull (strstr (one, "($1::text, $2::text, $3::timestamptz"));
  g_assert_nonnull (strstr (one, "$13::timestamptz)"));
  g_assert_null (strstr (one, "$14"));
  g_assert_nonnull (strstr (three, ", ($27, $28, "));
  g_assert_nonnull (strstr (three, "$39)"));
  g_assert_null (strstr (three, "$40"));
  g_assert_nonnull (strstr (three, "ON CONFLICT (product_id, granularity, start) DO UPDATE"));
}

static void
test_unnest_arrays_and_copy_rows (void)
{
  GString *arrays[SPOT_STORE_CANDLE_COLUMNS];
  SpotCandle a = flat_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 60, "1.50", "2", FALSE, 1);
  SpotCandle b = make_candle ("ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, 120, "3", "3", "3", "3", "0",
                              -1, 0, TRUE, 2);
  SpotStoreCandleParams pa, pb;
  g_autoptr (GString) copy = g_string_new (NULL);

  for (guint i = 0; i < SPOT_STORE_CANDLE_COLUMNS; i++)
    arrays[i] = g_string_new (NULL);
  spot_store_candle_params (&a, &pa);
  spot_store_candle_params (&b, &pb);
  spot_store_unnest_append (arrays, &pa);
  spot_store_unnest_append (arrays, &pb);
  spot_store_unnest_finish (arrays);
  g_assert_cmpstr (arrays[0]->str, ==, "{BTC-USD,ETH-USD}");
  g_assert_cmpstr (arrays[3]->str, ==, "{1.50,3}");
  g_assert_cmpstr (arrays[8]->str, ==, "{3,NULL}");
  g_assert_cmpstr (arrays[10]->str, ==, "{f,t}");
  for (guint i = 0; i < SPOT_STORE_CANDLE_COLUMNS; i++)
    g_string_free (arrays[i], TRUE);

  spot_store_copy_append (copy, &pb);
  g_assert_true (g_str_has_prefix (copy->str, "ETH-USD\tONE_MINUTE\t1970-01-01T00:02:00Z\t3\t"));
  g_assert_true (g_str_has_suffix (copy->str, "\t\\N\t\\N\tt\t2\t\\N\n"));
}

static void
test_strategy_names_round_trip (void)
{
  g_autoptr (GError) error = NULL;
  SpotStoreStrategy s;

  for (int i = SPOT_STORE_STRATEGY_VALUES; i <= SPOT_STORE_STRATEGY_COPY; i++)
    {
      g_assert_true (spot_store_strategy_parse (spot_store_strategy_name (i), &s, &error));
      g_assert_cmpint (s, ==, i);
    }
  g_assert_false (spot_store_strategy_parse ("bulk", &s, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "bulk"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/sql/params are exact text", test_params_are_exact_text);
  g_test_add_func ("/store/sql/times format as ISO UTC", test_times_format_as_iso_utc);
  g_test_add_func ("/store/sql/rest candle unknowns are null", test_rest_candle_unknowns_are_null);
  g_test_add_func ("/store/sql/supersedes follows rev and completion",
                   test_supersedes_follows_rev_and_completion);
  g_test_add_func ("/store/sql/check rejects invalid candles", test_check_rejects_invalid_candles);
  g_test_add_func ("/store/sql/values sql numbers parameters", test_values_sql_numbers_parameters);
  g_test_add_func ("/store/sql/unnest arrays and copy rows", test_unnest_arrays_and_copy_rows);
  g_test_add_func ("/store/sql/strategy names round trip", test_strategy_names_round_trip);
  return g_test_run ();
}
