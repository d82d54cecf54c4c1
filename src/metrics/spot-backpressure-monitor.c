/* spot-backpressure-monitor.c: samples bounded queues into gauges. */
#define G_LOG_DOMAIN "spot-metrics"

#include "metrics/spot-backpressure-monitor.h"

#include <string.h>

struct _SpotMonitoredQueue
{
  /* Set once, read from any thread by record_drop. */
  SpotCounter *dropped;
  SpotCounter *stage_dropped;

  /* Main context only. */
  char *name;
  gboolean active;
  guint capacity;
  SpotQueueLengthFunc get_length;
  gpointer user_data;
  GDestroyNotify destroy;
  SpotGauge *length_gauge;
  SpotGauge *capacity_gauge;
  SpotGauge *utilisation_gauge;
  SpotGauge *high_water_gauge;
  guint length;
  guint high_water;
  double utilisation;
  guint high_samples;     /* consecutive samples at or above the threshold */
  gint64 last_warning_us; /* monotonic; 0 = never */
  guint warnings_suppressed;
};

struct _SpotBackpressureMonitor
{
  GObject parent_instance;

  SpotMetrics *metrics; /* not owned: outlives the monitor (the default lives forever) */
  GMainContext *context;
  GSource *timer;
  GHashTable *queues; /* name -> SpotMonitoredQueue, active or not */
  double threshold;
  guint sustain_samples;
  gint64 warning_interval_us;
  double max_utilisation;
};

G_DEFINE_TYPE (SpotBackpressureMonitor, spot_backpressure_monitor, G_TYPE_OBJECT)

static void
queue_release_user_data (SpotMonitoredQueue *queue)
{
  if (queue->destroy != NULL && queue->user_data != NULL)
    queue->destroy (queue->user_data);
  queue->user_data = NULL;
  queue->destroy = NULL;
  queue->get_length = NULL;
}

static void
queue_free (SpotMonitoredQueue *queue)
{
  queue_release_user_data (queue);
  g_free (queue->name);
  g_free (queue);
}

static gboolean
on_timer (gpointer user_data)
{
  spot_backpressure_monitor_sample (SPOT_BACKPRESSURE_MONITOR (user_data));
  return G_SOURCE_CONTINUE;
}

static void
spot_backpressure_monitor_dispose (GObject *object)
{
  SpotBackpressureMonitor *self = SPOT_BACKPRESSURE_MONITOR (object);

  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  G_OBJECT_CLASS (spot_backpressure_monitor_parent_class)->dispose (object);
}

static void
spot_backpressure_monitor_finalize (GObject *object)
{
  SpotBackpressureMonitor *self = SPOT_BACKPRESSURE_MONITOR (object);

  g_hash_table_unref (self->queues);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (spot_backpressure_monitor_parent_class)->finalize (object);
}

static void
spot_backpressure_monitor_class_init (SpotBackpressureMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = spot_backpressure_monitor_dispose;
  object_class->finalize = spot_backpressure_monitor_finalize;
}

static void
spot_backpressure_monitor_init (SpotBackpressureMonitor *self)
{
  self->queues = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)queue_free);
  self->threshold = 0.8;
  self->sustain_samples = 5;
  self->warning_interval_us = 60 * G_USEC_PER_SEC;
}

SpotBackpressureMonitor *
spot_backpressure_monitor_new (SpotMetrics *metrics, guint interval_ms)
{
  SpotBackpressureMonitor *self;

  g_return_val_if_fail (metrics != NULL, NULL);

  self = g_object_new (SPOT_TYPE_BACKPRESSURE_MONITOR, NULL);
  self->metrics = metrics;
  self->context = g_main_context_ref_thread_default ();
  if (interval_ms > 0)
    {
      self->timer = g_timeout_source_new (interval_ms);
      g_source_set_callback (self->timer, on_timer, self, NULL);
      g_source_set_static_name (self->timer, "[spot] backpressure sampling");
      g_source_attach (self->timer, self->context);
    }
  return self;
}

void
spot_backpressure_monitor_set_warning (SpotBackpressureMonitor *monitor,
                                       double threshold,
                                       guint sustain_samples,
                                       guint warning_interval_s)
{
  g_return_if_fail (SPOT_IS_BACKPRESSURE_MONITOR (monitor));
  g_return_if_fail (threshold > 0.0 && threshold <= 1.0);
  g_return_if_fail (sustain_samples >= 1);

  monitor->threshold = threshold;
  monitor->sustain_samples = sustain_samples;
  monitor->warning_interval_us = (gint64)warning_interval_s * G_USEC_PER_SEC;
}

SpotMonitoredQueue *
spot_backpressure_monitor_add_queue (SpotBackpressureMonitor *monitor,
                                     const char *name,
                                     SpotDropStage stage,
                                     guint capacity,
                                     SpotQueueLengthFunc get_length,
                                     gpointer user_data,
                                     GDestroyNotify destroy)
{
  SpotMonitoredQueue *queue;
  SpotMetrics *m;

  g_return_val_if_fail (SPOT_IS_BACKPRESSURE_MONITOR (monitor), NULL);
  g_return_val_if_fail (name != NULL && name[0] != '\0', NULL);
  g_return_val_if_fail (stage < SPOT_DROP_STAGE_N, NULL);
  g_return_val_if_fail (capacity > 0, NULL);
  g_return_val_if_fail (get_length != NULL, NULL);

  m = monitor->metrics;
  queue = g_hash_table_lookup (monitor->queues, name);
  if (queue != NULL && queue->active)
    {
      g_critical ("queue \"%s\" is already monitored", name);
      return NULL;
    }
  if (queue == NULL)
    {
      queue = g_new0 (SpotMonitoredQueue, 1);
      queue->name = g_strdup (name);
      queue->dropped = spot_metric_family_counter (m->queue_dropped, name, NULL);
      queue->length_gauge = spot_metric_family_gauge (m->queue_length, name, NULL);
      queue->capacity_gauge = spot_metric_family_gauge (m->queue_capacity, name, NULL);
      queue->utilisation_gauge = spot_metric_family_gauge (m->queue_utilisation, name, NULL);
      queue->high_water_gauge = spot_metric_family_gauge (m->queue_high_water, name, NULL);
      g_hash_table_insert (monitor->queues, queue->name, queue);
    }
  queue->stage_dropped = m->dropped[stage];
  queue->active = TRUE;
  queue->capacity = capacity;
  queue->get_length = get_length;
  queue->user_data = user_data;
  queue->destroy = destroy;
  queue->high_samples = 0;
  spot_gauge_set (queue->capacity_gauge, capacity);
  g_debug ("monitoring queue %s (%s, capacity %u)", name, spot_drop_stage_to_string (stage),
           capacity);
  return queue;
}

void
spot_backpressure_monitor_remove_queue (SpotBackpressureMonitor *monitor, SpotMonitoredQueue *queue)
{
  g_return_if_fail (SPOT_IS_BACKPRESSURE_MONITOR (monitor));
  g_return_if_fail (queue != NULL);

  queue->active = FALSE;
  queue_release_user_data (queue);
  queue->length = 0;
  queue->utilisation = 0.0;
  queue->high_samples = 0;
  spot_gauge_set (queue->length_gauge, 0);
  spot_gauge_set (queue->utilisation_gauge, 0);
}

void
spot_monitored_queue_record_drop (SpotMonitoredQueue *queue, guint64 n)
{
  spot_counter_add (queue->dropped, n);
  spot_counter_add (queue->stage_dropped, n);
}

static void
check_sustained (SpotBackpressureMonitor *monitor, SpotMonitoredQueue *queue)
{
  gint64 now;

  if (queue->utilisation < monitor->threshold)
    {
      queue->high_samples = 0;
      return;
    }
  queue->high_samples++;
  if (queue->high_samples < monitor->sustain_samples)
    return;

  now = g_get_monotonic_time ();
  if (queue->last_warning_us != 0 && now - queue->last_warning_us < monitor->warning_interval_us)
    {
      queue->warnings_suppressed++;
      return;
    }
  g_warning ("queue %s has been at or above %.0f%% of its capacity for %u samples: "
             "%u of %u items (high-water mark %u, %" G_GUINT64_FORMAT " dropped so far, "
             "%u similar warnings suppressed)",
             queue->name, monitor->threshold * 100.0, queue->high_samples, queue->length,
             queue->capacity, queue->high_water, spot_counter_get_units (queue->dropped),
             queue->warnings_suppressed);
  queue->last_warning_us = now;
  queue->warnings_suppressed = 0;
}

void
spot_backpressure_monitor_sample (SpotBackpressureMonitor *monitor)
{
  GHashTableIter iter;
  gpointer value;
  double max_utilisation = 0.0;

  g_return_if_fail (SPOT_IS_BACKPRESSURE_MONITOR (monitor));

  g_hash_table_iter_init (&iter, monitor->queues);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      SpotMonitoredQueue *queue = value;

      if (!queue->active)
        continue;
      queue->length = queue->get_length (queue->user_data);
      queue->utilisation = (double)queue->length / (double)queue->capacity;
      queue->high_water = MAX (queue->high_water, queue->length);
      spot_gauge_set (queue->length_gauge, queue->length);
      spot_gauge_set (queue->utilisation_gauge, queue->utilisation);
      spot_gauge_set (queue->high_water_gauge, queue->high_water);
      max_utilisation = MAX (max_utilisation, queue->utilisation);
      check_sustained (monitor, queue);
    }
  monitor->max_utilisation = max_utilisation;
}

double
spot_backpressure_monitor_get_max_utilisation (SpotBackpressureMonitor *monitor)
{
  g_return_val_if_fail (SPOT_IS_BACKPRESSURE_MONITOR (monitor), 0.0);
  return monitor->max_utilisation;
}

static int
compare_queue_names (gconstpointer a, gconstpointer b)
{
  const SpotMonitoredQueue *qa = *(SpotMonitoredQueue *const *)a;
  const SpotMonitoredQueue *qb = *(SpotMonitoredQueue *const *)b;

  return strcmp (qa->name, qb->name);
}

static GPtrArray *
active_queues_sorted (SpotBackpressureMonitor *monitor)
{
  GPtrArray *queues = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, monitor->queues);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((SpotMonitoredQueue *)value)->active)
      g_ptr_array_add (queues, value);
  g_ptr_array_sort (queues, compare_queue_names);
  return queues;
}

GVariant *
spot_backpressure_monitor_get_summary (SpotBackpressureMonitor *monitor)
{
  g_autoptr (GPtrArray) queues = NULL;
  GVariantBuilder builder;

  g_return_val_if_fail (SPOT_IS_BACKPRESSURE_MONITOR (monitor), NULL);

  queues = active_queues_sorted (monitor);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(suuudt)"));
  for (guint i = 0; i < queues->len; i++)
    {
      SpotMonitoredQueue *queue = g_ptr_array_index (queues, i);

      g_variant_builder_add (&builder, "(suuudt)", queue->name, queue->capacity, queue->length,
                             queue->high_water, queue->utilisation,
                             (guint64)spot_counter_get_units (queue->dropped));
    }
  return g_variant_builder_end (&builder);
}

void
spot_backpressure_monitor_add_json (SpotBackpressureMonitor *monitor, JsonBuilder *builder)
{
  g_autoptr (GPtrArray) queues = NULL;

  g_return_if_fail (SPOT_IS_BACKPRESSURE_MONITOR (monitor));
  g_return_if_fail (JSON_IS_BUILDER (builder));

  queues = active_queues_sorted (monitor);
  json_builder_begin_array (builder);
  for (guint i = 0; i < queues->len; i++)
    {
      SpotMonitoredQueue *queue = g_ptr_array_index (queues, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, queue->name);
      json_builder_set_member_name (builder, "capacity");
      json_builder_add_int_value (builder, queue->capacity);
      json_builder_set_member_name (builder, "length");
      json_builder_add_int_value (builder, queue->length);
      json_builder_set_member_name (builder, "high_water_mark");
      json_builder_add_int_value (builder, queue->high_water);
      json_builder_set_member_name (builder, "utilisation");
      json_builder_add_double_value (builder, queue->utilisation);
      json_builder_set_member_name (builder, "dropped");
      json_builder_add_int_value (builder, (gint64)spot_counter_get_units (queue->dropped));
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}
