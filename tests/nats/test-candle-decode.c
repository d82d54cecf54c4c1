/* test-candle-decode.c: the fast candle JSON reader agrees with the model's. */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "core/spot-error.h"
#include "model/spot-candle-json.h"
#include "nats-test-util.h"
#include "nats/spot-candle-decode.h"

static void
assert_same (const SpotCandle *a, const SpotCandle *b)
{
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
test_fast_path_reads_what_the_writer_writes (void)
{
  const char *prices[] = { "0.00000001", "68900.50", "12", "123456789012.123456" };
  GRand *rand = g_rand_new_with_seed (42);

  for (guint i = 0; i < 2000; i++)
    {
      SpotGranularity g = (SpotGranularity)g_rand_int_range (rand, 0, SPOT_GRANULARITY_COUNT);
      SpotCandle c = nats_test_candle (
          i % 2 ? "BTC-USD" : "ABCDEFGHIJKLMNOP-Z9", g,
          spot_granularity_align (g, 1775521800 + g_rand_int_range (rand, 0, 1 << 24)),
          g_rand_int (rand), prices[i % G_N_ELEMENTS (prices)]);
      g_autofree char *json = NULL;
      SpotCandle fast, slow;

      g_assert_true (
          spot_decimal_parse (prices[(i + 1) % G_N_ELEMENTS (prices)], -1, &c.volume, NULL));
      c.complete = i % 3 == 0;
      if (i % 5 == 0)
        {
          c.trades = SPOT_CANDLE_TRADES_UNKNOWN;
          c.last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
          c.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
        }
      json = spot_candle_to_json (&c);
      g_assert_true (spot_candle_from_json (json, -1, &slow, NULL));
      g_assert_true (spot_candle_decode_fast (json, strlen (json), &fast));
      assert_same (&fast, &slow);
      assert_same (&fast, &c);
    }
  g_rand_free (rand);
}

static void
test_other_layouts_agree_or_fall_back (void)
{
  const char *variants[] = {
    /* reordered, with whitespace */
    " { \"rev\" : 3 , "
    "\"ts\":null,\"complete\":true,\"last_trade_id\":null,\"trades\":null,\"volume\":\"1\","
    "\"close\":\"2\",\"low\":\"1\",\"high\":\"3\",\"open\":\"2\",\"start\":1775521800,"
    "\"granularity\":\"ONE_MINUTE\",\"product_id\":\"BTC-USD\"}\n",
    /* an unknown field: the fast path declines, the model accepts */
    "{\"product_id\":\"BTC-USD\",\"granularity\":\"ONE_MINUTE\",\"start\":1775521800,\"open\":"
    "\"2\",\"high\":\"3\","
    "\"low\":\"1\",\"close\":\"2\",\"volume\":\"1\",\"trades\":1,\"last_trade_id\":\"5\","
    "\"complete\":false,"
    "\"rev\":1,\"ts\":\"2026-04-07T14:30:02.789012345Z\",\"extra\":[1,2]}",
    /* an escaped character in a string: declined, then judged by the model */
    "{\"product_id\":\"BTC\\u002dUSD\",\"granularity\":\"ONE_MINUTE\",\"start\":1775521800,"
    "\"open\":\"2\","
    "\"high\":\"3\",\"low\":\"1\",\"close\":\"2\",\"volume\":\"1\",\"trades\":1,\"last_trade_id\":"
    "\"5\","
    "\"complete\":false,\"rev\":1,\"ts\":null}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (variants); i++)
    {
      g_autoptr (GError) slow_error = NULL;
      g_autoptr (GError) error = NULL;
      SpotCandle slow, got;
      gboolean slow_ok = spot_candle_from_json (variants[i], -1, &slow, &slow_error);
      gboolean ok = spot_candle_decode (variants[i], strlen (variants[i]), &got, &error);

      g_assert_cmpint (ok, ==, slow_ok);
      if (ok)
        assert_same (&got, &slow);
    }
  g_assert_true (spot_candle_decode_fast (variants[0], strlen (variants[0]), &(SpotCandle){ 0 }));
  g_assert_false (spot_candle_decode_fast (variants[1], strlen (variants[1]), &(SpotCandle){ 0 }));
}

static void
test_rejects_what_the_model_rejects_with_its_message (void)
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
    {
      g_autoptr (GError) slow_error = NULL;
      g_autoptr (GError) error = NULL;
      SpotCandle c;

      g_assert_false (spot_candle_from_json (bad[i], -1, &c, &slow_error));
      g_assert_false (spot_candle_decode (bad[i], strlen (bad[i]), &c, &error));
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
      g_assert_cmpstr (error->message, ==, slow_error->message);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nats/decode/reads-writer-form", test_fast_path_reads_what_the_writer_writes);
  g_test_add_func ("/nats/decode/other-layouts", test_other_layouts_agree_or_fall_back);
  g_test_add_func ("/nats/decode/rejects-like-model",
                   test_rejects_what_the_model_rejects_with_its_message);
  return g_test_run ();
}
