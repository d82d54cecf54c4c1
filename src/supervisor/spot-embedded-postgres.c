/* spot-embedded-postgres.c: a private PostgreSQL cluster under a SpotSupervisor.
 *
 * Layout: <state_dir>/postgres is the data directory, <state_dir>/pg-socket
 * holds the unix socket and its lock file. initdb writes into
 * <state_dir>/postgres.initdb and the result is renamed into place, so a
 * crash during initdb never leaves a half-made cluster that blocks the next
 * start.
 *
 * As root, both directories belong to Debian's `postgres` user (PostgreSQL
 * refuses root), and every directory above them must be traversable by that
 * user: the state directory itself is given o+x when we own it (only names
 * already known can be reached through it), any other parent that blocks
 * the way is reported as an error naming it (e.g. /root, or a 0700 temp dir).
 */
#define G_LOG_DOMAIN "spot-supervisor"

#include "supervisor/spot-embedded-postgres.h"

#include "core/spot-async.h"
#include "core/spot-error.h"
#include "core/spot-thread.h"
#include "supervisor/spot-supervisor.h"

#include <errno.h>
#include <ftw.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG_DATABASE "spotcanvas"
#define PG_SUPERUSER "postgres"
#define PG_PORT 5432
#define PG_START_ATTEMPTS 4 /* exits before the first ready that fail a start */
#define PG_UNIX_PATH_MAX 107

struct _SpotEmbeddedPostgres
{
  GObject parent_instance;

  GMainContext *context;
  char *state_dir;
  char *data_dir;
  char *initdb_dir;
  char *socket_dir;
  char *bindir;
  char *run_as; /* user name when we are root, else NULL */
  char *conninfo;
  char *admin_conninfo;
  gboolean durable;

  SpotSupervisor *initdb;
  SpotSupervisor *supervisor;

  GTask *start_task;
  gulong start_cancel_id;
  guint early_exits;
  GCancellable *ensure_cancellable;
};

G_DEFINE_TYPE (SpotEmbeddedPostgres, spot_embedded_postgres, G_TYPE_OBJECT)

static void finish_start (SpotEmbeddedPostgres *self, GError *error);

/* ---- paths and users ---- */

static gboolean
bindir_usable (const char *dir)
{
  g_autofree char *initdb = g_build_filename (dir, "initdb", NULL);
  g_autofree char *postgres = g_build_filename (dir, "postgres", NULL);
  return g_file_test (initdb, G_FILE_TEST_IS_EXECUTABLE)
         && g_file_test (postgres, G_FILE_TEST_IS_EXECUTABLE);
}

/* SPOT_POSTGRES_BINDIR, else the highest /usr/lib/postgresql/N/bin (Debian
 * keeps major versions side by side), else `pg_config --bindir`. */
static char *
find_bindir (GError **error)
{
  const char *env = g_getenv ("SPOT_POSTGRES_BINDIR");
  g_autoptr (GDir) dir = NULL;
  g_autofree char *best = NULL;
  guint64 best_version = 0;
  const char *name;
  g_autofree char *out = NULL;

  if (env != NULL && *env != '\0')
    {
      if (bindir_usable (env))
        return g_strdup (env);
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND,
                   "SPOT_POSTGRES_BINDIR=%s has no initdb and postgres", env);
      return NULL;
    }
  dir = g_dir_open ("/usr/lib/postgresql", 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *candidate = g_build_filename ("/usr/lib/postgresql", name, "bin", NULL);
      guint64 version = g_ascii_strtoull (name, NULL, 10);
      if (version > best_version && bindir_usable (candidate))
        {
          best_version = version;
          g_free (best);
          best = g_steal_pointer (&candidate);
        }
    }
  if (best != NULL)
    return g_steal_pointer (&best);
  /* Rare fallback (non-Debian layout): a short synchronous spawn. */
  if (g_spawn_command_line_sync ("pg_config --bindir", &out, NULL, NULL, NULL) && out != NULL)
    {
      g_strstrip (out);
      if (bindir_usable (out))
        return g_steal_pointer (&out);
    }
  g_set_error (
      error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND,
      "no PostgreSQL server binaries (initdb, postgres) in /usr/lib/postgresql/*/bin or pg_config "
      "--bindir: install the Debian package postgresql");
  return NULL;
}

static gboolean
user_can_traverse (const struct stat *st, uid_t uid, const gid_t *groups, int n_groups)
{
  if (uid == 0)
    return TRUE;
  if (st->st_uid == uid)
    return (st->st_mode & S_IXUSR) != 0;
  for (int i = 0; i < n_groups; i++)
    if (groups[i] == st->st_gid)
      return (st->st_mode & S_IXGRP) != 0;
  return (st->st_mode & S_IXOTH) != 0;
}

/* Creates @path if missing and hands it to @pw (mode 0700). */
static gboolean
make_owned_dir (const char *path, const struct passwd *pw, GError **error)
{
  if (g_mkdir_with_parents (path, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "cannot create %s: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  if (pw != NULL && chown (path, pw->pw_uid, pw->pw_gid) != 0)
    {
      int saved = errno;
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "cannot give %s to user %s: %s", path,
                   pw->pw_name, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static int
remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    nftw (path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static gboolean
prepare_directories (SpotEmbeddedPostgres *self, GError **error)
{
  struct passwd pw_buf;
  struct passwd *pw = NULL;
  char buffer[4096];
  gid_t groups[64];
  int n_groups = G_N_ELEMENTS (groups);
  struct stat st;
  g_autofree char *dir = NULL;

  if (self->run_as != NULL)
    {
      getpwnam_r (self->run_as, &pw_buf, buffer, sizeof buffer, &pw);
      if (pw == NULL)
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND,
                       "PostgreSQL refuses to run as root and there is no user “%s” to run it as "
                       "(install the Debian package postgresql, or set DATABASE_URL)",
                       self->run_as);
          return FALSE;
        }
      if (getgrouplist (pw->pw_name, pw->pw_gid, groups, &n_groups) < 0)
        n_groups = 0;
    }

  if (strlen (self->socket_dir) + strlen ("/.s.PGSQL.5432.lock") > PG_UNIX_PATH_MAX)
    {
      g_set_error (
          error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
          "state directory %s is too long for a unix socket path (at most %d bytes in all)",
          self->state_dir, PG_UNIX_PATH_MAX);
      return FALSE;
    }
  if (g_mkdir_with_parents (self->state_dir, pw != NULL ? 0711 : 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "cannot create state directory %s: %s",
                   self->state_dir, g_strerror (saved));
      return FALSE;
    }

  if (pw != NULL)
    {
      /* The state directory is ours: let the postgres user through it. */
      if (stat (self->state_dir, &st) == 0 && st.st_uid == geteuid ()
          && !user_can_traverse (&st, pw->pw_uid, groups, n_groups))
        {
          g_message ("giving %s o+x so that user %s can reach its PostgreSQL cluster",
                     self->state_dir, pw->pw_name);
          g_chmod (self->state_dir, (st.st_mode & 07777) | S_IXOTH);
        }
      dir = g_canonicalize_filename (self->state_dir, NULL);
      for (;;)
        {
          g_autofree char *parent = NULL;

          if (stat (dir, &st) != 0 || !user_can_traverse (&st, pw->pw_uid, groups, n_groups))
            {
              g_set_error (
                  error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                  "PostgreSQL runs as user %s, which cannot reach its cluster in %s: directory %s "
                  "(mode %04o, owner uid %u) is not traversable; choose a state directory outside "
                  "it (e.g. /var/lib/spot-canvas) or grant o+x",
                  pw->pw_name, self->state_dir, dir, (unsigned)(st.st_mode & 07777),
                  (unsigned)st.st_uid);
              return FALSE;
            }
          if (strcmp (dir, "/") == 0)
            break;
          parent = g_path_get_dirname (dir);
          g_free (dir);
          dir = g_steal_pointer (&parent);
        }
    }

  return make_owned_dir (self->socket_dir, pw, error);
}

/* ---- database creation (helper thread: libpq blocks) ---- */

static void
ensure_database_thread (GTask *task,
                        gpointer source_object,
                        gpointer task_data,
                        GCancellable *cancellable)
{
  const char *conninfo = task_data;
  PGconn *conn = PQconnectdb (conninfo);
  PGresult *result;
  const char *params[] = { PG_DATABASE };
  gboolean exists;

  if (PQstatus (conn) != CONNECTION_OK)
    {
      g_task_return_new_error (task, SPOT_ERROR, SPOT_ERROR_DATABASE,
                               "cannot connect to the embedded cluster (%s): %s", conninfo,
                               PQerrorMessage (conn));
      PQfinish (conn);
      return;
    }
  result = PQexecParams (conn, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, params,
                         NULL, NULL, 0);
  exists = PQresultStatus (result) == PGRES_TUPLES_OK && PQntuples (result) > 0;
  PQclear (result);
  if (!exists)
    {
      result = PQexec (conn, "CREATE DATABASE " PG_DATABASE);
      if (PQresultStatus (result) != PGRES_COMMAND_OK
          && g_strcmp0 (PQresultErrorField (result, PG_DIAG_SQLSTATE), "42P04")
                 != 0 /* duplicate_database */)
        {
          g_task_return_new_error (task, SPOT_ERROR, SPOT_ERROR_DATABASE,
                                   "cannot create database %s: %s", PG_DATABASE,
                                   PQresultErrorMessage (result));
          PQclear (result);
          PQfinish (conn);
          return;
        }
      PQclear (result);
      g_message ("created database %s", PG_DATABASE);
    }
  PQfinish (conn);
  g_task_return_boolean (task, TRUE);
}

static void
ensure_database_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SpotEmbeddedPostgres *self = SPOT_EMBEDDED_POSTGRES (source);
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      finish_start (self, error);
      return;
    }
  g_message ("PostgreSQL ready: %s (pid %d)", self->conninfo,
             (int)spot_supervisor_get_pid (self->supervisor));
  finish_start (self, NULL);
}

/* ---- server ---- */

static void
update_server_argv (SpotEmbeddedPostgres *self)
{
  g_autofree char *postgres = g_build_filename (self->bindir, "postgres", NULL);
  g_autofree char *socket_opt = g_strdup_printf ("unix_socket_directories=%s", self->socket_dir);
  g_autofree char *port_opt = g_strdup_printf ("port=%d", PG_PORT);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL;

  g_strv_builder_add_many (builder, postgres, "-D", self->data_dir, "-c", "listen_addresses=", "-c",
                           socket_opt, "-c", port_opt, "-c", "lc_messages=C", NULL);
  /* Not synchronous_commit=off: a killed server would lose commits it had
   * acknowledged (WAL still in shared memory), which tests of crash
   * behaviour must not see. fsync=off only risks an OS crash. Dynamic
   * shared memory as files in the data directory: a killed test cluster
   * that is never started again would otherwise leave its segments in
   * /dev/shm (only the next start cleans them up). */
  if (!self->durable)
    g_strv_builder_add_many (builder, "-c", "fsync=off", "-c", "full_page_writes=off", "-c",
                             "min_wal_size=2MB", "-c", "dynamic_shared_memory_type=mmap", NULL);
  argv = g_strv_builder_end (builder);
  spot_supervisor_set_argv (self->supervisor, (const char *const *)argv);
}

static void
start_server (SpotEmbeddedPostgres *self)
{
  GError *error = NULL;

  update_server_argv (self);
  if (!spot_supervisor_start (self->supervisor, &error))
    finish_start (self, error);
}

static void
initdb_exited_cb (SpotSupervisor *initdb, int wait_status, gpointer user_data)
{
  SpotEmbeddedPostgres *self = user_data;
  g_autofree char *output = NULL;

  if (self->start_task == NULL)
    return;
  if (wait_status != 0)
    {
      output = spot_supervisor_dup_recent_output (initdb);
      finish_start (self, g_error_new (SPOT_ERROR, SPOT_ERROR_DATABASE,
                                       "initdb of %s failed; its last output:\n%s", self->data_dir,
                                       output));
      return;
    }
  if (g_rename (self->initdb_dir, self->data_dir) != 0)
    {
      int saved = errno;
      finish_start (self,
                    g_error_new (SPOT_ERROR, SPOT_ERROR_IO, "cannot move new cluster %s to %s: %s",
                                 self->initdb_dir, self->data_dir, g_strerror (saved)));
      return;
    }
  g_message ("initialised PostgreSQL cluster in %s", self->data_dir);
  start_server (self);
}

static gboolean
run_initdb (SpotEmbeddedPostgres *self, GError **error)
{
  g_autofree char *initdb = g_build_filename (self->bindir, "initdb", NULL);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL;
  struct passwd *pw = self->run_as != NULL ? getpwnam (self->run_as) : NULL;

  remove_tree (self->initdb_dir);
  if (!make_owned_dir (self->initdb_dir, pw, error))
    return FALSE;
  /* Socket-only server: trust the (private, 0700) socket, refuse TCP. */
  g_strv_builder_add_many (builder, initdb, "-D", self->initdb_dir, "-U", PG_SUPERUSER,
                           "--auth-local=trust", "--auth-host=reject", "-E", "UTF8", "--locale=C",
                           "--no-instructions", NULL);
  /* Throw-away clusters: 1 MiB WAL segments keep a new cluster (and the
   * harness's copies of one) small. */
  if (!self->durable)
    g_strv_builder_add_many (builder, "--no-sync", "--wal-segsize=1", NULL);
  argv = g_strv_builder_end (builder);

  g_clear_object (&self->initdb);
  self->initdb = spot_supervisor_new ("initdb", (const char *const *)argv);
  spot_supervisor_set_restart (self->initdb, FALSE);
  spot_supervisor_set_user (self->initdb, self->run_as);
  spot_supervisor_setenv (self->initdb, "LC_ALL", "C");
  spot_supervisor_set_working_directory (self->initdb, self->state_dir);
  g_signal_connect (self->initdb, "exited", G_CALLBACK (initdb_exited_cb), self);
  return spot_supervisor_start (self->initdb, error);
}

/* ---- start ---- */

static void
finish_start (SpotEmbeddedPostgres *self, GError *error)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->start_task);

  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }
  if (self->start_cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), self->start_cancel_id);
  self->start_cancel_id = 0;
  if (error != NULL)
    {
      if (self->initdb != NULL)
        spot_supervisor_stop_sync (self->initdb, 1000);
      spot_supervisor_stop_sync (self->supervisor, 2000);
      g_task_return_error (task, error);
    }
  else
    g_task_return_boolean (task, TRUE);
}

static void
supervisor_ready_cb (SpotSupervisor *supervisor, gpointer user_data)
{
  SpotEmbeddedPostgres *self = user_data;
  g_autoptr (GTask) task = NULL;

  self->early_exits = 0;
  if (self->start_task == NULL)
    {
      g_message ("PostgreSQL ready again (pid %d)", (int)spot_supervisor_get_pid (supervisor));
      return;
    }
  g_clear_object (&self->ensure_cancellable);
  self->ensure_cancellable = g_cancellable_new ();
  task = g_task_new (self, self->ensure_cancellable, ensure_database_done_cb, NULL);
  g_task_set_task_data (task, g_strdup (self->admin_conninfo), g_free);
  g_task_run_in_thread (task, ensure_database_thread);
}

static void
supervisor_exited_cb (SpotSupervisor *supervisor, int wait_status, gpointer user_data)
{
  SpotEmbeddedPostgres *self = user_data;
  g_autofree char *output = NULL;

  if (self->start_task == NULL)
    return;
  /* A previous server's children may still hold the shared memory for a
   * moment after a crash: allow a few quick retries. */
  if (++self->early_exits < PG_START_ATTEMPTS
      && spot_supervisor_get_state (supervisor) == SPOT_SUPERVISOR_BACKOFF)
    return;
  output = spot_supervisor_dup_recent_output (supervisor);
  finish_start (self,
                g_error_new (SPOT_ERROR, SPOT_ERROR_DATABASE,
                             "postgres in %s exited before it was ready; its last output:\n%s",
                             self->data_dir, output));
}

static gboolean
cancel_idle_cb (gpointer user_data)
{
  SpotEmbeddedPostgres *self = user_data;

  if (self->start_task != NULL)
    finish_start (
        self, g_error_new (SPOT_ERROR, SPOT_ERROR_CANCELLED, "starting PostgreSQL was cancelled"));
  return G_SOURCE_REMOVE;
}

static void
start_cancelled_cb (GCancellable *cancellable, gpointer user_data)
{
  SpotEmbeddedPostgres *self = user_data;
  g_autoptr (GSource) idle = g_idle_source_new ();

  /* Maybe on another thread, and g_cancellable_disconnect() must not run
   * inside this handler: defer to our context. */
  g_source_set_callback (idle, cancel_idle_cb, g_object_ref (self), g_object_unref);
  g_source_attach (idle, self->context);
}

void
spot_embedded_postgres_start_async (SpotEmbeddedPostgres *self,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autofree char *version_file = NULL;
  GError *error = NULL;
  SpotSupervisorState state;

  g_return_if_fail (SPOT_IS_EMBEDDED_POSTGRES (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, spot_embedded_postgres_start_async);

  state = spot_supervisor_get_state (self->supervisor);
  if (state == SPOT_SUPERVISOR_RUNNING && self->start_task == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (self->start_task != NULL || state != SPOT_SUPERVISOR_STOPPED)
    {
      g_task_return_new_error (task, SPOT_ERROR, SPOT_ERROR_BUSY,
                               "PostgreSQL in %s is already starting", self->data_dir);
      return;
    }
  if (self->bindir == NULL && (self->bindir = find_bindir (&error)) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (!prepare_directories (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  self->early_exits = 0;
  self->start_task = g_steal_pointer (&task);
  if (cancellable != NULL)
    self->start_cancel_id
        = g_cancellable_connect (cancellable, G_CALLBACK (start_cancelled_cb), self, NULL);

  version_file = g_build_filename (self->data_dir, "PG_VERSION", NULL);
  if (g_file_test (version_file, G_FILE_TEST_EXISTS))
    start_server (self);
  else if (!run_initdb (self, &error))
    finish_start (self, error);
}

gboolean
spot_embedded_postgres_start_finish (SpotEmbeddedPostgres *self,
                                     GAsyncResult *result,
                                     GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
spot_embedded_postgres_start_sync (SpotEmbeddedPostgres *self, guint timeout_ms, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) local_error = NULL;
  gboolean timed_out = FALSE;
  gboolean ok;

  g_return_val_if_fail (SPOT_IS_EMBEDDED_POSTGRES (self), FALSE);
  result = spot_async_run_sync (self, (SpotAsyncStartFunc)spot_embedded_postgres_start_async,
                                timeout_ms, &timed_out);
  ok = spot_embedded_postgres_start_finish (self, result, &local_error);
  if (!ok && spot_async_cut_short (local_error, timed_out))
    {
      g_autofree char *output = spot_supervisor_dup_recent_output (self->supervisor);
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT,
                   "PostgreSQL in %s was not ready within %u ms; "
                   "its last output:\n%s",
                   self->data_dir, timeout_ms, output);
      return FALSE;
    }
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return ok;
}

const char *
spot_embedded_postgres_get_conninfo (SpotEmbeddedPostgres *self)
{
  g_return_val_if_fail (SPOT_IS_EMBEDDED_POSTGRES (self), NULL);
  return self->conninfo;
}

GPid
spot_embedded_postgres_get_pid (SpotEmbeddedPostgres *self)
{
  g_return_val_if_fail (SPOT_IS_EMBEDDED_POSTGRES (self), 0);
  return spot_supervisor_get_pid (self->supervisor);
}

SpotSupervisor *
spot_embedded_postgres_get_supervisor (SpotEmbeddedPostgres *self)
{
  g_return_val_if_fail (SPOT_IS_EMBEDDED_POSTGRES (self), NULL);
  return self->supervisor;
}

void
spot_embedded_postgres_set_durable (SpotEmbeddedPostgres *self, gboolean durable)
{
  g_return_if_fail (SPOT_IS_EMBEDDED_POSTGRES (self));
  self->durable = durable;
}

void
spot_embedded_postgres_stop (SpotEmbeddedPostgres *self, guint deadline_ms)
{
  g_return_if_fail (SPOT_IS_EMBEDDED_POSTGRES (self));
  if (self->initdb != NULL)
    spot_supervisor_stop_sync (self->initdb, deadline_ms);
  spot_supervisor_stop_sync (self->supervisor, deadline_ms);
}

static gboolean
process_gone (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int)pid);
  g_autofree char *stat = NULL;
  const char *state;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  /* "pid (comm) S ...": a zombie no longer holds shared memory. */
  state = strrchr (stat, ')');
  return state == NULL || (state[1] == ' ' && (state[2] == 'Z' || state[2] == 'X'));
}

void
spot_embedded_postgres_kill (SpotEmbeddedPostgres *self)
{
  GPid pid;
  g_autofree char *children_path = NULL;
  g_autofree char *children = NULL;
  g_auto (GStrv) pids = NULL;
  gint64 deadline;

  g_return_if_fail (SPOT_IS_EMBEDDED_POSTGRES (self));
  if (self->initdb != NULL)
    spot_supervisor_kill (self->initdb);
  pid = spot_supervisor_get_pid (self->supervisor);
  if (pid != 0)
    {
      /* The whole server dies, like a machine crash: its backends too, so
       * that the next start does not find them holding the shared memory. */
      children_path = g_strdup_printf ("/proc/%d/task/%d/children", (int)pid, (int)pid);
      if (g_file_get_contents (children_path, &children, NULL, NULL))
        pids = g_strsplit (g_strstrip (children), " ", -1);
    }
  spot_supervisor_kill (self->supervisor);
  for (guint i = 0; pids != NULL && pids[i] != NULL; i++)
    if (*pids[i] != '\0')
      kill ((pid_t)g_ascii_strtoll (pids[i], NULL, 10), SIGKILL);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  for (guint i = 0; pids != NULL && pids[i] != NULL; i++)
    while (*pids[i] != '\0' && !process_gone ((GPid)g_ascii_strtoll (pids[i], NULL, 10))
           && g_get_monotonic_time () < deadline)
      g_usleep (1000);
}

static void
spot_embedded_postgres_dispose (GObject *object)
{
  SpotEmbeddedPostgres *self = SPOT_EMBEDDED_POSTGRES (object);

  if (self->ensure_cancellable != NULL)
    g_cancellable_cancel (self->ensure_cancellable);
  if (self->initdb != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->initdb, self);
      spot_supervisor_stop_sync (self->initdb, 1000);
      g_clear_object (&self->initdb);
    }
  if (self->supervisor != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->supervisor, self);
      spot_supervisor_stop_sync (self->supervisor, 5000);
      g_clear_object (&self->supervisor);
    }
  G_OBJECT_CLASS (spot_embedded_postgres_parent_class)->dispose (object);
}

static void
spot_embedded_postgres_finalize (GObject *object)
{
  SpotEmbeddedPostgres *self = SPOT_EMBEDDED_POSTGRES (object);

  g_free (self->state_dir);
  g_free (self->data_dir);
  g_free (self->initdb_dir);
  g_free (self->socket_dir);
  g_free (self->bindir);
  g_free (self->run_as);
  g_free (self->conninfo);
  g_free (self->admin_conninfo);
  g_clear_object (&self->ensure_cancellable);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (spot_embedded_postgres_parent_class)->finalize (object);
}

static void
spot_embedded_postgres_class_init (SpotEmbeddedPostgresClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = spot_embedded_postgres_dispose;
  object_class->finalize = spot_embedded_postgres_finalize;
}

static void
spot_embedded_postgres_init (SpotEmbeddedPostgres *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->durable = TRUE;
}

SpotEmbeddedPostgres *
spot_embedded_postgres_new (const char *state_dir)
{
  SpotEmbeddedPostgres *self;
  const char *argv[] = { "postgres", NULL };
  const char *user = g_getenv ("SPOT_POSTGRES_USER");

  g_return_val_if_fail (state_dir != NULL, NULL);
  self = g_object_new (SPOT_TYPE_EMBEDDED_POSTGRES, NULL);
  self->state_dir = g_canonicalize_filename (state_dir, NULL);
  self->data_dir = g_build_filename (self->state_dir, "postgres", NULL);
  self->initdb_dir = g_build_filename (self->state_dir, "postgres.initdb", NULL);
  self->socket_dir = g_build_filename (self->state_dir, "pg-socket", NULL);
  if (geteuid () == 0)
    self->run_as = g_strdup (user != NULL && *user != '\0' ? user : "postgres");
  self->conninfo = g_strdup_printf ("host=%s port=%d dbname=%s user=%s", self->socket_dir, PG_PORT,
                                    PG_DATABASE, PG_SUPERUSER);
  self->admin_conninfo
      = g_strdup_printf ("host=%s port=%d dbname=postgres user=%s connect_timeout=10",
                         self->socket_dir, PG_PORT, PG_SUPERUSER);

  self->supervisor = spot_supervisor_new ("postgres", argv);
  spot_supervisor_set_user (self->supervisor, self->run_as);
  spot_supervisor_set_working_directory (self->supervisor, self->state_dir);
  spot_supervisor_setenv (self->supervisor, "LC_ALL", "C");
  spot_supervisor_set_backoff (self->supervisor, 100, 10000, 30000);
  spot_supervisor_set_ready_pattern (self->supervisor,
                                     "database system is ready to accept connections", NULL);
  /* Fast shutdown on stop; immediate shutdown (postmaster kills its
   * backends, crash recovery next time) if we die. */
  spot_supervisor_set_stop_signal (self->supervisor, SIGINT);
  spot_supervisor_set_death_signal (self->supervisor, SIGQUIT);
  /* History only: the live path never waits for it. */
  spot_supervisor_set_nice (self->supervisor, spot_thread_background_nice ());
  g_signal_connect (self->supervisor, "ready", G_CALLBACK (supervisor_ready_cb), self);
  g_signal_connect (self->supervisor, "exited", G_CALLBACK (supervisor_exited_cb), self);
  return self;
}
