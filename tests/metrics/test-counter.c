/* test-counter.c: SpotCounter. */
#define G_LOG_DOMAIN "spot-test"

#include "metrics/spot-counter.h"

static void
test_counter_starts_at_zero_and_adds (void)
{
  g_autoptr (SpotCounter) counter = spot_counter_new (1);

  g_assert_cmpuint (spot_counter_get_units (counter), ==, 0);
  spot_counter_inc (counter);
  spot_counter_add (counter, 41);
  g_assert_cmpuint (spot_counter_get_units (counter), ==, 42);
  g_assert_cmpfloat (spot_counter_get_value (counter), ==, 42.0);
}

static void
test_counter_scale_divides_rendered_value (void)
{
  g_autoptr (SpotCounter) counter = spot_counter_new (100);

  spot_counter_set_units (counter, 1234);
  g_assert_cmpuint (spot_counter_get_units (counter), ==, 1234);
  g_assert_cmpfloat_with_epsilon (spot_counter_get_value (counter), 12.34, 1e-12);
}

static void
test_counter_keeps_64_bit_totals (void)
{
  g_autoptr (SpotCounter) counter = spot_counter_new (1);

  spot_counter_add (counter, G_GUINT64_CONSTANT (1) << 40);
  spot_counter_add (counter, G_GUINT64_CONSTANT (1) << 40);
  g_assert_cmpuint (spot_counter_get_units (counter), ==, G_GUINT64_CONSTANT (1) << 41);
}

#define N_THREADS 4
#define N_INCREMENTS 1000000

static gpointer
increment (gpointer data)
{
  SpotCounter *counter = data;

  for (guint i = 0; i < N_INCREMENTS; i++)
    spot_counter_inc (counter);
  return NULL;
}

static void
test_counter_is_exact_across_threads (void)
{
  g_autoptr (SpotCounter) counter = spot_counter_new (1);
  GThread *threads[N_THREADS];

  for (guint i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("increment", increment, counter);
  for (guint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);
  g_assert_cmpuint (spot_counter_get_units (counter), ==, (guint64)N_THREADS * N_INCREMENTS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/counter/starts-at-zero-and-adds",
                   test_counter_starts_at_zero_and_adds);
  g_test_add_func ("/metrics/counter/scale-divides-rendered-value",
                   test_counter_scale_divides_rendered_value);
  g_test_add_func ("/metrics/counter/keeps-64-bit-totals", test_counter_keeps_64_bit_totals);
  g_test_add_func ("/metrics/counter/is-exact-across-threads",
                   test_counter_is_exact_across_threads);
  return g_test_run ();
}
