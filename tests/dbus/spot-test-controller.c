/* spot-test-controller.c: in-memory controller for the D-Bus tests. */
#define G_LOG_DOMAIN "spot-dbus-test"

#include "config.h"

#include "spot-test-controller.h"

#include <string.h>

#include "core/spot-error.h"

struct _SpotTestController
{
  GObject parent_instance;

  GTree *products;     /* id -> NULL, sorted */
  GHashTable *candles; /* "PRODUCT.GRANULARITY" -> SpotCandle */
  guint reconnects;
  SpotError fail_code;
  char *fail_message; /* NULL: do not fail */
};

static void spot_test_controller_iface_init (SpotControllerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SpotTestController,
                               spot_test_controller,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SPOT_TYPE_CONTROLLER,
                                                      spot_test_controller_iface_init))

static gboolean
collect_key (gpointer key, gpointer value, gpointer user_data)
{
  g_ptr_array_add (user_data, g_strdup (key));
  return FALSE;
}

static char **
test_list_products (SpotController *controller)
{
  SpotTestController *self = SPOT_TEST_CONTROLLER (controller);
  GPtrArray *ids = g_ptr_array_new ();

  g_tree_foreach (self->products, collect_key, ids);
  /* Newest-first like a hash table might give them: the D-Bus object must
   * sort (ListProducts promises a sorted list). */
  for (guint i = 0; i < ids->len / 2; i++)
    {
      gpointer tmp = ids->pdata[i];
      ids->pdata[i] = ids->pdata[ids->len - 1 - i];
      ids->pdata[ids->len - 1 - i] = tmp;
    }
  g_ptr_array_add (ids, NULL);
  return (char **)g_ptr_array_free (ids, FALSE);
}

static gboolean
take_failure (SpotTestController *self, GTask *task)
{
  if (self->fail_message == NULL)
    return FALSE;
  g_task_return_new_error (task, SPOT_ERROR, self->fail_code, "%s", self->fail_message);
  g_clear_pointer (&self->fail_message, g_free);
  return TRUE;
}

/* Runs from an idle so callers see a truly asynchronous completion. */
static gboolean
add_idle (gpointer user_data)
{
  GTask *task = user_data;
  SpotTestController *self = g_task_get_source_object (task);
  const char *const *ids = g_task_get_task_data (task);
  GPtrArray *added = g_ptr_array_new ();

  if (take_failure (self, task))
    {
      g_ptr_array_unref (added);
      return G_SOURCE_REMOVE;
    }
  for (guint i = 0; ids[i] != NULL; i++)
    if (g_tree_lookup_extended (self->products, ids[i], NULL, NULL) == FALSE)
      {
        g_tree_insert (self->products, g_strdup (ids[i]), NULL);
        g_ptr_array_add (added, g_strdup (ids[i]));
      }
  g_ptr_array_add (added, NULL);
  if (added->len > 1)
    spot_controller_emit_products_changed (SPOT_CONTROLLER (self),
                                           (const char *const *)added->pdata, NULL);
  g_task_return_pointer (task, g_ptr_array_free (added, FALSE), (GDestroyNotify)g_strfreev);
  return G_SOURCE_REMOVE;
}

static gboolean
remove_idle (gpointer user_data)
{
  GTask *task = user_data;
  SpotTestController *self = g_task_get_source_object (task);
  const char *const *ids = g_task_get_task_data (task);

  if (take_failure (self, task))
    return G_SOURCE_REMOVE;
  for (guint i = 0; ids[i] != NULL; i++)
    if (!g_tree_lookup_extended (self->products, ids[i], NULL, NULL))
      {
        g_task_return_new_error (task, SPOT_ERROR, SPOT_ERROR_NOT_FOUND,
                                 "product “%s” is not in the active set", ids[i]);
        return G_SOURCE_REMOVE;
      }
  for (guint i = 0; ids[i] != NULL; i++)
    g_tree_remove (self->products, ids[i]);
  spot_controller_emit_products_changed (SPOT_CONTROLLER (self), NULL, ids);
  g_task_return_pointer (task, g_strdupv ((char **)ids), (GDestroyNotify)g_strfreev);
  return G_SOURCE_REMOVE;
}

static void
start_task (SpotController *controller,
            const char *const *ids,
            GSourceFunc func,
            gpointer tag,
            GCancellable *cancellable,
            GAsyncReadyCallback callback,
            gpointer user_data)
{
  GTask *task = g_task_new (controller, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, g_strdupv ((char **)ids), (GDestroyNotify)g_strfreev);
  g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, func, task, g_object_unref);
}

static void
test_add_async (SpotController *controller,
                const char *const *ids,
                GCancellable *cancellable,
                GAsyncReadyCallback callback,
                gpointer user_data)
{
  start_task (controller, ids, add_idle, test_add_async, cancellable, callback, user_data);
}

static void
test_remove_async (SpotController *controller,
                   const char *const *ids,
                   GCancellable *cancellable,
                   GAsyncReadyCallback callback,
                   gpointer user_data)
{
  start_task (controller, ids, remove_idle, test_remove_async, cancellable, callback, user_data);
}

static char **
test_finish (SpotController *controller, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static char *
candle_key (const char *product_id, SpotGranularity granularity)
{
  return g_strdup_printf ("%s.%s", product_id, spot_granularity_name (granularity));
}

static gboolean
test_get_candle (SpotController *controller,
                 const char *product_id,
                 SpotGranularity granularity,
                 SpotCandle *out,
                 GError **error)
{
  SpotTestController *self = SPOT_TEST_CONTROLLER (controller);
  g_autofree char *key = candle_key (product_id, granularity);
  const SpotCandle *candle = g_hash_table_lookup (self->candles, key);

  if (candle == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND, "no live %s candle for %s",
                   spot_granularity_name (granularity), product_id);
      return FALSE;
    }
  *out = *candle;
  return TRUE;
}

static GVariant *
test_get_status (SpotController *controller)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "controller", g_variant_new_string ("test"));
  return g_variant_builder_end (&builder);
}

static gboolean
test_reconnect (SpotController *controller, GError **error)
{
  SPOT_TEST_CONTROLLER (controller)->reconnects++;
  return TRUE;
}

static void
spot_test_controller_iface_init (SpotControllerInterface *iface)
{
  iface->list_products = test_list_products;
  iface->add_products_async = test_add_async;
  iface->add_products_finish = test_finish;
  iface->remove_products_async = test_remove_async;
  iface->remove_products_finish = test_finish;
  iface->get_candle = test_get_candle;
  iface->get_status = test_get_status;
  iface->reconnect = test_reconnect;
}

static void
spot_test_controller_finalize (GObject *object)
{
  SpotTestController *self = SPOT_TEST_CONTROLLER (object);

  g_tree_unref (self->products);
  g_hash_table_unref (self->candles);
  g_free (self->fail_message);
  G_OBJECT_CLASS (spot_test_controller_parent_class)->finalize (object);
}

static void
spot_test_controller_class_init (SpotTestControllerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = spot_test_controller_finalize;
}

static int
compare_ids (gconstpointer a, gconstpointer b, gpointer user_data)
{
  return strcmp (a, b);
}

static void
spot_test_controller_init (SpotTestController *self)
{
  self->products = g_tree_new_full (compare_ids, NULL, g_free, NULL);
  self->candles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

SpotTestController *
spot_test_controller_new (const char *const *products)
{
  SpotTestController *self = g_object_new (SPOT_TYPE_TEST_CONTROLLER, NULL);

  for (guint i = 0; products != NULL && products[i] != NULL; i++)
    g_tree_insert (self->products, g_strdup (products[i]), NULL);
  return self;
}

void
spot_test_controller_put_candle (SpotTestController *self, const SpotCandle *candle)
{
  g_hash_table_replace (self->candles, candle_key (candle->product_id, candle->granularity),
                        g_memdup2 (candle, sizeof *candle));
}

void
spot_test_controller_fail_next (SpotTestController *self, SpotError code, const char *message)
{
  self->fail_code = code;
  g_free (self->fail_message);
  self->fail_message = g_strdup (message);
}

guint
spot_test_controller_reconnects (SpotTestController *self)
{
  return self->reconnects;
}

gboolean
spot_test_controller_has_product (SpotTestController *self, const char *product_id)
{
  return g_tree_lookup_extended (self->products, product_id, NULL, NULL);
}

void
spot_test_candle_init (SpotCandle *candle,
                       const char *product_id,
                       SpotGranularity granularity,
                       gint64 start)
{
  memset (candle, 0, sizeof *candle);
  g_strlcpy (candle->product_id, product_id, sizeof candle->product_id);
  candle->granularity = granularity;
  candle->start = spot_granularity_align (granularity, start);
  g_assert_true (spot_decimal_parse ("68900.50", -1, &candle->open, NULL));
  g_assert_true (spot_decimal_parse ("68950.00", -1, &candle->high, NULL));
  g_assert_true (spot_decimal_parse ("68890.25", -1, &candle->low, NULL));
  g_assert_true (spot_decimal_parse ("68910.75", -1, &candle->close, NULL));
  g_assert_true (spot_decimal_parse ("1.50000000", -1, &candle->volume, NULL));
  candle->trades = 12;
  candle->last_trade_id = 995098701;
  candle->complete = FALSE;
  candle->rev = 3;
  candle->ts_ns = (candle->start + 30) * G_GINT64_CONSTANT (1000000000);
}
