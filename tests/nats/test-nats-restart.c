/* test-nats-restart.c: KV and publishing across nats-server restarts. */
#define G_LOG_DOMAIN "spot-test"

#include <stdatomic.h>
#include <string.h>

#include "nats-test-util.h"
#include "nats/spot-candle-hub.h"
#include "nats/spot-live-cache.h"
#include "nats/spot-publisher.h"
#include "spot-test-harness.h"

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
iterate_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64)ms * 1000;
  guint id = g_timeout_add (5, tick, NULL);

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (id);
}

static guint64
reconnects (SpotNatsConnection *conn)
{
  SpotNatsStatus status;
  guint64 n;

  spot_nats_connection_get_status (conn, &status);
  n = status.reconnects;
  spot_nats_status_clear (&status);
  return n;
}

typedef struct
{
  SpotLiveCache *cache;
  const char *product;
  guint64 rev;
} CacheWait;

static gboolean
cache_has_rev (gpointer data)
{
  CacheWait *w = data;
  SpotCandle c;

  return spot_live_cache_lookup (w->cache, w->product, SPOT_GRANULARITY_ONE_MINUTE, &c)
         && c.rev >= w->rev;
}

static void
submit_revs (SpotPublisher *publisher, guint first, guint last)
{
  for (guint rev = first; rev <= last; rev++)
    {
      SpotCandleUpdate u[2];

      u[0] = nats_test_update ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, rev,
                               SPOT_CANDLE_UPDATE_LIVE);
      u[1] = nats_test_update ("ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, rev,
                               SPOT_CANDLE_UPDATE_LIVE);
      spot_publisher_submit (publisher, u, 2);
    }
}

typedef struct
{
  SpotPublisher *publisher;
  guint64 acked;
} AckedWait;

static gboolean
acked_at_least (gpointer data)
{
  AckedWait *w = data;
  SpotPublisherStats stats;

  spot_publisher_get_stats (w->publisher, &stats);
  return stats.kv_acked >= w->acked;
}

/* @data: memory storage. A file bucket keeps its values across the restart;
 * a memory bucket comes back empty and the publisher writes every key again
 * without being offered anything new. */
static void
test_kv_survives_server_restart (gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestNats) server = spot_test_nats_start (&error);
  g_autoptr (SpotNatsConnection) conn = NULL;
  g_autoptr (SpotPublisher) publisher = NULL;
  g_autoptr (SpotLiveCache) cache = NULL;
  SpotPublisherOptions options;
  SpotPublisherStats stats;
  guint64 acked_before;
  SpotCandle c;
  CacheWait w;

  g_assert_no_error (error);
  conn = nats_test_connect (spot_test_nats_url (server));
  spot_publisher_options_init (&options);
  options.kv_memory = GPOINTER_TO_INT (data);
  publisher = spot_publisher_new (spot_nats_connection_get_nc (conn), &options, &error);
  spot_publisher_set_js_connection (publisher, spot_nats_connection_get_js_nc (conn));
  g_assert_true (spot_publisher_start (publisher, &error));
  submit_revs (publisher, 1, 50);
  g_assert_true (spot_publisher_flush (publisher, 5000));
  spot_publisher_get_stats (publisher, &stats);
  acked_before = stats.kv_acked;

  spot_test_nats_kill (server);
  g_assert_true (nats_test_wait_state (conn, SPOT_NATS_STATE_RECONNECTING, 5000));
  g_assert_true (spot_test_nats_restart (server, &error));
  g_assert_no_error (error);
  g_assert_true (nats_test_wait_state (conn, SPOT_NATS_STATE_CONNECTED, 10000));
  g_assert_cmpuint (reconnects (conn), >=, 1);

  if (options.kv_memory)
    {
      /* The bucket is gone with the server's memory: the publisher creates
       * it again and writes both keys, before any reader asks for it. */
      AckedWait aw = { publisher, acked_before + 2 };

      g_assert_true (nats_test_wait_until (acked_at_least, &aw, 10000));
    }
  /* What was stored before the restart is still there (memory: is there
   * again)... */
  cache = spot_live_cache_new (spot_nats_connection_get_js_nc (conn), NULL);
  g_assert_true (spot_live_cache_start (cache, &error));
  g_assert_true (spot_live_cache_wait_synced (cache, 10000));
  if (options.kv_memory)
    {
      w = (CacheWait){ cache, "ETH-USD", 50 };
      g_assert_true (nats_test_wait_until (cache_has_rev, &w, 10000));
      w = (CacheWait){ cache, "BTC-USD", 50 };
      g_assert_true (nats_test_wait_until (cache_has_rev, &w, 10000));
    }
  g_assert_true (spot_live_cache_lookup (cache, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, &c));
  g_assert_cmpuint (c.rev, ==, 50);
  g_assert_true (spot_live_cache_lookup (cache, "ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, &c));
  g_assert_cmpuint (c.rev, ==, 50);

  /* ...and the same publisher keeps writing after it. */
  submit_revs (publisher, 51, 60);
  g_assert_true (spot_publisher_flush (publisher, 10000));
  w = (CacheWait){ cache, "BTC-USD", 60 };
  g_assert_true (nats_test_wait_until (cache_has_rev, &w, 5000));
}

/* A shard worker stand-in: submits continuously and records the longest
 * submit call. */
typedef struct
{
  SpotPublisher *publisher;
  atomic_bool stop;
  atomic_uint rev;
  gint64 max_submit_us;
  guint64 submitted;
} Producer;

static gpointer
produce (gpointer data)
{
  Producer *p = data;

  while (!atomic_load (&p->stop))
    {
      SpotCandleUpdate u[8];
      guint rev = atomic_fetch_add (&p->rev, 1) + 1;
      gint64 t0;

      for (guint k = 0; k < G_N_ELEMENTS (u); k++)
        {
          char product[16];

          g_snprintf (product, sizeof product, "K%u-USD", k);
          u[k] = nats_test_update (product, SPOT_GRANULARITY_ONE_MINUTE, 1775521800, rev,
                                   rev % 100 == 0 ? SPOT_CANDLE_UPDATE_COMPLETE
                                                  : SPOT_CANDLE_UPDATE_LIVE);
        }
      t0 = g_get_monotonic_time ();
      spot_publisher_submit (p->publisher, u, G_N_ELEMENTS (u));
      p->max_submit_us = MAX (p->max_submit_us, g_get_monotonic_time () - t0);
      p->submitted += G_N_ELEMENTS (u);
      g_usleep (200);
    }
  return NULL;
}

static void
on_candles (const SpotCandle *candles, guint n, gpointer user_data)
{
  *(guint64 *)user_data += n;
}

typedef struct
{
  guint64 *received;
  guint64 above;
} ReceivedWait;

static gboolean
received_above (gpointer data)
{
  ReceivedWait *w = data;

  return *w->received > w->above;
}

static void
test_server_killed_mid_stream_publisher_and_subscribers_recover (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestNats) server = spot_test_nats_start (&error);
  g_autoptr (SpotNatsConnection) conn = NULL;
  g_autoptr (SpotPublisher) publisher = NULL;
  g_autoptr (SpotCandleHub) hub = NULL;
  g_autoptr (SpotLiveCache) cache = NULL;
  Producer producer = { 0 };
  guint64 received = 0;
  ReceivedWait rw;
  CacheWait cw;
  SpotPublisherStats before, after;
  GThread *thread;
  guint rev_after_restart;

  g_assert_no_error (error);
  conn = nats_test_connect (spot_test_nats_url (server));
  publisher = spot_publisher_new (spot_nats_connection_get_nc (conn), NULL, &error);
  spot_publisher_set_js_connection (publisher, spot_nats_connection_get_js_nc (conn));
  g_assert_true (spot_publisher_start (publisher, &error));
  hub = spot_candle_hub_new (0);
  g_assert_true (spot_candle_hub_attach (hub, spot_nats_connection_get_nc (conn), &error));
  spot_candle_hub_subscribe (hub, NULL, SPOT_GRANULARITY_SET_ALL, on_candles, &received, NULL);
  cache = spot_live_cache_new (spot_nats_connection_get_js_nc (conn), NULL);
  g_assert_true (spot_live_cache_start (cache, &error));

  producer.publisher = publisher;
  thread = g_thread_new ("producer", produce, &producer);
  iterate_for (500);
  g_assert_cmpuint (received, >, 0);

  spot_test_nats_kill (server);
  g_assert_true (nats_test_wait_state (conn, SPOT_NATS_STATE_RECONNECTING, 5000));
  spot_publisher_get_stats (publisher, &before);
  iterate_for (1000);
  g_assert_true (spot_test_nats_restart (server, &error));
  g_assert_no_error (error);
  g_assert_true (nats_test_wait_state (conn, SPOT_NATS_STATE_CONNECTED, 10000));
  rev_after_restart = atomic_load (&producer.rev);

  /* Subscribers resume... */
  rw = (ReceivedWait){ &received, received };
  g_assert_true (nats_test_wait_until (received_above, &rw, 10000));
  /* ...and the KV follows again (the watcher and the writer recovered). */
  cw = (CacheWait){ cache, "K3-USD", rev_after_restart + 10 };
  g_assert_true (nats_test_wait_until (cache_has_rev, &cw, 15000));

  atomic_store (&producer.stop, TRUE);
  g_thread_join (thread);
  g_assert_true (spot_publisher_flush (publisher, 10000));
  spot_publisher_get_stats (publisher, &after);
  g_test_message ("submitted %" G_GUINT64_FORMAT ", published %" G_GUINT64_FORMAT
                  ", coalesced %" G_GUINT64_FORMAT ", dropped %" G_GUINT64_FORMAT
                  ", kv errors %" G_GUINT64_FORMAT ", longest submit %" G_GINT64_FORMAT " us",
                  after.submitted, after.published, after.coalesced, after.dropped, after.kv_errors,
                  producer.max_submit_us);
  g_assert_cmpuint (after.published, >, before.published);
  g_assert_cmpuint (after.kv_acked, >, before.kv_acked);
  g_assert_cmpuint (after.published + after.coalesced + after.dropped, ==, after.submitted);
  /* The producer (a shard thread) was never held up by NATS being away.
   * A submit that waited for NATS would take most of the outage (~1 s, or a
   * reconnect); 500 ms leaves room for scheduling noise (valgrind included). */
  g_assert_cmpint (producer.max_submit_us, <, 500 * 1000);
  g_assert_cmpuint (reconnects (conn), >=, 1);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  spot_test_require_program ("nats-server");
  /* Killing the server makes the NATS layer warn: expected here, so only
   * criticals stay fatal. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add_data_func ("/nats/restart/kv-survives-server-restart/file", GINT_TO_POINTER (FALSE),
                        test_kv_survives_server_restart);
  g_test_add_data_func ("/nats/restart/kv-survives-server-restart/memory", GINT_TO_POINTER (TRUE),
                        test_kv_survives_server_restart);
  g_test_add_func ("/nats/restart/killed-mid-stream",
                   test_server_killed_mid_stream_publisher_and_subscribers_recover);
  ret = g_test_run ();
  nats_CloseAndWait (5000);
  return ret;
}
