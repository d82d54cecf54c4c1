/* spot-candle-builder.h: the pure candle builder (DESIGN.md section 2).
 *
 * Builds exact OHLCV candles for every granularity of the roll-up tree from
 * trades, per product: ONE_MINUTE from trades by exchange time, larger ones
 * from child summaries (incrementally per batch; recomputed from children when
 * a child is replaced). Dedupe by a per-product trade_id high-water mark,
 * completion by an injected clock, corrections inside the correction window,
 * dirty minutes and their repair, seeding from stored candles.
 *
 * No I/O, no main loop, no threads: every call appends what it produces to the
 * builder's output (spot_candle_builder_get_output()); the caller hands that
 * to a sink and calls spot_candle_builder_clear_output(). Live updates are
 * coalesced per (product, granularity) until the output is cleared; complete
 * updates are never coalesced. Deliver output->live before output->complete:
 * then every bucket's revisions arrive in increasing order (a live change
 * that follows a complete-class one of the same key in the same output is
 * placed in output->complete, after it). Only granularities in options->output are
 * emitted; every level is built.
 *
 * Times: trades carry nanoseconds; bucket starts are epoch seconds. "now" is
 * always read from the injected SpotCandleClock (already offset-corrected).
 *
 * Thread safety: a builder is used by one thread at a time (each shard worker
 * owns one). Not internally locked.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"
#include "model/spot-trade.h"
#include "aggregate/spot-candle-clock.h"
#include "aggregate/spot-candle-repair.h"
#include "aggregate/spot-engine-options.h"
#include "aggregate/spot-engine-stats.h"

G_BEGIN_DECLS

typedef struct _SpotCandleBuilder SpotCandleBuilder;

typedef struct
{
  GArray *live;     /* SpotCandleUpdate (LIVE), one per key at most */
  GArray *complete; /* SpotCandleUpdate (COMPLETE, CORRECTION, REPAIR, SEED; rarely LIVE,
                       see above), in order */
  GArray *dirty;    /* SpotDirtyRange: dirty minutes that closed since the last clear */
} SpotCandleOutput;

/* @options is copied (NULL: defaults); @clock is referenced. */
SpotCandleBuilder *spot_candle_builder_new (const SpotEngineOptions *options,
                                            SpotCandleClock *clock);
void spot_candle_builder_free (SpotCandleBuilder *builder);

SpotCandleOutput *spot_candle_builder_get_output (SpotCandleBuilder *builder);
void spot_candle_builder_clear_output (SpotCandleBuilder *builder);

/* Applies @n trades (any order, any products; duplicates allowed) that came
 * in one exchange message with timestamp @message_ns. Trades of a product not
 * yet known create it unseeded (live from now on) unless it was removed; a
 * product in seeding has its trades held. Emits one live update per changed
 * (product, granularity) and CORRECTION updates for late trades in completed
 * buckets still in memory. */
void spot_candle_builder_add_trades (SpotCandleBuilder *builder,
                                     const SpotTrade *trades,
                                     guint n,
                                     gint64 message_ns);

/* Completes buckets due by the clock (start + size + grace, waiting up to
 * repair_wait_ms for pending repairs of their dirty minutes), emits COMPLETE
 * updates, reports newly closed dirty minutes into output->dirty, and releases
 * state older than the correction window. Call periodically. */
void spot_candle_builder_tick (SpotCandleBuilder *builder);

/* Products. add with @seeding TRUE holds live trades until seed_end. Removing
 * drops the product's state; its later trades are counted and ignored until it
 * is added again. */
void spot_candle_builder_add_product (SpotCandleBuilder *builder,
                                      const char *product_id,
                                      gboolean seeding);
void spot_candle_builder_remove_product (SpotCandleBuilder *builder, const char *product_id);
gboolean spot_candle_builder_has_product (SpotCandleBuilder *builder, const char *product_id);

/* Seeding: stored candles of any granularity (complete rows and open rows)
 * and closed REST minutes (trades == SPOT_CANDLE_TRADES_UNKNOWN). Candles for
 * buckets outside the in-memory range are ignored. The high-water mark
 * becomes max(current, @high_water_mark). Stored incomplete minutes whose
 * bucket has closed become dirty. May be called several times between
 * add_product(seeding=TRUE) and seed_end; creates the product if needed.
 * Emits nothing. */
void spot_candle_builder_seed (SpotCandleBuilder *builder,
                               const char *product_id,
                               const SpotCandle *candles,
                               guint n,
                               guint64 high_water_mark);
/* Ends seeding: applies the held trades and emits normally from now on. */
void spot_candle_builder_seed_end (SpotCandleBuilder *builder, const char *product_id);

/* Raises the product's dedupe high-water mark (e.g. from the highest stored
 * last_trade_id); creates the product if needed. */
void spot_candle_builder_set_high_water_mark (SpotCandleBuilder *builder,
                                              const char *product_id,
                                              guint64 trade_id);
guint64 spot_candle_builder_get_high_water_mark (SpotCandleBuilder *builder,
                                                 const char *product_id);

/* Marks minutes [@from_minute, @to_minute] (epoch seconds, aligned down to
 * minutes, inclusive) dirty; minutes older than the repair horizon are
 * ignored. Creates the product if needed. */
void spot_candle_builder_mark_dirty (SpotCandleBuilder *builder,
                                     const char *product_id,
                                     gint64 from_minute,
                                     gint64 to_minute,
                                     SpotDirtyReason reason);
/* Appends the product's dirty minutes that have closed (as ranges) to @out
 * (SpotDirtyRange), whether reported before or not. */
void spot_candle_builder_list_closed_dirty (SpotCandleBuilder *builder,
                                            const char *product_id,
                                            GArray *out);
/* Appends every product's closed dirty minutes (reported before or not) to
 * output->dirty, e.g. when the repair coordinator restarts. */
void spot_candle_builder_report_closed_dirty (SpotCandleBuilder *builder);
/* TRUE when @minute of the product is dirty right now. */
gboolean
spot_candle_builder_is_dirty (SpotCandleBuilder *builder, const char *product_id, gint64 minute);
/* The exchange has no candle for this closed dirty minute (no trades):
 * the minute stops being dirty, nothing else changes. */
void
spot_candle_builder_clear_dirty (SpotCandleBuilder *builder, const char *product_id, gint64 minute);

/* Replaces a closed minute with the exchange's REST ONE_MINUTE candle
 * (@rest_minute->granularity must be ONE_MINUTE). See SpotRepairResult.
 * When applied: the minute becomes final (later trades for it are dropped),
 * stops being dirty, and it and every ancestor are emitted as REPAIR
 * revisions. */
SpotRepairResult spot_candle_builder_repair (SpotCandleBuilder *builder,
                                             const SpotCandle *rest_minute,
                                             SpotGranularity *memory_level);

/* Replaces a closed child bucket of any granularity recomputed elsewhere
 * (the database path of a repair) when its parent is in memory, and
 * recomputes and emits (REPAIR) its ancestors. Returns APPLIED, or
 * NEEDS_DATABASE when its parent is not in memory either. */
SpotRepairResult spot_candle_builder_replace (SpotCandleBuilder *builder, const SpotCandle *child);

/* An exchange (WebSocket `candles` channel) FIVE_MINUTE candle: compared
 * with ours once ours is complete (divergence counters). */
void spot_candle_builder_add_exchange_candle (SpotCandleBuilder *builder, const SpotCandle *candle);

/* The current in-memory candle of a bucket (the one containing @t seconds),
 * FALSE when there is no state for it. For tests and the D-Bus "get". */
gboolean spot_candle_builder_get_candle (SpotCandleBuilder *builder,
                                         const char *product_id,
                                         SpotGranularity granularity,
                                         gint64 t,
                                         SpotCandle *out);

void spot_candle_builder_get_stats (SpotCandleBuilder *builder, SpotEngineStats *out);
/* Bytes held by one product's state (fixed per product). */
gsize spot_candle_builder_bytes_per_product (SpotCandleBuilder *builder);

G_END_DECLS
