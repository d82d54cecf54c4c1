/* spot-process-metrics.h: the standard process_* metrics, read from /proc.
 *
 * Families (names as Prometheus' own client libraries use them):
 * process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds,
 * process_threads, process_start_time_seconds. They are refreshed by a
 * registry collector at every render.
 *
 * Thread safety: spot_process_stats_read from any thread (it only reads
 * /proc/self); spot_process_metrics_register at start-up or from the main
 * thread.
 */
#pragma once

#include <glib.h>

#include "metrics/spot-metric-registry.h"

G_BEGIN_DECLS

typedef struct
{
  guint64 cpu_ticks;        /* user + system, in clock ticks */
  guint64 ticks_per_second; /* sysconf (_SC_CLK_TCK) */
  guint64 resident_bytes;
  guint64 virtual_bytes;
  guint open_fds;  /* entries of /proc/self/fd, not counting the one used to read it */
  guint64 max_fds; /* soft RLIMIT_NOFILE */
  guint threads;
  double start_time_seconds; /* since the Unix epoch */
} SpotProcessStats;

/* Fails with SPOT_ERROR_IO or SPOT_ERROR_PARSE naming the /proc file. */
gboolean spot_process_stats_read (SpotProcessStats *stats, GError **error);

/* Adds the families and a collector that refreshes them. */
void spot_process_metrics_register (SpotMetricRegistry *registry);

G_END_DECLS
