/* test-candle-coalescer.c: latest-per-key hand-off queue. */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "nats-test-util.h"
#include "nats/spot-candle-coalescer.h"

#define ONE_MINUTE SPOT_GRANULARITY_ONE_MINUTE
#define LIVE SPOT_CANDLE_UPDATE_LIVE
#define COMPLETE SPOT_CANDLE_UPDATE_COMPLETE

static void
submit1 (SpotCandleCoalescer *q,
         const char *product,
         SpotGranularity g,
         gint64 start,
         guint64 rev,
         SpotCandleUpdateKind kind)
{
  SpotCandleUpdate u = nats_test_update (product, g, start, rev, kind);

  spot_candle_coalescer_submit (q, &u, 1);
}

#define AT(batch, i) (&g_array_index ((batch), SpotCandleUpdate, (i)))

static void
test_keeps_latest_live_update_per_key (void)
{
  SpotCandleCoalescer *q = spot_candle_coalescer_new (0);
  GArray *batch = spot_candle_update_array_new (0);
  SpotCandleCoalescerStats stats;

  for (guint rev = 1; rev <= 10; rev++)
    {
      submit1 (q, "BTC-USD", ONE_MINUTE, 60, rev, LIVE);
      submit1 (q, "ETH-USD", ONE_MINUTE, 60, rev, LIVE);
      submit1 (q, "BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, 0, rev, LIVE);
    }
  g_assert_true (spot_candle_coalescer_drain (q, &batch));
  g_assert_cmpuint (batch->len, ==, 3);
  /* First-seen order of keys, newest value. */
  g_assert_cmpstr (AT (batch, 0)->candle.product_id, ==, "BTC-USD");
  g_assert_cmpint (AT (batch, 0)->candle.granularity, ==, ONE_MINUTE);
  g_assert_cmpstr (AT (batch, 1)->candle.product_id, ==, "ETH-USD");
  g_assert_cmpint (AT (batch, 2)->candle.granularity, ==, SPOT_GRANULARITY_FIVE_MINUTE);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (AT (batch, i)->candle.rev, ==, 10);
  spot_candle_coalescer_get_stats (q, &stats);
  g_assert_cmpuint (stats.submitted, ==, 30);
  g_assert_cmpuint (stats.coalesced, ==, 27);
  g_assert_cmpuint (stats.pending, ==, 0);
  g_assert_false (spot_candle_coalescer_drain (q, &batch));
  g_assert_cmpuint (batch->len, ==, 0);
  g_array_unref (batch);
  spot_candle_coalescer_free (q);
}

static void
test_keeps_complete_candles_in_order_never_coalesced (void)
{
  SpotCandleCoalescer *q = spot_candle_coalescer_new (0);
  GArray *batch = spot_candle_update_array_new (0);

  submit1 (q, "BTC-USD", ONE_MINUTE, 0, 1, LIVE);
  submit1 (q, "BTC-USD", ONE_MINUTE, 0, 2, COMPLETE);
  submit1 (q, "BTC-USD", ONE_MINUTE, 0, 3, SPOT_CANDLE_UPDATE_CORRECTION);
  submit1 (q, "BTC-USD", ONE_MINUTE, 0, 4, SPOT_CANDLE_UPDATE_CORRECTION);
  submit1 (q, "BTC-USD", ONE_MINUTE, 60, 1, LIVE);
  submit1 (q, "BTC-USD", ONE_MINUTE, 60, 2, LIVE);
  g_assert_true (spot_candle_coalescer_drain (q, &batch));
  g_assert_cmpuint (batch->len, ==, 5);
  g_assert_cmpuint (AT (batch, 0)->candle.rev, ==, 1);
  g_assert_cmpint (AT (batch, 1)->kind, ==, COMPLETE);
  g_assert_cmpuint (AT (batch, 2)->candle.rev, ==, 3);
  g_assert_cmpuint (AT (batch, 3)->candle.rev, ==, 4);
  /* The live update after the completion comes after it, coalesced. */
  g_assert_cmpint (AT (batch, 4)->candle.start, ==, 60);
  g_assert_cmpuint (AT (batch, 4)->candle.rev, ==, 2);
  g_array_unref (batch);
  spot_candle_coalescer_free (q);
}

static void
test_live_update_after_drain_is_not_merged_into_handed_out_batch (void)
{
  SpotCandleCoalescer *q = spot_candle_coalescer_new (0);
  GArray *batch = spot_candle_update_array_new (0);

  submit1 (q, "BTC-USD", ONE_MINUTE, 0, 1, LIVE);
  g_assert_true (spot_candle_coalescer_drain (q, &batch));
  submit1 (q, "BTC-USD", ONE_MINUTE, 0, 2, LIVE);
  g_assert_cmpuint (batch->len, ==, 1);
  g_assert_cmpuint (AT (batch, 0)->candle.rev, ==, 1);
  g_assert_true (spot_candle_coalescer_drain (q, &batch));
  g_assert_cmpuint (batch->len, ==, 1);
  g_assert_cmpuint (AT (batch, 0)->candle.rev, ==, 2);
  g_array_unref (batch);
  spot_candle_coalescer_free (q);
}

static void
test_full_queue_drops_new_entries_but_still_coalesces (void)
{
  SpotCandleCoalescer *q = spot_candle_coalescer_new (2);
  GArray *batch = spot_candle_update_array_new (0);
  SpotCandleCoalescerStats stats;

  submit1 (q, "AAA-USD", ONE_MINUTE, 0, 1, LIVE);
  submit1 (q, "BBB-USD", ONE_MINUTE, 0, 1, LIVE);
  submit1 (q, "CCC-USD", ONE_MINUTE, 0, 1, LIVE);     /* dropped */
  submit1 (q, "AAA-USD", ONE_MINUTE, 0, 1, COMPLETE); /* dropped, counted apart */
  submit1 (q, "AAA-USD", ONE_MINUTE, 0, 7, LIVE);     /* replaces */
  spot_candle_coalescer_get_stats (q, &stats);
  g_assert_cmpuint (stats.dropped, ==, 1);
  g_assert_cmpuint (stats.dropped_ordered, ==, 1);
  g_assert_cmpuint (stats.coalesced, ==, 1);
  g_assert_true (spot_candle_coalescer_drain (q, &batch));
  g_assert_cmpuint (batch->len, ==, 2);
  g_assert_cmpuint (AT (batch, 0)->candle.rev, ==, 7);
  g_array_unref (batch);
  spot_candle_coalescer_free (q);
}

static void
count_notify (gpointer data)
{
  g_atomic_int_inc ((gint *)data);
}

static void
test_notifies_once_per_empty_to_pending_transition (void)
{
  SpotCandleCoalescer *q = spot_candle_coalescer_new (0);
  GArray *batch = spot_candle_update_array_new (0);
  gint notified = 0;

  spot_candle_coalescer_set_notify (q, count_notify, &notified);
  for (guint i = 0; i < 100; i++)
    submit1 (q, "BTC-USD", ONE_MINUTE, 0, i, LIVE);
  g_assert_cmpint (notified, ==, 1);
  spot_candle_coalescer_drain (q, &batch);
  submit1 (q, "BTC-USD", ONE_MINUTE, 0, 200, LIVE);
  g_assert_cmpint (notified, ==, 2);
  g_array_unref (batch);
  spot_candle_coalescer_free (q);
}

static gpointer
close_later (gpointer data)
{
  g_usleep (20000);
  spot_candle_coalescer_close (data);
  return NULL;
}

static void
test_wait_returns_on_close_and_timeout (void)
{
  SpotCandleCoalescer *q = spot_candle_coalescer_new (0);
  GThread *t;
  gint64 t0 = g_get_monotonic_time ();

  g_assert_false (spot_candle_coalescer_wait (q, 10000));
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 9000);
  t = g_thread_new ("closer", close_later, q);
  g_assert_false (spot_candle_coalescer_wait (q, -1));
  g_assert_true (spot_candle_coalescer_is_closed (q));
  g_thread_join (t);
  spot_candle_coalescer_free (q);
}

#define META(meta, i) (&g_array_index ((meta), SpotCandleCoalescerMeta, (i)))

/* Every key gets one dense id for the coalescer's life; a replaced live
 * update keeps the submit time of the first one it replaced (how long the
 * key's newest state has waited); invalid keys get no id. */
static void
test_drain_meta_gives_stable_key_ids_and_oldest_submit_time (void)
{
  SpotCandleCoalescer *q = spot_candle_coalescer_new (0);
  GArray *batch = spot_candle_update_array_new (0);
  GArray *meta = spot_candle_coalescer_meta_array_new (0);
  gint64 t0 = g_get_monotonic_time ();
  gint64 first_btc;
  SpotCandleUpdate bad;

  submit1 (q, "BTC-USD", ONE_MINUTE, 60, 1, LIVE);
  submit1 (q, "ETH-USD", ONE_MINUTE, 60, 1, LIVE);
  g_usleep (20000);
  submit1 (q, "BTC-USD", ONE_MINUTE, 60, 2, LIVE);
  submit1 (q, "BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, 0, 1, COMPLETE);
  bad = nats_test_update ("BTC-USD", ONE_MINUTE, 60, 3, LIVE);
  bad.candle.granularity = SPOT_GRANULARITY_COUNT;
  spot_candle_coalescer_submit (q, &bad, 1);
  g_assert_true (spot_candle_coalescer_drain_meta (q, &batch, &meta));
  g_assert_cmpuint (batch->len, ==, 4);
  g_assert_cmpuint (meta->len, ==, 4);
  g_assert_cmpuint (AT (batch, 0)->candle.rev, ==, 2);
  g_assert_cmpuint (META (meta, 0)->key, ==, 0);
  g_assert_cmpuint (META (meta, 1)->key, ==, 1);
  g_assert_cmpuint (META (meta, 2)->key, ==, 2);
  g_assert_cmpuint (META (meta, 3)->key, ==, SPOT_CANDLE_COALESCER_NO_KEY);
  first_btc = META (meta, 0)->submit_us;
  g_assert_cmpint (first_btc, >=, t0);
  g_assert_cmpint (first_btc, <=, META (meta, 1)->submit_us);
  g_assert_cmpint (META (meta, 2)->submit_us - first_btc, >=, 19000);

  /* Ids survive drains, also through the plain drain, and growth. */
  for (guint i = 0; i < 3000; i++)
    {
      char product[16];

      g_snprintf (product, sizeof product, "P%u-USD", i);
      submit1 (q, product, ONE_MINUTE, 60, 1, LIVE);
    }
  g_assert_true (spot_candle_coalescer_drain (q, &batch));
  g_assert_cmpuint (batch->len, ==, 3000);
  submit1 (q, "P2999-USD", ONE_MINUTE, 60, 2, LIVE);
  submit1 (q, "ETH-USD", ONE_MINUTE, 60, 2, LIVE);
  g_assert_true (spot_candle_coalescer_drain_meta (q, &batch, &meta));
  g_assert_cmpuint (meta->len, ==, 2);
  g_assert_cmpuint (META (meta, 0)->key, ==, 3 + 2999);
  g_assert_cmpuint (META (meta, 1)->key, ==, 1);
  g_assert_cmpint (META (meta, 1)->submit_us, >, first_btc);
  g_array_unref (meta);
  g_array_unref (batch);
  spot_candle_coalescer_free (q);
}

#define PRODUCERS 4
#define PER_PRODUCER 20000
#define KEYS_PER_PRODUCER 16

typedef struct
{
  SpotCandleCoalescer *q;
  guint index;
} Producer;

static gpointer
produce (gpointer data)
{
  Producer *p = data;

  for (guint i = 0; i < PER_PRODUCER; i++)
    {
      char product[16];
      SpotCandleUpdate u;
      guint key = i % KEYS_PER_PRODUCER;

      g_snprintf (product, sizeof product, "P%u-K%u", p->index, key);
      /* rev = sequence per key; every 50th update of a key is a completion. */
      u = nats_test_update (product, ONE_MINUTE, 60, i / KEYS_PER_PRODUCER + 1,
                            (i / KEYS_PER_PRODUCER) % 50 == 49 ? COMPLETE : LIVE);
      spot_candle_coalescer_submit (p->q, &u, 1);
    }
  return NULL;
}

static void
test_concurrent_producers_keep_per_key_order_and_final_value (void)
{
  SpotCandleCoalescer *q = spot_candle_coalescer_new (0);
  GArray *batch = spot_candle_update_array_new (0);
  Producer producers[PRODUCERS];
  GThread *threads[PRODUCERS];
  g_autoptr (GHashTable) last_rev = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint completes = 0;
  gboolean running = TRUE;

  for (guint i = 0; i < PRODUCERS; i++)
    {
      producers[i].q = q;
      producers[i].index = i;
      threads[i] = g_thread_new ("producer", produce, &producers[i]);
    }
  while (running)
    {
      SpotCandleCoalescerStats stats;

      spot_candle_coalescer_get_stats (q, &stats);
      running = stats.submitted < PRODUCERS * PER_PRODUCER;
      spot_candle_coalescer_wait (q, 1000);
      while (spot_candle_coalescer_drain (q, &batch))
        for (guint i = 0; i < batch->len; i++)
          {
            SpotCandleUpdate *u = AT (batch, i);
            guint prev = GPOINTER_TO_UINT (g_hash_table_lookup (last_rev, u->candle.product_id));

            /* Per key, revisions only go forward. */
            g_assert_cmpuint (u->candle.rev, >, prev);
            g_hash_table_insert (last_rev, g_strdup (u->candle.product_id),
                                 GUINT_TO_POINTER ((guint)u->candle.rev));
            if (u->kind == COMPLETE)
              completes++;
          }
    }
  for (guint i = 0; i < PRODUCERS; i++)
    g_thread_join (threads[i]);
  while (spot_candle_coalescer_drain (q, &batch))
    for (guint i = 0; i < batch->len; i++)
      {
        SpotCandleUpdate *u = AT (batch, i);

        g_hash_table_insert (last_rev, g_strdup (u->candle.product_id),
                             GUINT_TO_POINTER ((guint)u->candle.rev));
        if (u->kind == COMPLETE)
          completes++;
      }
  g_assert_cmpuint (g_hash_table_size (last_rev), ==, PRODUCERS * KEYS_PER_PRODUCER);
  {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, last_rev);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      g_assert_cmpuint (GPOINTER_TO_UINT (value), ==, PER_PRODUCER / KEYS_PER_PRODUCER);
  }
  /* Every completion arrived: 1250 updates per key, one in 50 complete. */
  g_assert_cmpuint (completes, ==,
                    PRODUCERS * KEYS_PER_PRODUCER * (PER_PRODUCER / KEYS_PER_PRODUCER / 50));
  g_array_unref (batch);
  spot_candle_coalescer_free (q);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nats/coalescer/latest-live-per-key", test_keeps_latest_live_update_per_key);
  g_test_add_func ("/nats/coalescer/complete-in-order",
                   test_keeps_complete_candles_in_order_never_coalesced);
  g_test_add_func ("/nats/coalescer/no-merge-after-drain",
                   test_live_update_after_drain_is_not_merged_into_handed_out_batch);
  g_test_add_func ("/nats/coalescer/bounded",
                   test_full_queue_drops_new_entries_but_still_coalesces);
  g_test_add_func ("/nats/coalescer/notify-per-batch",
                   test_notifies_once_per_empty_to_pending_transition);
  g_test_add_func ("/nats/coalescer/wait-close-timeout", test_wait_returns_on_close_and_timeout);
  g_test_add_func ("/nats/coalescer/meta-key-ids-submit-times",
                   test_drain_meta_gives_stable_key_ids_and_oldest_submit_time);
  g_test_add_func ("/nats/coalescer/concurrent-producers",
                   test_concurrent_producers_keep_per_key_order_and_final_value);
  return g_test_run ();
}
