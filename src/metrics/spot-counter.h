/* spot-counter.h: a monotonically increasing 64-bit counter.
 *
 * The value is an unsigned integer count of "units"; a counter created with a
 * scale other than 1 renders units / scale (process_cpu_seconds_total counts
 * clock ticks and renders seconds), so the total stays exact.
 *
 * Thread safety: spot_counter_inc/add/get from any thread, lock-free (one
 * relaxed atomic add on a cache line of its own). spot_counter_set_units is
 * for collectors that mirror an external total at render time. Counters are
 * normally created and owned by a SpotMetricRegistry; a caller keeps the
 * pointer as a handle for as long as the registry lives.
 */
#pragma once

#include <glib.h>
#include <stdatomic.h>

G_BEGIN_DECLS

typedef struct
{
  /* private */
  _Atomic guint64 units;
  guint64 scale;
} SpotCounter;

/* @scale: units per rendered unit, at least 1. */
SpotCounter *spot_counter_new (guint64 scale);
void spot_counter_free (SpotCounter *counter);

static inline void
spot_counter_inc (SpotCounter *counter)
{
  atomic_fetch_add_explicit (&counter->units, 1, memory_order_relaxed);
}

static inline void
spot_counter_add (SpotCounter *counter, guint64 units)
{
  atomic_fetch_add_explicit (&counter->units, units, memory_order_relaxed);
}

static inline guint64
spot_counter_get_units (SpotCounter *counter)
{
  return atomic_load_explicit (&counter->units, memory_order_relaxed);
}

/* The rendered value: units / scale. */
double spot_counter_get_value (SpotCounter *counter);
guint64 spot_counter_get_scale (const SpotCounter *counter);

/* For collectors only: replaces the total (it must not go down). */
void spot_counter_set_units (SpotCounter *counter, guint64 units);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotCounter, spot_counter_free)

G_END_DECLS
