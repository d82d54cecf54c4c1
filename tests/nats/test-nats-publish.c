/* test-nats-publish.c: publisher, KV and hub against a real nats-server. */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "model/spot-candle-json.h"
#include "nats-test-util.h"
#include "nats/spot-candle-coalescer.h"
#include "nats/spot-candle-hub.h"
#include "nats/spot-live-cache.h"
#include "nats/spot-nats-control.h"
#include "nats/spot-nats-subject.h"
#include "nats/spot-publisher.h"
#include "spot-test-harness.h"

typedef struct
{
  SpotTestNats *server;
  SpotNatsConnection *conn;
  SpotPublisher *publisher;
  SpotCandleHub *hub;
  GArray *got; /* SpotCandle received by the hub client */
} Fixture;

static void
on_candles (const SpotCandle *candles, guint n, gpointer user_data)
{
  g_array_append_vals (user_data, candles, n);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  SpotPublisherOptions options;

  f->server = spot_test_nats_start (&error);
  g_assert_no_error (error);
  f->conn = nats_test_connect (spot_test_nats_url (f->server));
  spot_publisher_options_init (&options);
  f->publisher = spot_publisher_new (spot_nats_connection_get_nc (f->conn), &options, &error);
  spot_publisher_set_js_connection (f->publisher, spot_nats_connection_get_js_nc (f->conn));
  g_assert_no_error (error);
  g_assert_true (spot_publisher_start (f->publisher, &error));
  f->hub = spot_candle_hub_new (0);
  g_assert_true (spot_candle_hub_attach (f->hub, spot_nats_connection_get_nc (f->conn), &error));
  g_assert_no_error (error);
  f->got = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  spot_candle_hub_subscribe (f->hub, NULL, SPOT_GRANULARITY_SET_ALL, on_candles, f->got, NULL);
  /* The subscription is registered with the server before anything is sent. */
  g_assert_cmpint (natsConnection_FlushTimeout (spot_nats_connection_get_nc (f->conn), 5000), ==,
                   NATS_OK);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->hub);
  g_clear_object (&f->publisher);
  g_clear_object (&f->conn);
  g_clear_pointer (&f->server, spot_test_nats_free);
  g_array_unref (f->got);
}

typedef struct
{
  GArray *got;
  guint n;
} CountWait;

static gboolean
got_at_least (gpointer data)
{
  CountWait *w = data;

  return w->got->len >= w->n;
}

static void
assert_same_candle (const SpotCandle *a, const SpotCandle *b)
{
  g_assert_true (spot_candle_values_equal (a, b));
  g_assert_cmpuint (a->rev, ==, b->rev);
  g_assert_cmpint (a->complete, ==, b->complete);
  g_assert_cmpint (a->trades, ==, b->trades);
  g_assert_cmpuint (a->last_trade_id, ==, b->last_trade_id);
  g_assert_cmpint (a->ts_ns, ==, b->ts_ns);
}

static void
test_publish_subscribe_round_trip (Fixture *f, gconstpointer data)
{
  SpotCandleUpdate updates[3];
  CountWait w = { f->got, 3 };
  SpotPublisherStats stats;

  updates[0] = nats_test_update ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 1,
                                 SPOT_CANDLE_UPDATE_LIVE);
  updates[1] = nats_test_update ("ETH-USD", SPOT_GRANULARITY_FIVE_MINUTE, 1775521800, 2,
                                 SPOT_CANDLE_UPDATE_COMPLETE);
  updates[2] = nats_test_update ("SOL-USD", SPOT_GRANULARITY_ONE_DAY,
                                 1775520000 - 1775520000 % 86400, 3, SPOT_CANDLE_UPDATE_REPAIR);
  updates[2].candle.trades = SPOT_CANDLE_TRADES_UNKNOWN;
  updates[2].candle.last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  updates[2].candle.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  spot_publisher_submit (f->publisher, updates, 3);

  g_assert_true (nats_test_wait_until (got_at_least, &w, 5000));
  g_assert_cmpuint (f->got->len, ==, 3);
  /* Different keys may arrive in any order; match by product. */
  for (guint i = 0; i < 3; i++)
    for (guint j = 0; j < 3; j++)
      if (strcmp (g_array_index (f->got, SpotCandle, j).product_id, updates[i].candle.product_id)
          == 0)
        assert_same_candle (&g_array_index (f->got, SpotCandle, j), &updates[i].candle);

  g_assert_true (spot_publisher_flush (f->publisher, 5000));
  spot_publisher_get_stats (f->publisher, &stats);
  g_assert_cmpuint (stats.published, ==, 3);
  g_assert_cmpuint (stats.kv_writes, ==, 3);
  g_assert_cmpuint (stats.kv_acked, ==, 3);
  g_assert_cmpuint (stats.dropped, ==, 0);
  g_assert_true (stats.kv_ready);
}

/* Reads one KV value with the blocking API (fine in a test thread). */
static gboolean
kv_get (SpotNatsConnection *conn, const char *product, SpotGranularity g, SpotCandle *out)
{
  jsCtx *js = NULL;
  kvStore *kv = NULL;
  kvEntry *entry = NULL;
  char key[SPOT_NATS_KEY_SIZE];
  gboolean found = FALSE;

  spot_nats_key_format (product, g, key, sizeof key);
  g_assert_cmpint (natsConnection_JetStream (&js, spot_nats_connection_get_nc (conn), NULL), ==,
                   NATS_OK);
  g_assert_cmpint (js_KeyValue (&kv, js, SPOT_NATS_KV_BUCKET_DEFAULT), ==, NATS_OK);
  if (kvStore_Get (&entry, kv, key) == NATS_OK)
    {
      g_assert_true (
          spot_candle_from_json (kvEntry_Value (entry), kvEntry_ValueLen (entry), out, NULL));
      found = TRUE;
      kvEntry_Destroy (entry);
    }
  kvStore_Destroy (kv);
  jsCtx_Destroy (js);
  return found;
}

#define BURST_PRODUCTS 40
#define BURST_REVS 200

static void
product_name (char *buf, gsize size, guint i)
{
  g_snprintf (buf, size, "P%u-USD", i);
}

/* Appends an update of product number @p to @batch. */
static void
append_update (GArray *batch,
               guint p,
               SpotGranularity g,
               gint64 start,
               guint64 rev,
               SpotCandleUpdateKind kind)
{
  char product[16];
  SpotCandleUpdate u;

  product_name (product, sizeof product, p);
  u = nats_test_update (product, g, start, rev, kind);
  g_array_append_val (batch, u);
}

static void
test_kv_after_burst_holds_newest_candle_of_greatest_start (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotLiveCache) cache = NULL;
  g_autoptr (GArray) batch = spot_candle_update_array_new (BURST_PRODUCTS);
  const gint64 start = 1775521800;
  SpotPublisherStats stats;
  guint corrections = 0;

  /* Per product: 200 live revisions of the open minute, with, every 50
   * revisions, a correction of the previous minute (older start, higher rev)
   * that must reach the subject but never the KV. Products with an even
   * index then open the next minute. */
  for (guint rev = 1; rev <= BURST_REVS; rev++)
    {
      g_array_set_size (batch, 0);
      for (guint p = 0; p < BURST_PRODUCTS; p++)
        {
          append_update (batch, p, SPOT_GRANULARITY_ONE_MINUTE, start, rev,
                         SPOT_CANDLE_UPDATE_LIVE);
          if (rev % 50 == 0)
            {
              append_update (batch, p, SPOT_GRANULARITY_ONE_MINUTE, start - 60, 1000 + rev,
                             SPOT_CANDLE_UPDATE_CORRECTION);
              corrections++;
            }
          if (rev == BURST_REVS && p % 2 == 0)
            append_update (batch, p, SPOT_GRANULARITY_ONE_MINUTE, start + 60, 1,
                           SPOT_CANDLE_UPDATE_LIVE);
        }
      spot_publisher_submit (f->publisher, (SpotCandleUpdate *)(gpointer)batch->data, batch->len);
    }
  g_assert_true (spot_publisher_flush (f->publisher, 10000));
  spot_publisher_get_stats (f->publisher, &stats);
  g_assert_cmpuint (stats.dropped, ==, 0);
  g_assert_cmpuint (stats.kv_older_skipped, >=, corrections - BURST_PRODUCTS);
  g_assert_cmpuint (stats.published + stats.coalesced, ==, stats.submitted);
  g_assert_cmpuint (stats.kv_acked, ==, stats.kv_writes);
  g_assert_cmpuint (stats.kv_errors, ==, 0);

  for (guint p = 0; p < BURST_PRODUCTS; p++)
    {
      char product[16];
      SpotCandle c;

      product_name (product, sizeof product, p);
      g_assert_true (kv_get (f->conn, product, SPOT_GRANULARITY_ONE_MINUTE, &c));
      if (p % 2 == 0)
        {
          g_assert_cmpint (c.start, ==, start + 60);
          g_assert_cmpuint (c.rev, ==, 1);
        }
      else
        {
          g_assert_cmpint (c.start, ==, start);
          g_assert_cmpuint (c.rev, ==, BURST_REVS);
        }
    }

  /* The live cache, reading the bucket, agrees. */
  cache = spot_live_cache_new (spot_nats_connection_get_js_nc (f->conn), NULL);
  g_assert_true (spot_live_cache_start (cache, &error));
  g_assert_true (spot_live_cache_wait_synced (cache, 5000));
  for (guint p = 0; p < BURST_PRODUCTS; p++)
    {
      char product[16];
      SpotCandle c;

      product_name (product, sizeof product, p);
      g_assert_true (spot_live_cache_lookup (cache, product, SPOT_GRANULARITY_ONE_MINUTE, &c));
      g_assert_cmpint (c.start, ==, p % 2 == 0 ? start + 60 : start);
    }
}

static gboolean
publisher_bound (gpointer data)
{
  SpotPublisherStats stats;

  spot_publisher_get_stats (data, &stats);
  return stats.kv_ready;
}

#define GROUP_PRODUCTS 600
#define GROUP_REVS 10

/* Many keys written at once, with @data writes per acknowledgement: every
 * write is confirmed (none counted lost or retried) and the bucket holds
 * every key's newest value. */
static void
test_grouped_acks_confirm_every_write (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotPublisher) publisher = NULL;
  g_autoptr (SpotLiveCache) cache = NULL;
  g_autoptr (GArray) batch = spot_candle_update_array_new (GROUP_PRODUCTS);
  const gint64 start = 1775521800;
  SpotPublisherOptions options;
  SpotPublisherStats stats;

  spot_publisher_options_init (&options);
  options.kv_ack_group = GPOINTER_TO_UINT (data);
  publisher = spot_publisher_new (spot_nats_connection_get_nc (f->conn), &options, &error);
  g_assert_no_error (error);
  spot_publisher_set_js_connection (publisher, spot_nats_connection_get_js_nc (f->conn));
  g_assert_true (spot_publisher_start (publisher, &error));
  g_assert_true (nats_test_wait_until (publisher_bound, publisher, 5000));

  for (guint rev = 1; rev <= GROUP_REVS; rev++)
    {
      g_array_set_size (batch, 0);
      for (guint p = 0; p < GROUP_PRODUCTS; p++)
        append_update (batch, p, SPOT_GRANULARITY_FIVE_MINUTE, start, rev,
                       SPOT_CANDLE_UPDATE_LIVE);
      spot_publisher_submit (publisher, (SpotCandleUpdate *)(gpointer)batch->data, batch->len);
    }
  g_assert_true (spot_publisher_flush (publisher, 10000));
  spot_publisher_get_stats (publisher, &stats);
  g_test_message ("ack group %u: %" G_GUINT64_FORMAT " KV writes, %" G_GUINT64_FORMAT " acked",
                  options.kv_ack_group, stats.kv_writes, stats.kv_acked);
  g_assert_cmpuint (stats.kv_ack_group, ==, options.kv_ack_group);
  g_assert_cmpuint (stats.kv_writes, >=, GROUP_PRODUCTS);
  g_assert_cmpuint (stats.kv_acked, ==, stats.kv_writes);
  g_assert_cmpuint (stats.kv_errors, ==, 0);
  g_assert_cmpuint (stats.kv_inflight, ==, 0);
  g_assert_cmpuint (stats.kv_dirty, ==, 0);

  cache = spot_live_cache_new (spot_nats_connection_get_js_nc (f->conn), NULL);
  g_assert_true (spot_live_cache_start (cache, &error));
  g_assert_true (spot_live_cache_wait_synced (cache, 5000));
  for (guint p = 0; p < GROUP_PRODUCTS; p++)
    {
      char product[16];
      SpotCandle c;

      product_name (product, sizeof product, p);
      g_assert_true (spot_live_cache_lookup (cache, product, SPOT_GRANULARITY_FIVE_MINUTE, &c));
      g_assert_cmpint (c.start, ==, start);
      g_assert_cmpuint (c.rev, ==, GROUP_REVS);
    }
}


/* A publisher started later (the service restarted) must not replace what
 * the bucket holds with a candle of an older start, or of the same start and
 * a lower rev, whether the older update reaches it before or after it has
 * bound the bucket. The older updates still reach the subject. */
static void
test_restarted_publisher_never_writes_older_start_over_bucket (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotPublisher) later = NULL;
  const char *products[4] = { "BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD" };
  const gint64 start = 1775521800;
  SpotPublisherStats stats;
  CountWait w = { f->got, 0 };

  for (guint i = 0; i < 4; i++)
    {
      SpotCandleUpdate u = nats_test_update (products[i], SPOT_GRANULARITY_ONE_MINUTE, start, 5,
                                             SPOT_CANDLE_UPDATE_LIVE);

      spot_publisher_submit (f->publisher, &u, 1);
    }
  g_assert_true (spot_publisher_flush (f->publisher, 5000));
  spot_publisher_stop (f->publisher, 2000);

  later = spot_publisher_new (spot_nats_connection_get_nc (f->conn), NULL, &error);
  g_assert_no_error (error);
  spot_publisher_set_js_connection (later, spot_nats_connection_get_js_nc (f->conn));
  g_assert_true (spot_publisher_start (later, &error));
  {
    /* Before the bind, most likely: an older start and a lower rev. */
    SpotCandleUpdate early[2]
        = { nats_test_update ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, start - 60, 100,
                              SPOT_CANDLE_UPDATE_CORRECTION),
            nats_test_update ("ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, start, 4,
                              SPOT_CANDLE_UPDATE_REPAIR) };

    spot_publisher_submit (later, early, 2);
  }
  g_assert_true (nats_test_wait_until (publisher_bound, later, 5000));
  {
    /* After the bind: the same for two keys this publisher never saw. */
    SpotCandleUpdate late[2]
        = { nats_test_update ("SOL-USD", SPOT_GRANULARITY_ONE_MINUTE, start - 60, 100,
                              SPOT_CANDLE_UPDATE_CORRECTION),
            nats_test_update ("ADA-USD", SPOT_GRANULARITY_ONE_MINUTE, start, 4,
                              SPOT_CANDLE_UPDATE_REPAIR) };

    spot_publisher_submit (later, late, 2);
  }
  g_assert_true (spot_publisher_flush (later, 5000));
  spot_publisher_get_stats (later, &stats);
  g_assert_cmpuint (stats.published, ==, 4);
  g_assert_cmpuint (stats.kv_older_skipped, ==, 4);
  g_assert_cmpuint (stats.kv_writes, ==, 0);
  w.n = 8;
  g_assert_true (nats_test_wait_until (got_at_least, &w, 5000));

  for (guint i = 0; i < 4; i++)
    {
      SpotCandle c;

      g_assert_true (kv_get (f->conn, products[i], SPOT_GRANULARITY_ONE_MINUTE, &c));
      g_assert_cmpint (c.start, ==, start);
      g_assert_cmpuint (c.rev, ==, 5);
    }

  /* A newer start is written as usual. */
  {
    SpotCandleUpdate u = nats_test_update ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, start + 60, 1,
                                           SPOT_CANDLE_UPDATE_LIVE);
    SpotCandle c;

    spot_publisher_submit (later, &u, 1);
    g_assert_true (spot_publisher_flush (later, 5000));
    g_assert_true (kv_get (f->conn, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, &c));
    g_assert_cmpint (c.start, ==, start + 60);
  }
  spot_publisher_stop (later, 2000);
}

typedef struct
{
  SpotLiveCache *cache;
  guint64 rev;
} CacheWait;

static gboolean
cache_has_rev (gpointer data)
{
  CacheWait *w = data;
  SpotCandle c;

  return spot_live_cache_lookup (w->cache, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, &c)
         && c.rev == w->rev;
}

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
test_live_cache_sees_updates_within_staleness_bound (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotLiveCache) cache
      = spot_live_cache_new (spot_nats_connection_get_js_nc (f->conn), NULL);
  CacheWait w = { cache, 0 };
  guint tick_id = g_timeout_add (5, tick, NULL);

  g_assert_true (spot_live_cache_start (cache, &error));
  g_assert_true (spot_live_cache_wait_synced (cache, 5000));
  /* A stream of updates to one key for a second: the cache follows, and
   * right after the last update it catches up within the bound (250 ms)
   * plus a generous margin for this noisy machine. */
  for (guint rev = 1; rev <= 200; rev++)
    {
      SpotCandleUpdate u = nats_test_update ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800,
                                             rev, SPOT_CANDLE_UPDATE_LIVE);

      spot_publisher_submit (f->publisher, &u, 1);
      g_usleep (5000);
    }
  w.rev = 200;
  {
    gint64 t0 = g_get_monotonic_time ();

    g_assert_true (nats_test_wait_until (cache_has_rev, &w, 2000));
    g_test_message ("cache caught up %.1f ms after the last update",
                    (g_get_monotonic_time () - t0) / 1000.0);
    g_assert_cmpint (g_get_monotonic_time () - t0, <, 1000 * 1000);
  }
  g_source_remove (tick_id);

  /* One key changing every ~5 ms for ~1 s: every change was published on the
   * subject, but the KV got about one write per write budget (~200 ms). */
  {
    SpotPublisherStats stats;

    g_assert_true (spot_publisher_flush (f->publisher, 5000));
    spot_publisher_get_stats (f->publisher, &stats);
    g_test_message ("200 updates: %" G_GUINT64_FORMAT " published, %" G_GUINT64_FORMAT " KV writes",
                    stats.published, stats.kv_writes);
    g_assert_cmpuint (stats.published + stats.coalesced, ==, 200);
    g_assert_cmpuint (stats.kv_writes, >=, 3);
    g_assert_cmpuint (stats.kv_writes, <=, 25);
  }
}

static gboolean
hub_received_four (gpointer data)
{
  SpotCandleHubStats stats;

  spot_candle_hub_get_stats (data, &stats);
  return stats.received >= 4;
}

static void
test_hub_delivers_only_selected_keys_and_skips_the_rest_undecoded (Fixture *f, gconstpointer data)
{
  const char *eth[] = { "ETH-USD", NULL };
  g_autoptr (GArray) eth_got = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  g_autoptr (GError) error = NULL;
  SpotCandleUpdate updates[4];
  CountWait w = { f->got, 4 };
  SpotCandleHubStats stats;

  g_assert_true (spot_candle_hub_attach (hub, spot_nats_connection_get_nc (f->conn), &error));
  spot_candle_hub_subscribe (hub, eth, 1u << SPOT_GRANULARITY_ONE_MINUTE, on_candles, eth_got,
                             NULL);
  g_assert_cmpint (natsConnection_FlushTimeout (spot_nats_connection_get_nc (f->conn), 5000), ==,
                   NATS_OK);
  updates[0] = nats_test_update ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 1,
                                 SPOT_CANDLE_UPDATE_LIVE);
  updates[1] = nats_test_update ("ETH-USD", SPOT_GRANULARITY_FIVE_MINUTE, 1775521800, 1,
                                 SPOT_CANDLE_UPDATE_LIVE);
  updates[2] = nats_test_update ("ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 1,
                                 SPOT_CANDLE_UPDATE_LIVE);
  updates[3] = nats_test_update ("SOL-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 1,
                                 SPOT_CANDLE_UPDATE_LIVE);
  spot_publisher_submit (f->publisher, updates, 4);
  /* Each hub has its own subscription thread: wait for both to see all four. */
  g_assert_true (nats_test_wait_until (got_at_least, &w, 5000));
  g_assert_true (nats_test_wait_until (hub_received_four, hub, 5000));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (eth_got->len, ==, 1);
  g_assert_cmpstr (g_array_index (eth_got, SpotCandle, 0).product_id, ==, "ETH-USD");
  g_assert_cmpint (g_array_index (eth_got, SpotCandle, 0).granularity, ==,
                   SPOT_GRANULARITY_ONE_MINUTE);
  spot_candle_hub_get_stats (hub, &stats);
  g_assert_cmpuint (stats.filtered, ==, 3);
  g_assert_cmpuint (stats.received, ==, 4);
  g_assert_cmpuint (stats.parse_errors, ==, 0);
}

static void
on_control (const char *const *add, const char *const *remove, gpointer user_data)
{
  GPtrArray *got = user_data;

  for (guint i = 0; add[i] != NULL; i++)
    g_ptr_array_add (got, g_strconcat ("+", add[i], NULL));
  for (guint i = 0; remove[i] != NULL; i++)
    g_ptr_array_add (got, g_strconcat ("-", remove[i], NULL));
}

static gboolean
got_two (gpointer data)
{
  return ((GPtrArray *)data)->len >= 2;
}

static void
test_control_messages_reach_every_subscriber (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) got = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (SpotNatsControl) control = NULL;
  const char *add[] = { "DOGE-USD", NULL };
  const char *remove[] = { "SHIB-USD", NULL };

  control = spot_nats_control_subscribe (spot_nats_connection_get_nc (f->conn), on_control, got,
                                         &error);
  g_assert_no_error (error);
  g_assert_cmpint (natsConnection_FlushTimeout (spot_nats_connection_get_nc (f->conn), 5000), ==,
                   NATS_OK);
  g_assert_true (
      spot_nats_control_publish (spot_nats_connection_get_js_nc (f->conn), add, remove, &error));
  g_assert_true (nats_test_wait_until (got_two, got, 5000));
  g_assert_cmpstr (g_ptr_array_index (got, 0), ==, "+DOGE-USD");
  g_assert_cmpstr (g_ptr_array_index (got, 1), ==, "-SHIB-USD");
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  spot_test_require_program ("nats-server");
  g_test_add ("/nats/publish/round-trip", Fixture, NULL, fixture_setup,
              test_publish_subscribe_round_trip, fixture_teardown);
  g_test_add ("/nats/publish/kv-after-burst", Fixture, NULL, fixture_setup,
              test_kv_after_burst_holds_newest_candle_of_greatest_start, fixture_teardown);
  g_test_add ("/nats/publish/restarted-publisher-keeps-greatest-start", Fixture, NULL,
              fixture_setup, test_restarted_publisher_never_writes_older_start_over_bucket,
              fixture_teardown);
  g_test_add ("/nats/publish/grouped-acks/16", Fixture, GUINT_TO_POINTER (16), fixture_setup,
              test_grouped_acks_confirm_every_write, fixture_teardown);
  g_test_add ("/nats/publish/grouped-acks/1", Fixture, GUINT_TO_POINTER (1), fixture_setup,
              test_grouped_acks_confirm_every_write, fixture_teardown);
  g_test_add ("/nats/publish/live-cache-follows", Fixture, NULL, fixture_setup,
              test_live_cache_sees_updates_within_staleness_bound, fixture_teardown);
  g_test_add ("/nats/publish/hub-filters-by-subject", Fixture, NULL, fixture_setup,
              test_hub_delivers_only_selected_keys_and_skips_the_rest_undecoded, fixture_teardown);
  g_test_add ("/nats/publish/control-subject", Fixture, NULL, fixture_setup,
              test_control_messages_reach_every_subscriber, fixture_teardown);
  ret = g_test_run ();
  nats_CloseAndWait (5000);
  return ret;
}
