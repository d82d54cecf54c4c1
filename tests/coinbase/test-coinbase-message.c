/* test-coinbase-message.c: every documented message shape and bad input. */
#include <string.h>

#include <glib.h>

#include "coinbase/spot-coinbase-fast.h"
#include "coinbase/spot-coinbase-message.h"
#include "core/spot-error.h"
#include "model/spot-decimal.h"

typedef struct
{
  SpotCoinbaseParser *parser;
  SpotCoinbaseMessage msg;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->parser = spot_coinbase_parser_new ();
  spot_coinbase_message_init (&f->msg);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  spot_coinbase_message_clear (&f->msg);
  spot_coinbase_parser_free (f->parser);
}

static gboolean
parse (Fixture *f, const char *text, GError **error)
{
  return spot_coinbase_parser_parse (f->parser, text, strlen (text), 42, 7, &f->msg, error);
}

static void
assert_decimal (const SpotDecimal *d, const char *expected)
{
  char buf[SPOT_DECIMAL_BUFSIZE];
  spot_decimal_format (d, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, expected);
}

#define TRADES_MSG(trades)                                                                         \
  "{\"channel\":\"market_trades\",\"client_id\":\"\",\"timestamp\":\"2026-04-07T14:30:03."         \
  "123456789Z\","                                                                                  \
  "\"sequence_num\":5,\"events\":[{\"type\":\"update\",\"trades\":[" trades "]}]}"

#define GOOD_TRADE                                                                                 \
  "{\"trade_id\":\"995098700\",\"product_id\":\"BTC-USD\",\"price\":\"68900.50\",\"size\":\"0."    \
  "00150000\","                                                                                    \
  "\"side\":\"BUY\",\"time\":\"2026-04-07T14:30:02.789012Z\"}"

static void
test_parses_market_trades_update (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (parse (f, TRADES_MSG (GOOD_TRADE), &error));
  g_assert_no_error (error);
  g_assert_cmpint (f->msg.kind, ==, SPOT_COINBASE_MESSAGE_MARKET_TRADES);
  g_assert_cmpint (f->msg.sequence_num, ==, 5);
  g_assert_false (f->msg.snapshot);
  g_assert_cmpint (f->msg.timestamp_ns % 1000000000, ==, 123456789);
  g_assert_nonnull (f->msg.trades);
  g_assert_cmpuint (f->msg.trades->n_trades, ==, 1);
  g_assert_cmpint (f->msg.trades->message_ns, ==, f->msg.timestamp_ns);
  g_assert_cmpint (f->msg.trades->receive_ns, ==, 42);
  g_assert_cmpint (f->msg.trades->connection_id, ==, 7);
  SpotTrade *t = &f->msg.trades->trades[0];
  g_assert_cmpstr (t->product_id, ==, "BTC-USD");
  g_assert_cmpuint (t->trade_id, ==, 995098700);
  assert_decimal (&t->price, "68900.50");
  assert_decimal (&t->size, "0.00150000");
  g_assert_cmpint (t->side, ==, SPOT_TRADE_SIDE_BUY);
  g_assert_cmpint (t->time_ns % 1000000000, ==, 789012000);
  g_assert_cmpint (t->message_ns, ==, f->msg.timestamp_ns);
  g_assert_cmpuint (f->msg.n_rejected, ==, 0);
}

static void
test_parses_snapshot_with_several_trades_and_sell_side (Fixture *f, gconstpointer data)
{
  const char *text
      = "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"sequence_num\":0,"
        "\"events\":[{\"type\":\"snapshot\",\"trades\":["
        "{\"trade_id\":\"3\",\"product_id\":\"ETH-USD\",\"price\":\"3000\",\"size\":\"1\",\"side\":"
        "\"SELL\","
        "\"time\":\"2026-04-07T14:30:02Z\"},"
        "{\"trade_id\":\"2\",\"product_id\":\"ETH-USD\",\"price\":\"2999.5\",\"size\":\"2\","
        "\"side\":\"BUY\","
        "\"time\":\"2026-04-07T14:30:01Z\"}]}]}";
  g_assert_true (parse (f, text, NULL));
  /* client_id missing is fine. */
  g_assert_true (f->msg.snapshot);
  g_assert_cmpuint (f->msg.trades->n_trades, ==, 2);
  g_assert_cmpint (f->msg.trades->trades[0].side, ==, SPOT_TRADE_SIDE_SELL);
  g_assert_cmpuint (f->msg.trades->trades[1].trade_id, ==, 2);
}

static void
test_parses_candles (Fixture *f, gconstpointer data)
{
  const char *text = "{\"channel\":\"candles\",\"client_id\":\"\",\"timestamp\":\"2026-04-07T14:30:"
                     "03Z\",\"sequence_num\":9,"
                     "\"events\":[{\"type\":\"snapshot\",\"candles\":[{\"start\":\"1775521800\","
                     "\"high\":\"69000\","
                     "\"low\":\"68800.5\",\"open\":\"68900\",\"close\":\"68950\",\"volume\":\"12."
                     "5\",\"product_id\":\"BTC-USD\"}]}]}";
  g_assert_true (parse (f, text, NULL));
  g_assert_cmpint (f->msg.kind, ==, SPOT_COINBASE_MESSAGE_CANDLES);
  g_assert_cmpuint (f->msg.candles->len, ==, 1);
  SpotCandle *c = &g_array_index (f->msg.candles, SpotCandle, 0);
  g_assert_cmpstr (c->product_id, ==, "BTC-USD");
  g_assert_cmpint (c->granularity, ==, SPOT_GRANULARITY_FIVE_MINUTE);
  g_assert_cmpint (c->start, ==, 1775521800);
  assert_decimal (&c->high, "69000");
  assert_decimal (&c->low, "68800.5");
  assert_decimal (&c->volume, "12.5");
  g_assert_cmpint (c->trades, ==, SPOT_CANDLE_TRADES_UNKNOWN);
}

static void
test_parses_heartbeat_counter_as_number_and_string (Fixture *f, gconstpointer data)
{
  const char *num = "{\"channel\":\"heartbeats\",\"client_id\":\"\",\"timestamp\":\"2026-04-07T14:"
                    "30:03Z\",\"sequence_num\":1,"
                    "\"events\":[{\"current_time\":\"2023-06-23 20:31:56.121961769 +0000 UTC "
                    "m=+91717.525857105\","
                    "\"heartbeat_counter\":3049}]}";
  const char *str
      = "{\"channel\":\"heartbeats\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"sequence_num\":2,"
        "\"events\":[{\"current_time\":\"x\",\"heartbeat_counter\":\"3050\"}]}";
  g_assert_true (parse (f, num, NULL));
  g_assert_cmpint (f->msg.kind, ==, SPOT_COINBASE_MESSAGE_HEARTBEATS);
  g_assert_cmpint (f->msg.heartbeat_counter, ==, 3049);
  g_assert_true (parse (f, str, NULL));
  g_assert_cmpint (f->msg.heartbeat_counter, ==, 3050);
  g_assert_cmpuint (f->msg.n_rejected, ==, 0);
}

static void
test_parses_subscriptions (Fixture *f, gconstpointer data)
{
  const char *text
      = "{\"channel\":\"subscriptions\",\"client_id\":\"\",\"timestamp\":\"2026-04-07T14:30:03Z\","
        "\"sequence_num\":0,\"events\":[{\"subscriptions\":{\"market_trades\":[\"BTC-USD\",\"ETH-"
        "USD\"],"
        "\"heartbeats\":[\"heartbeats\"],\"candles\":[]}}]}";
  g_assert_true (parse (f, text, NULL));
  g_assert_cmpint (f->msg.kind, ==, SPOT_COINBASE_MESSAGE_SUBSCRIPTIONS);
  guint trades = 0;
  for (guint i = 0; i < f->msg.subscriptions->len; i++)
    {
      SpotCoinbaseSubscription *s
          = &g_array_index (f->msg.subscriptions, SpotCoinbaseSubscription, i);
      if (g_str_equal (s->channel, "market_trades"))
        {
          trades++;
          g_assert_true (g_str_equal (s->product_id, "BTC-USD")
                         || g_str_equal (s->product_id, "ETH-USD"));
        }
    }
  g_assert_cmpuint (trades, ==, 2);
}

static void
test_parses_error_message (Fixture *f, gconstpointer data)
{
  g_assert_true (parse (f, "{\"type\":\"error\",\"message\":\"authentication failure\"}", NULL));
  g_assert_cmpint (f->msg.kind, ==, SPOT_COINBASE_MESSAGE_ERROR);
  g_assert_cmpstr (f->msg.error_message, ==, "authentication failure");
}

static void
test_ignores_unknown_channels_and_types (Fixture *f, gconstpointer data)
{
  g_assert_true (parse (f,
                        "{\"channel\":\"level2\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"sequence_"
                        "num\":3,\"events\":[{}]}",
                        NULL));
  g_assert_cmpint (f->msg.kind, ==, SPOT_COINBASE_MESSAGE_UNKNOWN);
  g_assert_cmpint (f->msg.sequence_num, ==, 3);
  g_assert_true (parse (f, "{\"type\":\"ticker\"}", NULL));
  g_assert_cmpint (f->msg.kind, ==, SPOT_COINBASE_MESSAGE_UNKNOWN);
  /* An unknown event type inside a known channel is skipped, not counted. */
  g_assert_true (parse (f,
                        "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\","
                        "\"events\":[{\"type\":\"delta\",\"trades\":[1]}]}",
                        NULL));
  g_assert_cmpuint (f->msg.trades->n_trades, ==, 0);
  g_assert_cmpuint (f->msg.n_rejected, ==, 0);
}

static void
test_refuses_malformed_frames (Fixture *f, gconstpointer data)
{
  const char *bad[] = {
    "",
    "{",
    "[]",
    "42",
    "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"events\":[{\"type\":"
    "\"update\",\"trades\":[{\"trade_id\":\"1",
    "{\"channel\":7}",
    "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"sequence_num\":\"5\","
    "\"events\":[]}",
    "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"sequence_num\":-1,"
    "\"events\":[]}",
    "{\"channel\":\"market_trades\",\"timestamp\":17,\"events\":[]}",
    "{\"channel\":\"market_trades\",\"timestamp\":\"yesterday\",\"events\":[]}",
    "{\"channel\":\"market_trades\",\"events\":[]}",
    "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"events\":{}}",
    "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\"}",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_false (parse (f, bad[i], &error));
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
      g_assert_null (f->msg.trades);
    }
}

static void
test_rejects_bad_trades_and_keeps_good_ones (Fixture *f, gconstpointer data)
{
  /* Each bad trade is skipped and located (product + time known) when possible. */
  const char *bad_trades[] = {
    "{\"trade_id\":\"1\",\"product_id\":\"BTC-USD\",\"price\":68900.5,\"size\":\"1\",\"side\":"
    "\"BUY\",\"time\":\"2026-04-07T14:30:02Z\"}",
    "{\"trade_id\":\"2\",\"product_id\":\"BTC-USD\",\"price\":\"NaN\",\"size\":\"1\",\"side\":"
    "\"BUY\",\"time\":\"2026-04-07T14:30:02Z\"}",
    "{\"trade_id\":\"3\",\"product_id\":\"BTC-USD\",\"price\":\"-5\",\"size\":\"1\",\"side\":"
    "\"BUY\",\"time\":\"2026-04-07T14:30:02Z\"}",
    "{\"trade_id\":\"4\",\"product_id\":\"BTC-USD\",\"price\":\"0\",\"size\":\"1\",\"side\":"
    "\"BUY\",\"time\":\"2026-04-07T14:30:02Z\"}",
    "{\"trade_id\":\"5\",\"product_id\":\"BTC-USD\",\"price\":\"1e300\",\"size\":\"1\",\"side\":"
    "\"BUY\",\"time\":\"2026-04-07T14:30:02Z\"}",
    "{\"trade_id\":\"6\",\"product_id\":\"BTC-USD\",\"price\":\"1234567890123456789\",\"size\":"
    "\"1\",\"time\":\"2026-04-07T14:30:02Z\"}",
    "{\"trade_id\":\"7\",\"product_id\":\"BTC-USD\",\"price\":\"1\",\"size\":\"-0.1\",\"time\":"
    "\"2026-04-07T14:30:02Z\"}",
    "{\"trade_id\":\"8\",\"product_id\":\"BTC-USD\",\"price\":\"1\",\"time\":\"2026-04-07T14:30:"
    "02Z\"}",
    "{\"trade_id\":\"x9\",\"product_id\":\"BTC-USD\",\"price\":\"1\",\"size\":\"1\",\"time\":"
    "\"2026-04-07T14:30:02Z\"}",
    "{\"trade_id\":\"0\",\"product_id\":\"BTC-USD\",\"price\":\"1\",\"size\":\"1\",\"time\":\"2026-"
    "04-07T14:30:02Z\"}",
    "{\"trade_id\":\"99999999999999999999999\",\"product_id\":\"BTC-USD\",\"price\":\"1\",\"size\":"
    "\"1\",\"time\":\"2026-04-07T14:30:02Z\"}",
  };
  const char *unlocated[] = {
    "17",
    "{\"trade_id\":\"10\",\"price\":\"1\",\"size\":\"1\",\"time\":\"2026-04-07T14:30:02Z\"}",
    "{\"trade_id\":\"11\",\"product_id\":\"BTC "
    "USD\",\"price\":\"1\",\"size\":\"1\",\"time\":\"2026-04-07T14:30:02Z\"}",
    "{\"trade_id\":\"12\",\"product_id\":\"BTC-USD\",\"price\":\"1\",\"size\":\"1\"}",
    "{\"trade_id\":\"13\",\"product_id\":\"BTC-USD\",\"price\":\"1\",\"size\":\"1\",\"time\":"
    "\"1999-01-01T00:00:00Z\"}",
    "{\"trade_id\":\"14\",\"product_id\":\"BTC-USD\",\"price\":\"1\",\"size\":\"1\",\"time\":"
    "\"2036-01-01T00:00:00Z\"}",
  };
  GString *s = g_string_new (TRADES_MSG (GOOD_TRADE));
  g_string_truncate (s, s->len - 4); /* before "]}]}" */
  for (guint i = 0; i < G_N_ELEMENTS (bad_trades); i++)
    g_string_append_printf (s, ",%s", bad_trades[i]);
  for (guint i = 0; i < G_N_ELEMENTS (unlocated); i++)
    g_string_append_printf (s, ",%s", unlocated[i]);
  g_string_append (s, "]}]}");
  g_autoptr (GError) error = NULL;
  g_assert_true (parse (f, s->str, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->msg.trades->n_trades, ==, 1);
  g_assert_cmpuint (f->msg.trades->trades[0].trade_id, ==, 995098700);
  g_assert_cmpuint (f->msg.n_rejected, ==, G_N_ELEMENTS (bad_trades) + G_N_ELEMENTS (unlocated));
  g_assert_nonnull (f->msg.rejected);
  g_assert_cmpuint (f->msg.rejected->len, ==, G_N_ELEMENTS (bad_trades));
  g_assert_cmpstr (g_array_index (f->msg.rejected, SpotCoinbaseRejected, 0).product_id, ==,
                   "BTC-USD");
  g_assert_nonnull (f->msg.first_reject_reason);
  g_string_free (s, TRUE);
}

static void
test_rejects_trades_not_an_array (Fixture *f, gconstpointer data)
{
  g_assert_true (parse (f,
                        "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\","
                        "\"events\":[{\"type\":\"update\",\"trades\":{}}]}",
                        NULL));
  g_assert_cmpuint (f->msg.trades->n_trades, ==, 0);
  g_assert_cmpuint (f->msg.n_rejected, ==, 1);
  g_assert_null (f->msg.rejected);
}

static void
test_rejects_inconsistent_candles (Fixture *f, gconstpointer data)
{
  const char *text = "{\"channel\":\"candles\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"events\":[{"
                     "\"type\":\"update\",\"candles\":["
                     "{\"start\":\"1775521801\",\"high\":\"2\",\"low\":\"1\",\"open\":\"1\","
                     "\"close\":\"2\",\"volume\":\"1\",\"product_id\":\"BTC-USD\"},"
                     "{\"start\":\"1775521800\",\"high\":\"1\",\"low\":\"2\",\"open\":\"1\","
                     "\"close\":\"2\",\"volume\":\"1\",\"product_id\":\"BTC-USD\"},"
                     "{\"start\":\"1775521800\",\"high\":\"2\",\"low\":\"1\",\"open\":\"1\","
                     "\"close\":\"2\",\"volume\":\"-1\",\"product_id\":\"BTC-USD\"},"
                     "{\"start\":1775521800,\"high\":\"2\",\"low\":\"1\",\"open\":\"1\",\"close\":"
                     "\"2\",\"volume\":\"1\",\"product_id\":\"BTC-USD\"},"
                     "{\"start\":\"1775521800\",\"high\":\"2\",\"low\":\"1\",\"open\":\"1\","
                     "\"close\":\"2\",\"volume\":\"0\",\"product_id\":\"BTC-USD\"}"
                     "]}]}";
  g_assert_true (parse (f, text, NULL));
  g_assert_cmpuint (f->msg.candles->len, ==, 1);
  g_assert_cmpuint (f->msg.n_rejected, ==, 4);
}

static void
test_parses_multi_megabyte_frame (Fixture *f, gconstpointer data)
{
  GString *s = g_string_new (
      "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"sequence_num\":1,"
      "\"events\":[{\"type\":\"update\",\"trades\":[");
  guint n = 0;
  while (s->len < 4 * 1024 * 1024)
    g_string_append_printf (
        s,
        "%s{\"trade_id\":\"%u\",\"product_id\":\"BTC-USD\",\"price\":\"1.5\",\"size\":\"2\","
        "\"side\":\"BUY\",\"time\":\"2026-04-07T14:30:02Z\"}",
        n == 0 ? "" : ",", n + 1),
        n++;
  g_string_append (s, "]}]}");
  g_assert_true (parse (f, s->str, NULL));
  g_assert_cmpuint (f->msg.trades->n_trades, ==, n);
  g_string_free (s, TRUE);
}

static void
test_heartbeat_without_counter_is_counted (Fixture *f, gconstpointer data)
{
  g_assert_true (parse (f,
                        "{\"channel\":\"heartbeats\",\"timestamp\":\"2026-04-07T14:30:03Z\","
                        "\"events\":[{\"heartbeat_counter\":\"x\"},{},3]}",
                        NULL));
  g_assert_cmpint (f->msg.heartbeat_counter, ==, -1);
  g_assert_cmpuint (f->msg.n_rejected, ==, 3);
}

/* The lean parser takes the clean shape and leaves everything unusual to
 * json-glib; whichever path runs, the result is json-glib's. */
static void
test_lean_parser_agrees_with_json_glib (void)
{
  const char *inputs[] = {
    TRADES_MSG (GOOD_TRADE),
    TRADES_MSG (GOOD_TRADE "," GOOD_TRADE),
    "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"sequence_num\":0,"
    "\"events\":[]}",
    " {\"channel\" : \"market_trades\" "
    ",\n\"timestamp\":\"2026-04-07T14:30:03Z\",\"x\":[1,-2.5,true,false,null,{\"y\":\"z\"}],"
    "\"events\":[{\"type\":\"snapshot\",\"trades\":[]}]} ",
    /* Each of these takes the json-glib path. */
    "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"events\":[{\"type\":"
    "\"update\",\"trades\":[{\"trade_id\":\"1\",\"product_id\":\"BTC\\u002dUSD\",\"price\":\"1\","
    "\"size\":\"1\",\"time\":\"2026-04-07T14:30:02Z\"}]}]}",
    "{\"channel\":\"market_trades\",\"channel\":\"heartbeats\",\"timestamp\":\"2026-04-07T14:30:"
    "03Z\",\"events\":[]}",
    "{\"events\":[],\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\"}",
    "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"sequence_num\":1e3,"
    "\"events\":[]}",
    "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"sequence_num\":05,"
    "\"events\":[]}",
    "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"events\":[]} x",
    "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"events\":[{\"type\":"
    "\"update\",\"trades\":[{\"trade_id\":\"1\",\"product_id\":\"BTC-USD\",\"price\":\"1\","
    "\"size\":\"1\",\"side\":7,\"time\":\"2026-04-07T14:30:02Z\"}]}]}",
    "{\"channel\":\"market_trades\",\"timestamp\":\"2026-04-07T14:30:03Z\",\"events\":[{\"type\":"
    "\"update\",\"trades\":[{\"trade_id\":\"1\",\"product_id\":\"BTC-USD\",\"price\":\"-1\","
    "\"size\":\"1\",\"time\":\"2026-04-07T14:30:02Z\"}]}]}",
  };
  g_autoptr (SpotCoinbaseParser) lean = spot_coinbase_parser_new ();
  g_autoptr (SpotCoinbaseParser) oracle = spot_coinbase_parser_new ();
  spot_coinbase_parser_set_json_only (oracle, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_auto (SpotCoinbaseMessage) a;
      g_auto (SpotCoinbaseMessage) b;
      g_auto (SpotCoinbaseMessage) fast;
      spot_coinbase_message_init (&a);
      spot_coinbase_message_init (&b);
      spot_coinbase_message_init (&fast);
      gsize len = strlen (inputs[i]);
      gboolean took_fast = spot_coinbase_fast_parse_trades (inputs[i], len, 1, 2, &fast);
      g_assert_cmpint (took_fast, ==, i < 4);
      gboolean ok_a = spot_coinbase_parser_parse (lean, inputs[i], len, 1, 2, &a, NULL);
      gboolean ok_b = spot_coinbase_parser_parse (oracle, inputs[i], len, 1, 2, &b, NULL);
      g_assert_cmpint (ok_a, ==, ok_b);
      if (!ok_a)
        continue;
      g_assert_cmpint (a.kind, ==, b.kind);
      g_assert_cmpint (a.sequence_num, ==, b.sequence_num);
      g_assert_cmpint (a.timestamp_ns, ==, b.timestamp_ns);
      g_assert_cmpint (a.snapshot, ==, b.snapshot);
      g_assert_cmpuint (a.n_rejected, ==, b.n_rejected);
      g_assert_true ((a.trades == NULL) == (b.trades == NULL));
      if (a.trades == NULL)
        continue;
      g_assert_cmpuint (a.trades->n_trades, ==, b.trades->n_trades);
      for (guint k = 0; k < a.trades->n_trades; k++)
        {
          /* Field by field: decimals have padding bytes. */
          const SpotTrade *x = &a.trades->trades[k], *y = &b.trades->trades[k];
          g_assert_cmpstr (x->product_id, ==, y->product_id);
          g_assert_cmpuint (x->trade_id, ==, y->trade_id);
          g_assert_cmpint (x->time_ns, ==, y->time_ns);
          g_assert_cmpint (x->message_ns, ==, y->message_ns);
          g_assert_cmpint (x->side, ==, y->side);
          g_assert_true (x->price.units == y->price.units && x->price.scale == y->price.scale);
          g_assert_true (x->size.units == y->size.units && x->size.scale == y->size.scale);
        }
    }
}

static void
test_amount_bounds (void)
{
  SpotDecimal d;
  g_assert_true (spot_coinbase_parse_amount ("999999999999999.5", 17, FALSE, &d, NULL));
  g_assert_false (spot_coinbase_parse_amount ("1000000000000000", 16, FALSE, &d, NULL));
  g_assert_true (spot_coinbase_parse_amount ("0", 1, TRUE, &d, NULL));
  g_assert_false (spot_coinbase_parse_amount ("0", 1, FALSE, &d, NULL));
  g_assert_false (spot_coinbase_parse_amount ("inf", 3, TRUE, &d, NULL));
  g_assert_false (spot_coinbase_parse_amount ("", 0, TRUE, &d, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn)                                                                              \
  g_test_add ("/coinbase/message/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("parses-market-trades-update", test_parses_market_trades_update);
  ADD ("parses-snapshot-with-several-trades-and-sell-side",
       test_parses_snapshot_with_several_trades_and_sell_side);
  ADD ("parses-candles", test_parses_candles);
  ADD ("parses-heartbeat-counter-as-number-and-string",
       test_parses_heartbeat_counter_as_number_and_string);
  ADD ("parses-subscriptions", test_parses_subscriptions);
  ADD ("parses-error-message", test_parses_error_message);
  ADD ("ignores-unknown-channels-and-types", test_ignores_unknown_channels_and_types);
  ADD ("refuses-malformed-frames", test_refuses_malformed_frames);
  ADD ("rejects-bad-trades-and-keeps-good-ones", test_rejects_bad_trades_and_keeps_good_ones);
  ADD ("rejects-trades-not-an-array", test_rejects_trades_not_an_array);
  ADD ("rejects-inconsistent-candles", test_rejects_inconsistent_candles);
  ADD ("parses-multi-megabyte-frame", test_parses_multi_megabyte_frame);
  ADD ("heartbeat-without-counter-is-counted", test_heartbeat_without_counter_is_counted);
  g_test_add_func ("/coinbase/message/amount-bounds", test_amount_bounds);
  g_test_add_func ("/coinbase/message/lean-parser-agrees-with-json-glib",
                   test_lean_parser_agrees_with_json_glib);
  return g_test_run ();
}
