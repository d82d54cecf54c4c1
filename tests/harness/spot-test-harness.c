/* spot-test-harness.c: real servers for integration tests, on top of the
 * supervisor's embedded servers.
 *
 * Speed: nats-server starts in a fresh directory each time (tens of ms).
 * PostgreSQL clusters are not initdb'd per test: the first start makes a
 * template cluster (initdb --no-sync --wal-segsize=1, database spotcanvas,
 * clean shutdown) in <tmp>/spot-test-pg-template-2-<uid> under a file lock
 * (test programs run in parallel wait for one initdb; the number versions
 * the recipe), and every later cluster is a copy of it (a few hundred ms on
 * tmpfs instead of one to several seconds of initdb). A template that no
 * longer starts (PostgreSQL upgraded) is replaced. The test clusters run
 * with fsync=off and full_page_writes=off: fine for throw-away data (an OS
 * crash could corrupt them; a kill of the server loses nothing committed).
 *
 * Directories: <tmp>/spot-test-<pid>-XXXXXX, <tmp> as spot_test_tmp_dir()
 * says (/dev/shm when it has 2 GiB free). As root they get mode 0711 so
 * that the `postgres` user can traverse them; directories left by killed
 * test programs (their pid is gone) are removed by the next harness start.
 */
#define G_LOG_DOMAIN "spot-test-harness"

#include "spot-test-harness.h"

#include "supervisor/spot-embedded-nats.h"
#include "supervisor/spot-embedded-postgres.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define NATS_START_TIMEOUT_MS 20000
#define PG_START_TIMEOUT_MS 60000
#define STOP_DEADLINE_MS 5000
#define SHM_MIN_FREE (G_GUINT64_CONSTANT (2) << 30)

struct _SpotTestNats
{
  char *dir;
  SpotEmbeddedNats *server;
  char *url;
};

struct _SpotTestPostgres
{
  char *dir;
  SpotEmbeddedPostgres *server;
};

/* ---- directories ---- */

static int
remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

void
spot_test_remove_tree (const char *path)
{
  if (path != NULL && g_file_test (path, G_FILE_TEST_EXISTS))
    nftw (path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Where the harness makes its directories: $SPOT_TEST_TMPDIR, else /dev/shm
 * when it is a roomy tmpfs (copying a cluster and running it there does not
 * wait for a disk shared with parallel builds), else the usual temporary
 * directory. As root the result must be traversable by the postgres user. */
static char *
choose_tmp_dir (void)
{
  const char *env = g_getenv ("SPOT_TEST_TMPDIR");
  const char *tmp = g_get_tmp_dir ();
  struct statvfs vfs;
  struct stat st;

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  if (statvfs ("/dev/shm", &vfs) == 0 && (guint64)vfs.f_bavail * vfs.f_frsize >= SHM_MIN_FREE
      && access ("/dev/shm", W_OK | X_OK) == 0)
    return g_strdup ("/dev/shm");
  if (geteuid () == 0 && (stat (tmp, &st) != 0 || (st.st_mode & S_IXOTH) == 0))
    return g_strdup ("/tmp");
  return g_strdup (tmp);
}

const char *
spot_test_tmp_dir (void)
{
  static char *dir = NULL;

  if (g_once_init_enter (&dir))
    g_once_init_leave (&dir, choose_tmp_dir ());
  return dir;
}

static const char *
tmp_base (void)
{
  return spot_test_tmp_dir ();
}

static void
remove_abandoned_dirs (void)
{
  const char *base = tmp_base ();
  g_autoptr (GDir) dir = NULL;
  const char *name;

  dir = g_dir_open (base, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      const char *rest;
      guint64 pid;
      char *end = NULL;

      if (!g_str_has_prefix (name, "spot-test-"))
        continue;
      rest = name + strlen ("spot-test-");
      pid = g_ascii_strtoull (rest, &end, 10);
      if (end == rest || *end != '-' || pid == 0 || pid > G_MAXINT)
        continue;
      if (kill ((pid_t)pid, 0) != 0 && errno == ESRCH)
        {
          g_autofree char *path = g_build_filename (base, name, NULL);
          g_debug ("removing %s, left by a test that was killed", path);
          spot_test_remove_tree (path);
        }
    }
}

static char *
make_test_dir (GError **error)
{
  g_autofree char *template = g_strdup_printf ("spot-test-%d-XXXXXX", (int)getpid ());
  g_autofree char *path = g_build_filename (tmp_base (), template, NULL);

  remove_abandoned_dirs ();
  if (g_mkdtemp_full (path, 0700) == NULL)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "cannot create a temporary directory %s: %s", path, g_strerror (saved));
      return NULL;
    }
  if (geteuid () == 0)
    g_chmod (path, 0711);
  return g_steal_pointer (&path);
}

/* ---- NATS ---- */

SpotTestNats *
spot_test_nats_start (GError **error)
{
  g_autoptr (SpotTestNats) nats = g_new0 (SpotTestNats, 1);
  gint64 started = g_get_monotonic_time ();

  nats->dir = make_test_dir (error);
  if (nats->dir == NULL)
    return NULL;
  nats->server = spot_embedded_nats_new (nats->dir);
  if (!spot_embedded_nats_start_sync (nats->server, NATS_START_TIMEOUT_MS, error))
    return NULL;
  nats->url = g_strdup (spot_embedded_nats_get_url (nats->server));
  g_debug ("test nats-server at %s ready in %.0f ms", nats->url,
           (g_get_monotonic_time () - started) / 1000.0);
  return g_steal_pointer (&nats);
}

const char *
spot_test_nats_url (SpotTestNats *nats)
{
  return nats->url;
}

GPid
spot_test_nats_pid (SpotTestNats *nats)
{
  return spot_embedded_nats_get_pid (nats->server);
}

void
spot_test_nats_kill (SpotTestNats *nats)
{
  spot_embedded_nats_kill (nats->server);
}

gboolean
spot_test_nats_restart (SpotTestNats *nats, GError **error)
{
  return spot_embedded_nats_start_sync (nats->server, NATS_START_TIMEOUT_MS, error);
}

void
spot_test_nats_free (SpotTestNats *nats)
{
  if (nats == NULL)
    return;
  if (nats->server != NULL)
    spot_embedded_nats_stop (nats->server, STOP_DEADLINE_MS);
  g_clear_object (&nats->server);
  spot_test_remove_tree (nats->dir);
  g_free (nats->dir);
  g_free (nats->url);
  g_free (nats);
}

/* ---- PostgreSQL ---- */

/* Beside the test directories, so that copies stay on one (ideally tmpfs)
 * file system; shared by every build tree of this user. The number versions
 * the recipe: bump it when the cluster options change. */
static char *
template_path (void)
{
  return g_strdup_printf ("%s/spot-test-pg-template-2-%u", tmp_base (), (unsigned)geteuid ());
}

/* cp -a keeps the owner (postgres, as root) and modes. */
static gboolean
copy_tree (const char *from, const char *to, GError **error)
{
  const char *argv[] = { "cp", "-a", "--reflink=auto", from, to, NULL };
  g_autofree char *err = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "cp -a %s %s failed: %s", from, to,
                   err);
      return FALSE;
    }
  return TRUE;
}

/* Saves @pg's (stopped) cluster as the template; losing a race to another
 * test program is fine. */
static void
save_template (SpotTestPostgres *pg)
{
  g_autofree char *template = template_path ();
  g_autofree char *parent = g_path_get_dirname (template);
  g_autofree char *staging = g_strdup_printf ("%s.%d", template, (int)getpid ());
  g_autofree char *data = g_build_filename (pg->dir, "postgres", NULL);
  g_autoptr (GError) error = NULL;

  g_mkdir_with_parents (parent, 0755);
  spot_test_remove_tree (staging);
  if (!copy_tree (data, staging, &error))
    {
      g_debug ("not caching a PostgreSQL template: %s", error->message);
      spot_test_remove_tree (staging);
      return;
    }
  /* postmaster.pid is gone after a clean stop; opts are harmless. */
  if (g_rename (staging, template) != 0)
    spot_test_remove_tree (staging);
}

static gboolean
start_postgres_in (SpotTestPostgres *pg, GError **error)
{
  g_clear_object (&pg->server);
  pg->server = spot_embedded_postgres_new (pg->dir);
  spot_embedded_postgres_set_durable (pg->server, FALSE);
  return spot_embedded_postgres_start_sync (pg->server, PG_START_TIMEOUT_MS, error);
}

/* Serialises template making between test programs that meson runs in
 * parallel: one initdb, the others wait and copy. The kernel drops the lock
 * if its holder is killed. Returns the locked fd, or -1 (then unserialised). */
static int
lock_template (const char *template)
{
  g_autofree char *parent = g_path_get_dirname (template);
  g_autofree char *lock_path = g_strdup_printf ("%s.lock", template);
  int fd;

  g_mkdir_with_parents (parent, 0755);
  fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  while (flock (fd, LOCK_EX) != 0)
    if (errno != EINTR)
      {
        close (fd);
        return -1;
      }
  return fd;
}

static gboolean
start_from_template (SpotTestPostgres *pg, const char *template, GError **error)
{
  g_autofree char *template_version = g_build_filename (template, "PG_VERSION", NULL);
  g_autofree char *data = g_build_filename (pg->dir, "postgres", NULL);

  if (!g_file_test (template_version, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no template cluster in %s", template);
      return FALSE;
    }
  if (copy_tree (template, data, error) && start_postgres_in (pg, error))
    return TRUE;
  if (pg->server != NULL)
    spot_embedded_postgres_stop (pg->server, STOP_DEADLINE_MS);
  g_clear_object (&pg->server);
  spot_test_remove_tree (data);
  return FALSE;
}

SpotTestPostgres *
spot_test_postgres_start (GError **error)
{
  g_autoptr (SpotTestPostgres) pg = g_new0 (SpotTestPostgres, 1);
  g_autofree char *template = template_path ();
  g_autoptr (GError) local_error = NULL;
  gint64 started = g_get_monotonic_time ();
  int lock_fd;

  pg->dir = make_test_dir (error);
  if (pg->dir == NULL)
    return NULL;

  /* Fast path, no lock: the template exists (copies only read it). */
  if (start_from_template (pg, template, &local_error))
    {
      g_debug ("test PostgreSQL (from template) ready in %.0f ms",
               (g_get_monotonic_time () - started) / 1000.0);
      return g_steal_pointer (&pg);
    }
  g_debug ("no usable PostgreSQL template: %s", local_error->message);
  g_clear_error (&local_error);

  lock_fd = lock_template (template);
  /* Another test program may have made it while we waited. */
  if (start_from_template (pg, template, &local_error))
    {
      if (lock_fd >= 0)
        close (lock_fd);
      g_debug ("test PostgreSQL (from template) ready in %.0f ms",
               (g_get_monotonic_time () - started) / 1000.0);
      return g_steal_pointer (&pg);
    }
  /* Missing, or stale (e.g. another PostgreSQL version): make it anew. */
  spot_test_remove_tree (template);
  if (!start_postgres_in (pg, error))
    {
      if (lock_fd >= 0)
        close (lock_fd);
      return NULL;
    }
  spot_embedded_postgres_stop (pg->server, STOP_DEADLINE_MS);
  save_template (pg);
  if (lock_fd >= 0)
    close (lock_fd);
  if (!spot_embedded_postgres_start_sync (pg->server, PG_START_TIMEOUT_MS, error))
    return NULL;
  g_debug ("test PostgreSQL (initdb) ready in %.0f ms",
           (g_get_monotonic_time () - started) / 1000.0);
  return g_steal_pointer (&pg);
}

const char *
spot_test_postgres_conninfo (SpotTestPostgres *pg)
{
  return spot_embedded_postgres_get_conninfo (pg->server);
}

GPid
spot_test_postgres_pid (SpotTestPostgres *pg)
{
  return spot_embedded_postgres_get_pid (pg->server);
}

void
spot_test_postgres_kill (SpotTestPostgres *pg)
{
  spot_embedded_postgres_kill (pg->server);
}

gboolean
spot_test_postgres_restart (SpotTestPostgres *pg, GError **error)
{
  return spot_embedded_postgres_start_sync (pg->server, PG_START_TIMEOUT_MS, error);
}

void
spot_test_postgres_free (SpotTestPostgres *pg)
{
  if (pg == NULL)
    return;
  if (pg->server != NULL)
    spot_embedded_postgres_stop (pg->server, STOP_DEADLINE_MS);
  g_clear_object (&pg->server);
  spot_test_remove_tree (pg->dir);
  g_free (pg->dir);
  g_free (pg);
}

/* ---- programs ---- */

void
spot_test_require_program (const char *program)
{
  g_autofree char *path = g_find_program_in_path (program);
  g_autoptr (GDir) dir = NULL;
  const char *name;

  /* PostgreSQL's server binaries are not on PATH on Debian. */
  if (path == NULL && (strcmp (program, "postgres") == 0 || strcmp (program, "initdb") == 0))
    {
      dir = g_dir_open ("/usr/lib/postgresql", 0, NULL);
      while (path == NULL && dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *candidate
              = g_build_filename ("/usr/lib/postgresql", name, "bin", program, NULL);
          if (g_file_test (candidate, G_FILE_TEST_IS_EXECUTABLE))
            path = g_steal_pointer (&candidate);
        }
    }
  if (path != NULL)
    return;
  /* In CI every server is installed by tools/quickstart: a missing one is a
   * broken set-up, not a reason to skip. */
  if (g_getenv ("CI") != NULL)
    {
      fprintf (stderr, "%s is not installed, but CI must run every test\n", program);
      exit (1);
    }
  /* TAP: a plan of 0 with a reason is meson's "skipped". (Exit code 77 under
   * protocol 'tap' would be reported as an error.) */
  printf ("1..0 # SKIP %s is not installed\n", program);
  fflush (stdout);
  fprintf (stderr, "skipping: %s is not installed\n", program);
  exit (0);
}
