/* spot-counter.c: a monotonically increasing 64-bit counter. */
#define G_LOG_DOMAIN "spot-metrics"

#include "metrics/spot-counter.h"

/* One cache line per counter, so that counters bumped by different threads
 * never share a line. */
#define SPOT_COUNTER_ALIGN 64

SpotCounter *
spot_counter_new (guint64 scale)
{
  SpotCounter *counter;

  g_return_val_if_fail (scale >= 1, NULL);

  counter
      = g_aligned_alloc0 (1, MAX (sizeof (SpotCounter), SPOT_COUNTER_ALIGN), SPOT_COUNTER_ALIGN);
  atomic_init (&counter->units, 0);
  counter->scale = scale;
  return counter;
}

void
spot_counter_free (SpotCounter *counter)
{
  g_aligned_free (counter);
}

double
spot_counter_get_value (SpotCounter *counter)
{
  guint64 units = spot_counter_get_units (counter);

  if (counter->scale == 1)
    return (double)units;
  return (double)units / (double)counter->scale;
}

guint64
spot_counter_get_scale (const SpotCounter *counter)
{
  return counter->scale;
}

void
spot_counter_set_units (SpotCounter *counter, guint64 units)
{
  atomic_store_explicit (&counter->units, units, memory_order_relaxed);
}
