/* bench-store: throughput of the candle upsert strategies.
 *
 * Workload (issue 6): batches of 1,000 rows over 4,000 live keys (500
 * products x 8 granularities); in each batch 90% are updates of existing live
 * keys (higher rev) and 10% are new complete rows. Every strategy runs the
 * same pre-generated batches against a table reset to the same 4,000 live
 * rows. The floor is a raw COPY of the same rows, in the same batches, into
 * an empty table without indexes, measured in the same run; the per-row
 * UpsertLiveCandle figure (one statement and transaction per row) is beside
 * them. Figures are medians of --runs runs.
 *
 * Usage: bench-store [--runs N] [--batches N] [--batch-size N]
 *                    [--per-row N] [--conninfo STR]
 *        bench-store --writer-rate N [--writer-seconds S]   (SpotBatchWriter path)
 * Without --conninfo it starts a throw-away PostgreSQL with the test harness
 * (fsync=off, synchronous_commit=off, full_page_writes=off).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "spot-test-harness.h"
#include "store/spot-batch-writer.h"
#include "store/spot-migrations.h"
#include "store/spot-pg.h"
#include "store/spot-store-queries.h"

#define N_PRODUCTS 500
#define N_GRANULARITIES 8

static const SpotGranularity granularities[N_GRANULARITIES] = {
  SPOT_GRANULARITY_ONE_MINUTE, SPOT_GRANULARITY_FIVE_MINUTE, SPOT_GRANULARITY_FIFTEEN_MINUTE,
  SPOT_GRANULARITY_THIRTY_MINUTE, SPOT_GRANULARITY_ONE_HOUR, SPOT_GRANULARITY_TWO_HOUR,
  SPOT_GRANULARITY_SIX_HOUR, SPOT_GRANULARITY_ONE_DAY,
};

static int runs = 5;
static int n_batches = 50;
static int batch_size = 1000;
static int per_row = 3000;
static char *conninfo_opt;
static int writer_rate = 0;
static int writer_seconds = 10;

static const GOptionEntry entries[] = {
  { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "Runs per strategy (median reported)", "N" },
  { "batches", 0, 0, G_OPTION_ARG_INT, &n_batches, "Batches per run", "N" },
  { "batch-size", 0, 0, G_OPTION_ARG_INT, &batch_size, "Rows per batch", "N" },
  { "per-row", 0, 0, G_OPTION_ARG_INT, &per_row, "Rows for the per-row upsert figure", "N" },
  { "conninfo", 0, 0, G_OPTION_ARG_STRING, &conninfo_opt, "Use this server instead of a harness one", "STR" },
  { "writer-rate", 0, 0, G_OPTION_ARG_INT, &writer_rate,
    "Instead: feed SpotBatchWriter this many rows/s of the workload and report what it sustains", "N" },
  { "writer-seconds", 0, 0, G_OPTION_ARG_INT, &writer_seconds, "Duration of --writer-rate", "S" },
  { NULL },
};

/* CPU seconds used so far by the server backend of our connection (from
 * /proc, readable as root or as the same user) plus this process. On a busy
 * machine wall-clock rows/s swing with the load; rows per CPU second do not. */
static int backend_pid;

static double
cpu_now (void)
{
  struct rusage ru;
  double total = 0;
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", backend_pid);
  g_autofree char *text = NULL;

  getrusage (RUSAGE_SELF, &ru);
  total = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  if (backend_pid > 0 && g_file_get_contents (path, &text, NULL, NULL))
    {
      /* Fields 14 and 15 (utime, stime) after the ") " that ends the name. */
      const char *p = strrchr (text, ')');
      g_auto (GStrv) f = p != NULL ? g_strsplit (p + 2, " ", 16) : NULL;
      if (f != NULL && g_strv_length (f) >= 13)
        total += (g_ascii_strtod (f[11], NULL) + g_ascii_strtod (f[12], NULL)) / sysconf (_SC_CLK_TCK);
    }
  return total;
}

static void
die (const char *what, GError *error)
{
  fprintf (stderr, "bench-store: %s: %s\n", what, error != NULL ? error->message : "failed");
  exit (1);
}

static SpotCandle
candle (int product, int g, gint64 start, guint64 rev, gboolean complete, guint32 *seed)
{
  SpotCandle c;
  char price[32], vol[32];
  guint32 r = (*seed = *seed * 1664525u + 1013904223u);

  memset (&c, 0, sizeof c);
  g_snprintf (c.product_id, sizeof c.product_id, "P%03d-USD", product);
  c.granularity = granularities[g];
  c.start = spot_granularity_align (c.granularity, start);
  g_snprintf (price, sizeof price, "%u.%02u", 100 + r % 9000, (r >> 8) % 100);
  g_snprintf (vol, sizeof vol, "%u.%08u", (r >> 4) % 1000, r % 100000000);
  spot_decimal_parse (price, -1, &c.open, NULL);
  c.high = c.low = c.close = c.open;
  spot_decimal_parse (vol, -1, &c.volume, NULL);
  c.trades = 1 + r % 500;
  c.last_trade_id = 900000000 + rev * 1000 + r % 1000;
  c.complete = complete;
  c.rev = rev;
  c.ts_ns = c.start * G_GINT64_CONSTANT (1000000000) + 5000;
  return c;
}

/* The initial 4,000 live rows and the batches, same for every strategy. */
static GArray *initial;
static GArray **batches;

static void
generate (void)
{
  const gint64 now = 1775521800 + 86400 * 10;
  guint32 seed = 42;
  guint64 revs[N_PRODUCTS * N_GRANULARITIES] = { 0 };
  gint64 next_complete = now - 86400 * 400;
  int n_update = batch_size * 9 / 10;

  initial = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  for (int p = 0; p < N_PRODUCTS; p++)
    for (int g = 0; g < N_GRANULARITIES; g++)
      {
        SpotCandle c = candle (p, g, now, 0, FALSE, &seed);
        g_array_append_val (initial, c);
      }
  batches = g_new0 (GArray *, n_batches);
  for (int b = 0; b < n_batches; b++)
    {
      g_autofree int *keys = g_new (int, N_PRODUCTS * N_GRANULARITIES);
      batches[b] = g_array_sized_new (FALSE, FALSE, sizeof (SpotCandle), batch_size);
      for (int k = 0; k < N_PRODUCTS * N_GRANULARITIES; k++)
        keys[k] = k;
      /* 90%: distinct live keys (partial Fisher-Yates), rev + 1. */
      for (int i = 0; i < n_update && i < N_PRODUCTS * N_GRANULARITIES; i++)
        {
          int j = i + (int) ((seed = seed * 1664525u + 1013904223u) % (guint32) (N_PRODUCTS * N_GRANULARITIES - i));
          int k = keys[j];
          keys[j] = keys[i];
          keys[i] = k;
          SpotCandle c = candle (k / N_GRANULARITIES, k % N_GRANULARITIES, now, ++revs[k], FALSE, &seed);
          g_array_append_val (batches[b], c);
        }
      /* 10%: new complete minutes of past days. */
      while ((int) batches[b]->len < batch_size)
        {
          int p = (int) ((seed = seed * 1664525u + 1013904223u) % N_PRODUCTS);
          SpotCandle c = candle (p, 0, next_complete, 3, TRUE, &seed);
          next_complete += 60;
          g_array_append_val (batches[b], c);
        }
    }
}

static void
reset_table (PGconn *conn)
{
  g_autoptr (GError) error = NULL;
  if (!spot_pg_exec (conn, "TRUNCATE candles", &error)
      || !spot_store_upsert_candles (conn, SPOT_STORE_STRATEGY_UNNEST, (SpotCandle *) initial->data,
                                     initial->len, NULL, &error)
      || !spot_pg_exec (conn, "VACUUM ANALYZE candles", &error))
    die ("reset", error);
}

static double last_cpu_rate; /* rows per CPU second of the last run */

static double
run_strategy (PGconn *conn, SpotStoreStrategy s)
{
  gint64 t0;
  guint64 rows = 0;
  double c0;

  reset_table (conn);
  c0 = cpu_now ();
  t0 = g_get_monotonic_time ();
  for (int b = 0; b < n_batches; b++)
    {
      g_autoptr (GError) error = NULL;
      guint applied = 0;
      if (!spot_store_upsert_candles (conn, s, (SpotCandle *) batches[b]->data, batches[b]->len,
                                      &applied, &error))
        die (spot_store_strategy_name (s), error);
      if (applied != batches[b]->len)
        {
          fprintf (stderr, "bench-store: %s applied %u of %u rows\n", spot_store_strategy_name (s),
                   applied, batches[b]->len);
          exit (1);
        }
      rows += batches[b]->len;
    }
  last_cpu_rate = rows / MAX (cpu_now () - c0, 1e-3);
  return rows / ((g_get_monotonic_time () - t0) / 1e6);
}

static double
run_copy_floor (PGconn *conn)
{
  g_autoptr (GError) error = NULL;
  gint64 t0;
  guint64 rows = 0;
  double c0;

  if (!spot_pg_exec (conn, "DROP TABLE IF EXISTS candles_copy_floor; "
                           "CREATE TABLE candles_copy_floor (LIKE candles INCLUDING DEFAULTS)",
                     &error))
    die ("copy floor table", error);
  c0 = cpu_now ();
  t0 = g_get_monotonic_time ();
  for (int b = 0; b < n_batches; b++)
    {
      g_autoptr (GString) buf = g_string_sized_new (batches[b]->len * 120);
      g_autoptr (PGresult) res = NULL;
      PGresult *r;
      for (guint i = 0; i < batches[b]->len; i++)
        {
          SpotStoreCandleParams p;
          spot_store_candle_params (&g_array_index (batches[b], SpotCandle, i), &p);
          spot_store_copy_append (buf, &p);
        }
      res = PQexec (conn, "COPY candles_copy_floor (product_id, granularity, start, open, high, low, "
                          "close, volume, trades, last_trade_id, complete, rev, ts) FROM STDIN");
      if (PQresultStatus (res) != PGRES_COPY_IN || PQputCopyData (conn, buf->str, (int) buf->len) != 1
          || PQputCopyEnd (conn, NULL) != 1)
        die ("copy floor", NULL);
      while ((r = PQgetResult (conn)) != NULL)
        {
          if (PQresultStatus (r) != PGRES_COMMAND_OK)
            die ("copy floor", NULL);
          PQclear (r);
        }
      rows += batches[b]->len;
    }
  last_cpu_rate = rows / MAX (cpu_now () - c0, 1e-3);
  return rows / ((g_get_monotonic_time () - t0) / 1e6);
}

static double
run_per_row (PGconn *conn)
{
  gint64 t0;
  int done = 0;
  double c0;

  reset_table (conn);
  c0 = cpu_now ();
  t0 = g_get_monotonic_time ();
  for (int b = 0; b < n_batches && done < per_row; b++)
    for (guint i = 0; i < batches[b]->len && done < per_row; i++, done++)
      {
        g_autoptr (GError) error = NULL;
        if (!spot_store_upsert_candle (conn, &g_array_index (batches[b], SpotCandle, i), NULL, &error))
          die ("per-row upsert", error);
      }
  last_cpu_rate = done / MAX (cpu_now () - c0, 1e-3);
  return done / ((g_get_monotonic_time () - t0) / 1e6);
}

/* The service's path: updates submitted at a steady rate (in 10 ms ticks)
 * to a SpotBatchWriter with the default settings; live updates of one key
 * coalesce while a batch is in flight, as they do in the service. */
static int
run_writer (const char *conninfo)
{
  SpotBatchWriterConfig config;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotBatchWriter) writer = NULL;
  g_autoptr (PGconn) conn = spot_pg_connect (conninfo, "bench-store", &error);
  SpotBatchWriterStats stats;
  const gint64 tick_us = 10000;
  const int per_tick = MAX (1, writer_rate / 100);
  gint64 t0, next, t_end, t_flushed;
  guint64 max_backlog = 0, submitted = 0;
  gint64 max_age = 0;
  int b = 0, i = 0;

  if (conn == NULL)
    die ("connect", error);
  reset_table (conn);
  spot_batch_writer_config_init (&config);
  config.conninfo = conninfo;
  writer = spot_batch_writer_new (&config, &error);
  if (writer == NULL)
    die ("batch writer", error);
  t0 = next = g_get_monotonic_time ();
  t_end = t0 + (gint64) writer_seconds * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < t_end)
    {
      g_autofree SpotCandleUpdate *ups = g_new (SpotCandleUpdate, per_tick);
      for (int k = 0; k < per_tick; k++)
        {
          SpotCandle c = g_array_index (batches[b], SpotCandle, i);
          /* Later passes over the batches continue the revisions. */
          c.rev += (guint64) (submitted / ((guint64) n_batches * (guint64) batch_size)) * (guint64) n_batches;
          if (c.complete)
            c.start -= 86400 * 365 * (gint64) (submitted / ((guint64) n_batches * (guint64) batch_size));
          ups[k].candle = c;
          ups[k].kind = c.complete ? SPOT_CANDLE_UPDATE_COMPLETE : SPOT_CANDLE_UPDATE_LIVE;
          submitted++;
          if (++i == (int) batches[b]->len)
            {
              i = 0;
              b = (b + 1) % n_batches;
            }
        }
      spot_batch_writer_submit (writer, ups, (guint) per_tick);
      spot_batch_writer_get_stats (writer, &stats);
      max_backlog = MAX (max_backlog, stats.backlog_rows);
      max_age = MAX (max_age, stats.oldest_pending_age_ms);
      next += tick_us;
      if (next > g_get_monotonic_time ())
        g_usleep ((gulong) (next - g_get_monotonic_time ()));
    }
  if (!spot_batch_writer_flush_sync (writer, 120000))
    die ("flush", NULL);
  t_flushed = g_get_monotonic_time ();
  spot_batch_writer_get_stats (writer, &stats);
  printf ("writer: submitted %" G_GUINT64_FORMAT " rows in %.1f s (%.0f rows/s offered, %.0f rows/s "
          "achieved including the final flush)\n",
          submitted, (t_end - t0) / 1e6, writer_rate * 1.0, submitted / ((t_flushed - t0) / 1e6));
  printf ("writer: %" G_GUINT64_FORMAT " rows written in %" G_GUINT64_FORMAT " batches (%"
          G_GUINT64_FORMAT " coalesced in memory), mean batch %.1f ms, final flush %.2f s\n",
          stats.rows_written, stats.batches, stats.rows_coalesced,
          stats.batches > 0 ? stats.total_write_latency_us / 1000.0 / stats.batches : 0.0,
          (t_flushed - t_end) / 1e6);
  printf ("writer: largest backlog %" G_GUINT64_FORMAT " rows, oldest pending row at most %" G_GINT64_FORMAT
          " ms old\n", max_backlog, max_age);
  return spot_batch_writer_close (writer, 10000, NULL) ? 0 : 1;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, int n)
{
  qsort (v, (size_t) n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- benchmark candle upserts");
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestPostgres) pg = NULL;
  g_autoptr (PGconn) conn = NULL;
  g_autoptr (GPtrArray) migrations = NULL;
  const char *conninfo;
  enum { VALUES, UNNEST, COPY, FLOOR, PER_ROW, N_KINDS };
  static const char *const names[N_KINDS] = { "batch multi-row VALUES", "batch unnest arrays",
                                             "batch COPY temp + merge", "raw COPY (floor)",
                                             "per-row UpsertLiveCandle" };
  double *results[N_KINDS];
  double *cpu[N_KINDS];
  double med[N_KINDS], cpu_med[N_KINDS];

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    die ("options", error);
  if (runs < 1 || n_batches < 1 || batch_size < 10 || batch_size > 5000 || per_row < 1)
    {
      fprintf (stderr, "bench-store: --runs, --batches >= 1, --batch-size 10..5000\n");
      return 2;
    }
  if (conninfo_opt != NULL)
    conninfo = conninfo_opt;
  else
    {
      pg = spot_test_postgres_start (&error);
      if (pg == NULL)
        die ("cannot start PostgreSQL", error);
      conninfo = spot_test_postgres_conninfo (pg);
    }
  conn = spot_pg_connect (conninfo, "bench-store", &error);
  if (conn == NULL)
    die ("connect", error);
  backend_pid = PQbackendPID (conn);
  migrations = spot_migrations_load_builtin (&error);
  if (migrations == NULL || !spot_migrations_up (conn, migrations, 0, NULL, &error))
    die ("migrate", error);

  generate ();
  if (writer_rate > 0)
    return run_writer (conninfo);
  printf ("workload: %d batches x %d rows per run (90%% updates of %d live keys, 10%% new complete rows), %d runs\n",
          n_batches, batch_size, N_PRODUCTS * N_GRANULARITIES, runs);
  for (int k = 0; k < N_KINDS; k++)
    {
      results[k] = g_new (double, runs);
      cpu[k] = g_new (double, runs);
    }
  for (int r = 0; r < runs; r++)
    {
      /* Interleaved so that machine noise hits every strategy alike. */
      results[FLOOR][r] = run_copy_floor (conn);
      cpu[FLOOR][r] = last_cpu_rate;
      results[VALUES][r] = run_strategy (conn, SPOT_STORE_STRATEGY_VALUES);
      cpu[VALUES][r] = last_cpu_rate;
      results[UNNEST][r] = run_strategy (conn, SPOT_STORE_STRATEGY_UNNEST);
      cpu[UNNEST][r] = last_cpu_rate;
      results[COPY][r] = run_strategy (conn, SPOT_STORE_STRATEGY_COPY);
      cpu[COPY][r] = last_cpu_rate;
      results[PER_ROW][r] = run_per_row (conn);
      cpu[PER_ROW][r] = last_cpu_rate;
      printf ("run %d: floor %.0f, values %.0f, unnest %.0f, copy %.0f, per-row %.0f rows/s\n", r + 1,
              results[FLOOR][r], results[VALUES][r], results[UNNEST][r], results[COPY][r],
              results[PER_ROW][r]);
      fflush (stdout);
    }
  printf ("\n%-28s %12s %10s %16s %10s\n", "median of runs", "rows/s", "vs floor",
          "rows/CPU-second", "vs floor");
  {
    /* Ratios are taken run by run (each against the floor measured in the
     * same run), then the median: load swings between runs cancel out. */
    g_autofree double *ratio = g_new (double, runs);
    g_autofree double *cpu_ratio = g_new (double, runs);
    for (int k = 0; k < N_KINDS; k++)
      {
        for (int r = 0; r < runs; r++)
          {
            ratio[r] = results[k][r] / results[FLOOR][r];
            cpu_ratio[r] = cpu[k][r] / cpu[FLOOR][r];
          }
        med[k] = median (ratio, runs);
        cpu_med[k] = median (cpu_ratio, runs);
        printf ("%-28s %12.0f %9.2fx %16.0f %9.2fx\n", names[k], median (results[k], runs), med[k],
                median (cpu[k], runs), cpu_med[k]);
      }
  }
  printf ("(rows/CPU-second: rows per second of CPU used by this process and its server backend;\n"
          " steadier than wall-clock rows/s on a loaded machine)\n");
  spot_pg_exec (conn, "DROP TABLE IF EXISTS candles_copy_floor; TRUNCATE candles", NULL);
  for (int k = 0; k < N_KINDS; k++)
    {
      g_free (results[k]);
      g_free (cpu[k]);
    }
  return 0;
}
