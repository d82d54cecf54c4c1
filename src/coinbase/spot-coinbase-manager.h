/* spot-coinbase-manager.h: the ConnectionManager (DESIGN.md section 1).
 *
 * Splits the subscribed products into connections of at most
 * PRODUCTS_PER_CONNECTION products; opens them staggered by CONNECT_RATE
 * and sends every subscribe message under one global SUBSCRIBE_RATE (both
 * per process: Coinbase allows about 8 of each per second per IP). Products
 * added at run time go to a connection with room (or a new one) and
 * products removed are unsubscribed: only the connections concerned send
 * anything. Each connection has its own inbox and parse lane
 * (spot-coinbase-connection.h).
 *
 * Thread safety: main thread only, except _get_stats (any thread).
 */
#pragma once

#include "aggregate/spot-sharded-aggregator.h"
#include "coinbase/spot-coinbase-connection.h"
#include "coinbase/spot-coinbase-jwt.h"
#include "coinbase/spot-coinbase-options.h"

G_BEGIN_DECLS

typedef struct _SpotCoinbaseManager SpotCoinbaseManager;

/* @aggregator, @key (may be NULL), @metrics (SpotMetrics*, may be NULL) and
 * @monitor (SpotBackpressureMonitor*, may be NULL) must outlive the manager. */
SpotCoinbaseManager *spot_coinbase_manager_new (const SpotCoinbaseOptions *options,
                                                SpotShardedAggregator *aggregator,
                                                SpotCoinbaseKey *key,
                                                gpointer metrics,
                                                gpointer monitor);
/* Stops (if not yet) and frees. */
void spot_coinbase_manager_free (SpotCoinbaseManager *manager);

/* Subscribes products (already subscribed ones are ignored); connections
 * are created and started as needed. */
void spot_coinbase_manager_add_products (SpotCoinbaseManager *manager,
                                         const char *const *product_ids);
void spot_coinbase_manager_remove_products (SpotCoinbaseManager *manager,
                                            const char *const *product_ids);
/* Newly allocated NULL-terminated list of the subscribed products. */
char **spot_coinbase_manager_dup_products (SpotCoinbaseManager *manager);

guint spot_coinbase_manager_get_n_connections (SpotCoinbaseManager *manager);
/* Connections whose WebSocket is open now. */
guint spot_coinbase_manager_get_n_open (SpotCoinbaseManager *manager);
SpotCoinbaseConnection *spot_coinbase_manager_get_connection (SpotCoinbaseManager *manager,
                                                              guint index);

/* Closes every WebSocket and reconnects (after backoff). */
void spot_coinbase_manager_reconnect (SpotCoinbaseManager *manager);

/* Graceful close: close frames, inboxes drained into the aggregator,
 * parse lanes joined. Final. Call before stopping the aggregator. */
void spot_coinbase_manager_stop (SpotCoinbaseManager *manager);

/* WebSockets still finishing their close handshake after stop (each
 * gives up after 2 s); a shutdown that wants the close frames out keeps
 * its main loop running until this is 0. */
guint spot_coinbase_manager_get_closing (SpotCoinbaseManager *manager);

/* Sums over connections. */
void spot_coinbase_manager_get_stats (SpotCoinbaseManager *manager,
                                      SpotCoinbaseConnectionStats *out);

/* Records the monotonic time of each WebSocket open attempt and subscribe
 * message sent (tests of the rate limits); returns the arrays (gint64 us),
 * owned by the manager. */
void spot_coinbase_manager_record_times (SpotCoinbaseManager *manager,
                                         GArray **open_times,
                                         GArray **subscribe_times);

G_END_DECLS
