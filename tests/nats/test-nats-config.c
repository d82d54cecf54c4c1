/* test-nats-config.c: NATS_URL lists and the embedded-server refusal. */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "core/spot-error.h"
#include "nats/spot-nats-connection.h"

static void
test_parses_comma_separated_urls (void)
{
  g_auto (GStrv) urls = spot_nats_parse_urls (" nats://a:4222, tls://b:4223 ,c:4224", NULL);

  g_assert_nonnull (urls);
  g_assert_cmpuint (g_strv_length (urls), ==, 3);
  g_assert_cmpstr (urls[0], ==, "nats://a:4222");
  g_assert_cmpstr (urls[1], ==, "tls://b:4223");
  g_assert_cmpstr (urls[2], ==, "nats://c:4224");
}

static void
test_rejects_bad_url_lists_naming_the_item (void)
{
  struct
  {
    const char *value;
    const char *named;
  } bad[] = {
    { "nats://a:1,,nats://b:2", "empty item" },
    { "http://a:4222", "http://a:4222" },
    { "nats://", "nats://" },
    { "a:1/path", "a:1/path" },
    { "   ", "empty" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_auto (GStrv) urls = spot_nats_parse_urls (bad[i].value, &error);

      g_assert_null (urls);
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
      g_assert_nonnull (strstr (error->message, bad[i].named));
    }
}

static void
test_refuses_embedded_server_with_several_shards (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (spot_nats_check_embedded_allowed (NULL, 1, NULL));
  g_assert_true (spot_nats_check_embedded_allowed ("nats://n1:4222", 4, NULL));
  g_assert_false (spot_nats_check_embedded_allowed ("", 3, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
  g_assert_nonnull (strstr (error->message, "SHARD_COUNT=3"));
  g_assert_nonnull (strstr (error->message, "NATS_URL"));
}

static void
test_connection_needs_urls_or_state_dir (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotNatsConnection) conn = NULL;
  SpotNatsConfig config;
  SpotNatsStatus status;

  spot_nats_config_init (&config);
  conn = spot_nats_connection_new (&config, &error);
  g_assert_null (conn);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
  g_clear_error (&error);

  config.urls = g_strdup ("nats://127.0.0.1:1");
  conn = spot_nats_connection_new (&config, &error);
  g_assert_no_error (error);
  spot_nats_connection_get_status (conn, &status);
  g_assert_cmpint (status.state, ==, SPOT_NATS_STATE_STOPPED);
  g_assert_false (status.embedded);
  g_assert_null (spot_nats_connection_get_nc (conn));
  spot_nats_status_clear (&status);
  spot_nats_config_clear (&config);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nats/config/parses-url-list", test_parses_comma_separated_urls);
  g_test_add_func ("/nats/config/rejects-bad-urls", test_rejects_bad_url_lists_naming_the_item);
  g_test_add_func ("/nats/config/refuses-embedded-with-shards",
                   test_refuses_embedded_server_with_several_shards);
  g_test_add_func ("/nats/config/needs-urls-or-state-dir", test_connection_needs_urls_or_state_dir);
  return g_test_run ();
}
