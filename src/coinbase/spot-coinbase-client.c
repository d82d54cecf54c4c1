/* spot-coinbase-client.c: wires key, REST, repairer and manager. */
#define G_LOG_DOMAIN "spot-coinbase"

#include "coinbase/spot-coinbase-client.h"

#include "core/spot-error.h"
#include "core/spot-log.h"
#ifdef SPOT_COINBASE_HAVE_STORE
#include "store/spot-repository.h"
#endif

struct _SpotCoinbaseClient
{
  SpotCoinbaseOptions options;
  SpotShardedAggregator *aggregator;
  gpointer repository;
  SpotCoinbaseKey *key;
  SpotCoinbaseRest *rest;
  SpotCoinbaseRepairer *repairer;
  SpotCoinbaseManager *manager;
  gboolean stopped;
};

SpotCoinbaseClient *
spot_coinbase_client_new (const SpotCoinbaseOptions *options,
                          const char *key_name,
                          const char *key_file,
                          const char *key_text,
                          SpotShardedAggregator *aggregator,
                          gpointer repository,
                          gpointer metrics,
                          gpointer monitor,
                          GError **error)
{
  g_autoptr (GError) local = NULL;
  SpotCoinbaseKey *key = spot_coinbase_key_load (key_name, key_file, key_text, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  SpotCoinbaseClient *c = g_new0 (SpotCoinbaseClient, 1);
  spot_coinbase_options_copy (&c->options, options);
  c->aggregator = aggregator;
  c->repository = repository;
  c->key = key;
  if (key != NULL)
    g_message (
        "exchange subscriptions signed with CDP key %s (%s)", spot_coinbase_key_get_name (key),
        spot_coinbase_key_get_algorithm (key) == SPOT_COINBASE_KEY_ES256 ? "ES256" : "EdDSA");
  c->rest = spot_coinbase_rest_new (options);
  c->repairer = spot_coinbase_repairer_new (options, c->rest, aggregator, repository, metrics);
  c->manager = spot_coinbase_manager_new (options, aggregator, key, metrics, monitor);
  return c;
}

SpotCoinbaseClient *
spot_coinbase_client_new_from_config (const SpotConfig *config,
                                      SpotShardedAggregator *aggregator,
                                      gpointer repository,
                                      gpointer metrics,
                                      gpointer monitor,
                                      GError **error)
{
  SpotCoinbaseOptions options;
  spot_coinbase_options_from_config (&options, config);
  SpotCoinbaseClient *c = spot_coinbase_client_new (
      &options, config->coinbase_key_name, config->coinbase_key_file, config->coinbase_key,
      aggregator, repository, metrics, monitor, error);
  spot_coinbase_options_clear (&options);
  return c;
}

void
spot_coinbase_client_stop (SpotCoinbaseClient *c)
{
  if (c->stopped)
    return;
  c->stopped = TRUE;
  spot_coinbase_manager_stop (c->manager);
  spot_coinbase_rest_cancel_all (c->rest);
}

void
spot_coinbase_client_free (SpotCoinbaseClient *c)
{
  if (c == NULL)
    return;
  spot_coinbase_client_stop (c);
  spot_coinbase_manager_free (c->manager);
  spot_coinbase_repairer_free (c->repairer);
  spot_coinbase_rest_free (c->rest);
  spot_coinbase_key_free (c->key);
  spot_coinbase_options_clear (&c->options);
  g_free (c);
}

static char **
owned_subset (SpotCoinbaseClient *c, const char *const *ids)
{
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    if (spot_sharded_aggregator_owns_product (c->aggregator, ids[i]))
      g_ptr_array_add (out, g_strdup (ids[i]));
  g_ptr_array_add (out, NULL);
  return (char **)g_ptr_array_free (out, FALSE);
}

void
spot_coinbase_client_add_products (SpotCoinbaseClient *c, const char *const *product_ids)
{
  if (c->stopped)
    return;
  g_auto (GStrv) owned = owned_subset (c, product_ids);
  /* Only products not yet subscribed are seeded. */
  g_auto (GStrv) current = spot_coinbase_manager_dup_products (c->manager);
  GPtrArray *fresh = g_ptr_array_new ();
  for (guint i = 0; owned[i] != NULL; i++)
    if (!g_strv_contains ((const char *const *)current, owned[i]))
      g_ptr_array_add (fresh, owned[i]);
  g_ptr_array_add (fresh, NULL);
  spot_coinbase_repairer_seed_products (c->repairer, (const char *const *)fresh->pdata);
  spot_coinbase_manager_add_products (c->manager, (const char *const *)fresh->pdata);
  g_ptr_array_free (fresh, TRUE);
}

void
spot_coinbase_client_remove_products (SpotCoinbaseClient *c, const char *const *product_ids)
{
  spot_coinbase_manager_remove_products (c->manager, product_ids);
  spot_coinbase_repairer_remove_products (c->repairer, product_ids);
  for (guint i = 0; product_ids != NULL && product_ids[i] != NULL; i++)
    spot_sharded_aggregator_remove_product (c->aggregator, product_ids[i]);
}

void
spot_coinbase_client_queue_dirty (SpotCoinbaseClient *c, const SpotDirtyRange *ranges, guint n)
{
  spot_coinbase_repairer_queue_dirty (c->repairer, ranges, n);
}

SpotCoinbaseManager *
spot_coinbase_client_get_manager (SpotCoinbaseClient *c)
{
  return c->manager;
}

SpotCoinbaseRepairer *
spot_coinbase_client_get_repairer (SpotCoinbaseClient *c)
{
  return c->repairer;
}

SpotCoinbaseRest *
spot_coinbase_client_get_rest (SpotCoinbaseClient *c)
{
  return c->rest;
}

#ifdef SPOT_COINBASE_HAVE_STORE
static void
product_stored_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = data;
  if (!spot_repository_put_product_finish (SPOT_REPOSITORY (source), result, &error)
      && !g_error_matches (error, SPOT_ERROR, SPOT_ERROR_CANCELLED))
    spot_log (G_LOG_LEVEL_WARNING, G_LOG_DOMAIN, id, -1, -1, "product metadata not stored: %s",
              error->message);
}
#endif

static void
products_listed_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GTask) task = data;
  SpotCoinbaseClient *c = g_object_get_data (G_OBJECT (task), "client");
  (void)source;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) infos = spot_coinbase_rest_list_products_finish (c->rest, result, &error);
  const char *const *wanted = g_task_get_task_data (task);
  if (infos == NULL && wanted != NULL && !g_error_matches (error, SPOT_ERROR, SPOT_ERROR_CANCELLED))
    {
      /* Named products start without their metadata. */
      spot_log (G_LOG_LEVEL_WARNING, G_LOG_DOMAIN, NULL, -1, -1, "products list unavailable: %s",
                error->message);
      g_clear_error (&error);
      infos = g_ptr_array_new ();
    }
  if (infos == NULL)
    {
      g_prefix_error (&error, "PRODUCTS=all: ");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  GPtrArray *ids = g_ptr_array_new ();
  for (guint i = 0; i < infos->len; i++)
    {
      SpotCoinbaseProductInfo *info = g_ptr_array_index (infos, i);
      gboolean take = wanted != NULL ? g_strv_contains (wanted, info->product->product_id)
                                     : spot_coinbase_product_info_is_tradable (info);
      if (!take || !spot_sharded_aggregator_owns_product (c->aggregator, info->product->product_id))
        continue;
      g_ptr_array_add (ids, g_strdup (info->product->product_id));
#ifdef SPOT_COINBASE_HAVE_STORE
      if (c->repository != NULL)
        {
          info->product->active = TRUE;
          spot_repository_put_product_async (c->repository, info->product, NULL, product_stored_cb,
                                             g_strdup (info->product->product_id));
        }
#endif
    }
  /* Products asked for by name but unknown to the exchange still start:
   * the exchange answers their subscribe with an error, logged. */
  for (guint i = 0; wanted != NULL && wanted[i] != NULL; i++)
    if (!g_ptr_array_find_with_equal_func (ids, wanted[i], g_str_equal, NULL)
        && spot_sharded_aggregator_owns_product (c->aggregator, wanted[i]))
      {
        spot_log (G_LOG_LEVEL_WARNING, G_LOG_DOMAIN, wanted[i], -1, -1,
                  "product is not listed by the exchange");
        g_ptr_array_add (ids, g_strdup (wanted[i]));
      }
  g_ptr_array_add (ids, NULL);
  char **list = (char **)g_ptr_array_free (ids, FALSE);
  g_message ("starting %u products", g_strv_length (list));
  spot_coinbase_client_add_products (c, (const char *const *)list);
  g_task_return_pointer (task, list, (GDestroyNotify)g_strfreev);
}

void
spot_coinbase_client_start_async (SpotCoinbaseClient *c,
                                  gboolean all,
                                  const char *const *product_ids,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, spot_coinbase_client_start_async);
  /* A GTask needs a GObject source to carry the client: keep it as data. */
  g_object_set_data (G_OBJECT (task), "client", c);
  if (!all)
    g_task_set_task_data (task, g_strdupv ((char **)product_ids), (GDestroyNotify)g_strfreev);
  /* The products list also gives the metadata for the products table. */
  spot_coinbase_rest_list_products_async (c->rest, cancellable, products_listed_cb, task);
}

char **
spot_coinbase_client_start_finish (SpotCoinbaseClient *c, GAsyncResult *result, GError **error)
{
  (void)c;
  return g_task_propagate_pointer (G_TASK (result), error);
}
