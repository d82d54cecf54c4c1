/* spot-nats-kv.c: create or bind the live-candles bucket. */
#define G_LOG_DOMAIN "spot-nats"

#include "nats/spot-nats-kv.h"

#include <string.h>

#include "core/spot-error.h"
#include "nats/spot-nats-subject.h"

void
spot_nats_kv_config_init (SpotNatsKvConfig *config)
{
  memset (config, 0, sizeof *config);
  config->bucket = SPOT_NATS_KV_BUCKET_DEFAULT;
  config->replicas = 1;
}

kvStore *
spot_nats_kv_open (jsCtx *js, const SpotNatsKvConfig *config, gboolean create, GError **error)
{
  kvStore *kv = NULL;
  kvConfig cfg;
  natsStatus s;

  if (!spot_nats_bucket_name_validate (config->bucket, error))
    return NULL;

  s = js_KeyValue (&kv, js, config->bucket);
  if (s == NATS_OK)
    return kv;
  if (s != NATS_NOT_FOUND || !create)
    {
      g_set_error (error, SPOT_ERROR, s == NATS_NOT_FOUND ? SPOT_ERROR_NOT_FOUND : SPOT_ERROR_NATS,
                   "KV bucket “%s”: %s (%s)", config->bucket, natsStatus_GetText (s),
                   nats_GetLastError (NULL));
      return NULL;
    }

  kvConfig_Init (&cfg);
  cfg.Bucket = config->bucket;
  cfg.Description = "spot-canvas: newest candle per <PRODUCT>.<GRANULARITY>";
  cfg.History = 1;
  cfg.TTL = config->ttl_ms;
  cfg.Replicas = MAX (config->replicas, 1);
  cfg.StorageType = config->memory ? js_MemoryStorage : js_FileStorage;
  s = js_CreateKeyValue (&kv, js, &cfg);
  if (s == NATS_OK)
    {
      g_message ("created KV bucket %s (replicas %d, TTL %" G_GINT64_FORMAT " ms)", config->bucket,
                 cfg.Replicas, cfg.TTL);
      return kv;
    }
  /* Another instance may have created it meanwhile. */
  if (js_KeyValue (&kv, js, config->bucket) == NATS_OK)
    return kv;
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_NATS, "cannot create KV bucket “%s”: %s (%s)",
               config->bucket, natsStatus_GetText (s), nats_GetLastError (NULL));
  return NULL;
}
