/* spot-nats-kv.h: the live-candles KV bucket: configuration, create or bind.
 *
 * The bucket holds, per key <PRODUCT>.<GRANULARITY>, the JSON of the candle
 * with the greatest start (history 1). Values are written by the publisher
 * with asynchronous JetStream publishes to $KV.<bucket>.<key> and read by
 * the live cache's watcher.
 *
 * Thread safety: spot_nats_kv_open() blocks (JetStream API requests): call it
 * from a worker thread, never from the main loop.
 */
#pragma once

#include <glib.h>
#include <nats/nats.h>

G_BEGIN_DECLS

typedef struct
{
  const char *bucket; /* SPOT_NATS_KV_BUCKET_DEFAULT */
  gint64 ttl_ms;      /* 0: values never expire */
  gint replicas;      /* 1; up to 5 in a cluster */
  gboolean memory;    /* memory storage instead of file */
} SpotNatsKvConfig;

void spot_nats_kv_config_init (SpotNatsKvConfig *config);

/* Binds to the bucket; when it does not exist and @create is TRUE, creates
 * it with @config (another instance creating it at the same time is fine).
 * An existing bucket is used as it is, whatever its TTL and replicas. */
kvStore *
spot_nats_kv_open (jsCtx *js, const SpotNatsKvConfig *config, gboolean create, GError **error);

G_END_DECLS
