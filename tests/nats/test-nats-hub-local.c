/* test-nats-hub-local.c: the hub's in-process source beside its NATS
 * subscription (a sharded instance's own products, real nats-server). */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "nats-test-util.h"
#include "nats/spot-candle-hub.h"
#include "nats/spot-publisher.h"
#include "model/spot-product.h"
#include "spot-test-harness.h"

/* Two products on different shards of SHARD_COUNT 2, found at run time so
 * the test does not depend on hash values written down here. */
static void
pick_products (char *own, char *other)
{
  const char *candidates[] = { "BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD", "XRP-USD", "DOT-USD" };

  own[0] = other[0] = '\0';
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      char *slot = spot_product_id_hash (candidates[i]) % 2 == 0 ? own : other;
      if (slot[0] == '\0')
        strcpy (slot, candidates[i]);
    }
  g_assert_true (own[0] != '\0' && other[0] != '\0');
}

static void
on_candles (const SpotCandle *candles, guint n, gpointer user_data)
{
  g_array_append_vals (user_data, candles, n);
}

typedef struct
{
  SpotCandleHub *hub;
  guint64 received;
} Received;

static gboolean
hub_received (gpointer data)
{
  Received *r = data;
  SpotCandleHubStats stats;

  spot_candle_hub_get_stats (r->hub, &stats);
  return stats.received >= r->received;
}

static guint
count_of (GArray *got, const char *product, guint64 rev)
{
  guint n = 0;

  for (guint i = 0; i < got->len; i++)
    {
      const SpotCandle *c = &g_array_index (got, SpotCandle, i);
      if (strcmp (c->product_id, product) == 0 && c->rev == rev)
        n++;
    }
  return n;
}

static void
test_own_products_come_in_process_once_others_from_nats (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestNats) server = spot_test_nats_start (&error);
  g_autoptr (SpotNatsConnection) conn = NULL;
  g_autoptr (SpotPublisher) publisher = NULL;
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  g_autoptr (GArray) got = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  SpotPublisherOptions options;
  SpotCandleUpdate published[2], local[2];
  SpotCandleHubStats stats;
  char own[16], other[16];
  Received wait;

  g_assert_no_error (error);
  pick_products (own, other);
  conn = nats_test_connect (spot_test_nats_url (server));
  spot_publisher_options_init (&options);
  options.kv_enabled = FALSE;
  publisher = spot_publisher_new (spot_nats_connection_get_nc (conn), &options, &error);
  g_assert_no_error (error);
  g_assert_true (spot_publisher_start (publisher, &error));

  spot_candle_hub_set_local_shard (hub, 0, 2);
  g_assert_true (spot_candle_hub_attach (hub, spot_nats_connection_get_nc (conn), &error));
  spot_candle_hub_subscribe (hub, NULL, 1u << SPOT_GRANULARITY_ONE_MINUTE, on_candles, got, NULL);
  g_assert_cmpint (natsConnection_FlushTimeout (spot_nats_connection_get_nc (conn), 5000), ==,
                   NATS_OK);

  /* On NATS: one update of each product (as every instance publishes). */
  published[0] = nats_test_update (own, SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 1,
                                   SPOT_CANDLE_UPDATE_LIVE);
  published[1] = nats_test_update (other, SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 1,
                                   SPOT_CANDLE_UPDATE_LIVE);
  spot_publisher_submit (publisher, published, 2);
  /* In process: this instance's product (a newer revision, so a NATS copy
   * that slipped through would show either as rev 1 or by replacing rev 2
   * while pending), plus a key nobody selected. */
  local[0] = nats_test_update (own, SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 2,
                               SPOT_CANDLE_UPDATE_LIVE);
  local[1] = nats_test_update (own, SPOT_GRANULARITY_ONE_DAY, 1775520000, 1,
                               SPOT_CANDLE_UPDATE_LIVE);
  spot_candle_hub_offer (hub, local, 2);

  /* Offered 2 (1 wanted, 1 filtered) + 2 from NATS (1 skipped as local). */
  wait.hub = hub;
  wait.received = 4;
  g_assert_true (nats_test_wait_until (hub_received, &wait, 5000));
  while (g_main_context_iteration (NULL, FALSE))
    ;

  g_assert_cmpuint (count_of (got, own, 1), ==, 0); /* its NATS copy was skipped */
  g_assert_cmpuint (count_of (got, own, 2), ==, 1);
  g_assert_cmpuint (count_of (got, other, 1), ==, 1);
  g_assert_cmpuint (got->len, ==, 2);
  spot_candle_hub_get_stats (hub, &stats);
  g_assert_cmpuint (stats.local_skipped, ==, 1);
  g_assert_cmpuint (stats.filtered, ==, 1);
  g_assert_false (stats.local_only);
  g_assert_true (stats.attached);

  spot_candle_hub_detach (hub);
  spot_publisher_stop (publisher, 2000);
}

static void
test_single_instance_is_local_only_and_keeps_order (void)
{
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  g_autoptr (GArray) got = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  SpotCandleUpdate updates[3];
  SpotCandleHubStats stats;

  spot_candle_hub_set_local_shard (hub, 0, 1);
  spot_candle_hub_subscribe (hub, NULL, SPOT_GRANULARITY_SET_ALL, on_candles, got, NULL);
  updates[0] = nats_test_update ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 1,
                                 SPOT_CANDLE_UPDATE_LIVE);
  updates[1] = nats_test_update ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 2,
                                 SPOT_CANDLE_UPDATE_COMPLETE);
  updates[1].candle.complete = TRUE;
  updates[2] = nats_test_update ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521860, 1,
                                 SPOT_CANDLE_UPDATE_LIVE);
  spot_candle_hub_offer (hub, updates, 3);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  /* The completion is kept, in order, between the two live updates. */
  g_assert_cmpuint (got->len, ==, 3);
  g_assert_true (g_array_index (got, SpotCandle, 1).complete);
  g_assert_cmpint (g_array_index (got, SpotCandle, 2).start, ==, 1775521860);
  spot_candle_hub_get_stats (hub, &stats);
  g_assert_true (stats.local_only);
  g_assert_false (stats.attached);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  spot_test_require_program ("nats-server");
  g_test_add_func ("/nats/hub-local/own-in-process-others-from-nats",
                   test_own_products_come_in_process_once_others_from_nats);
  g_test_add_func ("/nats/hub-local/single-instance-order",
                   test_single_instance_is_local_only_and_keeps_order);
  ret = g_test_run ();
  nats_CloseAndWait (5000);
  return ret;
}
