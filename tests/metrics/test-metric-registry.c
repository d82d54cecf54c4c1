/* test-metric-registry.c: families, labelled series and the rendered text. */
#define G_LOG_DOMAIN "spot-test"

#include "metrics/spot-metric-registry.h"

#include <string.h>

#include "metrics-test-log.h"

static char *
render (SpotMetricRegistry *registry)
{
  GString *out = g_string_new (NULL);

  spot_metric_registry_render (registry, out);
  return g_string_free (out, FALSE);
}

static void
test_registry_renders_exact_text_sorted_by_family_and_labels (void)
{
  g_autoptr (SpotMetricRegistry) registry = spot_metric_registry_new ();
  const char *stage[] = { "stage", NULL };
  const double bounds[] = { 0.005, 0.1, 1.0 };
  SpotMetricOptions histogram_options = { .buckets = bounds,
                                          .n_buckets = G_N_ELEMENTS (bounds),
                                          .histogram_scale = SPOT_HISTOGRAM_SCALE_US };
  SpotMetricFamily *dropped;
  SpotMetricFamily *latency;
  g_autofree char *text = NULL;
  const char *expected = "# HELP a_queue_depth Items waiting.\n"
                         "# TYPE a_queue_depth gauge\n"
                         "a_queue_depth 2.5\n"
                         "# HELP spot_dropped_total Dropped, by stage.\n"
                         "# TYPE spot_dropped_total counter\n"
                         "spot_dropped_total{stage=\"inbox\"} 3\n"
                         "spot_dropped_total{stage=\"nats\"} 0\n"
                         "spot_dropped_total{stage=\"shard_queue\"} 18446744073709551615\n"
                         "# HELP spot_latency_seconds Latency.\n"
                         "# TYPE spot_latency_seconds histogram\n"
                         "spot_latency_seconds_bucket{stage=\"inbox\",le=\"0.005\"} 1\n"
                         "spot_latency_seconds_bucket{stage=\"inbox\",le=\"0.1\"} 1\n"
                         "spot_latency_seconds_bucket{stage=\"inbox\",le=\"1\"} 2\n"
                         "spot_latency_seconds_bucket{stage=\"inbox\",le=\"+Inf\"} 3\n"
                         "spot_latency_seconds_sum{stage=\"inbox\"} 3.503\n"
                         "spot_latency_seconds_count{stage=\"inbox\"} 3\n"
                         "# HELP spot_rows_total Rows.\n"
                         "# TYPE spot_rows_total counter\n"
                         "spot_rows_total 7\n";

  /* Registered out of order on purpose. */
  spot_counter_add (spot_metric_registry_counter (registry, "spot_rows_total", "Rows."), 7);
  dropped = spot_metric_registry_add_family (registry, SPOT_METRIC_COUNTER, "spot_dropped_total",
                                             "Dropped, by stage.", stage, NULL);
  spot_counter_add (spot_metric_family_counter (dropped, "shard_queue", NULL), G_MAXUINT64);
  spot_metric_family_counter (dropped, "nats", NULL);
  spot_counter_add (spot_metric_family_counter (dropped, "inbox", NULL), 3);
  latency
      = spot_metric_registry_add_family (registry, SPOT_METRIC_HISTOGRAM, "spot_latency_seconds",
                                         "Latency.", stage, &histogram_options);
  spot_histogram_observe (spot_metric_family_histogram (latency, "inbox", NULL), 0.003);
  spot_histogram_observe (spot_metric_family_histogram (latency, "inbox", NULL), 0.5);
  spot_histogram_observe (spot_metric_family_histogram (latency, "inbox", NULL), 3.0);
  spot_gauge_set (spot_metric_registry_gauge (registry, "a_queue_depth", "Items waiting."), 2.5);
  /* A labelled family without series is left out. */
  spot_metric_registry_add_family (registry, SPOT_METRIC_GAUGE, "spot_empty", "No series yet.",
                                   stage, NULL);

  text = render (registry);
  g_assert_cmpstr (text, ==, expected);
}

static void
test_registry_escapes_label_values_and_help (void)
{
  g_autoptr (SpotMetricRegistry) registry = spot_metric_registry_new ();
  const char *labels[] = { "path", "note", NULL };
  SpotMetricFamily *family;
  g_autofree char *text = NULL;

  family = spot_metric_registry_add_family (registry, SPOT_METRIC_GAUGE, "spot_odd",
                                            "Help with \\ backslash\nand newline and \"quotes\".",
                                            labels, NULL);
  spot_gauge_set (spot_metric_family_gauge (family, "C:\\dir", "say \"hi\"\nbye", NULL), 1);
  text = render (registry);
  g_assert_cmpstr (text, ==,
                   "# HELP spot_odd Help with \\\\ backslash\\nand newline and \"quotes\".\n"
                   "# TYPE spot_odd gauge\n"
                   "spot_odd{path=\"C:\\\\dir\",note=\"say \\\"hi\\\"\\nbye\"} 1\n");
}

static void
test_registry_histogram_buckets_are_cumulative_with_inf_sum_and_count (void)
{
  g_autoptr (SpotMetricRegistry) registry = spot_metric_registry_new ();
  const double bounds[] = { 1, 2, 4 };
  SpotHistogram *rows = spot_metric_registry_histogram (
      registry, "spot_batch_rows", "Rows per batch.", bounds, G_N_ELEMENTS (bounds), 1.0);
  g_autofree char *text = NULL;

  for (gint64 v = 0; v < 6; v++)
    spot_histogram_observe_units (rows, v);
  text = render (registry);
  g_assert_cmpstr (text, ==,
                   "# HELP spot_batch_rows Rows per batch.\n"
                   "# TYPE spot_batch_rows histogram\n"
                   "spot_batch_rows_bucket{le=\"1\"} 2\n"
                   "spot_batch_rows_bucket{le=\"2\"} 3\n"
                   "spot_batch_rows_bucket{le=\"4\"} 5\n"
                   "spot_batch_rows_bucket{le=\"+Inf\"} 6\n"
                   "spot_batch_rows_sum 15\n"
                   "spot_batch_rows_count 6\n");
}

static void
test_registry_returns_same_handle_for_same_labels (void)
{
  g_autoptr (SpotMetricRegistry) registry = spot_metric_registry_new ();
  const char *labels[] = { "queue", NULL };
  SpotMetricFamily *family = spot_metric_registry_add_family (registry, SPOT_METRIC_COUNTER,
                                                              "spot_x_total", "X.", labels, NULL);
  SpotMetricFamily *again = spot_metric_registry_add_family (registry, SPOT_METRIC_COUNTER,
                                                             "spot_x_total", "X.", labels, NULL);

  g_assert_true (family == again);
  g_assert_true (spot_metric_family_counter (family, "a", NULL)
                 == spot_metric_family_counter (again, "a", NULL));
  g_assert_true (spot_metric_family_counter (family, "a", NULL)
                 != spot_metric_family_counter (family, "b", NULL));
  g_assert_cmpuint (spot_metric_family_get_n_series (family), ==, 2);
  g_assert_true (spot_metric_registry_lookup_family (registry, "spot_x_total") == family);
  g_assert_null (spot_metric_registry_lookup_family (registry, "spot_y_total"));
}

static void
test_registry_bounds_label_sets_with_a_sink (void)
{
  g_autoptr (SpotMetricRegistry) registry = spot_metric_registry_new ();
  const char *labels[] = { "queue", NULL };
  SpotMetricOptions options = { .max_series = 2 };
  SpotMetricFamily *family = spot_metric_registry_add_family (
      registry, SPOT_METRIC_COUNTER, "spot_q_total", "Q.", labels, &options);
  SpotCounter *sink;
  g_autofree char *text = NULL;

  spot_metric_family_counter (family, "a", NULL);
  spot_metric_family_counter (family, "b", NULL);
  sink = spot_metric_family_counter (family, "c", NULL);
  g_assert_cmpuint (metrics_test_log_take ("*spot_q_total reached its bound of 2 series*"), ==, 1);
  g_assert_nonnull (sink);
  /* Later overflows reuse the sink silently. */
  g_assert_true (spot_metric_family_counter (family, "d", NULL) == sink);
  g_assert_cmpuint (metrics_test_log_count (), ==, 0);
  spot_counter_inc (sink);
  text = render (registry);
  g_assert_null (strstr (text, "\"c\""));
  g_assert_cmpuint (spot_metric_family_get_n_series (family), ==, 2);
}

static void
test_registry_rejects_bad_names_and_shape_changes (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (SpotMetricRegistry) registry = spot_metric_registry_new ();

      spot_metric_registry_counter (registry, "spot-bad-name", "Bad.");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*spot-bad-name*not a valid Prometheus name*");
}

static void
test_registry_rejects_reregistration_with_other_type (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (SpotMetricRegistry) registry = spot_metric_registry_new ();

      spot_metric_registry_counter (registry, "spot_twice", "Once.");
      spot_metric_registry_gauge (registry, "spot_twice", "Twice.");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*spot_twice is already registered*");
}

static void
collect_tick (SpotMetricRegistry *registry, gpointer user_data)
{
  spot_gauge_add (user_data, 1.0);
}

static void
test_registry_runs_collectors_before_rendering (void)
{
  g_autoptr (SpotMetricRegistry) registry = spot_metric_registry_new ();
  SpotGauge *renders = spot_metric_registry_gauge (registry, "spot_renders", "Renders so far.");
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  spot_metric_registry_add_collector (registry, collect_tick, renders, NULL);
  first = render (registry);
  second = render (registry);
  g_assert_nonnull (strstr (first, "spot_renders 1\n"));
  g_assert_nonnull (strstr (second, "spot_renders 2\n"));
}

#define N_THREADS 4
#define N_INCREMENTS 1000000

typedef struct
{
  SpotMetricFamily *family;
  guint index;
} Worker;

static gpointer
hammer (gpointer data)
{
  Worker *worker = data;
  /* Each thread resolves its handles itself, then only adds. */
  SpotCounter *shared = spot_metric_family_counter (worker->family, "shared", NULL);
  g_autofree char *own_name = g_strdup_printf ("t%u", worker->index);
  SpotCounter *own = spot_metric_family_counter (worker->family, own_name, NULL);

  for (guint i = 0; i < N_INCREMENTS; i++)
    {
      spot_counter_inc (shared);
      spot_counter_inc (own);
    }
  return NULL;
}

static void
test_registry_totals_are_exact_with_concurrent_updates_and_renders (void)
{
  g_autoptr (SpotMetricRegistry) registry = spot_metric_registry_new ();
  const char *labels[] = { "worker", NULL };
  Worker workers[N_THREADS];
  GThread *threads[N_THREADS];
  g_autofree char *text = NULL;
  g_autofree char *expected_shared
      = g_strdup_printf ("spot_work_total{worker=\"shared\"} %u\n", N_THREADS * N_INCREMENTS);

  for (guint i = 0; i < N_THREADS; i++)
    {
      workers[i].family = spot_metric_registry_add_family (
          registry, SPOT_METRIC_COUNTER, "spot_work_total", "Work.", labels, NULL);
      workers[i].index = i;
      threads[i] = g_thread_new ("hammer", hammer, &workers[i]);
    }
  /* Rendering while threads add must neither block them nor crash. */
  for (guint i = 0; i < 20; i++)
    g_free (render (registry));
  for (guint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  text = render (registry);
  g_assert_nonnull (strstr (text, expected_shared));
  for (guint i = 0; i < N_THREADS; i++)
    {
      g_autofree char *line
          = g_strdup_printf ("spot_work_total{worker=\"t%u\"} %u\n", i, N_INCREMENTS);

      g_assert_nonnull (strstr (text, line));
    }
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  metrics_test_log_init ();
  g_test_add_func ("/metrics/registry/renders-exact-text-sorted-by-family-and-labels",
                   test_registry_renders_exact_text_sorted_by_family_and_labels);
  g_test_add_func ("/metrics/registry/escapes-label-values-and-help",
                   test_registry_escapes_label_values_and_help);
  g_test_add_func ("/metrics/registry/histogram-buckets-are-cumulative-with-inf-sum-and-count",
                   test_registry_histogram_buckets_are_cumulative_with_inf_sum_and_count);
  g_test_add_func ("/metrics/registry/returns-same-handle-for-same-labels",
                   test_registry_returns_same_handle_for_same_labels);
  g_test_add_func ("/metrics/registry/bounds-label-sets-with-a-sink",
                   test_registry_bounds_label_sets_with_a_sink);
  g_test_add_func ("/metrics/registry/rejects-bad-names-and-shape-changes",
                   test_registry_rejects_bad_names_and_shape_changes);
  g_test_add_func ("/metrics/registry/rejects-reregistration-with-other-type",
                   test_registry_rejects_reregistration_with_other_type);
  g_test_add_func ("/metrics/registry/runs-collectors-before-rendering",
                   test_registry_runs_collectors_before_rendering);
  g_test_add_func ("/metrics/registry/totals-are-exact-with-concurrent-updates-and-renders",
                   test_registry_totals_are_exact_with_concurrent_updates_and_renders);
  status = g_test_run ();
  metrics_test_log_clear ();
  return status;
}
