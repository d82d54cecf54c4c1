/* spot-process-metrics.c: the standard process_* metrics, read from /proc. */
#define G_LOG_DOMAIN "spot-metrics"

#include "metrics/spot-process-metrics.h"

#include "core/spot-error.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct
{
  SpotCounter *cpu_seconds;
  SpotGauge *resident;
  SpotGauge *virtual_memory;
  SpotGauge *open_fds;
  SpotGauge *max_fds;
  SpotGauge *threads;
  SpotGauge *start_time;
} SpotProcessMetrics;

static gboolean
read_boot_time (guint64 *btime, GError **error)
{
  g_autofree char *contents = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/stat", &contents, NULL, error))
    return FALSE;
  line = strstr (contents, "\nbtime ");
  if (line == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "/proc/stat has no btime line");
      return FALSE;
    }
  *btime = g_ascii_strtoull (line + strlen ("\nbtime "), NULL, 10);
  return TRUE;
}

static gboolean
count_open_fds (guint *count, GError **error)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  int own_fd;
  guint n = 0;

  if (dir == NULL)
    {
      int saved = errno;

      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "cannot open /proc/self/fd: %s",
                   g_strerror (saved));
      return FALSE;
    }
  own_fd = dirfd (dir);
  while ((entry = readdir (dir)) != NULL)
    {
      if (entry->d_name[0] == '.')
        continue;
      if (atoi (entry->d_name) == own_fd)
        continue;
      n++;
    }
  closedir (dir);
  *count = n;
  return TRUE;
}

gboolean
spot_process_stats_read (SpotProcessStats *stats, GError **error)
{
  g_autofree char *contents = NULL;
  g_autofree char *rest = NULL;
  g_auto (GStrv) fields = NULL;
  const char *after_comm;
  guint64 btime;
  guint64 start_ticks;
  long page_size = sysconf (_SC_PAGESIZE);
  struct rlimit limit;

  memset (stats, 0, sizeof *stats);
  if (!g_file_get_contents ("/proc/self/stat", &contents, NULL, error))
    return FALSE;
  /* The command name (field 2) is in parentheses and may hold spaces or
   * parentheses itself: fields resume after the last ')'. */
  after_comm = strrchr (contents, ')');
  if (after_comm == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "/proc/self/stat has no command name");
      return FALSE;
    }
  rest = g_strstrip (g_strdup (after_comm + 1));
  fields = g_strsplit (rest, " ", -1);
  /* fields[0] is field 3 (state): field N is fields[N - 3]. */
  if (g_strv_length (fields) < 22)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "/proc/self/stat has %u fields after the name, expected at least 22",
                   g_strv_length (fields));
      return FALSE;
    }
  stats->ticks_per_second = (guint64)sysconf (_SC_CLK_TCK);
  stats->cpu_ticks
      = g_ascii_strtoull (fields[14 - 3], NULL, 10) + g_ascii_strtoull (fields[15 - 3], NULL, 10);
  stats->threads = (guint)g_ascii_strtoull (fields[20 - 3], NULL, 10);
  start_ticks = g_ascii_strtoull (fields[22 - 3], NULL, 10);
  stats->virtual_bytes = g_ascii_strtoull (fields[23 - 3], NULL, 10);
  stats->resident_bytes = g_ascii_strtoull (fields[24 - 3], NULL, 10) * (guint64)page_size;

  if (!read_boot_time (&btime, error))
    return FALSE;
  stats->start_time_seconds = (double)btime + (double)start_ticks / (double)stats->ticks_per_second;

  if (!count_open_fds (&stats->open_fds, error))
    return FALSE;
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0)
    stats->max_fds = limit.rlim_cur == RLIM_INFINITY ? G_MAXUINT64 : (guint64)limit.rlim_cur;
  return TRUE;
}

static void
collect (SpotMetricRegistry *registry, gpointer user_data)
{
  SpotProcessMetrics *metrics = user_data;
  SpotProcessStats stats;
  g_autoptr (GError) error = NULL;

  if (!spot_process_stats_read (&stats, &error))
    {
      g_debug ("process metrics not refreshed: %s", error->message);
      return;
    }
  spot_counter_set_units (metrics->cpu_seconds, stats.cpu_ticks);
  spot_gauge_set (metrics->resident, (double)stats.resident_bytes);
  spot_gauge_set (metrics->virtual_memory, (double)stats.virtual_bytes);
  spot_gauge_set (metrics->open_fds, stats.open_fds);
  spot_gauge_set (metrics->max_fds, (double)stats.max_fds);
  spot_gauge_set (metrics->threads, stats.threads);
  spot_gauge_set (metrics->start_time, stats.start_time_seconds);
}

void
spot_process_metrics_register (SpotMetricRegistry *registry)
{
  SpotProcessMetrics *metrics = g_new0 (SpotProcessMetrics, 1);
  SpotMetricOptions cpu_options = { .counter_scale = (guint64)sysconf (_SC_CLK_TCK) };
  SpotMetricFamily *cpu;

  cpu = spot_metric_registry_add_family (registry, SPOT_METRIC_COUNTER, "process_cpu_seconds_total",
                                         "User plus system CPU time of the process, in seconds.",
                                         NULL, &cpu_options);
  metrics->cpu_seconds = spot_metric_family_counter (cpu, NULL);
  metrics->resident = spot_metric_registry_gauge (registry, "process_resident_memory_bytes",
                                                  "Resident set size of the process, in bytes.");
  metrics->virtual_memory = spot_metric_registry_gauge (
      registry, "process_virtual_memory_bytes", "Virtual memory size of the process, in bytes.");
  metrics->open_fds = spot_metric_registry_gauge (registry, "process_open_fds",
                                                  "File descriptors the process has open.");
  metrics->max_fds = spot_metric_registry_gauge (
      registry, "process_max_fds", "Soft limit on open file descriptors (RLIMIT_NOFILE).");
  metrics->threads = spot_metric_registry_gauge (registry, "process_threads",
                                                 "Operating system threads of the process.");
  metrics->start_time
      = spot_metric_registry_gauge (registry, "process_start_time_seconds",
                                    "When the process started, in seconds since the Unix epoch.");
  spot_metric_registry_add_collector (registry, collect, metrics, g_free);
}
