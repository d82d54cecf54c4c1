/* spot-bench-metrics.c: costs of the metrics hot paths and of rendering.
 *
 * Prints, each as the median of 5 runs (the individual runs in brackets):
 * counter increment ns/op (uncontended, 2 threads on one counter), histogram
 * observation ns/op (uncontended integer and double paths, 2 threads on one
 * histogram), and the time to render the default families plus 500 products
 * x 8 granularities of a per-product gauge family (a test registry only:
 * products are never labels in the service).
 *
 * Usage: spot-bench-metrics [--quick]
 */
#define G_LOG_DOMAIN "spot-bench"

#include "metrics/spot-backpressure-monitor.h"
#include "metrics/spot-metrics.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define N_RUNS 5
#define N_PRODUCTS 500
#define N_GRANULARITIES 8
#define N_SAMPLES 1024

static guint64 n_ops = 50000000;
static guint n_renders = 50;
static gint64 samples_ns[N_SAMPLES];

static gint64
clock_ns (clockid_t clock)
{
  struct timespec ts;

  clock_gettime (clock, &ts);
  return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The machine is shared and has 2 cores: the calling thread's CPU clock
 * leaves out the time it was descheduled; the wall clock is printed beside
 * it. */
static gint64
cpu_ns (void)
{
  return clock_ns (CLOCK_THREAD_CPUTIME_ID);
}

static gint64
wall_ns (void)
{
  return clock_ns (CLOCK_MONOTONIC);
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *)a;
  double y = *(const double *)b;

  return (x > y) - (x < y);
}

static double
median (const double runs[N_RUNS])
{
  double sorted[N_RUNS];

  memcpy (sorted, runs, sizeof sorted);
  qsort (sorted, N_RUNS, sizeof (double), compare_doubles);
  return sorted[N_RUNS / 2];
}

static void
report (const char *what,
        const char *unit,
        const double cpu_runs[N_RUNS],
        const double wall_runs[N_RUNS])
{
  printf ("%-44s %8.2f %-5s cpu [", what, median (cpu_runs), unit);
  for (guint i = 0; i < N_RUNS; i++)
    printf ("%s%.2f", i > 0 ? " " : "", cpu_runs[i]);
  printf ("]  wall %.2f\n", median (wall_runs));
  fflush (stdout);
}

typedef enum
{
  OP_COUNTER,
  OP_HISTOGRAM_NS,
  OP_HISTOGRAM_DOUBLE,
} Op;

typedef struct
{
  Op op;
  SpotCounter *counter;
  SpotHistogram *histogram;
  guint64 n;
  gint64 cpu_elapsed_ns;
  gint64 wall_elapsed_ns;
} Job;

static gpointer
run_job (gpointer data)
{
  Job *job = data;
  gint64 cpu_start = cpu_ns ();
  gint64 wall_start = wall_ns ();

  switch (job->op)
    {
    case OP_COUNTER:
      for (guint64 i = 0; i < job->n; i++)
        spot_counter_inc (job->counter);
      break;
    case OP_HISTOGRAM_NS:
      for (guint64 i = 0; i < job->n; i++)
        spot_histogram_observe_ns (job->histogram, samples_ns[i & (N_SAMPLES - 1)]);
      break;
    case OP_HISTOGRAM_DOUBLE:
      for (guint64 i = 0; i < job->n; i++)
        spot_histogram_observe (job->histogram, samples_ns[i & (N_SAMPLES - 1)] * 1e-9);
      break;
    default:
      g_assert_not_reached ();
    }
  job->cpu_elapsed_ns = cpu_ns () - cpu_start;
  job->wall_elapsed_ns = wall_ns () - wall_start;
  return NULL;
}

/* Nanoseconds per operation seen by each thread (the mean over threads). */
static void
measure (Op op, guint n_threads, double *cpu, double *wall)
{
  g_autoptr (SpotCounter) counter = spot_counter_new (1);
  guint n_bounds;
  const double *bounds = spot_histogram_latency_bounds (&n_bounds);
  g_autoptr (SpotHistogram) histogram
      = spot_histogram_new (bounds, n_bounds, SPOT_HISTOGRAM_SCALE_US, NULL);
  Job jobs[2];
  GThread *threads[2];

  g_assert (n_threads <= G_N_ELEMENTS (jobs));
  for (guint t = 0; t < n_threads; t++)
    {
      jobs[t] = (Job){ op, counter, histogram, n_ops / n_threads, 0, 0 };
      threads[t] = n_threads == 1 ? NULL : g_thread_new ("bench", run_job, &jobs[t]);
    }
  if (n_threads == 1)
    run_job (&jobs[0]);
  *cpu = 0;
  *wall = 0;
  for (guint t = 0; t < n_threads; t++)
    {
      if (threads[t] != NULL)
        g_thread_join (threads[t]);
      *cpu += (double)jobs[t].cpu_elapsed_ns / (double)jobs[t].n / n_threads;
      *wall += (double)jobs[t].wall_elapsed_ns / (double)jobs[t].n / n_threads;
    }
  /* Keep the result observable. */
  if (op == OP_COUNTER && spot_counter_get_units (counter) != jobs[0].n * n_threads)
    g_error ("counter lost increments");
  if (op != OP_COUNTER && spot_histogram_get_count (histogram) != jobs[0].n * n_threads)
    g_error ("histogram lost observations");
}

static guint
fixed_length (gpointer user_data)
{
  return GPOINTER_TO_UINT (user_data);
}

static void
measure_render (gsize *out_bytes, guint *out_series, double *cpu_ms, double *wall_ms)
{
  g_autoptr (SpotMetricRegistry) registry = spot_metric_registry_new ();
  g_autoptr (SpotMetrics) m = spot_metrics_new (registry, TRUE);
  g_autoptr (SpotBackpressureMonitor) monitor = spot_backpressure_monitor_new (m, 0);
  const char *labels[] = { "product", "granularity", NULL };
  const char *granularities[N_GRANULARITIES] = {
    "ONE_MINUTE", "FIVE_MINUTE", "FIFTEEN_MINUTE", "THIRTY_MINUTE",
    "ONE_HOUR",   "TWO_HOUR",    "SIX_HOUR",       "ONE_DAY",
  };
  SpotMetricOptions options = { .max_series = N_PRODUCTS * N_GRANULARITIES };
  SpotMetricFamily *per_product;
  g_autoptr (GString) out = g_string_sized_new (1 << 20);
  gint64 cpu_start;
  gint64 wall_start;

  per_product = spot_metric_registry_add_family (
      registry, SPOT_METRIC_GAUGE, "bench_candle_close",
      "Last close per product and granularity (benchmark only).", labels, &options);
  for (guint p = 0; p < N_PRODUCTS; p++)
    {
      g_autofree char *product = g_strdup_printf ("COIN%03u-USD", p);

      for (guint g = 0; g < N_GRANULARITIES; g++)
        spot_gauge_set (spot_metric_family_gauge (per_product, product, granularities[g], NULL),
                        1000.0 + p * 0.37 + g);
    }
  /* A deployment's queues: 25 inboxes, 16 shard queues, publisher, writer. */
  for (guint i = 0; i < 43; i++)
    {
      g_autofree char *name = g_strdup_printf ("queue-%02u", i);

      spot_backpressure_monitor_add_queue (monitor, name, SPOT_DROP_STAGE_SHARD_QUEUE, 256,
                                           fixed_length, GUINT_TO_POINTER (i), NULL);
    }
  spot_backpressure_monitor_sample (monitor);
  for (guint i = 0; i < 1000; i++)
    {
      spot_histogram_observe_ns (m->processing_latency, samples_ns[i % N_SAMPLES]);
      spot_counter_inc (m->trades_received);
    }

  spot_metrics_render (m, out); /* warm-up */
  *out_bytes = out->len;
  *out_series = 0;
  for (gsize i = 0; i < out->len; i++)
    if (out->str[i] == '\n' && i + 1 < out->len && out->str[i + 1] != '#')
      (*out_series)++;
  cpu_start = cpu_ns ();
  wall_start = wall_ns ();
  for (guint i = 0; i < n_renders; i++)
    {
      g_string_truncate (out, 0);
      spot_metrics_render (m, out);
    }
  *cpu_ms = (double)(cpu_ns () - cpu_start) / n_renders / 1e6;
  *wall_ms = (double)(wall_ns () - wall_start) / n_renders / 1e6;
}

int
main (int argc, char **argv)
{
  double cpu[N_RUNS];
  double wall[N_RUNS];
  gsize bytes = 0;
  guint lines = 0;
  GRand *rand = g_rand_new_with_seed (42);

  if (argc > 1 && strcmp (argv[1], "--quick") == 0)
    {
      n_ops = 2000000;
      n_renders = 5;
    }
  /* Latencies between 0.1 ms and 3 s, log-uniform, as the hot path sees them. */
  for (guint i = 0; i < N_SAMPLES; i++)
    samples_ns[i] = (gint64)(1e5 * g_rand_double_range (rand, 1.0, 30000.0));
  g_rand_free (rand);

  printf ("spot-bench-metrics: %" G_GUINT64_FORMAT
          " operations per run, median of %d runs [each run], thread CPU time and wall clock\n",
          n_ops, N_RUNS);
  for (guint r = 0; r < N_RUNS; r++)
    measure (OP_COUNTER, 1, &cpu[r], &wall[r]);
  report ("counter inc, uncontended", "ns/op", cpu, wall);
  for (guint r = 0; r < N_RUNS; r++)
    measure (OP_COUNTER, 2, &cpu[r], &wall[r]);
  report ("counter inc, 2 threads on one counter", "ns/op", cpu, wall);
  for (guint r = 0; r < N_RUNS; r++)
    measure (OP_HISTOGRAM_NS, 1, &cpu[r], &wall[r]);
  report ("histogram observe_ns, uncontended", "ns/op", cpu, wall);
  for (guint r = 0; r < N_RUNS; r++)
    measure (OP_HISTOGRAM_DOUBLE, 1, &cpu[r], &wall[r]);
  report ("histogram observe (double), uncontended", "ns/op", cpu, wall);
  for (guint r = 0; r < N_RUNS; r++)
    measure (OP_HISTOGRAM_NS, 2, &cpu[r], &wall[r]);
  report ("histogram observe_ns, 2 threads on one", "ns/op", cpu, wall);
  for (guint r = 0; r < N_RUNS; r++)
    measure_render (&bytes, &lines, &cpu[r], &wall[r]);
  report ("render defaults + 500x8 per-product series", "ms", cpu, wall);
  printf ("render output: %zu bytes, %u sample lines\n", bytes, lines);
  return 0;
}
