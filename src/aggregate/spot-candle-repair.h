/* spot-candle-repair.h: dirty minutes and the outcome of a repair.
 *
 * A minute is dirty when trades in it may have been missed (DESIGN.md
 * section 2, Repair). The engine reports dirty minutes once they have closed;
 * the repair coordinator fetches them from REST ONE_MINUTE and hands each
 * back as a repair (or as "clear" when the exchange has no candle for it).
 *
 * Thread safety: plain values.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"
#include "model/spot-product.h"

G_BEGIN_DECLS

typedef enum
{
  SPOT_DIRTY_REASON_UNSUBSCRIBED,      /* before the first confirmed subscription */
  SPOT_DIRTY_REASON_DISCONNECT,        /* disconnect or stall */
  SPOT_DIRTY_REASON_SEQUENCE_GAP,      /* sequence_num jumped */
  SPOT_DIRTY_REASON_QUEUE_FULL,        /* a batch was dropped from a full worker queue */
  SPOT_DIRTY_REASON_STARTUP,           /* from the last stored trade to now */
  SPOT_DIRTY_REASON_SEED_OVERFLOW,     /* held trades beyond the seeding bound */
  SPOT_DIRTY_REASON_STORED_INCOMPLETE, /* a stored incomplete minute whose bucket closed */
} SpotDirtyReason;

const char *spot_dirty_reason_to_string (SpotDirtyReason reason);

/* Consecutive closed dirty minutes of one product: minute starts (epoch
 * seconds, multiples of 60) from first_minute to last_minute inclusive. */
typedef struct
{
  char product_id[SPOT_PRODUCT_ID_SIZE];
  gint64 first_minute;
  gint64 last_minute;
} SpotDirtyRange;

typedef enum
{
  /* The minute was replaced in memory and its ancestors recomputed; their
   * new revisions were emitted as SPOT_CANDLE_UPDATE_REPAIR. */
  SPOT_REPAIR_APPLIED,
  /* The minute's 5-minute parent is no longer in memory: write the minute and
   * recompute the stored ancestors in the database (store's recompute). When
   * memory_level is not SPOT_GRANULARITY_INVALID, the bucket of that level
   * containing the minute is still in memory: hand the recomputed child just
   * below it back with spot_candle_builder_replace() so memory follows. */
  SPOT_REPAIR_NEEDS_DATABASE,
  /* The minute is still open (by the corrected clock, plus grace): its REST
   * value is a running total; nothing changed. Retry after it closes. */
  SPOT_REPAIR_REJECTED_OPEN,
  /* Older than the repair horizon: abandoned and counted. */
  SPOT_REPAIR_ABANDONED,
  /* The candle is unusable (wrong granularity, unaligned, unknown product). */
  SPOT_REPAIR_INVALID,
} SpotRepairResult;

const char *spot_repair_result_to_string (SpotRepairResult result);

typedef struct
{
  SpotRepairResult result;
  SpotCandle candle;            /* the candle handed in (for NEEDS_DATABASE: write it) */
  SpotGranularity memory_level; /* see SPOT_REPAIR_NEEDS_DATABASE */
} SpotRepairOutcome;

/* Called with the outcome of an asynchronous repair (aggregator): on a shard
 * worker thread; must not block. */
typedef void (*SpotRepairFunc) (const SpotRepairOutcome *outcome, gpointer user_data);

G_END_DECLS
