#define G_LOG_DOMAIN "spot-aggregate"

#include "aggregate/spot-sharded-aggregator.h"

#include <string.h>

#include "core/spot-error.h"
#include "core/spot-log.h"
#include "model/spot-product.h"
#include "aggregate/spot-shard-worker.h"

#define NS G_GINT64_CONSTANT (1000000000)

struct _SpotShardedAggregator
{
  SpotEngineOptions options;
  SpotCandleClock *clock;
  SpotShardWorker **workers;
  guint n_workers;
  gint stopped; /* atomic */

  guint64 batches_submitted; /* atomics */
  guint64 batches_dropped;
  guint64 trades_dropped;
  guint64 trades_not_owned;
};

guint
spot_shard_route_worker (guint32 hash, guint shard_count, guint workers)
{
  return (guint)((hash / MAX (shard_count, 1)) % MAX (workers, 1));
}

SpotShardedAggregator *
spot_sharded_aggregator_new (const SpotEngineOptions *options,
                             const SpotCandleSink *sink,
                             SpotCandleClock *clock,
                             GError **error)
{
  SpotEngineOptions defaults;

  if (options == NULL)
    {
      spot_engine_options_init_defaults (&defaults);
      options = &defaults;
    }
  g_return_val_if_fail (sink != NULL, NULL);
  if (!spot_engine_options_validate (options, error))
    return NULL;

  SpotShardedAggregator *a = g_new0 (SpotShardedAggregator, 1);
  a->options = *options;
  a->clock = clock != NULL ? spot_candle_clock_ref (clock) : spot_candle_clock_new ();
  a->n_workers = options->workers;
  a->workers = g_new0 (SpotShardWorker *, a->n_workers);
  for (guint i = 0; i < a->n_workers; i++)
    {
      a->workers[i] = spot_shard_worker_new (i, options, sink, a->clock, error);
      if (a->workers[i] == NULL)
        {
          g_prefix_error (error, "starting engine worker %u: ", i);
          spot_sharded_aggregator_free (a);
          return NULL;
        }
    }
  g_info ("candle engine started: %u workers, queues of %u batches, shard %u of %u", a->n_workers,
          options->queue_size, options->shard_index, options->shard_count);
  return a;
}

void
spot_sharded_aggregator_stop (SpotShardedAggregator *a)
{
  g_return_if_fail (a != NULL);

  if (g_atomic_int_exchange (&a->stopped, TRUE))
    return;
  for (guint i = 0; i < a->n_workers; i++)
    if (a->workers[i] != NULL)
      spot_shard_worker_stop (a->workers[i]);
}

void
spot_sharded_aggregator_free (SpotShardedAggregator *a)
{
  if (a == NULL)
    return;
  spot_sharded_aggregator_stop (a);
  for (guint i = 0; i < a->n_workers; i++)
    spot_shard_worker_free (a->workers[i]);
  g_free (a->workers);
  spot_candle_clock_unref (a->clock);
  g_free (a);
}

SpotCandleClock *
spot_sharded_aggregator_get_clock (SpotShardedAggregator *a)
{
  return a->clock;
}

gboolean
spot_sharded_aggregator_owns_product (SpotShardedAggregator *a, const char *product_id)
{
  return spot_product_id_hash (product_id) % a->options.shard_count == a->options.shard_index;
}

guint
spot_sharded_aggregator_worker_for_product (SpotShardedAggregator *a, const char *product_id)
{
  return spot_shard_route_worker (spot_product_id_hash (product_id), a->options.shard_count,
                                  a->n_workers);
}

/* ---- control items ----------------------------------------------------- */

typedef struct
{
  char product_id[SPOT_PRODUCT_ID_SIZE];
  gint64 from;
  gint64 to;
  SpotDirtyReason reason;
  gboolean flag;
  guint64 hwm;
  SpotCandle candle;
  SpotCandle *candles;
  guint n;
  SpotRepairFunc func;
  gpointer user_data;
} Control;

static void
control_free (gpointer data)
{
  Control *c = data;
  g_free (c->candles);
  g_free (c);
}

static Control *
control_new (const char *product_id)
{
  Control *c = g_new0 (Control, 1);
  if (product_id != NULL)
    g_strlcpy (c->product_id, product_id, sizeof c->product_id);
  return c;
}

static gboolean
push (SpotShardedAggregator *a, const char *product_id, SpotShardControlFunc func, Control *c)
{
  if (g_atomic_int_get (&a->stopped) || !spot_sharded_aggregator_owns_product (a, product_id))
    {
      control_free (c);
      return FALSE;
    }
  guint w = spot_sharded_aggregator_worker_for_product (a, product_id);
  return spot_shard_worker_push_control (a->workers[w], func, c, control_free);
}

static void
do_mark_dirty (SpotCandleBuilder *b, gpointer data)
{
  Control *c = data;
  spot_candle_builder_mark_dirty (b, c->product_id, c->from, c->to, c->reason);
}

void
spot_sharded_aggregator_mark_dirty (SpotShardedAggregator *a,
                                    const char *product_id,
                                    gint64 from_minute,
                                    gint64 to_minute,
                                    SpotDirtyReason reason)
{
  Control *c = control_new (product_id);
  c->from = from_minute;
  c->to = to_minute;
  c->reason = reason;
  push (a, product_id, do_mark_dirty, c);
}

static void
do_exchange_candles (SpotCandleBuilder *b, gpointer data)
{
  Control *c = data;
  for (guint i = 0; i < c->n; i++)
    spot_candle_builder_add_exchange_candle (b, &c->candles[i]);
}

void
spot_sharded_aggregator_submit_exchange_candles (SpotShardedAggregator *a,
                                                 const SpotCandle *candles,
                                                 guint n)
{
  /* Usually one product per message: one item per run of a product. */
  for (guint i = 0; i < n;)
    {
      guint j = i + 1;
      while (j < n && strcmp (candles[j].product_id, candles[i].product_id) == 0)
        j++;
      Control *c = control_new (candles[i].product_id);
      c->candles = g_memdup2 (candles + i, (j - i) * sizeof (SpotCandle));
      c->n = j - i;
      push (a, candles[i].product_id, do_exchange_candles, c);
      i = j;
    }
}

static void
do_repair (SpotCandleBuilder *b, gpointer data)
{
  Control *c = data;
  SpotRepairOutcome outcome = { 0 };

  outcome.candle = c->candle;
  outcome.result = spot_candle_builder_repair (b, &c->candle, &outcome.memory_level);
  if (c->func != NULL)
    c->func (&outcome, c->user_data);
}

static void
do_replace (SpotCandleBuilder *b, gpointer data)
{
  Control *c = data;
  SpotRepairOutcome outcome = { 0 };

  outcome.candle = c->candle;
  outcome.memory_level = SPOT_GRANULARITY_INVALID;
  outcome.result = spot_candle_builder_replace (b, &c->candle);
  if (c->func != NULL)
    c->func (&outcome, c->user_data);
}

void
spot_sharded_aggregator_repair (SpotShardedAggregator *a,
                                const SpotCandle *rest_minute,
                                SpotRepairFunc func,
                                gpointer user_data)
{
  Control *c = control_new (rest_minute->product_id);
  c->candle = *rest_minute;
  c->func = func;
  c->user_data = user_data;
  if (!push (a, rest_minute->product_id, do_repair, c) && func != NULL)
    {
      SpotRepairOutcome outcome = { SPOT_REPAIR_INVALID, *rest_minute, SPOT_GRANULARITY_INVALID };
      func (&outcome, user_data);
    }
}

void
spot_sharded_aggregator_replace (SpotShardedAggregator *a,
                                 const SpotCandle *child,
                                 SpotRepairFunc func,
                                 gpointer user_data)
{
  Control *c = control_new (child->product_id);
  c->candle = *child;
  c->func = func;
  c->user_data = user_data;
  if (!push (a, child->product_id, do_replace, c) && func != NULL)
    {
      SpotRepairOutcome outcome = { SPOT_REPAIR_INVALID, *child, SPOT_GRANULARITY_INVALID };
      func (&outcome, user_data);
    }
}

static void
do_clear_dirty (SpotCandleBuilder *b, gpointer data)
{
  Control *c = data;
  spot_candle_builder_clear_dirty (b, c->product_id, c->from);
}

void
spot_sharded_aggregator_clear_dirty (SpotShardedAggregator *a,
                                     const char *product_id,
                                     gint64 minute)
{
  Control *c = control_new (product_id);
  c->from = minute;
  push (a, product_id, do_clear_dirty, c);
}

static void
do_report_dirty (SpotCandleBuilder *b, gpointer data)
{
  spot_candle_builder_report_closed_dirty (b);
}

void
spot_sharded_aggregator_report_dirty (SpotShardedAggregator *a)
{
  g_return_if_fail (a != NULL);
  for (guint i = 0; i < a->n_workers; i++)
    spot_shard_worker_push_control (a->workers[i], do_report_dirty, NULL, NULL);
}

static void
do_add_product (SpotCandleBuilder *b, gpointer data)
{
  Control *c = data;
  spot_candle_builder_add_product (b, c->product_id, c->flag);
}

void
spot_sharded_aggregator_add_product (SpotShardedAggregator *a,
                                     const char *product_id,
                                     gboolean seeding)
{
  Control *c = control_new (product_id);
  c->flag = seeding;
  push (a, product_id, do_add_product, c);
}

static void
do_seed (SpotCandleBuilder *b, gpointer data)
{
  Control *c = data;
  spot_candle_builder_seed (b, c->product_id, c->candles, c->n, c->hwm);
}

void
spot_sharded_aggregator_seed (SpotShardedAggregator *a,
                              const char *product_id,
                              const SpotCandle *candles,
                              guint n,
                              guint64 high_water_mark)
{
  Control *c = control_new (product_id);
  c->candles = n > 0 ? g_memdup2 (candles, n * sizeof (SpotCandle)) : NULL;
  c->n = n;
  c->hwm = high_water_mark;
  push (a, product_id, do_seed, c);
}

static void
do_seed_end (SpotCandleBuilder *b, gpointer data)
{
  Control *c = data;
  spot_candle_builder_seed_end (b, c->product_id);
}

void
spot_sharded_aggregator_seed_end (SpotShardedAggregator *a, const char *product_id)
{
  push (a, product_id, do_seed_end, control_new (product_id));
}

static void
do_remove_product (SpotCandleBuilder *b, gpointer data)
{
  Control *c = data;
  spot_candle_builder_remove_product (b, c->product_id);
}

void
spot_sharded_aggregator_remove_product (SpotShardedAggregator *a, const char *product_id)
{
  push (a, product_id, do_remove_product, control_new (product_id));
}

/* ---- batches ----------------------------------------------------------- */

/* A dropped batch: its products' minutes become dirty. */
static void
drop_batch (SpotShardedAggregator *a, SpotTradeBatch *batch)
{
  __atomic_add_fetch (&a->batches_dropped, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch (&a->trades_dropped, batch->n_trades, __ATOMIC_RELAXED);
  spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, NULL, batch->connection_id, -1,
                    "engine queue full: batch of %u trades dropped, minutes marked dirty",
                    batch->n_trades);

  for (guint i = 0; i < batch->n_trades; i++)
    {
      const SpotTrade *t = &batch->trades[i];
      gboolean seen = FALSE;
      for (guint k = 0; k < i && !seen; k++)
        seen = strcmp (batch->trades[k].product_id, t->product_id) == 0;
      if (seen)
        continue;
      gint64 lo = t->time_ns, hi = t->time_ns;
      for (guint k = i + 1; k < batch->n_trades; k++)
        if (strcmp (batch->trades[k].product_id, t->product_id) == 0)
          {
            lo = MIN (lo, batch->trades[k].time_ns);
            hi = MAX (hi, batch->trades[k].time_ns);
          }
      spot_sharded_aggregator_mark_dirty (a, t->product_id, lo / NS, hi / NS,
                                          SPOT_DIRTY_REASON_QUEUE_FULL);
    }
  spot_trade_batch_free (batch);
}

static gboolean
push_batch (SpotShardedAggregator *a, guint w, SpotTradeBatch *batch)
{
  if (spot_shard_worker_push_batch (a->workers[w], batch))
    {
      __atomic_add_fetch (&a->batches_submitted, 1, __ATOMIC_RELAXED);
      return TRUE;
    }
  drop_batch (a, batch);
  return FALSE;
}

gboolean
spot_sharded_aggregator_submit (SpotShardedAggregator *a, SpotTradeBatch *batch)
{
  g_return_val_if_fail (a != NULL && batch != NULL, FALSE);

  if (g_atomic_int_get (&a->stopped))
    {
      spot_trade_batch_free (batch);
      return FALSE;
    }
  if (batch->receive_ns > 0 && batch->message_ns > 0)
    spot_candle_clock_observe (a->clock, (guint)MAX (batch->connection_id, 0), batch->receive_ns,
                               batch->message_ns);
  if (batch->n_trades == 0)
    {
      spot_trade_batch_free (batch);
      return TRUE;
    }

  /* Route; the common case is one product (one hash) per batch. */
  guint first_worker = 0;
  gboolean one_worker = TRUE, all_owned = TRUE;
  const char *prev = NULL;
  guint prev_worker = 0;
  gboolean prev_owned = TRUE;
  for (guint i = 0; i < batch->n_trades; i++)
    {
      const char *id = batch->trades[i].product_id;
      if (prev == NULL || strcmp (prev, id) != 0)
        {
          guint32 h = spot_product_id_hash (id);
          prev_owned = h % a->options.shard_count == a->options.shard_index;
          prev_worker = spot_shard_route_worker (h, a->options.shard_count, a->n_workers);
          prev = id;
        }
      if (!prev_owned)
        all_owned = FALSE;
      if (i == 0)
        first_worker = prev_worker;
      else if (prev_worker != first_worker)
        one_worker = FALSE;
    }
  if (one_worker && all_owned)
    return push_batch (a, first_worker, batch);

  /* Split per worker, leaving out products of other instances. */
  g_autofree SpotTradeBatch **parts = g_new0 (SpotTradeBatch *, a->n_workers);
  guint not_owned = 0;
  for (guint i = 0; i < batch->n_trades; i++)
    {
      const SpotTrade *t = &batch->trades[i];
      guint32 h = spot_product_id_hash (t->product_id);
      if (h % a->options.shard_count != a->options.shard_index)
        {
          not_owned++;
          continue;
        }
      guint w = spot_shard_route_worker (h, a->options.shard_count, a->n_workers);
      if (parts[w] == NULL)
        {
          parts[w] = spot_trade_batch_new (batch->n_trades - i);
          parts[w]->message_ns = batch->message_ns;
          parts[w]->receive_ns = batch->receive_ns;
          parts[w]->connection_id = batch->connection_id;
        }
      spot_trade_batch_append (parts[w], t);
    }
  if (not_owned > 0)
    __atomic_add_fetch (&a->trades_not_owned, not_owned, __ATOMIC_RELAXED);
  spot_trade_batch_free (batch);

  gboolean ok = TRUE;
  for (guint w = 0; w < a->n_workers; w++)
    if (parts[w] != NULL && !push_batch (a, w, parts[w]))
      ok = FALSE;
  return ok;
}

/* ---- stats ------------------------------------------------------------- */

void
spot_sharded_aggregator_get_stats (SpotShardedAggregator *a, SpotEngineStats *out)
{
  g_return_if_fail (a != NULL && out != NULL);

  memset (out, 0, sizeof *out);
  for (guint i = 0; i < a->n_workers; i++)
    {
      SpotShardWorker *w = a->workers[i];
      guint len = spot_shard_worker_queue_length (w);
      spot_shard_worker_add_stats (w, out);
      out->queue_length += len;
      out->queue_capacity += spot_shard_worker_queue_capacity (w);
      out->queue_max_length = MAX (out->queue_max_length, len);
    }
  out->batches_submitted = __atomic_load_n (&a->batches_submitted, __ATOMIC_RELAXED);
  out->batches_dropped = __atomic_load_n (&a->batches_dropped, __ATOMIC_RELAXED);
  out->trades_dropped = __atomic_load_n (&a->trades_dropped, __ATOMIC_RELAXED);
  out->trades_unknown_product += __atomic_load_n (&a->trades_not_owned, __ATOMIC_RELAXED);
  out->workers = a->n_workers;
}

void
spot_sharded_aggregator_get_queue (SpotShardedAggregator *a,
                                   guint worker,
                                   guint *length,
                                   guint *capacity)
{
  g_return_if_fail (a != NULL && worker < a->n_workers);
  if (length != NULL)
    *length = spot_shard_worker_queue_length (a->workers[worker]);
  if (capacity != NULL)
    *capacity = spot_shard_worker_queue_capacity (a->workers[worker]);
}

void
spot_sharded_aggregator_flush (SpotShardedAggregator *a)
{
  g_return_if_fail (a != NULL);
  for (guint i = 0; i < a->n_workers; i++)
    spot_shard_worker_flush (a->workers[i]);
}
