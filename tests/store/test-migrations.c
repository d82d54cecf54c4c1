/* Integration tests of the migration runner against a real PostgreSQL. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

#include "core/spot-error.h"
#include "spot-test-harness.h"
#include "store/spot-migrations.h"
#include "store/spot-pg.h"

static SpotTestPostgres *pg;
static char *self_exe;

static PGconn *
connect_test (void)
{
  g_autoptr (GError) error = NULL;
  PGconn *c = spot_pg_connect (spot_test_postgres_conninfo (pg), "test", &error);
  g_assert_no_error (error);
  return c;
}

static gboolean
table_exists (PGconn *c, const char *table)
{
  const char *v[] = { table };
  g_autoptr (GError) error = NULL;
  g_autoptr (PGresult) r = spot_pg_exec_params (c, "SELECT to_regclass($1) IS NOT NULL", 1, v, &error);
  g_assert_no_error (error);
  return PQgetvalue (r, 0, 0)[0] == 't';
}

static char *
query_text (PGconn *c, const char *sql)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PGresult) r = spot_pg_exec_params (c, sql, 0, NULL, &error);
  g_assert_no_error (error);
  return g_strdup (PQgetvalue (r, 0, 0));
}

/* Runs `<self> --child-migrate ARGS...` and returns its exit status. */
static int
run_child (const char *const *args, char **out)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  int status = -1;

  g_ptr_array_add (argv, self_exe);
  g_ptr_array_add (argv, "--child-migrate");
  g_ptr_array_add (argv, (gpointer) spot_test_postgres_conninfo (pg));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, out,
                               NULL, &status, &error));
  g_assert_no_error (error);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void
test_up_down_up (void)
{
  g_autoptr (PGconn) c = connect_test ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) migrations = spot_migrations_load_builtin (&error);
  g_autoptr (GPtrArray) status = NULL;
  guint n = 0;

  g_assert_no_error (error);
  g_assert_cmpuint (migrations->len, >=, 1);
  g_assert_cmpuint (((SpotMigration *) migrations->pdata[0])->version, ==, 1);
  g_assert_cmpstr (((SpotMigration *) migrations->pdata[0])->name, ==, "initial_schema");

  status = spot_migrations_status (c, migrations, &error);
  g_assert_no_error (error);
  g_assert_false (((SpotMigrationStatus *) status->pdata[0])->applied);
  g_clear_pointer (&status, g_ptr_array_unref);

  g_assert_true (spot_migrations_up (c, migrations, 0, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, migrations->len);
  g_assert_true (table_exists (c, "candles"));
  g_assert_true (table_exists (c, "products"));
  /* Again: nothing to do. */
  g_assert_true (spot_migrations_up (c, migrations, 0, &n, &error));
  g_assert_cmpuint (n, ==, 0);

  g_assert_true (spot_migrations_down (c, migrations, migrations->len, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, migrations->len);
  g_assert_false (table_exists (c, "candles"));
  g_assert_false (table_exists (c, "products"));
  {
    g_autofree char *count = query_text (c, "SELECT count(*) FROM schema_migrations");
    g_assert_cmpstr (count, ==, "0");
  }

  g_assert_true (spot_migrations_up (c, migrations, 0, &n, &error));
  g_assert_cmpuint (n, ==, migrations->len);
  g_assert_true (table_exists (c, "candles"));
  status = spot_migrations_status (c, migrations, &error);
  g_assert_true (((SpotMigrationStatus *) status->pdata[0])->applied);
  g_assert_nonnull (((SpotMigrationStatus *) status->pdata[0])->applied_at);
}

static void
test_three_processes_apply_each_migration_once (void)
{
  g_autoptr (PGconn) c = connect_test ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) migrations = spot_migrations_load_builtin (&error);
  GPid pids[3];
  int status[3];

  /* Start from an empty database. */
  g_assert_true (spot_migrations_down (c, migrations, 100, NULL, &error) || error != NULL);
  g_clear_error (&error);
  g_assert_false (table_exists (c, "candles"));
  g_assert_true (spot_pg_exec (c, "DROP TABLE schema_migrations", &error));

  for (int i = 0; i < 3; i++)
    {
      const char *argv[] = { self_exe, "--child-migrate", spot_test_postgres_conninfo (pg), "up", NULL };
      g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                    &pids[i], &error));
      g_assert_no_error (error);
    }
  for (int i = 0; i < 3; i++)
    {
      g_assert_cmpint (waitpid (pids[i], &status[i], 0), ==, pids[i]);
      g_spawn_close_pid (pids[i]);
      g_assert_true (WIFEXITED (status[i]));
      g_assert_cmpint (WEXITSTATUS (status[i]), ==, 0);
    }
  {
    g_autofree char *rows = query_text (c, "SELECT count(*) FROM schema_migrations");
    g_autofree char *distinct = query_text (c, "SELECT count(DISTINCT version) FROM schema_migrations");
    g_autofree char *expect = g_strdup_printf ("%u", migrations->len);
    g_assert_cmpstr (rows, ==, expect);
    g_assert_cmpstr (distinct, ==, expect);
  }
  g_assert_true (table_exists (c, "candles"));
}

static void
test_migrate_command_prints_status_and_checks_usage (void)
{
  g_autofree char *out = NULL;
  const char *status[] = { "status", NULL };
  const char *bad[] = { "sideways", NULL };
  const char *bad_n[] = { "down", "zero", NULL };
  const char *down[] = { "down", NULL };
  const char *up[] = { "up", "1", NULL };

  g_assert_cmpint (run_child (status, &out), ==, 0);
  g_assert_nonnull (strstr (out, "001 initial_schema"));
  g_assert_nonnull (strstr (out, "applied"));
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run_child (down, &out), ==, 0);
  g_assert_nonnull (strstr (out, "reverted 1 migration"));
  g_assert_nonnull (strstr (out, "pending"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_child (up, &out), ==, 0);
  g_assert_nonnull (strstr (out, "applied 1 migration"));
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (run_child (bad, &out), ==, 2);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_child (bad_n, &out), ==, 2);
}

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, text, -1, &error));
}

static void
test_failing_migration_rolls_back_entirely (void)
{
  g_autoptr (PGconn) c = connect_test ();
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("spot-migrations-XXXXXX", &error);
  g_autoptr (GPtrArray) migrations = NULL;
  guint n = 0;

  write_file (dir, "001_initial_schema.up.sql", "SELECT 1");
  write_file (dir, "002_half.up.sql", "CREATE TABLE half_done (x int); SELECT no_such_column FROM half_done;");
  write_file (dir, "002_half.down.sql", "DROP TABLE half_done;");
  write_file (dir, "README", "ignored");
  migrations = spot_migrations_load_dir (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (migrations->len, ==, 2);

  /* 001 is applied already (same version, built-in); 002 fails. */
  g_assert_false (spot_migrations_up (c, migrations, 0, &n, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_DATABASE);
  g_assert_nonnull (strstr (error->message, "002_half"));
  g_assert_nonnull (strstr (error->message, "no_such_column"));
  g_assert_cmpuint (n, ==, 0);
  g_clear_error (&error);
  g_assert_false (table_exists (c, "half_done"));
  {
    g_autofree char *count = query_text (c, "SELECT count(*) FROM schema_migrations WHERE version = 2");
    g_assert_cmpstr (count, ==, "0");
  }
  /* The lock was released: another session can take it at once. */
  {
    g_autofree char *got = query_text (c, "SELECT pg_try_advisory_lock(6003947473498306386)");
    g_assert_cmpstr (got, ==, "t");
    g_free (query_text (c, "SELECT pg_advisory_unlock(6003947473498306386)::text"));
  }
  for (const char *const *f = (const char *const[]) { "001_initial_schema.up.sql", "002_half.up.sql",
                                                       "002_half.down.sql", "README", NULL };
       *f != NULL; f++)
    {
      g_autofree char *path = g_build_filename (dir, *f, NULL);
      g_remove (path);
    }
  g_rmdir (dir);
}

static void
test_malformed_migration_names_are_refused (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("spot-migrations-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "initial.up.sql", NULL);
  g_autoptr (GPtrArray) migrations = NULL;

  write_file (dir, "initial.up.sql", "SELECT 1");
  migrations = spot_migrations_load_dir (dir, &error);
  g_assert_null (migrations);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "initial.up.sql"));
  g_clear_error (&error);
  g_remove (path);
  g_clear_pointer (&path, g_free);

  write_file (dir, "003_only_down.down.sql", "SELECT 1");
  migrations = spot_migrations_load_dir (dir, &error);
  g_assert_null (migrations);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "003_only_down"));
  path = g_build_filename (dir, "003_only_down.down.sql", NULL);
  g_remove (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int rc;

  if (argc >= 3 && strcmp (argv[1], "--child-migrate") == 0)
    return spot_migrate_main (argv[2], NULL, argc - 3, argv + 3);

  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  spot_test_require_program ("postgres");
  self_exe = g_canonicalize_filename (argv[0], NULL);
  pg = spot_test_postgres_start (&error);
  g_assert_no_error (error);

  g_test_add_func ("/store/migrations/up down up", test_up_down_up);
  g_test_add_func ("/store/migrations/three processes apply each migration once",
                   test_three_processes_apply_each_migration_once);
  g_test_add_func ("/store/migrations/migrate command prints status and checks usage",
                   test_migrate_command_prints_status_and_checks_usage);
  g_test_add_func ("/store/migrations/failing migration rolls back entirely",
                   test_failing_migration_rolls_back_entirely);
  g_test_add_func ("/store/migrations/malformed names are refused",
                   test_malformed_migration_names_are_refused);
  rc = g_test_run ();
  spot_test_postgres_free (pg);
  g_free (self_exe);
  return rc;
}
