/* spot-coinbase-rest.h: Coinbase's public REST endpoints (DESIGN.md
 * section 3): the products list and ONE_MINUTE (or any) candles.
 *
 * Every request goes through one pacer at REST_RATE (Coinbase allows about
 * 10 public requests per second per IP) and is retried with backoff on
 * network errors, 429 and 5xx, up to rest_retries attempts. Responses are
 * parsed with the same bad-input rules as the WebSocket: a candle with a bad
 * field fails the whole response (it would otherwise replace a minute with
 * wrong data).
 *
 * Thread safety: main thread only (libsoup on the main context); callbacks
 * run there.
 */
#pragma once

#include <gio/gio.h>

#include "coinbase/spot-coinbase-options.h"
#include "model/spot-candle.h"
#include "model/spot-product.h"

G_BEGIN_DECLS

#define SPOT_COINBASE_REST_MAX_CANDLES 300

typedef struct _SpotCoinbaseRest SpotCoinbaseRest;

/* Product metadata from the products list. */
typedef struct
{
  SpotProduct *product; /* id, base, quote, status, active = tradable SPOT */
  char *product_type;
  gboolean trading_disabled;
  gboolean is_disabled;
} SpotCoinbaseProductInfo;

void spot_coinbase_product_info_free (SpotCoinbaseProductInfo *info);

SpotCoinbaseRest *spot_coinbase_rest_new (const SpotCoinbaseOptions *options);
void spot_coinbase_rest_free (SpotCoinbaseRest *rest);
/* Cancels queued and running requests (their callbacks get CANCELLED). */
void spot_coinbase_rest_cancel_all (SpotCoinbaseRest *rest);

/* Requests sent so far (for tests and tools). */
guint64 spot_coinbase_rest_get_requests (SpotCoinbaseRest *rest);

/* Every product (GPtrArray of SpotCoinbaseProductInfo*). */
void spot_coinbase_rest_list_products_async (SpotCoinbaseRest *rest,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data);
GPtrArray *spot_coinbase_rest_list_products_finish (SpotCoinbaseRest *rest,
                                                    GAsyncResult *result,
                                                    GError **error);

/* For PRODUCTS=all: online SPOT products whose trading is not disabled. */
gboolean spot_coinbase_product_info_is_tradable (const SpotCoinbaseProductInfo *info);

/* Candles of @granularity with start in [@start, @end] (epoch seconds,
 * inclusive, at most SPOT_COINBASE_REST_MAX_CANDLES buckets): a GArray of
 * SpotCandle (trades, last_trade_id and ts unknown, complete TRUE), oldest
 * first. Buckets without trades are absent, as on the exchange. */
void spot_coinbase_rest_get_candles_async (SpotCoinbaseRest *rest,
                                           const char *product_id,
                                           SpotGranularity granularity,
                                           gint64 start,
                                           gint64 end,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
GArray *spot_coinbase_rest_get_candles_finish (SpotCoinbaseRest *rest,
                                               GAsyncResult *result,
                                               GError **error);

/* Pure: parses a candles response body (tests, fuzzing). */
GArray *spot_coinbase_rest_parse_candles (const char *body,
                                          gsize len,
                                          const char *product_id,
                                          SpotGranularity granularity,
                                          GError **error);
/* Pure: parses a products response body. */
GPtrArray *spot_coinbase_rest_parse_products (const char *body, gsize len, GError **error);

G_END_DECLS
