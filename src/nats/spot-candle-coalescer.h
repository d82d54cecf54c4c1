/* spot-candle-coalescer.h: a bounded hand-off queue of candle updates that
 * keeps the latest live update per key.
 *
 * Producers submit batches; one consumer drains everything pending in one
 * swap. Between two drains:
 *  - a LIVE update replaces the pending LIVE update of the same
 *    (product, granularity) in place (counted as coalesced);
 *  - any other kind (COMPLETE, CORRECTION, REPAIR, SEED) is appended in order
 *    and never coalesced away. It also closes the key's pending live slot, so
 *    a later LIVE update is appended after it: per key, the consumer sees the
 *    updates in submission order.
 * The queue holds at most @max_pending entries. A LIVE update for a key with
 * a pending live entry is always accepted (it replaces); anything else that
 * finds the queue full is dropped and counted in dropped (live) or
 * dropped_ordered (other kinds). Completions arrive at a few per key per
 * minute, so with the default bound this only happens when the consumer has
 * been stuck for minutes; consumers that must never lose one (the database
 * writer) do not go through this structure.
 *
 * Each (product, granularity) seen is interned once and gets a dense id
 * (0, 1, 2, ...; stable for the coalescer's life), handed to the consumer
 * with every drained entry by spot_candle_coalescer_drain_meta() together
 * with the monotonic time of the oldest submit the entry stands for (a
 * replaced live update keeps the time of the first one it replaced: that is
 * how long the key's newest state has been waiting).
 *
 * Thread safety: submit, get_stats and close from any thread; drain and wait
 * from the one consumer thread. Submit never blocks beyond a short mutex.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

#define SPOT_CANDLE_COALESCER_DEFAULT_MAX_PENDING 65536

typedef struct _SpotCandleCoalescer SpotCandleCoalescer;

/* Key id of an entry whose key was not interned (invalid granularity or
 * product id, or more than 262,144 distinct keys). */
#define SPOT_CANDLE_COALESCER_NO_KEY G_MAXUINT32

/* One per drained entry, in the same order (spot_candle_coalescer_drain_meta). */
typedef struct
{
  guint32 key;      /* dense key id, or SPOT_CANDLE_COALESCER_NO_KEY */
  gint64 submit_us; /* g_get_monotonic_time() of the oldest submit it stands for */
} SpotCandleCoalescerMeta;

/* Called on the submitting thread, without the lock held, when the queue turns
 * from empty to non-empty: one wake-up per batch drained by the consumer. */
typedef void (*SpotCandleCoalescerNotify) (gpointer user_data);

typedef struct
{
  guint64 submitted;       /* updates offered */
  guint64 coalesced;       /* live updates that replaced a pending one */
  guint64 dropped;         /* live updates lost to a full queue */
  guint64 dropped_ordered; /* other kinds lost to a full queue */
  guint64 drained;         /* entries handed to the consumer */
  guint pending;           /* entries waiting now */
} SpotCandleCoalescerStats;

/* @max_pending 0 selects SPOT_CANDLE_COALESCER_DEFAULT_MAX_PENDING. */
SpotCandleCoalescer *spot_candle_coalescer_new (guint max_pending);
void spot_candle_coalescer_free (SpotCandleCoalescer *self);

/* Set before the first submit. */
void spot_candle_coalescer_set_notify (SpotCandleCoalescer *self,
                                       SpotCandleCoalescerNotify notify,
                                       gpointer user_data);

/* Offers @n updates; returns how many were accepted (appended or coalesced). */
guint
spot_candle_coalescer_submit (SpotCandleCoalescer *self, const SpotCandleUpdate *updates, guint n);

/* Hands every pending entry to the consumer by swapping buffers, so steady
 * state allocates nothing: *@batch (a GArray of SpotCandleUpdate made with
 * spot_candle_update_array_new(); its content is discarded) becomes the
 * queue's empty buffer and *@batch is replaced by the array of pending
 * entries. Returns TRUE when *@batch is not empty. */
gboolean spot_candle_coalescer_drain (SpotCandleCoalescer *self, GArray **batch);

/* Like drain; *@meta (from spot_candle_coalescer_meta_array_new()) is
 * swapped likewise and receives one SpotCandleCoalescerMeta per entry. */
gboolean spot_candle_coalescer_drain_meta (SpotCandleCoalescer *self, GArray **batch, GArray **meta);

/* Blocks up to @timeout_us (-1: no limit) until something is pending or the
 * coalescer is closed; returns TRUE when something is pending. */
gboolean spot_candle_coalescer_wait (SpotCandleCoalescer *self, gint64 timeout_us);

/* Wakes the consumer (wait returns) and makes later waits return at once. */
void spot_candle_coalescer_close (SpotCandleCoalescer *self);
gboolean spot_candle_coalescer_is_closed (SpotCandleCoalescer *self);

void spot_candle_coalescer_get_stats (SpotCandleCoalescer *self, SpotCandleCoalescerStats *out);

/* A GArray suitable for drain. */
GArray *spot_candle_update_array_new (guint reserved);
/* A GArray suitable for drain_meta's @meta. */
GArray *spot_candle_coalescer_meta_array_new (guint reserved);

G_END_DECLS
