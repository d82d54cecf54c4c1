/* spot-embedded-nats.c: nats-server under a SpotSupervisor. */
#define G_LOG_DOMAIN "spot-supervisor"

#include "supervisor/spot-embedded-nats.h"

#include "core/spot-async.h"
#include "core/spot-error.h"
#include "supervisor/spot-supervisor.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#define NATS_PROBE_INTERVAL_MS 10
#define NATS_START_ATTEMPTS 3 /* exits before the first ready that fail a start */
#define NATS_PROBE_TIMEOUT_S 2

struct _SpotEmbeddedNats
{
  GObject parent_instance;

  char *state_dir;
  char *store_dir; /* <state_dir>/nats: JetStream store and ports file */
  char *program;
  SpotSupervisor *supervisor;

  /* Learned from the first start's ports file, then pinned for restarts. */
  guint client_port;
  guint monitor_port;
  char *url;
  char *monitor_url;

  GMainContext *context;
  GTask *start_task;
  gulong start_cancel_id;
  guint early_exits;
};

G_DEFINE_TYPE (SpotEmbeddedNats, spot_embedded_nats, G_TYPE_OBJECT)

static char *
ports_file_path (SpotEmbeddedNats *self, GPid pid)
{
  g_autofree char *base = g_path_get_basename (self->program);
  g_autofree char *name = g_strdup_printf ("%s_%d.ports", base, (int)pid);
  return g_build_filename (self->store_dir, name, NULL);
}

/* {"nats":["nats://127.0.0.1:35117"],"monitoring":["http://127.0.0.1:40035"]} */
static gboolean
parse_ports (
    const char *path, const char *contents, guint *client_port, guint *monitor_port, GError **error)
{
  g_autoptr (GRegex) client_re
      = g_regex_new ("\"nats\"\\s*:\\s*\\[\\s*\"nats://[^\"]*:([0-9]+)\"", 0, 0, NULL);
  g_autoptr (GRegex) monitor_re
      = g_regex_new ("\"monitoring\"\\s*:\\s*\\[\\s*\"http://[^\"]*:([0-9]+)\"", 0, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;
  g_autofree char *client = NULL;
  g_autofree char *monitor = NULL;

  if (g_regex_match (client_re, contents, 0, &match))
    client = g_match_info_fetch (match, 1);
  g_clear_pointer (&match, g_match_info_free);
  if (g_regex_match (monitor_re, contents, 0, &match))
    monitor = g_match_info_fetch (match, 1);
  if (client == NULL || monitor == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "ports file %s has no nats and monitoring URLs: %s", path, contents);
      return FALSE;
    }
  *client_port = (guint)g_ascii_strtoull (client, NULL, 10);
  *monitor_port = (guint)g_ascii_strtoull (monitor, NULL, 10);
  return *client_port > 0 && *client_port < 65536 && *monitor_port > 0 && *monitor_port < 65536;
}

static void
remove_stale_ports_files (SpotEmbeddedNats *self)
{
  g_autoptr (GDir) dir = g_dir_open (self->store_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".ports"))
      {
        g_autofree char *path = g_build_filename (self->store_dir, name, NULL);
        g_unlink (path);
      }
}

static void
update_argv (SpotEmbeddedNats *self)
{
  g_autofree char *port
      = self->client_port ? g_strdup_printf ("%u", self->client_port) : g_strdup ("-1");
  g_autofree char *mport
      = self->monitor_port ? g_strdup_printf ("%u", self->monitor_port) : g_strdup ("-1");
  const char *argv[] = {
    self->program,
    "-js",
    "-sd",
    self->store_dir,
    "-a",
    "127.0.0.1",
    "-p",
    port,
    "-m",
    mport,
    "--ports_file_dir",
    self->store_dir,
    NULL,
  };

  spot_supervisor_set_argv (self->supervisor, argv);
}

/* ---- readiness probe: ports file, then a client connection, then /healthz ---- */

typedef struct
{
  SpotEmbeddedNats *self; /* ref */
  GSocketClient *client;
  GSocketConnection *connection;
  guint client_port;
  guint monitor_port;
  char buffer[256];
  gsize filled;
} ProbeData;

static void
probe_data_free (ProbeData *data)
{
  g_clear_object (&data->self);
  g_clear_object (&data->client);
  g_clear_object (&data->connection);
  g_free (data);
}

static void
probe_fail (GTask *task, GError *error)
{
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void healthz_read_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static void
healthz_check_response (GTask *task)
{
  ProbeData *data = g_task_get_task_data (task);
  SpotEmbeddedNats *self = data->self;
  const char *eol;

  data->buffer[data->filled] = '\0';
  eol = strstr (data->buffer, "\r\n");
  if (eol == NULL && data->filled < sizeof data->buffer - 1)
    {
      g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (data->connection)),
                                 data->buffer + data->filled,
                                 sizeof data->buffer - 1 - data->filled, G_PRIORITY_DEFAULT,
                                 g_task_get_cancellable (task), healthz_read_cb, task);
      return;
    }
  if (!g_str_has_prefix (data->buffer, "HTTP/1.") || strstr (data->buffer, " 200") == NULL
      || (eol != NULL && strstr (data->buffer, " 200") > eol))
    {
      probe_fail (task,
                  g_error_new (SPOT_ERROR, SPOT_ERROR_NATS, "/healthz on port %u answered “%.60s”",
                               data->monitor_port, data->buffer));
      return;
    }
  /* Publish what we learned before the supervisor emits ::ready. */
  if (self->client_port == 0)
    {
      self->client_port = data->client_port;
      self->monitor_port = data->monitor_port;
      g_free (self->url);
      g_free (self->monitor_url);
      self->url = g_strdup_printf ("nats://127.0.0.1:%u", self->client_port);
      self->monitor_url = g_strdup_printf ("http://127.0.0.1:%u", self->monitor_port);
      update_argv (self);
    }
  g_io_stream_close (G_IO_STREAM (data->connection), NULL, NULL);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
healthz_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  ProbeData *data = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n < 0)
    {
      probe_fail (task, error);
      return;
    }
  if (n == 0)
    {
      /* EOF: judge what we have. */
      data->buffer[data->filled] = '\0';
      if (strstr (data->buffer, "\r\n") == NULL)
        {
          probe_fail (task, g_error_new (SPOT_ERROR, SPOT_ERROR_NATS, "/healthz closed early"));
          return;
        }
    }
  data->filled += (gsize)n;
  healthz_check_response (task);
}

static void
healthz_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  ProbeData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      probe_fail (task, error);
      return;
    }
  data->filled = 0;
  healthz_check_response (task);
}

static void
monitor_connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  static const char request[] = "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  GTask *task = user_data;
  ProbeData *data = g_task_get_task_data (task);
  GError *error = NULL;

  data->connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (data->connection == NULL)
    {
      probe_fail (task, error);
      return;
    }
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (data->connection)),
                                   request, sizeof request - 1, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), healthz_written_cb, task);
}

static void
client_connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  ProbeData *data = g_task_get_task_data (task);
  g_autoptr (GSocketConnection) connection = NULL;
  GError *error = NULL;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    {
      probe_fail (task, error);
      return;
    }
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  g_socket_client_connect_to_host_async (data->client, "127.0.0.1", (guint16)data->monitor_port,
                                         g_task_get_cancellable (task), monitor_connected_cb, task);
}

static void
nats_probe (SpotSupervisor *supervisor,
            GCancellable *cancellable,
            GAsyncReadyCallback callback,
            gpointer callback_data,
            gpointer user_data)
{
  SpotEmbeddedNats *self = user_data;
  GTask *task = g_task_new (supervisor, cancellable, callback, callback_data);
  ProbeData *data = g_new0 (ProbeData, 1);
  g_autofree char *path = ports_file_path (self, spot_supervisor_get_pid (supervisor));
  g_autofree char *contents = NULL;
  GError *error = NULL;

  data->self = g_object_ref (self);
  g_task_set_task_data (task, data, (GDestroyNotify)probe_data_free);
  /* A few bytes from a local file: not worth a thread. */
  if (!g_file_get_contents (path, &contents, NULL, &error)
      || !parse_ports (path, contents, &data->client_port, &data->monitor_port, &error))
    {
      if (error == NULL)
        error = g_error_new (SPOT_ERROR, SPOT_ERROR_PARSE, "ports file %s names a bad port", path);
      probe_fail (task, error);
      return;
    }
  data->client = g_socket_client_new ();
  g_socket_client_set_timeout (data->client, NATS_PROBE_TIMEOUT_S);
  /* Loopback: never consult proxy settings (dconf, libproxy). */
  g_socket_client_set_enable_proxy (data->client, FALSE);
  g_socket_client_connect_to_host_async (data->client, "127.0.0.1", (guint16)data->client_port,
                                         cancellable, client_connected_cb, task);
}

/* ---- start ---- */

static void
finish_start (SpotEmbeddedNats *self, GError *error)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->start_task);

  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }
  if (self->start_cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), self->start_cancel_id);
  self->start_cancel_id = 0;
  if (error != NULL)
    {
      spot_supervisor_stop_sync (self->supervisor, 1000);
      g_task_return_error (task, error);
    }
  else
    g_task_return_boolean (task, TRUE);
}

static void
supervisor_ready_cb (SpotSupervisor *supervisor, gpointer user_data)
{
  SpotEmbeddedNats *self = user_data;

  g_message ("nats-server ready at %s (monitoring %s, pid %d)", self->url, self->monitor_url,
             (int)spot_supervisor_get_pid (supervisor));
  self->early_exits = 0;
  finish_start (self, NULL);
}

static void
supervisor_exited_cb (SpotSupervisor *supervisor, int wait_status, gpointer user_data)
{
  SpotEmbeddedNats *self = user_data;
  g_autofree char *output = NULL;

  /* A killed server leaves its ports file behind. */
  remove_stale_ports_files (self);
  if (self->start_task == NULL)
    return;
  if (++self->early_exits < NATS_START_ATTEMPTS
      && spot_supervisor_get_state (supervisor) == SPOT_SUPERVISOR_BACKOFF)
    return;
  output = spot_supervisor_dup_recent_output (supervisor);
  finish_start (self, g_error_new (SPOT_ERROR, SPOT_ERROR_NATS,
                                   "nats-server in %s exited before it was ready; "
                                   "its last output:\n%s",
                                   self->store_dir, output));
}

static gboolean
cancel_idle_cb (gpointer user_data)
{
  SpotEmbeddedNats *self = user_data;

  if (self->start_task != NULL)
    finish_start (
        self, g_error_new (SPOT_ERROR, SPOT_ERROR_CANCELLED, "starting nats-server was cancelled"));
  return G_SOURCE_REMOVE;
}

static void
start_cancelled_cb (GCancellable *cancellable, gpointer user_data)
{
  SpotEmbeddedNats *self = user_data;
  g_autoptr (GSource) idle = g_idle_source_new ();

  /* Maybe on another thread, and g_cancellable_disconnect() must not run
   * inside this handler: defer to our context. */
  g_source_set_callback (idle, cancel_idle_cb, g_object_ref (self), g_object_unref);
  g_source_attach (idle, self->context);
}

void
spot_embedded_nats_start_async (SpotEmbeddedNats *self,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  GError *error = NULL;
  SpotSupervisorState state;

  g_return_if_fail (SPOT_IS_EMBEDDED_NATS (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, spot_embedded_nats_start_async);

  state = spot_supervisor_get_state (self->supervisor);
  if (state == SPOT_SUPERVISOR_RUNNING)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (self->start_task != NULL || state != SPOT_SUPERVISOR_STOPPED)
    {
      g_task_return_new_error (task, SPOT_ERROR, SPOT_ERROR_BUSY,
                               "nats-server in %s is already starting", self->store_dir);
      return;
    }
  if (g_mkdir_with_parents (self->store_dir, 0700) != 0)
    {
      int saved = errno;
      g_task_return_new_error (task, SPOT_ERROR, SPOT_ERROR_IO,
                               "cannot create NATS store directory %s: %s", self->store_dir,
                               g_strerror (saved));
      return;
    }
  remove_stale_ports_files (self);
  update_argv (self);
  self->early_exits = 0;
  self->start_task = g_steal_pointer (&task);
  if (cancellable != NULL)
    self->start_cancel_id
        = g_cancellable_connect (cancellable, G_CALLBACK (start_cancelled_cb), self, NULL);
  if (!spot_supervisor_start (self->supervisor, &error))
    finish_start (self, error);
}

gboolean
spot_embedded_nats_start_finish (SpotEmbeddedNats *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
spot_embedded_nats_start_sync (SpotEmbeddedNats *self, guint timeout_ms, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) local_error = NULL;
  gboolean timed_out = FALSE;
  gboolean ok;

  g_return_val_if_fail (SPOT_IS_EMBEDDED_NATS (self), FALSE);
  result = spot_async_run_sync (self, (SpotAsyncStartFunc)spot_embedded_nats_start_async,
                                timeout_ms, &timed_out);
  ok = spot_embedded_nats_start_finish (self, result, &local_error);
  if (!ok && spot_async_cut_short (local_error, timed_out))
    {
      g_autofree char *output = spot_supervisor_dup_recent_output (self->supervisor);
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT,
                   "nats-server in %s was not ready within %u ms; "
                   "its last output:\n%s",
                   self->store_dir, timeout_ms, output);
      return FALSE;
    }
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return ok;
}

const char *
spot_embedded_nats_get_url (SpotEmbeddedNats *self)
{
  g_return_val_if_fail (SPOT_IS_EMBEDDED_NATS (self), NULL);
  return self->url;
}

const char *
spot_embedded_nats_get_monitor_url (SpotEmbeddedNats *self)
{
  g_return_val_if_fail (SPOT_IS_EMBEDDED_NATS (self), NULL);
  return self->monitor_url;
}

GPid
spot_embedded_nats_get_pid (SpotEmbeddedNats *self)
{
  g_return_val_if_fail (SPOT_IS_EMBEDDED_NATS (self), 0);
  return spot_supervisor_get_pid (self->supervisor);
}

SpotSupervisor *
spot_embedded_nats_get_supervisor (SpotEmbeddedNats *self)
{
  g_return_val_if_fail (SPOT_IS_EMBEDDED_NATS (self), NULL);
  return self->supervisor;
}

void
spot_embedded_nats_stop (SpotEmbeddedNats *self, guint deadline_ms)
{
  g_return_if_fail (SPOT_IS_EMBEDDED_NATS (self));
  spot_supervisor_stop_sync (self->supervisor, deadline_ms);
  remove_stale_ports_files (self);
}

void
spot_embedded_nats_kill (SpotEmbeddedNats *self)
{
  g_return_if_fail (SPOT_IS_EMBEDDED_NATS (self));
  spot_supervisor_kill (self->supervisor);
  remove_stale_ports_files (self);
}

static void
spot_embedded_nats_dispose (GObject *object)
{
  SpotEmbeddedNats *self = SPOT_EMBEDDED_NATS (object);

  if (self->supervisor != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->supervisor, self);
      spot_supervisor_stop_sync (self->supervisor, 5000);
      g_clear_object (&self->supervisor);
    }
  G_OBJECT_CLASS (spot_embedded_nats_parent_class)->dispose (object);
}

static void
spot_embedded_nats_finalize (GObject *object)
{
  SpotEmbeddedNats *self = SPOT_EMBEDDED_NATS (object);

  g_free (self->state_dir);
  g_free (self->store_dir);
  g_free (self->program);
  g_free (self->url);
  g_free (self->monitor_url);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (spot_embedded_nats_parent_class)->finalize (object);
}

static void
spot_embedded_nats_class_init (SpotEmbeddedNatsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = spot_embedded_nats_dispose;
  object_class->finalize = spot_embedded_nats_finalize;
}

static void
spot_embedded_nats_init (SpotEmbeddedNats *self)
{
  self->context = g_main_context_ref_thread_default ();
}

SpotEmbeddedNats *
spot_embedded_nats_new (const char *state_dir)
{
  SpotEmbeddedNats *self;
  const char *program = g_getenv ("SPOT_NATS_SERVER");
  const char *argv[] = { "nats-server", NULL };

  g_return_val_if_fail (state_dir != NULL, NULL);
  self = g_object_new (SPOT_TYPE_EMBEDDED_NATS, NULL);
  self->state_dir = g_strdup (state_dir);
  self->store_dir = g_build_filename (state_dir, "nats", NULL);
  /* The ports file is named after the executable, so keep the name we run. */
  self->program = g_strdup (program != NULL && *program != '\0' ? program : "nats-server");
  argv[0] = self->program;
  self->supervisor = spot_supervisor_new ("nats-server", argv);
  /* Quick first retries: a crashed broker stalls every publisher. */
  spot_supervisor_set_backoff (self->supervisor, 100, 10000, 30000);
  spot_supervisor_set_ready_pattern (self->supervisor, "Server is ready", NULL);
  spot_supervisor_set_ready_probe (self->supervisor, nats_probe, NATS_PROBE_INTERVAL_MS, self,
                                   NULL);
  /* JetStream recovers its file store after a kill; a hung server must not
   * outlive us. */
  spot_supervisor_set_death_signal (self->supervisor, SIGKILL);
  g_signal_connect (self->supervisor, "ready", G_CALLBACK (supervisor_ready_cb), self);
  g_signal_connect (self->supervisor, "exited", G_CALLBACK (supervisor_exited_cb), self);
  return self;
}
