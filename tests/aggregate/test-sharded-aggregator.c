/* Unit tests of the sharded aggregator: routing, queues, drops, sink classes. */
#include "aggregate/spot-sharded-aggregator.h"
#include "core/spot-error.h"
#include "model/spot-product.h"
#include "engine-test-util.h"

typedef struct
{
  GMutex lock;
  GCond cond;
  GArray *live;            /* SpotCandleUpdate */
  GArray *complete;        /* SpotCandleUpdate */
  GArray *dirty;           /* SpotDirtyRange */
  GArray *live_call_sizes; /* guint */
  gboolean gate_closed;    /* emit_live blocks while TRUE */
  gboolean in_gate;
  GArray *outcomes; /* SpotRepairOutcome */
} TestSink;

static void
sink_init (TestSink *s)
{
  memset (s, 0, sizeof *s);
  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  s->live = g_array_new (FALSE, FALSE, sizeof (SpotCandleUpdate));
  s->complete = g_array_new (FALSE, FALSE, sizeof (SpotCandleUpdate));
  s->dirty = g_array_new (FALSE, FALSE, sizeof (SpotDirtyRange));
  s->live_call_sizes = g_array_new (FALSE, FALSE, sizeof (guint));
  s->outcomes = g_array_new (FALSE, FALSE, sizeof (SpotRepairOutcome));
}

static void
sink_clear (TestSink *s)
{
  g_array_unref (s->live);
  g_array_unref (s->complete);
  g_array_unref (s->dirty);
  g_array_unref (s->live_call_sizes);
  g_array_unref (s->outcomes);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
}

static void
emit_live (gpointer data, guint worker, const SpotCandleUpdate *u, guint n)
{
  TestSink *s = data;
  g_mutex_lock (&s->lock);
  /* Test-only: a sink that blocks, to fill the queue behind it. */
  s->in_gate = TRUE;
  g_cond_broadcast (&s->cond);
  while (s->gate_closed)
    g_cond_wait (&s->cond, &s->lock);
  s->in_gate = FALSE;
  g_array_append_vals (s->live, u, n);
  g_array_append_val (s->live_call_sizes, n);
  g_mutex_unlock (&s->lock);
}

static void
emit_complete (gpointer data, guint worker, const SpotCandleUpdate *u, guint n)
{
  TestSink *s = data;
  g_mutex_lock (&s->lock);
  g_array_append_vals (s->complete, u, n);
  g_mutex_unlock (&s->lock);
}

static void
emit_dirty (gpointer data, guint worker, const SpotDirtyRange *r, guint n)
{
  TestSink *s = data;
  g_mutex_lock (&s->lock);
  g_array_append_vals (s->dirty, r, n);
  g_mutex_unlock (&s->lock);
}

static void
on_outcome (const SpotRepairOutcome *outcome, gpointer data)
{
  TestSink *s = data;
  g_mutex_lock (&s->lock);
  g_array_append_val (s->outcomes, *outcome);
  g_mutex_unlock (&s->lock);
}

static SpotShardedAggregator *
new_aggregator (TestSink *sink, SpotCandleClock *clock, guint workers, guint queue)
{
  SpotEngineOptions o;
  spot_engine_options_init_defaults (&o);
  o.workers = workers;
  o.queue_size = queue;
  SpotCandleSink s = { emit_live, emit_complete, emit_dirty, sink };
  g_autoptr (GError) error = NULL;
  SpotShardedAggregator *a = spot_sharded_aggregator_new (&o, &s, clock, &error);
  g_assert_no_error (error);
  g_assert_nonnull (a);
  return a;
}

static SpotTradeBatch *
batch_of (const SpotTrade *trades, guint n)
{
  SpotTradeBatch *b = spot_trade_batch_new (1);
  for (guint i = 0; i < n; i++)
    spot_trade_batch_append (b, &trades[i]);
  b->message_ns = trades[0].message_ns;
  return b;
}

/* ---- routing ----------------------------------------------------------- */

static void
test_every_worker_used_for_shard_counts (void)
{
  /* About 500 products per instance: a deployment of 500 x SHARD_COUNT. */
  guint counts[] = { 1, 2, 4, 8 };

  for (guint c = 0; c < G_N_ELEMENTS (counts); c++)
    for (guint index = 0; index < counts[c]; index++)
      {
        g_autoptr (GPtrArray) ids = realistic_product_ids (500 * counts[c]);
        guint used[16] = { 0 };
        guint owned = 0;
        for (guint i = 0; i < ids->len; i++)
          {
            guint32 h = spot_product_id_hash (g_ptr_array_index (ids, i));
            if (h % counts[c] != index)
              continue;
            owned++;
            used[spot_shard_route_worker (h, counts[c], 16)]++;
          }
        g_assert_cmpuint (owned, >, 0);
        for (guint w = 0; w < 16; w++)
          if (used[w] == 0)
            g_error ("SHARD_COUNT=%u SHARD_INDEX=%u: worker %u gets none of %u products", counts[c],
                     index, w, owned);
      }
}

static void
test_balance_of_500_realistic_ids_over_16_workers (void)
{
  g_autoptr (GPtrArray) ids = realistic_product_ids (500);
  guint used[16] = { 0 }, busiest = 0;

  g_assert_cmpuint (ids->len, ==, 500);
  for (guint i = 0; i < ids->len; i++)
    used[spot_shard_route_worker (spot_product_id_hash (g_ptr_array_index (ids, i)), 1, 16)]++;
  for (guint w = 0; w < 16; w++)
    {
      g_assert_cmpuint (used[w], >, 0);
      busiest = MAX (busiest, used[w]);
    }
  /* Mean 31.25: the busiest under twice that. */
  g_assert_cmpuint (busiest * 16, <, 2 * 500);
}

static void
test_products_of_other_instances_ignored (void)
{
  TestSink sink;
  sink_init (&sink);
  g_autoptr (SpotCandleClock) clock = spot_candle_clock_new_manual (at_ms (1000));
  SpotEngineOptions o;
  spot_engine_options_init_defaults (&o);
  o.workers = 2;
  o.shard_count = 2;
  o.shard_index = spot_product_id_hash ("BTC-USD") % 2;
  SpotCandleSink s = { emit_live, emit_complete, emit_dirty, &sink };
  SpotShardedAggregator *a = spot_sharded_aggregator_new (&o, &s, clock, NULL);
  const char *other = NULL;
  g_autoptr (GPtrArray) ids = realistic_product_ids (50);
  for (guint i = 0; i < ids->len && other == NULL; i++)
    if (!spot_sharded_aggregator_owns_product (a, g_ptr_array_index (ids, i)))
      other = g_ptr_array_index (ids, i);
  g_assert_nonnull (other);
  g_assert_true (spot_sharded_aggregator_owns_product (a, "BTC-USD"));

  SpotTrade t[] = { trade_at ("BTC-USD", 1, 1000, "1", "1"), trade_at (other, 1, 1000, "1", "1") };
  g_assert_true (spot_sharded_aggregator_submit (a, batch_of (t, 2)));
  spot_sharded_aggregator_flush (a);
  SpotEngineStats st;
  spot_sharded_aggregator_get_stats (a, &st);
  g_assert_cmpuint (st.trades_accepted, ==, 1);
  g_assert_cmpuint (st.trades_unknown_product, ==, 1);
  for (guint i = 0; i < sink.live->len; i++)
    g_assert_cmpstr (g_array_index (sink.live, SpotCandleUpdate, i).candle.product_id, ==,
                     "BTC-USD");
  spot_sharded_aggregator_free (a);
  sink_clear (&sink);
}

/* ---- queues ------------------------------------------------------------ */

static void
test_full_queue_drops_counts_and_marks_dirty (void)
{
  TestSink sink;
  sink_init (&sink);
  g_autoptr (SpotCandleClock) clock = spot_candle_clock_new_manual (at_ms (1000));
  SpotShardedAggregator *a = new_aggregator (&sink, clock, 1, 2);
  spot_sharded_aggregator_add_product (a, "BTC-USD", FALSE);
  spot_sharded_aggregator_flush (a);

  /* Hold the worker inside the sink. */
  g_mutex_lock (&sink.lock);
  sink.gate_closed = TRUE;
  g_mutex_unlock (&sink.lock);
  SpotTrade t1 = trade_at ("BTC-USD", 1, 1000, "10", "1");
  g_assert_true (spot_sharded_aggregator_submit (a, batch_of (&t1, 1)));
  g_mutex_lock (&sink.lock);
  while (!sink.in_gate)
    g_cond_wait (&sink.cond, &sink.lock);
  g_mutex_unlock (&sink.lock);

  SpotTrade t2 = trade_at ("BTC-USD", 2, 2000, "11", "1");
  SpotTrade t3 = trade_at ("BTC-USD", 3, 3000, "12", "1");
  SpotTrade t4[]
      = { trade_at ("BTC-USD", 4, 61000, "13", "1"), trade_at ("BTC-USD", 5, 62000, "14", "1") };
  g_assert_true (spot_sharded_aggregator_submit (a, batch_of (&t2, 1)));
  g_assert_true (spot_sharded_aggregator_submit (a, batch_of (&t3, 1)));
  guint len, cap;
  spot_sharded_aggregator_get_queue (a, 0, &len, &cap);
  g_assert_cmpuint (len, ==, 2);
  g_assert_cmpuint (cap, ==, 2);
  /* The drop logs a (rate-limited) warning: expected here. */
  GLogLevelFlags fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);
  g_assert_false (spot_sharded_aggregator_submit (a, batch_of (t4, 2)));
  g_log_set_always_fatal (fatal);

  SpotEngineStats st;
  spot_sharded_aggregator_get_stats (a, &st);
  g_assert_cmpuint (st.batches_dropped, ==, 1);
  g_assert_cmpuint (st.trades_dropped, ==, 2);
  g_assert_cmpuint (st.queue_length, ==, 2);
  g_assert_cmpuint (st.queue_capacity, ==, 2);

  g_mutex_lock (&sink.lock);
  sink.gate_closed = FALSE;
  g_cond_broadcast (&sink.cond);
  g_mutex_unlock (&sink.lock);
  spot_sharded_aggregator_flush (a);

  spot_sharded_aggregator_get_stats (a, &st);
  g_assert_cmpuint (st.trades_accepted, ==, 3);
  g_assert_cmpuint (st.dirty_minutes, ==, 1); /* minute 1 of the dropped batch */
  /* The two queued batches were applied in one pass: one live update per
   * key for both. */
  g_assert_cmpuint (g_array_index (sink.live_call_sizes, guint, 1), ==, 8);

  /* Once minute 1 closes, the repair coordinator hears of it. */
  spot_candle_clock_set_manual (clock, at_ms (122000));
  spot_sharded_aggregator_flush (a);
  g_mutex_lock (&sink.lock);
  g_assert_cmpuint (sink.dirty->len, ==, 1);
  SpotDirtyRange *r = &g_array_index (sink.dirty, SpotDirtyRange, 0);
  g_assert_cmpstr (r->product_id, ==, "BTC-USD");
  g_assert_cmpint (r->first_minute, ==, DAY0 + 60);
  g_assert_cmpint (r->last_minute, ==, DAY0 + 60);
  g_mutex_unlock (&sink.lock);

  /* Asked again (coordinator restarted): reported again. */
  spot_sharded_aggregator_report_dirty (a);
  spot_sharded_aggregator_flush (a);
  g_mutex_lock (&sink.lock);
  g_assert_cmpuint (sink.dirty->len, ==, 2);
  g_mutex_unlock (&sink.lock);

  /* Its repair goes through the aggregator and reports back. */
  SpotCandle rest = rest_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 60, "13", "14",
                                 "13", "14", "2");
  spot_sharded_aggregator_repair (a, &rest, on_outcome, &sink);
  spot_sharded_aggregator_flush (a);
  g_assert_cmpuint (sink.outcomes->len, ==, 1);
  g_assert_cmpint (g_array_index (sink.outcomes, SpotRepairOutcome, 0).result, ==,
                   SPOT_REPAIR_APPLIED);
  spot_sharded_aggregator_get_stats (a, &st);
  g_assert_cmpuint (st.dirty_pending, ==, 0);
  g_assert_cmpuint (st.repairs_applied, ==, 1);

  spot_sharded_aggregator_free (a);
  sink_clear (&sink);
}

/* ---- ordering, classes, stop ------------------------------------------- */

static void
test_per_product_order_and_values_across_workers (void)
{
  TestSink sink;
  sink_init (&sink);
  g_autoptr (SpotCandleClock) clock = spot_candle_clock_new_manual (at_ms (0));
  SpotShardedAggregator *a = new_aggregator (&sink, clock, 4, 256);
  g_autoptr (GPtrArray) ids = realistic_product_ids (12);
  for (guint p = 0; p < ids->len; p++)
    spot_sharded_aggregator_add_product (a, g_ptr_array_index (ids, p), FALSE);

  /* 300 messages each mixing two products, ids rising per product. */
  const guint n_msgs = 300;
  for (guint m = 0; m < n_msgs; m++)
    {
      SpotTrade t[2];
      for (guint k = 0; k < 2; k++)
        {
          guint p = (m * 2 + k) % ids->len;
          g_autofree char *price = g_strdup_printf ("%u.%02u", 100 + m, k);
          t[k] = trade_at (g_ptr_array_index (ids, p), 1 + m, (gint64)m * 100, price, "0.5");
        }
      spot_candle_clock_set_manual (clock, at_ms ((gint64)m * 100));
      g_assert_true (spot_sharded_aggregator_submit (a, batch_of (t, 2)));
    }
  spot_sharded_aggregator_flush (a);

  /* The last live update of each product's 5-minute key has everything. */
  for (guint p = 0; p < ids->len; p++)
    {
      const SpotCandleUpdate *last = NULL;
      g_mutex_lock (&sink.lock);
      for (guint i = 0; i < sink.live->len; i++)
        {
          const SpotCandleUpdate *u = &g_array_index (sink.live, SpotCandleUpdate, i);
          if (strcmp (u->candle.product_id, g_ptr_array_index (ids, p)) == 0
              && u->candle.granularity == SPOT_GRANULARITY_FIVE_MINUTE)
            {
              if (last != NULL)
                g_assert_cmpuint (u->candle.rev, >, last->candle.rev);
              last = u;
            }
        }
      g_assert_nonnull (last);
      g_assert_cmpint (last->candle.trades, ==, 50);
      assert_dec (last->candle.volume, "25");
      g_mutex_unlock (&sink.lock);
    }
  spot_sharded_aggregator_free (a);
  sink_clear (&sink);
}

static void
test_stop_drains_accepted_batches (void)
{
  TestSink sink;
  sink_init (&sink);
  g_autoptr (SpotCandleClock) clock = spot_candle_clock_new_manual (at_ms (0));
  SpotShardedAggregator *a = new_aggregator (&sink, clock, 3, 1000);
  g_autoptr (GPtrArray) ids = realistic_product_ids (9);
  for (guint p = 0; p < ids->len; p++)
    spot_sharded_aggregator_add_product (a, g_ptr_array_index (ids, p), FALSE);
  guint accepted = 0;
  for (guint m = 0; m < 900; m++)
    {
      SpotTrade t = trade_at (g_ptr_array_index (ids, m % ids->len), 1 + m, m * 10, "5", "1");
      accepted += spot_sharded_aggregator_submit (a, batch_of (&t, 1));
    }
  spot_sharded_aggregator_stop (a);
  SpotTrade late = trade_at ("BTC-USD", 1, 1, "5", "1");
  g_assert_false (spot_sharded_aggregator_submit (a, batch_of (&late, 1)));
  SpotEngineStats st;
  spot_sharded_aggregator_get_stats (a, &st);
  g_assert_cmpuint (st.trades_accepted, ==, accepted);
  g_assert_cmpuint (st.batches_submitted, ==, accepted);
  g_assert_cmpuint (st.batches_dropped + st.batches_submitted, ==, 900);
  g_assert_cmpuint (st.queue_length, ==, 0);
  g_assert_cmpuint (st.workers, ==, 3);
  spot_sharded_aggregator_free (a);
  sink_clear (&sink);
}

static void
test_completion_by_ticks_reaches_complete_class (void)
{
  TestSink sink;
  sink_init (&sink);
  g_autoptr (SpotCandleClock) clock = spot_candle_clock_new_manual (at_ms (0));
  SpotShardedAggregator *a = new_aggregator (&sink, clock, 2, 16);
  spot_sharded_aggregator_add_product (a, "ETH-USD", FALSE);
  SpotTrade t = trade_at ("ETH-USD", 1, 1000, "3000", "1");
  spot_sharded_aggregator_submit (a, batch_of (&t, 1));
  spot_sharded_aggregator_flush (a);
  g_assert_cmpuint (sink.complete->len, ==, 0);

  /* No further trade: the worker's periodic tick completes the minute. */
  spot_candle_clock_set_manual (clock, at_ms (62000));
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  for (;;)
    {
      g_mutex_lock (&sink.lock);
      guint n = sink.complete->len;
      g_mutex_unlock (&sink.lock);
      if (n > 0 || g_get_monotonic_time () > deadline)
        break;
      g_usleep (10000);
    }
  g_mutex_lock (&sink.lock);
  g_assert_cmpuint (sink.complete->len, ==, 1);
  const SpotCandleUpdate *u = &g_array_index (sink.complete, SpotCandleUpdate, 0);
  g_assert_cmpint (u->kind, ==, SPOT_CANDLE_UPDATE_COMPLETE);
  g_assert_true (u->candle.complete);
  g_assert_cmpint (u->candle.granularity, ==, SPOT_GRANULARITY_ONE_MINUTE);
  g_mutex_unlock (&sink.lock);

  /* Exchange candles reach the divergence counters. */
  SpotCandle ex = rest_candle ("ETH-USD", SPOT_GRANULARITY_FIVE_MINUTE, DAY0, "3000", "3000",
                               "3000", "3000", "1");
  spot_sharded_aggregator_submit_exchange_candles (a, &ex, 1);
  spot_candle_clock_set_manual (clock, at_ms (302000));
  spot_sharded_aggregator_flush (a);
  SpotEngineStats st;
  spot_sharded_aggregator_get_stats (a, &st);
  g_assert_cmpuint (st.divergence_compared, ==, 1);
  g_assert_cmpuint (st.divergence_count, ==, 0);
  g_assert_cmpuint (st.updates_complete, ==, 2);
  spot_sharded_aggregator_free (a);
  sink_clear (&sink);
}

static void
test_seed_through_aggregator_holds_live_trades (void)
{
  TestSink sink;
  sink_init (&sink);
  g_autoptr (SpotCandleClock) clock = spot_candle_clock_new_manual (at_ms (90000));
  SpotShardedAggregator *a = new_aggregator (&sink, clock, 2, 16);
  spot_sharded_aggregator_add_product (a, "BTC-USD", TRUE);
  SpotTrade t = trade_at ("BTC-USD", 21, 90000, "7", "1");
  spot_sharded_aggregator_submit (a, batch_of (&t, 1));
  spot_sharded_aggregator_flush (a);
  g_assert_cmpuint (sink.live->len, ==, 0);

  SpotCandle stored
      = rest_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 60, "5", "6", "5", "6", "2");
  stored.trades = 2;
  stored.last_trade_id = 20;
  spot_sharded_aggregator_seed (a, "BTC-USD", &stored, 1, 20);
  spot_sharded_aggregator_seed_end (a, "BTC-USD");
  spot_sharded_aggregator_flush (a);
  g_mutex_lock (&sink.lock);
  g_assert_cmpuint (sink.live->len, >, 0);
  const SpotCandleUpdate *u = &g_array_index (sink.live, SpotCandleUpdate, 0);
  g_assert_cmpint (u->candle.granularity, ==, SPOT_GRANULARITY_ONE_MINUTE);
  g_assert_cmpint (u->candle.trades, ==, 3);
  assert_dec (u->candle.close, "7");
  g_mutex_unlock (&sink.lock);
  spot_sharded_aggregator_free (a);
  sink_clear (&sink);
}

static void
test_invalid_options_refused (void)
{
  SpotEngineOptions o;
  spot_engine_options_init_defaults (&o);
  o.shard_index = 4;
  o.shard_count = 4;
  SpotCandleSink s = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_null (spot_sharded_aggregator_new (&o, &s, NULL, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
  g_assert_nonnull (strstr (error->message, "SHARD_INDEX=4"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sharded-aggregator/every-worker-used-for-shard-counts",
                   test_every_worker_used_for_shard_counts);
  g_test_add_func ("/sharded-aggregator/balance-of-500-realistic-ids-over-16-workers",
                   test_balance_of_500_realistic_ids_over_16_workers);
  g_test_add_func ("/sharded-aggregator/products-of-other-instances-ignored",
                   test_products_of_other_instances_ignored);
  g_test_add_func ("/sharded-aggregator/full-queue-drops-counts-and-marks-dirty",
                   test_full_queue_drops_counts_and_marks_dirty);
  g_test_add_func ("/sharded-aggregator/per-product-order-and-values-across-workers",
                   test_per_product_order_and_values_across_workers);
  g_test_add_func ("/sharded-aggregator/stop-drains-accepted-batches",
                   test_stop_drains_accepted_batches);
  g_test_add_func ("/sharded-aggregator/completion-by-ticks-reaches-complete-class",
                   test_completion_by_ticks_reaches_complete_class);
  g_test_add_func ("/sharded-aggregator/seed-through-aggregator-holds-live-trades",
                   test_seed_through_aggregator_holds_live_trades);
  g_test_add_func ("/sharded-aggregator/invalid-options-refused", test_invalid_options_refused);
  return g_test_run ();
}
