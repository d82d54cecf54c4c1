/* spot-engine-options.h: the candle engine's settings (DESIGN.md section 2 and 4).
 *
 * A plain struct filled from the configuration by whoever wires the engine;
 * the engine never reads SpotConfig itself. Start from
 * spot_engine_options_init_defaults() and override fields.
 *
 * Thread safety: plain value; functions are pure.
 */
#pragma once

#include <glib.h>

#include "model/spot-granularity.h"

G_BEGIN_DECLS

typedef struct
{
  gint64 grace_ms;            /* CANDLE_GRACE_MS, default 2000 */
  gint64 correction_window_s; /* CORRECTION_WINDOW_S, default 120 */
  gint64 repair_wait_ms;      /* how long completion waits for pending repairs, default 30000 */
  gint64 repair_horizon_s;    /* REPAIR_HORIZON_H * 3600, default 25 h */
  SpotGranularitySet output;  /* GRANULARITIES: output filter only, default the eight */
  guint seed_hold_limit;      /* live trades held per product while seeding, default 10000 */
  guint workers;              /* SHARD_WORKERS, default 16 */
  guint queue_size;           /* SHARD_QUEUE batches per worker, default 256 */
  guint shard_index;          /* SHARD_INDEX, default 0 */
  guint shard_count;          /* SHARD_COUNT, default 1 */
  gint64 tick_interval_ms;    /* completion tick of each worker, default 250 */
} SpotEngineOptions;

void spot_engine_options_init_defaults (SpotEngineOptions *options);

/* Checks ranges (workers 1..256, queue_size >= 1, shard_index < shard_count,
 * non-negative durations, a non-empty output set); the error names the field
 * and value at fault. */
gboolean spot_engine_options_validate (const SpotEngineOptions *options, GError **error);

G_END_DECLS
