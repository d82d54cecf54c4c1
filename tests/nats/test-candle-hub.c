/* test-candle-hub.c: fan-out of candles to clients on the main context. */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "nats-test-util.h"
#include "nats/spot-candle-hub.h"

typedef struct
{
  GArray *got; /* SpotCandle */
  guint calls;
  SpotCandleHub *hub;
  guint unsubscribe_id; /* unsubscribed from inside the callback when set */
  gboolean destroyed;
} Sink;

static void
sink_init (Sink *sink)
{
  memset (sink, 0, sizeof *sink);
  sink->got = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
}

static void
on_candles (const SpotCandle *candles, guint n, gpointer user_data)
{
  Sink *sink = user_data;

  g_array_append_vals (sink->got, candles, n);
  sink->calls++;
  if (sink->unsubscribe_id != 0)
    {
      spot_candle_hub_unsubscribe (sink->hub, sink->unsubscribe_id);
      sink->unsubscribe_id = 0;
    }
}

static void
on_sink_destroyed (gpointer user_data)
{
  ((Sink *)user_data)->destroyed = TRUE;
}

static void
drain_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
push1 (SpotCandleHub *hub, const char *product, SpotGranularity g, guint64 rev, gboolean complete)
{
  SpotCandle c = nats_test_candle (product, g, 0, rev, "1.5");

  c.complete = complete;
  spot_candle_hub_push (hub, &c, 1);
}

static void
test_delivers_selected_products_and_granularities (void)
{
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  const char *btc[] = { "BTC-USD", NULL };
  const char *both[] = { "BTC-USD", "ETH-USD", "BTC-USD", NULL };
  Sink a, b, all;

  sink_init (&a);
  sink_init (&b);
  sink_init (&all);
  spot_candle_hub_subscribe (hub, btc, 1u << SPOT_GRANULARITY_ONE_MINUTE, on_candles, &a,
                             on_sink_destroyed);
  spot_candle_hub_subscribe (hub, both, SPOT_GRANULARITY_SET_ALL, on_candles, &b,
                             on_sink_destroyed);
  spot_candle_hub_subscribe (hub, NULL, 1u << SPOT_GRANULARITY_ONE_DAY, on_candles, &all,
                             on_sink_destroyed);

  push1 (hub, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1, FALSE);
  push1 (hub, "BTC-USD", SPOT_GRANULARITY_ONE_DAY, 1, FALSE);
  push1 (hub, "ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, 1, FALSE);
  push1 (hub, "SOL-USD", SPOT_GRANULARITY_ONE_DAY, 1, FALSE);
  /* Nothing is delivered outside the main context. */
  g_assert_cmpuint (a.got->len + b.got->len + all.got->len, ==, 0);
  drain_context ();

  g_assert_cmpuint (a.got->len, ==, 1);
  g_assert_cmpuint (a.calls, ==, 1);
  g_assert_cmpuint (b.got->len, ==, 3); /* listed twice, delivered once */
  g_assert_cmpuint (b.calls, ==, 1);
  g_assert_cmpuint (all.got->len, ==, 2);
  g_assert_cmpstr (g_array_index (all.got, SpotCandle, 1).product_id, ==, "SOL-USD");

  g_clear_object (&hub);
  g_assert_true (a.destroyed && b.destroyed && all.destroyed);
  g_array_unref (a.got);
  g_array_unref (b.got);
  g_array_unref (all.got);
}

static void
test_coalesces_live_updates_while_loop_is_busy_keeps_completions (void)
{
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  SpotCandleHubStats stats;
  Sink s;

  sink_init (&s);
  spot_candle_hub_subscribe (hub, NULL, SPOT_GRANULARITY_SET_ALL, on_candles, &s, NULL);
  for (guint rev = 1; rev <= 100; rev++)
    push1 (hub, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, rev, rev == 50);
  drain_context ();
  /* rev 1..49 coalesced into 49, the completion 50, then 51..100 into 100. */
  g_assert_cmpuint (s.got->len, ==, 3);
  g_assert_cmpuint (g_array_index (s.got, SpotCandle, 0).rev, ==, 49);
  g_assert_true (g_array_index (s.got, SpotCandle, 1).complete);
  g_assert_cmpuint (g_array_index (s.got, SpotCandle, 2).rev, ==, 100);
  spot_candle_hub_get_stats (hub, &stats);
  g_assert_cmpuint (stats.received, ==, 100);
  g_assert_cmpuint (stats.coalesced, ==, 97);
  g_assert_cmpuint (stats.batches, ==, 1);
  g_assert_cmpuint (stats.delivered, ==, 3);
  g_array_unref (s.got);
}

static void
test_unsubscribe_inside_callback_stops_delivery (void)
{
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  Sink s;
  guint id;

  sink_init (&s);
  s.hub = hub;
  id = spot_candle_hub_subscribe (hub, NULL, SPOT_GRANULARITY_SET_ALL, on_candles, &s,
                                  on_sink_destroyed);
  s.unsubscribe_id = id;
  push1 (hub, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1, FALSE);
  drain_context ();
  g_assert_true (s.destroyed);
  push1 (hub, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 2, FALSE);
  drain_context ();
  g_assert_cmpuint (s.calls, ==, 1);
  /* Unknown and repeated ids are ignored. */
  spot_candle_hub_unsubscribe (hub, id);
  spot_candle_hub_unsubscribe (hub, 9999);
  g_array_unref (s.got);
}

static void
test_set_filter_changes_selection (void)
{
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  const char *eth[] = { "ETH-USD", NULL };
  const char *btc[] = { "BTC-USD", NULL };
  Sink s;
  guint id;

  sink_init (&s);
  id = spot_candle_hub_subscribe (hub, eth, SPOT_GRANULARITY_SET_ALL, on_candles, &s, NULL);
  g_assert_true (spot_candle_hub_set_filter (hub, id, btc, SPOT_GRANULARITY_SET_ALL));
  g_assert_false (spot_candle_hub_set_filter (hub, id + 1, btc, SPOT_GRANULARITY_SET_ALL));
  push1 (hub, "ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, 1, FALSE);
  push1 (hub, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1, FALSE);
  drain_context ();
  g_assert_cmpuint (s.got->len, ==, 1);
  g_assert_cmpstr (g_array_index (s.got, SpotCandle, 0).product_id, ==, "BTC-USD");
  g_array_unref (s.got);
}

typedef struct
{
  SpotCandleHub *hub;
  guint n;
} Pusher;

static gpointer
push_from_thread (gpointer data)
{
  Pusher *p = data;

  for (guint i = 1; i <= p->n; i++)
    push1 (p->hub, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, i, i % 100 == 0);
  return NULL;
}

static gboolean
got_last (gpointer data)
{
  Sink *s = data;

  return s->got->len > 0 && g_array_index (s->got, SpotCandle, s->got->len - 1).rev == 10000;
}

static void
test_pushes_from_other_thread_arrive_in_order (void)
{
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  Pusher p = { hub, 10000 };
  guint completes = 0;
  guint64 prev = 0;
  GThread *t;
  Sink s;

  sink_init (&s);
  spot_candle_hub_subscribe (hub, NULL, SPOT_GRANULARITY_SET_ALL, on_candles, &s, NULL);
  t = g_thread_new ("pusher", push_from_thread, &p);
  g_assert_true (nats_test_wait_until (got_last, &s, 10000));
  g_thread_join (t);
  for (guint i = 0; i < s.got->len; i++)
    {
      const SpotCandle *c = &g_array_index (s.got, SpotCandle, i);

      g_assert_cmpuint (c->rev, >, prev);
      prev = c->rev;
      completes += c->complete;
    }
  g_assert_cmpuint (completes, ==, 100);
  g_array_unref (s.got);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nats/hub/delivers-selection",
                   test_delivers_selected_products_and_granularities);
  g_test_add_func ("/nats/hub/coalesces-while-busy",
                   test_coalesces_live_updates_while_loop_is_busy_keeps_completions);
  g_test_add_func ("/nats/hub/unsubscribe-in-callback",
                   test_unsubscribe_inside_callback_stops_delivery);
  g_test_add_func ("/nats/hub/set-filter", test_set_filter_changes_selection);
  g_test_add_func ("/nats/hub/cross-thread-order", test_pushes_from_other_thread_arrive_in_order);
  return g_test_run ();
}
