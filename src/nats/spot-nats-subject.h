/* spot-nats-subject.h: NATS subjects and KV keys for candles.
 *
 * Core subject:  candles.<PRODUCT>.<GRANULARITY>    (candles.BTC-USD.ONE_MINUTE)
 * KV key:        <PRODUCT>.<GRANULARITY>            (BTC-USD.ONE_MINUTE)
 * KV subject:    $KV.<bucket>.<PRODUCT>.<GRANULARITY>, what a KV put publishes to
 *
 * Product ids are [A-Z0-9]{1,16}-[A-Z0-9]{1,16} (model/spot-product.h), so no
 * token ever holds '.', '*', '>', ':' or a space.
 *
 * Thread safety: pure functions; call from any thread.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

#define SPOT_NATS_SUBJECT_PREFIX "candles"
/* The one subscription the service makes for candles. */
#define SPOT_NATS_SUBJECT_ALL "candles.>"
#define SPOT_NATS_KV_BUCKET_DEFAULT "live-candles"
/* Cross-instance product control (DESIGN.md section 4). */
#define SPOT_NATS_CONTROL_SUBJECT "spot.control.products"

/* Large enough for any key (33 + 1 + 14 + NUL). */
#define SPOT_NATS_KEY_SIZE 64
/* Large enough for any subject, KV subjects with bucket names up to 64 included. */
#define SPOT_NATS_SUBJECT_SIZE 160

/* Writes "<PRODUCT>.<GRANULARITY>" into @buf; returns its length (0 when
 * @size is too small or the granularity is invalid). */
gsize spot_nats_key_format (const char *product_id, SpotGranularity g, char *buf, gsize size);

/* Writes "candles.<PRODUCT>.<GRANULARITY>"; returns its length or 0. */
gsize spot_nats_subject_format (const char *product_id, SpotGranularity g, char *buf, gsize size);

/* Writes "$KV.<bucket>.<PRODUCT>.<GRANULARITY>"; returns its length or 0. */
gsize spot_nats_kv_subject_format (
    const char *bucket, const char *product_id, SpotGranularity g, char *buf, gsize size);

/* Parses a KV key "<PRODUCT>.<GRANULARITY>" (@len may be -1). @product_id
 * receives the id (SPOT_PRODUCT_ID_SIZE bytes). Errors (SPOT_ERROR_PARSE)
 * name the key. */
gboolean spot_nats_key_parse (const char *key,
                              gssize len,
                              char product_id[SPOT_PRODUCT_ID_SIZE],
                              SpotGranularity *granularity,
                              GError **error);

/* Parses "candles.<PRODUCT>.<GRANULARITY>" likewise. */
gboolean spot_nats_subject_parse (const char *subject,
                                  char product_id[SPOT_PRODUCT_ID_SIZE],
                                  SpotGranularity *granularity,
                                  GError **error);

/* KV bucket names allow A-Z a-z 0-9 _ - (1 to 64 characters). */
gboolean spot_nats_bucket_name_validate (const char *bucket, GError **error);

G_END_DECLS
