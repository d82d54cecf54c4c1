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

/* A fault, then time for it to take effect. */
static void
fault (E2eSim *sim, const char *kind, const char *value, guint then_sleep_s)
{
  e2e_sim_fault_assert (sim, kind, value);
  g_usleep (then_sleep_s * G_USEC_PER_SEC);
}

static void
test_candles_equal_exchange_after_faults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (E2eStack) stack = NULL;
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
  char **products;
  g_autofree char *stream_url = NULL;
  g_autoptr (GHashTable) shown = NULL;
  gint64 service_start, last_fault, now;
  guint compared;
  guint rounds
      = g_getenv ("E2E_FAULT_ROUNDS") != NULL ? (guint)atoi (g_getenv ("E2E_FAULT_ROUNDS")) : 1;

  stack = e2e_stack_start (sim_args);
  sim = stack->sim;
  products = stack->products;
  g_assert_cmpuint (g_strv_length (products), ==, N_PRODUCTS);

  service_start = g_get_real_time () / G_USEC_PER_SEC;
  service = e2e_stack_service_start (stack, env, 90);
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
  e2e_service_assert_repairs_done (service, last_fault);

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
  compared = e2e_assert_candles_match_exchange (service, spot_test_postgres_conninfo (stack->pg), sim,
                                                products, shown, service_start, now);
  /* Nine granularities, six products, several minutes: a real comparison. */
  g_assert_cmpuint (compared, >=, N_PRODUCTS * SPOT_GRANULARITY_COUNT * 2);

  e2e_stream_close (stream);
  e2e_finish (service, NULL);
}

int
main (int argc, char **argv)
{
  e2e_test_init (&argc, &argv);
  g_test_add_func ("/e2e/candles-equal-exchange-after-faults",
                   test_candles_equal_exchange_after_faults);
  return g_test_run ();
}
