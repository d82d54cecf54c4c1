/* spot-coinbase-client.h: the service's Coinbase side in one object: key,
 * REST client, repair coordinator with seeding, and ConnectionManager.
 *
 * start: resolves the products (a list, or PRODUCTS=all from the REST
 * products list: online SPOT products not disabled), stores their metadata
 * in the products table (when a repository is given), seeds each one and
 * subscribes it. Products added at run time go the same way; removed ones
 * are unsubscribed and dropped from the engine. The wiring (main.c) must
 * route the engine sink's emit_dirty to spot_coinbase_client_queue_dirty().
 *
 * Thread safety: main thread, except _queue_dirty and the stats getters.
 */
#pragma once

#include <gio/gio.h>

#include "aggregate/spot-sharded-aggregator.h"
#include "coinbase/spot-coinbase-jwt.h"
#include "coinbase/spot-coinbase-manager.h"
#include "coinbase/spot-coinbase-options.h"
#include "coinbase/spot-coinbase-repairer.h"
#include "coinbase/spot-coinbase-rest.h"

G_BEGIN_DECLS

typedef struct _SpotCoinbaseClient SpotCoinbaseClient;

/* Loads the key (COINBASE_KEY / COINBASE_KEY_FILE / COINBASE_KEY_NAME from
 * @config may be passed through @key_name/@key_file/@key_text): an unusable
 * key fails here with SPOT_ERROR_INVALID_CONFIG. @repository
 * (SpotRepository*), @metrics (SpotMetrics*) and @monitor
 * (SpotBackpressureMonitor*) may be NULL and must outlive the client. */
SpotCoinbaseClient *spot_coinbase_client_new (const SpotCoinbaseOptions *options,
                                              const char *key_name,
                                              const char *key_file,
                                              const char *key_text,
                                              SpotShardedAggregator *aggregator,
                                              gpointer repository,
                                              gpointer metrics,
                                              gpointer monitor,
                                              GError **error);
/* From a loaded configuration. */
SpotCoinbaseClient *spot_coinbase_client_new_from_config (const SpotConfig *config,
                                                          SpotShardedAggregator *aggregator,
                                                          gpointer repository,
                                                          gpointer metrics,
                                                          gpointer monitor,
                                                          GError **error);
/* Graceful close (stop), then frees. */
void spot_coinbase_client_free (SpotCoinbaseClient *client);

/* @all: every tradable product from REST; else @product_ids. Products
 * this instance does not own (SHARD_INDEX/COUNT) are skipped. Completes
 * once the products are known and subscribing has begun. */
void spot_coinbase_client_start_async (SpotCoinbaseClient *client,
                                       gboolean all,
                                       const char *const *product_ids,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
/* Returns the products started (NULL-terminated), or NULL with an error. */
char **spot_coinbase_client_start_finish (SpotCoinbaseClient *client,
                                          GAsyncResult *result,
                                          GError **error);

void spot_coinbase_client_add_products (SpotCoinbaseClient *client, const char *const *product_ids);
void spot_coinbase_client_remove_products (SpotCoinbaseClient *client,
                                           const char *const *product_ids);

/* Any thread: the engine sink's emit_dirty. */
void spot_coinbase_client_queue_dirty (SpotCoinbaseClient *client,
                                       const SpotDirtyRange *ranges,
                                       guint n);

/* Closes connections (close frames), drains inboxes, cancels REST work.
 * Final; call before stopping the aggregator. */
void spot_coinbase_client_stop (SpotCoinbaseClient *client);

SpotCoinbaseManager *spot_coinbase_client_get_manager (SpotCoinbaseClient *client);
SpotCoinbaseRepairer *spot_coinbase_client_get_repairer (SpotCoinbaseClient *client);
SpotCoinbaseRest *spot_coinbase_client_get_rest (SpotCoinbaseClient *client);

G_END_DECLS
