/* spot-gauge.c: a value that goes up and down. */
#define G_LOG_DOMAIN "spot-metrics"

#include "metrics/spot-gauge.h"

#include <string.h>

#define SPOT_GAUGE_ALIGN 64

static inline guint64
double_to_bits (double value)
{
  guint64 bits;

  memcpy (&bits, &value, sizeof bits);
  return bits;
}

static inline double
bits_to_double (guint64 bits)
{
  double value;

  memcpy (&value, &bits, sizeof value);
  return value;
}

SpotGauge *
spot_gauge_new (void)
{
  SpotGauge *gauge
      = g_aligned_alloc0 (1, MAX (sizeof (SpotGauge), SPOT_GAUGE_ALIGN), SPOT_GAUGE_ALIGN);

  atomic_init (&gauge->bits, double_to_bits (0.0));
  return gauge;
}

void
spot_gauge_free (SpotGauge *gauge)
{
  g_aligned_free (gauge);
}

void
spot_gauge_set (SpotGauge *gauge, double value)
{
  atomic_store_explicit (&gauge->bits, double_to_bits (value), memory_order_relaxed);
}

void
spot_gauge_add (SpotGauge *gauge, double delta)
{
  guint64 old_bits = atomic_load_explicit (&gauge->bits, memory_order_relaxed);

  /* On failure old_bits is refreshed with the current value. */
  while (!atomic_compare_exchange_weak_explicit (&gauge->bits, &old_bits,
                                                 double_to_bits (bits_to_double (old_bits) + delta),
                                                 memory_order_relaxed, memory_order_relaxed))
    ;
}

double
spot_gauge_get (SpotGauge *gauge)
{
  return bits_to_double (atomic_load_explicit (&gauge->bits, memory_order_relaxed));
}
