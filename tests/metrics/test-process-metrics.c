/* test-process-metrics.c: process_* metrics read from /proc. */
#define G_LOG_DOMAIN "spot-test"

#include "metrics/spot-process-metrics.h"

#include <string.h>
#include <unistd.h>

/* Entries of /proc/self/fd minus the one GDir holds while listing. */
static guint
count_fds_independently (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n - 1;
}

static void
test_process_stats_are_plausible (void)
{
  SpotProcessStats stats;
  g_autoptr (GError) error = NULL;
  double now = g_get_real_time () / 1e6;

  g_assert_true (spot_process_stats_read (&stats, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stats.resident_bytes, >, 0);
  g_assert_cmpuint (stats.virtual_bytes, >=, stats.resident_bytes);
  g_assert_cmpuint (stats.threads, >=, 1);
  g_assert_cmpuint (stats.ticks_per_second, >, 0);
  g_assert_cmpuint (stats.max_fds, >=, stats.open_fds);
  g_assert_cmpfloat (stats.start_time_seconds, <=, now + 1);
  g_assert_cmpfloat (stats.start_time_seconds, >, now - 3600);
}

static void
test_process_open_fds_match_proc_self_fd (void)
{
  SpotProcessStats stats;
  int pipe_fds[2];

  g_assert_true (spot_process_stats_read (&stats, NULL));
  g_assert_cmpuint (stats.open_fds, ==, count_fds_independently ());
  g_assert_cmpint (pipe (pipe_fds), ==, 0);
  g_assert_true (spot_process_stats_read (&stats, NULL));
  g_assert_cmpuint (stats.open_fds, ==, count_fds_independently ());
  close (pipe_fds[0]);
  close (pipe_fds[1]);
}

static gpointer
sleeper (gpointer data)
{
  g_usleep (200 * 1000);
  return NULL;
}

static void
test_process_threads_counts_a_new_thread (void)
{
  SpotProcessStats before;
  SpotProcessStats during;
  GThread *thread;

  g_assert_true (spot_process_stats_read (&before, NULL));
  thread = g_thread_new ("sleeper", sleeper, NULL);
  g_assert_true (spot_process_stats_read (&during, NULL));
  g_thread_join (thread);
  g_assert_cmpuint (during.threads, ==, before.threads + 1);
}

static void
test_process_metrics_render_standard_families (void)
{
  g_autoptr (SpotMetricRegistry) registry = spot_metric_registry_new ();
  g_autoptr (GString) out = g_string_new (NULL);

  spot_process_metrics_register (registry);
  spot_metric_registry_render (registry, out);
  g_assert_nonnull (strstr (out->str, "# TYPE process_cpu_seconds_total counter\n"));
  g_assert_nonnull (strstr (out->str, "\nprocess_open_fds "));
  g_assert_nonnull (strstr (out->str, "\nprocess_max_fds "));
  g_assert_nonnull (strstr (out->str, "\nprocess_threads "));
  g_assert_nonnull (strstr (out->str, "\nprocess_start_time_seconds "));
  g_assert_null (strstr (out->str, "\nprocess_resident_memory_bytes 0\n"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/process/stats-are-plausible", test_process_stats_are_plausible);
  g_test_add_func ("/metrics/process/open-fds-match-proc-self-fd",
                   test_process_open_fds_match_proc_self_fd);
  g_test_add_func ("/metrics/process/threads-counts-a-new-thread",
                   test_process_threads_counts_a_new_thread);
  g_test_add_func ("/metrics/process/render-standard-families",
                   test_process_metrics_render_standard_families);
  return g_test_run ();
}
