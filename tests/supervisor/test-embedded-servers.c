/* test-embedded-servers.c: the embedded nats-server and PostgreSQL, started
 * through the test harness, really serve clients, also after a kill. */
#include "spot-test-harness.h"
#include "core/spot-error.h"
#include "supervisor/spot-embedded-nats.h"
#include "supervisor/spot-embedded-postgres.h"

#include <glib/gstdio.h>
#include <poll.h>
#include <stdio.h>
#include <libpq-fe.h>
#include <nats/nats.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


/* ---- NATS helpers ---- */

static natsConnection *
nats_connect_or_fail (const char *url)
{
  natsConnection *nc = NULL;
  natsStatus s = natsConnection_ConnectTo (&nc, url);

  g_assert_cmpstr (natsStatus_GetText (s), ==, natsStatus_GetText (NATS_OK));
  return nc;
}

static void
assert_publish_subscribe_round_trip (natsConnection *nc, const char *payload)
{
  natsSubscription *sub = NULL;
  natsMsg *msg = NULL;

  g_assert_cmpint (natsConnection_SubscribeSync (&sub, nc, "spot.test.>"), ==, NATS_OK);
  g_assert_cmpint (natsConnection_Flush (nc), ==, NATS_OK);
  g_assert_cmpint (natsConnection_PublishString (nc, "spot.test.round-trip", payload), ==, NATS_OK);
  g_assert_cmpint (natsSubscription_NextMsg (&msg, sub, 5000), ==, NATS_OK);
  g_assert_cmpstr (natsMsg_GetSubject (msg), ==, "spot.test.round-trip");
  g_assert_cmpint (natsMsg_GetDataLength (msg), ==, (int)strlen (payload));
  g_assert_cmpint (memcmp (natsMsg_GetData (msg), payload, strlen (payload)), ==, 0);
  natsMsg_Destroy (msg);
  natsSubscription_Destroy (sub);
}

static kvStore *
open_kv (jsCtx *js, gboolean create)
{
  kvStore *kv = NULL;
  kvConfig config;
  jsErrCode jerr = 0;

  if (!create)
    {
      g_assert_cmpint (js_KeyValue (&kv, js, "spot_test"), ==, NATS_OK);
      return kv;
    }
  kvConfig_Init (&config);
  config.Bucket = "spot_test";
  config.History = 1;
  config.StorageType = js_FileStorage;
  g_assert_cmpint (js_CreateKeyValue (&kv, js, &config), ==, NATS_OK);
  (void)jerr;
  return kv;
}

static void
assert_kv_value (kvStore *kv, const char *key, const char *expected)
{
  kvEntry *entry = NULL;

  g_assert_cmpint (kvStore_Get (&entry, kv, key), ==, NATS_OK);
  g_assert_cmpstr (kvEntry_ValueString (entry), ==, expected);
  kvEntry_Destroy (entry);
}

static void
test_nats_serves_pubsub_and_kv_across_kill (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestNats) nats = NULL;
  g_autofree char *url = NULL;
  natsConnection *nc;
  jsCtx *js = NULL;
  kvStore *kv;
  uint64_t rev = 0;
  gint64 t0 = g_get_monotonic_time ();

  nats = spot_test_nats_start (&error);
  g_assert_no_error (error);
  g_test_message ("nats-server started in %.1f ms", (g_get_monotonic_time () - t0) / 1000.0);
  url = g_strdup (spot_test_nats_url (nats));
  g_assert_true (g_str_has_prefix (url, "nats://127.0.0.1:"));

  nc = nats_connect_or_fail (url);
  assert_publish_subscribe_round_trip (nc, "first");
  g_assert_cmpint (natsConnection_JetStream (&js, nc, NULL), ==, NATS_OK);
  kv = open_kv (js, TRUE);
  g_assert_cmpint (kvStore_PutString (&rev, kv, "BTC-USD.ONE_MINUTE", "{\"close\":\"1\"}"), ==,
                   NATS_OK);
  g_assert_cmpuint (rev, >=, 1);
  assert_kv_value (kv, "BTC-USD.ONE_MINUTE", "{\"close\":\"1\"}");
  kvStore_Destroy (kv);
  jsCtx_Destroy (js);
  natsConnection_Destroy (nc);

  spot_test_nats_kill (nats);
  nc = NULL;
  g_assert_cmpint (natsConnection_ConnectTo (&nc, url), !=, NATS_OK);

  t0 = g_get_monotonic_time ();
  g_assert_true (spot_test_nats_restart (nats, &error));
  g_assert_no_error (error);
  g_test_message ("nats-server restarted in %.1f ms", (g_get_monotonic_time () - t0) / 1000.0);
  /* Same URL, so clients reconnect where they were. */
  g_assert_cmpstr (spot_test_nats_url (nats), ==, url);

  nc = nats_connect_or_fail (url);
  assert_publish_subscribe_round_trip (nc, "second");
  g_assert_cmpint (natsConnection_JetStream (&js, nc, NULL), ==, NATS_OK);
  /* The JetStream store survived the kill. */
  kv = open_kv (js, FALSE);
  assert_kv_value (kv, "BTC-USD.ONE_MINUTE", "{\"close\":\"1\"}");
  g_assert_cmpint (kvStore_PutString (&rev, kv, "BTC-USD.ONE_MINUTE", "{\"close\":\"2\"}"), ==,
                   NATS_OK);
  assert_kv_value (kv, "BTC-USD.ONE_MINUTE", "{\"close\":\"2\"}");
  kvStore_Destroy (kv);
  jsCtx_Destroy (js);
  natsConnection_Destroy (nc);
}

/* The supervisor itself restarts a server that dies, on the same port. */
static void
on_ready (SpotSupervisor *supervisor, gpointer user_data)
{
  gboolean *ready = user_data;
  *ready = TRUE;
}

static gboolean
timeout_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;
  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_nats_is_restarted_on_same_url_after_crash (void)
{
  g_autoptr (GError) error = NULL;
  /* Named like the harness's directories, so that a later harness start
   * removes it if this test is killed. */
  g_autofree char *name = g_strdup_printf ("spot-test-%d-XXXXXX", (int)getpid ());
  g_autofree char *dir = g_build_filename (spot_test_tmp_dir (), name, NULL);
  g_autoptr (SpotEmbeddedNats) server = NULL;
  g_autofree char *url = NULL;
  gboolean ready = FALSE;
  gboolean timed_out = FALSE;
  GPid old_pid;
  guint timeout_id;
  natsConnection *nc;

  g_assert_nonnull (g_mkdtemp (dir));
  server = spot_embedded_nats_new (dir);
  g_assert_true (spot_embedded_nats_start_sync (server, 20000, &error));
  g_assert_no_error (error);
  url = g_strdup (spot_embedded_nats_get_url (server));
  g_assert_nonnull (spot_embedded_nats_get_monitor_url (server));
  old_pid = spot_embedded_nats_get_pid (server);

  g_signal_connect (spot_embedded_nats_get_supervisor (server), "ready", G_CALLBACK (on_ready),
                    &ready);
  g_assert_cmpint (kill (old_pid, SIGKILL), ==, 0);
  timeout_id = g_timeout_add (20000, timeout_cb, &timed_out);
  while (!ready && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (timeout_id);

  g_assert_cmpint (spot_embedded_nats_get_pid (server), !=, old_pid);
  g_assert_cmpstr (spot_embedded_nats_get_url (server), ==, url);
  nc = nats_connect_or_fail (url);
  assert_publish_subscribe_round_trip (nc, "after crash");
  natsConnection_Destroy (nc);

  spot_embedded_nats_stop (server, 5000);
  g_assert_cmpint (spot_embedded_nats_get_pid (server), ==, 0);
  g_clear_object (&server);
  spot_test_remove_tree (dir);
}

/* ---- PostgreSQL ---- */

static PGconn *
pg_connect_or_fail (const char *conninfo)
{
  PGconn *conn = PQconnectdb (conninfo);

  if (PQstatus (conn) != CONNECTION_OK)
    g_error ("cannot connect to %s: %s", conninfo, PQerrorMessage (conn));
  return conn;
}

static void
pg_exec_ok (PGconn *conn, const char *sql, ExecStatusType expected)
{
  PGresult *result = PQexec (conn, sql);

  if (PQresultStatus (result) != expected)
    g_error ("%s: %s", sql, PQresultErrorMessage (result));
  PQclear (result);
}

static char *
pg_query_value (PGconn *conn, const char *sql)
{
  PGresult *result = PQexec (conn, sql);
  char *value;

  if (PQresultStatus (result) != PGRES_TUPLES_OK || PQntuples (result) != 1)
    g_error ("%s: %s", sql, PQresultErrorMessage (result));
  value = g_strdup (PQgetvalue (result, 0, 0));
  PQclear (result);
  return value;
}

static void
test_postgres_serves_sql_across_kill (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestPostgres) pg = NULL;
  g_autofree char *value = NULL;
  g_autofree char *database = NULL;
  PGconn *conn;
  gint64 t0 = g_get_monotonic_time ();

  pg = spot_test_postgres_start (&error);
  g_assert_no_error (error);
  g_test_message ("PostgreSQL started in %.1f ms", (g_get_monotonic_time () - t0) / 1000.0);

  conn = pg_connect_or_fail (spot_test_postgres_conninfo (pg));
  database = pg_query_value (conn, "SELECT current_database()");
  g_assert_cmpstr (database, ==, "spotcanvas");
  pg_exec_ok (conn, "CREATE TABLE candles (product text PRIMARY KEY, close numeric NOT NULL)",
              PGRES_COMMAND_OK);
  pg_exec_ok (conn, "INSERT INTO candles VALUES ('BTC-USD', 68900.50)", PGRES_COMMAND_OK);
  value = pg_query_value (conn, "SELECT close FROM candles WHERE product = 'BTC-USD'");
  g_assert_cmpstr (value, ==, "68900.50");
  g_clear_pointer (&value, g_free);
  PQfinish (conn);

  spot_test_postgres_kill (pg);
  conn = PQconnectdb (spot_test_postgres_conninfo (pg));
  g_assert_cmpint (PQstatus (conn), !=, CONNECTION_OK);
  PQfinish (conn);

  t0 = g_get_monotonic_time ();
  g_assert_true (spot_test_postgres_restart (pg, &error));
  g_assert_no_error (error);
  g_test_message ("PostgreSQL restarted (crash recovery) in %.1f ms",
                  (g_get_monotonic_time () - t0) / 1000.0);

  conn = pg_connect_or_fail (spot_test_postgres_conninfo (pg));
  /* Committed before the kill: recovered from the WAL. */
  value = pg_query_value (conn, "SELECT close FROM candles WHERE product = 'BTC-USD'");
  g_assert_cmpstr (value, ==, "68900.50");
  g_clear_pointer (&value, g_free);
  pg_exec_ok (conn, "INSERT INTO candles VALUES ('ETH-USD', 3500.25)", PGRES_COMMAND_OK);
  value = pg_query_value (conn, "SELECT count(*) FROM candles");
  g_assert_cmpstr (value, ==, "2");
  PQfinish (conn);
}

static void
test_postgres_clusters_are_independent (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestPostgres) a = spot_test_postgres_start (&error);
  g_autoptr (SpotTestPostgres) b = NULL;
  PGconn *conn;
  g_autofree char *value = NULL;

  g_assert_no_error (error);
  b = spot_test_postgres_start (&error);
  g_assert_no_error (error);
  g_assert_cmpstr (spot_test_postgres_conninfo (a), !=, spot_test_postgres_conninfo (b));

  conn = pg_connect_or_fail (spot_test_postgres_conninfo (a));
  pg_exec_ok (conn, "CREATE TABLE only_in_a (x int)", PGRES_COMMAND_OK);
  PQfinish (conn);
  conn = pg_connect_or_fail (spot_test_postgres_conninfo (b));
  value = pg_query_value (conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'");
  g_assert_cmpstr (value, ==, "0");
  PQfinish (conn);
}

/* ---- a start that misses its deadline ---- */

static char *
make_test_dir (void)
{
  /* Named like the harness's directories, so that a later harness start
   * removes it if this test is killed. */
  g_autofree char *name = g_strdup_printf ("spot-test-%d-XXXXXX", (int)getpid ());
  char *dir = g_build_filename (spot_test_tmp_dir (), name, NULL);

  g_assert_nonnull (g_mkdtemp (dir));
  return dir;
}

static void
test_nats_start_sync_reports_timeout_with_output (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = make_test_dir ();
  g_autofree char *prefix = g_strdup_printf ("nats-server in %s", dir);
  g_autoptr (SpotEmbeddedNats) server = spot_embedded_nats_new (dir);

  /* No nats-server is ready 1 ms after its spawn. */
  g_assert_false (spot_embedded_nats_start_sync (server, 1, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_nonnull (strstr (error->message, " was not ready within 1 ms; its last output:\n"));
  /* The half-started server is not left running. */
  g_assert_cmpint (spot_embedded_nats_get_pid (server), ==, 0);
  g_clear_object (&server);
  spot_test_remove_tree (dir);
}

static void
test_postgres_start_sync_reports_timeout_with_output (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = make_test_dir ();
  g_autofree char *prefix = g_strdup_printf ("PostgreSQL in %s", dir);
  g_autoptr (SpotEmbeddedPostgres) server = spot_embedded_postgres_new (dir);

  /* initdb alone takes far longer than 1 ms. */
  g_assert_false (spot_embedded_postgres_start_sync (server, 1, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_nonnull (strstr (error->message, " was not ready within 1 ms; its last output:\n"));
  g_assert_cmpint (spot_embedded_postgres_get_pid (server), ==, 0);
  g_clear_object (&server);
  spot_test_remove_tree (dir);
}

/* ---- servers die with a killed test program ---- */

#define HELPER_FLAG "--helper-start-servers"

static char *self_exe;

/* Helper mode: start both servers through the harness, print their pids,
 * wait to be killed. */
static int
run_helper (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestNats) nats = spot_test_nats_start (&error);
  g_autoptr (SpotTestPostgres) pg = NULL;

  if (nats == NULL || (pg = spot_test_postgres_start (&error)) == NULL)
    {
      fprintf (stderr, "helper: %s\n", error->message);
      return 1;
    }
  printf ("PIDS %d %d\n", (int)spot_test_nats_pid (nats), (int)spot_test_postgres_pid (pg));
  fflush (stdout);
  for (;;)
    pause ();
  return 0;
}

static gboolean
process_alive (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int)pid);
  g_autofree char *stat = NULL;
  const char *state;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  state = strrchr (stat, ')');
  return state != NULL && state[2] != 'Z' && state[2] != 'X';
}

static gboolean
helper_dirs_exist (GPid helper)
{
  g_autofree char *prefix = g_strdup_printf ("spot-test-%d-", (int)helper);
  g_autoptr (GDir) dir = g_dir_open (spot_test_tmp_dir (), 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, prefix))
      return TRUE;
  return FALSE;
}

static void
test_servers_die_with_killed_test_program (void)
{
  const char *argv[] = { self_exe, HELPER_FLAG, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestNats) other = NULL;
  GPid helper = 0;
  int out_fd = -1;
  char buffer[128] = { 0 };
  gsize filled = 0;
  int status = 0;
  int nats_pid = 0;
  int pg_pid = 0;
  gint64 deadline;

  g_assert_true (g_spawn_async_with_pipes_and_fds (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                                   NULL, NULL, -1, -1, -1, NULL, NULL, 0, &helper,
                                                   NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  while (strchr (buffer, '\n') == NULL && filled < sizeof buffer - 1
         && g_get_monotonic_time () < deadline)
    {
      struct pollfd pfd = { .fd = out_fd, .events = POLLIN };
      ssize_t n;

      if (poll (&pfd, 1, 100) <= 0)
        continue;
      n = read (out_fd, buffer + filled, sizeof buffer - 1 - filled);
      if (n <= 0)
        break;
      filled += (gsize)n;
    }
  close (out_fd);
  g_assert_cmpint (sscanf (buffer, "PIDS %d %d", &nats_pid, &pg_pid), ==, 2);
  g_assert_true (process_alive (nats_pid));
  g_assert_true (process_alive (pg_pid));
  g_assert_true (helper_dirs_exist (helper));

  g_assert_cmpint (kill (helper, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (helper, &status, 0), ==, helper);

  /* nats-server gets SIGKILL, the postmaster SIGQUIT (immediate shutdown:
   * it first stops its backends). */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while ((process_alive (nats_pid) || process_alive (pg_pid)) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  g_assert_false (process_alive (nats_pid));
  g_assert_false (process_alive (pg_pid));

  /* The next harness start removes what the killed program left behind. */
  other = spot_test_nats_start (&error);
  g_assert_no_error (error);
  g_assert_false (helper_dirs_exist (helper));
}

int
main (int argc, char **argv)
{
  int rc;

  if (argc >= 2 && strcmp (argv[1], HELPER_FLAG) == 0)
    return run_helper ();
  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  if (self_exe == NULL)
    self_exe = g_canonicalize_filename (argv[0], NULL);

  g_test_init (&argc, &argv, NULL);
  /* One test crashes a server on purpose: the supervisor's warning about it
   * must not abort the program. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  spot_test_require_program ("nats-server");
  spot_test_require_program ("postgres");

  g_test_add_func ("/embedded/nats/serves-pubsub-and-kv-across-kill",
                   test_nats_serves_pubsub_and_kv_across_kill);
  g_test_add_func ("/embedded/nats/restarted-on-same-url-after-crash",
                   test_nats_is_restarted_on_same_url_after_crash);
  g_test_add_func ("/embedded/postgres/serves-sql-across-kill",
                   test_postgres_serves_sql_across_kill);
  g_test_add_func ("/embedded/postgres/clusters-are-independent",
                   test_postgres_clusters_are_independent);
  g_test_add_func ("/embedded/nats/start-sync-reports-timeout-with-output",
                   test_nats_start_sync_reports_timeout_with_output);
  g_test_add_func ("/embedded/postgres/start-sync-reports-timeout-with-output",
                   test_postgres_start_sync_reports_timeout_with_output);
  g_test_add_func ("/embedded/servers-die-with-killed-test-program",
                   test_servers_die_with_killed_test_program);
  rc = g_test_run ();
  nats_CloseAndWait (2000);
  g_free (self_exe);
  return rc;
}
