/* test-candle-json.c: the one JSON form of a candle. */
#include "model/spot-candle-json.h"

#include <json-glib/json-glib.h>

#include "core/spot-error.h"

static SpotDecimal
dec (const char *text)
{
  SpotDecimal d;
  g_assert_true (spot_decimal_parse (text, -1, &d, NULL));
  return d;
}

static SpotCandle
live_candle (void)
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

static const char live_json[]
    = "{\"product_id\":\"BTC-USD\",\"granularity\":\"ONE_MINUTE\",\"start\":1775521800,"
      "\"open\":\"68900.50\",\"high\":\"68950.00\",\"low\":\"68890.1\",\"close\":\"68910.25\","
      "\"volume\":\"12.34567890\",\"trades\":12,\"last_trade_id\":\"995098701\",\"complete\":false,"
      "\"rev\":3,\"ts\":\"2026-04-07T00:30:02.789012345Z\"}";

static void
assert_candles_identical (const SpotCandle *a, const SpotCandle *b)
{
  g_autofree char *ja = spot_candle_to_json (a);
  g_autofree char *jb = spot_candle_to_json (b);

  /* Same text means same scales too, not only equal values. */
  g_assert_cmpstr (ja, ==, jb);
  g_assert_true (spot_candle_values_equal (a, b));
  g_assert_cmpint (a->trades, ==, b->trades);
  g_assert_cmpuint (a->last_trade_id, ==, b->last_trade_id);
  g_assert_cmpint (a->complete, ==, b->complete);
  g_assert_cmpuint (a->rev, ==, b->rev);
  g_assert_cmpint (a->ts_ns, ==, b->ts_ns);
}

static void
test_candle_json_writes_exact_format (void)
{
  SpotCandle c = live_candle ();
  g_autofree char *json = spot_candle_to_json (&c);

  g_assert_cmpstr (json, ==, live_json);
}

static void
test_candle_json_appends_to_existing_text (void)
{
  SpotCandle c = live_candle ();
  g_autoptr (GString) out = g_string_new ("data: ");

  spot_candle_json_append (out, &c);
  g_assert_true (g_str_has_prefix (out->str, "data: {\"product_id\""));
  g_assert_cmpstr (out->str + 6, ==, live_json);
}

static void
test_candle_json_writes_nulls_for_rest_candles (void)
{
  SpotCandle c = live_candle ();
  g_autofree char *json = NULL;

  c.trades = SPOT_CANDLE_TRADES_UNKNOWN;
  c.last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  c.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  c.complete = TRUE;
  c.granularity = SPOT_GRANULARITY_SIX_HOUR;
  c.start = 1775520000;
  json = spot_candle_to_json (&c);
  g_assert_cmpstr (
      json, ==,
      "{\"product_id\":\"BTC-USD\",\"granularity\":\"SIX_HOUR\",\"start\":1775520000,"
      "\"open\":\"68900.50\",\"high\":\"68950.00\",\"low\":\"68890.1\",\"close\":\"68910.25\","
      "\"volume\":\"12.34567890\",\"trades\":null,\"last_trade_id\":null,\"complete\":true,"
      "\"rev\":3,\"ts\":null}");
}

static void
test_candle_json_output_stays_json_for_a_corrupt_product_id (void)
{
  SpotCandle c = live_candle ();
  g_autofree char *json = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  g_strlcpy (c.product_id, "BTC\"-\\USD\n", sizeof c.product_id);
  json = spot_candle_to_json (&c);
  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (
                       json_node_get_object (json_parser_get_root (parser)), "product_id"),
                   ==, c.product_id);
  /* ... and reading it back refuses the id. */
  SpotCandle parsed;
  g_assert_false (spot_candle_from_json (json, -1, &parsed, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "\"product_id\""));
}

static void
test_candle_json_round_trips_live_and_rest_candles (void)
{
  SpotCandle c = live_candle ();
  SpotCandle parsed;
  g_autoptr (GError) error = NULL;
  g_autofree char *json = spot_candle_to_json (&c);

  g_assert_true (spot_candle_from_json (json, -1, &parsed, &error));
  g_assert_no_error (error);
  assert_candles_identical (&c, &parsed);

  c.trades = SPOT_CANDLE_TRADES_UNKNOWN;
  c.last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  c.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  c.rev = G_MAXINT64;
  c.volume = dec ("98765432109876.12345678");
  g_free (json);
  json = spot_candle_to_json (&c);
  g_assert_true (spot_candle_from_json (json, (gssize)strlen (json), &parsed, &error));
  g_assert_no_error (error);
  assert_candles_identical (&c, &parsed);
  g_assert_cmpint (parsed.trades, ==, SPOT_CANDLE_TRADES_UNKNOWN);
  g_assert_cmpint (parsed.ts_ns, ==, SPOT_CANDLE_TS_UNKNOWN);
}

static void
test_candle_json_reads_any_field_order_and_ignores_unknown_fields (void)
{
  const char *json
      = "{\"ts\":null,\"rev\":0,\"complete\":true,\"extra\":[1,2,{}],\"last_trade_id\":null,"
        "\"trades\":null,\"volume\":\"0\",\"close\":\"0.00000001\",\"low\":\"0.00000001\","
        "\"high\":\"0.00000002\",\"open\":\"0.00000002\",\"start\":86400,\"granularity\":\"ONE_"
        "DAY\","
        "\"product_id\":\"SHIB-USD\"}";
  SpotCandle c;
  g_autoptr (GError) error = NULL;

  g_assert_true (spot_candle_from_json (json, -1, &c, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (c.product_id, ==, "SHIB-USD");
  g_assert_cmpint (c.granularity, ==, SPOT_GRANULARITY_ONE_DAY);
  g_assert_cmpint (c.start, ==, 86400);
  g_assert_true (c.complete);
  g_assert_cmpint (c.trades, ==, SPOT_CANDLE_TRADES_UNKNOWN);
  g_assert_cmpuint (c.last_trade_id, ==, SPOT_CANDLE_TRADE_ID_UNKNOWN);
}

/* Replaces the value of @field in the live JSON with @value. */
static char *
with_field (const char *field, const char *value)
{
  g_autofree char *key = g_strdup_printf ("\"%s\":", field);
  const char *at = strstr (live_json, key);
  g_assert_nonnull (at);
  const char *vstart = at + strlen (key);
  const char *vend = vstart;
  if (*vend == '"')
    vend = strchr (vend + 1, '"') + 1;
  else
    while (*vend != ',' && *vend != '}')
      vend++;
  return g_strdup_printf ("%.*s%s%s", (int)(vstart - live_json), live_json, value, vend);
}

static char *
without_field (const char *field)
{
  g_autofree char *key = g_strdup_printf ("\"%s\":", field);
  g_autofree char *marked = with_field (field, "@");
  g_autofree char *pattern = g_strdup_printf (",%s@", key);
  char *at = strstr (marked, pattern);

  if (at == NULL)
    {
      /* The first field: drop it with the comma after it. */
      g_autofree char *first = g_strdup_printf ("{%s@,", key);
      g_assert_true (g_str_has_prefix (marked, first));
      return g_strdup_printf ("{%s", marked + strlen (first));
    }
  *at = '\0';
  return g_strdup_printf ("%s%s", marked, at + strlen (pattern));
}

static void
assert_rejected (const char *json, const char *field)
{
  SpotCandle c = { .rev = 77 };
  g_autoptr (GError) error = NULL;

  if (spot_candle_from_json (json, -1, &c, &error))
    g_error ("accepted: %s", json);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
  if (field != NULL && strstr (error->message, field) == NULL)
    g_error ("\"%s\" does not name %s (input %s)", error->message, field, json);
  g_assert_cmpuint (c.rev, ==, 77);
}

static void
test_candle_json_rejects_wrong_types (void)
{
  const struct
  {
    const char *field;
    const char *value;
  } cases[] = {
    { "product_id", "42" },      { "product_id", "null" },
    { "granularity", "60" },     { "start", "\"1775521800\"" },
    { "start", "1775521800.0" }, { "start", "null" },
    { "open", "68900.50" },      { "high", "null" },
    { "low", "true" },           { "close", "[\"1\"]" },
    { "volume", "{}" },          { "trades", "\"12\"" },
    { "trades", "12.5" },        { "last_trade_id", "995098701" },
    { "complete", "\"false\"" }, { "complete", "0" },
    { "complete", "null" },      { "rev", "\"3\"" },
    { "rev", "null" },           { "ts", "1775521802" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = with_field (cases[i].field, cases[i].value);
      g_autofree char *quoted = g_strdup_printf ("\"%s\"", cases[i].field);
      assert_rejected (json, quoted);
    }
}

static void
test_candle_json_rejects_bad_values (void)
{
  const struct
  {
    const char *field;
    const char *value;
  } cases[] = {
    { "product_id", "\"btc-usd\"" },
    { "granularity", "\"ONE_WEEK\"" },
    { "granularity", "\"1m\"" },
    { "open", "\"1e5\"" },
    { "high", "\"NaN\"" },
    { "low", "\".5\"" },
    { "close", "\"\"" },
    { "volume", "\"0.0000000000000000001\"" },
    { "trades", "-1" },
    { "last_trade_id", "\"-5\"" },
    { "last_trade_id", "\"0\"" },
    { "last_trade_id", "\"18446744073709551616\"" },
    { "rev", "-1" },
    { "ts", "\"2026-02-30T00:00:00Z\"" },
    { "ts", "\"yesterday\"" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = with_field (cases[i].field, cases[i].value);
      g_autofree char *quoted = g_strdup_printf ("\"%s\"", cases[i].field);
      assert_rejected (json, quoted);
    }
}

static void
test_candle_json_rejects_missing_fields (void)
{
  const char *fields[]
      = { "product_id", "granularity", "start",         "open",     "high", "low", "close",
          "volume",     "trades",      "last_trade_id", "complete", "rev",  "ts" };

  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      g_autofree char *json = without_field (fields[i]);
      g_autofree char *quoted = g_strdup_printf ("\"%s\"", fields[i]);
      assert_rejected (json, quoted);
    }
}

static void
test_candle_json_rejects_inconsistent_candles (void)
{
  g_autofree char *unaligned = with_field ("start", "1775521801");
  g_autofree char *low_above_open = with_field ("low", "\"68900.51\"");
  g_autofree char *negative_volume = with_field ("volume", "\"-1\"");

  assert_rejected (unaligned, "start");
  assert_rejected (low_above_open, "open");
  assert_rejected (negative_volume, "volume");
}

static void
test_candle_json_rejects_malformed_text (void)
{
  assert_rejected ("", NULL);
  assert_rejected ("{", NULL);
  assert_rejected ("[]", NULL);
  assert_rejected ("null", NULL);
  assert_rejected ("\"candle\"", NULL);
  assert_rejected ("{\"product_id\":\"BTC-USD\"", NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/candle-json/writes-exact-format", test_candle_json_writes_exact_format);
  g_test_add_func ("/candle-json/appends-to-existing-text",
                   test_candle_json_appends_to_existing_text);
  g_test_add_func ("/candle-json/writes-nulls-for-rest-candles",
                   test_candle_json_writes_nulls_for_rest_candles);
  g_test_add_func ("/candle-json/output-stays-json-for-a-corrupt-product-id",
                   test_candle_json_output_stays_json_for_a_corrupt_product_id);
  g_test_add_func ("/candle-json/round-trips-live-and-rest-candles",
                   test_candle_json_round_trips_live_and_rest_candles);
  g_test_add_func ("/candle-json/reads-any-field-order-and-ignores-unknown-fields",
                   test_candle_json_reads_any_field_order_and_ignores_unknown_fields);
  g_test_add_func ("/candle-json/rejects-wrong-types", test_candle_json_rejects_wrong_types);
  g_test_add_func ("/candle-json/rejects-bad-values", test_candle_json_rejects_bad_values);
  g_test_add_func ("/candle-json/rejects-missing-fields", test_candle_json_rejects_missing_fields);
  g_test_add_func ("/candle-json/rejects-inconsistent-candles",
                   test_candle_json_rejects_inconsistent_candles);
  g_test_add_func ("/candle-json/rejects-malformed-text", test_candle_json_rejects_malformed_text);
  return g_test_run ();
}
