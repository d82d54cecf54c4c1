/* spot-repository.h: the candle and product store behind a database thread.
 *
 * A SpotRepository owns one libpq connection used only by its own thread.
 * Each request is queued to that thread and its result delivered through a
 * GAsyncReadyCallback in the thread-default main context of the caller (a
 * GTask), so the main loop never blocks on PostgreSQL. Synchronous variants
 * (`_sync`) wait on the calling thread: for the `migrate` command, tools and
 * tests, never the main loop. A lost connection is reopened on the next
 * request; a request that failed because the connection broke is retried
 * once on a fresh one (every request is idempotent).
 *
 * Thread safety: the async functions, is_connected and the counters may be
 * called from any thread; callbacks run in the caller's context.
 */
#pragma once

#include <gio/gio.h>
#include <libpq-fe.h>

#include "model/spot-candle.h"
#include "model/spot-product.h"
#include "store/spot-store-queries.h"

G_BEGIN_DECLS

#define SPOT_TYPE_REPOSITORY (spot_repository_get_type ())
G_DECLARE_FINAL_TYPE (SpotRepository, spot_repository, SPOT, REPOSITORY, GObject)

/* Starts the thread and connects there (never blocks the caller). */
SpotRepository *spot_repository_new (const char *conninfo);

/* Stops the database thread and joins it: a connect in progress (to a
 * server that never answers, say) is abandoned at once, queued and later
 * requests fail with SPOT_ERROR_CLOSED. A statement the server is running
 * still runs to its end. Idempotent; the owner's thread (not the database
 * thread). Finalizing does the same without the interrupt. */
void spot_repository_close (SpotRepository *self);

/* TRUE when the last database call succeeded. Any thread. */
gboolean spot_repository_is_connected (SpotRepository *self);
/* The last connection or query error (NULL when connected), newly allocated. */
char *spot_repository_dup_last_error (SpotRepository *self);

/* Runs @func on the database thread. Its return value (freed with
 * @result_free when nobody takes it) is what _finish returns. */
typedef gpointer (*SpotRepositoryFunc) (PGconn *conn, gpointer data, GError **error);

void spot_repository_run_async (SpotRepository *self,
                                SpotRepositoryFunc func,
                                gpointer data,
                                GDestroyNotify data_free,
                                GDestroyNotify result_free,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
gpointer spot_repository_run_finish (SpotRepository *self, GAsyncResult *result, GError **error);
/* Blocks the calling thread (not the main loop) until @func ran. For a
 * function returning nothing meaningful, it returns GINT_TO_POINTER (1). */
gpointer spot_repository_run_sync (SpotRepository *self,
                                   SpotRepositoryFunc func,
                                   gpointer data,
                                   GError **error);

/* Applies pending built-in migrations. */
void spot_repository_migrate_async (SpotRepository *self,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean spot_repository_migrate_finish (SpotRepository *self, GAsyncResult *result, GError **error);
gboolean spot_repository_migrate_sync (SpotRepository *self, GError **error);

/* GetActiveProducts: GPtrArray of SpotProduct*. */
void spot_repository_get_active_products_async (SpotRepository *self,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback,
                                                gpointer user_data);
GPtrArray *spot_repository_get_active_products_finish (SpotRepository *self,
                                                       GAsyncResult *result,
                                                       GError **error);

/* Create or update (spot_store_put_product). */
void spot_repository_put_product_async (SpotRepository *self,
                                        const SpotProduct *product,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
gboolean spot_repository_put_product_finish (SpotRepository *self, GAsyncResult *result, GError **error);

/* Activate / deactivate (SPOT_ERROR_NOT_FOUND for an unknown product). */
void spot_repository_set_product_active_async (SpotRepository *self,
                                               const char *product_id,
                                               gboolean active,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer user_data);
gboolean spot_repository_set_product_active_finish (SpotRepository *self,
                                                    GAsyncResult *result,
                                                    GError **error);

/* Makes exactly @product_ids active (PRODUCTS at start-up). */
void spot_repository_replace_active_products_async (SpotRepository *self,
                                                    const char *const *product_ids,
                                                    GCancellable *cancellable,
                                                    GAsyncReadyCallback callback,
                                                    gpointer user_data);
gboolean spot_repository_replace_active_products_finish (SpotRepository *self,
                                                         GAsyncResult *result,
                                                         GError **error);

/* Seeding (spot_store_load_seed); free the result with spot_store_seed_free. */
void spot_store_seed_free (SpotStoreSeed *seed);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotStoreSeed, spot_store_seed_free)
void spot_repository_load_seed_async (SpotRepository *self,
                                      const char *product_id,
                                      gint64 now_s,
                                      gint64 horizon_s,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
SpotStoreSeed *spot_repository_load_seed_finish (SpotRepository *self,
                                                 GAsyncResult *result,
                                                 GError **error);

/* A late repair through the database (spot_store_apply_repair); @minute may
 * be NULL. Returns the written rows (GArray of SpotCandle). */
void spot_repository_apply_repair_async (SpotRepository *self,
                                         const char *product_id,
                                         gint64 minute_start,
                                         const SpotCandle *minute,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
GArray *spot_repository_apply_repair_finish (SpotRepository *self,
                                             GAsyncResult *result,
                                             GError **error);

/* /api/candles (spot_store_query_history): GArray of SpotCandle. Invalid
 * arguments fail with SPOT_ERROR_INVALID_ARGUMENT (HTTP 400). */
void spot_repository_query_history_async (SpotRepository *self,
                                          const char *product_id,
                                          SpotGranularity granularity,
                                          gint64 start_s,
                                          gint64 end_s,
                                          guint limit,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
GArray *spot_repository_query_history_finish (SpotRepository *self,
                                              GAsyncResult *result,
                                              GError **error);

/* UpsertLiveCandle / UpsertLiveCandleBatch outside the batch writer (the
 * engine's repairs, seeding from REST). Returns the number of rows applied
 * through *@n_applied in _finish. */
void spot_repository_upsert_candles_async (SpotRepository *self,
                                          const SpotCandle *candles,
                                          guint n,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
gboolean spot_repository_upsert_candles_finish (SpotRepository *self,
                                               GAsyncResult *result,
                                               guint *n_applied,
                                               GError **error);

G_END_DECLS
