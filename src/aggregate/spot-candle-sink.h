/* spot-candle-sink.h: where the engine's candle updates go.
 *
 * Two classes of output:
 *  - live updates (SPOT_CANDLE_UPDATE_LIVE): coalesced per key
 *    (product, granularity), latest wins, by the engine between two calls;
 *    a sink may coalesce further; there is never a backlog of them.
 *  - complete updates (COMPLETE, CORRECTION, REPAIR, SEED): never dropped
 *    by the engine and must never be dropped on the way to the database.
 * Only granularities in SpotEngineOptions.output are emitted.
 *
 * Closed dirty minutes (for the repair coordinator) come through emit_dirty,
 * once per minute.
 *
 * Thread safety: every function is called on a shard worker thread (several
 * workers call concurrently, each with its own worker index); the arrays are
 * only valid during the call (copy what you keep). A sink must not block:
 * queue and return. NULL function pointers are skipped.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"
#include "aggregate/spot-candle-repair.h"

G_BEGIN_DECLS

typedef struct
{
  void (*emit_live) (gpointer user_data, guint worker, const SpotCandleUpdate *updates, guint n);
  void (*emit_complete) (gpointer user_data,
                         guint worker,
                         const SpotCandleUpdate *updates,
                         guint n);
  void (*emit_dirty) (gpointer user_data, guint worker, const SpotDirtyRange *ranges, guint n);
  gpointer user_data;
} SpotCandleSink;

G_END_DECLS
