/* spot-candle-coalescer.c: latest-per-key hand-off queue of candle updates. */
#define G_LOG_DOMAIN "spot-nats"

#include "nats/spot-candle-coalescer.h"

#include <string.h>

#include "nats/spot-nats-subject.h"

/* Interned per key; lives as long as the coalescer. The key set is bounded by
 * products x granularities, so this table stays small. */
typedef struct
{
  guint64 live_generation; /* == self->generation: live_slot is valid */
  guint live_slot;
} KeySlot;

/* Past this many distinct keys, updates of new keys are appended without
 * coalescing rather than growing the table without bound. */
#define MAX_INTERNED_KEYS 262144

struct _SpotCandleCoalescer
{
  GMutex lock;
  GCond cond;
  GArray *pending;    /* SpotCandleUpdate */
  GHashTable *keys;   /* char* key -> KeySlot* */
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

SpotCandleCoalescer *
spot_candle_coalescer_new (guint max_pending)
{
  SpotCandleCoalescer *self = g_new0 (SpotCandleCoalescer, 1);

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->max_pending = max_pending > 0 ? max_pending : SPOT_CANDLE_COALESCER_DEFAULT_MAX_PENDING;
  self->pending = spot_candle_update_array_new (1024);
  self->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->generation = 1;
  return self;
}

void
spot_candle_coalescer_free (SpotCandleCoalescer *self)
{
  if (self == NULL)
    return;
  g_array_unref (self->pending);
  g_hash_table_unref (self->keys);
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

static KeySlot *
lookup_key (SpotCandleCoalescer *self, const SpotCandle *candle)
{
  char key[SPOT_NATS_KEY_SIZE];
  KeySlot *slot;

  if (spot_nats_key_format (candle->product_id, candle->granularity, key, sizeof key) == 0)
    return NULL;
  slot = g_hash_table_lookup (self->keys, key);
  if (slot == NULL && g_hash_table_size (self->keys) < MAX_INTERNED_KEYS)
    {
      slot = g_new0 (KeySlot, 1);
      g_hash_table_insert (self->keys, g_strdup (key), slot);
    }
  return slot;
}

guint
spot_candle_coalescer_submit (SpotCandleCoalescer *self, const SpotCandleUpdate *updates, guint n)
{
  guint accepted = 0;
  gboolean was_empty;
  gboolean wake_waiter;
  SpotCandleCoalescerNotify notify;
  gpointer notify_data;

  if (n == 0)
    return 0;

  g_mutex_lock (&self->lock);
  was_empty = self->pending->len == 0;
  for (guint i = 0; i < n; i++)
    {
      const SpotCandleUpdate *u = &updates[i];
      KeySlot *slot = lookup_key (self, &u->candle);
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
spot_candle_coalescer_drain (SpotCandleCoalescer *self, GArray **batch)
{
  GArray *spare = *batch;

  g_return_val_if_fail (g_array_get_element_size (spare) == sizeof (SpotCandleUpdate), FALSE);

  g_array_set_size (spare, 0);
  g_mutex_lock (&self->lock);
  if (self->pending->len == 0)
    {
      g_mutex_unlock (&self->lock);
      return FALSE;
    }
  *batch = self->pending;
  self->pending = spare;
  /* Slots recorded so far point into the array just handed out. */
  self->generation++;
  self->stats.drained += (*batch)->len;
  g_mutex_unlock (&self->lock);
  return TRUE;
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
