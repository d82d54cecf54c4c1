/* test-histogram.c: SpotHistogram. */
#define G_LOG_DOMAIN "spot-test"

#include "core/spot-error.h"
#include "metrics/spot-histogram.h"

#include <math.h>
#include <string.h>

static const double bounds[] = { 0.001, 0.01, 0.1, 1.0 };

static void
test_histogram_counts_value_in_first_bucket_not_below_it (void)
{
  g_autoptr (SpotHistogram) h
      = spot_histogram_new (bounds, G_N_ELEMENTS (bounds), SPOT_HISTOGRAM_SCALE_US, NULL);

  spot_histogram_observe (h, 0.001); /* on the bound: le is inclusive */
  spot_histogram_observe (h, 0.0011);
  spot_histogram_observe (h, 0.5);
  spot_histogram_observe (h, 7.0);    /* +Inf */
  spot_histogram_observe (h, -0.002); /* clock skew: lowest bucket */

  g_assert_cmpuint (spot_histogram_get_bucket (h, 0), ==, 2);
  g_assert_cmpuint (spot_histogram_get_bucket (h, 1), ==, 1);
  g_assert_cmpuint (spot_histogram_get_bucket (h, 2), ==, 0);
  g_assert_cmpuint (spot_histogram_get_bucket (h, 3), ==, 1);
  g_assert_cmpuint (spot_histogram_get_bucket (h, 4), ==, 1);
  g_assert_cmpuint (spot_histogram_get_count (h), ==, 5);
  /* 1000 + 1100 + 500000 + 7000000 - 2000 microseconds, exactly. */
  g_assert_cmpint (spot_histogram_get_sum_units (h), ==, 7500100);
  g_assert_cmpfloat (spot_histogram_get_sum (h), ==, 7.5001);
}

static void
test_histogram_integer_paths_match_double_path (void)
{
  g_autoptr (SpotHistogram) a
      = spot_histogram_new (bounds, G_N_ELEMENTS (bounds), SPOT_HISTOGRAM_SCALE_US, NULL);
  g_autoptr (SpotHistogram) b
      = spot_histogram_new (bounds, G_N_ELEMENTS (bounds), SPOT_HISTOGRAM_SCALE_US, NULL);
  g_autoptr (SpotHistogram) c
      = spot_histogram_new (bounds, G_N_ELEMENTS (bounds), SPOT_HISTOGRAM_SCALE_US, NULL);
  const gint64 samples_us[]
      = { 0, 999, 1000, 1001, 10000, 99999, 100000, 1000000, 1000001, 123456789 };

  for (guint i = 0; i < G_N_ELEMENTS (samples_us); i++)
    {
      spot_histogram_observe (a, samples_us[i] / 1e6);
      spot_histogram_observe_units (b, samples_us[i]);
      spot_histogram_observe_ns (c,
                                 samples_us[i] * 1000 + 999); /* sub-microsecond part truncated */
    }
  for (guint i = 0; i <= G_N_ELEMENTS (bounds); i++)
    {
      g_assert_cmpuint (spot_histogram_get_bucket (a, i), ==, spot_histogram_get_bucket (b, i));
      g_assert_cmpuint (spot_histogram_get_bucket (b, i), ==, spot_histogram_get_bucket (c, i));
    }
  g_assert_cmpint (spot_histogram_get_sum_units (a), ==, spot_histogram_get_sum_units (b));
  g_assert_cmpint (spot_histogram_get_sum_units (b), ==, spot_histogram_get_sum_units (c));
}

static void
test_histogram_uses_binary_search_for_many_bounds (void)
{
  double many[40];
  g_autoptr (SpotHistogram) h = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (many); i++)
    many[i] = (i + 1) * 10.0;
  h = spot_histogram_new (many, G_N_ELEMENTS (many), 1.0, NULL);
  for (gint64 v = 0; v <= 410; v++)
    spot_histogram_observe_units (h, v);
  g_assert_cmpuint (spot_histogram_get_bucket (h, 0), ==, 11); /* 0..10 */
  for (guint i = 1; i < G_N_ELEMENTS (many); i++)
    g_assert_cmpuint (spot_histogram_get_bucket (h, i), ==, 10);
  g_assert_cmpuint (spot_histogram_get_bucket (h, G_N_ELEMENTS (many)), ==, 10); /* 401..410 */
}

static void
test_histogram_nan_counts_without_sum (void)
{
  g_autoptr (SpotHistogram) h = spot_histogram_new (bounds, G_N_ELEMENTS (bounds), 1.0, NULL);

  spot_histogram_observe (h, NAN);
  g_assert_cmpuint (spot_histogram_get_bucket (h, G_N_ELEMENTS (bounds)), ==, 1);
  g_assert_cmpint (spot_histogram_get_sum_units (h), ==, 0);
}

static void
test_histogram_clamps_huge_values_in_sum (void)
{
  const double huge_bounds[] = { 1.0, 1e300 };
  g_autoptr (SpotHistogram) h
      = spot_histogram_new (huge_bounds, G_N_ELEMENTS (huge_bounds), SPOT_HISTOGRAM_SCALE_US, NULL);

  spot_histogram_observe (h, 1e200);
  g_assert_cmpuint (spot_histogram_get_bucket (h, 1), ==, 1);
  g_assert_cmpint (spot_histogram_get_sum_units (h), ==, G_MAXINT64);
  spot_histogram_observe_units (h, 5);
  g_assert_cmpuint (spot_histogram_get_bucket (h, 0), ==, 1);
}

static void
test_histogram_rejects_unordered_or_infinite_bounds (void)
{
  const double unordered[] = { 1.0, 1.0 };
  const double infinite[] = { 1.0, INFINITY };
  g_autoptr (GError) error = NULL;
  SpotHistogram *h;

  h = spot_histogram_new (unordered, G_N_ELEMENTS (unordered), 1.0, &error);
  g_assert_null (h);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "bound 1"));
  g_clear_error (&error);

  h = spot_histogram_new (infinite, G_N_ELEMENTS (infinite), 1.0, &error);
  g_assert_null (h);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  h = spot_histogram_new (bounds, G_N_ELEMENTS (bounds), 0.0, &error);
  g_assert_null (h);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
}

#define N_THREADS 4
#define N_OBSERVATIONS 250000

static gpointer
observe_many (gpointer data)
{
  SpotHistogram *h = data;

  for (guint i = 0; i < N_OBSERVATIONS; i++)
    spot_histogram_observe_units (h, i % 2000); /* microseconds: 0..1999 */
  return NULL;
}

static void
test_histogram_is_exact_across_threads (void)
{
  g_autoptr (SpotHistogram) h
      = spot_histogram_new (bounds, G_N_ELEMENTS (bounds), SPOT_HISTOGRAM_SCALE_US, NULL);
  GThread *threads[N_THREADS];
  gint64 per_thread_sum = 0;

  for (guint i = 0; i < N_OBSERVATIONS; i++)
    per_thread_sum += i % 2000;
  for (guint i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("observe", observe_many, h);
  for (guint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  g_assert_cmpuint (spot_histogram_get_count (h), ==, (guint64)N_THREADS * N_OBSERVATIONS);
  g_assert_cmpint (spot_histogram_get_sum_units (h), ==, N_THREADS * per_thread_sum);
  /* 0..1000 us of every 2000 land in le=0.001. */
  g_assert_cmpuint (spot_histogram_get_bucket (h, 0), ==,
                    (guint64)N_THREADS * (N_OBSERVATIONS / 2000) * 1001);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/histogram/counts-value-in-first-bucket-not-below-it",
                   test_histogram_counts_value_in_first_bucket_not_below_it);
  g_test_add_func ("/metrics/histogram/integer-paths-match-double-path",
                   test_histogram_integer_paths_match_double_path);
  g_test_add_func ("/metrics/histogram/uses-binary-search-for-many-bounds",
                   test_histogram_uses_binary_search_for_many_bounds);
  g_test_add_func ("/metrics/histogram/clamps-huge-values-in-sum",
                   test_histogram_clamps_huge_values_in_sum);
  g_test_add_func ("/metrics/histogram/nan-counts-without-sum",
                   test_histogram_nan_counts_without_sum);
  g_test_add_func ("/metrics/histogram/rejects-unordered-or-infinite-bounds",
                   test_histogram_rejects_unordered_or_infinite_bounds);
  g_test_add_func ("/metrics/histogram/is-exact-across-threads",
                   test_histogram_is_exact_across_threads);
  return g_test_run ();
}
