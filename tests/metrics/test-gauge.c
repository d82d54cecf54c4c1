/* test-gauge.c: SpotGauge. */
#define G_LOG_DOMAIN "spot-test"

#include "metrics/spot-gauge.h"

static void
test_gauge_sets_and_moves_both_ways (void)
{
  g_autoptr (SpotGauge) gauge = spot_gauge_new ();

  g_assert_cmpfloat (spot_gauge_get (gauge), ==, 0.0);
  spot_gauge_set (gauge, 2.5);
  g_assert_cmpfloat (spot_gauge_get (gauge), ==, 2.5);
  spot_gauge_inc (gauge);
  spot_gauge_dec (gauge);
  spot_gauge_dec (gauge);
  g_assert_cmpfloat (spot_gauge_get (gauge), ==, 1.5);
  spot_gauge_add (gauge, -3.0);
  g_assert_cmpfloat (spot_gauge_get (gauge), ==, -1.5);
}

#define N_THREADS 4
#define N_STEPS 200000

static gpointer
up_and_down (gpointer data)
{
  SpotGauge *gauge = data;

  for (guint i = 0; i < N_STEPS; i++)
    {
      spot_gauge_inc (gauge);
      spot_gauge_add (gauge, 2.0);
      spot_gauge_dec (gauge);
    }
  return NULL;
}

static void
test_gauge_add_is_exact_across_threads (void)
{
  g_autoptr (SpotGauge) gauge = spot_gauge_new ();
  GThread *threads[N_THREADS];

  for (guint i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("gauge", up_and_down, gauge);
  for (guint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);
  /* Whole numbers stay exact in a double far beyond this. */
  g_assert_cmpfloat (spot_gauge_get (gauge), ==, 2.0 * N_THREADS * N_STEPS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/gauge/sets-and-moves-both-ways", test_gauge_sets_and_moves_both_ways);
  g_test_add_func ("/metrics/gauge/add-is-exact-across-threads",
                   test_gauge_add_is_exact_across_threads);
  return g_test_run ();
}
