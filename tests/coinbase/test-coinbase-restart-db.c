/* test-coinbase-restart-db.c: a restart seeds from the candles stored in
 * PostgreSQL.
 *
 * The whole service (tests/e2e helpers: the built spot-canvas with the
 * harness's nats-server and PostgreSQL) runs against the simulator, which
 * has 90 minutes of history, so the open hour, day and the buckets between
 * hold trades from before the service started: the first start seeds them
 * from REST and stores them. The service is stopped and, while it is down
 * and restarting, the simulator refuses every REST candles request above
 * ONE_MINUTE (the `rest-candles` fault): the ancestors of the open buckets
 * can only come from the database, ONE_MINUTE stays available for the
 * minutes missed while the service was down. After the repairs, with the
 * fault cleared and the market held still (a backward skew pauses trading),
 * every stored candle since the first start, at every granularity, equals
 * the simulator's REST candle numerically, and every REST candle is stored.
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "../e2e/e2e-util.h"
#include "spot-test-harness.h"

static const char *granularities
    = "ONE_MINUTE,FIVE_MINUTE,FIFTEEN_MINUTE,THIRTY_MINUTE,ONE_HOUR,TWO_HOUR,FOUR_HOUR,SIX_HOUR,"
      "ONE_DAY";

static char *
metrics_of (E2eService *service)
{
  g_autofree char *url = g_strdup_printf ("%s/metrics", service->base_url);
  return e2e_http_get (url, NULL, NULL);
}

static gboolean
repairs_settled (gpointer data)
{
  g_autofree char *text = metrics_of (data);
  return text != NULL && e2e_metric_value (text, "spot_repairs_pending") == 0;
}

static gboolean
trades_flowing (gpointer data)
{
  g_autofree char *text = metrics_of (data);
  return text != NULL && e2e_metric_value (text, "spot_trades_received_total") > 0;
}

static void
fault (E2eSim *sim, const char *kind, const char *value)
{
  g_autoptr (GError) error = NULL;
  g_test_message ("fault %s%s%s", kind, value != NULL ? "=" : "", value != NULL ? value : "");
  g_assert_true (e2e_sim_fault (sim, kind, value, &error));
  g_assert_no_error (error);
}

/* The simulator's count of refused REST candles requests. */
static double
rest_refused (E2eSim *sim)
{
  g_autofree char *url = g_strdup_printf ("%s/stats", sim->control_url);
  g_autofree char *text = e2e_http_get (url, NULL, NULL);
  g_assert_nonnull (text);
  const char *at = strstr (text, "\"rest_candles_refused\":");
  g_assert_nonnull (at);
  return g_ascii_strtod (at + strlen ("\"rest_candles_refused\":"), NULL);
}

/* Returns the number of candles compared; problems are appended. */
static guint
compare_product (PGconn *db, E2eSim *sim, const char *product, gint64 since, gint64 now,
                 GString *problems)
{
  guint compared = 0;
  for (SpotGranularity g = 0; g < SPOT_GRANULARITY_COUNT; g++)
    {
      gint64 size = spot_granularity_seconds (g);
      gint64 from = spot_granularity_align (g, since);
      g_autoptr (GError) error = NULL;
      g_autoptr (GArray) rest = e2e_sim_candles (sim, product, g, from, now, &error);
      g_assert_no_error (error);
      g_autoptr (GArray) stored = e2e_db_candles (db, product, g, from);
      g_test_message ("%s %s: %u on the exchange, %u stored from %" G_GINT64_FORMAT, product,
                      spot_granularity_name (g), rest->len, stored->len, from);
      (void)size;
      for (guint i = 0; i < stored->len; i++)
        {
          const SpotCandle *row = &g_array_index (stored, SpotCandle, i);
          const SpotCandle *truth = NULL;
          for (guint k = 0; k < rest->len && truth == NULL; k++)
            if (g_array_index (rest, SpotCandle, k).start == row->start)
              truth = &g_array_index (rest, SpotCandle, k);
          g_autofree char *why = NULL;
          if (truth == NULL)
            g_string_append_printf (problems, "%s %s %" G_GINT64_FORMAT ": stored, not on the exchange\n",
                                    product, spot_granularity_name (g), row->start);
          else if (!e2e_candles_equal (row, truth, &why))
            g_string_append_printf (problems, "%s\n", why);
          compared++;
        }
      for (guint k = 0; k < rest->len; k++)
        {
          const SpotCandle *c = &g_array_index (rest, SpotCandle, k);
          gboolean found = FALSE;
          for (guint i = 0; i < stored->len && !found; i++)
            found = g_array_index (stored, SpotCandle, i).start == c->start;
          if (!found)
            g_string_append_printf (problems, "%s %s %" G_GINT64_FORMAT ": on the exchange, not stored\n",
                                    product, spot_granularity_name (g), c->start);
        }
    }
  return compared;
}

static void
test_restart_seeds_open_buckets_from_stored_candles (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestNats) nats = spot_test_nats_start (&error);
  g_assert_no_error (error);
  g_autoptr (SpotTestPostgres) pg = spot_test_postgres_start (&error);
  g_assert_no_error (error);
  const char *sim_args[]
      = { "--products=2", "--trades-per-second=2", "--history-minutes=90", "--seed=5", NULL };
  g_autofree char *gran_env = g_strdup_printf ("GRANULARITIES=%s", granularities);
  const char *env[] = {
    "PRODUCTS=all",
    gran_env,
    "PRODUCTS_PER_CONNECTION=2",
    "CONNECT_RATE=8",
    "SUBSCRIBE_RATE=8",
    "REST_RATE=20",
    "CANDLE_GRACE_MS=500",
    "CORRECTION_WINDOW_S=30",
    "REPAIR_DELAY_S=1",
    "REPAIR_WAIT_MS=5000",
    "STALL_TIMEOUT_S=3",
    NULL,
  };
  E2eSim *sim = e2e_sim_start (sim_args, &error);
  g_assert_no_error (error);
  g_auto (GStrv) products = e2e_sim_products (sim, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (products), ==, 2);

  /* First run: seeded from REST (the database is empty), then live. */
  gint64 first_start = g_get_real_time () / G_USEC_PER_SEC;
  E2eService *service = e2e_service_start (spot_test_nats_url (nats),
                                           spot_test_postgres_conninfo (pg), sim, env, 90, &error);
  g_assert_no_error (error);
  g_assert_true (e2e_wait_until (trades_flowing, service, 30000));
  g_usleep (15 * G_USEC_PER_SEC);
  g_assert_true (e2e_wait_until (repairs_settled, service, 60000));
  g_assert_cmpint (e2e_service_stop (service, SIGTERM, 30), ==, 0);
  e2e_service_free (service);

  /* Down for a few seconds; from now on REST has only ONE_MINUTE. */
  fault (sim, "rest-candles", "300");
  double refused_before = rest_refused (sim);
  g_usleep (3 * G_USEC_PER_SEC);
  service = e2e_service_start (spot_test_nats_url (nats), spot_test_postgres_conninfo (pg), sim,
                               env, 90, &error);
  g_assert_no_error (error);
  g_assert_true (e2e_wait_until (trades_flowing, service, 30000));
  /* The minutes missed while down close, are fetched and applied. */
  gint64 restarted = g_get_real_time () / G_USEC_PER_SEC;
  while (g_get_real_time () / G_USEC_PER_SEC < restarted / 60 * 60 + 60 + 6)
    g_usleep (500 * 1000);
  if (!e2e_wait_until (repairs_settled, service, 60000))
    {
      e2e_service_dump_log (service, "service");
      g_assert_not_reached ();
    }
  double refused = rest_refused (sim) - refused_before;
  g_test_message ("REST candles requests above ONE_MINUTE refused during the restart: %.0f",
                  refused);

  /* Truth from REST again, on a still market. */
  fault (sim, "rest-candles", "0");
  fault (sim, "skew", "-600000");
  g_usleep (3 * G_USEC_PER_SEC);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr (GString) problems = g_string_new (NULL);
  PGconn *db = e2e_db_connect (spot_test_postgres_conninfo (pg));
  guint compared = 0;
  for (guint i = 0; products[i] != NULL; i++)
    compared += compare_product (db, sim, products[i], first_start, now, problems);
  PQfinish (db);
  g_test_message ("%u stored candles compared", compared);
  if (problems->len > 0)
    {
      e2e_service_dump_log (service, "service");
      g_printerr ("%s", problems->str);
    }
  g_assert_cmpstr (problems->str, ==, "");
  /* Every granularity of both products, the open day included. */
  g_assert_cmpuint (compared, >=, 2 * SPOT_GRANULARITY_COUNT);

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
  g_test_add_func ("/coinbase/restart-db/restart-seeds-open-buckets-from-stored-candles",
                   test_restart_seeds_open_buckets_from_stored_candles);
  return g_test_run ();
}
