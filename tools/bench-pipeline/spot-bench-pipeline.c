/* spot-bench-pipeline: the whole pipeline under load (docs/BENCHMARKS.md).
 *
 * Runs the exchange simulator (PRODUCTS x RATE trades/s) and the built
 * service (embedded nats-server and PostgreSQL in a temporary state
 * directory, PRODUCTS=all) and measures:
 *
 *  - without SSE clients: the service's CPU (% of one core) and RSS;
 *  - with one SSE client on every product's ONE_MINUTE candle: latency from
 *    the exchange message timestamp (the element's ts) to the moment the
 *    read completing the event's line returned (bench-sse-reader.h),
 *    p50/p99/max over live updates;
 *  - drops: every spot_dropped_messages_total stage, before and after;
 *  - optionally (--saturate) the rate at the first drop, stepping the
 *    per-product rate up with a fresh simulator and service per step.
 *
 * Usage: spot-bench-pipeline [--products 500] [--rate 20] [--seconds 20]
 *        [--runs 3] [--saturate] [--env VAR=VALUE ...] [--build-root DIR]
 * Figures are printed per run, medians last. */
#define G_LOG_DOMAIN "spot-bench"

#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-sse-reader.h"
#include "e2e-util.h"

static int opt_products = 500;
static int opt_rate = 20;
static int opt_seconds = 20;
static int opt_runs = 3;
static gboolean opt_saturate = FALSE;
static char *opt_build_root = NULL;
static char **opt_service_env = NULL; /* extra VAR=VALUE for the service */

typedef struct
{
  GMutex lock;
  GArray *latencies_us; /* gint64 */
  gint64 not_before_ns; /* samples before this are the initial state */
} Latency;

typedef struct
{
  double cpu_percent;
  double rss_mb;
  double trades_per_s;
  double drops;
  double p50_ms, p99_ms, max_ms;
  guint samples;
} RunFigures;

static void
on_element (gint64 ts_ns, gint64 read_ns, gpointer user_data)
{
  Latency *lat = user_data;
  gint64 us;

  if (read_ns < lat->not_before_ns)
    return;
  us = (read_ns - ts_ns) / 1000;
  g_mutex_lock (&lat->lock);
  g_array_append_val (lat->latencies_us, us);
  g_mutex_unlock (&lat->lock);
}

static int
compare_i64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* utime + stime in clock ticks, and RSS in bytes, of @pid. */
static gboolean
proc_sample (const char *pid, guint64 *ticks, guint64 *rss)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *text = NULL;
  g_auto (GStrv) fields = NULL;
  const char *after;

  if (!g_file_get_contents (stat_path, &text, NULL, NULL))
    return FALSE;
  after = strrchr (text, ')');
  if (after == NULL)
    return FALSE;
  fields = g_strsplit (after + 2, " ", -1);
  /* After the command: state is field 3; utime 14, stime 15, rss 24. */
  *ticks = g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10);
  *rss = g_ascii_strtoull (fields[21], NULL, 10) * (guint64)sysconf (_SC_PAGESIZE);
  return TRUE;
}

static double
drops (const char *base_url)
{
  g_autofree char *url = g_strdup_printf ("%s/metrics", base_url);
  g_autofree char *text = e2e_http_get (url, NULL, NULL);
  const char *stages[] = { "inbox", "shard_queue", "nats", "sse_client", "db" };
  double sum = 0;

  if (text == NULL)
    return -1;
  for (guint i = 0; i < G_N_ELEMENTS (stages); i++)
    {
      g_autofree char *series
          = g_strdup_printf ("spot_dropped_messages_total{stage=\"%s\"}", stages[i]);
      double v = e2e_metric_value (text, series);
      if (v > 0)
        sum += v;
    }
  return sum;
}

static double
trades_received (const char *base_url)
{
  g_autofree char *url = g_strdup_printf ("%s/metrics", base_url);
  g_autofree char *text = e2e_http_get (url, NULL, NULL);

  return text != NULL ? e2e_metric_value (text, "spot_trades_received_total") : -1;
}

static gboolean
run_once (
    int products, int rate, int seconds, gboolean with_stream, RunFigures *out, GError **error)
{
  g_autofree char *products_arg = g_strdup_printf ("--products=%d", products);
  g_autofree char *rate_arg = g_strdup_printf ("--trades-per-second=%d", rate);
  g_autofree char *max_products = g_strdup_printf ("SSE_MAX_PRODUCTS=%d", products);
  const char *sim_args[] = { products_arg, rate_arg, "--history-minutes=3", NULL };
  const char *fixed[] = { "PRODUCTS=all",     "CONNECT_RATE=20", "SUBSCRIBE_RATE=50",
                          "REST_RATE=500",    max_products,      "LOG_LEVEL=warning" };
  g_autoptr (GPtrArray) env_array = g_ptr_array_new ();
  const char **env;
  E2eSim *sim;
  E2eService *service;
  BenchSseReader *stream = NULL;
  Latency lat = { 0 };
  const char *pid;
  guint64 t0, t1, rss0, rss1;
  double d0, d1, r0, r1;
  gint64 w0, w1;

  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (env_array, (gpointer)fixed[i]);
  for (guint i = 0; opt_service_env != NULL && opt_service_env[i] != NULL; i++)
    g_ptr_array_add (env_array, opt_service_env[i]);
  g_ptr_array_add (env_array, NULL);
  env = (const char **)env_array->pdata;
  memset (out, 0, sizeof *out);
  sim = e2e_sim_start (sim_args, error);
  if (sim == NULL)
    return FALSE;
  service = e2e_service_start (NULL, NULL, sim, env, 300, error);
  if (service == NULL)
    {
      e2e_sim_free (sim);
      return FALSE;
    }
  pid = g_subprocess_get_identifier (service->process);
  /* Seeding and subscribing 500 products: let it settle. */
  g_usleep (15 * G_USEC_PER_SEC);

  /* Without SSE clients: CPU and RSS. */
  d0 = drops (service->base_url);
  r0 = trades_received (service->base_url);
  w0 = g_get_monotonic_time ();
  proc_sample (pid, &t0, &rss0);
  g_usleep ((gulong)seconds * G_USEC_PER_SEC);
  proc_sample (pid, &t1, &rss1);
  w1 = g_get_monotonic_time ();
  r1 = trades_received (service->base_url);
  out->cpu_percent = 100.0 * (double)(t1 - t0) / (double)sysconf (_SC_CLK_TCK)
                     / ((double)(w1 - w0) / G_USEC_PER_SEC);
  out->rss_mb = (double)rss1 / (1024.0 * 1024.0);
  out->trades_per_s = (r1 - r0) / ((double)(w1 - w0) / G_USEC_PER_SEC);

  if (with_stream)
    {
      g_auto (GStrv) ids = e2e_sim_products (sim, NULL);
      g_autofree char *list = ids != NULL ? g_strjoinv (",", ids) : g_strdup ("");
      g_autofree char *path = g_strdup_printf ("/stream?products=%s&granularities=ONE_MINUTE",
                                               list);
      g_mutex_init (&lat.lock);
      lat.latencies_us = g_array_new (FALSE, FALSE, sizeof (gint64));
      lat.not_before_ns = G_MAXINT64;
      stream = bench_sse_reader_open (service->base_url, path, on_element, &lat, error);
      if (stream == NULL)
        {
          e2e_service_free (service);
          e2e_sim_free (sim);
          return FALSE;
        }
      /* The initial state carries old timestamps: start sampling after it. */
      g_usleep (2 * G_USEC_PER_SEC);
      g_mutex_lock (&lat.lock);
      lat.not_before_ns = g_get_real_time () * 1000;
      g_array_set_size (lat.latencies_us, 0);
      g_mutex_unlock (&lat.lock);
      g_usleep ((gulong)seconds * G_USEC_PER_SEC);
      bench_sse_reader_close (stream);
      if (lat.latencies_us->len > 0)
        {
          gint64 *v = (gint64 *)lat.latencies_us->data;
          guint n = lat.latencies_us->len;
          qsort (v, n, sizeof (gint64), compare_i64);
          out->p50_ms = v[n / 2] / 1000.0;
          out->p99_ms = v[MIN (n - 1, n * 99 / 100)] / 1000.0;
          out->max_ms = v[n - 1] / 1000.0;
          out->samples = n;
        }
      g_array_unref (lat.latencies_us);
      g_mutex_clear (&lat.lock);
    }
  d1 = drops (service->base_url);
  out->drops = d1 - d0;
  if (e2e_service_stop (service, SIGTERM, 60) != 0)
    g_printerr ("warning: the service did not stop cleanly\n");
  e2e_service_free (service);
  e2e_sim_free (sim);
  return TRUE;
}

static double
median (double *v, guint n)
{
  qsort (v, n, sizeof (double), compare_double);
  return n == 0 ? 0 : v[n / 2];
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[] = {
    { "products", 0, 0, G_OPTION_ARG_INT, &opt_products, "Simulated products (500)", "N" },
    { "rate", 0, 0, G_OPTION_ARG_INT, &opt_rate, "Trades per second per product (20)", "R" },
    { "seconds", 0, 0, G_OPTION_ARG_INT, &opt_seconds, "Measuring window per phase (20)", "S" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &opt_runs, "Runs; medians are printed (3)", "N" },
    { "saturate", 0, 0, G_OPTION_ARG_NONE, &opt_saturate, "Step the rate up to the first drop",
      NULL },
    { "env", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_service_env,
      "Extra service setting, repeatable (e.g. --env SHARD_WORKERS=2)", "VAR=VALUE" },
    { "build-root", 0, 0, G_OPTION_ARG_FILENAME, &opt_build_root,
      "Build directory (SPOT_BUILD_ROOT)", "DIR" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- whole-pipeline benchmark");
  g_autoptr (GError) error = NULL;
  g_autofree double *cpu = NULL, *rss = NULL, *p50 = NULL, *p99 = NULL, *tps = NULL, *drop = NULL;
  int runs_done = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("spot-bench-pipeline: %s\n", error->message);
      return 2;
    }
  if (opt_build_root != NULL)
    g_setenv ("SPOT_BUILD_ROOT", opt_build_root, TRUE);
  else if (g_getenv ("SPOT_BUILD_ROOT") == NULL)
    g_setenv ("SPOT_BUILD_ROOT", SPOT_BUILD_ROOT, TRUE);

  cpu = g_new0 (double, opt_runs);
  rss = g_new0 (double, opt_runs);
  p50 = g_new0 (double, opt_runs);
  p99 = g_new0 (double, opt_runs);
  tps = g_new0 (double, opt_runs);
  drop = g_new0 (double, opt_runs);
  printf ("pipeline: %d products x %d trades/s = %d trades/s offered, %d s windows\n", opt_products,
          opt_rate, opt_products * opt_rate, opt_seconds);
  for (int i = 0; i < opt_runs; i++)
    {
      RunFigures f;
      if (!run_once (opt_products, opt_rate, opt_seconds, TRUE, &f, &error))
        {
          g_printerr ("spot-bench-pipeline: run %d: %s\n", i + 1, error->message);
          return 1;
        }
      printf ("run %d: %.0f trades/s received, service CPU %.1f %% of a core, RSS %.1f MB (no SSE "
              "client); SSE latency p50 %.2f ms p99 %.2f ms max %.2f ms (%u samples); drops %.0f\n",
              i + 1, f.trades_per_s, f.cpu_percent, f.rss_mb, f.p50_ms, f.p99_ms, f.max_ms,
              f.samples, f.drops);
      fflush (stdout);
      cpu[runs_done] = f.cpu_percent;
      rss[runs_done] = f.rss_mb;
      p50[runs_done] = f.p50_ms;
      p99[runs_done] = f.p99_ms;
      tps[runs_done] = f.trades_per_s;
      drop[runs_done] = f.drops;
      runs_done++;
    }
  printf ("median of %d: %.0f trades/s, CPU %.1f %%, RSS %.1f MB, p50 %.2f ms, p99 %.2f ms, drops "
          "%.0f\n",
          runs_done, median (tps, runs_done), median (cpu, runs_done), median (rss, runs_done),
          median (p50, runs_done), median (p99, runs_done), median (drop, runs_done));

  if (opt_saturate)
    {
      const int steps[] = { 20, 60, 120, 240, 480 };
      for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
        {
          RunFigures f;
          int offered = opt_products * steps[i];
          if (!run_once (opt_products, steps[i], opt_seconds, FALSE, &f, &error))
            {
              g_printerr ("spot-bench-pipeline: saturation step %d: %s\n", steps[i],
                          error->message);
              return 1;
            }
          printf ("saturation: %d trades/s offered, %.0f received, CPU %.1f %%, drops %.0f\n",
                  offered, f.trades_per_s, f.cpu_percent, f.drops);
          fflush (stdout);
          if (f.drops > 0)
            {
              printf ("first drop at %d trades/s offered (%.0f received)\n", offered,
                      f.trades_per_s);
              break;
            }
          if (f.trades_per_s < 0.8 * offered)
            {
              printf ("the simulator or the intake tops out near %.0f trades/s without a drop\n",
                      f.trades_per_s);
              break;
            }
        }
    }
  return 0;
}
