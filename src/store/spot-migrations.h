/* spot-migrations.h: the schema migration runner.
 *
 * Migrations are migrations/NNN_name.up.sql and NNN_name.down.sql, compiled
 * into the binary as a GResource (so it never depends on an install path) and
 * also installed to $datadir/spot-canvas/migrations for reading. Each one runs
 * in its own transaction and is recorded in schema_migrations; a session
 * advisory lock makes several instances starting at once apply each exactly
 * once (the others wait, then find it applied).
 *
 * Thread safety: the runner functions block on PostgreSQL: call them from a
 * database thread, the `migrate` command or tests, never from the main loop.
 * Loading is pure and may run anywhere.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

/* The advisory lock key ("SPOTMIGR" as a bigint). */
#define SPOT_MIGRATIONS_LOCK_KEY G_GINT64_CONSTANT (0x53504F544D494752)

typedef struct {
  guint version;
  char *name;     /* "initial_schema" */
  char *up_sql;
  char *down_sql; /* NULL when the migration has no .down.sql */
} SpotMigration;

void spot_migration_free (SpotMigration *migration);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotMigration, spot_migration_free)

/* The migrations built into the binary, by version. */
GPtrArray *spot_migrations_load_builtin (GError **error);
/* The migrations in @dir (files NNN_name.up.sql / .down.sql), by version.
 * Fails on a malformed name, a duplicate version or a missing .up.sql. */
GPtrArray *spot_migrations_load_dir (const char *dir, GError **error);

/* Applies pending migrations in order, at most @max_steps (0: all). */
gboolean spot_migrations_up (PGconn *conn,
                             GPtrArray *migrations,
                             guint max_steps,
                             guint *n_applied,
                             GError **error);
/* Reverts the @steps most recent applied migrations, newest first. */
gboolean spot_migrations_down (PGconn *conn,
                               GPtrArray *migrations,
                               guint steps,
                               guint *n_reverted,
                               GError **error);

typedef struct {
  guint version;
  char *name;       /* NULL for a version applied by a newer binary */
  gboolean applied;
  char *applied_at; /* PostgreSQL text, NULL when pending */
} SpotMigrationStatus;

void spot_migration_status_free (SpotMigrationStatus *status);

/* Every known or applied version, by version. */
GPtrArray *spot_migrations_status (PGconn *conn, GPtrArray *migrations, GError **error);

/* `spot-canvas migrate up [N] | down [N] | status`. @argv[0] is the action.
 * With @conninfo NULL it starts the embedded cluster of @state_dir for the
 * duration of the command. Prints one line per migration to stdout, errors to
 * stderr; returns the process exit code (0 ok, 1 failure, 2 bad usage).
 * Main thread; blocks. */
int spot_migrate_main (const char *conninfo, const char *state_dir, int argc, char **argv);

G_END_DECLS
