/* spot-coinbase-pacer.c: rate spacing and backoff arithmetic. */
#define G_LOG_DOMAIN "spot-coinbase"

#include "coinbase/spot-coinbase-pacer.h"

void
spot_coinbase_pacer_init (SpotCoinbasePacer *pacer, double rate_per_s)
{
  pacer->interval_us = rate_per_s > 0 ? (gint64) (G_USEC_PER_SEC / rate_per_s + 0.5) : 0;
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
  return (gint64) (random01 * (double) ceiling);
}
