/* spot-shard-worker.h: one engine worker thread and its bounded batch queue.
 *
 * The worker owns a SpotCandleBuilder. Producers push batches (bounded:
 * a full queue refuses at once) and control items (unbounded, never refused);
 * the worker wakes once, takes everything queued under one lock, applies it in
 * order, ticks completion on schedule, and hands its output to the sink.
 *
 * Thread safety: push/stats functions from any thread; the builder is touched
 * only by the worker thread (control items are the only way in).
 */
#pragma once

#include <glib.h>

#include "aggregate/spot-candle-builder.h"
#include "aggregate/spot-candle-sink.h"
#include "aggregate/spot-trade-batch.h"

G_BEGIN_DECLS

typedef struct _SpotShardWorker SpotShardWorker;

/* A control item: @func runs on the worker thread with its builder, in queue
 * order with batches; @destroy (may be NULL) frees @data afterwards. */
typedef void (*SpotShardControlFunc) (SpotCandleBuilder *builder, gpointer data);

SpotShardWorker *spot_shard_worker_new (guint index,
                                        const SpotEngineOptions *options,
                                        const SpotCandleSink *sink,
                                        SpotCandleClock *clock,
                                        GError **error);
/* Stops accepting, drains and joins (idempotent), then frees. */
void spot_shard_worker_free (SpotShardWorker *worker);
void spot_shard_worker_stop (SpotShardWorker *worker);

/* Takes ownership of @batch on success only; FALSE when full or stopped. */
gboolean spot_shard_worker_push_batch (SpotShardWorker *worker, SpotTradeBatch *batch);
/* Always accepted unless stopped (then @destroy runs at once, FALSE). */
gboolean spot_shard_worker_push_control (SpotShardWorker *worker,
                                         SpotShardControlFunc func,
                                         gpointer data,
                                         GDestroyNotify destroy);

guint spot_shard_worker_queue_length (SpotShardWorker *worker);
guint spot_shard_worker_queue_capacity (SpotShardWorker *worker);
/* Adds this worker's counters (atomic snapshot after its last cycle). */
void spot_shard_worker_add_stats (SpotShardWorker *worker, SpotEngineStats *sum);
/* Blocks until everything pushed before the call was applied and emitted. */
void spot_shard_worker_flush (SpotShardWorker *worker);

G_END_DECLS
