/* test-promtool.c: the full default families, populated, pass
 * `promtool check metrics` (Debian's prometheus package). Exits 77 (skipped)
 * when promtool is not installed. */
#define G_LOG_DOMAIN "spot-test"

#include "metrics/spot-backpressure-monitor.h"
#include "metrics/spot-metrics.h"

#include <gio/gio.h>
#include <string.h>

static char *promtool;

static guint
half_full (gpointer user_data)
{
  return GPOINTER_TO_UINT (user_data);
}

static char *
render_populated_defaults (void)
{
  g_autoptr (SpotMetrics) m = spot_metrics_new (NULL, TRUE);
  g_autoptr (SpotBackpressureMonitor) monitor = spot_backpressure_monitor_new (m, 0);
  GString *out = g_string_new (NULL);
  SpotMonitoredQueue *queue;

  spot_counter_add (m->trades_received, 12345);
  spot_counter_inc (m->exchange_candles_received);
  spot_gauge_set (m->websocket_connections, 3);
  spot_counter_inc (m->candle_updates);
  spot_histogram_observe_ns (m->processing_latency, 1234567);
  spot_histogram_observe (m->publish_latency, 0.00031);
  spot_histogram_observe (m->db_write_latency, 0.02);
  spot_counter_inc (m->divergence_checks[SPOT_DIVERGENCE_DIVERGENT]);
  spot_counter_inc (m->rest_repairs[SPOT_REST_REPAIR_APPLIED]);
  spot_gauge_set (m->nats_connected, 1);
  spot_gauge_set (m->database_connected, 1);
  spot_gauge_set (m->sse_clients, 2);
  queue = spot_backpressure_monitor_add_queue (monitor, "shard-0", SPOT_DROP_STAGE_SHARD_QUEUE, 256,
                                               half_full, GUINT_TO_POINTER (128), NULL);
  spot_backpressure_monitor_add_queue (monitor, "inbox \"odd\" name\\", SPOT_DROP_STAGE_INBOX, 100,
                                       half_full, GUINT_TO_POINTER (3), NULL);
  spot_monitored_queue_record_drop (queue, 4);
  spot_backpressure_monitor_sample (monitor);

  spot_metrics_render (m, out);
  return g_string_free (out, FALSE);
}

static void
test_promtool_accepts_default_families (void)
{
  g_autofree char *text = render_populated_defaults ();
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *stdout_text = NULL;
  g_autofree char *stderr_text = NULL;

  g_test_message ("rendered %zu bytes", strlen (text));
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                  | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                              &error, promtool, "check", "metrics", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, text, NULL, &stdout_text, &stderr_text, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_successful (process) || (stdout_text != NULL && stdout_text[0] != '\0')
      || (stderr_text != NULL && stderr_text[0] != '\0'))
    {
      g_printerr ("%s\n--- promtool stdout:\n%s\n--- promtool stderr:\n%s\n", text, stdout_text,
                  stderr_text);
      g_test_fail ();
    }
  /* Every family of spot-metrics.h is there. */
  g_assert_nonnull (strstr (text, "# TYPE spot_processing_latency_seconds histogram\n"));
  g_assert_nonnull (strstr (text, "spot_dropped_messages_total{stage=\"shard_queue\"} 4\n"));
  g_assert_nonnull (strstr (text, "spot_queue_utilisation_ratio{queue=\"shard-0\"} 0.5\n"));
  g_assert_nonnull (strstr (text, "# TYPE process_cpu_seconds_total counter\n"));
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  promtool = g_find_program_in_path ("promtool");
  if (promtool == NULL)
    {
      g_printerr ("promtool not found (Debian package prometheus): skipping\n");
      return 77;
    }
  g_test_add_func ("/metrics/promtool/accepts-default-families",
                   test_promtool_accepts_default_families);
  status = g_test_run ();
  g_free (promtool);
  return status;
}
