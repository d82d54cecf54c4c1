/* test-sse-nats.c: /stream and /health fed by a real nats-server: the
 * initial state comes from the live-candles KV bucket through the live
 * cache, live updates from candles.> through the hub. */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "http-test-util.h"
#include "http/spot-health-checks.h"
#include "http/spot-http-server.h"
#include "model/spot-candle-json.h"
#include "nats/spot-nats-kv.h"
#include "nats/spot-nats-subject.h"
#include "spot-test-harness.h"

typedef struct
{
  SpotTestNats *nats;
  SpotNatsConnection *conn;
  natsConnection *publisher; /* a plain client, as another instance would be */
  SpotLiveCache *cache;
  SpotCandleHub *hub;
  SpotHealth *health;
  SpotMetrics *metrics;
  SpotHttpServer *server;
  guint16 port;
} Fixture;

static void
publish (Fixture *f, const SpotCandle *c)
{
  g_autofree char *json = spot_candle_to_json (c);
  g_autofree char *subject
      = g_strdup_printf ("candles.%s.%s", c->product_id, spot_granularity_name (c->granularity));

  g_assert_cmpint (natsConnection_PublishString (f->publisher, subject, json), ==, NATS_OK);
  g_assert_cmpint (natsConnection_Flush (f->publisher), ==, NATS_OK);
}

static void
kv_put (Fixture *f, const SpotCandle *c)
{
  jsCtx *js = NULL;
  kvStore *kv = NULL;
  SpotNatsKvConfig config;
  g_autoptr (GError) error = NULL;
  g_autofree char *json = spot_candle_to_json (c);
  g_autofree char *key
      = g_strdup_printf ("%s.%s", c->product_id, spot_granularity_name (c->granularity));
  uint64_t rev = 0;

  g_assert_cmpint (natsConnection_JetStream (&js, f->publisher, NULL), ==, NATS_OK);
  spot_nats_kv_config_init (&config);
  kv = spot_nats_kv_open (js, &config, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (kvStore_PutString (&rev, kv, key, json), ==, NATS_OK);
  kvStore_Destroy (kv);
  jsCtx_Destroy (js);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  SpotNatsConfig config;
  SpotHttpOptions options;
  g_autoptr (GError) error = NULL;

  memset (f, 0, sizeof *f);
  f->nats = spot_test_nats_start (&error);
  g_assert_no_error (error);
  spot_nats_config_init (&config);
  config.urls = g_strdup (spot_test_nats_url (f->nats));
  f->conn = spot_nats_connection_new (&config, &error);
  g_assert_no_error (error);
  spot_nats_config_clear (&config);
  g_assert_true (spot_nats_connection_start_sync (f->conn, 10000, &error));
  g_assert_no_error (error);
  g_assert_cmpint (natsConnection_ConnectTo (&f->publisher, spot_test_nats_url (f->nats)), ==,
                   NATS_OK);

  f->metrics = spot_metrics_new (NULL, FALSE);
  f->hub = spot_candle_hub_new (0);
  g_assert_true (spot_candle_hub_attach (f->hub, spot_nats_connection_get_nc (f->conn), &error));
  g_assert_no_error (error);
  f->health = spot_health_new ();
  spot_health_add_nats (f->health, f->conn);
  spot_health_add_candle_hub (f->health, f->hub);

  spot_http_options_init (&options);
  options.port = 0;
  f->server = spot_http_server_new (&options);
  spot_http_options_clear (&options);
  spot_http_server_set_hub (f->server, f->hub);
  spot_http_server_set_metrics (f->server, f->metrics);
  spot_http_server_set_health (f->server, f->health);
}

/* The cache starts after the test has put its KV values. */
static void
start_cache (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  f->cache = spot_live_cache_new (spot_nats_connection_get_js_nc (f->conn), NULL);
  g_assert_true (spot_live_cache_start (f->cache, &error));
  g_assert_no_error (error);
  g_assert_true (spot_live_cache_wait_synced (f->cache, 10000));
  spot_health_add_live_cache (f->health, f->cache);
  spot_http_server_set_live_cache (f->server, f->cache);
  g_assert_true (spot_http_server_start (f->server, &error));
  g_assert_no_error (error);
  f->port = spot_http_server_get_port (f->server);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->server);
  http_test_spin (20);
  if (f->cache != NULL)
    spot_live_cache_stop (f->cache);
  g_clear_object (&f->cache);
  if (f->hub != NULL)
    spot_candle_hub_detach (f->hub);
  g_clear_object (&f->hub);
  g_clear_pointer (&f->health, spot_health_unref);
  g_clear_pointer (&f->publisher, natsConnection_Destroy);
  if (f->conn != NULL)
    spot_nats_connection_close (f->conn, 2000);
  g_clear_object (&f->conn);
  g_clear_pointer (&f->metrics, spot_metrics_free);
  g_clear_pointer (&f->nats, spot_test_nats_free);
}

static void
test_stream_initial_state_from_kv_and_updates_from_nats (Fixture *f, gconstpointer data)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  SpotCandle stored = http_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, now, 7, "70000.25");
  SpotCandle live = http_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, now, 8, "70001.75");
  SpotCandle hour = http_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_HOUR, now, 3, "69999.5");
  SpotCandle other = http_test_candle ("ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, now, 1, "3000.5");
  g_autoptr (SseReader) sse = NULL;
  gssize at;

  kv_put (f, &stored);
  start_cache (f);
  sse = sse_reader_open (f->port, "/stream?products=BTC-USD&granularities=ONE_MINUTE,1h");
  at = sse_reader_wait_for (sse, "</div>\n\n", 0, 5000);
  g_assert_cmpint (at, >, 0);
  g_assert_nonnull (strstr (sse_reader_text (sse), "close=\"70000.25\""));
  g_assert_nonnull (strstr (sse_reader_text (sse),
                            "<spot-candle id=\"candle-BTC-USD-ONE_HOUR\" product=\"BTC-USD\" "
                            "granularity=\"ONE_HOUR\"></spot-candle>"));

  publish (f, &other);
  publish (f, &live);
  publish (f, &hour);
  g_assert_cmpint (sse_reader_wait_for (sse, "close=\"69999.5\"", at, 5000), >, 0);
  g_assert_nonnull (strstr (sse_reader_text (sse) + at, "close=\"70001.75\""));
  g_assert_null (strstr (sse_reader_text (sse) + at, "ETH-USD"));
}

static gboolean
health_is_503 (gpointer data)
{
  Fixture *f = data;
  g_autoptr (HttpResult) r = http_test_get (f->port, "/health");

  return r->status == 503;
}

static void
test_health_follows_the_nats_connection (Fixture *f, gconstpointer data)
{
  g_autoptr (HttpResult) ok = NULL;

  start_cache (f);
  ok = http_test_get (f->port, "/health");
  g_assert_cmpuint (ok->status, ==, 200);
  g_assert_nonnull (strstr (ok->body, "\"nats\":{\"state\":\"connected\""));
  g_assert_nonnull (strstr (ok->body, "\"live_cache\":{\"synced\":true"));

  spot_test_nats_kill (f->nats);
  g_assert_true (http_test_wait_until (health_is_503, f, 15000));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Killing nats-server makes the connection warn, as it should; criticals
   * stay fatal. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  spot_test_require_program ("nats-server");
  g_test_add ("/sse-nats/initial-state-from-kv-and-updates-from-nats", Fixture, NULL, fixture_setup,
              test_stream_initial_state_from_kv_and_updates_from_nats, fixture_teardown);
  g_test_add ("/sse-nats/health-follows-the-nats-connection", Fixture, NULL, fixture_setup,
              test_health_follows_the_nats_connection, fixture_teardown);
  return g_test_run ();
}
