#define G_LOG_DOMAIN "spot-aggregate"

#include "aggregate/spot-shard-worker.h"

#include <string.h>

#include "core/spot-error.h"
#include "core/spot-log.h"

typedef struct
{
  SpotTradeBatch *batch;
  guint64 seq;
} QueuedBatch;

typedef struct
{
  SpotShardControlFunc func;
  gpointer data;
  GDestroyNotify destroy;
  guint64 seq;
} ControlItem;

struct _SpotShardWorker
{
  guint index;
  GThread *thread;
  SpotCandleBuilder *builder; /* worker thread only */
  SpotCandleSink sink;
  gint64 tick_interval_us;

  GMutex lock;
  GCond wake; /* producers -> worker */
  GCond done; /* worker -> flush waiters */
  QueuedBatch *ring;
  guint capacity;
  guint head;
  guint length;
  GQueue control;   /* ControlItem* */
  guint64 next_seq; /* seq of the next pushed item */
  guint64 done_seq; /* every item with seq < done_seq is applied and emitted */
  gboolean stopping;
  gboolean stopped;
  gboolean waiting; /* the worker sleeps on wake: only then is a signal needed */
  guint flush_waiters;

  GMutex stats_lock;
  SpotEngineStats stats; /* the builder's, after the last cycle */
};

static void
emit_output (SpotShardWorker *w)
{
  SpotCandleOutput *out = spot_candle_builder_get_output (w->builder);

  /* Live first: within one cycle a bucket's live revisions all precede its
   * completion, so each bucket's revisions reach the sink in order. */
  if (out->live->len > 0 && w->sink.emit_live != NULL)
    w->sink.emit_live (w->sink.user_data, w->index, (const SpotCandleUpdate *)out->live->data,
                       out->live->len);
  if (out->complete->len > 0 && w->sink.emit_complete != NULL)
    w->sink.emit_complete (w->sink.user_data, w->index,
                           (const SpotCandleUpdate *)out->complete->data, out->complete->len);
  if (out->dirty->len > 0 && w->sink.emit_dirty != NULL)
    w->sink.emit_dirty (w->sink.user_data, w->index, (const SpotDirtyRange *)out->dirty->data,
                        out->dirty->len);
  spot_candle_builder_clear_output (w->builder);
}

static gpointer
worker_main (gpointer data)
{
  SpotShardWorker *w = data;
  g_autofree QueuedBatch *batches = g_new (QueuedBatch, w->capacity);
  gint64 next_tick = g_get_monotonic_time () + w->tick_interval_us;

  for (;;)
    {
      GQueue control = G_QUEUE_INIT;
      guint n = 0;
      guint64 upto;
      gboolean stopping;

      g_mutex_lock (&w->lock);
      while (w->length == 0 && w->control.length == 0 && !w->stopping)
        {
          gboolean woken;
          w->waiting = TRUE;
          woken = g_cond_wait_until (&w->wake, &w->lock, next_tick);
          w->waiting = FALSE;
          if (!woken)
            break;
        }
      /* One wake-up takes everything queued. */
      while (w->length > 0)
        {
          batches[n++] = w->ring[w->head];
          w->head = (w->head + 1) % w->capacity;
          __atomic_store_n (&w->length, w->length - 1, __ATOMIC_RELAXED);
        }
      control = w->control;
      g_queue_init (&w->control);
      upto = w->next_seq;
      stopping = w->stopping;
      g_mutex_unlock (&w->lock);

      /* Apply batches and control items in the order they were pushed. */
      guint bi = 0;
      ControlItem *c = g_queue_pop_head (&control);
      while (bi < n || c != NULL)
        {
          if (c == NULL || (bi < n && batches[bi].seq < c->seq))
            {
              SpotTradeBatch *batch = batches[bi++].batch;
              spot_candle_builder_add_trades (w->builder, batch->trades, batch->n_trades,
                                              batch->message_ns);
              spot_trade_batch_free (batch);
            }
          else
            {
              c->func (w->builder, c->data);
              if (c->destroy != NULL)
                c->destroy (c->data);
              g_free (c);
              c = g_queue_pop_head (&control);
            }
        }

      gint64 mono = g_get_monotonic_time ();
      if (mono >= next_tick)
        {
          spot_candle_builder_tick (w->builder);
          next_tick = mono + w->tick_interval_us;
        }
      emit_output (w);

      g_mutex_lock (&w->stats_lock);
      spot_candle_builder_get_stats (w->builder, &w->stats);
      g_mutex_unlock (&w->stats_lock);

      g_mutex_lock (&w->lock);
      w->done_seq = upto;
      if (w->flush_waiters > 0)
        g_cond_broadcast (&w->done);
      gboolean finished = stopping && w->length == 0 && w->control.length == 0;
      gboolean idle = w->length == 0 && w->control.length == 0;
      g_mutex_unlock (&w->lock);
      if (finished)
        break;
      /* Under load, give producers the CPU once before sleeping: batches
       * pushed meanwhile need no wake-up and the next pass drains them all
       * (on two cores a futex wake-up per batch costs more than the batch). */
      if (idle && n > 0)
        g_thread_yield ();
    }
  return NULL;
}

SpotShardWorker *
spot_shard_worker_new (guint index,
                       const SpotEngineOptions *options,
                       const SpotCandleSink *sink,
                       SpotCandleClock *clock,
                       GError **error)
{
  g_return_val_if_fail (options != NULL && sink != NULL && clock != NULL, NULL);

  SpotShardWorker *w = g_new0 (SpotShardWorker, 1);
  w->index = index;
  w->builder = spot_candle_builder_new (options, clock);
  w->sink = *sink;
  w->tick_interval_us = options->tick_interval_ms * 1000;
  w->capacity = options->queue_size;
  w->ring = g_new0 (QueuedBatch, w->capacity);
  g_mutex_init (&w->lock);
  g_cond_init (&w->wake);
  g_cond_init (&w->done);
  g_mutex_init (&w->stats_lock);
  g_queue_init (&w->control);

  g_autofree char *name = g_strdup_printf ("spot-shard-%u", index);
  w->thread = g_thread_try_new (name, worker_main, w, error);
  if (w->thread == NULL)
    {
      w->stopped = TRUE;
      spot_shard_worker_free (w);
      return NULL;
    }
  return w;
}

void
spot_shard_worker_stop (SpotShardWorker *w)
{
  g_return_if_fail (w != NULL);

  if (w->stopped)
    return;
  g_mutex_lock (&w->lock);
  w->stopping = TRUE;
  g_cond_signal (&w->wake);
  g_mutex_unlock (&w->lock);
  g_thread_join (w->thread);
  w->thread = NULL;
  w->stopped = TRUE;
}

void
spot_shard_worker_free (SpotShardWorker *w)
{
  if (w == NULL)
    return;
  spot_shard_worker_stop (w);
  /* Nothing is left after a drain; free defensively. */
  while (w->length > 0)
    {
      spot_trade_batch_free (w->ring[w->head].batch);
      w->head = (w->head + 1) % w->capacity;
      w->length--;
    }
  ControlItem *c;
  while ((c = g_queue_pop_head (&w->control)) != NULL)
    {
      if (c->destroy != NULL)
        c->destroy (c->data);
      g_free (c);
    }
  spot_candle_builder_free (w->builder);
  g_free (w->ring);
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->wake);
  g_cond_clear (&w->done);
  g_mutex_clear (&w->stats_lock);
  g_free (w);
}

gboolean
spot_shard_worker_push_batch (SpotShardWorker *w, SpotTradeBatch *batch)
{
  gboolean wake;

  g_mutex_lock (&w->lock);
  if (w->stopping || w->length == w->capacity)
    {
      g_mutex_unlock (&w->lock);
      return FALSE;
    }
  w->ring[(w->head + w->length) % w->capacity] = (QueuedBatch){ batch, w->next_seq++ };
  /* GCond signals cost a system call even without a waiter: only signal a
   * sleeping worker; a busy one finds the batch when it looks again. */
  wake = w->waiting;
  w->waiting = FALSE;
  __atomic_store_n (&w->length, w->length + 1, __ATOMIC_RELAXED);
  if (wake)
    g_cond_signal (&w->wake);
  g_mutex_unlock (&w->lock);
  return TRUE;
}

gboolean
spot_shard_worker_push_control (SpotShardWorker *w,
                                SpotShardControlFunc func,
                                gpointer data,
                                GDestroyNotify destroy)
{
  g_mutex_lock (&w->lock);
  if (w->stopping)
    {
      g_mutex_unlock (&w->lock);
      if (destroy != NULL)
        destroy (data);
      return FALSE;
    }
  ControlItem *c = g_new (ControlItem, 1);
  *c = (ControlItem){ func, data, destroy, w->next_seq++ };
  if (w->waiting || w->stopping)
    {
      w->waiting = FALSE;
      g_cond_signal (&w->wake);
    }
  g_queue_push_tail (&w->control, c);
  g_mutex_unlock (&w->lock);
  return TRUE;
}

guint
spot_shard_worker_queue_length (SpotShardWorker *w)
{
  /* A sample for monitoring and backpressure; no lock needed. */
  return __atomic_load_n (&w->length, __ATOMIC_RELAXED);
}

guint
spot_shard_worker_queue_capacity (SpotShardWorker *w)
{
  return w->capacity;
}

void
spot_shard_worker_add_stats (SpotShardWorker *w, SpotEngineStats *sum)
{
  SpotEngineStats s;

  g_mutex_lock (&w->stats_lock);
  s = w->stats;
  g_mutex_unlock (&w->stats_lock);

  sum->trades_accepted += s.trades_accepted;
  sum->trades_duplicate += s.trades_duplicate;
  sum->trades_late_dropped += s.trades_late_dropped;
  sum->trades_rest_dropped += s.trades_rest_dropped;
  sum->trades_corrected += s.trades_corrected;
  sum->trades_held += s.trades_held;
  sum->trades_hold_overflow += s.trades_hold_overflow;
  sum->trades_unknown_product += s.trades_unknown_product;
  sum->dirty_minutes += s.dirty_minutes;
  sum->dirty_pending += s.dirty_pending;
  sum->repairs_applied += s.repairs_applied;
  sum->repairs_database += s.repairs_database;
  sum->repairs_rejected_open += s.repairs_rejected_open;
  sum->repairs_abandoned += s.repairs_abandoned;
  sum->completions_waited += s.completions_waited;
  sum->completions_timed_out += s.completions_timed_out;
  sum->divergence_compared += s.divergence_compared;
  sum->divergence_count += s.divergence_count;
  sum->divergence_skipped += s.divergence_skipped;
  sum->updates_live += s.updates_live;
  sum->updates_complete += s.updates_complete;
  sum->updates_correction += s.updates_correction;
  sum->updates_repair += s.updates_repair;
  sum->updates_seed += s.updates_seed;
  sum->products += s.products;
  sum->state_bytes += s.state_bytes;
}

static void
tick_control (SpotCandleBuilder *builder, gpointer data)
{
  spot_candle_builder_tick (builder);
}

void
spot_shard_worker_flush (SpotShardWorker *w)
{
  /* A tick item makes the flush also complete what is due by the clock. */
  if (!spot_shard_worker_push_control (w, tick_control, NULL, NULL))
    return;
  g_mutex_lock (&w->lock);
  guint64 target = w->next_seq;
  w->flush_waiters++;
  while (w->done_seq < target && !w->stopped)
    g_cond_wait (&w->done, &w->lock);
  w->flush_waiters--;
  g_mutex_unlock (&w->lock);
}
