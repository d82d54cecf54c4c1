/* test-nats-embedded.c: the embedded nats-server's lifecycle. */
#define G_LOG_DOMAIN "spot-test"

#include <signal.h>
#include <string.h>

#include "nats-test-util.h"
#include "nats/spot-candle-hub.h"
#include "nats/spot-publisher.h"
#include "spot-test-harness.h"
#include "supervisor/spot-embedded-nats.h"

static GPid
embedded_pid (SpotNatsConnection *conn)
{
  GObject *embedded = spot_nats_connection_get_embedded (conn);

  g_assert_nonnull (embedded);
  return spot_embedded_nats_get_pid (SPOT_EMBEDDED_NATS (embedded));
}

static gboolean
pid_gone (gpointer data)
{
  return !nats_test_pid_alive (GPOINTER_TO_INT (data));
}

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
wait_pid_gone (GPid pid, guint timeout_ms)
{
  guint id = g_timeout_add (10, tick, NULL);
  gboolean gone = nats_test_wait_until (pid_gone, GINT_TO_POINTER (pid), timeout_ms);

  g_source_remove (id);
  return gone;
}

static SpotNatsConnection *
start_embedded (const char *state_dir)
{
  g_autoptr (GError) error = NULL;
  SpotNatsConnection *conn;
  SpotNatsConfig config;

  spot_nats_config_init (&config);
  config.state_dir = g_strdup (state_dir);
  conn = spot_nats_connection_new (&config, &error);
  g_assert_no_error (error);
  spot_nats_config_clear (&config);
  g_assert_true (spot_nats_connection_start_sync (conn, 20000, &error));
  g_assert_no_error (error);
  g_assert_true (nats_test_wait_state (conn, SPOT_NATS_STATE_CONNECTED, 10000));
  return conn;
}

static void
on_candles (const SpotCandle *candles, guint n, gpointer user_data)
{
  *(guint *)user_data += n;
}

static gboolean
got_one (gpointer data)
{
  return *(guint *)data > 0;
}

static void
test_embedded_server_starts_serves_and_stops (void)
{
  g_autofree char *dir = g_dir_make_tmp ("spot-nats-embedded-XXXXXX", NULL);
  g_autofree char *store = g_build_filename (dir, "nats", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotNatsConnection) conn = start_embedded (dir);
  g_autoptr (SpotPublisher) publisher = NULL;
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  SpotCandleUpdate u = nats_test_update ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 1,
                                         SPOT_CANDLE_UPDATE_LIVE);
  SpotNatsStatus status;
  guint received = 0;
  GPid pid = embedded_pid (conn);

  spot_nats_connection_get_status (conn, &status);
  g_assert_true (status.embedded);
  g_assert_cmpint (status.state, ==, SPOT_NATS_STATE_CONNECTED);
  g_assert_true (g_str_has_prefix (status.server_url, "nats://127.0.0.1:"));
  spot_nats_status_clear (&status);
  g_assert_true (nats_test_pid_alive (pid));
  g_assert_true (g_file_test (store, G_FILE_TEST_IS_DIR));

  /* It is a working JetStream server. */
  publisher = spot_publisher_new (spot_nats_connection_get_nc (conn), NULL, &error);
  g_assert_true (spot_publisher_start (publisher, &error));
  g_assert_true (spot_candle_hub_attach (hub, spot_nats_connection_get_nc (conn), &error));
  spot_candle_hub_subscribe (hub, NULL, SPOT_GRANULARITY_SET_ALL, on_candles, &received, NULL);
  g_assert_cmpint (natsConnection_FlushTimeout (spot_nats_connection_get_nc (conn), 5000), ==,
                   NATS_OK);
  spot_publisher_submit (publisher, &u, 1);
  g_assert_true (spot_publisher_flush (publisher, 5000));
  g_assert_true (nats_test_wait_until (got_one, &received, 5000));
  {
    SpotPublisherStats stats;

    spot_publisher_get_stats (publisher, &stats);
    g_assert_cmpuint (stats.kv_acked, ==, 1);
  }

  spot_publisher_stop (publisher, 2000);
  spot_candle_hub_detach (hub);
  spot_nats_connection_close (conn, 2000);
  g_assert_true (wait_pid_gone (pid, 5000));
  nats_test_remove_tree (dir);
}

static void
test_embedded_server_restarted_after_crash (void)
{
  g_autofree char *dir = g_dir_make_tmp ("spot-nats-embedded-XXXXXX", NULL);
  g_autoptr (SpotNatsConnection) conn = start_embedded (dir);
  GPid first = embedded_pid (conn);
  SpotNatsStatus status;

  g_assert_cmpint (kill (first, SIGKILL), ==, 0);
  g_assert_true (nats_test_wait_state (conn, SPOT_NATS_STATE_RECONNECTING, 5000));
  g_assert_true (nats_test_wait_state (conn, SPOT_NATS_STATE_CONNECTED, 15000));
  g_assert_cmpint (embedded_pid (conn), !=, first);
  g_assert_true (nats_test_pid_alive (embedded_pid (conn)));
  spot_nats_connection_get_status (conn, &status);
  g_assert_cmpuint (status.reconnects, >=, 1);
  spot_nats_status_clear (&status);
  spot_nats_connection_close (conn, 2000);
  nats_test_remove_tree (dir);
}

static void
test_no_orphan_after_sigkill_of_the_service (void)
{
  g_autofree char *dir = g_dir_make_tmp ("spot-nats-embedded-XXXXXX", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) helper = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  GPid pid;

  helper = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, NATS_HELPER_PATH, dir, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (helper));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "PID "));
  pid = (GPid)g_ascii_strtoll (line + 4, NULL, 10);
  g_assert_cmpint (pid, >, 0);
  g_assert_true (nats_test_pid_alive (pid));

  g_subprocess_send_signal (helper, SIGKILL);
  g_assert_true (g_subprocess_wait (helper, NULL, &error));
  g_assert_true (wait_pid_gone (pid, 5000));
  nats_test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  spot_test_require_program ("nats-server");
  /* Killing the server makes the NATS layer warn: expected here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/nats/embedded/starts-serves-stops",
                   test_embedded_server_starts_serves_and_stops);
  g_test_add_func ("/nats/embedded/restarted-after-crash",
                   test_embedded_server_restarted_after_crash);
  g_test_add_func ("/nats/embedded/no-orphan-after-sigkill",
                   test_no_orphan_after_sigkill_of_the_service);
  ret = g_test_run ();
  nats_CloseAndWait (5000);
  return ret;
}
