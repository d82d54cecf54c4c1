#define G_LOG_DOMAIN "spot-aggregate"

#include "aggregate/spot-divergence.h"

#include <string.h>

void
spot_divergence_tracker_init (SpotDivergenceTracker *tracker)
{
  memset (tracker, 0, sizeof *tracker);
}

void
spot_divergence_tracker_offer (SpotDivergenceTracker *tracker, const SpotCandle *candle)
{
  SpotCandle *a = &tracker->latest[0], *b = &tracker->latest[1];

  if (candle->start <= 0)
    return;
  if (a->start == candle->start)
    {
      *a = *candle;
      return;
    }
  if (b->start == candle->start)
    {
      *b = *candle;
      return;
    }
  /* Replace an empty slot, else the older one when this candle is newer. */
  SpotCandle *victim = a->start == 0 ? a : b->start == 0 ? b : (a->start < b->start ? a : b);
  if (victim->start == 0 || candle->start > victim->start)
    *victim = *candle;
}

gboolean
spot_divergence_tracker_take (SpotDivergenceTracker *tracker, gint64 start, SpotCandle *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (tracker->latest); i++)
    if (tracker->latest[i].start == start && start != 0)
      {
        *out = tracker->latest[i];
        tracker->latest[i].start = 0;
        return TRUE;
      }
  return FALSE;
}

gboolean
spot_divergence_differs (const SpotCandle *ours, const SpotCandle *exchange, const char **field)
{
  const char *bad = NULL;

  if (!spot_decimal_equal (&ours->open, &exchange->open))
    bad = "open";
  else if (!spot_decimal_equal (&ours->high, &exchange->high))
    bad = "high";
  else if (!spot_decimal_equal (&ours->low, &exchange->low))
    bad = "low";
  else if (!spot_decimal_equal (&ours->close, &exchange->close))
    bad = "close";
  else if (!spot_decimal_equal (&ours->volume, &exchange->volume))
    bad = "volume";
  if (field != NULL)
    *field = bad;
  return bad != NULL;
}
