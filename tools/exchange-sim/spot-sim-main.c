/* spot-sim-main.c: command line of spot-exchange-sim; only wires. */
#define G_LOG_DOMAIN "spot-exchange-sim"

#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#ifdef __linux__
#include <signal.h>
#include <sys/prctl.h>
#endif

#include "config.h"
#include "core/spot-error.h"
#include "spot-sim-jwt.h"
#include "spot-sim-market.h"
#include "spot-sim-server.h"

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
parse_fault (const char *text, SpotSimFault *out, GError **error)
{
  g_auto (GStrv) kv = g_strsplit (text, "=", 2);
  if (!spot_sim_fault_kind_from_string (kv[0], &out->kind) || out->kind == SPOT_SIM_FAULT_CLEAR)
    {
      g_set_error (
          error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
          "--fault %s: kinds are close1001 drop stall skip-sequence newest-first dup-snapshot "
          "oversized malformed wrong-type delay skew heartbeat-string rest-candles",
          text);
      return FALSE;
    }
  out->value = spot_sim_fault_default_value (out->kind);
  if (kv[1] != NULL
      && !g_ascii_string_to_signed (kv[1], 10, G_MININT64, G_MAXINT64, &out->value, NULL))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "--fault %s: the value must be an integer", text);
      return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *host = NULL;
  gint port = 0;
  g_autofree char *ports_file = NULL;
  gint n_products = 50;
  g_autofree char *product_ids = NULL;
  gint64 seed = 1;
  double tps = 5.0;
  gint history_minutes = 60;
  gint horizon_minutes = 27 * 60;
  gint snapshot_trades = 50;
  gint candles_snapshot = 0;
  gint batch_ms = 250;
  gint idle_close_s = 5;
  gboolean require_auth = FALSE;
  g_auto (GStrv) key_files = NULL;
  g_auto (GStrv) fault_args = NULL;
  gint fault_after_s = 10;
  gint64 skew_ms = 0;
  gboolean exit_with_parent = FALSE;
  gint max_backlog_mb = 256;

  GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "Listen address (default 127.0.0.1)", "ADDR" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port,
      "Port for WebSocket, REST and control (0: any free port)", "PORT" },
    { "ports-file", 0, 0, G_OPTION_ARG_FILENAME, &ports_file,
      "Write the URLs line here once listening", "FILE" },
    { "products", 'n', 0, G_OPTION_ARG_INT, &n_products, "Number of products (default 50)", "N" },
    { "product-ids", 0, 0, G_OPTION_ARG_STRING, &product_ids,
      "Explicit comma-separated product ids", "LIST" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Market seed (default 1)", "SEED" },
    { "trades-per-second", 't', 0, G_OPTION_ARG_DOUBLE, &tps,
      "Mean trades per second per product (default 5)", "RATE" },
    { "history-minutes", 0, 0, G_OPTION_ARG_INT, &history_minutes,
      "Minutes of past trades generated at start (default 60)", "MIN" },
    { "horizon-minutes", 0, 0, G_OPTION_ARG_INT, &horizon_minutes,
      "Minutes of candle history kept (default 1620 = 27 h)", "MIN" },
    { "snapshot-trades", 0, 0, G_OPTION_ARG_INT, &snapshot_trades,
      "Trades per product in a market_trades snapshot (default 50)", "N" },
    { "candles-snapshot", 0, 0, G_OPTION_ARG_INT, &candles_snapshot,
      "5-minute candles per product in a candles snapshot (default 100 / products subscribed, at "
      "least 1)",
      "N" },
    { "batch-ms", 0, 0, G_OPTION_ARG_INT, &batch_ms,
      "market_trades batching interval (default 250)", "MS" },
    { "idle-close-s", 0, 0, G_OPTION_ARG_INT, &idle_close_s,
      "Close connections without a subscribe after this (default 5)", "S" },
    { "require-auth", 0, 0, G_OPTION_ARG_NONE, &require_auth,
      "Refuse subscribes without a valid JWT", NULL },
    { "jwt-public-key", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &key_files,
      "PEM public key (EC P-256 or Ed25519); repeatable", "FILE" },
    { "fault", 'f', 0, G_OPTION_ARG_STRING_ARRAY, &fault_args,
      "Fault for every connection, KIND[=VALUE]; repeatable", "FAULT" },
    { "fault-after", 0, 0, G_OPTION_ARG_INT, &fault_after_s,
      "Seconds after a connection's first subscribe when one-shot --fault kinds fire (default 10)",
      "S" },
    { "skew-ms", 0, 0, G_OPTION_ARG_INT64, &skew_ms, "Exchange clock offset from the local clock",
      "MS" },
    { "max-backlog-mb", 0, 0, G_OPTION_ARG_INT, &max_backlog_mb,
      "Drop a client this many MiB behind (default 256; 0: never)", "MB" },
    { "exit-with-parent", 0, 0, G_OPTION_ARG_NONE, &exit_with_parent,
      "Exit when the parent process dies (Linux)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx
      = g_option_context_new ("- Coinbase Advanced Trade exchange simulator");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("spot-exchange-sim: %s\n", error->message);
      return 2;
    }
#ifdef __linux__
  if (exit_with_parent)
    prctl (PR_SET_PDEATHSIG, SIGTERM);
#endif
  if (port < 0 || port > 65535 || n_products < 1 || history_minutes < 0 || horizon_minutes < 1
      || snapshot_trades < 1 || batch_ms < 1 || idle_close_s < 1 || fault_after_s < 0
      || max_backlog_mb < 0 || candles_snapshot < 0)
    {
      g_printerr ("spot-exchange-sim: a numeric option is out of range (see --help)\n");
      return 2;
    }

  g_autoptr (GArray) faults = g_array_new (FALSE, FALSE, sizeof (SpotSimFault));
  for (guint i = 0; fault_args != NULL && fault_args[i] != NULL; i++)
    {
      SpotSimFault f;
      if (!parse_fault (fault_args[i], &f, &error))
        {
          g_printerr ("spot-exchange-sim: %s\n", error->message);
          return 2;
        }
      g_array_append_val (faults, f);
    }

  g_autoptr (SpotSimJwtVerifier) verifier = spot_sim_jwt_verifier_new ();
  for (guint i = 0; key_files != NULL && key_files[i] != NULL; i++)
    if (!spot_sim_jwt_verifier_add_key_file (verifier, key_files[i], &error))
      {
        g_printerr ("spot-exchange-sim: %s\n", error->message);
        return 2;
      }

  g_auto (GStrv) ids = product_ids != NULL ? g_strsplit (product_ids, ",", -1) : NULL;
  SpotSimMarketConfig mc = {
    .seed = (guint64)seed,
    .n_products = (guint)n_products,
    .product_ids = ids,
    .trades_per_second = tps,
    .history_minutes = (guint)history_minutes,
    .snapshot_trades = (guint)snapshot_trades,
    .horizon_minutes = (guint)horizon_minutes,
  };
  gint64 t0 = g_get_monotonic_time ();
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  gint64 now_us = (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000 + skew_ms * 1000;
  SpotSimMarket *market = spot_sim_market_new (&mc, now_us, &error);
  if (market == NULL)
    {
      g_printerr ("spot-exchange-sim: %s\n", error->message);
      return 2;
    }
  g_info ("generated %u products with %d minutes of history in %.3f s",
          spot_sim_market_n_products (market), history_minutes,
          (double)(g_get_monotonic_time () - t0) / 1e6);

  guint n = spot_sim_market_n_products (market);
  SpotSimServerConfig sc = {
    .host = host,
    .port = (guint)port,
    .batch_ms = (guint)batch_ms,
    .idle_close_s = (guint)idle_close_s,
    .snapshot_trades = (guint)snapshot_trades,
    .candles_snapshot = candles_snapshot > 0 ? (guint)candles_snapshot : MAX (1u, 100 / n),
    .skew_ms = skew_ms,
    .require_auth = require_auth,
    .verifier = verifier,
    .faults = faults,
    .fault_after_s = (guint)fault_after_s,
    .max_backlog_bytes = (guint64)max_backlog_mb * 1024 * 1024,
  };
  g_autoptr (SpotSimServer) server = spot_sim_server_new (&sc, market, &error);
  if (server == NULL)
    {
      g_printerr ("spot-exchange-sim: %s\n", error->message);
      return error->code == SPOT_ERROR_INVALID_CONFIG ? 2 : 1;
    }

  const char *h = host != NULL ? host : "127.0.0.1";
  g_autofree char *bracketed = strchr (h, ':') != NULL ? g_strdup_printf ("[%s]", h) : g_strdup (h);
  g_autofree char *line
      = g_strdup_printf ("ws=ws://%s:%u/ rest=http://%s:%u control=http://%s:%u/_sim\n", bracketed,
                         spot_sim_server_port (server), bracketed, spot_sim_server_port (server),
                         bracketed, spot_sim_server_port (server));
  /* The file has one key=URL per line, for `sed -n 's/^ws=//p'`. */
  g_autofree char *file_text
      = g_strdup_printf ("ws=ws://%s:%u/\nrest=http://%s:%u\ncontrol=http://%s:%u/_sim\n",
                         bracketed, spot_sim_server_port (server), bracketed,
                         spot_sim_server_port (server), bracketed, spot_sim_server_port (server));
  if (ports_file != NULL && !g_file_set_contents (ports_file, file_text, -1, &error))
    {
      g_printerr ("spot-exchange-sim: --ports-file: %s\n", error->message);
      return 1;
    }
  fputs (line, stdout);
  fflush (stdout);
  g_message ("%s products, %g trades/s each, seed %" G_GINT64_FORMAT ", listening on port %u",
             product_ids != NULL ? product_ids : "generated", tps, seed,
             spot_sim_server_port (server));

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint sigint = g_unix_signal_add (SIGINT, quit_cb, loop);
  guint sigterm = g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_message ("stopping");
  spot_sim_server_stop (server, 1000);
  return 0;
}
