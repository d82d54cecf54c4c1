/* spot-histogram.c: a Prometheus histogram with fixed bucket bounds. */
#define G_LOG_DOMAIN "spot-metrics"

#include "metrics/spot-histogram.h"

#include "core/spot-error.h"

#include <math.h>

/* Bucket counters share cache lines with each other (one histogram is one
 * hot spot anyway) but not with other metrics. */
#define SPOT_HISTOGRAM_ALIGN 64
#define SPOT_HISTOGRAM_LINEAR_MAX 16

struct _SpotHistogram
{
  _Atomic guint64 *buckets; /* n_bounds + 1, last is +Inf */
  _Atomic gint64 sum_units;
  guint n_bounds;
  double scale;
  double *bounds;
  gint64 *unit_bounds; /* floor (bound * scale): for integer v, v <= b iff v <= floor (b) */
  gint64 ns_per_unit;  /* > 0 when 1e9 / scale is a whole number */
};

static const double latency_bounds[] = {
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
};

const double *
spot_histogram_latency_bounds (guint *n_bounds)
{
  *n_bounds = G_N_ELEMENTS (latency_bounds);
  return latency_bounds;
}

/* Converting a double outside the int64 range is undefined behaviour. */
static gint64
clamp_to_int64 (double value)
{
  if (value >= 9223372036854775807.0)
    return G_MAXINT64;
  if (value <= -9223372036854775808.0)
    return G_MININT64;
  return (gint64)value;
}

SpotHistogram *
spot_histogram_new (const double *bounds, guint n_bounds, double scale, GError **error)
{
  SpotHistogram *histogram;
  double ns_per_unit;

  if (!(scale > 0.0) || !isfinite (scale))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "histogram scale %g must be a positive finite number", scale);
      return NULL;
    }
  for (guint i = 0; i < n_bounds; i++)
    {
      if (!isfinite (bounds[i]))
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                       "histogram bound %u (%g) must be finite (+Inf is implicit)", i, bounds[i]);
          return NULL;
        }
      if (i > 0 && !(bounds[i] > bounds[i - 1]))
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                       "histogram bound %u (%g) must be greater than bound %u (%g)", i, bounds[i],
                       i - 1, bounds[i - 1]);
          return NULL;
        }
    }

  histogram = g_new0 (SpotHistogram, 1);
  histogram->n_bounds = n_bounds;
  histogram->scale = scale;
  histogram->bounds = g_memdup2 (bounds, sizeof (double) * n_bounds);
  histogram->unit_bounds = g_new (gint64, MAX (n_bounds, 1));
  for (guint i = 0; i < n_bounds; i++)
    histogram->unit_bounds[i] = clamp_to_int64 (floor (bounds[i] * scale));
  histogram->buckets
      = g_aligned_alloc0 (n_bounds + 1, sizeof (_Atomic guint64), SPOT_HISTOGRAM_ALIGN);
  for (guint i = 0; i <= n_bounds; i++)
    atomic_init (&histogram->buckets[i], 0);
  atomic_init (&histogram->sum_units, 0);
  ns_per_unit = 1e9 / scale;
  histogram->ns_per_unit
      = (ns_per_unit >= 1.0 && ns_per_unit == floor (ns_per_unit)) ? (gint64)ns_per_unit : 0;
  return histogram;
}

void
spot_histogram_free (SpotHistogram *histogram)
{
  if (histogram == NULL)
    return;
  g_aligned_free (histogram->buckets);
  g_free (histogram->bounds);
  g_free (histogram->unit_bounds);
  g_free (histogram);
}

static inline guint
find_unit_bucket (const SpotHistogram *histogram, gint64 units)
{
  guint lo = 0;
  guint hi = histogram->n_bounds;

  if (hi <= SPOT_HISTOGRAM_LINEAR_MAX)
    {
      while (lo < hi && units > histogram->unit_bounds[lo])
        lo++;
      return lo;
    }
  /* First bound >= units. */
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (histogram->unit_bounds[mid] < units)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

void
spot_histogram_observe_units (SpotHistogram *histogram, gint64 units)
{
  guint index = find_unit_bucket (histogram, units);

  atomic_fetch_add_explicit (&histogram->buckets[index], 1, memory_order_relaxed);
  atomic_fetch_add_explicit (&histogram->sum_units, units, memory_order_relaxed);
}

void
spot_histogram_observe_ns (SpotHistogram *histogram, gint64 ns)
{
  if (histogram->ns_per_unit > 0)
    spot_histogram_observe_units (histogram, ns / histogram->ns_per_unit);
  else
    spot_histogram_observe (histogram, (double)ns / 1e9);
}

void
spot_histogram_observe (SpotHistogram *histogram, double value)
{
  guint lo = 0;
  guint hi = histogram->n_bounds;

  if (isnan (value))
    {
      atomic_fetch_add_explicit (&histogram->buckets[histogram->n_bounds], 1, memory_order_relaxed);
      return;
    }
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (histogram->bounds[mid] < value)
        lo = mid + 1;
      else
        hi = mid;
    }
  atomic_fetch_add_explicit (&histogram->buckets[lo], 1, memory_order_relaxed);
  atomic_fetch_add_explicit (&histogram->sum_units,
                             clamp_to_int64 (nearbyint (value * histogram->scale)),
                             memory_order_relaxed);
}

guint
spot_histogram_get_n_bounds (const SpotHistogram *histogram)
{
  return histogram->n_bounds;
}

double
spot_histogram_get_bound (const SpotHistogram *histogram, guint index)
{
  g_return_val_if_fail (index < histogram->n_bounds, INFINITY);
  return histogram->bounds[index];
}

guint64
spot_histogram_get_bucket (SpotHistogram *histogram, guint index)
{
  g_return_val_if_fail (index <= histogram->n_bounds, 0);
  return atomic_load_explicit (&histogram->buckets[index], memory_order_relaxed);
}

guint64
spot_histogram_get_count (SpotHistogram *histogram)
{
  guint64 total = 0;

  for (guint i = 0; i <= histogram->n_bounds; i++)
    total += atomic_load_explicit (&histogram->buckets[i], memory_order_relaxed);
  return total;
}

gint64
spot_histogram_get_sum_units (SpotHistogram *histogram)
{
  return atomic_load_explicit (&histogram->sum_units, memory_order_relaxed);
}

double
spot_histogram_get_sum (SpotHistogram *histogram)
{
  return (double)spot_histogram_get_sum_units (histogram) / histogram->scale;
}

double
spot_histogram_get_scale (const SpotHistogram *histogram)
{
  return histogram->scale;
}
