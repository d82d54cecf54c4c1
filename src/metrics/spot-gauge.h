/* spot-gauge.h: a value that goes up and down (a double).
 *
 * Stored as the bit pattern of a double in a 64-bit atomic: set is one
 * store, add is a compare-and-swap loop (cheap when uncontended).
 *
 * Thread safety: every function may be called from any thread, lock-free.
 * Gauges are normally created and owned by a SpotMetricRegistry; the caller
 * keeps the pointer as a handle for as long as the registry lives.
 */
#pragma once

#include <glib.h>
#include <stdatomic.h>

G_BEGIN_DECLS

typedef struct
{
  /* private */
  _Atomic guint64 bits;
} SpotGauge;

SpotGauge *spot_gauge_new (void);
void spot_gauge_free (SpotGauge *gauge);

void spot_gauge_set (SpotGauge *gauge, double value);
void spot_gauge_add (SpotGauge *gauge, double delta);
double spot_gauge_get (SpotGauge *gauge);

static inline void
spot_gauge_inc (SpotGauge *gauge)
{
  spot_gauge_add (gauge, 1.0);
}

static inline void
spot_gauge_dec (SpotGauge *gauge)
{
  spot_gauge_add (gauge, -1.0);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotGauge, spot_gauge_free)

G_END_DECLS
