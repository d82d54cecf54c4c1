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

typedef struct {
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
