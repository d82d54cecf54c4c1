#define G_LOG_DOMAIN "spot-store"

#include "store/spot-migrations.h"

#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/spot-error.h"
#include "store/spot-pg.h"
#include "store/spot-store-resources.h"
#ifdef SPOT_HAVE_SUPERVISOR
#include "supervisor/spot-embedded-postgres.h"
#endif

#define RESOURCE_DIR "/org/spotcanvas/SpotCanvas/migrations/"

void
spot_migration_free (SpotMigration *m)
{
  if (m == NULL)
    return;
  g_free (m->name);
  g_free (m->up_sql);
  g_free (m->down_sql);
  g_free (m);
}

void
spot_migration_status_free (SpotMigrationStatus *s)
{
  if (s == NULL)
    return;
  g_free (s->name);
  g_free (s->applied_at);
  g_free (s);
}

/* "001_initial_schema.up.sql" -> 1, "initial_schema", TRUE */
static gboolean
parse_file_name (const char *file, guint *version, char **name, gboolean *up, GError **error)
{
  const char *us = strchr (file, '_');
  const char *suffix = NULL;
  char *end = NULL;
  guint64 v;

  if (g_str_has_suffix (file, ".up.sql"))
    {
      suffix = file + strlen (file) - strlen (".up.sql");
      *up = TRUE;
    }
  else if (g_str_has_suffix (file, ".down.sql"))
    {
      suffix = file + strlen (file) - strlen (".down.sql");
      *up = FALSE;
    }
  if (suffix == NULL || us == NULL || us == file || us + 1 >= suffix || !g_ascii_isdigit (file[0]))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "migration file \"%s\" is not named NNN_name.up.sql or NNN_name.down.sql", file);
      return FALSE;
    }
  v = g_ascii_strtoull (file, &end, 10);
  if (end != us || v == 0 || v > G_MAXINT32)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "migration file \"%s\" does not start with a positive version number", file);
      return FALSE;
    }
  *version = (guint) v;
  *name = g_strndup (us + 1, (gsize) (suffix - us - 1));
  return TRUE;
}

static int
migration_cmp (gconstpointer a, gconstpointer b)
{
  const SpotMigration *ma = *(SpotMigration *const *) a;
  const SpotMigration *mb = *(SpotMigration *const *) b;
  return ma->version < mb->version ? -1 : ma->version > mb->version;
}

/* Adds one file's text to @set (keyed by version). */
static gboolean
add_file (GHashTable *set, const char *file, char *text, GError **error)
{
  guint version = 0;
  g_autofree char *name = NULL;
  gboolean up = FALSE;
  SpotMigration *m;

  if (!parse_file_name (file, &version, &name, &up, error))
    {
      g_free (text);
      return FALSE;
    }
  m = g_hash_table_lookup (set, GUINT_TO_POINTER (version));
  if (m == NULL)
    {
      m = g_new0 (SpotMigration, 1);
      m->version = version;
      m->name = g_steal_pointer (&name);
      g_hash_table_insert (set, GUINT_TO_POINTER (version), m);
    }
  else if (strcmp (m->name, name) != 0 || (up ? m->up_sql : m->down_sql) != NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "migration version %03u is used twice (\"%s\" and \"%s\")", version, m->name,
                   file);
      g_free (text);
      return FALSE;
    }
  if (up)
    m->up_sql = text;
  else
    m->down_sql = text;
  return TRUE;
}

static GPtrArray *
finish_set (GHashTable *set, const char *where, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) spot_migration_free);
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, set);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      SpotMigration *m = value;
      g_hash_table_iter_steal (&it);
      g_ptr_array_add (out, m);
      if (m->up_sql == NULL)
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND,
                       "migration %03u_%s has no .up.sql in %s", m->version, m->name, where);
          return NULL;
        }
    }
  g_ptr_array_sort (out, migration_cmp);
  return g_steal_pointer (&out);
}

GPtrArray *
spot_migrations_load_builtin (GError **error)
{
  GResource *resource = spot_store_get_resource ();
  g_autoptr (GHashTable) set = g_hash_table_new_full (NULL, NULL, NULL,
                                                      (GDestroyNotify) spot_migration_free);
  g_auto (GStrv) files = g_resource_enumerate_children (resource, RESOURCE_DIR,
                                                        G_RESOURCE_LOOKUP_FLAGS_NONE, error);

  if (files == NULL)
    return NULL;
  for (guint i = 0; files[i] != NULL; i++)
    {
      g_autofree char *path = g_strconcat (RESOURCE_DIR, files[i], NULL);
      g_autoptr (GBytes) bytes = g_resource_lookup_data (resource, path,
                                                         G_RESOURCE_LOOKUP_FLAGS_NONE, error);
      if (bytes == NULL)
        return NULL;
      if (!g_str_has_suffix (files[i], ".sql"))
        continue;
      if (!add_file (set, files[i], g_strndup (g_bytes_get_data (bytes, NULL),
                                               g_bytes_get_size (bytes)), error))
        return NULL;
    }
  return finish_set (set, "the built-in resources", error);
}

GPtrArray *
spot_migrations_load_dir (const char *dir, GError **error)
{
  g_autoptr (GHashTable) set = g_hash_table_new_full (NULL, NULL, NULL,
                                                      (GDestroyNotify) spot_migration_free);
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  const char *file;

  if (d == NULL)
    return NULL;
  while ((file = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = NULL;
      char *text = NULL;
      if (!g_str_has_suffix (file, ".sql"))
        continue;
      path = g_build_filename (dir, file, NULL);
      if (!g_file_get_contents (path, &text, NULL, error))
        return NULL;
      if (!add_file (set, file, text, error))
        return NULL;
    }
  return finish_set (set, dir, error);
}

/* Takes the session advisory lock and makes sure schema_migrations exists. */
static gboolean
lock_and_prepare (PGconn *conn, GError **error)
{
  char sql[160];

  g_snprintf (sql, sizeof sql, "SELECT pg_advisory_lock(%" G_GINT64_FORMAT ")",
              SPOT_MIGRATIONS_LOCK_KEY);
  if (!spot_pg_exec (conn, sql, error))
    {
      g_prefix_error (error, "cannot take the migration lock: ");
      return FALSE;
    }
  /* Created under the lock: concurrent CREATE TABLE IF NOT EXISTS can race. */
  if (!spot_pg_exec (conn,
                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " version bigint PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())",
                     error))
    {
      g_prefix_error (error, "cannot create schema_migrations: ");
      return FALSE;
    }
  return TRUE;
}

static void
unlock (PGconn *conn)
{
  char sql[160];
  PGresult *r;

  if (PQstatus (conn) != CONNECTION_OK)
    return;
  if (PQtransactionStatus (conn) != PQTRANS_IDLE)
    PQclear (PQexec (conn, "ROLLBACK"));
  g_snprintf (sql, sizeof sql, "SELECT pg_advisory_unlock(%" G_GINT64_FORMAT ")",
              SPOT_MIGRATIONS_LOCK_KEY);
  r = PQexec (conn, sql);
  PQclear (r);
}

static GHashTable *
applied_versions (PGconn *conn, GError **error)
{
  g_autoptr (PGresult) res = spot_pg_exec_params (
      conn, "SELECT version, applied_at::text FROM schema_migrations ORDER BY version", 0, NULL,
      error);
  GHashTable *out;

  if (res == NULL)
    return NULL;
  out = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  for (int r = 0; r < PQntuples (res); r++)
    g_hash_table_insert (out, GUINT_TO_POINTER ((guint) strtoul (PQgetvalue (res, r, 0), NULL, 10)),
                         g_strdup (PQgetvalue (res, r, 1)));
  return out;
}

/* Runs @sql and the bookkeeping statement in one transaction. */
static gboolean
run_in_transaction (PGconn *conn,
                    const char *sql,
                    const char *record_sql,
                    const SpotMigration *m,
                    const char *direction,
                    GError **error)
{
  char version[16];
  const char *values[2] = { version, m->name };
  g_autoptr (PGresult) rec = NULL;

  g_snprintf (version, sizeof version, "%u", m->version);
  if (!spot_pg_exec (conn, "BEGIN", error) || !spot_pg_exec (conn, sql, error)
      || (rec = spot_pg_exec_params (conn, record_sql, 2, values, error)) == NULL
      || !spot_pg_exec (conn, "COMMIT", error))
    {
      g_prefix_error (error, "migration %03u_%s (%s) failed, rolled back: ", m->version, m->name,
                      direction);
      if (PQstatus (conn) == CONNECTION_OK && PQtransactionStatus (conn) != PQTRANS_IDLE)
        PQclear (PQexec (conn, "ROLLBACK"));
      return FALSE;
    }
  return TRUE;
}

gboolean
spot_migrations_up (PGconn *conn,
                    GPtrArray *migrations,
                    guint max_steps,
                    guint *n_applied,
                    GError **error)
{
  g_autoptr (GHashTable) applied = NULL;
  guint done = 0;
  gboolean ok = TRUE;

  if (n_applied != NULL)
    *n_applied = 0;
  if (!lock_and_prepare (conn, error))
    {
      unlock (conn);
      return FALSE;
    }
  applied = applied_versions (conn, error);
  if (applied == NULL)
    {
      unlock (conn);
      return FALSE;
    }
  for (guint i = 0; i < migrations->len && (max_steps == 0 || done < max_steps); i++)
    {
      const SpotMigration *m = g_ptr_array_index (migrations, i);
      if (g_hash_table_contains (applied, GUINT_TO_POINTER (m->version)))
        continue;
      g_info ("applying migration %03u_%s", m->version, m->name);
      if (!run_in_transaction (conn, m->up_sql,
                               "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m,
                               "up", error))
        {
          ok = FALSE;
          break;
        }
      done++;
    }
  unlock (conn);
  if (n_applied != NULL)
    *n_applied = done;
  return ok;
}

/* Newest first. */
static int
version_desc_cmp (gconstpointer a, gconstpointer b)
{
  guint va = GPOINTER_TO_UINT (a), vb = GPOINTER_TO_UINT (b);
  return va > vb ? -1 : va < vb;
}

gboolean
spot_migrations_down (PGconn *conn,
                      GPtrArray *migrations,
                      guint steps,
                      guint *n_reverted,
                      GError **error)
{
  g_autoptr (GHashTable) applied = NULL;
  g_autoptr (GList) versions = NULL;
  guint done = 0;
  gboolean ok = TRUE;

  if (n_reverted != NULL)
    *n_reverted = 0;
  if (!lock_and_prepare (conn, error))
    {
      unlock (conn);
      return FALSE;
    }
  applied = applied_versions (conn, error);
  if (applied == NULL)
    {
      unlock (conn);
      return FALSE;
    }
  versions = g_list_sort (g_hash_table_get_keys (applied), version_desc_cmp);
  for (GList *l = versions; l != NULL && done < steps; l = l->next)
    {
      guint v = GPOINTER_TO_UINT (l->data);
      const SpotMigration *m = NULL;
      for (guint i = 0; i < migrations->len; i++)
        if (((SpotMigration *) g_ptr_array_index (migrations, i))->version == v)
          m = g_ptr_array_index (migrations, i);
      if (m == NULL || m->down_sql == NULL)
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND,
                       "cannot revert migration %03u: %s", v,
                       m == NULL ? "this binary does not know it (applied by a newer version)"
                                 : "it has no .down.sql");
          ok = FALSE;
          break;
        }
      g_info ("reverting migration %03u_%s", m->version, m->name);
      if (!run_in_transaction (conn, m->down_sql,
                               "DELETE FROM schema_migrations WHERE version = $1 AND name = $2", m,
                               "down", error))
        {
          ok = FALSE;
          break;
        }
      done++;
    }
  unlock (conn);
  if (n_reverted != NULL)
    *n_reverted = done;
  return ok;
}

static int
status_cmp (gconstpointer a, gconstpointer b)
{
  const SpotMigrationStatus *sa = *(SpotMigrationStatus *const *) a;
  const SpotMigrationStatus *sb = *(SpotMigrationStatus *const *) b;
  return sa->version < sb->version ? -1 : sa->version > sb->version;
}

GPtrArray *
spot_migrations_status (PGconn *conn, GPtrArray *migrations, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (
      (GDestroyNotify) spot_migration_status_free);
  g_autoptr (GHashTable) applied = NULL;
  g_autoptr (PGresult) exists = spot_pg_exec_params (
      conn, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL, error);
  GHashTableIter it;
  gpointer key, value;

  if (exists == NULL)
    return NULL;
  if (PQgetvalue (exists, 0, 0)[0] == 't')
    applied = applied_versions (conn, error);
  else
    applied = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  if (applied == NULL)
    return NULL;
  for (guint i = 0; i < migrations->len; i++)
    {
      const SpotMigration *m = g_ptr_array_index (migrations, i);
      SpotMigrationStatus *s = g_new0 (SpotMigrationStatus, 1);
      s->version = m->version;
      s->name = g_strdup (m->name);
      s->applied_at = g_strdup (g_hash_table_lookup (applied, GUINT_TO_POINTER (m->version)));
      s->applied = s->applied_at != NULL;
      g_hash_table_remove (applied, GUINT_TO_POINTER (m->version));
      g_ptr_array_add (out, s);
    }
  g_hash_table_iter_init (&it, applied);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      SpotMigrationStatus *s = g_new0 (SpotMigrationStatus, 1);
      s->version = GPOINTER_TO_UINT (key);
      s->applied = TRUE;
      s->applied_at = g_strdup (value);
      g_ptr_array_add (out, s);
    }
  g_ptr_array_sort (out, status_cmp);
  return g_steal_pointer (&out);
}

/* The migrate subcommand */

static gboolean
parse_steps (const char *text, guint *out)
{
  char *end = NULL;
  guint64 v;

  if (text == NULL || !g_ascii_isdigit (text[0]))
    return FALSE;
  v = g_ascii_strtoull (text, &end, 10);
  if (*end != '\0' || v == 0 || v > G_MAXUINT)
    return FALSE;
  *out = (guint) v;
  return TRUE;
}

static int
migrate_on (const char *conninfo, const char *action, guint steps)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) migrations = spot_migrations_load_builtin (&error);
  g_autoptr (PGconn) conn = NULL;
  guint n = 0;

  if (migrations == NULL)
    {
      fprintf (stderr, "migrate: %s\n", error->message);
      return 1;
    }
  conn = spot_pg_connect (conninfo, "spot-canvas migrate", &error);
  if (conn == NULL)
    {
      fprintf (stderr, "migrate: %s\n", error->message);
      return 1;
    }
  if (strcmp (action, "up") == 0 || strcmp (action, "down") == 0)
    {
      gboolean up = strcmp (action, "up") == 0;
      gboolean ok = up ? spot_migrations_up (conn, migrations, steps, &n, &error)
                       : spot_migrations_down (conn, migrations, steps == 0 ? 1 : steps, &n,
                                               &error);
      printf ("%s %u migration%s\n", up ? "applied" : "reverted", n, n == 1 ? "" : "s");
      if (!ok)
        {
          fprintf (stderr, "migrate: %s\n", error->message);
          return 1;
        }
    }
  {
    g_autoptr (GPtrArray) status = spot_migrations_status (conn, migrations, &error);
    if (status == NULL)
      {
        fprintf (stderr, "migrate: %s\n", error->message);
        return 1;
      }
    for (guint i = 0; i < status->len; i++)
      {
        const SpotMigrationStatus *s = g_ptr_array_index (status, i);
        printf ("%03u %-32s %s%s\n", s->version, s->name != NULL ? s->name : "(unknown to this binary)",
                s->applied ? "applied " : "pending", s->applied ? s->applied_at : "");
      }
  }
  return 0;
}

int
spot_migrate_main (const char *conninfo, const char *state_dir, int argc, char **argv)
{
  const char *action = argc > 0 ? argv[0] : NULL;
  guint steps = 0;

  if (action == NULL
      || (strcmp (action, "up") != 0 && strcmp (action, "down") != 0
          && strcmp (action, "status") != 0)
      || argc > 2 || (argc == 2 && strcmp (action, "status") == 0)
      || (argc == 2 && !parse_steps (argv[1], &steps)))
    {
      fprintf (stderr, "usage: spot-canvas migrate up [N] | down [N] | status\n"
                       "  up: apply pending migrations (all, or the next N)\n"
                       "  down: revert the newest N applied migrations (default 1)\n"
                       "  status: list migrations and whether each is applied\n");
      return 2;
    }
  if (conninfo != NULL && conninfo[0] != '\0')
    return migrate_on (conninfo, action, steps);
#ifdef SPOT_HAVE_SUPERVISOR
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (SpotEmbeddedPostgres) pg = NULL;
    int rc;

    if (state_dir == NULL)
      {
        fprintf (stderr, "migrate: DATABASE_URL is not set and there is no state directory\n");
        return 2;
      }
    pg = spot_embedded_postgres_new (state_dir);
    if (!spot_embedded_postgres_start_sync (pg, 60000, &error))
      {
        fprintf (stderr, "migrate: cannot start the embedded PostgreSQL in %s: %s\n", state_dir,
                 error->message);
        return 1;
      }
    rc = migrate_on (spot_embedded_postgres_get_conninfo (pg), action, steps);
    spot_embedded_postgres_stop (pg, 10000);
    return rc;
  }
#else
  fprintf (stderr, "migrate: DATABASE_URL is not set and this build has no embedded PostgreSQL\n");
  return 2;
#endif
}
