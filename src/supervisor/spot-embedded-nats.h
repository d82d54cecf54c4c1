/* spot-embedded-nats.h: Debian's nats-server run as a supervised child.
 *
 * JetStream on, store in <state_dir>/nats, loopback only, client and
 * monitoring ports chosen by the server (-p -1 -m -1) and read from its ports
 * file. Restarted with backoff if it dies; stopped on dispose; never left
 * behind when the service is killed (parent-death signal).
 *
 * Thread safety: main thread (the thread whose thread-default main context
 * was current at construction) only.
 */
#pragma once

#include <gio/gio.h>

#include "supervisor/spot-supervisor.h"

G_BEGIN_DECLS

#define SPOT_TYPE_EMBEDDED_NATS (spot_embedded_nats_get_type ())
G_DECLARE_FINAL_TYPE (SpotEmbeddedNats, spot_embedded_nats, SPOT, EMBEDDED_NATS, GObject)

SpotEmbeddedNats *spot_embedded_nats_new (const char *state_dir);

/* Starts the server and completes once it accepts clients. */
void spot_embedded_nats_start_async (SpotEmbeddedNats *self,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean spot_embedded_nats_start_finish (SpotEmbeddedNats *self, GAsyncResult *result, GError **error);

/* Iterates the thread-default main context until ready or @timeout_ms. For
 * tests and start-up code that has nothing else to do meanwhile. */
gboolean spot_embedded_nats_start_sync (SpotEmbeddedNats *self, guint timeout_ms, GError **error);

/* "nats://127.0.0.1:PORT" once started (the port survives restarts of the
 * child: it is reused), else NULL. */
const char *spot_embedded_nats_get_url (SpotEmbeddedNats *self);
/* "http://127.0.0.1:PORT" of the monitoring endpoint (/healthz), else NULL. */
const char *spot_embedded_nats_get_monitor_url (SpotEmbeddedNats *self);
GPid spot_embedded_nats_get_pid (SpotEmbeddedNats *self);

/* Sends SIGTERM, waits up to @deadline_ms, then SIGKILL. Synchronous (bounded). */
void spot_embedded_nats_stop (SpotEmbeddedNats *self, guint deadline_ms);

/* SIGKILL now, no automatic restart (a crash that stays down until the next
 * start, which reuses the port and store). Synchronous. */
void spot_embedded_nats_kill (SpotEmbeddedNats *self);

/* The supervisor running nats-server (signals ready/exited, pid, output),
 * e.g. to watch restarts. Owned by @self. */
SpotSupervisor *spot_embedded_nats_get_supervisor (SpotEmbeddedNats *self);

/* Environment: SPOT_NATS_SERVER names another nats-server executable. The
 * child gets SIGKILL if we die (JetStream recovers its file store). After a
 * stop or kill, start again with spot_embedded_nats_start_async/_sync. */

G_END_DECLS
