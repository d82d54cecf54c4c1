/* test-supervisor.c: SpotSupervisor with real child processes. */
#include "supervisor/spot-supervisor.h"

#include "core/spot-error.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_TIMEOUT_MS 20000
#define HELPER_FLAG "--helper-supervise-sleep"

static char *self_exe;

typedef struct
{
  guint ready_count;
  guint exited_count;
  int last_status;
  GArray *spawn_times_us; /* gint64, at each ::ready (immediate without readiness checks) */
  GArray *exit_times_us;  /* gint64 */
  GArray *delays_ms;      /* guint, from ::restart-scheduled */
} Events;

static void
on_restart_scheduled (SpotSupervisor *supervisor, guint delay_ms, gpointer user_data)
{
  Events *events = user_data;
  g_array_append_val (events->delays_ms, delay_ms);
}

static void
on_ready (SpotSupervisor *supervisor, gpointer user_data)
{
  Events *events = user_data;
  gint64 now = g_get_monotonic_time ();

  events->ready_count++;
  g_array_append_val (events->spawn_times_us, now);
}

static void
on_exited (SpotSupervisor *supervisor, int wait_status, gpointer user_data)
{
  Events *events = user_data;
  gint64 now = g_get_monotonic_time ();

  events->exited_count++;
  events->last_status = wait_status;
  g_array_append_val (events->exit_times_us, now);
}

static void
events_init (Events *events, SpotSupervisor *supervisor)
{
  memset (events, 0, sizeof *events);
  events->last_status = -2;
  events->spawn_times_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  events->exit_times_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  events->delays_ms = g_array_new (FALSE, FALSE, sizeof (guint));
  g_signal_connect (supervisor, "restart-scheduled", G_CALLBACK (on_restart_scheduled), events);
  g_signal_connect (supervisor, "ready", G_CALLBACK (on_ready), events);
  g_signal_connect (supervisor, "exited", G_CALLBACK (on_exited), events);
}

static void
events_clear (Events *events)
{
  g_array_unref (events->spawn_times_us);
  g_array_unref (events->exit_times_us);
  g_array_unref (events->delays_ms);
}

static gboolean
timeout_cb (gpointer user_data)
{
  *(gboolean *)user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until *@counter reaches @target. */
static void
wait_for_count (guint *counter, guint target)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (WAIT_TIMEOUT_MS, timeout_cb, &timed_out);

  while (*counter < target && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (id);
}

/* The last output lines once they contain @needle: output may arrive just
 * after the exit (the pipe is read on the main context too). */
static char *
wait_for_output (SpotSupervisor *supervisor, const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_TIMEOUT_MS * 1000LL;
  char *output = spot_supervisor_dup_recent_output (supervisor);

  while (strstr (output, needle) == NULL && g_get_monotonic_time () < deadline)
    {
      g_free (output);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
      output = spot_supervisor_dup_recent_output (supervisor);
    }
  g_assert_nonnull (strstr (output, needle));
  return output;
}

static SpotSupervisor *
new_shell (const char *name, const char *script)
{
  const char *argv[] = { "/bin/sh", "-c", script, NULL };
  return spot_supervisor_new (name, argv);
}

static gboolean
process_alive (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int)pid);
  g_autofree char *stat = NULL;
  const char *state;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  state = strrchr (stat, ')');
  return state != NULL && state[2] != 'Z' && state[2] != 'X';
}

/* ---- tests ---- */

static void
test_ready_via_line_pattern (void)
{
  g_autoptr (SpotSupervisor) sup = new_shell (
      "pattern-child",
      "echo starting; echo 'warming up' >&2; sleep 0.05; echo 'listening now'; exec sleep 1000");
  g_autoptr (GError) error = NULL;
  g_autofree char *output = NULL;
  Events events;
  GPid pid;

  events_init (&events, sup);
  g_assert_true (spot_supervisor_set_ready_pattern (sup, "listening (now|soon)", &error));
  g_assert_true (spot_supervisor_start (sup, &error));
  g_assert_no_error (error);
  g_assert_cmpint (spot_supervisor_get_state (sup), ==, SPOT_SUPERVISOR_STARTING);
  wait_for_count (&events.ready_count, 1);

  g_assert_cmpint (spot_supervisor_get_state (sup), ==, SPOT_SUPERVISOR_RUNNING);
  pid = spot_supervisor_get_pid (sup);
  g_assert_cmpint (pid, >, 0);
  g_assert_true (process_alive (pid));
  g_assert_cmpuint (spot_supervisor_get_spawn_count (sup), ==, 1);
  output = spot_supervisor_dup_recent_output (sup);
  g_assert_nonnull (strstr (output, "starting"));
  g_assert_nonnull (strstr (output, "warming up")); /* stderr too */
  g_assert_nonnull (strstr (output, "listening now"));

  spot_supervisor_stop_sync (sup, 5000);
  g_assert_cmpuint (events.exited_count, ==, 1);
  g_assert_true (WIFSIGNALED (events.last_status));
  g_assert_cmpint (WTERMSIG (events.last_status), ==, SIGTERM);
  g_assert_cmpint (spot_supervisor_get_state (sup), ==, SPOT_SUPERVISOR_STOPPED);
  g_assert_cmpint (spot_supervisor_get_pid (sup), ==, 0);
  g_assert_false (process_alive (pid));
  events_clear (&events);
}

static guint probe_calls;

static void
probe_third_time (SpotSupervisor *supervisor,
                  GCancellable *cancellable,
                  GAsyncReadyCallback callback,
                  gpointer callback_data,
                  gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (supervisor, cancellable, callback, callback_data);

  probe_calls++;
  if (probe_calls < 3)
    g_task_return_new_error (task, SPOT_ERROR, SPOT_ERROR_BUSY, "not yet (%u)", probe_calls);
  else
    g_task_return_boolean (task, TRUE);
}

static void
test_ready_via_probe (void)
{
  g_autoptr (SpotSupervisor) sup = new_shell ("probe-child", "exec sleep 1000");
  g_autoptr (GError) error = NULL;
  Events events;

  events_init (&events, sup);
  probe_calls = 0;
  spot_supervisor_set_ready_probe (sup, probe_third_time, 10, NULL, NULL);
  g_assert_true (spot_supervisor_start (sup, &error));
  wait_for_count (&events.ready_count, 1);
  g_assert_cmpuint (probe_calls, ==, 3);
  g_assert_cmpint (spot_supervisor_get_state (sup), ==, SPOT_SUPERVISOR_RUNNING);
  spot_supervisor_stop_sync (sup, 5000);
  events_clear (&events);
}

static void
test_ready_via_tcp_probe (void)
{
  g_autoptr (SpotSupervisor) sup = new_shell ("tcp-probe-child", "exec sleep 1000");
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  Events events;

  /* Stands for the child's port: accepting connections means ready. */
  g_assert_true (g_socket_listener_add_address (listener, any_port, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error));
  g_assert_no_error (error);
  events_init (&events, sup);
  spot_supervisor_set_ready_probe (sup, spot_supervisor_probe_tcp_connect, 10, g_object_ref (bound),
                                   g_object_unref);
  g_assert_true (spot_supervisor_start (sup, &error));
  wait_for_count (&events.ready_count, 1);
  g_assert_cmpint (spot_supervisor_get_state (sup), ==, SPOT_SUPERVISOR_RUNNING);
  spot_supervisor_stop_sync (sup, 5000);
  g_socket_listener_close (listener);
  events_clear (&events);
}

static void
test_restarts_with_growing_backoff (void)
{
  g_autoptr (SpotSupervisor) sup = new_shell ("crashing-child", "exit 3");
  g_autoptr (GError) error = NULL;
  /* Large enough that the doubling dominates spawn overhead, which under
   * valgrind is a few hundred ms and varies. */
  const guint base_ms = 150;
  Events events;
  gint64 first_gap = 0;

  events_init (&events, sup);
  spot_supervisor_set_backoff (sup, base_ms, 60000, 60000);
  g_assert_true (spot_supervisor_start (sup, &error));
  /* No readiness check: ::ready marks each spawn. */
  wait_for_count (&events.ready_count, 5);
  spot_supervisor_stop_sync (sup, 1000);

  g_assert_cmpuint (events.exited_count, >=, 4);
  for (guint i = 1; i < 5; i++)
    {
      gint64 spawn_gap = g_array_index (events.spawn_times_us, gint64, i)
                         - g_array_index (events.spawn_times_us, gint64, i - 1);
      gint64 gap = g_array_index (events.spawn_times_us, gint64, i)
                   - g_array_index (events.exit_times_us, gint64, i - 1);

      g_test_message ("restart %u: %.1f ms after the exit, %.1f ms after the previous spawn", i,
                      gap / 1000.0, spawn_gap / 1000.0);
      /* Restart i waits base * 2^(i-1) after the exit before it; a slow
       * machine only lengthens the wait. */
      g_assert_cmpint (gap, >=, (gint64)(base_ms << (i - 1)) * 1000);
      if (i == 1)
        first_gap = spawn_gap;
    }
  for (guint i = 0; i < 4; i++)
    g_assert_cmpuint (g_array_index (events.delays_ms, guint, i), ==, base_ms << i);
  /* The last wait alone (8 * base) outgrows the first run plus its wait. */
  g_assert_cmpint (g_array_index (events.spawn_times_us, gint64, 4)
                       - g_array_index (events.spawn_times_us, gint64, 3),
                   >, first_gap);
  events_clear (&events);
}

static void
test_backoff_resets_after_stable_run (void)
{
  /* Every run lasts 300 ms, longer than the 150 ms stable period, so every
   * restart waits the base delay again instead of doubling. */
  g_autoptr (SpotSupervisor) sup = new_shell ("stable-child", "sleep 0.3; exit 1");
  g_autoptr (GError) error = NULL;
  const guint base_ms = 100;
  Events events;

  events_init (&events, sup);
  spot_supervisor_set_backoff (sup, base_ms, 60000, 150);
  g_assert_true (spot_supervisor_start (sup, &error));
  wait_for_count (&events.ready_count, 4);
  spot_supervisor_stop_sync (sup, 1000);

  g_assert_cmpuint (events.delays_ms->len, >=, 3);
  for (guint i = 0; i < 3; i++)
    {
      gint64 gap = g_array_index (events.spawn_times_us, gint64, i + 1)
                   - g_array_index (events.exit_times_us, gint64, i);
      g_assert_cmpuint (g_array_index (events.delays_ms, guint, i), ==, base_ms);
      g_assert_cmpint (gap, >=, (gint64)base_ms * 1000);
    }
  events_clear (&events);
}

static void
test_backoff_is_capped (void)
{
  g_autoptr (SpotSupervisor) sup = new_shell ("capped-child", "exit 1");
  g_autoptr (GError) error = NULL;
  const guint expected[] = { 20, 40, 50, 50 };
  Events events;

  events_init (&events, sup);
  spot_supervisor_set_backoff (sup, 20, 50, 60000);
  g_assert_true (spot_supervisor_start (sup, &error));
  wait_for_count (&events.ready_count, 5);
  spot_supervisor_stop_sync (sup, 1000);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpuint (g_array_index (events.delays_ms, guint, i), ==, expected[i]);
  events_clear (&events);
}

static const char ignore_term_script[] = "trap '' TERM; echo ready; exec sleep 1000";

static void
test_stop_kills_child_ignoring_sigterm (void)
{
  g_autoptr (SpotSupervisor) sup = new_shell ("stubborn-child", ignore_term_script);
  g_autoptr (GError) error = NULL;
  Events events;
  gint64 started;
  gint64 elapsed;
  GPid pid;

  events_init (&events, sup);
  g_assert_true (spot_supervisor_set_ready_pattern (sup, "^ready$", &error));
  g_assert_true (spot_supervisor_start (sup, &error));
  wait_for_count (&events.ready_count, 1);
  pid = spot_supervisor_get_pid (sup);

  started = g_get_monotonic_time ();
  spot_supervisor_stop_sync (sup, 300);
  elapsed = g_get_monotonic_time () - started;

  g_assert_cmpint (elapsed, >=, 300 * 1000);
  g_assert_cmpuint (events.exited_count, ==, 1);
  g_assert_true (WIFSIGNALED (events.last_status));
  g_assert_cmpint (WTERMSIG (events.last_status), ==, SIGKILL);
  g_assert_false (process_alive (pid));
  /* Stopped means stopped: no restart follows. */
  g_assert_cmpint (spot_supervisor_get_state (sup), ==, SPOT_SUPERVISOR_STOPPED);
  events_clear (&events);
}

static void
stop_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  guint *done = user_data;

  g_assert_true (spot_supervisor_stop_finish (SPOT_SUPERVISOR (source), result, NULL));
  (*done)++;
}

static void
test_stop_async_kills_child_ignoring_sigterm (void)
{
  g_autoptr (SpotSupervisor) sup = new_shell ("stubborn-child", ignore_term_script);
  g_autoptr (GError) error = NULL;
  Events events;
  guint done = 0;
  gint64 started;

  events_init (&events, sup);
  g_assert_true (spot_supervisor_set_ready_pattern (sup, "^ready$", &error));
  g_assert_true (spot_supervisor_start (sup, &error));
  wait_for_count (&events.ready_count, 1);

  started = g_get_monotonic_time ();
  spot_supervisor_stop_async (sup, 200, NULL, stop_done_cb, &done);
  g_assert_cmpint (spot_supervisor_get_state (sup), ==, SPOT_SUPERVISOR_STOPPING);
  wait_for_count (&done, 1);
  g_assert_cmpint (g_get_monotonic_time () - started, >=, 200 * 1000);
  g_assert_true (WIFSIGNALED (events.last_status));
  g_assert_cmpint (WTERMSIG (events.last_status), ==, SIGKILL);
  g_assert_cmpint (spot_supervisor_get_state (sup), ==, SPOT_SUPERVISOR_STOPPED);
  events_clear (&events);
}

static void
test_stop_uses_configured_signal (void)
{
  g_autoptr (SpotSupervisor) sup
      = new_shell ("int-child", "trap 'exit 7' INT; echo ready; while :; do sleep 0.02; done");
  g_autoptr (GError) error = NULL;
  Events events;

  events_init (&events, sup);
  spot_supervisor_set_stop_signal (sup, SIGINT);
  g_assert_true (spot_supervisor_set_ready_pattern (sup, "^ready$", &error));
  g_assert_true (spot_supervisor_start (sup, &error));
  wait_for_count (&events.ready_count, 1);
  spot_supervisor_stop_sync (sup, 10000);
  g_assert_true (WIFEXITED (events.last_status));
  g_assert_cmpint (WEXITSTATUS (events.last_status), ==, 7);
  events_clear (&events);
}

static void
test_spawn_failure_names_program (void)
{
  const char *argv[] = { "/nonexistent/spot-program", NULL };
  g_autoptr (SpotSupervisor) sup = spot_supervisor_new ("missing", argv);
  g_autoptr (GError) error = NULL;

  g_assert_false (spot_supervisor_start (sup, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/spot-program"));
  g_assert_cmpint (spot_supervisor_get_state (sup), ==, SPOT_SUPERVISOR_STOPPED);
}

static void
test_environment_and_working_directory (void)
{
  g_autoptr (SpotSupervisor) sup
      = new_shell ("env-child", "echo \"var=$SPOT_TEST_VAR cwd=$(pwd)\"");
  g_autoptr (GError) error = NULL;
  g_autofree char *output = NULL;
  Events events;

  events_init (&events, sup);
  spot_supervisor_setenv (sup, "SPOT_TEST_VAR", "one");
  spot_supervisor_setenv (sup, "SPOT_TEST_VAR", "two");
  spot_supervisor_set_working_directory (sup, "/");
  spot_supervisor_set_restart (sup, FALSE);
  g_assert_true (spot_supervisor_start (sup, &error));
  wait_for_count (&events.exited_count, 1);
  g_assert_true (WIFEXITED (events.last_status));
  g_assert_cmpint (spot_supervisor_get_state (sup), ==, SPOT_SUPERVISOR_STOPPED);
  output = wait_for_output (sup, "var=");
  g_assert_cmpstr (output, ==, "var=two cwd=/");
  events_clear (&events);
}

static void
test_child_runs_at_configured_nice (void)
{
  g_autoptr (SpotSupervisor) sup = new_shell ("nice-child", "echo \"nice=$(nice)\"");
  g_autoptr (GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *expected = NULL;
  Events events;
  int ours;

  errno = 0;
  ours = getpriority (PRIO_PROCESS, 0);
  g_assert_cmpint (errno, ==, 0);
  expected = g_strdup_printf ("nice=%d", MIN (ours + 3, 19));
  events_init (&events, sup);
  spot_supervisor_set_nice (sup, 3);
  spot_supervisor_set_restart (sup, FALSE);
  g_assert_true (spot_supervisor_start (sup, &error));
  wait_for_count (&events.exited_count, 1);
  output = wait_for_output (sup, "nice=");
  g_assert_cmpstr (output, ==, expected);
  /* Only the child: the service keeps its own priority. */
  g_assert_cmpint (getpriority (PRIO_PROCESS, 0), ==, ours);
  events_clear (&events);
}

static gboolean
skip_unless_root_with_nobody (void)
{
  if (geteuid () != 0)
    {
      g_test_skip ("needs root to change user");
      return TRUE;
    }
  if (getpwnam ("nobody") == NULL)
    {
      g_test_skip ("no user nobody");
      return TRUE;
    }
  return FALSE;
}

static void
test_runs_as_another_user (void)
{
  g_autoptr (SpotSupervisor) sup = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *expected = NULL;
  struct passwd *pw;
  Events events;

  if (skip_unless_root_with_nobody ())
    return;
  pw = getpwnam ("nobody");
  expected
      = g_strdup_printf ("uid=%u gid=%u user=nobody", (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
  sup = new_shell ("user-child", "echo \"uid=$(id -u) gid=$(id -g) user=$USER\"; echo done");
  events_init (&events, sup);
  spot_supervisor_set_user (sup, "nobody");
  spot_supervisor_set_working_directory (sup, "/");
  spot_supervisor_set_restart (sup, FALSE);
  g_assert_true (spot_supervisor_start (sup, &error));
  g_assert_no_error (error);
  wait_for_count (&events.exited_count, 1);
  output = wait_for_output (sup, "done");
  g_assert_nonnull (strstr (output, expected));
  g_assert_true (WIFEXITED (events.last_status));
  g_assert_cmpint (WEXITSTATUS (events.last_status), ==, 0);
  events_clear (&events);
}

static void
test_unknown_user_is_refused (void)
{
  g_autoptr (SpotSupervisor) sup = new_shell ("nouser-child", "true");
  g_autoptr (GError) error = NULL;

  spot_supervisor_set_user (sup, "spot-no-such-user");
  g_assert_false (spot_supervisor_start (sup, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "spot-no-such-user"));
}

/* ---- no orphan when the parent is SIGKILLed ---- */

/* Helper mode: supervise `sleep 1000` (as @user when given), print its pid,
 * then wait to be killed. */
static int
run_helper (const char *user)
{
  const char *argv[] = { "sleep", "1000", NULL };
  g_autoptr (SpotSupervisor) sup = spot_supervisor_new ("sleep", argv);
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  if (user != NULL)
    {
      spot_supervisor_set_user (sup, user);
      spot_supervisor_set_working_directory (sup, "/");
    }
  if (!spot_supervisor_start (sup, &error))
    {
      fprintf (stderr, "helper: %s\n", error->message);
      return 1;
    }
  printf ("PID %d\n", (int)spot_supervisor_get_pid (sup));
  fflush (stdout);
  g_main_loop_run (loop);
  return 0;
}

static void
assert_no_orphan_after_parent_sigkill (const char *user)
{
  const char *argv[] = { self_exe, HELPER_FLAG, user, NULL };
  g_autoptr (GError) error = NULL;
  GPid helper = 0;
  int out_fd = -1;
  char buffer[64] = { 0 };
  gsize filled = 0;
  int status = 0;
  GPid grandchild;
  gint64 deadline;
  gboolean reaped = FALSE;

  /* Orphans are re-parented to us, so we can reap and inspect them (PID 1
   * of a container may not reap). */
  g_assert_cmpint (prctl (PR_SET_CHILD_SUBREAPER, 1), ==, 0);
  g_assert_true (g_spawn_async_with_pipes_and_fds (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                                   NULL, NULL, -1, -1, -1, NULL, NULL, 0, &helper,
                                                   NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);

  deadline = g_get_monotonic_time () + WAIT_TIMEOUT_MS * 1000LL;
  while (strchr (buffer, '\n') == NULL && filled < sizeof buffer - 1
         && g_get_monotonic_time () < deadline)
    {
      struct pollfd pfd = { .fd = out_fd, .events = POLLIN };
      ssize_t n;

      if (poll (&pfd, 1, 100) <= 0)
        continue;
      n = read (out_fd, buffer + filled, sizeof buffer - 1 - filled);
      if (n <= 0)
        break;
      filled += (gsize)n;
    }
  close (out_fd);
  g_assert_true (g_str_has_prefix (buffer, "PID "));
  grandchild = (GPid)g_ascii_strtoll (buffer + 4, NULL, 10);
  g_assert_cmpint (grandchild, >, 0);
  g_assert_true (process_alive (grandchild));

  g_assert_cmpint (kill (helper, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (helper, &status, 0), ==, helper);
  g_assert_true (WIFSIGNALED (status));

  /* The kernel delivers the parent-death signal at once; allow a second. */
  deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  while (!reaped && g_get_monotonic_time () < deadline)
    {
      pid_t rc = waitpid (grandchild, &status, WNOHANG);
      if (rc == grandchild)
        reaped = TRUE;
      else if (rc < 0)
        break; /* not ours to reap: checked below */
      else
        g_usleep (2000);
    }
  if (!reaped)
    g_assert_false (process_alive (grandchild));
  else
    {
      g_assert_true (WIFSIGNALED (status));
      g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
    }
  g_assert_cmpint (prctl (PR_SET_CHILD_SUBREAPER, 0), ==, 0);
}

static void
test_no_orphan_after_parent_sigkill (void)
{
  assert_no_orphan_after_parent_sigkill (NULL);
}

static void
test_no_orphan_as_another_user (void)
{
  if (skip_unless_root_with_nobody ())
    return;
  /* The user change clears the parent-death signal: it must be set after. */
  assert_no_orphan_after_parent_sigkill ("nobody");
}

int
main (int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], HELPER_FLAG) == 0)
    return run_helper (argc >= 3 ? argv[2] : NULL);

  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  if (self_exe == NULL)
    self_exe = g_canonicalize_filename (argv[0], NULL);

  g_test_init (&argc, &argv, NULL);
  /* Crashing children are the point of several tests: the supervisor's
   * warnings about them must not abort the test program. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

  g_test_add_func ("/supervisor/ready-via-line-pattern", test_ready_via_line_pattern);
  g_test_add_func ("/supervisor/ready-via-probe", test_ready_via_probe);
  g_test_add_func ("/supervisor/ready-via-tcp-probe", test_ready_via_tcp_probe);
  g_test_add_func ("/supervisor/restarts-with-growing-backoff", test_restarts_with_growing_backoff);
  g_test_add_func ("/supervisor/backoff-resets-after-stable-run",
                   test_backoff_resets_after_stable_run);
  g_test_add_func ("/supervisor/backoff-is-capped", test_backoff_is_capped);
  g_test_add_func ("/supervisor/stop-kills-child-ignoring-sigterm",
                   test_stop_kills_child_ignoring_sigterm);
  g_test_add_func ("/supervisor/stop-async-kills-child-ignoring-sigterm",
                   test_stop_async_kills_child_ignoring_sigterm);
  g_test_add_func ("/supervisor/stop-uses-configured-signal", test_stop_uses_configured_signal);
  g_test_add_func ("/supervisor/spawn-failure-names-program", test_spawn_failure_names_program);
  g_test_add_func ("/supervisor/environment-and-working-directory",
                   test_environment_and_working_directory);
  g_test_add_func ("/supervisor/child-runs-at-configured-nice", test_child_runs_at_configured_nice);
  g_test_add_func ("/supervisor/runs-as-another-user", test_runs_as_another_user);
  g_test_add_func ("/supervisor/unknown-user-is-refused", test_unknown_user_is_refused);
  g_test_add_func ("/supervisor/no-orphan-after-parent-sigkill",
                   test_no_orphan_after_parent_sigkill);
  g_test_add_func ("/supervisor/no-orphan-as-another-user", test_no_orphan_as_another_user);
  return g_test_run ();
}
