/* test-e2e-control: product-control messages that arrive while the service
 * is still starting are not lost.
 *
 * The service starts with three products while the exchange simulator is
 * stopped (SIGSTOP): its REST products list does not answer, so the service
 * stays "starting" with HTTP and the control subscription up. Meanwhile
 * three messages arrive on spot.control.products: add two
 * products and remove one; add a product; remove that same product. Once
 * the simulator resumes and the service is
 * running, it has applied all of them in order: the active set is
 * the three minus one plus two, and the exchange sees exactly those
 * subscribed. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <nats/nats.h>

#include "e2e-util.h"
#include "spot-test-harness.h"

static void
publish (natsConnection *nc, const char *json)
{
  g_assert_cmpint (natsConnection_PublishString (nc, "spot.control.products", json), ==, NATS_OK);
}

static void
test_control_messages_while_starting_are_applied_once_running (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (E2eStack) stack = NULL;
  const char *sim_args[]
      = { "--products=8", "--trades-per-second=5", "--history-minutes=30", "--seed=9", NULL };
  char **all;
  g_autofree char *products = NULL;
  g_autofree char *msg1 = NULL;
  g_autofree char *msg2 = NULL;
  g_autofree char *msg3 = NULL;
  g_autofree char *log = NULL;
  natsConnection *nc = NULL;
  E2eSim *sim;
  E2eService *service;

  stack = e2e_stack_start (sim_args);
  sim = stack->sim;
  all = stack->products;
  g_assert_cmpuint (g_strv_length (all), >=, 6);

  products = g_strdup_printf ("PRODUCTS=%s,%s,%s", all[0], all[1], all[2]);
  {
    const char *env[] = { products, "CONNECT_RATE=8", "SUBSCRIBE_RATE=8", "SHUTDOWN_TIMEOUT_S=10",
                          NULL };
    /* Start-up waits for the exchange's products list: hold it. */
    g_subprocess_send_signal (sim->process, SIGSTOP);
    service = e2e_service_spawn (spot_test_nats_url (stack->nats), spot_test_postgres_conninfo (stack->pg), sim,
                                 env, &error);
    g_assert_no_error (error);
  }
  /* /health answers from the moment the control subscription exists (HTTP
   * starts after it). */
  if (!e2e_service_wait_state (service, "starting", 60, &error))
    e2e_service_dump_log (service, "service");
  g_assert_no_error (error);
  g_usleep (300 * 1000); /* the SUB has reached the server */

  g_assert_cmpint (natsConnection_ConnectTo (&nc, spot_test_nats_url (stack->nats)), ==, NATS_OK);
  msg1 = g_strdup_printf ("{\"add\":[\"%s\",\"%s\"],\"remove\":[\"%s\"]}", all[3], all[4], all[1]);
  msg2 = g_strdup_printf ("{\"add\":[\"%s\"]}", all[5]);
  msg3 = g_strdup_printf ("{\"remove\":[\"%s\"]}", all[5]);
  publish (nc, msg1);
  publish (nc, msg2);
  publish (nc, msg3);
  g_assert_cmpint (natsConnection_Flush (nc), ==, NATS_OK);
  natsConnection_Destroy (nc);
  /* Give the service a moment to receive them. */
  g_usleep (500 * 1000);
  g_assert_true (e2e_service_health_is (service, "starting"));
  {
    g_autofree char *so_far = e2e_service_dup_log (service);
    g_assert_nonnull (strstr (so_far, "Product-control message kept until running (3 waiting)"));
    g_assert_null (strstr (so_far, "Applying"));
  }
  g_subprocess_send_signal (sim->process, SIGCONT);

  g_assert_true (e2e_service_wait_state (service, "running", 180, &error));
  g_assert_no_error (error);
  log = e2e_service_dup_log (service);
  g_assert_nonnull (strstr (log, "Applying 3 product-control messages received while starting"));

  /* {0, 2, 3, 4}: 1 removed, 5 added and removed again. */
  g_assert_cmpint (e2e_service_health_member (service, "active_products"), ==, 4);
  g_assert_cmpint (e2e_service_health_member (service, "owned_products"), ==, 4);
  if (!e2e_sim_wait_subscriptions (sim, 4, 60000))
    {
      guint now = e2e_sim_subscriptions (sim);
      e2e_service_dump_log (service, "service");
      g_error ("the exchange sees %u products subscribed, not 4", now);
    }
  {
    g_autofree char *url = g_strdup_printf (
        "%s/stream?products=%s,%s&granularities=ONE_MINUTE", service->base_url, all[3], all[4]);
    const char *added[] = { all[3], all[4], NULL };
    E2eStream *stream = e2e_stream_open (url, &error);
    gboolean both;
    g_assert_no_error (error);
    both = e2e_stream_wait_shows (stream, added, "ONE_MINUTE", 60000);
    e2e_stream_close (stream);
    g_assert_true (both);
  }

  e2e_finish (service, NULL);
}

int
main (int argc, char **argv)
{
  e2e_test_init (&argc, &argv);
  g_test_add_func ("/e2e/control-messages-while-starting-are-applied-once-running",
                   test_control_messages_while_starting_are_applied_once_running);
  return g_test_run ();
}
