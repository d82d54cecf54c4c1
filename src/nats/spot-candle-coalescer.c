/* spot-candle-coalescer.c: latest-per-key hand-off queue of candle updates. */
#define G_LOG_DOMAIN "spot-nats"

#include "nats/spot-candle-coalescer.h"

#include <string.h>


/* Interned per key; lives as long as the coalescer. The key set is bounded by
 * products x granularities, so this stays small. The id is the index in
 * self->keys. */
typedef struct
{
  char product_id[SPOT_PRODUCT_ID_SIZE];
  SpotGranularity granularity;
  guint live_slot;
  guint64 live_generation; /* == self->generation: live_slot is valid */
} KeyInfo;

/* Past this many distinct keys, updates of new keys are appended without
 * coalescing rather than growing the table without bound. */
#define MAX_INTERNED_KEYS 262144

struct _SpotCandleCoalescer
{
  GMutex lock;
  GCond cond;
  GArray *pending;      /* SpotCandleUpdate */
  GArray *pending_meta; /* SpotCandleCoalescerMeta, parallel to pending */
  GArray *spare_meta;   /* for drain without meta */
  GArray *keys;         /* KeyInfo, by id */
  guint32 *table;       /* open addressing: id + 1, 0 = empty */
  guint table_mask;
  guint64 generation; /* bumped by every drain; starts at 1 */
  guint max_pending;
  gboolean closed;
  gboolean waiting;
  SpotCandleCoalescerNotify notify;
  gpointer notify_data;
  SpotCandleCoalescerStats stats;
};

GArray *
spot_candle_update_array_new (guint reserved)
{
  return g_array_sized_new (FALSE, FALSE, sizeof (SpotCandleUpdate), reserved);
}

GArray *
spot_candle_coalescer_meta_array_new (guint reserved)
{
  return g_array_sized_new (FALSE, FALSE, sizeof (SpotCandleCoalescerMeta), reserved);
}

#define INITIAL_TABLE_SIZE 1024

SpotCandleCoalescer *
spot_candle_coalescer_new (guint max_pending)
{
  SpotCandleCoalescer *self = g_new0 (SpotCandleCoalescer, 1);

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->max_pending = max_pending > 0 ? max_pending : SPOT_CANDLE_COALESCER_DEFAULT_MAX_PENDING;
  self->pending = spot_candle_update_array_new (1024);
  self->pending_meta = spot_candle_coalescer_meta_array_new (1024);
  self->spare_meta = spot_candle_coalescer_meta_array_new (1024);
  self->keys = g_array_new (FALSE, FALSE, sizeof (KeyInfo));
  self->table = g_new0 (guint32, INITIAL_TABLE_SIZE);
  self->table_mask = INITIAL_TABLE_SIZE - 1;
  self->generation = 1;
  return self;
}

void
spot_candle_coalescer_free (SpotCandleCoalescer *self)
{
  if (self == NULL)
    return;
  g_array_unref (self->pending);
  g_array_unref (self->pending_meta);
  g_array_unref (self->spare_meta);
  g_array_unref (self->keys);
  g_free (self->table);
  g_cond_clear (&self->cond);
  g_mutex_clear (&self->lock);
  g_free (self);
}

void
spot_candle_coalescer_set_notify (SpotCandleCoalescer *self,
                                  SpotCandleCoalescerNotify notify,
                                  gpointer user_data)
{
  g_mutex_lock (&self->lock);
  self->notify = notify;
  self->notify_data = user_data;
  g_mutex_unlock (&self->lock);
}

/* FNV-1a over the product id, then the granularity, then a final mix: no
 * key string is formatted on the submit path. */
static guint32
key_hash (const char *product_id, gsize len, SpotGranularity g)
{
  guint32 h = 2166136261u;

  for (gsize i = 0; i < len; i++)
    {
      h ^= (guchar)product_id[i];
      h *= 16777619u;
    }
  h ^= (guint32)g + 0x9e3779b9u;
  h *= 16777619u;
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  return h;
}

static void
table_grow (SpotCandleCoalescer *self)
{
  guint size = (self->table_mask + 1) * 2;

  g_free (self->table);
  self->table = g_new0 (guint32, size);
  self->table_mask = size - 1;
  for (guint id = 0; id < self->keys->len; id++)
    {
      KeyInfo *k = &g_array_index (self->keys, KeyInfo, id);
      guint32 i = key_hash (k->product_id, strlen (k->product_id), k->granularity)
                  & self->table_mask;

      while (self->table[i] != 0)
        i = (i + 1) & self->table_mask;
      self->table[i] = id + 1;
    }
}

/* The key's info, interned on first sight; NULL when it cannot be. */
static KeyInfo *
lookup_key (SpotCandleCoalescer *self, const SpotCandle *candle, guint32 *id_out)
{
  gsize len = strnlen (candle->product_id, sizeof candle->product_id);
  guint32 i;
  KeyInfo *k;

  *id_out = SPOT_CANDLE_COALESCER_NO_KEY;
  if (len == 0 || len == sizeof candle->product_id || candle->granularity < 0
      || candle->granularity >= SPOT_GRANULARITY_COUNT)
    return NULL;
  i = key_hash (candle->product_id, len, candle->granularity) & self->table_mask;
  while (self->table[i] != 0)
    {
      k = &g_array_index (self->keys, KeyInfo, self->table[i] - 1);
      if (k->granularity == candle->granularity && memcmp (k->product_id, candle->product_id, len + 1) == 0)
        {
          *id_out = self->table[i] - 1;
          return k;
        }
      i = (i + 1) & self->table_mask;
    }
  if (self->keys->len >= MAX_INTERNED_KEYS)
    return NULL;
  {
    KeyInfo info = { 0 };

    memcpy (info.product_id, candle->product_id, len + 1);
    info.granularity = candle->granularity;
    g_array_append_val (self->keys, info);
  }
  *id_out = self->keys->len - 1;
  self->table[i] = self->keys->len;
  /* Keep the table at most half full. */
  if (self->keys->len * 2 > self->table_mask + 1)
    table_grow (self);
  return &g_array_index (self->keys, KeyInfo, *id_out);
}

guint
spot_candle_coalescer_submit (SpotCandleCoalescer *self, const SpotCandleUpdate *updates, guint n)
{
  guint accepted = 0;
  gboolean was_empty;
  gboolean wake_waiter;
  SpotCandleCoalescerNotify notify;
  gpointer notify_data;
  gint64 now;

  if (n == 0)
    return 0;

  /* One clock read per call: every update of a batch is as old as the batch. */
  now = g_get_monotonic_time ();
  g_mutex_lock (&self->lock);
  was_empty = self->pending->len == 0;
  for (guint i = 0; i < n; i++)
    {
      const SpotCandleUpdate *u = &updates[i];
      guint32 id;
      KeyInfo *slot = lookup_key (self, &u->candle, &id);
      gboolean live = u->kind == SPOT_CANDLE_UPDATE_LIVE;

      self->stats.submitted++;
      if (live && slot != NULL && slot->live_generation == self->generation)
        {
          g_array_index (self->pending, SpotCandleUpdate, slot->live_slot) = *u;
          self->stats.coalesced++;
          accepted++;
          continue;
        }
      if (self->pending->len >= self->max_pending)
        {
          if (live)
            self->stats.dropped++;
          else
            self->stats.dropped_ordered++;
          continue;
        }
      g_array_append_vals (self->pending, u, 1);
      {
        SpotCandleCoalescerMeta meta = { id, now };

        g_array_append_val (self->pending_meta, meta);
      }
      accepted++;
      if (slot != NULL)
        {
          if (live)
            {
              slot->live_generation = self->generation;
              slot->live_slot = self->pending->len - 1;
            }
          else
            {
              /* Later live updates of this key must come after this one. */
              slot->live_generation = 0;
            }
        }
    }
  wake_waiter = self->waiting && self->pending->len > 0;
  notify = was_empty && self->pending->len > 0 ? self->notify : NULL;
  notify_data = self->notify_data;
  if (wake_waiter)
    g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);

  if (notify != NULL)
    notify (notify_data);
  return accepted;
}

gboolean
spot_candle_coalescer_drain_meta (SpotCandleCoalescer *self, GArray **batch, GArray **meta)
{
  GArray *spare = *batch;
  GArray *spare_meta = meta != NULL ? *meta : NULL;

  g_return_val_if_fail (g_array_get_element_size (spare) == sizeof (SpotCandleUpdate), FALSE);
  g_return_val_if_fail (spare_meta == NULL
                            || g_array_get_element_size (spare_meta)
                                   == sizeof (SpotCandleCoalescerMeta),
                        FALSE);

  g_array_set_size (spare, 0);
  if (spare_meta != NULL)
    g_array_set_size (spare_meta, 0);
  g_mutex_lock (&self->lock);
  if (self->pending->len == 0)
    {
      g_mutex_unlock (&self->lock);
      return FALSE;
    }
  *batch = self->pending;
  self->pending = spare;
  if (meta != NULL)
    {
      *meta = self->pending_meta;
      self->pending_meta = spare_meta;
    }
  else
    {
      /* Nobody wants the metadata: recycle it. */
      GArray *t = self->pending_meta;

      self->pending_meta = self->spare_meta;
      self->spare_meta = t;
      g_array_set_size (self->pending_meta, 0);
    }
  /* Slots recorded so far point into the array just handed out. */
  self->generation++;
  self->stats.drained += (*batch)->len;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

gboolean
spot_candle_coalescer_drain (SpotCandleCoalescer *self, GArray **batch)
{
  return spot_candle_coalescer_drain_meta (self, batch, NULL);
}

gboolean
spot_candle_coalescer_wait (SpotCandleCoalescer *self, gint64 timeout_us)
{
  gint64 deadline = timeout_us >= 0 ? g_get_monotonic_time () + timeout_us : -1;
  gboolean ready;

  g_mutex_lock (&self->lock);
  while (self->pending->len == 0 && !self->closed)
    {
      self->waiting = TRUE;
      if (deadline < 0)
        g_cond_wait (&self->cond, &self->lock);
      else if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
        break;
    }
  self->waiting = FALSE;
  ready = self->pending->len > 0;
  g_mutex_unlock (&self->lock);
  return ready;
}

void
spot_candle_coalescer_close (SpotCandleCoalescer *self)
{
  g_mutex_lock (&self->lock);
  self->closed = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

gboolean
spot_candle_coalescer_is_closed (SpotCandleCoalescer *self)
{
  gboolean closed;

  g_mutex_lock (&self->lock);
  closed = self->closed;
  g_mutex_unlock (&self->lock);
  return closed;
}

void
spot_candle_coalescer_get_stats (SpotCandleCoalescer *self, SpotCandleCoalescerStats *out)
{
  g_mutex_lock (&self->lock);
  *out = self->stats;
  out->pending = self->pending->len;
  g_mutex_unlock (&self->lock);
}
