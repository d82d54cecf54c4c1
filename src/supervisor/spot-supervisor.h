/* spot-supervisor.h: runs one child process and keeps it running.
 *
 * A SpotSupervisor spawns its child from the main thread (the parent-death
 * signal is tied to the thread that forked, so a child spawned from a worker
 * thread would die with that thread), logs every line the child writes on
 * stdout/stderr (g_debug, structured field SPOT_CHILD=<name>), decides when the
 * child is ready (a line pattern, a probe polled on the main context, or both:
 * pattern first, then probe), restarts it with exponential backoff when it
 * dies unexpectedly, and stops it with a deadline (stop signal, then SIGKILL).
 *
 * No orphan: the child gets a parent-death signal (SIGKILL unless changed),
 * set after the optional user change (setuid clears it), and exits at once if
 * its parent is already gone by then. The child runs in its own process group
 * so that a terminal's Ctrl-C reaches only the service, which then stops its
 * children in order.
 *
 * Thread safety: main thread only (the thread whose thread-default main
 * context was current at construction), including dispose.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SPOT_TYPE_SUPERVISOR (spot_supervisor_get_type ())
G_DECLARE_FINAL_TYPE (SpotSupervisor, spot_supervisor, SPOT, SUPERVISOR, GObject)

typedef enum {
  SPOT_SUPERVISOR_STOPPED,  /* never started, stopped, or gave up */
  SPOT_SUPERVISOR_STARTING, /* child spawned, not ready yet */
  SPOT_SUPERVISOR_RUNNING,  /* child ready */
  SPOT_SUPERVISOR_BACKOFF,  /* child died, waiting to restart it */
  SPOT_SUPERVISOR_STOPPING, /* stop requested, waiting for the child to exit */
} SpotSupervisorState;

/**
 * SpotSupervisorProbeFunc:
 *
 * Asks whether the child is ready, without blocking: the probe must complete
 * @callback with a GTask whose source object is @supervisor and whose result
 * is a boolean (TRUE: ready; FALSE or an error: ask again after the probe
 * interval). Called on the main context, never twice at once, and only while
 * the child is starting. @cancellable is cancelled when the child exits.
 */
typedef void (*SpotSupervisorProbeFunc) (SpotSupervisor *supervisor,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer callback_data,
                                         gpointer user_data);

/* @name labels log lines and errors ("nats-server"); @argv[0] is looked up in
 * PATH when it has no slash. */
SpotSupervisor *spot_supervisor_new (const char *name, const char *const *argv);

const char *spot_supervisor_get_name (SpotSupervisor *self);

/* Configuration. Each setter takes effect at the next spawn (so an owner may
 * change argv between restarts, e.g. to pin a port learned on first start). */
void spot_supervisor_set_argv (SpotSupervisor *self, const char *const *argv);
/* Adds or replaces one variable in the child's environment (inherited from
 * ours otherwise). */
void spot_supervisor_setenv (SpotSupervisor *self, const char *variable, const char *value);
void spot_supervisor_set_working_directory (SpotSupervisor *self, const char *path);
/* Runs the child as @user_name (needs root; resolved at each spawn, also sets
 * HOME, USER and LOGNAME). NULL: our own user. */
void spot_supervisor_set_user (SpotSupervisor *self, const char *user_name);
/* Ready when a line of output matches @pattern (a GRegex, unanchored). */
gboolean spot_supervisor_set_ready_pattern (SpotSupervisor *self, const char *pattern, GError **error);
/* Ready when @probe says so; polled every @interval_ms (after the pattern
 * matched, when there is a pattern). */
void spot_supervisor_set_ready_probe (SpotSupervisor *self,
                                      SpotSupervisorProbeFunc probe,
                                      guint interval_ms,
                                      gpointer user_data,
                                      GDestroyNotify destroy);
/* Restart delays: base_ms * 2^n capped at cap_ms, n counting consecutive
 * short runs; a run that lasted stable_ms or more resets n. Defaults 100 ms,
 * 30 s, 60 s. */
void spot_supervisor_set_backoff (SpotSupervisor *self, guint base_ms, guint cap_ms, guint stable_ms);
/* FALSE: a child that exits is not restarted (one-shot jobs such as initdb).
 * Default TRUE. */
void spot_supervisor_set_restart (SpotSupervisor *self, gboolean restart);
/* Signal sent first by the stop functions. Default SIGTERM. */
void spot_supervisor_set_stop_signal (SpotSupervisor *self, int signum);
/* Signal the child receives when our main thread dies. Default SIGKILL. */
void spot_supervisor_set_death_signal (SpotSupervisor *self, int signum);
/* Nice steps added to the child's priority (0 to 19). Default 0. */
void spot_supervisor_set_nice (SpotSupervisor *self, int steps);

/* Spawns the child now. Fails (and stays stopped) when it cannot be spawned:
 * missing program, unknown user, not root for a user change. */
gboolean spot_supervisor_start (SpotSupervisor *self, GError **error);

/* Sends the stop signal, then SIGKILL after @deadline_ms; completes once the
 * child has exited (at once when there is none). No restart follows. */
void spot_supervisor_stop_async (SpotSupervisor *self,
                                 guint deadline_ms,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean spot_supervisor_stop_finish (SpotSupervisor *self, GAsyncResult *result, GError **error);
/* The same, synchronous and bounded (at most @deadline_ms plus the time the
 * kernel needs to reap a SIGKILLed process): for shutdown paths and tests.
 * Emits ::exited before returning when a child was running. */
void spot_supervisor_stop_sync (SpotSupervisor *self, guint deadline_ms);
/* SIGKILL now and reap, no restart: simulates a crash that stays down. */
void spot_supervisor_kill (SpotSupervisor *self);

SpotSupervisorState spot_supervisor_get_state (SpotSupervisor *self);
/* The running child's pid, or 0. */
GPid spot_supervisor_get_pid (SpotSupervisor *self);
/* How many times the child was spawned since construction. */
guint spot_supervisor_get_spawn_count (SpotSupervisor *self);
/* The last lines the child wrote (at most 30), joined with '\n': for error
 * messages when a child fails to start. Free with g_free. */
char *spot_supervisor_dup_recent_output (SpotSupervisor *self);

/* A ready-made probe: TRUE once a TCP connection to @address succeeds (an
 * address that may change: pass a GSocketConnectable you update, or use your
 * own probe). @user_data of spot_supervisor_set_ready_probe must be a
 * GSocketConnectable. */
void spot_supervisor_probe_tcp_connect (SpotSupervisor *supervisor,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer callback_data,
                                        gpointer user_data);

/* Signals:
 *   ready (SpotSupervisor *self)             the child became ready (after each spawn)
 *   exited (SpotSupervisor *self, int wait_status)
 *                                           the child exited; wait_status as from waitpid()
 *                                           (-1 when unknown); emitted before any restart
 *                                           is scheduled
 *   restart-scheduled (SpotSupervisor *self, guint delay_ms)
 *                                           the child will be spawned again in delay_ms
 *   spawn-failed (SpotSupervisor *self, GError *error)
 *                                           a restart could not spawn the child; it is
 *                                           retried with backoff
 */

G_END_DECLS
