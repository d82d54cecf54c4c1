/* spot-embedded-postgres.h: a private PostgreSQL cluster run as a supervised child.
 *
 * initdb once in <state_dir>/postgres, then `postgres` itself (not pg_ctl)
 * listening only on a unix socket in the state directory. When the service
 * runs as root, the cluster belongs to Debian's `postgres` user and lives in
 * directories that user can reach; the parent-death signal is set after the
 * user change.
 *
 * Thread safety: main thread only.
 */
#pragma once

#include <gio/gio.h>

#include "supervisor/spot-supervisor.h"

G_BEGIN_DECLS

#define SPOT_TYPE_EMBEDDED_POSTGRES (spot_embedded_postgres_get_type ())
G_DECLARE_FINAL_TYPE (SpotEmbeddedPostgres, spot_embedded_postgres, SPOT, EMBEDDED_POSTGRES, GObject)

SpotEmbeddedPostgres *spot_embedded_postgres_new (const char *state_dir);

void spot_embedded_postgres_start_async (SpotEmbeddedPostgres *self,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
gboolean spot_embedded_postgres_start_finish (SpotEmbeddedPostgres *self, GAsyncResult *result, GError **error);
gboolean spot_embedded_postgres_start_sync (SpotEmbeddedPostgres *self, guint timeout_ms, GError **error);

/* A libpq connection string for the database "spotcanvas" (created on first
 * start), e.g. "host=/var/lib/spot-canvas/pg-socket port=5432 dbname=spotcanvas user=postgres". */
const char *spot_embedded_postgres_get_conninfo (SpotEmbeddedPostgres *self);
GPid spot_embedded_postgres_get_pid (SpotEmbeddedPostgres *self);

/* Fast shutdown (SIGINT), waits up to @deadline_ms, then SIGKILL. */
void spot_embedded_postgres_stop (SpotEmbeddedPostgres *self, guint deadline_ms);

/* SIGKILL the server and its backends now, no automatic restart (a crash
 * that stays down until the next start). Synchronous, bounded. */
void spot_embedded_postgres_kill (SpotEmbeddedPostgres *self);

/* FALSE: initdb --no-sync --wal-segsize=1, fsync=off, full_page_writes=off,
 * min_wal_size=2MB, dynamic_shared_memory_type=mmap (tests: data may be lost
 * on an OS crash, never on a kill of the server; nothing left in /dev/shm
 * by a killed cluster). Default TRUE.
 * Call before starting. */
void spot_embedded_postgres_set_durable (SpotEmbeddedPostgres *self, gboolean durable);

/* The supervisor running `postgres`, e.g. to watch restarts. Owned by @self. */
SpotSupervisor *spot_embedded_postgres_get_supervisor (SpotEmbeddedPostgres *self);

/* Layout: <state_dir>/postgres (data), <state_dir>/pg-socket (socket, port
 * 5432 names the socket file only). Environment: SPOT_POSTGRES_BINDIR (else
 * the highest /usr/lib/postgresql/N/bin, else pg_config --bindir),
 * SPOT_POSTGRES_USER (as root; default postgres). As root every directory
 * above <state_dir> must be traversable by that user (not /root, not a 0700
 * temporary directory); the start fails naming the directory otherwise. The
 * postmaster gets SIGQUIT (immediate shutdown) if we die. After a stop or
 * kill, start again with spot_embedded_postgres_start_async/_sync. */

G_END_DECLS
