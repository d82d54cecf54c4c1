/* spot-backpressure-monitor.h: samples bounded queues into gauges and warns
 * about sustained saturation.
 *
 * Components register each bounded queue (a connection inbox, a shard queue,
 * the publisher and writer queues, an SSE client buffer) with its name,
 * capacity, drop stage and a length getter. Every interval the monitor calls
 * each getter and sets spot_queue_length / _capacity / _utilisation_ratio /
 * _high_water_mark{queue=name}. When a queue stays at or above the high
 * threshold (default 0.8) for sustain_samples consecutive samples (default 5)
 * it logs a g_warning naming the queue, at most once per warning interval
 * (default 60 s) per queue, with the number suppressed in between. Producers
 * record drops with spot_monitored_queue_record_drop, which bumps
 * spot_queue_dropped_total{queue} and spot_dropped_messages_total{stage}.
 *
 * A queue handle lives until the monitor is finalized, even after
 * remove_queue (which only stops sampling), so a producer racing with
 * removal never touches freed memory; adding the same name again reuses the
 * handle and its series (a reconnecting connection keeps its inbox's name).
 *
 * Thread safety: the monitor belongs to the thread-default main context at
 * construction (the main thread): new, add_queue, remove_queue, sample,
 * setters, summaries and unref run there, and length getters are called
 * there, so they must be safe against the producing threads (an atomic
 * length, g_async_queue_length, ...). spot_monitored_queue_record_drop may be
 * called from any thread.
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "metrics/spot-metrics.h"

G_BEGIN_DECLS

#define SPOT_TYPE_BACKPRESSURE_MONITOR (spot_backpressure_monitor_get_type ())
G_DECLARE_FINAL_TYPE (
    SpotBackpressureMonitor, spot_backpressure_monitor, SPOT, BACKPRESSURE_MONITOR, GObject)

/* The sampling period the service uses. */
#define SPOT_BACKPRESSURE_DEFAULT_INTERVAL_MS 1000

typedef guint (*SpotQueueLengthFunc) (gpointer user_data);
typedef struct _SpotMonitoredQueue SpotMonitoredQueue;

/* @metrics must outlive the monitor (the default one lives forever).
 * @interval_ms: sampling period; 0 samples only on spot_backpressure_monitor_sample(). */
SpotBackpressureMonitor *spot_backpressure_monitor_new (SpotMetrics *metrics, guint interval_ms);

/* @threshold in (0, 1]; @sustain_samples >= 1; @warning_interval_s between
 * two warnings about the same queue. */
void spot_backpressure_monitor_set_warning (SpotBackpressureMonitor *monitor,
                                            double threshold,
                                            guint sustain_samples,
                                            guint warning_interval_s);

/* @name: label value, unique among active queues ("inbox-3", "shard-7", ...).
 * @destroy frees @user_data when the queue is removed or the monitor goes. */
SpotMonitoredQueue *spot_backpressure_monitor_add_queue (SpotBackpressureMonitor *monitor,
                                                         const char *name,
                                                         SpotDropStage stage,
                                                         guint capacity,
                                                         SpotQueueLengthFunc get_length,
                                                         gpointer user_data,
                                                         GDestroyNotify destroy);
void spot_backpressure_monitor_remove_queue (SpotBackpressureMonitor *monitor,
                                             SpotMonitoredQueue *queue);

/* Any thread: @n items were dropped because the queue was full. */
void spot_monitored_queue_record_drop (SpotMonitoredQueue *queue, guint64 n);

/* Samples every active queue now (the timer calls this). */
void spot_backpressure_monitor_sample (SpotBackpressureMonitor *monitor);

/* Greatest utilisation of the last sample, 0 without queues. */
double spot_backpressure_monitor_get_max_utilisation (SpotBackpressureMonitor *monitor);

/* Floating GVariant of type a(suuudt): per active queue, sorted by name,
 * (name, capacity, length, high_water_mark, utilisation, dropped). */
GVariant *spot_backpressure_monitor_get_summary (SpotBackpressureMonitor *monitor);

/* Adds the same as a JSON array value to @builder (the caller has set the
 * member name): [{"name":..,"capacity":..,"length":..,"high_water_mark":..,
 * "utilisation":..,"dropped":..}, ...]. */
void spot_backpressure_monitor_add_json (SpotBackpressureMonitor *monitor, JsonBuilder *builder);

G_END_DECLS
