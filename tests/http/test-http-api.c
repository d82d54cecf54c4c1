/* test-http-api.c: /api/candles and /health against a real PostgreSQL. */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "http-test-util.h"
#include "http/spot-health-checks.h"
#include "http/spot-http-server.h"
#include "model/spot-candle-json.h"
#include "spot-test-harness.h"

typedef struct
{
  SpotTestPostgres *pg;
  SpotRepository *repo;
  SpotHealth *health;
  SpotHttpServer *server;
  guint16 port;
  gboolean upserted;
} Fixture;

static void
on_upserted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;
  g_autoptr (GError) error = NULL;
  guint n = 0;

  g_assert_true (
      spot_repository_upsert_candles_finish (SPOT_REPOSITORY (source), result, &n, &error));
  g_assert_no_error (error);
  f->upserted = TRUE;
}

static gboolean
upserted (gpointer data)
{
  return ((Fixture *)data)->upserted;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  SpotHttpOptions options;
  g_autoptr (GError) error = NULL;

  memset (f, 0, sizeof *f);
  f->pg = spot_test_postgres_start (&error);
  g_assert_no_error (error);
  f->repo = spot_repository_new (spot_test_postgres_conninfo (f->pg));
  g_assert_true (spot_repository_migrate_sync (f->repo, &error));
  g_assert_no_error (error);
  f->health = spot_health_new ();
  spot_health_add_repository (f->health, f->repo);
  spot_http_options_init (&options);
  options.port = 0;
  f->server = spot_http_server_new (&options);
  spot_http_options_clear (&options);
  spot_http_server_set_repository (f->server, f->repo);
  spot_http_server_set_health (f->server, f->health);
  g_assert_true (spot_http_server_start (f->server, &error));
  g_assert_no_error (error);
  f->port = spot_http_server_get_port (f->server);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->server);
  http_test_spin (20);
  g_clear_pointer (&f->health, spot_health_unref);
  g_clear_object (&f->repo);
  g_clear_pointer (&f->pg, spot_test_postgres_free);
}

static void
test_history_comes_back_in_candle_json (Fixture *f, gconstpointer data)
{
  SpotCandle candles[3];
  g_autoptr (HttpResult) r = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *array;

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *close = g_strdup_printf ("%u.25", 100 + i);

      candles[i] = http_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800 + i * 60, 1,
                                     close);
      candles[i].complete = i < 2;
    }
  spot_repository_upsert_candles_async (f->repo, candles, 3, NULL, on_upserted, f);
  g_assert_true (http_test_wait_until (upserted, f, 10000));

  r = http_test_get (f->port, "/api/candles?product=BTC-USD&granularity=ONE_MINUTE"
                              "&start=1775521800&end=2026-04-07T00:32:00Z&limit=2");
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (r->headers, "Content-Type"), ==,
                   "application/json");
  g_assert_true (json_parser_load_from_data (parser, r->body, -1, NULL));
  array = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                        "candles");
  /* The newest two, oldest first, each in the one candle JSON form. */
  g_assert_cmpuint (json_array_get_length (array), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *json = json_to_string (json_array_get_element (array, i), FALSE);
      SpotCandle back;
      g_autoptr (GError) error = NULL;

      g_assert_true (spot_candle_from_json (json, -1, &back, &error));
      g_assert_no_error (error);
      g_assert_true (spot_candle_values_equal (&back, &candles[i + 1]));
    }
  g_assert_nonnull (strstr (r->body, "\"close\":\"102.25\""));
}

static void
test_empty_range_is_an_empty_list (Fixture *f, gconstpointer data)
{
  g_autoptr (HttpResult) r
      = http_test_get (f->port, "/api/candles?product=ETH-USD&granularity=1h&start=0&end=3600");

  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (r->body, ==,
                   "{\"product_id\":\"ETH-USD\",\"granularity\":\"ONE_HOUR\",\"candles\":[]}\n");
}

static gboolean
api_is_503 (gpointer data)
{
  Fixture *f = data;
  g_autoptr (HttpResult) r
      = http_test_get (f->port, "/api/candles?product=ETH-USD&granularity=1h&start=0&end=3600");

  return r->status == 503;
}

static void
test_database_down_is_503_on_api_and_health (Fixture *f, gconstpointer data)
{
  g_autoptr (HttpResult) ok = http_test_get (f->port, "/health");
  g_autoptr (HttpResult) bad = NULL;

  g_assert_cmpuint (ok->status, ==, 200);
  g_assert_nonnull (strstr (ok->body, "\"database\":{\"connected\":true"));
  spot_test_postgres_kill (f->pg);
  g_assert_true (http_test_wait_until (api_is_503, f, 20000));
  bad = http_test_get (f->port, "/health");
  g_assert_cmpuint (bad->status, ==, 503);
  g_assert_nonnull (strstr (bad->body, "\"database\":{\"connected\":false"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Killing PostgreSQL makes the repository warn, as it should. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add ("/http-api/history-comes-back-in-candle-json", Fixture, NULL, fixture_setup,
              test_history_comes_back_in_candle_json, fixture_teardown);
  g_test_add ("/http-api/empty-range-is-an-empty-list", Fixture, NULL, fixture_setup,
              test_empty_range_is_an_empty_list, fixture_teardown);
  g_test_add ("/http-api/database-down-is-503-on-api-and-health", Fixture, NULL, fixture_setup,
              test_database_down_is_503_on_api_and_health, fixture_teardown);
  return g_test_run ();
}
