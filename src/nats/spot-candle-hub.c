/* spot-candle-hub.c: one candles.> subscription fanned out on the main context. */
#define G_LOG_DOMAIN "spot-nats"

#include "nats/spot-candle-hub.h"

#include <stdatomic.h>
#include <string.h>

#include "core/spot-error.h"
#include "core/spot-log.h"
#include "model/spot-candle-json.h"
#include "model/spot-product.h"
#include "nats/spot-candle-coalescer.h"
#include "nats/spot-nats-subject.h"

typedef struct
{
  gint ref_count;
  guint id;
  char **product_ids; /* NULL: all */
  SpotGranularitySet granularities;
  SpotCandleHubFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
  GArray *pending; /* SpotCandle, filled during one delivery */
  gboolean removed;
} Client;

struct _SpotCandleHub
{
  GObject parent_instance;

  GMainContext *context;
  GSource *wakeup;
  SpotCandleCoalescer *queue;
  GArray *batch;           /* SpotCandleUpdate, owner thread */
  GHashTable *clients;     /* id -> Client* */
  GHashTable *by_product;  /* char* product -> GPtrArray<Client*> */
  GPtrArray *all_products; /* Client* selecting every product */
  GPtrArray *touched;      /* Client* with pending candles in this delivery */
  guint next_id;
  guint64 batches;
  guint64 delivered;

  /* What clients want, read by the subscription thread so unwanted messages
   * are not even decoded: per product, and for all products, a count of
   * clients per granularity. */
  GRWLock interest_lock;
  GHashTable *interest; /* char* product -> guint[SPOT_GRANULARITY_COUNT] */
  guint interest_all[SPOT_GRANULARITY_COUNT];
  atomic_uint_fast64_t filtered;
  atomic_uint n_clients;
  atomic_uint_fast64_t batches_pub; /* copies readable from any thread */
  atomic_uint_fast64_t delivered_pub;
  atomic_bool attached;
  /* Products this instance feeds through offer(): their NATS copies are
   * skipped (shard_count 0: none). Set before attach. */
  guint local_shard_index;
  guint local_shard_count;

  natsSubscription *sub;
  GMutex complete_lock;
  GCond complete_cond;
  gboolean sub_complete;
  atomic_uint_fast64_t parse_errors;
  atomic_uint_fast64_t local_skipped;
};

G_DEFINE_TYPE (SpotCandleHub, spot_candle_hub, G_TYPE_OBJECT)

static Client *
client_ref (Client *client)
{
  client->ref_count++;
  return client;
}

static void
client_unref (gpointer data)
{
  Client *client = data;

  if (--client->ref_count > 0)
    return;
  if (client->destroy != NULL)
    client->destroy (client->user_data);
  g_strfreev (client->product_ids);
  g_array_unref (client->pending);
  g_free (client);
}

static void
interest_add (SpotCandleHub *self, Client *client, gint delta)
{
  g_rw_lock_writer_lock (&self->interest_lock);
  for (guint i = 0; client->product_ids == NULL ? i < 1 : client->product_ids[i] != NULL; i++)
    {
      guint *counts;

      if (client->product_ids == NULL)
        counts = self->interest_all;
      else
        {
          counts = g_hash_table_lookup (self->interest, client->product_ids[i]);
          if (counts == NULL)
            {
              counts = g_new0 (guint, SPOT_GRANULARITY_COUNT);
              g_hash_table_insert (self->interest, g_strdup (client->product_ids[i]), counts);
            }
        }
      for (gint g = 0; g < SPOT_GRANULARITY_COUNT; g++)
        if (spot_granularity_set_contains (client->granularities, g))
          counts[g] = (guint)((gint)counts[g] + delta);
    }
  g_rw_lock_writer_unlock (&self->interest_lock);
}

/* Any thread. */
static gboolean
interested (SpotCandleHub *self, const char *product_id, SpotGranularity g)
{
  gboolean wanted;
  guint *counts;

  g_rw_lock_reader_lock (&self->interest_lock);
  wanted = self->interest_all[g] > 0;
  if (!wanted && (counts = g_hash_table_lookup (self->interest, product_id)) != NULL)
    wanted = counts[g] > 0;
  g_rw_lock_reader_unlock (&self->interest_lock);
  return wanted;
}

static void
index_client (SpotCandleHub *self, Client *client)
{
  interest_add (self, client, 1);
  if (client->product_ids == NULL)
    {
      g_ptr_array_add (self->all_products, client_ref (client));
      return;
    }
  for (guint i = 0; client->product_ids[i] != NULL; i++)
    {
      GPtrArray *list = g_hash_table_lookup (self->by_product, client->product_ids[i]);

      if (list == NULL)
        {
          list = g_ptr_array_new_with_free_func (client_unref);
          g_hash_table_insert (self->by_product, g_strdup (client->product_ids[i]), list);
        }
      g_ptr_array_add (list, client_ref (client));
    }
}

static void
unindex_client (SpotCandleHub *self, Client *client)
{
  interest_add (self, client, -1);
  if (client->product_ids == NULL)
    {
      g_ptr_array_remove (self->all_products, client);
      return;
    }
  for (guint i = 0; client->product_ids[i] != NULL; i++)
    {
      GPtrArray *list = g_hash_table_lookup (self->by_product, client->product_ids[i]);

      if (list == NULL)
        continue;
      g_ptr_array_remove (list, client);
      if (list->len == 0)
        g_hash_table_remove (self->by_product, client->product_ids[i]);
    }
}

/* Product ids deduplicated, so a client is indexed once per product. */
static char **
dedup_products (const char *const *product_ids)
{
  g_autoptr (GPtrArray) out = NULL;

  if (product_ids == NULL)
    return NULL;
  out = g_ptr_array_new ();
  for (guint i = 0; product_ids[i] != NULL; i++)
    {
      gboolean seen = FALSE;

      for (guint j = 0; j < out->len && !seen; j++)
        seen = strcmp (g_ptr_array_index (out, j), product_ids[i]) == 0;
      if (!seen)
        g_ptr_array_add (out, g_strdup (product_ids[i]));
    }
  g_ptr_array_add (out, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

static void
collect (SpotCandleHub *self, GPtrArray *list, const SpotCandle *candle)
{
  if (list == NULL)
    return;
  for (guint i = 0; i < list->len; i++)
    {
      Client *client = g_ptr_array_index (list, i);

      if (client->removed
          || !spot_granularity_set_contains (client->granularities, candle->granularity))
        continue;
      if (client->pending->len == 0)
        g_ptr_array_add (self->touched, client_ref (client));
      g_array_append_vals (client->pending, candle, 1);
    }
}

static void
deliver (SpotCandleHub *self)
{
  g_autoptr (GPtrArray) touched = NULL;

  while (spot_candle_coalescer_drain (self->queue, &self->batch))
    {
      self->batches++;
      for (guint i = 0; i < self->batch->len; i++)
        {
          const SpotCandle *candle = &g_array_index (self->batch, SpotCandleUpdate, i).candle;

          collect (self, g_hash_table_lookup (self->by_product, candle->product_id), candle);
          collect (self, self->all_products, candle);
        }
      /* Callbacks may (un)subscribe: work on a private list of references. */
      touched = self->touched;
      self->touched = g_ptr_array_new_with_free_func (client_unref);
      for (guint i = 0; i < touched->len; i++)
        {
          Client *client = g_ptr_array_index (touched, i);

          if (!client->removed && client->pending->len > 0)
            {
              self->delivered += client->pending->len;
              client->func ((const SpotCandle *)(gpointer)client->pending->data,
                            client->pending->len, client->user_data);
            }
          g_array_set_size (client->pending, 0);
        }
      g_clear_pointer (&touched, g_ptr_array_unref);
    }
  atomic_store (&self->batches_pub, self->batches);
  atomic_store (&self->delivered_pub, self->delivered);
}

static gboolean
wakeup_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs wakeup_funcs = {
  .dispatch = wakeup_dispatch,
};

static gboolean
on_wakeup (gpointer user_data)
{
  deliver (user_data);
  return G_SOURCE_CONTINUE;
}

/* Any thread: the coalescer turned non-empty. */
static void
on_queue_ready (gpointer user_data)
{
  SpotCandleHub *self = user_data;

  g_source_set_ready_time (self->wakeup, 0);
}

static void
spot_candle_hub_init (SpotCandleHub *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->batch = spot_candle_update_array_new (1024);
  self->clients = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, client_unref);
  self->by_product
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  self->all_products = g_ptr_array_new_with_free_func (client_unref);
  self->touched = g_ptr_array_new_with_free_func (client_unref);
  self->next_id = 1;
  g_mutex_init (&self->complete_lock);
  g_cond_init (&self->complete_cond);
  g_rw_lock_init (&self->interest_lock);
  self->interest = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
spot_candle_hub_dispose (GObject *object)
{
  SpotCandleHub *self = SPOT_CANDLE_HUB (object);

  spot_candle_hub_detach (self);
  if (self->wakeup != NULL)
    {
      g_source_destroy (self->wakeup);
      g_clear_pointer (&self->wakeup, g_source_unref);
    }
  /* Clients' destroy notifies run here, on the owner thread. */
  g_hash_table_remove_all (self->clients);
  atomic_store (&self->n_clients, 0);
  g_hash_table_remove_all (self->by_product);
  g_ptr_array_set_size (self->all_products, 0);
  G_OBJECT_CLASS (spot_candle_hub_parent_class)->dispose (object);
}

static void
spot_candle_hub_finalize (GObject *object)
{
  SpotCandleHub *self = SPOT_CANDLE_HUB (object);

  spot_candle_coalescer_free (self->queue);
  g_array_unref (self->batch);
  g_hash_table_unref (self->clients);
  g_hash_table_unref (self->by_product);
  g_ptr_array_unref (self->all_products);
  g_ptr_array_unref (self->touched);
  g_mutex_clear (&self->complete_lock);
  g_cond_clear (&self->complete_cond);
  g_hash_table_unref (self->interest);
  g_rw_lock_clear (&self->interest_lock);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (spot_candle_hub_parent_class)->finalize (object);
}

static void
spot_candle_hub_class_init (SpotCandleHubClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = spot_candle_hub_dispose;
  object_class->finalize = spot_candle_hub_finalize;
}

SpotCandleHub *
spot_candle_hub_new (guint max_pending)
{
  SpotCandleHub *self = g_object_new (SPOT_TYPE_CANDLE_HUB, NULL);

  self->queue = spot_candle_coalescer_new (max_pending);
  self->wakeup = g_source_new (&wakeup_funcs, sizeof (GSource));
  g_source_set_name (self->wakeup, "spot-candle-hub delivery");
  g_source_set_callback (self->wakeup, on_wakeup, self, NULL);
  g_source_attach (self->wakeup, self->context);
  spot_candle_coalescer_set_notify (self->queue, on_queue_ready, self);
  return self;
}

void
spot_candle_hub_push (SpotCandleHub *self, const SpotCandle *candles, guint n)
{
  SpotCandleUpdate updates[64];

  while (n > 0)
    {
      guint chunk = MIN (n, G_N_ELEMENTS (updates));

      for (guint i = 0; i < chunk; i++)
        {
          updates[i].candle = candles[i];
          updates[i].kind
              = candles[i].complete ? SPOT_CANDLE_UPDATE_COMPLETE : SPOT_CANDLE_UPDATE_LIVE;
        }
      spot_candle_coalescer_submit (self->queue, updates, chunk);
      candles += chunk;
      n -= chunk;
    }
}

void
spot_candle_hub_offer (SpotCandleHub *self, const SpotCandleUpdate *updates, guint n)
{
  SpotCandleUpdate wanted[64];
  guint k = 0;
  guint64 unwanted = 0;

  for (guint i = 0; i < n; i++)
    {
      const SpotCandle *c = &updates[i].candle;

      if (!interested (self, c->product_id, c->granularity))
        {
          unwanted++;
          continue;
        }
      wanted[k].candle = *c;
      wanted[k].kind = c->complete ? SPOT_CANDLE_UPDATE_COMPLETE : SPOT_CANDLE_UPDATE_LIVE;
      if (++k == G_N_ELEMENTS (wanted))
        {
          spot_candle_coalescer_submit (self->queue, wanted, k);
          k = 0;
        }
    }
  if (k > 0)
    spot_candle_coalescer_submit (self->queue, wanted, k);
  if (unwanted > 0)
    atomic_fetch_add (&self->filtered, unwanted);
}

void
spot_candle_hub_set_local_shard (SpotCandleHub *self, guint shard_index, guint shard_count)
{
  g_return_if_fail (shard_count == 0 || shard_index < shard_count);
  self->local_shard_index = shard_index;
  self->local_shard_count = shard_count;
}

/* The subscription's delivery thread. The subject says which key a message
 * is for, so messages no client wants are dropped before decoding. */
static void
on_message (natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
  SpotCandleHub *self = closure;
  g_autoptr (GError) error = NULL;
  char product_id[SPOT_PRODUCT_ID_SIZE];
  SpotGranularity g;
  SpotCandleUpdate update;

  if (!spot_nats_subject_parse (natsMsg_GetSubject (msg), product_id, &g, &error))
    {
      atomic_fetch_add (&self->parse_errors, 1);
      spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, NULL, -1, -1, "%s", error->message);
    }
  else if (!interested (self, product_id, g))
    atomic_fetch_add (&self->filtered, 1);
  else if (self->local_shard_count > 0
           && spot_product_id_hash (product_id) % self->local_shard_count
                  == self->local_shard_index)
    atomic_fetch_add (&self->local_skipped, 1);
  else if (spot_candle_from_json (natsMsg_GetData (msg), (gssize)natsMsg_GetDataLength (msg),
                                  &update.candle, &error))
    {
      update.kind = update.candle.complete ? SPOT_CANDLE_UPDATE_COMPLETE : SPOT_CANDLE_UPDATE_LIVE;
      spot_candle_coalescer_submit (self->queue, &update, 1);
    }
  else
    {
      atomic_fetch_add (&self->parse_errors, 1);
      spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, NULL, -1, -1,
                        "message on %s is not a candle: %s", natsMsg_GetSubject (msg),
                        error->message);
    }
  natsMsg_Destroy (msg);
}

static void
on_subscription_complete (void *closure)
{
  SpotCandleHub *self = closure;

  g_mutex_lock (&self->complete_lock);
  self->sub_complete = TRUE;
  g_cond_broadcast (&self->complete_cond);
  g_mutex_unlock (&self->complete_lock);
}

gboolean
spot_candle_hub_attach (SpotCandleHub *self, natsConnection *nc, GError **error)
{
  natsStatus s;

  g_return_val_if_fail (self->sub == NULL, FALSE);

  self->sub_complete = FALSE;
  s = natsConnection_Subscribe (&self->sub, nc, SPOT_NATS_SUBJECT_ALL, on_message, self);
  if (s == NATS_OK)
    s = natsSubscription_SetOnCompleteCB (self->sub, on_subscription_complete, self);
  /* Bursts (a completion wave over hundreds of products) must not be cut
   * as a slow consumer: the coalescer behind absorbs them. */
  if (s == NATS_OK)
    s = natsSubscription_SetPendingLimits (self->sub, 1024 * 1024, 512 * 1024 * 1024);
  if (s != NATS_OK)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_NATS, "cannot subscribe to %s: %s (%s)",
                   SPOT_NATS_SUBJECT_ALL, natsStatus_GetText (s), nats_GetLastError (NULL));
      if (self->sub != NULL)
        {
          natsSubscription_Destroy (self->sub);
          self->sub = NULL;
        }
      return FALSE;
    }
  atomic_store (&self->attached, TRUE);
  return TRUE;
}

void
spot_candle_hub_detach (SpotCandleHub *self)
{
  gint64 deadline;

  if (self->sub == NULL)
    return;
  deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  if (natsSubscription_Unsubscribe (self->sub) == NATS_OK)
    {
      g_mutex_lock (&self->complete_lock);
      while (!self->sub_complete)
        if (!g_cond_wait_until (&self->complete_cond, &self->complete_lock, deadline))
          break;
      g_mutex_unlock (&self->complete_lock);
    }
  natsSubscription_Destroy (self->sub);
  self->sub = NULL;
  atomic_store (&self->attached, FALSE);
}

guint
spot_candle_hub_subscribe (SpotCandleHub *self,
                           const char *const *product_ids,
                           SpotGranularitySet granularities,
                           SpotCandleHubFunc func,
                           gpointer user_data,
                           GDestroyNotify destroy)
{
  Client *client;

  g_return_val_if_fail (func != NULL, 0);

  client = g_new0 (Client, 1);
  client->ref_count = 1;
  client->id = self->next_id++;
  if (self->next_id == 0)
    self->next_id = 1;
  client->product_ids = dedup_products (product_ids);
  client->granularities = granularities;
  client->func = func;
  client->user_data = user_data;
  client->destroy = destroy;
  client->pending = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  g_hash_table_insert (self->clients, GUINT_TO_POINTER (client->id), client);
  index_client (self, client);
  atomic_fetch_add (&self->n_clients, 1);
  return client->id;
}

gboolean
spot_candle_hub_set_filter (SpotCandleHub *self,
                            guint id,
                            const char *const *product_ids,
                            SpotGranularitySet granularities)
{
  Client *client = g_hash_table_lookup (self->clients, GUINT_TO_POINTER (id));

  if (client == NULL)
    return FALSE;
  unindex_client (self, client);
  g_strfreev (client->product_ids);
  client->product_ids = dedup_products (product_ids);
  client->granularities = granularities;
  index_client (self, client);
  return TRUE;
}

void
spot_candle_hub_unsubscribe (SpotCandleHub *self, guint id)
{
  Client *client = g_hash_table_lookup (self->clients, GUINT_TO_POINTER (id));

  if (client == NULL)
    return;
  client->removed = TRUE;
  unindex_client (self, client);
  g_hash_table_remove (self->clients, GUINT_TO_POINTER (id));
  atomic_fetch_sub (&self->n_clients, 1);
}

void
spot_candle_hub_get_stats (SpotCandleHub *self, SpotCandleHubStats *out)
{
  SpotCandleCoalescerStats qs;

  spot_candle_coalescer_get_stats (self->queue, &qs);
  memset (out, 0, sizeof *out);
  out->parse_errors = atomic_load (&self->parse_errors);
  out->filtered = atomic_load (&self->filtered);
  out->local_skipped = atomic_load (&self->local_skipped);
  out->received = qs.submitted + out->parse_errors + out->filtered + out->local_skipped;
  out->coalesced = qs.coalesced;
  out->dropped = qs.dropped + qs.dropped_ordered;
  out->batches = atomic_load (&self->batches_pub);
  out->delivered = atomic_load (&self->delivered_pub);
  out->clients = atomic_load (&self->n_clients);
  out->attached = atomic_load (&self->attached);
  out->local_only = self->local_shard_count == 1;
}
