/* spot-metric-registry.c: metric families and their Prometheus text. */
#define G_LOG_DOMAIN "spot-metrics"

#include "metrics/spot-metric-registry.h"

#include "metrics/spot-metric-text.h"

#include <stdarg.h>
#include <string.h>

typedef struct
{
  GStrv label_values;
  char *label_text; /* a="x",b="y" (no braces), "" without labels */
  gpointer metric;
} SpotMetricSeries;

struct _SpotMetricFamily
{
  SpotMetricRegistry *registry; /* not a reference: the registry owns us */
  SpotMetricType type;
  char *name;
  char *help;
  GStrv label_names;
  guint n_labels;
  guint max_series;
  guint64 counter_scale;
  double *buckets;
  guint n_buckets;
  double histogram_scale;
  GPtrArray *series; /* SpotMetricSeries, sorted by label values */
  gpointer sink;     /* returned past max_series; never rendered */
};

typedef struct
{
  SpotMetricCollectFunc collect;
  gpointer user_data;
  GDestroyNotify destroy;
} SpotMetricCollector;

struct _SpotMetricRegistry
{
  gint ref_count;
  GMutex lock;         /* guards families and every family's series */
  GPtrArray *families; /* SpotMetricFamily, sorted by name */
  GArray *collectors;  /* SpotMetricCollector */
};

static const char *
type_name (SpotMetricType type)
{
  switch (type)
    {
    case SPOT_METRIC_COUNTER:
      return "counter";
    case SPOT_METRIC_GAUGE:
      return "gauge";
    case SPOT_METRIC_HISTOGRAM:
      return "histogram";
    default:
      return "untyped";
    }
}

static gpointer
metric_new (SpotMetricFamily *family)
{
  switch (family->type)
    {
    case SPOT_METRIC_COUNTER:
      return spot_counter_new (family->counter_scale);
    case SPOT_METRIC_GAUGE:
      return spot_gauge_new ();
    case SPOT_METRIC_HISTOGRAM:
      /* Bounds were validated when the family was added. */
      return spot_histogram_new (family->buckets, family->n_buckets, family->histogram_scale, NULL);
    default:
      g_assert_not_reached ();
    }
}

static void
metric_free (SpotMetricType type, gpointer metric)
{
  if (metric == NULL)
    return;
  switch (type)
    {
    case SPOT_METRIC_COUNTER:
      spot_counter_free (metric);
      break;
    case SPOT_METRIC_GAUGE:
      spot_gauge_free (metric);
      break;
    case SPOT_METRIC_HISTOGRAM:
      spot_histogram_free (metric);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
family_free (SpotMetricFamily *family)
{
  for (guint i = 0; i < family->series->len; i++)
    {
      SpotMetricSeries *series = g_ptr_array_index (family->series, i);

      metric_free (family->type, series->metric);
      g_strfreev (series->label_values);
      g_free (series->label_text);
      g_free (series);
    }
  g_ptr_array_unref (family->series);
  metric_free (family->type, family->sink);
  g_free (family->name);
  g_free (family->help);
  g_strfreev (family->label_names);
  g_free (family->buckets);
  g_free (family);
}

SpotMetricRegistry *
spot_metric_registry_new (void)
{
  SpotMetricRegistry *registry = g_new0 (SpotMetricRegistry, 1);

  registry->ref_count = 1;
  g_mutex_init (&registry->lock);
  registry->families = g_ptr_array_new_with_free_func ((GDestroyNotify)family_free);
  registry->collectors = g_array_new (FALSE, FALSE, sizeof (SpotMetricCollector));
  return registry;
}

SpotMetricRegistry *
spot_metric_registry_ref (SpotMetricRegistry *registry)
{
  g_return_val_if_fail (registry != NULL, NULL);
  g_atomic_int_inc (&registry->ref_count);
  return registry;
}

void
spot_metric_registry_unref (SpotMetricRegistry *registry)
{
  if (registry == NULL || !g_atomic_int_dec_and_test (&registry->ref_count))
    return;
  for (guint i = 0; i < registry->collectors->len; i++)
    {
      SpotMetricCollector *collector
          = &g_array_index (registry->collectors, SpotMetricCollector, i);

      if (collector->destroy != NULL)
        collector->destroy (collector->user_data);
    }
  g_array_unref (registry->collectors);
  g_ptr_array_unref (registry->families);
  g_mutex_clear (&registry->lock);
  g_free (registry);
}

/* Index of the family named @name, or where it would go (*found FALSE). */
static guint
find_family_locked (SpotMetricRegistry *registry, const char *name, gboolean *found)
{
  guint lo = 0;
  guint hi = registry->families->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      int cmp
          = strcmp (((SpotMetricFamily *)g_ptr_array_index (registry->families, mid))->name, name);

      if (cmp == 0)
        {
          *found = TRUE;
          return mid;
        }
      if (cmp < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  *found = FALSE;
  return lo;
}

static gboolean
same_shape (SpotMetricFamily *family, SpotMetricType type, const char *const *label_names)
{
  guint n = label_names != NULL ? g_strv_length ((char **)label_names) : 0;

  if (family->type != type || family->n_labels != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (strcmp (family->label_names[i], label_names[i]) != 0)
      return FALSE;
  return TRUE;
}

SpotMetricFamily *
spot_metric_registry_add_family (SpotMetricRegistry *registry,
                                 SpotMetricType type,
                                 const char *name,
                                 const char *help,
                                 const char *const *label_names,
                                 const SpotMetricOptions *options)
{
  SpotMetricOptions defaults = { 0 };
  SpotMetricFamily *family;
  gboolean found;
  guint index;
  guint n_labels = label_names != NULL ? g_strv_length ((char **)label_names) : 0;

  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (type <= SPOT_METRIC_HISTOGRAM, NULL);
  g_return_val_if_fail (help != NULL, NULL);

  if (!spot_metric_text_name_is_valid (name))
    {
      g_critical ("metric name \"%s\" is not a valid Prometheus name",
                  name != NULL ? name : "(null)");
      return NULL;
    }
  for (guint i = 0; i < n_labels; i++)
    {
      if (!spot_metric_text_label_name_is_valid (label_names[i])
          || (type == SPOT_METRIC_HISTOGRAM && strcmp (label_names[i], "le") == 0))
        {
          g_critical ("label name \"%s\" of metric %s is not allowed", label_names[i], name);
          return NULL;
        }
      for (guint j = 0; j < i; j++)
        if (strcmp (label_names[i], label_names[j]) == 0)
          {
            g_critical ("label name \"%s\" appears twice in metric %s", label_names[i], name);
            return NULL;
          }
    }
  if (options == NULL)
    options = &defaults;
  if (type == SPOT_METRIC_HISTOGRAM)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (SpotHistogram) probe = NULL;
      guint n_latency;
      const double *buckets = options->buckets != NULL ? options->buckets
                                                       : spot_histogram_latency_bounds (&n_latency);
      guint n_buckets = options->buckets != NULL ? options->n_buckets : n_latency;
      double scale = options->histogram_scale > 0 ? options->histogram_scale : 1.0;

      probe = spot_histogram_new (buckets, n_buckets, scale, &error);
      if (probe == NULL)
        {
          g_critical ("metric %s: %s", name, error->message);
          return NULL;
        }
    }

  g_mutex_lock (&registry->lock);
  index = find_family_locked (registry, name, &found);
  if (found)
    {
      family = g_ptr_array_index (registry->families, index);
      g_mutex_unlock (&registry->lock);
      if (!same_shape (family, type, label_names))
        {
          g_critical ("metric %s is already registered with another type or labels", name);
          return NULL;
        }
      return family;
    }

  family = g_new0 (SpotMetricFamily, 1);
  family->registry = registry;
  family->type = type;
  family->name = g_strdup (name);
  family->help = g_strdup (help);
  family->label_names = g_strdupv ((char **)label_names);
  if (family->label_names == NULL)
    family->label_names = g_new0 (char *, 1);
  family->n_labels = n_labels;
  family->max_series
      = options->max_series > 0 ? options->max_series : SPOT_METRIC_DEFAULT_MAX_SERIES;
  family->counter_scale = options->counter_scale > 0 ? options->counter_scale : 1;
  if (type == SPOT_METRIC_HISTOGRAM)
    {
      guint n_latency;
      const double *buckets = options->buckets != NULL ? options->buckets
                                                       : spot_histogram_latency_bounds (&n_latency);

      family->n_buckets = options->buckets != NULL ? options->n_buckets : n_latency;
      family->buckets = g_memdup2 (buckets, sizeof (double) * family->n_buckets);
      family->histogram_scale = options->histogram_scale > 0 ? options->histogram_scale : 1.0;
    }
  family->series = g_ptr_array_new ();
  g_ptr_array_insert (registry->families, index, family);
  g_mutex_unlock (&registry->lock);

  return family;
}

static int
compare_values (const char *const *a, const char *const *b, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      int cmp = strcmp (a[i], b[i]);

      if (cmp != 0)
        return cmp;
    }
  return 0;
}

gpointer
spot_metric_family_lookupv (SpotMetricFamily *family, const char *const *label_values)
{
  SpotMetricRegistry *registry;
  SpotMetricSeries *series;
  GString *text;
  guint n_values = label_values != NULL ? g_strv_length ((char **)label_values) : 0;
  guint lo = 0;
  guint hi;
  gpointer metric;

  g_return_val_if_fail (family != NULL, NULL);
  if (n_values != family->n_labels)
    {
      g_critical ("metric %s has %u labels, got %u values", family->name, family->n_labels,
                  n_values);
      return NULL;
    }

  registry = family->registry;
  g_mutex_lock (&registry->lock);
  hi = family->series->len;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      SpotMetricSeries *probe = g_ptr_array_index (family->series, mid);
      int cmp = compare_values ((const char *const *)probe->label_values, label_values, n_values);

      if (cmp == 0)
        {
          metric = probe->metric;
          g_mutex_unlock (&registry->lock);
          return metric;
        }
      if (cmp < 0)
        lo = mid + 1;
      else
        hi = mid;
    }

  if (family->series->len >= family->max_series)
    {
      gboolean first = family->sink == NULL;

      if (first)
        family->sink = metric_new (family);
      metric = family->sink;
      g_mutex_unlock (&registry->lock);
      if (first)
        g_warning ("metric %s reached its bound of %u series; further label sets are not exported",
                   family->name, family->max_series);
      return metric;
    }

  series = g_new0 (SpotMetricSeries, 1);
  series->label_values = g_strdupv ((char **)label_values);
  if (series->label_values == NULL)
    series->label_values = g_new0 (char *, 1);
  text = g_string_new (NULL);
  for (guint i = 0; i < n_values; i++)
    {
      if (i > 0)
        g_string_append_c (text, ',');
      g_string_append_printf (text, "%s=\"", family->label_names[i]);
      spot_metric_text_append_label_value (text, label_values[i]);
      g_string_append_c (text, '"');
    }
  series->label_text = g_string_free (text, FALSE);
  series->metric = metric_new (family);
  g_ptr_array_insert (family->series, lo, series);
  metric = series->metric;
  g_mutex_unlock (&registry->lock);

  return metric;
}

static gpointer
lookup_valist (SpotMetricFamily *family, SpotMetricType type, va_list args)
{
  g_autoptr (GPtrArray) values = g_ptr_array_new ();
  const char *value;

  g_return_val_if_fail (family != NULL, NULL);
  if (family->type != type)
    {
      g_critical ("metric %s is a %s, not a %s", family->name, type_name (family->type),
                  type_name (type));
      return NULL;
    }
  while ((value = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (values, (gpointer)value);
  g_ptr_array_add (values, NULL);
  return spot_metric_family_lookupv (family, (const char *const *)values->pdata);
}

SpotCounter *
spot_metric_family_counter (SpotMetricFamily *family, ...)
{
  va_list args;
  gpointer metric;

  va_start (args, family);
  metric = lookup_valist (family, SPOT_METRIC_COUNTER, args);
  va_end (args);
  return metric;
}

SpotGauge *
spot_metric_family_gauge (SpotMetricFamily *family, ...)
{
  va_list args;
  gpointer metric;

  va_start (args, family);
  metric = lookup_valist (family, SPOT_METRIC_GAUGE, args);
  va_end (args);
  return metric;
}

SpotHistogram *
spot_metric_family_histogram (SpotMetricFamily *family, ...)
{
  va_list args;
  gpointer metric;

  va_start (args, family);
  metric = lookup_valist (family, SPOT_METRIC_HISTOGRAM, args);
  va_end (args);
  return metric;
}

const char *
spot_metric_family_get_name (SpotMetricFamily *family)
{
  return family->name;
}

SpotMetricType
spot_metric_family_get_metric_type (SpotMetricFamily *family)
{
  return family->type;
}

guint
spot_metric_family_get_n_series (SpotMetricFamily *family)
{
  guint n;

  g_mutex_lock (&family->registry->lock);
  n = family->series->len;
  g_mutex_unlock (&family->registry->lock);
  return n;
}

SpotCounter *
spot_metric_registry_counter (SpotMetricRegistry *registry, const char *name, const char *help)
{
  SpotMetricFamily *family
      = spot_metric_registry_add_family (registry, SPOT_METRIC_COUNTER, name, help, NULL, NULL);

  return family != NULL ? spot_metric_family_lookupv (family, NULL) : NULL;
}

SpotGauge *
spot_metric_registry_gauge (SpotMetricRegistry *registry, const char *name, const char *help)
{
  SpotMetricFamily *family
      = spot_metric_registry_add_family (registry, SPOT_METRIC_GAUGE, name, help, NULL, NULL);

  return family != NULL ? spot_metric_family_lookupv (family, NULL) : NULL;
}

SpotHistogram *
spot_metric_registry_histogram (SpotMetricRegistry *registry,
                                const char *name,
                                const char *help,
                                const double *buckets,
                                guint n_buckets,
                                double scale)
{
  SpotMetricOptions options
      = { .buckets = buckets, .n_buckets = n_buckets, .histogram_scale = scale };
  SpotMetricFamily *family = spot_metric_registry_add_family (registry, SPOT_METRIC_HISTOGRAM, name,
                                                              help, NULL, &options);

  return family != NULL ? spot_metric_family_lookupv (family, NULL) : NULL;
}

SpotMetricFamily *
spot_metric_registry_lookup_family (SpotMetricRegistry *registry, const char *name)
{
  SpotMetricFamily *family = NULL;
  gboolean found;
  guint index;

  g_mutex_lock (&registry->lock);
  index = find_family_locked (registry, name, &found);
  if (found)
    family = g_ptr_array_index (registry->families, index);
  g_mutex_unlock (&registry->lock);
  return family;
}

void
spot_metric_registry_add_collector (SpotMetricRegistry *registry,
                                    SpotMetricCollectFunc collect,
                                    gpointer user_data,
                                    GDestroyNotify destroy)
{
  SpotMetricCollector collector = { collect, user_data, destroy };

  g_return_if_fail (registry != NULL);
  g_return_if_fail (collect != NULL);

  g_mutex_lock (&registry->lock);
  g_array_append_val (registry->collectors, collector);
  g_mutex_unlock (&registry->lock);
}

static void
append_sample_name (GString *out, const char *name, const char *suffix, const char *label_text)
{
  g_string_append (out, name);
  if (suffix != NULL)
    g_string_append (out, suffix);
  if (label_text[0] != '\0')
    {
      g_string_append_c (out, '{');
      g_string_append (out, label_text);
      g_string_append_c (out, '}');
    }
  g_string_append_c (out, ' ');
}

static void
render_histogram (GString *out, SpotMetricFamily *family, SpotMetricSeries *series)
{
  SpotHistogram *histogram = series->metric;
  guint n_bounds = spot_histogram_get_n_bounds (histogram);
  guint64 cumulative = 0;
  gint64 sum_units = spot_histogram_get_sum_units (histogram);

  for (guint i = 0; i <= n_bounds; i++)
    {
      cumulative += spot_histogram_get_bucket (histogram, i);
      g_string_append (out, family->name);
      g_string_append (out, "_bucket{");
      if (series->label_text[0] != '\0')
        {
          g_string_append (out, series->label_text);
          g_string_append_c (out, ',');
        }
      g_string_append (out, "le=\"");
      if (i < n_bounds)
        spot_metric_text_append_double (out, spot_histogram_get_bound (histogram, i));
      else
        g_string_append (out, "+Inf");
      g_string_append (out, "\"} ");
      spot_metric_text_append_uint64 (out, cumulative);
      g_string_append_c (out, '\n');
    }
  append_sample_name (out, family->name, "_sum", series->label_text);
  spot_metric_text_append_double (out, (double)sum_units / spot_histogram_get_scale (histogram));
  g_string_append_c (out, '\n');
  append_sample_name (out, family->name, "_count", series->label_text);
  spot_metric_text_append_uint64 (out, cumulative);
  g_string_append_c (out, '\n');
}

static void
render_family (GString *out, SpotMetricFamily *family)
{
  if (family->series->len == 0)
    return;

  g_string_append (out, "# HELP ");
  g_string_append (out, family->name);
  g_string_append_c (out, ' ');
  spot_metric_text_append_help (out, family->help);
  g_string_append (out, "\n# TYPE ");
  g_string_append (out, family->name);
  g_string_append_c (out, ' ');
  g_string_append (out, type_name (family->type));
  g_string_append_c (out, '\n');

  for (guint i = 0; i < family->series->len; i++)
    {
      SpotMetricSeries *series = g_ptr_array_index (family->series, i);

      switch (family->type)
        {
        case SPOT_METRIC_COUNTER:
          {
            SpotCounter *counter = series->metric;

            append_sample_name (out, family->name, NULL, series->label_text);
            /* Whole counts print exactly, even past 2^53. */
            if (spot_counter_get_scale (counter) == 1)
              spot_metric_text_append_uint64 (out, spot_counter_get_units (counter));
            else
              spot_metric_text_append_double (out, spot_counter_get_value (counter));
            g_string_append_c (out, '\n');
          }
          break;
        case SPOT_METRIC_GAUGE:
          append_sample_name (out, family->name, NULL, series->label_text);
          spot_metric_text_append_double (out, spot_gauge_get (series->metric));
          g_string_append_c (out, '\n');
          break;
        case SPOT_METRIC_HISTOGRAM:
          render_histogram (out, family, series);
          break;
        default:
          g_assert_not_reached ();
        }
    }
}

void
spot_metric_registry_render (SpotMetricRegistry *registry, GString *out)
{
  g_autoptr (GArray) collectors = NULL;

  g_return_if_fail (registry != NULL);
  g_return_if_fail (out != NULL);

  /* Collectors may resolve series, which takes the lock: run them on a copy
   * of the list, unlocked. */
  g_mutex_lock (&registry->lock);
  collectors = g_array_copy (registry->collectors);
  g_mutex_unlock (&registry->lock);
  for (guint i = 0; i < collectors->len; i++)
    {
      SpotMetricCollector *collector = &g_array_index (collectors, SpotMetricCollector, i);

      collector->collect (registry, collector->user_data);
    }

  g_mutex_lock (&registry->lock);
  for (guint i = 0; i < registry->families->len; i++)
    render_family (out, g_ptr_array_index (registry->families, i));
  g_mutex_unlock (&registry->lock);
}
