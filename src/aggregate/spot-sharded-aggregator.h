/* spot-sharded-aggregator.h: the engine's threads and routing (DESIGN.md section 1).
 *
 * SHARD_WORKERS dedicated worker threads (not GTask's pool), each owning a
 * SpotCandleBuilder and a bounded queue of SpotTradeBatch (SHARD_QUEUE
 * batches). A product belongs to this instance when
 * h % shard_count == shard_index (h = FNV-1a-32 of the id) and to worker
 * (h / shard_count) % workers, so every worker gets products for any
 * SHARD_COUNT. Per-product order is preserved (one queue per worker, one
 * worker per product).
 *
 * submit() never blocks: on a full queue the batch is dropped, counted, and
 * its products' minutes are marked dirty (through an unbounded control
 * queue, which also carries repairs, seeding and product changes; those are
 * never dropped). Each worker wakes once for many queued items, applies them,
 * ticks completion every tick_interval_ms, and hands its output to the sink:
 * live updates coalesced per key, complete updates never dropped.
 *
 * Thread safety: every function except _new/_free/_stop may be called from
 * any thread (main thread, parse lanes) concurrently; none blocks beyond a
 * short mutex. Callbacks (sink, SpotRepairFunc) run on worker threads.
 * _stop and _free: from the thread that created the aggregator.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"
#include "aggregate/spot-candle-clock.h"
#include "aggregate/spot-candle-repair.h"
#include "aggregate/spot-candle-sink.h"
#include "aggregate/spot-engine-options.h"
#include "aggregate/spot-engine-stats.h"
#include "aggregate/spot-trade-batch.h"

G_BEGIN_DECLS

typedef struct _SpotShardedAggregator SpotShardedAggregator;

/* Starts options->workers threads. @sink is copied; @clock is referenced
 * (NULL: the real clock). Fails on invalid options or thread creation. */
SpotShardedAggregator *spot_sharded_aggregator_new (const SpotEngineOptions *options,
                                                    const SpotCandleSink *sink,
                                                    SpotCandleClock *clock,
                                                    GError **error);
/* Stops (if not yet) and frees. */
void spot_sharded_aggregator_free (SpotShardedAggregator *aggregator);
/* Refuses new input, drains everything accepted (batches and control items),
 * emits it, and joins the workers. Buckets still open are not completed. */
void spot_sharded_aggregator_stop (SpotShardedAggregator *aggregator);

SpotCandleClock *spot_sharded_aggregator_get_clock (SpotShardedAggregator *aggregator);

/* Routing, pure: whether this instance owns the product, and its worker. */
gboolean spot_sharded_aggregator_owns_product (SpotShardedAggregator *aggregator,
                                               const char *product_id);
guint spot_sharded_aggregator_worker_for_product (SpotShardedAggregator *aggregator,
                                                  const char *product_id);
/* The same rule for any (count, index, workers), for tools and tests. */
guint spot_shard_route_worker (guint32 hash, guint shard_count, guint workers);

/* Hands one batch over (ownership taken, always). Trades of products this
 * instance does not own are ignored. A batch spanning several workers is
 * split. Returns FALSE when any part was dropped from a full queue (counted;
 * its products' minutes marked dirty) or the aggregator is stopped. Also
 * feeds batch->receive_ns/message_ns to the clock offset estimate. */
gboolean spot_sharded_aggregator_submit (SpotShardedAggregator *aggregator, SpotTradeBatch *batch);

/* Control: asynchronous, never dropped, applied in order with the product's
 * batches already queued. */
void spot_sharded_aggregator_mark_dirty (SpotShardedAggregator *aggregator,
                                         const char *product_id,
                                         gint64 from_minute,
                                         gint64 to_minute,
                                         SpotDirtyReason reason);
/* An exchange FIVE_MINUTE candle (WebSocket `candles`) for the divergence
 * comparison; n candles of any products. */
void spot_sharded_aggregator_submit_exchange_candles (SpotShardedAggregator *aggregator,
                                                      const SpotCandle *candles,
                                                      guint n);
/* A REST ONE_MINUTE candle for a closed dirty minute; @func (may be NULL) is
 * called on the worker with the outcome (see SpotRepairResult). */
void spot_sharded_aggregator_repair (SpotShardedAggregator *aggregator,
                                     const SpotCandle *rest_minute,
                                     SpotRepairFunc func,
                                     gpointer user_data);
/* A child recomputed by the database path (see spot_candle_builder_replace). */
void spot_sharded_aggregator_replace (SpotShardedAggregator *aggregator,
                                      const SpotCandle *child,
                                      SpotRepairFunc func,
                                      gpointer user_data);
/* The exchange has no candle for this closed dirty minute. */
void spot_sharded_aggregator_clear_dirty (SpotShardedAggregator *aggregator,
                                          const char *product_id,
                                          gint64 minute);

/* Reports every closed dirty minute again through the sink's emit_dirty
 * (those already reported too), e.g. after the repair coordinator lost its
 * queue. */
void spot_sharded_aggregator_report_dirty (SpotShardedAggregator *aggregator);

/* Products at run time. add with @seeding TRUE holds its live trades until
 * seed_end; seed may be called several times in between. */
void spot_sharded_aggregator_add_product (SpotShardedAggregator *aggregator,
                                          const char *product_id,
                                          gboolean seeding);
void spot_sharded_aggregator_seed (SpotShardedAggregator *aggregator,
                                   const char *product_id,
                                   const SpotCandle *candles,
                                   guint n,
                                   guint64 high_water_mark);
void spot_sharded_aggregator_seed_end (SpotShardedAggregator *aggregator, const char *product_id);
void spot_sharded_aggregator_remove_product (SpotShardedAggregator *aggregator,
                                             const char *product_id);

/* Counters summed over workers plus queue lengths; takes only short
 * per-worker mutexes, so it may be sampled from any thread. */
void spot_sharded_aggregator_get_stats (SpotShardedAggregator *aggregator, SpotEngineStats *out);
/* Queue utilisation of one worker. */
void spot_sharded_aggregator_get_queue (SpotShardedAggregator *aggregator,
                                        guint worker,
                                        guint *length,
                                        guint *capacity);

/* Waits (test and tool helper, never on the main loop) until every item
 * submitted before the call has been applied and emitted, with one
 * completion tick by the clock at the end. */
void spot_sharded_aggregator_flush (SpotShardedAggregator *aggregator);

G_END_DECLS
