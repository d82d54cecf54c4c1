/* spot-async.c: an asynchronous start run to completion with a deadline. */
#define G_LOG_DOMAIN "spot-core"

#include "core/spot-async.h"
#include "core/spot-error.h"

static void
store_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

GAsyncResult *
spot_async_run_sync (gpointer source_object,
                     SpotAsyncStartFunc start,
                     guint timeout_ms,
                     gboolean *timed_out)
{
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GSource) timer = g_timeout_source_new (timeout_ms);
  GAsyncResult *result = NULL;

  g_return_val_if_fail (start != NULL, NULL);

  /* The timer exists before the start, so the deadline covers it too. */
  g_source_set_callback (timer, cancel_cb, cancellable, NULL);
  g_source_attach (timer, context);
  start (source_object, cancellable, store_result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timer);
  if (timed_out != NULL)
    *timed_out = g_cancellable_is_cancelled (cancellable);
  return result;
}

gboolean
spot_async_cut_short (const GError *error, gboolean timed_out)
{
  return timed_out && error != NULL
         && (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
             || g_error_matches (error, SPOT_ERROR, SPOT_ERROR_CANCELLED));
}
