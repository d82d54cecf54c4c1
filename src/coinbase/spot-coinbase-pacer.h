/* spot-coinbase-pacer.h: spaces actions at a fixed rate (the exchange's
 * per-IP limits of DESIGN.md section 3), pure arithmetic on a caller clock.
 *
 * Each reservation gets the slot max(now, previous slot + 1/rate): no burst,
 * so any one-second window holds at most ceil(rate) actions.
 *
 * Thread safety: one thread (the main loop).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint64 interval_us; /* 1 s / rate */
  gint64 next_us;     /* earliest time of the next slot */
} SpotCoinbasePacer;

void spot_coinbase_pacer_init (SpotCoinbasePacer *pacer, double rate_per_s);
/* Reserves the next slot at or after @now_us; returns the delay until it
 * (0: now). */
gint64 spot_coinbase_pacer_reserve (SpotCoinbasePacer *pacer, gint64 now_us);

/* Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^attempt)]
 * using @random01 in [0, 1). Pure. */
gint64 spot_coinbase_backoff_us (guint attempt, gint64 base_us, gint64 cap_us, double random01);

G_END_DECLS

G_BEGIN_DECLS

/* A queue of actions released one at a time at the pacer's rate, measured
 * from when each action actually ran (a late timer never lets the next one
 * run early). @hold, when set and returning TRUE, postpones the head
 * without using a slot. Main thread only. */
typedef void (*SpotCoinbaseGateFunc) (gpointer data);

typedef struct
{
  SpotCoinbasePacer pacer;
  GQueue queue; /* GateItem* */
  guint source;
  gboolean (*hold) (gpointer user_data);
  gpointer hold_data;
} SpotCoinbaseGate;

void spot_coinbase_gate_init (SpotCoinbaseGate *gate, double rate_per_s);
void spot_coinbase_gate_clear (SpotCoinbaseGate *gate);
void spot_coinbase_gate_push (SpotCoinbaseGate *gate, SpotCoinbaseGateFunc func, gpointer data);
/* Removes every queued action with @data; returns how many. */
guint spot_coinbase_gate_remove (SpotCoinbaseGate *gate, gpointer data);
guint spot_coinbase_gate_length (SpotCoinbaseGate *gate);

G_END_DECLS
