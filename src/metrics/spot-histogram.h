/* spot-histogram.h: a Prometheus histogram with fixed bucket bounds.
 *
 * Observations are counted per bucket (non-cumulative internally; the
 * registry renders cumulative _bucket lines, +Inf, _sum and _count, with
 * _count taken from the buckets so that it always equals the +Inf bucket).
 *
 * The sum is kept exactly as a signed 64-bit integer of "units", @scale units
 * per rendered unit: latency histograms in seconds use SPOT_HISTOGRAM_SCALE_US
 * (microseconds: 2^63 us is 292,000 years of summed latency, so the sum does
 * not wrap in a service's lifetime), row and byte histograms use 1. A double
 * observation is rounded to the nearest unit for the sum (its bucket is
 * chosen with the exact double). NaN is counted in +Inf and left out of the
 * sum; negative values (clock skew) land in the lowest bucket.
 *
 * Thread safety: observe functions and getters from any thread, lock-free
 * (two relaxed atomic adds). Histograms are normally created and owned by a
 * SpotMetricRegistry; the caller keeps the pointer as a handle.
 */
#pragma once

#include <glib.h>
#include <stdatomic.h>

G_BEGIN_DECLS

#define SPOT_HISTOGRAM_SCALE_US 1000000.0

typedef struct _SpotHistogram SpotHistogram;

/* @bounds: @n_bounds finite upper bounds, strictly increasing (the +Inf bucket
 * is implicit). @scale: units per rendered unit (> 0). Returns NULL with a
 * SPOT_ERROR_INVALID_ARGUMENT error for unusable bounds. */
SpotHistogram *
spot_histogram_new (const double *bounds, guint n_bounds, double scale, GError **error);
void spot_histogram_free (SpotHistogram *histogram);

/* Observe a value in rendered units (seconds, bytes, ...). */
void spot_histogram_observe (SpotHistogram *histogram, double value);
/* Observe a value already in integer units (microseconds for a
 * SPOT_HISTOGRAM_SCALE_US histogram); the cheapest path. */
void spot_histogram_observe_units (SpotHistogram *histogram, gint64 units);
/* For seconds histograms: observe a duration in nanoseconds (the service's
 * time unit), converted to units without floating point when possible. */
void spot_histogram_observe_ns (SpotHistogram *histogram, gint64 ns);

guint spot_histogram_get_n_bounds (const SpotHistogram *histogram);
double spot_histogram_get_bound (const SpotHistogram *histogram, guint index);
/* Count in bucket @index alone (non-cumulative); index n_bounds is +Inf. */
guint64 spot_histogram_get_bucket (SpotHistogram *histogram, guint index);
/* Sum of all buckets. */
guint64 spot_histogram_get_count (SpotHistogram *histogram);
gint64 spot_histogram_get_sum_units (SpotHistogram *histogram);
double spot_histogram_get_sum (SpotHistogram *histogram);
double spot_histogram_get_scale (const SpotHistogram *histogram);

/* Bounds for latencies in seconds, 0.5 ms to 10 s. */
const double *spot_histogram_latency_bounds (guint *n_bounds);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotHistogram, spot_histogram_free)

G_END_DECLS
