/* test-e2e-candles: simulator -> service -> NATS -> PostgreSQL -> SSE, with
 * exchange faults injected; afterwards the stored candles and the last SSE
 * state equal the simulator's own REST candles, numerically, at every
 * granularity.
 *
 * The comparison needs a still market: a backward skew of the simulator's
 * clock pauses its trade generation (trade times never go back) while REST
 * keeps answering, so open buckets are compared too. */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "e2e-util.h"
#include "spot-test-harness.h"

/* Six products over three connections, so faults hit connections that
 * carry different products. */
#define N_PRODUCTS 6

static gboolean
repairs_settled (gpointer data)
{
  E2eService *service = data;
  g_autofree char *url = g_strdup_printf ("%s/metrics", service->base_url);
  g_autofree char *text = e2e_http_get (url, NULL, NULL);

  return text != NULL && e2e_metric_value (text, "spot_repairs_pending") == 0;
}

static void
fault (E2eSim *sim, const char *kind, const char *value, guint then_sleep_s)
{
  g_autoptr (GError) error = NULL;

  g_test_message ("fault %s%s%s", kind, value != NULL ? "=" : "", value != NULL ? value : "");
  g_assert_true (e2e_sim_fault (sim, kind, value, &error));
  g_assert_no_error (error);
  g_usleep (then_sleep_s * G_USEC_PER_SEC);
}

static guint
compare_product (PGconn *db,
                 E2eSim *sim,
                 GHashTable *shown,
                 const char *product,
                 gint64 service_start,
                 gint64 now,
                 GString *problems)
{
  guint compared = 0;

  for (SpotGranularity g = 0; g < SPOT_GRANULARITY_COUNT; g++)
    {
      gint64 size = spot_granularity_seconds (g);
      gint64 from = service_start / size * size;
      g_autoptr (GError) error = NULL;
      g_autoptr (GArray) rest = e2e_sim_candles (sim, product, g, from, now, &error);
      g_autoptr (GArray) stored = e2e_db_candles (db, product, g, from);
      g_autoptr (GHashTable) by_start = g_hash_table_new (g_int64_hash, g_int64_equal);
      g_autofree char *id = g_strdup_printf ("candle-%s-%s", product, spot_granularity_name (g));
      const SpotCandle *newest = NULL;
      SpotCandle *seen;

      g_assert_no_error (error);
      g_test_message ("%s %s: %u on the exchange, %u stored since %" G_GINT64_FORMAT, product,
                      spot_granularity_name (g), rest->len, stored->len, from);
      for (guint i = 0; i < rest->len; i++)
        {
          SpotCandle *c = &g_array_index (rest, SpotCandle, i);
          g_hash_table_insert (by_start, &c->start, c);
          if (newest == NULL || c->start > newest->start)
            newest = c;
        }
      /* Every stored row is the exchange's candle... */
      for (guint i = 0; i < stored->len; i++)
        {
          SpotCandle *row = &g_array_index (stored, SpotCandle, i);
          SpotCandle *truth = g_hash_table_lookup (by_start, &row->start);
          g_autofree char *why = NULL;
          if (truth == NULL)
            g_string_append_printf (
                problems, "%s %s start %" G_GINT64_FORMAT ": stored, not on the exchange\n",
                product, spot_granularity_name (g), row->start);
          else if (!e2e_candles_equal (row, truth, &why))
            g_string_append_printf (problems, "database: %s\n", why);
          compared++;
        }
      /* ... and every exchange candle since the start is stored. */
      for (guint i = 0; i < rest->len; i++)
        {
          SpotCandle *c = &g_array_index (rest, SpotCandle, i);
          gboolean found = FALSE;
          for (guint j = 0; j < stored->len && !found; j++)
            found = g_array_index (stored, SpotCandle, j).start == c->start;
          if (!found)
            g_string_append_printf (
                problems, "%s %s start %" G_GINT64_FORMAT ": on the exchange, not stored\n",
                product, spot_granularity_name (g), c->start);
        }
      /* The browser's last state is the exchange's newest bucket. */
      seen = g_hash_table_lookup (shown, id);
      if (newest == NULL)
        continue;
      if (seen == NULL)
        g_string_append_printf (problems, "stream: no %s\n", id);
      else
        {
          g_autofree char *why = NULL;
          if (!e2e_candles_equal (seen, newest, &why))
            g_string_append_printf (problems, "stream: %s\n", why);
          compared++;
        }
    }
  return compared;
}

static void
test_candles_equal_exchange_after_faults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestNats) nats = spot_test_nats_start (&error);
  g_autoptr (SpotTestPostgres) pg = NULL;
  const char *sim_args[]
      = { "--products=6", "--trades-per-second=8", "--history-minutes=20", "--seed=11", NULL };
  const char *env[] = {
    "PRODUCTS=all",
    "GRANULARITIES=ONE_MINUTE,FIVE_MINUTE,FIFTEEN_MINUTE,THIRTY_MINUTE,ONE_HOUR,TWO_HOUR,FOUR_HOUR,"
    "SIX_HOUR,ONE_DAY",
    "PRODUCTS_PER_CONNECTION=2",
    "CONNECT_RATE=8",
    "SUBSCRIBE_RATE=8",
    "REST_RATE=20",
    "CANDLE_GRACE_MS=500",
    "CORRECTION_WINDOW_S=30",
    "REPAIR_DELAY_S=1",
    "REPAIR_WAIT_MS=5000",
    "STALL_TIMEOUT_S=3",
    "SHARD_WORKERS=4",
    NULL,
  };
  E2eSim *sim;
  E2eService *service;
  E2eStream *stream;
  g_auto (GStrv) products = NULL;
  g_autofree char *stream_url = NULL;
  g_autoptr (GString) problems = g_string_new (NULL);
  g_autoptr (GHashTable) shown = NULL;
  PGconn *db;
  gint64 service_start, last_fault, now;
  guint compared = 0;
  guint rounds
      = g_getenv ("E2E_FAULT_ROUNDS") != NULL ? (guint)atoi (g_getenv ("E2E_FAULT_ROUNDS")) : 1;

  g_assert_no_error (error);
  pg = spot_test_postgres_start (&error);
  g_assert_no_error (error);
  sim = e2e_sim_start (sim_args, &error);
  g_assert_no_error (error);
  products = e2e_sim_products (sim, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (products), ==, N_PRODUCTS);

  service_start = g_get_real_time () / G_USEC_PER_SEC;
  service = e2e_service_start (spot_test_nats_url (nats), spot_test_postgres_conninfo (pg), sim,
                               env, 90, &error);
  g_assert_no_error (error);
  {
    g_autofree char *list = g_strjoinv (",", products);
    stream_url
        = g_strdup_printf ("%s/stream?products=%s&granularities=%s", service->base_url, list,
                           "ONE_MINUTE,FIVE_MINUTE,FIFTEEN_MINUTE,THIRTY_MINUTE,ONE_HOUR,TWO_HOUR,"
                           "FOUR_HOUR,SIX_HOUR,ONE_DAY");
  }
  stream = e2e_stream_open (stream_url, &error);
  g_assert_no_error (error);

  /* Faults of every kind the simulator has, one after the other; the slow
   * variant (E2E_FAULT_ROUNDS) repeats them for several minutes so larger
   * buckets complete under faults too. */
  g_usleep (6 * G_USEC_PER_SEC);
  for (guint round = 0; round < rounds; round++)
    {
      fault (sim, "close1001", NULL, 6);
      fault (sim, "skip-sequence", "3", 4);
      fault (sim, "drop", NULL, 6);
      fault (sim, "malformed", NULL, 2);
      fault (sim, "wrong-type", "0", 2);
      fault (sim, "newest-first", "1", 2);
      fault (sim, "dup-snapshot", "1", 2);
      fault (sim, "oversized", "262144", 2);
      fault (sim, "stall", "4", 6);
      fault (sim, "heartbeat-string", "1", 2);
      fault (sim, "clear", NULL, round + 1 < rounds ? 20 : 0);
    }
  last_fault = g_get_real_time () / G_USEC_PER_SEC;

  /* Every dirty minute closes, is fetched from REST and applied. */
  while (g_get_real_time () / G_USEC_PER_SEC < last_fault / 60 * 60 + 60 + 6)
    g_usleep (500 * 1000);
  if (!e2e_wait_until (repairs_settled, service, 60000))
    {
      e2e_service_dump_log (service, "service");
      g_assert_not_reached ();
    }

  /* The faults really hit: reconnects, gaps, and minutes repaired from REST. */
  {
    g_autofree char *url = g_strdup_printf ("%s/metrics", service->base_url);
    g_autofree char *text = e2e_http_get (url, NULL, &error);
    const char *series[]
        = { "spot_trades_received_total",         "spot_websocket_reconnects_total",
            "spot_websocket_sequence_gaps_total", "spot_websocket_stalls_total",
            "spot_repairs_queued_total",          "spot_rest_repairs_total{result=\"applied\"}",
            "spot_duplicate_trades_total",        NULL };
    g_assert_no_error (error);
    for (guint i = 0; series[i] != NULL; i++)
      g_test_message ("%s %.0f", series[i], e2e_metric_value (text, series[i]));
    g_assert_cmpfloat (e2e_metric_value (text, "spot_websocket_reconnects_total"), >=, 2);
    g_assert_cmpfloat (e2e_metric_value (text, "spot_repairs_queued_total"), >, 0);
    g_assert_cmpfloat (e2e_metric_value (text, "spot_duplicate_trades_total"), >, 0);
  }

  /* Still market, then compare. */
  fault (sim, "skew", "-600000", 3);
  now = g_get_real_time () / G_USEC_PER_SEC;
  shown = e2e_stream_snapshot (stream);
  g_test_message ("stream: %" G_GUINT64_FORMAT " element updates read", e2e_stream_events (stream));
  db = e2e_db_connect (spot_test_postgres_conninfo (pg));
  for (guint i = 0; products[i] != NULL; i++)
    compared += compare_product (db, sim, shown, products[i], service_start, now, problems);
  PQfinish (db);
  g_test_message ("%u candles compared", compared);
  if (problems->len > 0)
    {
      e2e_service_dump_log (service, "service");
      g_printerr ("%s", problems->str);
    }
  g_assert_cmpstr (problems->str, ==, "");
  /* Nine granularities, six products, several minutes: a real comparison. */
  g_assert_cmpuint (compared, >=, N_PRODUCTS * SPOT_GRANULARITY_COUNT * 2);

  e2e_stream_close (stream);
  g_assert_cmpint (e2e_service_stop (service, SIGTERM, 30), ==, 0);
  e2e_service_free (service);
  e2e_sim_free (sim);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  spot_test_require_program ("nats-server");
  spot_test_require_program ("postgres");
  g_test_add_func ("/e2e/candles-equal-exchange-after-faults",
                   test_candles_equal_exchange_after_faults);
  return g_test_run ();
}
