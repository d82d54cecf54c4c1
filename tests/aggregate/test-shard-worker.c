/* Unit tests of one shard worker: order of batches and control items,
 * bounded queue, flush. */
#include "aggregate/spot-shard-worker.h"
#include "engine-test-util.h"

typedef struct
{
  GMutex lock;
  GString *log;
} Log;

static void
note (SpotCandleBuilder *builder, gpointer data)
{
  Log *l = *(Log **)data;
  const char *what = ((const char *)data) + sizeof (Log *);
  g_mutex_lock (&l->lock);
  g_string_append (l->log, what);
  g_mutex_unlock (&l->lock);
}

static void
push_note (SpotShardWorker *w, Log *l, const char *what)
{
  gsize n = strlen (what) + 1;
  char *data = g_malloc (sizeof (Log *) + n);
  memcpy (data, &l, sizeof (Log *));
  memcpy (data + sizeof (Log *), what, n);
  g_assert_true (spot_shard_worker_push_control (w, note, data, g_free));
}

static void
count_live (gpointer data, guint worker, const SpotCandleUpdate *u, guint n)
{
  Log *l = data;
  g_mutex_lock (&l->lock);
  for (guint i = 0; i < n; i++)
    if (u[i].candle.granularity == SPOT_GRANULARITY_ONE_MINUTE)
      g_string_append_printf (l->log, "[%" G_GINT64_FORMAT "]", u[i].candle.trades);
  g_mutex_unlock (&l->lock);
}

static void
test_control_items_and_batches_in_push_order (void)
{
  Log l = { { 0 }, g_string_new (NULL) };
  g_mutex_init (&l.lock);
  SpotEngineOptions o;
  spot_engine_options_init_defaults (&o);
  o.queue_size = 4;
  g_autoptr (SpotCandleClock) clock = spot_candle_clock_new_manual (at_ms (1000));
  SpotCandleSink sink = { count_live, NULL, NULL, &l };
  SpotShardWorker *w = spot_shard_worker_new (3, &o, &sink, clock, NULL);
  g_assert_nonnull (w);
  g_assert_cmpuint (spot_shard_worker_queue_capacity (w), ==, 4);

  push_note (w, &l, "a");
  SpotTradeBatch *b = spot_trade_batch_new (1);
  SpotTrade t = trade_at ("BTC-USD", 1, 1000, "1", "1");
  spot_trade_batch_append (b, &t);
  g_assert_true (spot_shard_worker_push_batch (w, b));
  push_note (w, &l, "b");
  spot_shard_worker_flush (w);
  g_mutex_lock (&l.lock);
  /* "a" applied before the batch, "b" after it; output after the pass. */
  g_assert_true (g_str_has_prefix (l.log->str, "ab[1]") || g_str_has_prefix (l.log->str, "a[1]b"));
  g_mutex_unlock (&l.lock);

  spot_shard_worker_stop (w);
  SpotTradeBatch *late = spot_trade_batch_new (1);
  g_assert_false (spot_shard_worker_push_batch (w, late));
  spot_trade_batch_free (late);
  spot_shard_worker_free (w);
  g_string_free (l.log, TRUE);
  g_mutex_clear (&l.lock);
}

static void
test_trade_batch_grows (void)
{
  g_autoptr (SpotTradeBatch) b = spot_trade_batch_new (2);
  for (guint i = 0; i < 100; i++)
    {
      SpotTrade t = trade_at ("ETH-USD", i + 1, i, "1", "1");
      spot_trade_batch_append (b, &t);
    }
  g_assert_cmpuint (b->n_trades, ==, 100);
  g_assert_cmpuint (b->trades[99].trade_id, ==, 100);
  g_assert_cmpstr (b->trades[0].product_id, ==, "ETH-USD");
  g_assert_cmpint (b->connection_id, ==, -1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/shard-worker/control-items-and-batches-in-push-order",
                   test_control_items_and_batches_in_push_order);
  g_test_add_func ("/shard-worker/trade-batch-grows", test_trade_batch_grows);
  return g_test_run ();
}
