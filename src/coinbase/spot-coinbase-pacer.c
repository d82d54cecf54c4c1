/* spot-coinbase-pacer.c: rate spacing and backoff arithmetic. */
#define G_LOG_DOMAIN "spot-coinbase"

#include "coinbase/spot-coinbase-pacer.h"

#include <string.h>

void
spot_coinbase_pacer_init (SpotCoinbasePacer *pacer, double rate_per_s)
{
  pacer->interval_us = rate_per_s > 0 ? (gint64)(G_USEC_PER_SEC / rate_per_s + 0.5) : 0;
  pacer->next_us = 0;
}

gint64
spot_coinbase_pacer_reserve (SpotCoinbasePacer *pacer, gint64 now_us)
{
  gint64 slot = MAX (now_us, pacer->next_us);
  pacer->next_us = slot + pacer->interval_us;
  return slot - now_us;
}

gint64
spot_coinbase_backoff_us (guint attempt, gint64 base_us, gint64 cap_us, double random01)
{
  gint64 ceiling = base_us;
  for (guint i = 0; i < attempt && ceiling < cap_us; i++)
    ceiling *= 2;
  ceiling = MIN (ceiling, cap_us);
  if (random01 < 0)
    random01 = 0;
  if (random01 >= 1)
    random01 = 0.999999;
  return (gint64)(random01 * (double)ceiling);
}

typedef struct
{
  SpotCoinbaseGateFunc func;
  gpointer data;
} GateItem;

void
spot_coinbase_gate_init (SpotCoinbaseGate *gate, double rate_per_s)
{
  memset (gate, 0, sizeof *gate);
  spot_coinbase_pacer_init (&gate->pacer, rate_per_s);
  g_queue_init (&gate->queue);
}

void
spot_coinbase_gate_clear (SpotCoinbaseGate *gate)
{
  g_clear_handle_id (&gate->source, g_source_remove);
  g_queue_clear_full (&gate->queue, g_free);
}

static void gate_schedule (SpotCoinbaseGate *gate);

static gboolean
gate_cb (gpointer data)
{
  SpotCoinbaseGate *gate = data;
  gate->source = 0;
  gint64 now = g_get_monotonic_time ();
  if (!g_queue_is_empty (&gate->queue) && now >= gate->pacer.next_us
      && (gate->hold == NULL || !gate->hold (gate->hold_data)))
    {
      GateItem *item = g_queue_pop_head (&gate->queue);
      gate->pacer.next_us = now + gate->pacer.interval_us;
      SpotCoinbaseGateFunc func = item->func;
      gpointer d = item->data;
      g_free (item);
      func (d);
    }
  gate_schedule (gate);
  return G_SOURCE_REMOVE;
}

static void
gate_schedule (SpotCoinbaseGate *gate)
{
  if (gate->source != 0 || g_queue_is_empty (&gate->queue))
    return;
  gint64 wait_us = MAX (0, gate->pacer.next_us - g_get_monotonic_time ());
  if (wait_us == 0 && gate->hold != NULL && gate->hold (gate->hold_data))
    wait_us = 100000; /* held: look again shortly */
  /* Round up: the timer must not fire before the slot. */
  gate->source = g_timeout_add ((guint)((wait_us + 999) / 1000), gate_cb, gate);
}

void
spot_coinbase_gate_push (SpotCoinbaseGate *gate, SpotCoinbaseGateFunc func, gpointer data)
{
  GateItem *item = g_new (GateItem, 1);
  item->func = func;
  item->data = data;
  g_queue_push_tail (&gate->queue, item);
  gate_schedule (gate);
}

guint
spot_coinbase_gate_remove (SpotCoinbaseGate *gate, gpointer data)
{
  guint n = 0;
  GList *l = gate->queue.head;
  while (l != NULL)
    {
      GList *next = l->next;
      GateItem *item = l->data;
      if (item->data == data)
        {
          g_free (item);
          g_queue_delete_link (&gate->queue, l);
          n++;
        }
      l = next;
    }
  return n;
}

guint
spot_coinbase_gate_length (SpotCoinbaseGate *gate)
{
  return g_queue_get_length (&gate->queue);
}
