/* test-async.c: spot_async_run_sync() runs a GTask-based start to its end on
 * the caller's thread-default context, with a deadline. */
#include "core/spot-async.h"

#include "core/spot-error.h"

/* A start operation that finishes @delay_ms after it begins (or, with
 * G_MAXUINT, only when cancelled), like the servers' *_start_async(). */
typedef struct
{
  guint delay_ms;
  GCancellable *seen_cancellable; /* owned; the one the helper passed */
  GMainContext *seen_context;     /* owned; where the start ran */
} FakeStart;

static gboolean
cancelled_cb (GCancellable *cancellable, gpointer user_data)
{
  g_task_return_new_error (user_data, SPOT_ERROR, SPOT_ERROR_CANCELLED, "start cancelled");
  return G_SOURCE_REMOVE;
}

static gboolean
finish_later_cb (gpointer user_data)
{
  g_task_return_int (user_data, 42);
  return G_SOURCE_REMOVE;
}

static void
fake_start_async (FakeStart *self,
                  GCancellable *cancellable,
                  GAsyncReadyCallback callback,
                  gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_clear_object (&self->seen_cancellable);
  self->seen_cancellable = g_object_ref (cancellable);
  g_clear_pointer (&self->seen_context, g_main_context_unref);
  self->seen_context = g_main_context_ref_thread_default ();
  /* Our own error on cancellation, as the servers' starts return. */
  g_task_set_check_cancellable (task, FALSE);
  if (self->delay_ms == G_MAXUINT)
    {
      g_autoptr (GSource) on_cancel = g_cancellable_source_new (cancellable);

      g_source_set_callback (on_cancel, G_SOURCE_FUNC (cancelled_cb), g_object_ref (task),
                             g_object_unref);
      g_source_attach (on_cancel, self->seen_context);
    }
  else
    {
      g_autoptr (GSource) later = g_timeout_source_new (self->delay_ms);

      g_source_set_callback (later, finish_later_cb, g_object_ref (task), g_object_unref);
      g_source_attach (later, self->seen_context);
    }
  g_object_unref (task);
}

static void
fake_clear (FakeStart *self)
{
  g_clear_object (&self->seen_cancellable);
  g_clear_pointer (&self->seen_context, g_main_context_unref);
}

static void
test_async_returns_the_result_of_a_start_that_finishes_in_time (void)
{
  FakeStart fake = { .delay_ms = 20 };
  gboolean timed_out = TRUE;
  g_autoptr (GAsyncResult) result
      = spot_async_run_sync (&fake, (SpotAsyncStartFunc)fake_start_async, 10000, &timed_out);
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (result);
  g_assert_false (timed_out);
  g_assert_cmpint (g_task_propagate_int (G_TASK (result), &error), ==, 42);
  g_assert_no_error (error);
  g_assert_false (g_cancellable_is_cancelled (fake.seen_cancellable));
  fake_clear (&fake);
}

static void
test_async_cancels_a_start_that_misses_the_deadline (void)
{
  FakeStart fake = { .delay_ms = G_MAXUINT };
  gboolean timed_out = FALSE;
  gint64 before = g_get_monotonic_time ();
  g_autoptr (GAsyncResult) result
      = spot_async_run_sync (&fake, (SpotAsyncStartFunc)fake_start_async, 50, &timed_out);
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (result);
  g_assert_true (timed_out);
  g_assert_true (g_cancellable_is_cancelled (fake.seen_cancellable));
  /* Not before the deadline (no upper bound: the machine is noisy). */
  g_assert_cmpint (g_get_monotonic_time () - before, >=, 50 * 1000);
  g_assert_cmpint (g_task_propagate_int (G_TASK (result), &error), ==, -1);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_CANCELLED);
  fake_clear (&fake);
}

static gboolean
set_flag_cb (gpointer user_data)
{
  *(gboolean *)user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_async_iterates_the_thread_default_context_only (void)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GSource) elsewhere = g_idle_source_new ();
  FakeStart fake = { .delay_ms = 10 };
  gboolean elsewhere_ran = FALSE;
  g_autoptr (GAsyncResult) result = NULL;

  /* Ready on the global default context, which is not ours here. */
  g_source_set_callback (elsewhere, set_flag_cb, &elsewhere_ran, NULL);
  g_source_attach (elsewhere, NULL);

  g_main_context_push_thread_default (context);
  result = spot_async_run_sync (&fake, (SpotAsyncStartFunc)fake_start_async, 10000, NULL);
  g_main_context_pop_thread_default (context);

  g_assert_true (fake.seen_context == context);
  g_assert_true (g_task_is_valid (result, NULL));
  g_assert_true (g_main_context_default () != context);
  g_assert_false (elsewhere_ran);
  g_source_destroy (elsewhere);
  g_assert_cmpint (g_task_propagate_int (G_TASK (result), NULL), ==, 42);
  fake_clear (&fake);
}

static void
test_async_never_cancels_a_start_after_it_finished (void)
{
  FakeStart fake = { .delay_ms = 0 };
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GSource) past_deadline = g_timeout_source_new (150);
  gboolean passed = FALSE;
  g_autoptr (GAsyncResult) result = NULL;

  g_main_context_push_thread_default (context);
  result = spot_async_run_sync (&fake, (SpotAsyncStartFunc)fake_start_async, 50, NULL);
  /* Run the context well past the deadline: the timer must be gone. */
  g_source_set_callback (past_deadline, set_flag_cb, &passed, NULL);
  g_source_attach (past_deadline, context);
  while (!passed)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);

  g_assert_false (g_cancellable_is_cancelled (fake.seen_cancellable));
  g_assert_cmpint (g_task_propagate_int (G_TASK (result), NULL), ==, 42);
  fake_clear (&fake);
}

/* A start that calls back before returning (not GTask's way, but allowed). */
static void
immediate_start_async (gpointer source,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, NULL, NULL);

  g_task_return_int (task, 7);
  callback (NULL, G_ASYNC_RESULT (task), user_data);
}

static void
test_async_returns_at_once_when_the_callback_runs_inside_start (void)
{
  gboolean timed_out = TRUE;
  g_autoptr (GAsyncResult) result
      = spot_async_run_sync (NULL, immediate_start_async, 10000, &timed_out);

  g_assert_false (timed_out);
  g_assert_cmpint (g_task_propagate_int (G_TASK (result), NULL), ==, 7);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/async/returns-the-result-of-a-start-that-finishes-in-time",
                   test_async_returns_the_result_of_a_start_that_finishes_in_time);
  g_test_add_func ("/async/cancels-a-start-that-misses-the-deadline",
                   test_async_cancels_a_start_that_misses_the_deadline);
  g_test_add_func ("/async/iterates-the-thread-default-context-only",
                   test_async_iterates_the_thread_default_context_only);
  g_test_add_func ("/async/never-cancels-a-start-after-it-finished",
                   test_async_never_cancels_a_start_after_it_finished);
  g_test_add_func ("/async/returns-at-once-when-the-callback-runs-inside-start",
                   test_async_returns_at_once_when_the_callback_runs_inside_start);
  return g_test_run ();
}
