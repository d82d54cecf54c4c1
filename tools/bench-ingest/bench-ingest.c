/* bench-ingest.c: ingest throughput of the Coinbase client (docs/coinbase.md).
 *
 * live (default): runs spot-exchange-sim on loopback with --products and
 * --trades-per-second, subscribes every product through the
 * ConnectionManager (real WebSockets, inboxes, parse lanes) into a real
 * sharded aggregator with a counting sink, and measures over --seconds after
 * a warm-up: trades/s parsed and handed to the aggregator, drops (inbox and
 * engine queue), sequence gaps, and CPU by thread group (main loop with the
 * WebSockets, parse lanes, engine workers) per 10,000 trades/s, plus the
 * simulator's own CPU.
 *
 * parse: the parser alone on one thread over frames shaped like the
 * simulator's (--trades-per-frame trades each): trades/s per core.
 *
 * Prints one line of figures per run; run it several times and take medians.
 */
#define G_LOG_DOMAIN "spot-bench"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/resource.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "aggregate/spot-sharded-aggregator.h"
#include "coinbase/spot-coinbase-manager.h"
#include "coinbase/spot-coinbase-message.h"
#include "config.h"

static gint opt_products = 200;
static double opt_tps = 1000;
static gint opt_seconds = 10;
static gint opt_warmup = 5;
static gint opt_ppc = 20;
static gint opt_workers = 2;
static gint opt_inbox = 100;
static gint opt_trades_per_frame = 25;
static char *opt_mode = NULL;
static char *opt_sim = NULL;
static gboolean opt_json_only = FALSE;
static gboolean opt_lane_only = FALSE;

static GOptionEntry entries[] = {
  { "mode", 0, 0, G_OPTION_ARG_STRING, &opt_mode, "live (default) or parse", "MODE" },
  { "products", 'n', 0, G_OPTION_ARG_INT, &opt_products, "Products (default 200)", "N" },
  { "trades-per-second", 't', 0, G_OPTION_ARG_DOUBLE, &opt_tps,
    "Mean trades/s per product (default 1000)", "R" },
  { "seconds", 's', 0, G_OPTION_ARG_INT, &opt_seconds, "Measured seconds (default 10)", "S" },
  { "warmup", 0, 0, G_OPTION_ARG_INT, &opt_warmup, "Warm-up seconds (default 5)", "S" },
  { "products-per-connection", 0, 0, G_OPTION_ARG_INT, &opt_ppc,
    "PRODUCTS_PER_CONNECTION (default 20)", "N" },
  { "workers", 0, 0, G_OPTION_ARG_INT, &opt_workers, "Engine workers (default 2)", "N" },
  { "inbox", 0, 0, G_OPTION_ARG_INT, &opt_inbox, "INBOX_SIZE (default 100)", "N" },
  { "trades-per-frame", 0, 0, G_OPTION_ARG_INT, &opt_trades_per_frame,
    "parse mode: trades per frame (default 25)", "N" },
  { "lane-only", 0, 0, G_OPTION_ARG_NONE, &opt_lane_only,
    "live mode: every frame through the inbox and the lane thread (none parsed on the main loop)",
    NULL },
  { "json-glib", 0, 0, G_OPTION_ARG_NONE, &opt_json_only,
    "parse mode: json-glib only (no lean parser)", NULL },
  { "sim", 0, 0, G_OPTION_ARG_FILENAME, &opt_sim, "spot-exchange-sim binary", "PATH" },
  { NULL },
};

/* ---- CPU by thread ---------------------------------------------------------- */

typedef struct
{
  double main_s, lanes_s, workers_s, other_s;
} ThreadCpu;

static double
stat_cpu_seconds (const char *path, char *comm, gsize comm_size)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  char *open = strchr (text, '(');
  char *close = strrchr (text, ')');
  if (open == NULL || close == NULL)
    return 0;
  if (comm != NULL)
    g_strlcpy (comm, open + 1, MIN (comm_size, (gsize)(close - open)));
  /* Fields after ")": state(3) ... utime(14) stime(15). */
  g_auto (GStrv) f = g_strsplit (close + 2, " ", -1);
  if (g_strv_length (f) < 13)
    return 0;
  double ticks = (double)sysconf (_SC_CLK_TCK);
  return (g_ascii_strtod (f[11], NULL) + g_ascii_strtod (f[12], NULL)) / ticks;
}

static void
thread_cpu (ThreadCpu *out)
{
  memset (out, 0, sizeof *out);
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *name;
  pid_t self = getpid ();
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/stat", name);
      char comm[64] = "";
      double s = stat_cpu_seconds (path, comm, sizeof comm);
      if (atoi (name) == self)
        out->main_s += s;
      else if (g_str_has_prefix (comm, "spot-lane"))
        out->lanes_s += s;
      else if (g_str_has_prefix (comm, "spot-shard") || g_str_has_prefix (comm, "shard")
               || g_str_has_prefix (comm, "spot-worker"))
        out->workers_s += s;
      else
        out->other_s += s;
    }
}

/* ---- counting sink ----------------------------------------------------------- */

static void
emit_nothing (gpointer data, guint worker, const SpotCandleUpdate *u, guint n)
{
  g_atomic_int_add ((gint *)data, (gint)n);
}

static void
emit_no_dirty (gpointer data, guint worker, const SpotDirtyRange *r, guint n)
{
}

/* ---- live mode --------------------------------------------------------------- */

static gboolean
file_exists (const char *path)
{
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* trades_sent of the simulator so far (its control endpoint). */
static guint64
sim_trades_sent (SoupSession *session, guint port)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/_sim/stats", port);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL, NULL);
  if (body == NULL)
    return 0;
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize len = 0;
  const char *data = g_bytes_get_data (body, &len);
  if (!json_parser_load_from_data (parser, data, (gssize)len, NULL))
    return 0;
  return (guint64)json_object_get_int_member (json_node_get_object (json_parser_get_root (parser)),
                                              "trades_sent");
}

static void
iterate_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64)ms * 1000;
  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

static int
run_live (void)
{
  g_autofree char *sim = opt_sim != NULL
                             ? g_strdup (opt_sim)
                             : g_build_filename (SPOT_BUILD_ROOT, "tools", "exchange-sim",
                                                 "spot-exchange-sim", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("spot-bench-ingest-XXXXXX", &error);
  g_autofree char *ports = g_build_filename (dir, "ports", NULL);
  g_autofree char *a_ports = g_strdup_printf ("--ports-file=%s", ports);
  g_autofree char *a_n = g_strdup_printf ("--products=%d", opt_products);
  g_autofree char *a_t = g_strdup_printf ("--trades-per-second=%g", opt_tps);
  const char *argv[]
      = { sim, "--port=0", a_ports, a_n, a_t, "--history-minutes=1", "--exit-with-parent", NULL };
  g_autoptr (GSubprocess) proc = g_subprocess_newv (
      argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  if (proc == NULL)
    {
      g_printerr ("bench-ingest: cannot run %s: %s\n", sim, error->message);
      return 1;
    }
  for (guint i = 0; i < 3000 && !file_exists (ports); i++)
    g_usleep (10000);
  g_autofree char *line = NULL;
  if (!g_file_get_contents (ports, &line, NULL, NULL))
    {
      g_printerr ("bench-ingest: the simulator did not start\n");
      return 1;
    }
  guint port = 0;
  const char *p = strstr (line, "ws=ws://127.0.0.1:");
  if (p != NULL)
    port = (guint)atoi (p + strlen ("ws=ws://127.0.0.1:"));
  g_autofree char *sim_stat = g_strdup_printf ("/proc/%s/stat", g_subprocess_get_identifier (proc));

  SpotEngineOptions eo;
  spot_engine_options_init_defaults (&eo);
  eo.workers = (guint)opt_workers;
  gint updates = 0;
  SpotCandleSink sink = { emit_nothing, emit_nothing, emit_no_dirty, &updates };
  SpotShardedAggregator *agg = spot_sharded_aggregator_new (&eo, &sink, NULL, &error);
  g_assert_no_error (error);

  SpotCoinbaseOptions o;
  spot_coinbase_options_init_defaults (&o);
  g_free (o.ws_url);
  o.ws_url = g_strdup_printf ("ws://127.0.0.1:%u/", port);
  o.products_per_connection = (guint)opt_ppc;
  o.inbox_size = (guint)opt_inbox;
  if (opt_lane_only)
    o.inline_frame_bytes = 0;
  o.connect_rate = 20;
  o.subscribe_rate = 40;
  SpotCoinbaseManager *m = spot_coinbase_manager_new (&o, agg, NULL, NULL, NULL);

  /* Products: the simulator names them; ask its REST list. */
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *url
      = g_strdup_printf ("http://127.0.0.1:%u/api/v3/brokerage/market/products", port);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize len = 0;
  const char *data = g_bytes_get_data (body, &len);
  g_assert_true (json_parser_load_from_data (parser, data, (gssize)len, NULL));
  JsonArray *arr = json_object_get_array_member (
      json_node_get_object (json_parser_get_root (parser)), "products");
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      const char *id
          = json_object_get_string_member (json_array_get_object_element (arr, i), "product_id");
      spot_sharded_aggregator_add_product (agg, id, FALSE);
      g_ptr_array_add (ids, (gpointer)id);
    }
  g_ptr_array_add (ids, NULL);
  spot_coinbase_manager_add_products (m, (const char *const *)ids->pdata);

  iterate_for ((guint)opt_warmup * 1000);
  SpotCoinbaseConnectionStats s0, s1;
  SpotEngineStats e0, e1;
  ThreadCpu c0, c1;
  spot_coinbase_manager_get_stats (m, &s0);
  spot_sharded_aggregator_get_stats (agg, &e0);
  guint64 sent0 = sim_trades_sent (session, port);
  thread_cpu (&c0);
  struct rusage ru0, ru1;
  getrusage (RUSAGE_SELF, &ru0);
  double sim0 = stat_cpu_seconds (sim_stat, NULL, 0);
  gint64 t0 = g_get_monotonic_time ();
  iterate_for ((guint)opt_seconds * 1000);
  gint64 t1 = g_get_monotonic_time ();
  spot_coinbase_manager_get_stats (m, &s1);
  spot_sharded_aggregator_get_stats (agg, &e1);
  thread_cpu (&c1);
  getrusage (RUSAGE_SELF, &ru1);
  guint64 sent1 = sim_trades_sent (session, port);
  double sim1 = stat_cpu_seconds (sim_stat, NULL, 0);

  double secs = (double)(t1 - t0) / 1e6;
  double tps = (double)(s1.trades - s0.trades) / secs;
  double per10k = tps / 10000.0;
  double main_cpu = (c1.main_s - c0.main_s) / secs, lanes = (c1.lanes_s - c0.lanes_s) / secs;
  double workers = (c1.workers_s - c0.workers_s) / secs, other = (c1.other_s - c0.other_s) / secs;
  double simcpu = (sim1 - sim0) / secs;
  double proc_cpu
      = ((ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec)
         + ((ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec)
            + (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec))
               / 1e6)
        / secs;
  printf ("products %d connections %u offered %.0f/s sim sent %.0f/s | ingested %.0f trades/s, "
          "%.0f frames/s, %.1f MB/s | "
          "engine accepted %.0f/s | inbox drops %" G_GUINT64_FORMAT
          " queue drops %" G_GUINT64_FORMAT " gaps %" G_GUINT64_FORMAT
          " parse errors %" G_GUINT64_FORMAT " | CPU (cores): main %.2f lanes %.2f "
          "workers %.2f other %.2f (process %.2f) sim %.2f | ingest CPU per 10k trades/s: %.3f "
          "cores (main+lanes), engine %.3f\n",
          opt_products, spot_coinbase_manager_get_n_connections (m), opt_products * opt_tps,
          (double)(sent1 - sent0) / secs, tps, (double)(s1.frames - s0.frames) / secs,
          (double)(s1.bytes - s0.bytes) / secs / 1e6,
          (double)(e1.trades_accepted - e0.trades_accepted) / secs, s1.inbox_drops - s0.inbox_drops,
          e1.batches_dropped - e0.batches_dropped, s1.sequence_gaps - s0.sequence_gaps,
          s1.parse_errors - s0.parse_errors, main_cpu, lanes, workers, other, proc_cpu, simcpu,
          per10k > 0 ? (main_cpu + lanes) / per10k : 0, per10k > 0 ? workers / per10k : 0);

  /* The client's share of the latency, over the measured window: frame
   * arrival on the main loop ("message" signal) to the lane taking it, and
   * to its batch handed to the aggregator. */
  guint64 wait[SPOT_COINBASE_LATENCY_BINS], handoff[SPOT_COINBASE_LATENCY_BINS];
  for (guint k = 0; k < SPOT_COINBASE_LATENCY_BINS; k++)
    {
      wait[k] = s1.lane_wait[k] - s0.lane_wait[k];
      handoff[k] = s1.lane_handoff[k] - s0.lane_handoff[k];
    }
  printf ("client latency, frame arrival -> lane: p50 %.3f ms p99 %.3f ms p99.9 %.3f ms | "
          "-> batch handed to the aggregator: p50 %.3f ms p99 %.3f ms p99.9 %.3f ms | "
          "parsed on the main loop %.1f %% | inbox peak %" G_GUINT64_FORMAT
          " frames %" G_GUINT64_FORMAT " bytes\n",
          spot_coinbase_latency_percentile_ns (wait, 0.5) / 1e6,
          spot_coinbase_latency_percentile_ns (wait, 0.99) / 1e6,
          spot_coinbase_latency_percentile_ns (wait, 0.999) / 1e6,
          spot_coinbase_latency_percentile_ns (handoff, 0.5) / 1e6,
          spot_coinbase_latency_percentile_ns (handoff, 0.99) / 1e6,
          spot_coinbase_latency_percentile_ns (handoff, 0.999) / 1e6,
          s1.frames > s0.frames ? 100.0 * (double)(s1.inline_frames - s0.inline_frames)
                                      / (double)(s1.frames - s0.frames)
                                : 0.0,
          s1.inbox_peak_frames,
          s1.inbox_peak_bytes);

  spot_coinbase_manager_stop (m);
  spot_coinbase_manager_free (m);
  spot_sharded_aggregator_free (agg);
  spot_coinbase_options_clear (&o);
  g_subprocess_send_signal (proc, SIGTERM);
  g_subprocess_wait (proc, NULL, NULL);
  g_unlink (ports);
  g_rmdir (dir);
  return 0;
}

/* ---- parse mode ---------------------------------------------------------------- */

static int
run_parse (void)
{
  /* Frames like the simulator's: a few products' trades per 250 ms batch. */
  GPtrArray *frames = g_ptr_array_new_with_free_func (g_free);
  guint64 id = 995098700;
  for (guint f = 0; f < 256; f++)
    {
      GString *s = g_string_new ("{\"channel\":\"market_trades\",\"client_id\":\"\",\"timestamp\":"
                                 "\"2026-04-07T14:30:03.123456789Z\","
                                 "\"sequence_num\":");
      g_string_append_printf (s, "%u,\"events\":[{\"type\":\"update\",\"trades\":[", f);
      for (gint t = 0; t < opt_trades_per_frame; t++)
        g_string_append_printf (
            s,
            "%s{\"product_id\":\"BTC-USD\",\"trade_id\":\"%" G_GUINT64_FORMAT
            "\",\"price\":\"68%03u.%02u\","
            "\"size\":\"0.%08u\",\"side\":\"%s\",\"time\":\"2026-04-07T14:30:02.%06uZ\"}",
            t == 0 ? "" : ",", id++, (guint)g_random_int_range (0, 1000),
            (guint)g_random_int_range (0, 100), (guint)g_random_int_range (1, 99999999),
            t % 2 ? "BUY" : "SELL", (guint)g_random_int_range (0, 999999));
      g_string_append (s, "]}]}");
      g_ptr_array_add (frames, g_string_free (s, FALSE));
    }
  g_autoptr (SpotCoinbaseParser) parser = spot_coinbase_parser_new ();
  spot_coinbase_parser_set_json_only (parser, opt_json_only);
  g_auto (SpotCoinbaseMessage) msg;
  spot_coinbase_message_init (&msg);
  guint64 trades = 0;
  gint64 t0 = g_get_monotonic_time ();
  gint64 end = t0 + (gint64)opt_seconds * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end)
    for (guint i = 0; i < frames->len; i++)
      {
        const char *f = g_ptr_array_index (frames, i);
        if (!spot_coinbase_parser_parse (parser, f, strlen (f), 0, 0, &msg, NULL))
          g_error ("bench frame did not parse");
        trades += msg.trades->n_trades;
      }
  double secs = (double)(g_get_monotonic_time () - t0) / 1e6;
  printf ("parse (%s): %d trades/frame, %.0f trades/s on one thread (%.0f frames/s)\n",
          opt_json_only ? "json-glib" : "lean, json-glib fallback", opt_trades_per_frame,
          (double)trades / secs, (double)trades / secs / opt_trades_per_frame);
  g_ptr_array_unref (frames);
  return 0;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- Coinbase ingest benchmark");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("bench-ingest: %s\n", error->message);
      return 2;
    }
  if (opt_mode != NULL && g_str_equal (opt_mode, "parse"))
    return run_parse ();
  return run_live ();
}
