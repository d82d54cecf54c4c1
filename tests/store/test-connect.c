/* test-connect.c: a database thread connecting to a server that never
 * answers can be stopped and joined (spot_pg_connect_interruptible, the
 * repository, the batch writer and SpotDatabase).
 *
 * The "server" is a loopback TCP socket that listens and never accepts: the
 * kernel completes the handshake from the backlog, so libpq's connect
 * succeeds at the TCP level and then waits forever for the server's answer
 * to its startup packet. No PostgreSQL is needed.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "core/spot-error.h"
#include "store/spot-batch-writer.h"
#include "store/spot-database.h"
#include "store/spot-pg.h"
#include "store/spot-repository.h"
#include "store-test-util.h"

typedef struct
{
  GSocket *socket;
  char *conninfo;
} SilentServer;

static void
silent_server_start (SilentServer *server)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  server->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (server->socket, any_port, TRUE, &error));
  g_assert_true (g_socket_listen (server->socket, &error));
  bound = g_socket_get_local_address (server->socket, &error);
  g_assert_no_error (error);
  /* connect_timeout=30: only the interrupt can end the connect in time. */
  server->conninfo = g_strdup_printf (
      "host=127.0.0.1 port=%u dbname=spot user=spot sslmode=disable connect_timeout=30",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
}

static void
silent_server_stop (SilentServer *server)
{
  g_clear_object (&server->socket);
  g_clear_pointer (&server->conninfo, g_free);
}

static gpointer
trigger_later (gpointer data)
{
  g_usleep (200 * 1000);
  spot_pg_interrupt_trigger (data);
  return NULL;
}

static void
test_connect_to_silent_server_ends_on_interrupt (void)
{
  SilentServer server = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotPgInterrupt) interrupt = spot_pg_interrupt_new (&error);
  g_autoptr (GThread) trigger = NULL;
  PGconn *conn;
  gint64 started;
  gint64 took_ms;

  g_assert_no_error (error);
  silent_server_start (&server);
  trigger = g_thread_new ("trigger", trigger_later, interrupt);
  started = g_get_monotonic_time ();
  conn = spot_pg_connect_interruptible (server.conninfo, "test", interrupt, &error);
  took_ms = (g_get_monotonic_time () - started) / 1000;
  g_assert_null (conn);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_CANCELLED);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_assert_cmpint (took_ms, >=, 150);
  g_assert_cmpint (took_ms, <, 5000);
  g_thread_join (g_steal_pointer (&trigger));

  /* Once triggered, every later connect fails at once. */
  g_clear_error (&error);
  started = g_get_monotonic_time ();
  g_assert_null (spot_pg_connect_interruptible (server.conninfo, "test", interrupt, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_CANCELLED);
  g_assert_cmpint ((g_get_monotonic_time () - started) / 1000, <, 1000);
  silent_server_stop (&server);
}

static void
test_connect_to_silent_server_times_out (void)
{
  SilentServer server = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *conninfo = NULL;
  gint64 started;
  gint64 took_ms;

  silent_server_start (&server);
  /* The caller's connect_timeout wins over the default (later entries of
   * the expanded dbname override); libpq's minimum is 2 s. */
  conninfo = g_strconcat (server.conninfo, " connect_timeout=2", NULL);
  started = g_get_monotonic_time ();
  g_assert_null (spot_pg_connect (conninfo, "test", &error));
  took_ms = (g_get_monotonic_time () - started) / 1000;
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_DATABASE);
  g_assert_nonnull (strstr (error->message, "timeout expired"));
  g_assert_cmpint (took_ms, >=, 1900);
  g_assert_cmpint (took_ms, <, 10000);
  silent_server_stop (&server);
}

static void
test_connect_refused_fails_at_once (void)
{
  g_autoptr (GError) error = NULL;
  guint16 port;
  g_autofree char *conninfo = NULL;

  {
    SilentServer server = { 0 };
    g_autoptr (GSocketAddress) bound = NULL;
    silent_server_start (&server);
    bound = g_socket_get_local_address (server.socket, NULL);
    port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
    silent_server_stop (&server);
  }
  conninfo = g_strdup_printf ("host=127.0.0.1 port=%u dbname=spot connect_timeout=30", port);
  g_assert_null (spot_pg_connect (conninfo, "test", &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_DATABASE);
  g_assert_nonnull (strstr (error->message, "refused"));
}

typedef struct
{
  gboolean done;
  GError *error;
} AsyncResult;

static void
active_products_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  AsyncResult *out = user_data;
  GPtrArray *products
      = spot_repository_get_active_products_finish (SPOT_REPOSITORY (source), result, &out->error);

  g_assert_null (products);
  out->done = TRUE;
}

static void
test_repository_close_abandons_a_silent_connect (void)
{
  SilentServer server = { 0 };
  g_autoptr (SpotRepository) repo = NULL;
  AsyncResult first = { 0 }, after = { 0 };
  gint64 started;

  silent_server_start (&server);
  repo = spot_repository_new (server.conninfo);
  spot_repository_get_active_products_async (repo, NULL, active_products_cb, &first);
  /* Let the thread enter its connect. */
  g_usleep (300 * 1000);
  g_assert_false (first.done);
  started = g_get_monotonic_time ();
  spot_repository_close (repo);
  g_assert_cmpint ((g_get_monotonic_time () - started) / 1000, <, 2000);
  while (!first.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (first.error);
  g_assert_true (first.error->domain == SPOT_ERROR);
  g_assert_true (first.error->code == SPOT_ERROR_CANCELLED || first.error->code == SPOT_ERROR_CLOSED);
  g_assert_false (spot_repository_is_connected (repo));

  /* Requests after the close fail with CLOSED, through the callback. */
  spot_repository_get_active_products_async (repo, NULL, active_products_cb, &after);
  while (!after.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (after.error, SPOT_ERROR, SPOT_ERROR_CLOSED);
  spot_repository_close (repo); /* idempotent */
  g_clear_error (&first.error);
  g_clear_error (&after.error);
  silent_server_stop (&server);
}

static void
test_batch_writer_close_journals_past_a_silent_connect (void)
{
  SilentServer server = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("spot-connect-XXXXXX", &error);
  g_autofree char *journal = NULL;
  SpotBatchWriterConfig config;
  SpotBatchWriter *writer;
  SpotCandleUpdate update = { 0 };
  SpotBatchWriterStats stats;
  gint64 started, took_ms;

  g_assert_no_error (error);
  silent_server_start (&server);
  spot_batch_writer_config_init (&config);
  config.conninfo = server.conninfo;
  config.state_dir = dir;
  writer = spot_batch_writer_new (&config, &error);
  g_assert_no_error (error);
  update.candle = make_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1700000040, "1", "2", "0.5",
                               "1.5", "3", 4, 10, TRUE, 1);
  g_assert_cmpuint (spot_batch_writer_submit (writer, &update, 1), ==, 1);
  g_usleep (300 * 1000); /* the thread is in its first connect */

  started = g_get_monotonic_time ();
  g_assert_false (spot_batch_writer_close (writer, 500, &error));
  took_ms = (g_get_monotonic_time () - started) / 1000;
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT);
  g_assert_nonnull (strstr (error->message, "journal"));
  g_assert_cmpint (took_ms, >=, 400);
  g_assert_cmpint (took_ms, <, 3000);
  spot_batch_writer_get_stats (writer, &stats);
  g_assert_cmpuint (stats.journal_rows, ==, 1);
  spot_batch_writer_free (writer);

  journal = g_build_filename (dir, "store-journal.log", NULL);
  g_assert_true (g_file_test (journal, G_FILE_TEST_EXISTS));
  g_unlink (journal);
  g_rmdir (dir);
  silent_server_stop (&server);
}

static void
database_started_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  AsyncResult *out = user_data;

  g_assert_false (spot_database_start_finish (SPOT_DATABASE (source), result, &out->error));
  out->done = TRUE;
}

static void
test_database_stop_abandons_a_silent_connect (void)
{
  SilentServer server = { 0 };
  g_autoptr (SpotDatabase) db = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  AsyncResult start = { 0 };
  gint64 started;

  silent_server_start (&server);
  db = spot_database_new (server.conninfo, NULL, TRUE);
  spot_database_start_async (db, cancellable, database_started_cb, &start);
  g_usleep (300 * 1000);
  g_main_context_iteration (NULL, FALSE);
  g_assert_false (start.done);
  g_assert_false (spot_database_is_connected (db));

  started = g_get_monotonic_time ();
  g_cancellable_cancel (cancellable);
  spot_database_stop (db, 1000);
  g_assert_cmpint ((g_get_monotonic_time () - started) / 1000, <, 2000);
  /* The migration request in flight ends with an error, not never. */
  while (!start.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (start.error);
  g_clear_error (&start.error);
  silent_server_stop (&server);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* The writer warns about the failed connect; that is expected here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/store/connect/silent-server-ends-on-interrupt",
                   test_connect_to_silent_server_ends_on_interrupt);
  g_test_add_func ("/store/connect/silent-server-times-out", test_connect_to_silent_server_times_out);
  g_test_add_func ("/store/connect/refused-fails-at-once", test_connect_refused_fails_at_once);
  g_test_add_func ("/store/connect/repository-close-abandons-silent-connect",
                   test_repository_close_abandons_a_silent_connect);
  g_test_add_func ("/store/connect/batch-writer-close-journals-past-silent-connect",
                   test_batch_writer_close_journals_past_a_silent_connect);
  g_test_add_func ("/store/connect/database-stop-abandons-silent-connect",
                   test_database_stop_abandons_a_silent_connect);
  return g_test_run ();
}
