/* spot-database.h: which PostgreSQL the service uses, started and migrated.
 *
 * With a DATABASE_URL the service uses that server (TCP, TLS or a unix
 * socket, whatever libpq accepts). Without one it runs a private cluster in
 * its state directory (SpotEmbeddedPostgres: initdb once, `postgres` under the
 * supervisor, unix socket only). Either way it then applies the built-in
 * migrations (unless disabled) on the repository's database thread and
 * reports the connection status.
 *
 * Thread safety: main thread, except spot_database_is_connected() and
 * spot_database_check_embedded() (any thread).
 */
#pragma once

#include <gio/gio.h>

#include "store/spot-repository.h"

G_BEGIN_DECLS

#define SPOT_TYPE_DATABASE (spot_database_get_type ())
G_DECLARE_FINAL_TYPE (SpotDatabase, spot_database, SPOT, DATABASE, GObject)

/* An embedded PostgreSQL with SHARD_COUNT > 1 would give every instance its
 * own database: refused with SPOT_ERROR_INVALID_CONFIG naming both settings. */
gboolean spot_database_check_embedded (const char *database_url, guint shard_count, GError **error);

/* @database_url NULL or empty: embedded in @state_dir. @migrate: apply the
 * migrations at start. */
SpotDatabase *spot_database_new (const char *database_url, const char *state_dir, gboolean migrate);

/* Starts the embedded cluster when needed, opens the repository and
 * migrates. The callback runs in the caller's context. */
void spot_database_start_async (SpotDatabase *self,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
gboolean spot_database_start_finish (SpotDatabase *self, GAsyncResult *result, GError **error);
/* Iterates the thread-default main context until started (tests, tools). */
gboolean spot_database_start_sync (SpotDatabase *self, guint timeout_ms, GError **error);

gboolean spot_database_is_embedded (SpotDatabase *self);
/* Valid after a successful start. */
const char *spot_database_get_conninfo (SpotDatabase *self);
SpotRepository *spot_database_get_repository (SpotDatabase *self);
/* TRUE when the repository's last call succeeded. Any thread. */
gboolean spot_database_is_connected (SpotDatabase *self);

/* Releases the repository and stops an embedded server (fast shutdown within
 * @deadline_ms). Stop the batch writer first so it can flush. */
void spot_database_stop (SpotDatabase *self, guint deadline_ms);

G_END_DECLS
