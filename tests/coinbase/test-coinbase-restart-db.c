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

static void
test_restart_seeds_open_buckets_from_stored_candles (void)
{
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
  g_autoptr (E2eStack) stack = e2e_stack_start (sim_args);
  E2eSim *sim = stack->sim;
  char **products = stack->products;
  g_assert_cmpuint (g_strv_length (products), ==, 2);

  /* First run: seeded from REST (the database is empty), then live. */
  gint64 first_start = g_get_real_time () / G_USEC_PER_SEC;
  E2eService *service = e2e_stack_service_start (stack, env, 90);
  g_assert_true (e2e_wait_until (e2e_service_trades_flowing, service, 30000));
  g_usleep (15 * G_USEC_PER_SEC);
  g_assert_true (e2e_wait_until (e2e_service_repairs_settled, service, 60000));
  e2e_finish (service, NULL);

  /* Down for a few seconds; from now on REST has only ONE_MINUTE. */
  e2e_sim_fault_assert (sim, "rest-candles", "300");
  double refused_before = rest_refused (sim);
  g_usleep (3 * G_USEC_PER_SEC);
  service = e2e_stack_service_start (stack, env, 90);
  g_assert_true (e2e_wait_until (e2e_service_trades_flowing, service, 30000));
  /* The minutes missed while down close, are fetched and applied. */
  gint64 restarted = g_get_real_time () / G_USEC_PER_SEC;
  e2e_service_assert_repairs_done (service, restarted);
  double refused = rest_refused (sim) - refused_before;
  g_test_message ("REST candles requests above ONE_MINUTE refused during the restart: %.0f",
                  refused);

  /* Truth from REST again, on a still market. */
  e2e_sim_fault_assert (sim, "rest-candles", "0");
  e2e_sim_fault_assert (sim, "skew", "-600000");
  g_usleep (3 * G_USEC_PER_SEC);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  /* Stored candles only: no stream is followed here. */
  guint compared = e2e_assert_candles_match_exchange (
      service, spot_test_postgres_conninfo (stack->pg), sim, products, NULL, first_start, now);
  /* Every granularity of both products, the open day included. */
  g_assert_cmpuint (compared, >=, 2 * SPOT_GRANULARITY_COUNT);

  e2e_finish (service, NULL);
}

int
main (int argc, char **argv)
{
  e2e_test_init (&argc, &argv);
  g_test_add_func ("/coinbase/restart-db/restart-seeds-open-buckets-from-stored-candles",
                   test_restart_seeds_open_buckets_from_stored_candles);
  return g_test_run ();
}
