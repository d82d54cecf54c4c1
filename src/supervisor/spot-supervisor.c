/* spot-supervisor.c: one supervised child process. */
#define G_LOG_DOMAIN "spot-supervisor"

#include "supervisor/spot-supervisor.h"

#include "core/spot-error.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define RECENT_LINES_MAX 30
#define LOG_LINE_MAX 4096
#define DISPOSE_STOP_DEADLINE_MS 5000
/* Without pidfd (old kernels, some valgrind versions) exits are polled. */
#define EXIT_POLL_INTERVAL_MS 20

typedef struct _LineReader LineReader;

struct _SpotSupervisor
{
  GObject parent_instance;

  GMainContext *context;
  GThread *owner; /* the thread that must spawn: see the header */
  char *name;

  /* configuration, applied at each spawn */
  GStrv argv;
  GStrv env_additions; /* "VAR=value" entries, g_environ_setenv'd over ours */
  char *working_directory;
  char *user_name;
  GRegex *ready_regex;
  SpotSupervisorProbeFunc probe;
  guint probe_interval_ms;
  gpointer probe_data;
  GDestroyNotify probe_destroy;
  guint backoff_base_ms;
  guint backoff_cap_ms;
  guint stable_ms;
  gboolean restart;
  int stop_signal;
  int death_signal;
  int nice;

  /* the current child */
  SpotSupervisorState state;
  GPid pid;
  int pidfd; /* -1 when pidfd_open is unavailable */
  GSource *exit_source;
  gint64 spawn_time_us;
  guint spawn_count;
  guint failures; /* consecutive short runs, for the backoff */
  gboolean pattern_matched;
  GCancellable *probe_cancellable;
  GSource *probe_timer;
  gboolean probe_pending;
  GSource *restart_timer;
  GSource *kill_timer;
  GPtrArray *stop_tasks; /* GTask */
  gboolean disposing;

  GPtrArray *readers;  /* LineReader, not owned */
  GQueue recent_lines; /* char * */
};

/* Reads one output pipe of one child line by line. It outlives the child
 * (a grandchild may hold the pipe) and may outlive the supervisor: dispose
 * cancels it and clears ->self. */
struct _LineReader
{
  SpotSupervisor *self;
  GDataInputStream *stream;
  GCancellable *cancellable;
  GPid pid;
  guint generation;
  const char *stream_name;
};

enum
{
  SIGNAL_READY,
  SIGNAL_EXITED,
  SIGNAL_SPAWN_FAILED,
  SIGNAL_RESTART_SCHEDULED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (SpotSupervisor, spot_supervisor, G_TYPE_OBJECT)

static void schedule_probe (SpotSupervisor *self);
static void child_exited (SpotSupervisor *self, int wait_status);

/* ---- small helpers ---- */

static GSource *
attach_timeout (SpotSupervisor *self, guint ms, GSourceFunc func)
{
  GSource *source = g_timeout_source_new (ms);
  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
  return source;
}

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static char *
describe_wait_status (int wait_status)
{
  if (wait_status < 0)
    return g_strdup ("with an unknown status");
  if (WIFEXITED (wait_status))
    return g_strdup_printf ("with code %d", WEXITSTATUS (wait_status));
  if (WIFSIGNALED (wait_status))
    return g_strdup_printf ("killed by signal %d (%s)", WTERMSIG (wait_status),
                            g_strsignal (WTERMSIG (wait_status)));
  return g_strdup_printf ("with status 0x%x", (unsigned)wait_status);
}

static int
open_pidfd (GPid pid)
{
#ifdef SYS_pidfd_open
  static gboolean unavailable = FALSE; /* main thread only */
  int fd;

  if (unavailable)
    return -1;
  fd = (int)syscall (SYS_pidfd_open, pid, 0);
  if (fd < 0 && (errno == ENOSYS || errno == EPERM))
    {
      g_debug ("pidfd_open unavailable (%s): polling for child exits", g_strerror (errno));
      unavailable = TRUE;
    }
  return fd;
#else
  return -1;
#endif
}

/* ---- output ---- */

static void
remember_line (SpotSupervisor *self, const char *line)
{
  g_queue_push_tail (&self->recent_lines, g_strdup (line));
  while (g_queue_get_length (&self->recent_lines) > RECENT_LINES_MAX)
    g_free (g_queue_pop_head (&self->recent_lines));
}

static void
become_ready (SpotSupervisor *self)
{
  self->state = SPOT_SUPERVISOR_RUNNING;
  clear_source (&self->probe_timer);
  g_info ("%s (pid %d) is ready, %.0f ms after spawn", self->name, (int)self->pid,
          (g_get_monotonic_time () - self->spawn_time_us) / 1000.0);
  g_object_ref (self);
  g_signal_emit (self, signals[SIGNAL_READY], 0);
  g_object_unref (self);
}

static void
handle_line (SpotSupervisor *self, LineReader *reader, const char *line)
{
  gsize len = strlen (line);
  g_autofree char *copy = g_strndup (line, MIN (len, LOG_LINE_MAX));

  if (len > 0 && copy[strlen (copy) - 1] == '\r')
    copy[strlen (copy) - 1] = '\0';
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, "SPOT_CHILD", self->name, "MESSAGE",
                    "%s[%d] %s: %s", self->name, (int)reader->pid, reader->stream_name, copy);
  remember_line (self, copy);

  if (reader->generation != self->spawn_count || self->state != SPOT_SUPERVISOR_STARTING)
    return;
  if (self->ready_regex == NULL || self->pattern_matched)
    return;
  if (!g_regex_match (self->ready_regex, copy, 0, NULL))
    return;
  self->pattern_matched = TRUE;
  if (self->probe != NULL)
    schedule_probe (self);
  else
    become_ready (self);
}

static void
line_reader_free (LineReader *reader)
{
  if (reader->self != NULL)
    g_ptr_array_remove (reader->self->readers, reader);
  g_clear_object (&reader->stream);
  g_clear_object (&reader->cancellable);
  g_free (reader);
}

static void read_next_line (LineReader *reader);

static void
line_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LineReader *reader = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL,
                                                    &error);
  if (line == NULL && error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA))
    {
      /* Not UTF-8: the line was consumed anyway; keep reading. */
      g_clear_error (&error);
      if (reader->self != NULL)
        handle_line (reader->self, reader, "(line not valid UTF-8)");
      read_next_line (reader);
      return;
    }
  if (line == NULL || reader->self == NULL)
    {
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
          && reader->self != NULL)
        g_debug ("%s[%d]: reading %s failed: %s", reader->self->name, (int)reader->pid,
                 reader->stream_name, error->message);
      line_reader_free (reader);
      return;
    }
  handle_line (reader->self, reader, line);
  read_next_line (reader);
}

static void
read_next_line (LineReader *reader)
{
  g_data_input_stream_read_line_async (reader->stream, G_PRIORITY_DEFAULT, reader->cancellable,
                                       line_read_cb, reader);
}

static void
start_reader (SpotSupervisor *self, int fd, const char *stream_name)
{
  LineReader *reader = g_new0 (LineReader, 1);
  g_autoptr (GInputStream) base = NULL;
  g_autoptr (GError) error = NULL;

  if (!g_unix_set_fd_nonblocking (fd, TRUE, &error))
    g_debug ("%s: cannot make %s non-blocking: %s", self->name, stream_name, error->message);
  base = g_unix_input_stream_new (fd, TRUE);
  reader->self = self;
  reader->stream = g_data_input_stream_new (base);
  g_data_input_stream_set_newline_type (reader->stream, G_DATA_STREAM_NEWLINE_TYPE_LF);
  reader->cancellable = g_cancellable_new ();
  reader->pid = self->pid;
  reader->generation = self->spawn_count;
  reader->stream_name = stream_name;
  g_ptr_array_add (self->readers, reader);
  read_next_line (reader);
}

/* ---- readiness probe ---- */

static void
probe_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SpotSupervisor *self = SPOT_SUPERVISOR (source);
  guint generation = GPOINTER_TO_UINT (user_data);
  g_autoptr (GError) error = NULL;
  gboolean ready;

  ready = g_task_propagate_boolean (G_TASK (result), &error);
  if (generation != self->spawn_count || self->state != SPOT_SUPERVISOR_STARTING || self->disposing)
    return;
  self->probe_pending = FALSE;
  if (ready)
    {
      become_ready (self);
      return;
    }
  if (error != NULL)
    g_debug ("%s: not ready yet: %s", self->name, error->message);
  schedule_probe (self);
}

static void
run_probe (SpotSupervisor *self)
{
  self->probe_pending = TRUE;
  self->probe (self, self->probe_cancellable, probe_done_cb, GUINT_TO_POINTER (self->spawn_count),
               self->probe_data);
}

static gboolean
probe_timer_cb (gpointer user_data)
{
  SpotSupervisor *self = user_data;

  g_clear_pointer (&self->probe_timer, g_source_unref);
  if (self->state == SPOT_SUPERVISOR_STARTING && !self->probe_pending)
    run_probe (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_probe (SpotSupervisor *self)
{
  if (self->probe_timer != NULL || self->probe_pending)
    return;
  self->probe_timer = attach_timeout (self, self->probe_interval_ms, probe_timer_cb);
}

/* ---- spawning ---- */

typedef struct
{
  gboolean change_user;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  int n_groups;
  int death_signal;
  pid_t parent_pid;
  int nice;
} ChildSetup;

static void
child_write (const char *message)
{
  ssize_t unused = write (STDERR_FILENO, message, strlen (message));
  (void)unused;
}

/* Runs in the forked child before exec: async-signal-safe calls only. */
static void
child_setup (gpointer user_data)
{
  ChildSetup *setup = user_data;

  /* Our own process group: a terminal's Ctrl-C goes to the service only. */
  setpgid (0, 0);
  if (setup->change_user)
    {
      if (setgroups ((size_t)setup->n_groups, setup->groups) != 0 || setgid (setup->gid) != 0
          || setuid (setup->uid) != 0)
        {
          child_write ("spot-supervisor: cannot change user before exec\n");
          _exit (127);
        }
    }
  /* After the user change, which clears it. */
  if (prctl (PR_SET_PDEATHSIG, setup->death_signal) != 0)
    {
      child_write ("spot-supervisor: cannot set the parent-death signal\n");
      _exit (127);
    }
  /* The parent may have died before prctl: then nobody would signal us. */
  if (getppid () != setup->parent_pid)
    _exit (127);
  /* A thin system call; failing leaves the priority as it was. */
  if (setup->nice > 0)
    {
      int unused = nice (setup->nice);
      (void)unused;
    }
}

static gboolean
resolve_user (SpotSupervisor *self, ChildSetup *setup, GStrv *envp, GError **error)
{
  struct passwd pw;
  struct passwd *found = NULL;
  char buffer[4096];
  int n_groups = 64;
  int rc;

  rc = getpwnam_r (self->user_name, &pw, buffer, sizeof buffer, &found);
  if (found == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND, "cannot run %s as user “%s”: %s",
                   self->name, self->user_name, rc != 0 ? g_strerror (rc) : "no such user");
      return FALSE;
    }
  if (geteuid () != 0 && geteuid () != pw.pw_uid)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "cannot run %s as user “%s”: changing user needs root", self->name,
                   self->user_name);
      return FALSE;
    }
  setup->change_user = TRUE;
  setup->uid = pw.pw_uid;
  setup->gid = pw.pw_gid;
  setup->groups = g_new (gid_t, n_groups);
  if (getgrouplist (pw.pw_name, pw.pw_gid, setup->groups, &n_groups) < 0)
    {
      setup->groups = g_renew (gid_t, setup->groups, n_groups);
      if (getgrouplist (pw.pw_name, pw.pw_gid, setup->groups, &n_groups) < 0)
        n_groups = 0;
    }
  setup->n_groups = n_groups;
  *envp = g_environ_setenv (*envp, "HOME", pw.pw_dir, TRUE);
  *envp = g_environ_setenv (*envp, "USER", pw.pw_name, TRUE);
  *envp = g_environ_setenv (*envp, "LOGNAME", pw.pw_name, TRUE);
  return TRUE;
}

static gboolean
exit_source_cb (gpointer user_data)
{
  SpotSupervisor *self = user_data;
  int status = 0;
  pid_t rc;

  if (self->pid == 0)
    return G_SOURCE_CONTINUE;
  rc = waitpid (self->pid, &status, WNOHANG);
  if (rc == 0)
    return G_SOURCE_CONTINUE; /* polling without pidfd */
  if (rc < 0)
    status = -1;
  child_exited (self, status);
  return G_SOURCE_CONTINUE; /* child_exited destroyed the source */
}

static gboolean
pidfd_ready_cb (int fd, GIOCondition condition, gpointer user_data)
{
  return exit_source_cb (user_data);
}

static gboolean
spawn_child (SpotSupervisor *self, GError **error)
{
  g_auto (GStrv) envp = g_get_environ ();
  ChildSetup setup = { 0 };
  GSpawnFlags flags = G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL;
  g_autoptr (GError) local_error = NULL;
  GPid pid = 0;
  int out_fd = -1;
  int err_fd = -1;
  gboolean spawned;

  if (self->argv == NULL || self->argv[0] == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT, "%s: no command to run",
                   self->name);
      return FALSE;
    }
  if (strchr (self->argv[0], '/') == NULL)
    flags |= G_SPAWN_SEARCH_PATH;
  if (self->user_name != NULL && !resolve_user (self, &setup, &envp, error))
    return FALSE;
  for (guint i = 0; self->env_additions != NULL && self->env_additions[i] != NULL; i++)
    {
      g_autofree char *variable = g_strdup (self->env_additions[i]);
      char *eq = strchr (variable, '=');
      *eq = '\0';
      envp = g_environ_setenv (envp, variable, eq + 1, TRUE);
    }
  setup.death_signal = self->death_signal;
  setup.parent_pid = getpid ();
  setup.nice = self->nice;

  spawned = g_spawn_async_with_pipes_and_fds (
      self->working_directory, (const char *const *)self->argv, (const char *const *)envp, flags,
      child_setup, &setup, -1, -1, -1, NULL, NULL, 0, &pid, NULL, &out_fd, &err_fd, &local_error);
  g_free (setup.groups);
  if (!spawned)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "cannot start %s (%s): %s", self->name,
                   self->argv[0], local_error->message);
      return FALSE;
    }

  self->pid = pid;
  self->spawn_count++;
  self->spawn_time_us = g_get_monotonic_time ();
  self->pattern_matched = FALSE;
  self->probe_pending = FALSE;
  self->state = SPOT_SUPERVISOR_STARTING;
  g_clear_object (&self->probe_cancellable);
  self->probe_cancellable = g_cancellable_new ();

  self->pidfd = open_pidfd (pid);
  if (self->pidfd >= 0)
    {
      self->exit_source = g_unix_fd_source_new (self->pidfd, G_IO_IN);
      g_source_set_callback (self->exit_source, (GSourceFunc)(void (*) (void))pidfd_ready_cb, self,
                             NULL);
    }
  else
    {
      self->exit_source = g_timeout_source_new (EXIT_POLL_INTERVAL_MS);
      g_source_set_callback (self->exit_source, exit_source_cb, self, NULL);
    }
  g_source_attach (self->exit_source, self->context);

  start_reader (self, out_fd, "stdout");
  start_reader (self, err_fd, "stderr");

  g_debug ("%s: spawned %s as pid %d%s%s", self->name, self->argv[0], (int)pid,
           self->user_name != NULL ? " as user " : "",
           self->user_name != NULL ? self->user_name : "");

  if (self->ready_regex == NULL && self->probe != NULL)
    schedule_probe (self);
  else if (self->ready_regex == NULL)
    become_ready (self);
  return TRUE;
}

static void schedule_restart (SpotSupervisor *self);

static gboolean
restart_timer_cb (gpointer user_data)
{
  SpotSupervisor *self = user_data;
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&self->restart_timer, g_source_unref);
  if (self->state != SPOT_SUPERVISOR_BACKOFF)
    return G_SOURCE_REMOVE;
  g_info ("restarting %s (restart %u)", self->name, self->spawn_count);
  if (!spawn_child (self, &error))
    {
      g_warning ("%s", error->message);
      self->spawn_time_us = g_get_monotonic_time ();
      g_object_ref (self);
      g_signal_emit (self, signals[SIGNAL_SPAWN_FAILED], 0, error);
      if (self->state == SPOT_SUPERVISOR_BACKOFF)
        schedule_restart (self);
      g_object_unref (self);
    }
  return G_SOURCE_REMOVE;
}

static void
schedule_restart (SpotSupervisor *self)
{
  gint64 ran_ms = (g_get_monotonic_time () - self->spawn_time_us) / 1000;
  guint64 delay_ms;

  if (ran_ms >= self->stable_ms)
    self->failures = 0;
  delay_ms = (guint64)self->backoff_base_ms << MIN (self->failures, 30u);
  delay_ms = MIN (delay_ms, (guint64)self->backoff_cap_ms);
  self->failures++;
  g_info ("%s will be restarted in %" G_GUINT64_FORMAT " ms", self->name, delay_ms);
  clear_source (&self->restart_timer);
  self->restart_timer = attach_timeout (self, (guint)delay_ms, restart_timer_cb);
  if (!self->disposing)
    g_signal_emit (self, signals[SIGNAL_RESTART_SCHEDULED], 0, (guint)delay_ms);
}

static void
complete_stop_tasks (SpotSupervisor *self)
{
  g_autoptr (GPtrArray) tasks = g_steal_pointer (&self->stop_tasks);

  self->stop_tasks = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < tasks->len; i++)
    g_task_return_boolean (g_ptr_array_index (tasks, i), TRUE);
}

/* The child is gone and reaped: @wait_status as from waitpid(), or -1. */
static void
child_exited (SpotSupervisor *self, int wait_status)
{
  g_autofree char *how = describe_wait_status (wait_status);
  gboolean expected = self->state == SPOT_SUPERVISOR_STOPPING || !self->restart;
  GPid pid = self->pid;

  clear_source (&self->exit_source);
  if (self->pidfd >= 0)
    close (self->pidfd);
  self->pidfd = -1;
  self->pid = 0;
  clear_source (&self->probe_timer);
  clear_source (&self->kill_timer);
  g_cancellable_cancel (self->probe_cancellable);
  self->probe_pending = FALSE;

  if (self->state == SPOT_SUPERVISOR_STOPPING)
    g_debug ("%s (pid %d) exited %s", self->name, (int)pid, how);
  else if (!self->restart)
    g_debug ("%s (pid %d) finished %s", self->name, (int)pid, how);
  else
    g_warning ("%s (pid %d) exited unexpectedly %s", self->name, (int)pid, how);

  self->state = expected ? SPOT_SUPERVISOR_STOPPED : SPOT_SUPERVISOR_BACKOFF;
  g_object_ref (self);
  if (!self->disposing)
    g_signal_emit (self, signals[SIGNAL_EXITED], 0, wait_status);
  /* A handler may have stopped us meanwhile. */
  if (self->state == SPOT_SUPERVISOR_BACKOFF)
    schedule_restart (self);
  if (self->state == SPOT_SUPERVISOR_STOPPED)
    complete_stop_tasks (self);
  g_object_unref (self);
}

/* ---- stopping ---- */

static gboolean
kill_timer_cb (gpointer user_data)
{
  SpotSupervisor *self = user_data;

  g_clear_pointer (&self->kill_timer, g_source_unref);
  if (self->pid != 0)
    {
      g_message ("%s (pid %d) did not stop in time: sending SIGKILL", self->name, (int)self->pid);
      kill (self->pid, SIGKILL);
    }
  return G_SOURCE_REMOVE;
}

/* Waits up to @timeout_ms (-1: forever) for the child to exit; reaps it and
 * returns TRUE with its status. */
static gboolean
wait_child (SpotSupervisor *self, int timeout_ms, int *wait_status)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  for (;;)
    {
      pid_t rc = waitpid (self->pid, wait_status, WNOHANG);
      gint64 left_ms;

      if (rc == self->pid)
        return TRUE;
      if (rc < 0 && errno != EINTR)
        {
          *wait_status = -1;
          return TRUE;
        }
      left_ms = timeout_ms < 0 ? 1000 : (deadline - g_get_monotonic_time ()) / 1000;
      if (left_ms <= 0 && timeout_ms >= 0)
        return FALSE;
      if (self->pidfd >= 0)
        {
          struct pollfd pfd = { .fd = self->pidfd, .events = POLLIN };
          poll (&pfd, 1, (int)MAX (left_ms, 1));
        }
      else
        g_usleep (MIN (left_ms, 2) * 1000);
    }
}

static void
stop_sync_with (SpotSupervisor *self, int signum, guint deadline_ms)
{
  int status = -1;

  clear_source (&self->restart_timer);
  clear_source (&self->probe_timer);
  if (self->pid == 0)
    {
      self->state = SPOT_SUPERVISOR_STOPPED;
      complete_stop_tasks (self);
      return;
    }
  self->state = SPOT_SUPERVISOR_STOPPING;
  if (signum != 0)
    kill (self->pid, signum);
  if (signum == SIGKILL || !wait_child (self, (int)deadline_ms, &status))
    {
      if (signum != SIGKILL)
        g_message ("%s (pid %d) did not stop within %u ms: sending SIGKILL", self->name,
                   (int)self->pid, deadline_ms);
      kill (self->pid, SIGKILL);
      wait_child (self, -1, &status);
    }
  child_exited (self, status);
}

void
spot_supervisor_stop_sync (SpotSupervisor *self, guint deadline_ms)
{
  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  stop_sync_with (self, self->stop_signal, deadline_ms);
}

void
spot_supervisor_kill (SpotSupervisor *self)
{
  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  stop_sync_with (self, SIGKILL, 0);
}

void
spot_supervisor_stop_async (SpotSupervisor *self,
                            guint deadline_ms,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, spot_supervisor_stop_async);
  clear_source (&self->restart_timer);
  clear_source (&self->probe_timer);
  if (self->pid == 0)
    {
      self->state = SPOT_SUPERVISOR_STOPPED;
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_ptr_array_add (self->stop_tasks, g_steal_pointer (&task));
  if (self->state == SPOT_SUPERVISOR_STOPPING)
    return;
  self->state = SPOT_SUPERVISOR_STOPPING;
  kill (self->pid, self->stop_signal);
  self->kill_timer = attach_timeout (self, deadline_ms, kill_timer_cb);
}

gboolean
spot_supervisor_stop_finish (SpotSupervisor *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- public ---- */

gboolean
spot_supervisor_start (SpotSupervisor *self, GError **error)
{
  g_return_val_if_fail (SPOT_IS_SUPERVISOR (self), FALSE);
  /* The parent-death signal fires when the forking thread ends. */
  g_return_val_if_fail (g_thread_self () == self->owner, FALSE);

  if (self->state == SPOT_SUPERVISOR_STARTING || self->state == SPOT_SUPERVISOR_RUNNING)
    return TRUE;
  if (self->state == SPOT_SUPERVISOR_STOPPING)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_BUSY, "%s is still stopping", self->name);
      return FALSE;
    }
  clear_source (&self->restart_timer);
  self->failures = 0;
  return spawn_child (self, error);
}

SpotSupervisorState
spot_supervisor_get_state (SpotSupervisor *self)
{
  g_return_val_if_fail (SPOT_IS_SUPERVISOR (self), SPOT_SUPERVISOR_STOPPED);
  return self->state;
}

GPid
spot_supervisor_get_pid (SpotSupervisor *self)
{
  g_return_val_if_fail (SPOT_IS_SUPERVISOR (self), 0);
  return self->pid;
}

guint
spot_supervisor_get_spawn_count (SpotSupervisor *self)
{
  g_return_val_if_fail (SPOT_IS_SUPERVISOR (self), 0);
  return self->spawn_count;
}

const char *
spot_supervisor_get_name (SpotSupervisor *self)
{
  g_return_val_if_fail (SPOT_IS_SUPERVISOR (self), NULL);
  return self->name;
}

char *
spot_supervisor_dup_recent_output (SpotSupervisor *self)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (SPOT_IS_SUPERVISOR (self), NULL);
  for (GList *l = self->recent_lines.head; l != NULL; l = l->next)
    {
      if (out->len > 0)
        g_string_append_c (out, '\n');
      g_string_append (out, l->data);
    }
  return g_string_free (out, FALSE);
}

void
spot_supervisor_set_argv (SpotSupervisor *self, const char *const *argv)
{
  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  g_return_if_fail (argv != NULL && argv[0] != NULL);
  g_strfreev (self->argv);
  self->argv = g_strdupv ((char **)argv);
}

void
spot_supervisor_setenv (SpotSupervisor *self, const char *variable, const char *value)
{
  g_autofree char *entry = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  gsize name_len;

  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  g_return_if_fail (variable != NULL && *variable != '\0' && strchr (variable, '=') == NULL);
  g_return_if_fail (value != NULL);
  name_len = strlen (variable);
  for (guint i = 0; self->env_additions != NULL && self->env_additions[i] != NULL; i++)
    if (!(strncmp (self->env_additions[i], variable, name_len) == 0
          && self->env_additions[i][name_len] == '='))
      g_strv_builder_add (builder, self->env_additions[i]);
  entry = g_strdup_printf ("%s=%s", variable, value);
  g_strv_builder_add (builder, entry);
  g_strfreev (self->env_additions);
  self->env_additions = g_strv_builder_end (builder);
}

void
spot_supervisor_set_working_directory (SpotSupervisor *self, const char *path)
{
  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  g_free (self->working_directory);
  self->working_directory = g_strdup (path);
}

void
spot_supervisor_set_user (SpotSupervisor *self, const char *user_name)
{
  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  g_free (self->user_name);
  self->user_name = g_strdup (user_name);
}

gboolean
spot_supervisor_set_ready_pattern (SpotSupervisor *self, const char *pattern, GError **error)
{
  g_autoptr (GRegex) regex = NULL;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (SPOT_IS_SUPERVISOR (self), FALSE);
  if (pattern != NULL)
    {
      /* No G_REGEX_OPTIMIZE: PCRE's JIT buys nothing for a few lines and
       * confuses valgrind. */
      regex = g_regex_new (pattern, 0, 0, &local_error);
      if (regex == NULL)
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                       "%s: bad ready pattern “%s”: %s", self->name, pattern, local_error->message);
          return FALSE;
        }
    }
  g_clear_pointer (&self->ready_regex, g_regex_unref);
  self->ready_regex = g_steal_pointer (&regex);
  return TRUE;
}

void
spot_supervisor_set_ready_probe (SpotSupervisor *self,
                                 SpotSupervisorProbeFunc probe,
                                 guint interval_ms,
                                 gpointer user_data,
                                 GDestroyNotify destroy)
{
  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  if (self->probe_destroy != NULL)
    self->probe_destroy (self->probe_data);
  self->probe = probe;
  self->probe_interval_ms = MAX (interval_ms, 1u);
  self->probe_data = user_data;
  self->probe_destroy = destroy;
}

void
spot_supervisor_set_backoff (SpotSupervisor *self, guint base_ms, guint cap_ms, guint stable_ms)
{
  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  self->backoff_base_ms = MAX (base_ms, 1u);
  self->backoff_cap_ms = MAX (cap_ms, self->backoff_base_ms);
  self->stable_ms = stable_ms;
}

void
spot_supervisor_set_restart (SpotSupervisor *self, gboolean restart)
{
  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  self->restart = restart;
}

void
spot_supervisor_set_stop_signal (SpotSupervisor *self, int signum)
{
  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  self->stop_signal = signum;
}

void
spot_supervisor_set_death_signal (SpotSupervisor *self, int signum)
{
  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  self->death_signal = signum;
}

void
spot_supervisor_set_nice (SpotSupervisor *self, int steps)
{
  g_return_if_fail (SPOT_IS_SUPERVISOR (self));
  self->nice = CLAMP (steps, 0, 19);
}

/* ---- TCP probe ---- */

static void
tcp_probe_connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) connection = NULL;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  g_task_return_boolean (task, TRUE);
}

void
spot_supervisor_probe_tcp_connect (SpotSupervisor *supervisor,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer callback_data,
                                   gpointer user_data)
{
  GTask *task = g_task_new (supervisor, cancellable, callback, callback_data);
  g_autoptr (GSocketClient) client = g_socket_client_new ();

  g_socket_client_set_timeout (client, 2);
  /* Loopback probes: never consult proxy settings (dconf, libproxy). */
  g_socket_client_set_enable_proxy (client, FALSE);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (user_data), cancellable,
                                 tcp_probe_connected_cb, task);
}

/* ---- GObject ---- */

static void
spot_supervisor_dispose (GObject *object)
{
  SpotSupervisor *self = SPOT_SUPERVISOR (object);

  self->disposing = TRUE;
  if (self->pid != 0)
    stop_sync_with (self, self->stop_signal, DISPOSE_STOP_DEADLINE_MS);
  clear_source (&self->restart_timer);
  clear_source (&self->probe_timer);
  clear_source (&self->kill_timer);
  clear_source (&self->exit_source);
  if (self->probe_cancellable != NULL)
    g_cancellable_cancel (self->probe_cancellable);
  for (guint i = 0; i < self->readers->len; i++)
    {
      LineReader *reader = g_ptr_array_index (self->readers, i);
      reader->self = NULL;
      g_cancellable_cancel (reader->cancellable);
    }
  g_ptr_array_set_size (self->readers, 0);
  if (self->stop_tasks != NULL)
    complete_stop_tasks (self);
  if (self->probe_destroy != NULL)
    self->probe_destroy (self->probe_data);
  self->probe_destroy = NULL;
  self->probe = NULL;

  G_OBJECT_CLASS (spot_supervisor_parent_class)->dispose (object);
}

static void
spot_supervisor_finalize (GObject *object)
{
  SpotSupervisor *self = SPOT_SUPERVISOR (object);

  g_free (self->name);
  g_strfreev (self->argv);
  g_strfreev (self->env_additions);
  g_free (self->working_directory);
  g_free (self->user_name);
  g_clear_pointer (&self->ready_regex, g_regex_unref);
  g_clear_object (&self->probe_cancellable);
  g_clear_pointer (&self->stop_tasks, g_ptr_array_unref);
  g_clear_pointer (&self->readers, g_ptr_array_unref);
  g_queue_clear_full (&self->recent_lines, g_free);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (spot_supervisor_parent_class)->finalize (object);
}

static void
spot_supervisor_class_init (SpotSupervisorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = spot_supervisor_dispose;
  object_class->finalize = spot_supervisor_finalize;

  signals[SIGNAL_READY] = g_signal_new ("ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_EXITED] = g_signal_new ("exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
  signals[SIGNAL_SPAWN_FAILED]
      = g_signal_new ("spawn-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[SIGNAL_RESTART_SCHEDULED]
      = g_signal_new ("restart-scheduled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
spot_supervisor_init (SpotSupervisor *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->owner = g_thread_self ();
  self->backoff_base_ms = 100;
  self->backoff_cap_ms = 30000;
  self->stable_ms = 60000;
  self->restart = TRUE;
  self->stop_signal = SIGTERM;
  self->death_signal = SIGKILL;
  self->pidfd = -1;
  self->stop_tasks = g_ptr_array_new_with_free_func (g_object_unref);
  self->readers = g_ptr_array_new ();
  g_queue_init (&self->recent_lines);
}

SpotSupervisor *
spot_supervisor_new (const char *name, const char *const *argv)
{
  SpotSupervisor *self;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);
  self = g_object_new (SPOT_TYPE_SUPERVISOR, NULL);
  self->name = g_strdup (name);
  self->argv = g_strdupv ((char **)argv);
  return self;
}
