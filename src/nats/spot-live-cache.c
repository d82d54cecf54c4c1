/* spot-live-cache.c: KV watcher thread feeding a last-value map. */
#define G_LOG_DOMAIN "spot-nats"

#include "nats/spot-live-cache.h"

#include <stdatomic.h>
#include <string.h>

#include "core/spot-error.h"
#include "core/spot-log.h"
#include "core/spot-thread.h"
#include "model/spot-candle-json.h"
#include "nats/spot-nats-subject.h"

#define WATCH_POLL_MS 250

struct _SpotLiveCache
{
  GObject parent_instance;

  natsConnection *nc;
  SpotNatsKvConfig kv_config;
  char *bucket;
  GThread *thread;

  GMutex lock;
  GCond cond;
  GHashTable *map; /* char* key -> SpotCandle* */
  SpotLiveCacheStats stats;
  gboolean stopping;
  kvWatcher *watcher; /* owned by the thread; under lock so stop can wake it */
};

G_DEFINE_TYPE (SpotLiveCache, spot_live_cache, G_TYPE_OBJECT)

static void
spot_live_cache_init (SpotLiveCache *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
spot_live_cache_dispose (GObject *object)
{
  spot_live_cache_stop (SPOT_LIVE_CACHE (object));
  G_OBJECT_CLASS (spot_live_cache_parent_class)->dispose (object);
}

static void
spot_live_cache_finalize (GObject *object)
{
  SpotLiveCache *self = SPOT_LIVE_CACHE (object);

  g_hash_table_unref (self->map);
  g_cond_clear (&self->cond);
  g_mutex_clear (&self->lock);
  g_free (self->bucket);
  G_OBJECT_CLASS (spot_live_cache_parent_class)->finalize (object);
}

static void
spot_live_cache_class_init (SpotLiveCacheClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = spot_live_cache_dispose;
  object_class->finalize = spot_live_cache_finalize;
}

SpotLiveCache *
spot_live_cache_new (natsConnection *nc, const SpotNatsKvConfig *kv_config)
{
  SpotLiveCache *self = g_object_new (SPOT_TYPE_LIVE_CACHE, NULL);

  self->nc = nc;
  if (kv_config != NULL)
    self->kv_config = *kv_config;
  else
    spot_nats_kv_config_init (&self->kv_config);
  self->bucket = g_strdup (self->kv_config.bucket != NULL ? self->kv_config.bucket
                                                          : SPOT_NATS_KV_BUCKET_DEFAULT);
  self->kv_config.bucket = self->bucket;
  return self;
}

/* Called with the lock held. */
static gboolean
apply_locked (SpotLiveCache *self, const char *key, const SpotCandle *candle)
{
  SpotCandle *held = g_hash_table_lookup (self->map, key);

  if (held != NULL
      && (candle->start < held->start || (candle->start == held->start && candle->rev < held->rev)))
    {
      self->stats.older_ignored++;
      return FALSE;
    }
  if (held == NULL)
    g_hash_table_insert (self->map, g_strdup (key), g_memdup2 (candle, sizeof *candle));
  else
    *held = *candle;
  self->stats.updates++;
  return TRUE;
}

guint
spot_live_cache_update (SpotLiveCache *self, const SpotCandle *candles, guint n)
{
  guint stored = 0;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < n; i++)
    {
      char key[SPOT_NATS_KEY_SIZE];

      if (spot_nats_key_format (candles[i].product_id, candles[i].granularity, key, sizeof key)
          == 0)
        continue;
      if (apply_locked (self, key, &candles[i]))
        stored++;
    }
  g_mutex_unlock (&self->lock);
  return stored;
}

gboolean
spot_live_cache_lookup (SpotLiveCache *self,
                        const char *product_id,
                        SpotGranularity granularity,
                        SpotCandle *out)
{
  char key[SPOT_NATS_KEY_SIZE];
  SpotCandle *held;
  gboolean found = FALSE;

  if (spot_nats_key_format (product_id, granularity, key, sizeof key) == 0)
    return FALSE;
  g_mutex_lock (&self->lock);
  held = g_hash_table_lookup (self->map, key);
  if (held != NULL)
    {
      *out = *held;
      found = TRUE;
    }
  g_mutex_unlock (&self->lock);
  return found;
}

static gint
compare_candle_keys (gconstpointer a, gconstpointer b)
{
  const SpotCandle *ca = a;
  const SpotCandle *cb = b;
  int c = strcmp (ca->product_id, cb->product_id);

  if (c != 0)
    return c;
  return (gint)ca->granularity - (gint)cb->granularity;
}

GArray *
spot_live_cache_snapshot (SpotLiveCache *self,
                          const char *const *product_ids,
                          SpotGranularitySet granularities)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (SpotCandle));

  g_mutex_lock (&self->lock);
  if (product_ids != NULL)
    {
      for (guint i = 0; product_ids[i] != NULL; i++)
        for (gint g = 0; g < SPOT_GRANULARITY_COUNT; g++)
          {
            char key[SPOT_NATS_KEY_SIZE];
            SpotCandle *held;

            if (!spot_granularity_set_contains (granularities, g)
                || spot_nats_key_format (product_ids[i], g, key, sizeof key) == 0)
              continue;
            held = g_hash_table_lookup (self->map, key);
            if (held != NULL)
              g_array_append_vals (out, held, 1);
          }
    }
  else
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, self->map);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          SpotCandle *held = value;

          if (spot_granularity_set_contains (granularities, held->granularity))
            g_array_append_vals (out, held, 1);
        }
    }
  g_mutex_unlock (&self->lock);
  if (product_ids == NULL)
    g_array_sort (out, compare_candle_keys);
  return out;
}

gboolean
spot_live_cache_is_synced (SpotLiveCache *self)
{
  gboolean synced;

  g_mutex_lock (&self->lock);
  synced = self->stats.synced;
  g_mutex_unlock (&self->lock);
  return synced;
}

gboolean
spot_live_cache_wait_synced (SpotLiveCache *self, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  gboolean synced;

  g_mutex_lock (&self->lock);
  while (!self->stats.synced)
    if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
      break;
  synced = self->stats.synced;
  g_mutex_unlock (&self->lock);
  return synced;
}

void
spot_live_cache_get_stats (SpotLiveCache *self, SpotLiveCacheStats *out)
{
  g_mutex_lock (&self->lock);
  *out = self->stats;
  out->keys = g_hash_table_size (self->map);
  g_mutex_unlock (&self->lock);
}

static void
apply_entry (SpotLiveCache *self, kvEntry *entry)
{
  g_autoptr (GError) error = NULL;
  const char *key = kvEntry_Key (entry);
  kvOperation op = kvEntry_Operation (entry);
  SpotCandle candle;

  if (op == kvOp_Delete || op == kvOp_Purge)
    {
      g_mutex_lock (&self->lock);
      g_hash_table_remove (self->map, key);
      g_mutex_unlock (&self->lock);
      return;
    }
  if (!spot_candle_from_json (kvEntry_Value (entry), (gssize)kvEntry_ValueLen (entry), &candle,
                              &error))
    {
      g_mutex_lock (&self->lock);
      self->stats.parse_errors++;
      g_mutex_unlock (&self->lock);
      spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, NULL, -1, -1,
                        "KV %s key %s holds no valid candle: %s", self->bucket, key,
                        error->message);
      return;
    }
  g_mutex_lock (&self->lock);
  apply_locked (self, key, &candle);
  g_mutex_unlock (&self->lock);
}

/* Sleeps up to @ms unless stopping; returns FALSE when stopping. */
static gboolean
pause_unless_stopping (SpotLiveCache *self, guint ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)ms * 1000;
  gboolean stopping;

  g_mutex_lock (&self->lock);
  while (!self->stopping)
    if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
      break;
  stopping = self->stopping;
  g_mutex_unlock (&self->lock);
  return !stopping;
}

static void
drop_watcher (SpotLiveCache *self, kvWatcher **watcher)
{
  if (*watcher == NULL)
    return;
  g_mutex_lock (&self->lock);
  self->watcher = NULL;
  g_mutex_unlock (&self->lock);
  kvWatcher_Destroy (*watcher);
  *watcher = NULL;
}

static gpointer
watcher_thread (gpointer user_data)
{
  SpotLiveCache *self = user_data;
  jsCtx *js = NULL;
  kvStore *kv = NULL;
  kvWatcher *watcher = NULL;
  guint backoff_ms = 250;
  jsOptions jo;

  spot_thread_set_background (SPOT_THREAD_BACKGROUND_NICE);
  jsOptions_Init (&jo);
  jo.Wait = 2000;
  if (natsConnection_JetStream (&js, self->nc, &jo) != NATS_OK)
    {
      g_warning ("live cache: cannot create a JetStream context: %s", nats_GetLastError (NULL));
      return NULL;
    }

  for (;;)
    {
      kvEntry *entry = NULL;
      natsStatus s;

      g_mutex_lock (&self->lock);
      if (self->stopping)
        {
          g_mutex_unlock (&self->lock);
          break;
        }
      g_mutex_unlock (&self->lock);

      if (kv == NULL || watcher == NULL)
        {
          g_autoptr (GError) error = NULL;
          kvWatchOptions wo;

          if (natsConnection_Status (self->nc) != NATS_CONN_STATUS_CONNECTED)
            {
              pause_unless_stopping (self, 100);
              continue;
            }
          if (kv == NULL)
            kv = spot_nats_kv_open (js, &self->kv_config, TRUE, &error);
          if (kv == NULL)
            {
              spot_log_limited (30000, 2, G_LOG_LEVEL_WARNING, NULL, -1, -1,
                                "live cache: KV bucket not available yet: %s", error->message);
              pause_unless_stopping (self, backoff_ms);
              backoff_ms = MIN (backoff_ms * 2, 5000);
              continue;
            }
          kvWatchOptions_Init (&wo);
          wo.Timeout = 2000;
          s = kvStore_WatchAll (&watcher, kv, &wo);
          if (s != NATS_OK)
            {
              watcher = NULL;
              spot_log_limited (30000, 2, G_LOG_LEVEL_WARNING, NULL, -1, -1,
                                "live cache: cannot watch KV %s: %s", self->bucket,
                                natsStatus_GetText (s));
              pause_unless_stopping (self, backoff_ms);
              backoff_ms = MIN (backoff_ms * 2, 5000);
              continue;
            }
          backoff_ms = 250;
          g_mutex_lock (&self->lock);
          self->watcher = watcher;
          if (self->stopping)
            kvWatcher_Stop (watcher);
          g_mutex_unlock (&self->lock);
          g_debug ("live cache: watching KV %s", self->bucket);
        }

      s = kvWatcher_Next (&entry, watcher, WATCH_POLL_MS);
      if (s == NATS_OK)
        {
          if (entry == NULL)
            {
              g_mutex_lock (&self->lock);
              self->stats.synced = TRUE;
              g_cond_broadcast (&self->cond);
              g_mutex_unlock (&self->lock);
            }
          else
            {
              apply_entry (self, entry);
              kvEntry_Destroy (entry);
            }
          continue;
        }
      /* nats.c's ordered consumer behind the watcher re-creates itself after
       * a server restart or a gap. Destroying the watcher then was measured
       * to race with that (a use-after-free inside libnats 3.4.1 under
       * valgrind), so only hard errors replace it. */
      if (s == NATS_TIMEOUT)
        continue;
      drop_watcher (self, &watcher);
      g_mutex_lock (&self->lock);
      self->stats.watcher_restarts++;
      g_mutex_unlock (&self->lock);
      pause_unless_stopping (self, 250);
    }

  drop_watcher (self, &watcher);
  if (kv != NULL)
    kvStore_Destroy (kv);
  jsCtx_Destroy (js);
  nats_ReleaseThreadMemory ();
  return NULL;
}

gboolean
spot_live_cache_start (SpotLiveCache *self, GError **error)
{
  g_return_val_if_fail (self->thread == NULL, FALSE);

  if (self->nc == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "the live cache needs a NATS connection to watch KV %s", self->bucket);
      return FALSE;
    }
  self->stopping = FALSE;
  self->thread = g_thread_new ("spot-live-cache", watcher_thread, self);
  return TRUE;
}

void
spot_live_cache_stop (SpotLiveCache *self)
{
  if (self->thread == NULL)
    return;
  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  if (self->watcher != NULL)
    kvWatcher_Stop (self->watcher);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  g_thread_join (self->thread);
  self->thread = NULL;
}
