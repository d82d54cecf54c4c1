/* spot-engine-stats.h: the candle engine's counters.
 *
 * A snapshot struct filled by spot_candle_builder_get_stats() (one builder)
 * or spot_sharded_aggregator_get_stats() (summed over all workers, read with
 * short per-worker mutexes, so the metrics or backpressure monitor may sample it from any
 * thread at any rate).
 *
 * Thread safety: plain value.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint64 trades_accepted;        /* trades that went into a candle */
  guint64 trades_duplicate;       /* at or under the product's trade_id high-water mark */
  guint64 trades_late_dropped;    /* for a bucket whose state was released (never start a candle) */
  guint64 trades_rest_dropped;    /* for a minute taken from REST (final) */
  guint64 trades_corrected;       /* late trades inside the correction window */
  guint64 trades_held;            /* held while their product was seeding */
  guint64 trades_hold_overflow;   /* seeding hold full: dropped, their minutes dirty */
  guint64 trades_unknown_product; /* for a product removed or not owned */
  guint64 batches_submitted;      /* accepted by submit */
  guint64 batches_dropped;        /* full queue */
  guint64 trades_dropped;         /* in dropped batches */
  guint64 dirty_minutes;          /* minutes ever marked dirty */
  guint64 dirty_pending;          /* minutes dirty right now */
  guint64 repairs_applied;        /* REST minutes applied in memory */
  guint64 repairs_database;       /* handed back for the database recompute */
  guint64 repairs_rejected_open;
  guint64 repairs_abandoned;     /* beyond the repair horizon */
  guint64 completions_waited;    /* completions that waited for a pending repair */
  guint64 completions_timed_out; /* ... and gave up after repair_wait_ms */
  guint64 divergence_compared;   /* exchange 5m candles compared with ours */
  guint64 divergence_count;      /* ... that differed */
  guint64 divergence_skipped;    /* ... skipped: our bucket had dirty minutes */
  guint64 updates_live;          /* handed to the sink, by kind */
  guint64 updates_complete;
  guint64 updates_correction;
  guint64 updates_repair;
  guint64 updates_seed;
  guint64 products;       /* products with state */
  guint64 state_bytes;    /* memory held by per-product state */
  guint queue_length;     /* batches queued now, summed over workers */
  guint queue_capacity;   /* summed over workers */
  guint queue_max_length; /* the fullest worker queue now */
  guint workers;
} SpotEngineStats;

G_END_DECLS
