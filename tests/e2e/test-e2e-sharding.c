/* test-e2e-sharding: three instances (SHARD_COUNT=3) against one nats-server
 * and one PostgreSQL.
 *
 * - every product is handled by exactly one instance: each instance owns
 *   the products whose FNV-1a hash modulo 3 is its index (its /health), and
 *   the exchange sees each product subscribed once over all connections;
 * - /stream on any instance shows every product;
 * - a product added on spot.control.products is taken by its owner only;
 * - SIGKILL of one instance leaves the others running and streaming. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <nats/nats.h>

#include "e2e-util.h"
#include "model/spot-product.h"
#include "spot-test-harness.h"

#define N_INSTANCES 3
#define N_ACTIVE 12

static const char *
state_of (E2eService *service, char **body_out)
{
  g_autofree char *url = g_strdup_printf ("%s/health", service->base_url);
  char *body = e2e_http_get (url, NULL, NULL);

  *body_out = body;
  if (body == NULL)
    return "unreachable";
  return strstr (body, "\"state\":\"running\"") != NULL ? "running" : "other";
}

static void
test_three_shards_share_the_products (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (E2eStack) stack = NULL;
  const char *sim_args[]
      = { "--products=14", "--trades-per-second=5", "--history-minutes=5", NULL };
  E2eSim *sim;
  E2eService *service[N_INSTANCES] = { NULL };
  char **all;
  g_auto (GStrv) active = NULL;
  g_autofree char *active_list = NULL;
  g_autofree char *stream_url = NULL;
  const char *added;
  guint expected[N_INSTANCES] = { 0 };
  E2eStream *stream;
  natsConnection *nc = NULL;
  guint64 events_before;

  stack = e2e_stack_start (sim_args);
  sim = stack->sim;
  all = stack->products;
  g_assert_cmpuint (g_strv_length (all), ==, 14);
  active = g_new0 (char *, N_ACTIVE + 1);
  for (guint i = 0; i < N_ACTIVE; i++)
    {
      active[i] = g_strdup (all[i]);
      expected[spot_product_id_hash (all[i]) % N_INSTANCES]++;
    }
  added = all[N_ACTIVE];
  active_list = g_strjoinv (",", active);

  for (guint i = 0; i < N_INSTANCES; i++)
    {
      g_autofree char *index = g_strdup_printf ("SHARD_INDEX=%u", i);
      g_autofree char *products = g_strdup_printf ("PRODUCTS=%s", active_list);
      const char *env[] = { index,
                            "SHARD_COUNT=3",
                            products,
                            "SHARD_WORKERS=2",
                            "CONNECT_RATE=8",
                            "SUBSCRIBE_RATE=8",
                            "REST_RATE=10",
                            NULL };
      service[i] = e2e_stack_service_start (stack, env, 120);
    }

  /* Each instance owns its hash share; the exchange sees each product once. */
  for (guint i = 0; i < N_INSTANCES; i++)
    {
      g_test_message ("instance %u owns %" G_GINT64_FORMAT " (expected %u)", i,
                      e2e_service_health_member (service[i], "owned_products"), expected[i]);
      g_assert_cmpint (e2e_service_health_member (service[i], "owned_products"), ==, expected[i]);
    }
  g_assert_true (e2e_sim_wait_subscriptions (sim, N_ACTIVE, 30000));

  /* /stream on instance 0 shows every product, its own and the others'. */
  stream_url = g_strdup_printf ("%s/stream?products=%s,%s&granularities=ONE_MINUTE",
                                service[0]->base_url, active_list, added);
  stream = e2e_stream_open (stream_url, &error);
  g_assert_no_error (error);
  g_assert_true (
      e2e_stream_wait_shows (stream, (const char *const *)active, "ONE_MINUTE", 30000));

  /* A product added on the control subject: its owner alone subscribes it. */
  g_assert_cmpint (natsConnection_ConnectTo (&nc, spot_test_nats_url (stack->nats)), ==, NATS_OK);
  {
    g_autofree char *json = g_strdup_printf ("{\"add\":[\"%s\"]}", added);
    g_assert_cmpint (natsConnection_PublishString (nc, "spot.control.products", json), ==, NATS_OK);
    g_assert_cmpint (natsConnection_Flush (nc), ==, NATS_OK);
  }
  {
    const char *just_added[] = { added, NULL };
    guint owner = spot_product_id_hash (added) % N_INSTANCES;
    g_assert_true (e2e_sim_wait_subscriptions (sim, N_ACTIVE + 1, 30000));
    g_assert_cmpint (e2e_service_health_member (service[owner], "owned_products"), ==,
                     expected[owner] + 1);
    g_assert_true (e2e_stream_wait_shows (stream, just_added, "ONE_MINUTE", 30000));
  }
  natsConnection_Destroy (nc);

  /* Killing one instance disturbs nobody else. */
  e2e_service_stop (service[1], SIGKILL, 10);
  events_before = e2e_stream_events (stream);
  g_usleep (4 * G_USEC_PER_SEC);
  for (guint i = 0; i < N_INSTANCES; i += 2)
    {
      g_autofree char *body = NULL;
      g_assert_cmpstr (state_of (service[i], &body), ==, "running");
    }
  g_assert_cmpuint (e2e_stream_events (stream), >, events_before);
  e2e_stream_close (stream);

  for (guint i = 0; i < N_INSTANCES; i += 2)
    g_assert_cmpint (e2e_service_stop (service[i], SIGTERM, 30), ==, 0);
  for (guint i = 0; i < N_INSTANCES; i++)
    e2e_service_free (service[i]);
}

int
main (int argc, char **argv)
{
  e2e_test_init (&argc, &argv);
  g_test_add_func ("/e2e/three-shards-share-the-products", test_three_shards_share_the_products);
  return g_test_run ();
}
