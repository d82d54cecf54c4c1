/* spot-test-harness.h: real nats-server and PostgreSQL for integration tests.
 *
 * Each server runs in a fresh temporary directory on free loopback ports (or a
 * unix socket), is ready when the call returns, and is always torn down: by
 * the free functions, and by the parent-death signal if the test is killed.
 * Built on the supervisor's embedded servers, so tests exercise that code too.
 *
 * Thread safety: call from the test's main thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SpotTestNats SpotTestNats;
typedef struct _SpotTestPostgres SpotTestPostgres;

/* nats-server with JetStream. Returns NULL with @error when it cannot start;
 * tests call spot_test_require_program("nats-server") first to skip on a
 * machine without it. */
SpotTestNats *spot_test_nats_start (GError **error);
const char *spot_test_nats_url (SpotTestNats *nats);
/* Kill (SIGKILL) / start again on the same port and store. */
void spot_test_nats_kill (SpotTestNats *nats);
gboolean spot_test_nats_restart (SpotTestNats *nats, GError **error);
void spot_test_nats_free (SpotTestNats *nats);
/* The running nats-server's pid, 0 while killed. */
GPid spot_test_nats_pid (SpotTestNats *nats);

/* A PostgreSQL cluster with database "spotcanvas". As root it runs as the
 * `postgres` user. */
SpotTestPostgres *spot_test_postgres_start (GError **error);
const char *spot_test_postgres_conninfo (SpotTestPostgres *pg);
void spot_test_postgres_kill (SpotTestPostgres *pg);
gboolean spot_test_postgres_restart (SpotTestPostgres *pg, GError **error);
void spot_test_postgres_free (SpotTestPostgres *pg);
/* The running postmaster's pid, 0 while killed. */
GPid spot_test_postgres_pid (SpotTestPostgres *pg);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotTestNats, spot_test_nats_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotTestPostgres, spot_test_postgres_free)

/* Where the harness makes its temporary directories (named
 * spot-test-<pid>-XXXXXX): $SPOT_TEST_TMPDIR, else /dev/shm when it is a
 * tmpfs with 2 GiB free, else the temporary directory. */
const char *spot_test_tmp_dir (void);

/* Removes @path and everything below it, without following symlinks
 * (NULL or a missing path: nothing). */
void spot_test_remove_tree (const char *path);

/* When @program is not installed, prints a TAP plan "1..0 # SKIP ..." and
 * exits 0, which meson reports as skipped for tests registered with
 * protocol 'tap' (exit 77 would count as an error there). With CI set in the
 * environment a missing program fails the test instead: CI installs them all. */
void spot_test_require_program (const char *program);

G_END_DECLS
