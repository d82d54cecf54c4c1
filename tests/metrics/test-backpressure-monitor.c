/* test-backpressure-monitor.c: queue sampling, drops and the sustained
 * saturation warning. */
#define G_LOG_DOMAIN "spot-test"

#include "metrics/spot-backpressure-monitor.h"

#include <string.h>

#include "metrics-test-log.h"

/* A real bounded queue as a component would have one: a GAsyncQueue whose
 * producer refuses to go past capacity and records the drop. */
typedef struct
{
  GAsyncQueue *queue;
  guint capacity;
  SpotMonitoredQueue *monitored;
} BoundedQueue;

static guint
bounded_queue_length (gpointer user_data)
{
  BoundedQueue *bq = user_data;

  return (guint)MAX (g_async_queue_length (bq->queue), 0);
}

static gboolean
bounded_queue_push (BoundedQueue *bq, gpointer item)
{
  if ((guint)MAX (g_async_queue_length (bq->queue), 0) >= bq->capacity)
    {
      spot_monitored_queue_record_drop (bq->monitored, 1);
      return FALSE;
    }
  g_async_queue_push (bq->queue, item);
  return TRUE;
}

static double
gauge_value (SpotMetricFamily *family, const char *queue)
{
  return spot_gauge_get (spot_metric_family_gauge (family, queue, NULL));
}

static void
test_monitor_sees_full_queue_drops_and_warns_once (void)
{
  g_autoptr (SpotMetrics) m = spot_metrics_new (NULL, FALSE);
  g_autoptr (SpotBackpressureMonitor) monitor = spot_backpressure_monitor_new (m, 0);
  BoundedQueue bq = { g_async_queue_new (), 10, NULL };
  guint pushed = 0;
  g_autoptr (GVariant) summary = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  const char *name;
  guint32 capacity, length, high_water;
  double utilisation;
  guint64 dropped;

  spot_backpressure_monitor_set_warning (monitor, 0.8, 3, 3600);
  bq.monitored
      = spot_backpressure_monitor_add_queue (monitor, "shard-3", SPOT_DROP_STAGE_SHARD_QUEUE,
                                             bq.capacity, bounded_queue_length, &bq, NULL);

  for (guint i = 0; i < 4; i++)
    pushed += bounded_queue_push (&bq, GUINT_TO_POINTER (i + 1));
  spot_backpressure_monitor_sample (monitor);
  g_assert_cmpfloat (gauge_value (m->queue_utilisation, "shard-3"), ==, 0.4);
  g_assert_cmpfloat (gauge_value (m->queue_capacity, "shard-3"), ==, 10);

  for (guint i = 0; i < 10; i++)
    pushed += bounded_queue_push (&bq, GUINT_TO_POINTER (i + 100));
  g_assert_cmpuint (pushed, ==, 10);

  /* Two saturated samples: not yet sustained. */
  spot_backpressure_monitor_sample (monitor);
  spot_backpressure_monitor_sample (monitor);
  g_assert_cmpfloat (gauge_value (m->queue_utilisation, "shard-3"), ==, 1.0);
  g_assert_cmpfloat (gauge_value (m->queue_length, "shard-3"), ==, 10);
  g_assert_cmpfloat (spot_backpressure_monitor_get_max_utilisation (monitor), ==, 1.0);

  g_assert_cmpuint (metrics_test_log_count (), ==, 0);
  spot_backpressure_monitor_sample (monitor);
  g_assert_cmpuint (
      metrics_test_log_take ("queue shard-3 has been at or above 80%*10 of 10 items*4 dropped*"),
      ==, 1);
  /* Still saturated, but rate-limited: no further warning. */
  spot_backpressure_monitor_sample (monitor);
  spot_backpressure_monitor_sample (monitor);
  g_assert_cmpuint (metrics_test_log_count (), ==, 0);

  /* Drain: utilisation falls, the high-water mark stays. */
  while (g_async_queue_try_pop (bq.queue) != NULL)
    ;
  spot_backpressure_monitor_sample (monitor);
  g_assert_cmpfloat (gauge_value (m->queue_utilisation, "shard-3"), ==, 0.0);
  g_assert_cmpfloat (gauge_value (m->queue_high_water, "shard-3"), ==, 10);
  g_assert_cmpuint (
      spot_counter_get_units (spot_metric_family_counter (m->queue_dropped, "shard-3", NULL)), ==,
      4);
  g_assert_cmpuint (spot_counter_get_units (m->dropped[SPOT_DROP_STAGE_SHARD_QUEUE]), ==, 4);
  g_assert_cmpuint (spot_counter_get_units (m->dropped[SPOT_DROP_STAGE_INBOX]), ==, 0);

  summary = g_variant_ref_sink (spot_backpressure_monitor_get_summary (monitor));
  g_assert_cmpstr (g_variant_get_type_string (summary), ==, "a(suuudt)");
  g_assert_cmpuint (g_variant_n_children (summary), ==, 1);
  g_variant_get_child (summary, 0, "(&suuudt)", &name, &capacity, &length, &high_water,
                       &utilisation, &dropped);
  g_assert_cmpstr (name, ==, "shard-3");
  g_assert_cmpuint (capacity, ==, 10);
  g_assert_cmpuint (length, ==, 0);
  g_assert_cmpuint (high_water, ==, 10);
  g_assert_cmpfloat (utilisation, ==, 0.0);
  g_assert_cmpuint (dropped, ==, 4);

  spot_metrics_render (m, text);
  g_assert_nonnull (strstr (text->str, "spot_queue_high_water_mark{queue=\"shard-3\"} 10\n"));
  g_assert_nonnull (strstr (text->str, "spot_dropped_messages_total{stage=\"shard_queue\"} 4\n"));

  g_async_queue_unref (bq.queue);
}

static guint
fixed_length (gpointer user_data)
{
  return GPOINTER_TO_UINT (user_data);
}

static void
test_monitor_rate_limit_reports_suppressed_warnings (void)
{
  g_autoptr (SpotMetrics) m = spot_metrics_new (NULL, FALSE);
  g_autoptr (SpotBackpressureMonitor) monitor = spot_backpressure_monitor_new (m, 0);

  spot_backpressure_monitor_set_warning (monitor, 0.5, 1, 1);
  spot_backpressure_monitor_add_queue (monitor, "nats-publisher", SPOT_DROP_STAGE_NATS, 4,
                                       fixed_length, GUINT_TO_POINTER (4), NULL);
  spot_backpressure_monitor_sample (monitor);
  g_assert_cmpuint (metrics_test_log_take ("queue nats-publisher *0 similar warnings suppressed*"),
                    ==, 1);
  spot_backpressure_monitor_sample (monitor);
  spot_backpressure_monitor_sample (monitor);
  g_assert_cmpuint (metrics_test_log_count (), ==, 0);
  g_usleep (1100 * 1000);
  spot_backpressure_monitor_sample (monitor);
  g_assert_cmpuint (metrics_test_log_take ("queue nats-publisher *2 similar warnings suppressed*"),
                    ==, 1);
}

static void
test_monitor_samples_on_its_timer (void)
{
  g_autoptr (SpotMetrics) m = spot_metrics_new (NULL, FALSE);
  g_autoptr (SpotBackpressureMonitor) monitor = spot_backpressure_monitor_new (m, 10);
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  spot_backpressure_monitor_add_queue (monitor, "sse-client-1", SPOT_DROP_STAGE_SSE_CLIENT, 8,
                                       fixed_length, GUINT_TO_POINTER (2), NULL);
  while (gauge_value (m->queue_utilisation, "sse-client-1") == 0.0
         && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpfloat (gauge_value (m->queue_utilisation, "sse-client-1"), ==, 0.25);
}

static void
test_monitor_removed_queue_keeps_handle_and_reuses_series (void)
{
  g_autoptr (SpotMetrics) m = spot_metrics_new (NULL, FALSE);
  g_autoptr (SpotBackpressureMonitor) monitor = spot_backpressure_monitor_new (m, 0);
  g_autoptr (GVariant) summary = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;
  SpotMonitoredQueue *first;
  SpotMonitoredQueue *again;

  first = spot_backpressure_monitor_add_queue (monitor, "inbox-7", SPOT_DROP_STAGE_INBOX, 100,
                                               fixed_length, GUINT_TO_POINTER (50), NULL);
  spot_backpressure_monitor_sample (monitor);
  spot_backpressure_monitor_remove_queue (monitor, first);
  /* A producer that has not noticed the removal yet may still record. */
  spot_monitored_queue_record_drop (first, 2);
  summary = g_variant_ref_sink (spot_backpressure_monitor_get_summary (monitor));
  g_assert_cmpuint (g_variant_n_children (summary), ==, 0);

  again = spot_backpressure_monitor_add_queue (monitor, "inbox-7", SPOT_DROP_STAGE_INBOX, 100,
                                               fixed_length, GUINT_TO_POINTER (10), NULL);
  g_assert_true (again == first);
  spot_backpressure_monitor_sample (monitor);
  g_assert_cmpuint (spot_metric_family_get_n_series (m->queue_length), ==, 1);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "queues");
  spot_backpressure_monitor_add_json (monitor, builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);
  g_assert_cmpstr (json, ==,
                   "{\"queues\":[{\"name\":\"inbox-7\",\"capacity\":100,\"length\":10,"
                   "\"high_water_mark\":50,\"utilisation\":0.10000000000000001,\"dropped\":2}]}");
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  metrics_test_log_init ();
  g_test_add_func ("/metrics/backpressure/sees-full-queue-drops-and-warns-once",
                   test_monitor_sees_full_queue_drops_and_warns_once);
  g_test_add_func ("/metrics/backpressure/rate-limit-reports-suppressed-warnings",
                   test_monitor_rate_limit_reports_suppressed_warnings);
  g_test_add_func ("/metrics/backpressure/samples-on-its-timer", test_monitor_samples_on_its_timer);
  g_test_add_func ("/metrics/backpressure/removed-queue-keeps-handle-and-reuses-series",
                   test_monitor_removed_queue_keeps_handle_and_reuses_series);
  status = g_test_run ();
  metrics_test_log_clear ();
  return status;
}
