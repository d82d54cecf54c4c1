/* test-candle-json.c: the one JSON form of a candle, and the agreement of
 * the single-pass reader with the json-glib reader behind it. */
#include "model/spot-candle-json.h"

#include <json-glib/json-glib.h>

#include "core/spot-error.h"
#include "model/spot-candle-json-private.h"
#include "model/spot-time.h"

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
  g_assert_cmpstr (a->product_id, ==, b->product_id);
  g_assert_cmpint (a->granularity, ==, b->granularity);
  g_assert_cmpint (a->start, ==, b->start);
  g_assert_true (a->open.units == b->open.units && a->open.scale == b->open.scale);
  g_assert_true (a->high.units == b->high.units && a->high.scale == b->high.scale);
  g_assert_true (a->low.units == b->low.units && a->low.scale == b->low.scale);
  g_assert_true (a->close.units == b->close.units && a->close.scale == b->close.scale);
  g_assert_true (a->volume.units == b->volume.units && a->volume.scale == b->volume.scale);
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

/* The two readers, and spot_candle_from_json() that combines them. */

/* Runs spot_candle_from_json() and the json-glib reader alone on the same
 * bytes and asserts the same verdict: the same candle, or the same error. */
static gboolean
assert_same_verdict_as_json_glib (const char *json, gssize len, SpotCandle *out)
{
  g_autoptr (GError) tree_error = NULL;
  g_autoptr (GError) error = NULL;
  SpotCandle tree, got;
  gboolean tree_ok = spot_candle_from_json_tree (json, len, &tree, &tree_error);
  gboolean ok = spot_candle_from_json (json, len, &got, &error);

  g_assert_cmpint (ok, ==, tree_ok);
  if (ok)
    {
      assert_candles_identical (&got, &tree);
      if (out != NULL)
        *out = got;
    }
  else
    {
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
      g_assert_cmpstr (error->message, ==, tree_error->message);
    }
  return ok;
}

static void
test_candle_json_fast_reader_reads_what_the_writer_writes (void)
{
  const char *prices[] = { "0.00000001", "68900.50", "12", "123456789012.123456" };
  GRand *rand = g_rand_new_with_seed (42);

  for (guint i = 0; i < 2000; i++)
    {
      SpotGranularity g = (SpotGranularity)g_rand_int_range (rand, 0, SPOT_GRANULARITY_COUNT);
      SpotCandle c = live_candle ();
      g_autofree char *json = NULL;
      SpotCandle fast, slow, both;

      g_strlcpy (c.product_id, i % 2 ? "BTC-USD" : "ABCDEFGHIJKLMNOP-Z9", sizeof c.product_id);
      c.granularity = g;
      c.start = spot_granularity_align (g, 1775521800 + g_rand_int_range (rand, 0, 1 << 24));
      c.rev = g_rand_int (rand);
      c.open = c.high = c.low = c.close = dec (prices[i % G_N_ELEMENTS (prices)]);
      c.trades = 1;
      c.last_trade_id = c.rev + 1000;
      c.ts_ns = spot_time_now_ns ();
      c.volume = dec (prices[(i + 1) % G_N_ELEMENTS (prices)]);
      c.complete = i % 3 == 0;
      if (i % 5 == 0)
        {
          c.trades = SPOT_CANDLE_TRADES_UNKNOWN;
          c.last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
          c.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
        }
      json = spot_candle_to_json (&c);
      g_assert_true (spot_candle_from_json_tree (json, -1, &slow, NULL));
      g_assert_true (spot_candle_from_json_fast (json, strlen (json), &fast));
      g_assert_true (spot_candle_from_json (json, -1, &both, NULL));
      assert_candles_identical (&fast, &slow);
      assert_candles_identical (&fast, &c);
      assert_candles_identical (&both, &c);
    }
  g_rand_free (rand);
}

static void
test_candle_json_other_layouts_agree_or_fall_back (void)
{
  const char *variants[] = {
    /* reordered, with whitespace */
    " { \"rev\" : 3 , "
    "\"ts\":null,\"complete\":true,\"last_trade_id\":null,\"trades\":null,\"volume\":\"1\","
    "\"close\":\"2\",\"low\":\"1\",\"high\":\"3\",\"open\":\"2\",\"start\":1775521800,"
    "\"granularity\":\"ONE_MINUTE\",\"product_id\":\"BTC-USD\"}\n",
    /* an unknown field: the fast reader declines, json-glib accepts */
    "{\"product_id\":\"BTC-USD\",\"granularity\":\"ONE_MINUTE\",\"start\":1775521800,\"open\":"
    "\"2\",\"high\":\"3\","
    "\"low\":\"1\",\"close\":\"2\",\"volume\":\"1\",\"trades\":1,\"last_trade_id\":\"5\","
    "\"complete\":false,"
    "\"rev\":1,\"ts\":\"2026-04-07T14:30:02.789012345Z\",\"extra\":[1,2]}",
    /* an escaped character in a string: declined, then judged by json-glib */
    "{\"product_id\":\"BTC\\u002dUSD\",\"granularity\":\"ONE_MINUTE\",\"start\":1775521800,"
    "\"open\":\"2\","
    "\"high\":\"3\",\"low\":\"1\",\"close\":\"2\",\"volume\":\"1\",\"trades\":1,\"last_trade_id\":"
    "\"5\","
    "\"complete\":false,\"rev\":1,\"ts\":null}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (variants); i++)
    assert_same_verdict_as_json_glib (variants[i], (gssize)strlen (variants[i]), NULL);
  g_assert_true (
      spot_candle_from_json_fast (variants[0], strlen (variants[0]), &(SpotCandle){ 0 }));
  g_assert_false (
      spot_candle_from_json_fast (variants[1], strlen (variants[1]), &(SpotCandle){ 0 }));
}

static void
test_candle_json_rejects_what_json_glib_rejects_with_its_message (void)
{
  const char *bad[] = {
    "",
    "[]",
    "{\"product_id\":\"btc-usd\",\"granularity\":\"ONE_MINUTE\",\"start\":60,\"open\":\"2\","
    "\"high\":\"3\","
    "\"low\":\"1\",\"close\":\"2\",\"volume\":\"1\",\"trades\":1,\"last_trade_id\":\"5\","
    "\"complete\":false,"
    "\"rev\":1,\"ts\":null}",
    "{\"product_id\":\"BTC-USD\",\"granularity\":\"1m\",\"start\":60,\"open\":\"2\",\"high\":\"3\","
    "\"low\":\"1\",\"close\":\"2\",\"volume\":\"1\",\"trades\":1,\"last_trade_id\":\"5\","
    "\"complete\":false,"
    "\"rev\":1,\"ts\":null}",
    "{\"product_id\":\"BTC-USD\",\"granularity\":\"ONE_MINUTE\",\"start\":60,\"open\":\"2\","
    "\"high\":\"1\","
    "\"low\":\"1\",\"close\":\"2\",\"volume\":\"1\",\"trades\":1,\"last_trade_id\":\"5\","
    "\"complete\":false,"
    "\"rev\":1,\"ts\":null}",
    "{\"product_id\":\"BTC-USD\",\"granularity\":\"ONE_MINUTE\",\"start\":60,\"open\":\"2\","
    "\"high\":\"3\","
    "\"low\":\"1\",\"close\":\"2\",\"volume\":\"1\",\"trades\":-1,\"last_trade_id\":\"5\","
    "\"complete\":false,"
    "\"rev\":1,\"ts\":null}",
    "{\"product_id\":\"BTC-USD\",\"granularity\":\"ONE_MINUTE\",\"start\":60.5,\"open\":\"2\","
    "\"high\":\"3\","
    "\"low\":\"1\",\"close\":\"2\",\"volume\":\"1\",\"trades\":1,\"last_trade_id\":\"5\","
    "\"complete\":false,"
    "\"rev\":1,\"ts\":null}",
    "{\"product_id\":\"BTC-USD\",\"granularity\":\"ONE_MINUTE\",\"start\":60,\"open\":\"2\","
    "\"high\":\"3\","
    "\"low\":\"1\",\"close\":\"2\",\"volume\":\"1\",\"trades\":1,\"last_trade_id\":\"5\","
    "\"complete\":false,"
    "\"rev\":1}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_false (assert_same_verdict_as_json_glib (bad[i], (gssize)strlen (bad[i]), NULL));
}

/* Random damage to writer output: whatever the fast reader accepts, json-glib
 * accepts with the same candle, and spot_candle_from_json() answers exactly
 * as json-glib does (same verdict, candle or message). */
static void
test_candle_json_fast_reader_never_accepts_what_json_glib_rejects (void)
{
  static const char alphabet[] = "\"{}[],:0123456789-+.eE \t\n\\ultrsfaxZ";
  SpotCandle bases[3] = { live_candle (), live_candle (), live_candle () };
  char *texts[G_N_ELEMENTS (bases)] = { NULL };
  GRand *rand = g_rand_new_with_seed (7);
  guint fast_accepted = 0, fast_declined_valid = 0;

  bases[1].trades = SPOT_CANDLE_TRADES_UNKNOWN;
  bases[1].last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  bases[1].ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  bases[1].complete = TRUE;
  bases[2].granularity = SPOT_GRANULARITY_ONE_DAY;
  bases[2].start = 1775520000 - 1775520000 % 86400;
  for (guint i = 0; i < G_N_ELEMENTS (bases); i++)
    texts[i] = spot_candle_to_json (&bases[i]);

  for (guint i = 0; i < 4000; i++)
    {
      g_autoptr (GString) m = g_string_new (texts[i % G_N_ELEMENTS (texts)]);
      guint edits = (guint)g_rand_int_range (rand, 1, 4);
      SpotCandle fast, got;
      gboolean fast_ok, ok;

      for (guint e = 0; e < edits; e++)
        {
          gsize at = (gsize)g_rand_int_range (rand, 0, (gint32)m->len);
          char ch = g_rand_boolean (rand)
                        ? alphabet[g_rand_int_range (rand, 0, (gint32)sizeof alphabet - 1)]
                        : (char)g_rand_int_range (rand, 1, 256);

          switch (g_rand_int_range (rand, 0, 3))
            {
            case 0:
              m->str[at] = ch;
              break;
            case 1:
              g_string_erase (m, (gssize)at, 1);
              break;
            default:
              g_string_insert_c (m, (gssize)at, ch);
              break;
            }
        }

      fast_ok = spot_candle_from_json_fast (m->str, m->len, &fast);
      ok = assert_same_verdict_as_json_glib (m->str, (gssize)m->len, &got);
      if (fast_ok && !ok)
        g_error ("fast reader accepted what json-glib rejects: %s", m->str);
      if (fast_ok)
        {
          assert_candles_identical (&fast, &got);
          fast_accepted++;
        }
      else if (ok)
        fast_declined_valid++;
    }
  g_test_message ("fast reader accepted %u damaged inputs, declined %u that json-glib accepts",
                  fast_accepted, fast_declined_valid);
  /* Both kinds of outcome happened, so the comparison above meant something. */
  g_assert_cmpuint (fast_accepted, >, 0);
  g_assert_cmpuint (fast_declined_valid, >, 0);
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    g_free (texts[i]);
  g_rand_free (rand);
}

static void
test_candle_json_reads_only_the_given_length (void)
{
  g_autofree char *padded = g_strconcat (live_json, "garbage", NULL);
  SpotCandle c, expected = live_candle ();
  g_autoptr (GError) error = NULL;

  g_assert_true (spot_candle_from_json (padded, (gssize)strlen (live_json), &c, &error));
  g_assert_no_error (error);
  assert_candles_identical (&c, &expected);
  g_assert_true (spot_candle_from_json_fast (padded, strlen (live_json), &c));

  /* One byte short: the closing brace is outside; json-glib's message. */
  g_autoptr (GError) tree_error = NULL;
  g_assert_false (spot_candle_from_json (padded, (gssize)strlen (live_json) - 1, &c, &error));
  g_assert_false (
      spot_candle_from_json_tree (padded, (gssize)strlen (live_json) - 1, &c, &tree_error));
  g_assert_cmpstr (error->message, ==, tree_error->message);
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
  g_test_add_func ("/candle-json/fast-reader-reads-what-the-writer-writes",
                   test_candle_json_fast_reader_reads_what_the_writer_writes);
  g_test_add_func ("/candle-json/other-layouts-agree-or-fall-back",
                   test_candle_json_other_layouts_agree_or_fall_back);
  g_test_add_func ("/candle-json/rejects-what-json-glib-rejects-with-its-message",
                   test_candle_json_rejects_what_json_glib_rejects_with_its_message);
  g_test_add_func ("/candle-json/fast-reader-never-accepts-what-json-glib-rejects",
                   test_candle_json_fast_reader_never_accepts_what_json_glib_rejects);
  g_test_add_func ("/candle-json/reads-only-the-given-length",
                   test_candle_json_reads_only_the_given_length);
  return g_test_run ();
}
