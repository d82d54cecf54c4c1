/* spot-controller.h: what the D-Bus object asks of the running service.
 *
 * SpotDbusService knows nothing of the pipeline: the orchestration implements
 * this interface (product control through the database, NATS and the
 * exchange connections; candles from the live cache) and the D-Bus object
 * only validates input, calls it and maps errors. Tests implement it in
 * memory.
 *
 * Inputs reaching a controller are already validated: product ids pass
 * spot_product_id_validate(), lists are non-empty and free of duplicates.
 *
 * Errors are SPOT_ERROR codes (INVALID_ARGUMENT, NOT_FOUND, DATABASE, NATS,
 * BUSY, CLOSED, ...) with a message naming the input at fault; D-Bus clients
 * see them as org.spotcanvas.SpotCanvas1.Error.<Code>.
 *
 * Thread safety: every vfunc is called on the thread whose thread-default
 * main context the D-Bus service runs on (the main thread), and must not
 * block it; async callbacks must complete on that context too. Emit
 * ::products-changed on that thread as well.
 */
#pragma once

#include <gio/gio.h>

#include "model/spot-candle.h"
#include "model/spot-granularity.h"

G_BEGIN_DECLS

#define SPOT_TYPE_CONTROLLER (spot_controller_get_type ())
G_DECLARE_INTERFACE (SpotController, spot_controller, SPOT, CONTROLLER, GObject)

struct _SpotControllerInterface
{
  GTypeInterface parent_iface;

  /* The deployment's active set, sorted; never NULL. Must be cheap (an
   * in-memory copy), it is called for every ListProducts and change. */
  char **(*list_products) (SpotController *self);

  /* Persist, apply live (seeding first) and announce to the other instances.
   * finish returns the ids that were not already active (possibly empty). */
  void (*add_products_async) (SpotController *self,
                              const char *const *product_ids,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
  char **(*add_products_finish) (SpotController *self, GAsyncResult *result, GError **error);

  /* An id outside the active set fails with SPOT_ERROR_NOT_FOUND and nothing
   * is removed. finish returns the ids removed. */
  void (*remove_products_async) (SpotController *self,
                                 const char *const *product_ids,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
  char **(*remove_products_finish) (SpotController *self, GAsyncResult *result, GError **error);

  /* The live candle with the greatest start, from an in-process cache
   * (never a blocking lookup). SPOT_ERROR_NOT_FOUND when there is none. */
  gboolean (*get_candle) (SpotController *self,
                          const char *product_id,
                          SpotGranularity granularity,
                          SpotCandle *out,
                          GError **error);

  /* Extra status entries (a{sv}, may be floating) merged over the
   * properties in GetStatus; NULL for none. */
  GVariant *(*get_status) (SpotController *self);

  /* Starts a reconnect of every exchange connection and returns at once. */
  gboolean (*reconnect) (SpotController *self, GError **error);
};

char **spot_controller_list_products (SpotController *self);

void spot_controller_add_products_async (SpotController *self,
                                         const char *const *product_ids,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
char **
spot_controller_add_products_finish (SpotController *self, GAsyncResult *result, GError **error);

void spot_controller_remove_products_async (SpotController *self,
                                            const char *const *product_ids,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
char **
spot_controller_remove_products_finish (SpotController *self, GAsyncResult *result, GError **error);

gboolean spot_controller_get_candle (SpotController *self,
                                     const char *product_id,
                                     SpotGranularity granularity,
                                     SpotCandle *out,
                                     GError **error);

/* Never NULL: an empty a{sv} when the controller has nothing to add. The
 * result is a full reference. */
GVariant *spot_controller_get_status (SpotController *self);

gboolean spot_controller_reconnect (SpotController *self, GError **error);

/* Emits ::products-changed (added, removed; either may be empty, NULL is
 * taken as empty). Call whenever the active set changes, whatever the
 * source (D-Bus, NATS control message, configuration), after the change is
 * visible through list_products. */
void spot_controller_emit_products_changed (SpotController *self,
                                            const char *const *added,
                                            const char *const *removed);

G_END_DECLS
