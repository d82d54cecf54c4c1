/* spot-controller.c: the controller interface and its signal. */
#define G_LOG_DOMAIN "spot-dbus"

#include "config.h"

#include "dbus/spot-controller.h"

#include "core/spot-error.h"

G_DEFINE_INTERFACE (SpotController, spot_controller, G_TYPE_OBJECT)

enum
{
  SIGNAL_PRODUCTS_CHANGED,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

static void
spot_controller_default_init (SpotControllerInterface *iface)
{
  /**
   * SpotController::products-changed:
   * @added: (array zero-terminated=1): ids that joined the active set
   * @removed: (array zero-terminated=1): ids that left it
   */
  signals[SIGNAL_PRODUCTS_CHANGED]
      = g_signal_new ("products-changed", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRV, G_TYPE_STRV);
}

char **
spot_controller_list_products (SpotController *self)
{
  SpotControllerInterface *iface;
  char **products;

  g_return_val_if_fail (SPOT_IS_CONTROLLER (self), NULL);
  iface = SPOT_CONTROLLER_GET_IFACE (self);
  g_return_val_if_fail (iface->list_products != NULL, NULL);
  products = iface->list_products (self);
  return products != NULL ? products : g_new0 (char *, 1);
}

void
spot_controller_add_products_async (SpotController *self,
                                    const char *const *product_ids,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_return_if_fail (SPOT_IS_CONTROLLER (self));
  g_return_if_fail (product_ids != NULL);
  SPOT_CONTROLLER_GET_IFACE (self)->add_products_async (self, product_ids, cancellable, callback,
                                                        user_data);
}

char **
spot_controller_add_products_finish (SpotController *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (SPOT_IS_CONTROLLER (self), NULL);
  return SPOT_CONTROLLER_GET_IFACE (self)->add_products_finish (self, result, error);
}

void
spot_controller_remove_products_async (SpotController *self,
                                       const char *const *product_ids,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  g_return_if_fail (SPOT_IS_CONTROLLER (self));
  g_return_if_fail (product_ids != NULL);
  SPOT_CONTROLLER_GET_IFACE (self)->remove_products_async (self, product_ids, cancellable, callback,
                                                           user_data);
}

char **
spot_controller_remove_products_finish (SpotController *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (SPOT_IS_CONTROLLER (self), NULL);
  return SPOT_CONTROLLER_GET_IFACE (self)->remove_products_finish (self, result, error);
}

gboolean
spot_controller_get_candle (SpotController *self,
                            const char *product_id,
                            SpotGranularity granularity,
                            SpotCandle *out,
                            GError **error)
{
  SpotControllerInterface *iface;

  g_return_val_if_fail (SPOT_IS_CONTROLLER (self), FALSE);
  g_return_val_if_fail (product_id != NULL && out != NULL, FALSE);
  iface = SPOT_CONTROLLER_GET_IFACE (self);
  if (iface->get_candle == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND, "no live candles in this instance");
      return FALSE;
    }
  return iface->get_candle (self, product_id, granularity, out, error);
}

GVariant *
spot_controller_get_status (SpotController *self)
{
  SpotControllerInterface *iface;
  GVariant *status = NULL;

  g_return_val_if_fail (SPOT_IS_CONTROLLER (self), NULL);
  iface = SPOT_CONTROLLER_GET_IFACE (self);
  if (iface->get_status != NULL)
    status = iface->get_status (self);
  if (status == NULL || !g_variant_is_of_type (status, G_VARIANT_TYPE_VARDICT))
    {
      if (status != NULL)
        {
          g_warning ("controller status has type %s, not a{sv}: ignored",
                     g_variant_get_type_string (status));
          g_variant_unref (g_variant_ref_sink (status));
        }
      status = g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0);
    }
  return g_variant_ref_sink (status);
}

gboolean
spot_controller_reconnect (SpotController *self, GError **error)
{
  SpotControllerInterface *iface;

  g_return_val_if_fail (SPOT_IS_CONTROLLER (self), FALSE);
  iface = SPOT_CONTROLLER_GET_IFACE (self);
  if (iface->reconnect == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_FAILED, "this instance cannot reconnect");
      return FALSE;
    }
  return iface->reconnect (self, error);
}

void
spot_controller_emit_products_changed (SpotController *self,
                                       const char *const *added,
                                       const char *const *removed)
{
  static const char *const empty[] = { NULL };

  g_return_if_fail (SPOT_IS_CONTROLLER (self));
  g_signal_emit (self, signals[SIGNAL_PRODUCTS_CHANGED], 0, added != NULL ? added : empty,
                 removed != NULL ? removed : empty);
}
