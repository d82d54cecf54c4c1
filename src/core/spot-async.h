/* spot-async.h: running an asynchronous start to completion from
 * synchronous code (the *_start_sync() of the embedded servers and the
 * database), with a deadline.
 *
 * Thread safety: call from any thread that may block. The helper iterates
 * the caller's thread-default GMainContext (g_main_context_ref_thread_default())
 * until the operation's callback has run, so the operation must deliver its
 * callback there, as GTask does for an operation started on this thread.
 * Other sources attached to that context run meanwhile (a supervisor keeps
 * watching its child through it). It blocks the caller: start-up code, tests
 * and tools only, never a main loop that serves other work.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The shape of every foo_start_async (Foo *self, GCancellable *, callback,
 * user_data); pass one with a cast, as GLib passes typed signal handlers. */
typedef void (*SpotAsyncStartFunc) (gpointer source_object,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);

/* Calls @start (@source_object, cancellable, ...) with a fresh GCancellable
 * that a timer cancels after @timeout_ms, and iterates the thread-default
 * context until the callback has run. Returns the GAsyncResult (transfer
 * full) to pass to the matching _finish(). *@timed_out (may be NULL) is TRUE
 * when the timer fired, that is when a cancellation error from _finish()
 * means "not done within @timeout_ms"; the caller words that error. Note
 * that a GTask which checks its cancellable (GLib's default) then reports
 * G_IO_ERROR_CANCELLED from _finish(), whatever error it returned. */
GAsyncResult *spot_async_run_sync (gpointer source_object,
                                   SpotAsyncStartFunc start,
                                   guint timeout_ms,
                                   gboolean *timed_out);

/* TRUE when @error from _finish() only says the start was cut short by the
 * deadline of spot_async_run_sync() (@timed_out as it reported): a
 * cancellation error, SPOT_ERROR_CANCELLED or GTask's G_IO_ERROR_CANCELLED.
 * The caller then replaces it with its own SPOT_ERROR_TIMEOUT message. */
gboolean spot_async_cut_short (const GError *error, gboolean timed_out);

G_END_DECLS
