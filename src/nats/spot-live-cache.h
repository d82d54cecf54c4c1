/* spot-live-cache.h: in-process last-value cache of every (product,
 * granularity) in the live-candles KV bucket.
 *
 * A watcher thread (kvWatcher_Next blocks, so it never runs on the main loop)
 * follows the whole bucket: every instance's products, not only this
 * instance's share. Per key the candle with the greatest start wins (equal
 * starts: the greater rev), so a late correction of an older bucket never
 * replaces the open one. The HTTP side reads it for a client's initial state.
 * Across reconnects and server restarts the watcher's ordered consumer
 * re-creates itself (nats.c); on a hard error the watcher is replaced and
 * replays the bucket, which the greatest-start rule makes harmless.
 *
 * Thread safety: new/start/stop/dispose from the controlling thread (stop
 * waits for the watcher thread, at most ~250 ms). lookup, snapshot, update,
 * is_synced and get_stats from any thread, the main loop included: they only
 * take a mutex held for map operations, never wait for NATS.
 */
#pragma once

#include <glib-object.h>
#include <nats/nats.h>

#include "model/spot-candle.h"
#include "nats/spot-nats-kv.h"

G_BEGIN_DECLS

typedef struct
{
  guint keys;            /* entries held */
  guint64 updates;       /* KV entries applied */
  guint64 older_ignored; /* entries with an older start than the one held */
  guint64 parse_errors;  /* values that were not a valid candle */
  guint64 watcher_restarts;
  gboolean synced; /* the bucket's initial content has been read */
} SpotLiveCacheStats;

#define SPOT_TYPE_LIVE_CACHE (spot_live_cache_get_type ())
G_DECLARE_FINAL_TYPE (SpotLiveCache, spot_live_cache, SPOT, LIVE_CACHE, GObject)

/* @nc may be NULL: a cache fed only through spot_live_cache_update(). The
 * bucket is created with @kv_config when missing (NULL: defaults). */
SpotLiveCache *spot_live_cache_new (natsConnection *nc, const SpotNatsKvConfig *kv_config);

/* Spawns the watcher thread (requires a connection). */
gboolean spot_live_cache_start (SpotLiveCache *self, GError **error);
void spot_live_cache_stop (SpotLiveCache *self);

/* Copies the candle held for the key into @out; FALSE when none. */
gboolean spot_live_cache_lookup (SpotLiveCache *self,
                                 const char *product_id,
                                 SpotGranularity granularity,
                                 SpotCandle *out);

/* A GArray of SpotCandle: the held candles of @product_ids (NULL: every
 * product) at the granularities in @granularities, ordered by product as
 * given (NULL: by key) then by granularity. */
GArray *spot_live_cache_snapshot (SpotLiveCache *self,
                                  const char *const *product_ids,
                                  SpotGranularitySet granularities);

/* Applies candles with the greatest-start rule (the watcher uses this; a
 * caller may also feed candles it received by other means). Returns how many
 * were stored. */
guint spot_live_cache_update (SpotLiveCache *self, const SpotCandle *candles, guint n);

/* Blocks up to @timeout_ms until the initial content was read. For tests and
 * start-up code off the main loop. */
gboolean spot_live_cache_wait_synced (SpotLiveCache *self, guint timeout_ms);
gboolean spot_live_cache_is_synced (SpotLiveCache *self);

void spot_live_cache_get_stats (SpotLiveCache *self, SpotLiveCacheStats *out);

G_END_DECLS
