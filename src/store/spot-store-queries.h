/* spot-store-queries.h: the candle and product queries, synchronous.
 *
 * Each function runs on a libpq connection owned by the calling thread and
 * blocks until PostgreSQL answers: call them from a database thread (the
 * SpotRepository's, the SpotBatchWriter's), the `migrate` command, tools or
 * tests; never from the main loop (use SpotRepository's async wrappers there).
 *
 * All SQL is parameterised; decimals travel as text and come back exactly.
 * A candle that breaks the invariants is refused before any SQL is sent, with
 * SPOT_ERROR_INVALID_ARGUMENT naming it; database failures are
 * SPOT_ERROR_DATABASE.
 *
 * Thread safety: any thread, one connection per thread at a time.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

#include "model/spot-candle.h"
#include "model/spot-product.h"
#include "store/spot-store-sql.h"

G_BEGIN_DECLS

/* Largest `limit` accepted by spot_store_query_history(). */
#define SPOT_STORE_HISTORY_MAX_LIMIT 10000

/* UpsertLiveCandle: writes @candle unless the stored row has a higher rev or
 * is complete while @candle is not. *@applied (may be NULL) tells whether the
 * row was written. One round trip, prepared once per connection. */
gboolean spot_store_upsert_candle (PGconn *conn,
                                   const SpotCandle *candle,
                                   gboolean *applied,
                                   GError **error);

/* UpsertLiveCandleBatch: the same rule for @n candles in one round trip (COPY
 * takes three). Several versions of one key in the batch are reduced to the
 * winner first. Any invalid candle fails the whole call before SQL is sent.
 * *@n_applied (may be NULL) is the number of rows inserted or replaced. */
gboolean spot_store_upsert_candles (PGconn *conn,
                                    SpotStoreStrategy strategy,
                                    const SpotCandle *candles,
                                    guint n,
                                    guint *n_applied,
                                    GError **error);

/* Products. Arrays hold SpotProduct* and free them. */
GPtrArray *spot_store_get_products (PGconn *conn, gboolean active_only, GError **error);
/* Creates @product (with its active flag) or, when it exists, updates base,
 * quote and status and leaves `active` as stored. */
gboolean spot_store_put_product (PGconn *conn, const SpotProduct *product, GError **error);
/* Updates base, quote and status of an existing product (SPOT_ERROR_NOT_FOUND
 * when missing). */
gboolean spot_store_update_product (PGconn *conn, const SpotProduct *product, GError **error);
/* Activates or deactivates @product_id (SPOT_ERROR_NOT_FOUND when missing). */
gboolean spot_store_set_product_active (PGconn *conn,
                                        const char *product_id,
                                        gboolean active,
                                        GError **error);
/* Makes exactly @product_ids active (creating missing ones with base/quote
 * taken from the id and status "online"), in one transaction: the PRODUCTS
 * setting at start-up. */
gboolean spot_store_replace_active_products (PGconn *conn,
                                             const char *const *product_ids,
                                             GError **error);

/* What seeding needs for one product (DESIGN.md section 2). */
typedef struct {
  GArray *candles;        /* SpotCandle, by granularity then start */
  guint64 last_trade_id;  /* highest stored, SPOT_CANDLE_TRADE_ID_UNKNOWN if none */
} SpotStoreSeed;

void spot_store_seed_clear (SpotStoreSeed *seed);

/* Loads, for @product_id at time @now_s: at every granularity the row of the
 * bucket holding @now_s and the closed rows inside each open parent bucket
 * (the children the engine needs to keep building), every incomplete row
 * that started at or after @horizon_s (closed ones become dirty), and the
 * highest stored last_trade_id. */
gboolean spot_store_load_seed (PGconn *conn,
                               const char *product_id,
                               gint64 now_s,
                               gint64 horizon_s,
                               SpotStoreSeed *out,
                               GError **error);

/* A late repair applied through the database, in one transaction: writes
 * @minute (a ONE_MINUTE candle, by the usual upsert rule; may be NULL to only
 * recompute), then for each level of the roll-up tree above it recomputes the
 * stored *complete* ancestor holding @minute_start from its stored children
 * and, when its values changed, writes it as a corrected complete revision
 * (rev + 1). Open ancestors are left to the engine, which holds them in
 * memory. Returns the rows written (SpotCandle), minute first. */
GArray *spot_store_apply_repair (PGconn *conn,
                                 const char *product_id,
                                 gint64 minute_start,
                                 const SpotCandle *minute,
                                 GError **error);

/* The history behind /api/candles: the newest @limit candles of one product
 * and granularity with @start_s <= start <= @end_s, returned oldest first.
 * Rejects a bad product id, start > end and limit outside 1..10000. */
GArray *spot_store_query_history (PGconn *conn,
                                  const char *product_id,
                                  SpotGranularity granularity,
                                  gint64 start_s,
                                  gint64 end_s,
                                  guint limit,
                                  GError **error);

G_END_DECLS
