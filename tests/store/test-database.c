/* Integration tests of SpotDatabase: the embedded cluster's lifecycle (run
 * as root here, so PostgreSQL runs as the postgres user), an external
 * DATABASE_URL, and the refusal of embedded with SHARD_COUNT > 1. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/spot-error.h"
#include "spot-test-harness.h"
#include "store/spot-database.h"
#include "store/spot-pg.h"
#include "store/spot-store-queries.h"

static void
test_embedded_with_several_shards_is_refused (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (spot_database_check_embedded (NULL, 1, &error));
  g_assert_true (spot_database_check_embedded ("host=db.example dbname=spot", 4, &error));
  g_assert_no_error (error);
  g_assert_false (spot_database_check_embedded (NULL, 2, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
  g_assert_nonnull (strstr (error->message, "SHARD_COUNT=2"));
  g_assert_nonnull (strstr (error->message, "DATABASE_URL"));
  g_clear_error (&error);
  g_assert_false (spot_database_check_embedded ("", 3, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
}

static gpointer
get_setting (PGconn *conn, gpointer data, GError **error)
{
  g_autoptr (PGresult) r = spot_pg_exec_params (
      conn, "SELECT current_setting('listen_addresses') || '|' || coalesce(inet_server_addr()::text, 'unix') "
            "|| '|' || (SELECT count(*) FROM products)::text",
      0, NULL, error);
  return r != NULL ? g_strdup (PQgetvalue (r, 0, 0)) : NULL;
}

static gpointer
add_product (PGconn *conn, gpointer data, GError **error)
{
  g_autoptr (SpotProduct) p = spot_product_new ("BTC-USD", "BTC", "USD", "online", TRUE);
  return spot_store_put_product (conn, p, error) ? GINT_TO_POINTER (1) : NULL;
}

static char *
make_state_dir (void)
{
  g_autoptr (GError) error = NULL;
  /* As root the postgres user must be able to reach the state directory. */
  g_autofree char *tmpl = g_build_filename ("/tmp", "spot-store-embedded-XXXXXX", NULL);
  char *dir = g_mkdtemp_full (g_steal_pointer (&tmpl), 0711);
  g_assert_nonnull (dir);
  return dir;
}

static void
test_embedded_cluster_lifecycle (void)
{
  g_autofree char *state = make_state_dir ();
  g_autofree char *pg_version = g_build_filename (state, "postgres", "PG_VERSION", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotDatabase) db = NULL;
  g_autofree char *setting = NULL;
  struct stat before, after;

  /* First start: initdb, postgres under the supervisor, migrations. */
  db = spot_database_new (NULL, state, TRUE);
  g_assert_true (spot_database_is_embedded (db));
  g_assert_true (spot_database_start_sync (db, 120000, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (spot_database_get_conninfo (db), state));
  g_assert_true (spot_database_is_connected (db));
  g_assert_true (g_file_test (pg_version, G_FILE_TEST_EXISTS));
  setting = spot_repository_run_sync (spot_database_get_repository (db), get_setting, NULL, &error);
  g_assert_no_error (error);
  /* No TCP listener; we came in over the unix socket; migrated. */
  g_assert_cmpstr (setting, ==, "|unix|0");
  g_clear_pointer (&setting, g_free);
  g_assert_nonnull (spot_repository_run_sync (spot_database_get_repository (db), add_product, NULL, &error));
  if (geteuid () == 0)
    {
      struct stat st;
      g_autofree char *data = g_build_filename (state, "postgres", NULL);
      g_assert_cmpint (stat (data, &st), ==, 0);
      g_assert_cmpuint (st.st_uid, !=, 0); /* owned by the postgres user */
    }
  g_assert_cmpint (stat (pg_version, &before), ==, 0);
  spot_database_stop (db, 10000);
  g_assert_false (spot_database_is_connected (db));
  g_clear_object (&db);

  /* Second start: no new initdb, data kept, migrations already applied. */
  db = spot_database_new (NULL, state, TRUE);
  g_assert_true (spot_database_start_sync (db, 120000, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stat (pg_version, &after), ==, 0);
  g_assert_cmpint (before.st_ino, ==, after.st_ino);
  g_assert_cmpint (before.st_mtime, ==, after.st_mtime);
  setting = spot_repository_run_sync (spot_database_get_repository (db), get_setting, NULL, &error);
  g_assert_cmpstr (setting, ==, "|unix|1");
  spot_database_stop (db, 10000);
  g_clear_object (&db);
  spot_test_remove_tree (state);
}

static void
test_database_url_uses_that_server (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestPostgres) pg = spot_test_postgres_start (&error);
  g_autoptr (SpotDatabase) db = NULL;
  g_autofree char *setting = NULL;

  g_assert_no_error (error);
  db = spot_database_new (spot_test_postgres_conninfo (pg), NULL, TRUE);
  g_assert_false (spot_database_is_embedded (db));
  g_assert_true (spot_database_start_sync (db, 60000, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (spot_database_get_conninfo (db), ==, spot_test_postgres_conninfo (pg));
  setting = spot_repository_run_sync (spot_database_get_repository (db), get_setting, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (setting, "|0")); /* migrated, empty */
  spot_database_stop (db, 5000);
}

static void
test_unreachable_database_url_fails_the_start (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotDatabase) db = spot_database_new ("host=/nonexistent-spot-socket-dir dbname=x connect_timeout=2", NULL, TRUE);

  g_assert_false (spot_database_start_sync (db, 30000, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_DATABASE);
  g_assert_nonnull (strstr (error->message, "nonexistent-spot-socket-dir"));
  g_assert_false (spot_database_is_connected (db));
}

static void
test_embedded_start_past_deadline_reports_timeout (void)
{
  g_autofree char *state = make_state_dir ();
  g_autofree char *prefix = g_strdup_printf ("the embedded PostgreSQL in %s", state);
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotDatabase) db = spot_database_new (NULL, state, TRUE);

  /* initdb alone takes far longer than 1 ms. */
  g_assert_false (spot_database_start_sync (db, 1, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_nonnull (
      strstr (error->message, " was not started and migrated within 1 ms; its last output:\n"));
  g_assert_false (spot_database_is_connected (db));
  spot_database_stop (db, 10000);
  g_clear_object (&db);
  spot_test_remove_tree (state);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  spot_test_require_program ("postgres");
  g_test_add_func ("/store/database/embedded with several shards is refused",
                   test_embedded_with_several_shards_is_refused);
  g_test_add_func ("/store/database/embedded cluster lifecycle", test_embedded_cluster_lifecycle);
  g_test_add_func ("/store/database/database url uses that server", test_database_url_uses_that_server);
  g_test_add_func ("/store/database/embedded start past its deadline reports a timeout",
                   test_embedded_start_past_deadline_reports_timeout);
  g_test_add_func ("/store/database/unreachable database url fails the start",
                   test_unreachable_database_url_fails_the_start);
  return g_test_run ();
}
