/* spot-metric-registry.h: metric families and their rendering as Prometheus
 * text (exposition format 0.0.4).
 *
 * A family has a name, help text, a type and a fixed list of label names.
 * Each combination of label values is a series whose metric (SpotCounter,
 * SpotGauge or SpotHistogram) the caller resolves once and keeps as a handle:
 * resolving takes the registry lock, updating the handle is one or two
 * relaxed atomic adds. A family holds at most max_series series (label sets
 * are bounded by design: stages, queues, results; never products); past the
 * bound, lookups log one warning and return a sink metric that is not
 * rendered, so callers never get NULL on the hot path.
 *
 * Rendering lists families sorted by name and series sorted by label values.
 * Each series is read with atomic loads, so a series is consistent in itself
 * (a histogram's _count always equals its +Inf bucket) but the output is not
 * a global snapshot: a counter bumped during rendering may show in one series
 * and not in another. Collectors added with spot_metric_registry_add_collector
 * run at the start of every render to refresh values read from elsewhere
 * (process metrics).
 *
 * Thread safety:
 * - metric updates (spot_counter_*, spot_gauge_*, spot_histogram_*): any thread;
 * - spot_metric_registry_render: any thread, concurrently with updates;
 * - family and series registration, add_collector: at start-up or from the
 *   main thread (they take the registry lock, so they are safe anywhere, but
 *   they allocate and must stay off hot paths);
 * - ref/unref: any thread. Handles stay valid while the registry lives.
 */
#pragma once

#include <glib.h>

#include "metrics/spot-counter.h"
#include "metrics/spot-gauge.h"
#include "metrics/spot-histogram.h"

G_BEGIN_DECLS

/* What /metrics answers with. */
#define SPOT_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#define SPOT_METRIC_DEFAULT_MAX_SERIES 64

typedef enum
{
  SPOT_METRIC_COUNTER,
  SPOT_METRIC_GAUGE,
  SPOT_METRIC_HISTOGRAM,
} SpotMetricType;

/**
 * SpotMetricOptions:
 * @max_series: bound on label combinations; 0 means SPOT_METRIC_DEFAULT_MAX_SERIES
 * @counter_scale: counters: units per rendered unit; 0 means 1
 * @buckets: histograms: finite upper bounds, strictly increasing; NULL means
 *   spot_histogram_latency_bounds()
 * @n_buckets: number of @buckets
 * @histogram_scale: histograms: units per rendered unit for the exact sum
 *   (SPOT_HISTOGRAM_SCALE_US for seconds); 0 means 1
 */
typedef struct
{
  guint max_series;
  guint64 counter_scale;
  const double *buckets;
  guint n_buckets;
  double histogram_scale;
} SpotMetricOptions;

typedef struct _SpotMetricRegistry SpotMetricRegistry;
typedef struct _SpotMetricFamily SpotMetricFamily;

typedef void (*SpotMetricCollectFunc) (SpotMetricRegistry *registry, gpointer user_data);

SpotMetricRegistry *spot_metric_registry_new (void);
SpotMetricRegistry *spot_metric_registry_ref (SpotMetricRegistry *registry);
void spot_metric_registry_unref (SpotMetricRegistry *registry);

/* Registers a family (label_names NULL or NULL-terminated, may be empty).
 * Registering the same name again with the same type and labels returns the
 * existing family; anything else is a programming error (critical, NULL). */
SpotMetricFamily *spot_metric_registry_add_family (SpotMetricRegistry *registry,
                                                   SpotMetricType type,
                                                   const char *name,
                                                   const char *help,
                                                   const char *const *label_names,
                                                   const SpotMetricOptions *options);

/* Resolve (creating on first use) the series for the given label values:
 * exactly as many values as the family has labels, NULL-terminated. */
SpotCounter *spot_metric_family_counter (SpotMetricFamily *family, ...) G_GNUC_NULL_TERMINATED;
SpotGauge *spot_metric_family_gauge (SpotMetricFamily *family, ...) G_GNUC_NULL_TERMINATED;
SpotHistogram *spot_metric_family_histogram (SpotMetricFamily *family, ...) G_GNUC_NULL_TERMINATED;
/* The same with a NULL-terminated array (NULL for no labels). */
gpointer spot_metric_family_lookupv (SpotMetricFamily *family, const char *const *label_values);

const char *spot_metric_family_get_name (SpotMetricFamily *family);
SpotMetricType spot_metric_family_get_metric_type (SpotMetricFamily *family);
guint spot_metric_family_get_n_series (SpotMetricFamily *family);

/* Unlabelled shortcuts. */
SpotCounter *
spot_metric_registry_counter (SpotMetricRegistry *registry, const char *name, const char *help);
SpotGauge *
spot_metric_registry_gauge (SpotMetricRegistry *registry, const char *name, const char *help);
SpotHistogram *spot_metric_registry_histogram (SpotMetricRegistry *registry,
                                               const char *name,
                                               const char *help,
                                               const double *buckets,
                                               guint n_buckets,
                                               double scale);

/* NULL when no family has that name. */
SpotMetricFamily *spot_metric_registry_lookup_family (SpotMetricRegistry *registry,
                                                      const char *name);

void spot_metric_registry_add_collector (SpotMetricRegistry *registry,
                                         SpotMetricCollectFunc collect,
                                         gpointer user_data,
                                         GDestroyNotify destroy);

/* Appends the text exposition of every family with at least one series. */
void spot_metric_registry_render (SpotMetricRegistry *registry, GString *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotMetricRegistry, spot_metric_registry_unref)

G_END_DECLS
