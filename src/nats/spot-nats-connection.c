/* spot-nats-connection.c: NATS connection, embedded server wiring, status. */
#define G_LOG_DOMAIN "spot-nats"

#include "nats/spot-nats-connection.h"

#include <string.h>

#include "core/spot-async.h"
#include "core/spot-error.h"
#include "core/spot-log.h"
#include "supervisor/spot-embedded-nats.h"

void
spot_nats_config_init (SpotNatsConfig *config)
{
  memset (config, 0, sizeof *config);
  config->reconnect_wait_ms = 250;
  config->reconnect_buf_bytes = 8 * 1024 * 1024;
  config->connect_timeout_ms = 2000;
  config->embedded_start_timeout_ms = 15000;
}

void
spot_nats_config_clear (SpotNatsConfig *config)
{
  g_clear_pointer (&config->urls, g_free);
  g_clear_pointer (&config->state_dir, g_free);
  g_clear_pointer (&config->creds_file, g_free);
  g_clear_pointer (&config->tls_ca_file, g_free);
  g_clear_pointer (&config->tls_cert_file, g_free);
  g_clear_pointer (&config->tls_key_file, g_free);
  g_clear_pointer (&config->name, g_free);
}

static void
config_copy (SpotNatsConfig *dst, const SpotNatsConfig *src)
{
  *dst = *src;
  dst->urls = g_strdup (src->urls);
  dst->state_dir = g_strdup (src->state_dir);
  dst->creds_file = g_strdup (src->creds_file);
  dst->tls_ca_file = g_strdup (src->tls_ca_file);
  dst->tls_cert_file = g_strdup (src->tls_cert_file);
  dst->tls_key_file = g_strdup (src->tls_key_file);
  dst->name = g_strdup (src->name);
}

static gboolean
urls_empty (const char *urls)
{
  if (urls == NULL)
    return TRUE;
  for (const char *p = urls; *p != '\0'; p++)
    if (!g_ascii_isspace (*p))
      return FALSE;
  return TRUE;
}

char **
spot_nats_parse_urls (const char *urls, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) items = NULL;

  if (urls_empty (urls))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "NATS_URL is empty: give one or more comma-separated URLs");
      return NULL;
    }
  items = g_strsplit (urls, ",", -1);
  for (guint i = 0; items[i] != NULL; i++)
    {
      char *item = g_strstrip (items[i]);
      const char *sep = strstr (item, "://");

      if (*item == '\0')
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                       "NATS_URL=%s has an empty item", urls);
          return NULL;
        }
      if (strchr (item, ' ') != NULL || strchr (item, '\t') != NULL)
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                       "NATS_URL item “%s” contains a space", item);
          return NULL;
        }
      if (sep != NULL)
        {
          gsize scheme_len = (gsize)(sep - item);

          if (!((scheme_len == 4 && strncmp (item, "nats", 4) == 0)
                || (scheme_len == 3 && strncmp (item, "tls", 3) == 0)
                || (scheme_len == 2 && strncmp (item, "ws", 2) == 0)
                || (scheme_len == 3 && strncmp (item, "wss", 3) == 0)))
            {
              g_set_error (
                  error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                  "NATS_URL item “%s” has an unknown scheme (nats://, tls://, ws://, wss://)",
                  item);
              return NULL;
            }
          if (sep[3] == '\0')
            {
              g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                           "NATS_URL item “%s” has no host", item);
              return NULL;
            }
          g_ptr_array_add (out, g_strdup (item));
        }
      else
        {
          if (strchr (item, '/') != NULL)
            {
              g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                           "NATS_URL item “%s” is neither a URL nor host:port", item);
              return NULL;
            }
          g_ptr_array_add (out, g_strconcat ("nats://", item, NULL));
        }
    }
  g_ptr_array_add (out, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

gboolean
spot_nats_check_embedded_allowed (const char *urls, guint shard_count, GError **error)
{
  if (urls_empty (urls) && shard_count > 1)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "SHARD_COUNT=%u needs NATS_URL: with an embedded nats-server every instance "
                   "would get its own NATS; point all instances at one NATS deployment",
                   shard_count);
      return FALSE;
    }
  return TRUE;
}

const char *
spot_nats_state_to_string (SpotNatsState state)
{
  switch (state)
    {
    case SPOT_NATS_STATE_STOPPED:
      return "stopped";
    case SPOT_NATS_STATE_STARTING:
      return "starting";
    case SPOT_NATS_STATE_CONNECTED:
      return "connected";
    case SPOT_NATS_STATE_RECONNECTING:
      return "reconnecting";
    case SPOT_NATS_STATE_CLOSED:
      return "closed";
    default:
      return "unknown";
    }
}

void
spot_nats_status_clear (SpotNatsStatus *status)
{
  g_clear_pointer (&status->server_url, g_free);
  g_clear_pointer (&status->last_error, g_free);
}

/* State shared with nats.c's callback threads. It is reference counted
 * because the library may deliver the closed callback after
 * natsConnection_Destroy() returned; the callbacks' reference is dropped
 * there. */
typedef struct
{
  gint ref_count;
  GMutex lock;
  SpotNatsStatus status;
  GSource *wakeup; /* NULL once the owner is gone */
  GMutex closed_lock;
  GCond closed_cond;
  gboolean closed_cb_done;
} Shared;

static Shared *
shared_ref (Shared *shared)
{
  g_atomic_int_inc (&shared->ref_count);
  return shared;
}

static void
shared_unref (Shared *shared)
{
  if (!g_atomic_int_dec_and_test (&shared->ref_count))
    return;
  spot_nats_status_clear (&shared->status);
  if (shared->wakeup != NULL)
    g_source_unref (shared->wakeup);
  g_mutex_clear (&shared->lock);
  g_mutex_clear (&shared->closed_lock);
  g_cond_clear (&shared->closed_cond);
  g_free (shared);
}

/* Called with shared->lock held. */
static void
shared_wake_locked (Shared *shared)
{
  shared->status.last_change_us = g_get_real_time ();
  if (shared->wakeup != NULL)
    g_source_set_ready_time (shared->wakeup, 0);
}

struct _SpotNatsConnection
{
  GObject parent_instance;

  SpotNatsConfig config;
  char **urls; /* NULL: embedded */
  SpotEmbeddedNats *embedded;
  natsConnection *nc;
  natsConnection *aux_nc; /* JetStream traffic (KV writes and watches) */
  Shared *shared;
  GMainContext *context;
  gboolean started;
  gboolean closed;
};

G_DEFINE_TYPE (SpotNatsConnection, spot_nats_connection, G_TYPE_OBJECT)

enum
{
  SIGNAL_STATUS_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
set_state (Shared *shared,
           SpotNatsState state,
           natsConnection *nc,
           gboolean count_disconnect,
           gboolean count_reconnect)
{
  char url[256] = "";

  /* Ask the library before taking our lock: it takes its own. */
  if (nc != NULL && state == SPOT_NATS_STATE_CONNECTED)
    {
      if (natsConnection_GetConnectedUrl (nc, url, sizeof url) != NATS_OK)
        url[0] = '\0';
    }
  g_mutex_lock (&shared->lock);
  shared->status.state = state;
  if (url[0] != '\0')
    {
      g_free (shared->status.server_url);
      shared->status.server_url = g_strdup (url);
    }
  if (count_disconnect)
    shared->status.disconnects++;
  if (count_reconnect)
    shared->status.reconnects++;
  shared_wake_locked (shared);
  g_mutex_unlock (&shared->lock);
}

static void
on_nats_connected (natsConnection *nc, void *closure)
{
  set_state (closure, SPOT_NATS_STATE_CONNECTED, nc, FALSE, FALSE);
  g_message ("NATS connected");
}

static void
on_nats_disconnected (natsConnection *nc, void *closure)
{
  Shared *shared = closure;
  gboolean closing;

  /* Our own close also reports a disconnect: not news. */
  g_mutex_lock (&shared->lock);
  closing = shared->status.state == SPOT_NATS_STATE_STOPPED;
  g_mutex_unlock (&shared->lock);
  if (closing)
    return;
  /* The library reports a failed initial connect as a disconnect too. */
  set_state (shared, SPOT_NATS_STATE_RECONNECTING, NULL, TRUE, FALSE);
  spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, NULL, -1, -1, "NATS disconnected; reconnecting");
}

static void
on_nats_reconnected (natsConnection *nc, void *closure)
{
  set_state (closure, SPOT_NATS_STATE_CONNECTED, nc, FALSE, TRUE);
  spot_log_limited (10000, 3, G_LOG_LEVEL_MESSAGE, NULL, -1, -1, "NATS reconnected");
}

static void
on_nats_closed (natsConnection *nc, void *closure)
{
  Shared *shared = closure;

  g_mutex_lock (&shared->lock);
  if (shared->status.state != SPOT_NATS_STATE_STOPPED)
    shared->status.state = SPOT_NATS_STATE_CLOSED;
  shared_wake_locked (shared);
  g_mutex_unlock (&shared->lock);

  g_mutex_lock (&shared->closed_lock);
  shared->closed_cb_done = TRUE;
  g_cond_broadcast (&shared->closed_cond);
  g_mutex_unlock (&shared->closed_lock);
  shared_unref (shared);
}

static void
on_nats_error (natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
  Shared *shared = closure;
  const char *text = natsStatus_GetText (err);

  g_mutex_lock (&shared->lock);
  g_free (shared->status.last_error);
  shared->status.last_error = g_strdup (text);
  shared->status.async_errors++;
  shared_wake_locked (shared);
  g_mutex_unlock (&shared->lock);
  spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, NULL, -1, -1, "NATS asynchronous error: %s",
                    text);
}

static void
record_error (Shared *shared, const char *text)
{
  g_mutex_lock (&shared->lock);
  g_free (shared->status.last_error);
  shared->status.last_error = g_strdup (text);
  shared_wake_locked (shared);
  g_mutex_unlock (&shared->lock);
}

static gboolean
wakeup_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs wakeup_funcs = {
  .dispatch = wakeup_dispatch,
};

static gboolean
on_wakeup (gpointer user_data)
{
  SpotNatsConnection *self = user_data;

  g_signal_emit (self, signals[SIGNAL_STATUS_CHANGED], 0);
  return G_SOURCE_CONTINUE;
}

static void
spot_nats_connection_init (SpotNatsConnection *self)
{
  self->shared = g_new0 (Shared, 1);
  self->shared->ref_count = 1;
  g_mutex_init (&self->shared->lock);
  g_mutex_init (&self->shared->closed_lock);
  g_cond_init (&self->shared->closed_cond);
  self->shared->status.state = SPOT_NATS_STATE_STOPPED;
  self->context = g_main_context_ref_thread_default ();
}

static void
spot_nats_connection_dispose (GObject *object)
{
  SpotNatsConnection *self = SPOT_NATS_CONNECTION (object);

  spot_nats_connection_close (self, 2000);
  G_OBJECT_CLASS (spot_nats_connection_parent_class)->dispose (object);
}

static void
spot_nats_connection_finalize (GObject *object)
{
  SpotNatsConnection *self = SPOT_NATS_CONNECTION (object);

  g_strfreev (self->urls);
  spot_nats_config_clear (&self->config);
  g_main_context_unref (self->context);
  shared_unref (self->shared);
  G_OBJECT_CLASS (spot_nats_connection_parent_class)->finalize (object);
}

static void
spot_nats_connection_class_init (SpotNatsConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = spot_nats_connection_dispose;
  object_class->finalize = spot_nats_connection_finalize;

  /**
   * SpotNatsConnection::status-changed:
   *
   * The state, server or last error changed (once per batch of library
   * events); read them with spot_nats_connection_get_status().
   */
  signals[SIGNAL_STATUS_CHANGED]
      = g_signal_new ("status-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 0);
}

SpotNatsConnection *
spot_nats_connection_new (const SpotNatsConfig *config, GError **error)
{
  g_autoptr (SpotNatsConnection) self = NULL;
  GSource *source;

  self = g_object_new (SPOT_TYPE_NATS_CONNECTION, NULL);
  config_copy (&self->config, config);
  if (!urls_empty (config->urls))
    {
      self->urls = spot_nats_parse_urls (config->urls, error);
      if (self->urls == NULL)
        return NULL;
    }
  else if (config->state_dir == NULL || config->state_dir[0] == '\0')
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "an embedded nats-server needs a state directory (STATE_DIRECTORY)");
      return NULL;
    }

  source = g_source_new (&wakeup_funcs, sizeof (GSource));
  g_source_set_name (source, "spot-nats-connection status");
  g_source_set_callback (source, on_wakeup, self, NULL);
  g_source_attach (source, self->context);
  self->shared->wakeup = source;
  self->shared->status.embedded = self->urls == NULL;
  return g_steal_pointer (&self);
}

static void
on_aux_disconnected (natsConnection *nc, void *closure)
{
  g_debug ("NATS JetStream connection disconnected");
}

static void
on_aux_reconnected (natsConnection *nc, void *closure)
{
  g_debug ("NATS JetStream connection reconnected");
}

/* @aux: the second connection, for JetStream traffic; its events are only
 * logged (the primary's status stands for both) and its callbacks use no
 * state, so they may fire at any time. */
static natsStatus
build_options (
    SpotNatsConnection *self, natsOptions **out, char **urls, gboolean aux, GError **error)
{
  natsOptions *opts = NULL;
  natsStatus s;
  guint n_urls = g_strv_length (urls);
  const char *what = "natsOptions";

  s = natsOptions_Create (&opts);
  if (s == NATS_OK)
    s = natsOptions_SetServers (opts, (const char **)urls, (int)n_urls), what = "servers";
  if (s == NATS_OK)
    {
      g_autofree char *name = g_strdup_printf (
          "%s%s", self->config.name != NULL ? self->config.name : "spot-canvas", aux ? "-js" : "");

      s = natsOptions_SetName (opts, name);
    }
  if (s == NATS_OK)
    s = natsOptions_SetMaxReconnect (opts, -1);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectWait (opts, self->config.reconnect_wait_ms);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectJitter (opts, 100, 1000);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectBufSize (opts, self->config.reconnect_buf_bytes);
  if (s == NATS_OK)
    s = natsOptions_SetTimeout (opts, self->config.connect_timeout_ms);
  if (s == NATS_OK)
    s = natsOptions_SetPingInterval (opts, 5000);
  if (s == NATS_OK)
    s = natsOptions_SetMaxPingsOut (opts, 3);
  if (s == NATS_OK && aux)
    s = natsOptions_SetRetryOnFailedConnect (opts, true, NULL, NULL);
  if (s == NATS_OK && aux)
    s = natsOptions_SetDisconnectedCB (opts, on_aux_disconnected, NULL);
  if (s == NATS_OK && aux)
    s = natsOptions_SetReconnectedCB (opts, on_aux_reconnected, NULL);
  if (s == NATS_OK && !aux)
    s = natsOptions_SetRetryOnFailedConnect (opts, true, on_nats_connected, self->shared);
  if (s == NATS_OK && !aux)
    s = natsOptions_SetDisconnectedCB (opts, on_nats_disconnected, self->shared);
  if (s == NATS_OK && !aux)
    s = natsOptions_SetReconnectedCB (opts, on_nats_reconnected, self->shared);
  if (s == NATS_OK && !aux)
    s = natsOptions_SetClosedCB (opts, on_nats_closed, self->shared);
  if (s == NATS_OK && !aux)
    s = natsOptions_SetErrorHandler (opts, on_nats_error, self->shared);
  if (s == NATS_OK && self->config.creds_file != NULL)
    s = natsOptions_SetUserCredentialsFromFiles (opts, self->config.creds_file, NULL),
    what = self->config.creds_file;
  if (s == NATS_OK
      && (self->config.tls_required || self->config.tls_ca_file != NULL
          || self->config.tls_cert_file != NULL))
    s = natsOptions_SetSecure (opts, true), what = "TLS";
  if (s == NATS_OK && self->config.tls_ca_file != NULL)
    s = natsOptions_LoadCATrustedCertificates (opts, self->config.tls_ca_file),
    what = self->config.tls_ca_file;
  if (s == NATS_OK && (self->config.tls_cert_file != NULL || self->config.tls_key_file != NULL))
    {
      what = "the TLS client certificate and key";
      if (self->config.tls_cert_file == NULL || self->config.tls_key_file == NULL)
        s = NATS_INVALID_ARG;
      else
        s = natsOptions_LoadCertificatesChain (opts, self->config.tls_cert_file,
                                               self->config.tls_key_file);
    }
  if (s != NATS_OK)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG, "NATS option %s refused: %s (%s)",
                   what, natsStatus_GetText (s), nats_GetLastError (NULL));
      natsOptions_Destroy (opts);
      return s;
    }
  *out = opts;
  return NATS_OK;
}

typedef struct
{
  natsOptions *opts;
  natsOptions *aux_opts;
  natsConnection *nc;
  natsConnection *aux_nc;
  natsStatus status;
  char *error_text;
} ConnectData;

static void
connect_data_free (ConnectData *data)
{
  if (data->opts != NULL)
    natsOptions_Destroy (data->opts);
  if (data->aux_opts != NULL)
    natsOptions_Destroy (data->aux_opts);
  if (data->nc != NULL)
    natsConnection_Destroy (data->nc);
  if (data->aux_nc != NULL)
    {
      natsConnection_Close (data->aux_nc);
      natsConnection_Destroy (data->aux_nc);
    }
  g_free (data->error_text);
  g_free (data);
}

/* natsConnection_Connect() blocks for up to the connect timeout per server,
 * so it runs on its own short-lived thread, never on the main loop nor on
 * GTask's shared pool. */
static gpointer
connect_thread (gpointer user_data)
{
  GTask *task = user_data;
  ConnectData *data = g_task_get_task_data (task);

  data->status = natsConnection_Connect (&data->nc, data->opts);
  if (data->status != NATS_OK && data->status != NATS_NOT_YET_CONNECTED)
    data->error_text = g_strdup (nats_GetLastError (NULL));
  else
    {
      natsStatus s = natsConnection_Connect (&data->aux_nc, data->aux_opts);

      if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED)
        {
          data->status = s;
          data->error_text = g_strdup (nats_GetLastError (NULL));
        }
    }
  nats_ReleaseThreadMemory ();
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
  return NULL;
}

static void
on_connect_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SpotNatsConnection *self = SPOT_NATS_CONNECTION (source);
  g_autoptr (GTask) outer = user_data;
  ConnectData *data = g_task_get_task_data (G_TASK (result));

  if (data->status != NATS_OK && data->status != NATS_NOT_YET_CONNECTED)
    {
      g_autofree char *text = g_strdup_printf (
          "cannot connect to NATS at %s: %s (%s)",
          self->config.urls != NULL ? self->config.urls : "the embedded server",
          natsStatus_GetText (data->status), data->error_text != NULL ? data->error_text : "");

      record_error (self->shared, text);
      set_state (self->shared, SPOT_NATS_STATE_STOPPED, NULL, FALSE, FALSE);
      /* Without a primary connection object its callbacks never run; with
       * one (the second connection failed), its closed callback drops the
       * reference when connect_data_free() destroys it. */
      if (data->nc == NULL)
        shared_unref (self->shared);
      g_task_return_new_error (outer, SPOT_ERROR, SPOT_ERROR_NATS, "%s", text);
      return;
    }
  if (self->closed)
    {
      /* Closed while connecting: let this connection go at once. */
      natsConnection_Close (data->nc);
      g_task_return_new_error (outer, SPOT_ERROR, SPOT_ERROR_CLOSED,
                               "the NATS connection was closed while connecting");
      return;
    }
  self->nc = g_steal_pointer (&data->nc);
  self->aux_nc = g_steal_pointer (&data->aux_nc);
  self->started = TRUE;
  if (data->status == NATS_OK)
    set_state (self->shared, SPOT_NATS_STATE_CONNECTED, self->nc, FALSE, FALSE);
  else
    {
      set_state (self->shared, SPOT_NATS_STATE_RECONNECTING, NULL, FALSE, FALSE);
      g_warning ("NATS not reachable yet; retrying in the background");
    }
  g_task_return_boolean (outer, TRUE);
}

static void
start_connect (SpotNatsConnection *self, GTask *outer, char **urls)
{
  g_autoptr (GError) error = NULL;
  ConnectData *data = g_new0 (ConnectData, 1);
  GTask *inner;

  if (build_options (self, &data->opts, urls, FALSE, &error) != NATS_OK
      || build_options (self, &data->aux_opts, urls, TRUE, &error) != NATS_OK)
    {
      connect_data_free (data);
      g_task_return_error (outer, g_steal_pointer (&error));
      g_object_unref (outer);
      return;
    }
  inner = g_task_new (self, NULL, on_connect_done, outer);
  g_task_set_task_data (inner, data, (GDestroyNotify)connect_data_free);
  /* The callbacks' reference; dropped by the closed callback. */
  shared_ref (self->shared);
  g_thread_unref (g_thread_new ("spot-nats-connect", connect_thread, inner));
}

static void
on_embedded_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *outer = user_data;
  SpotNatsConnection *self = g_task_get_source_object (outer);
  g_autoptr (GError) error = NULL;
  char *urls[2] = { NULL, NULL };

  if (!spot_embedded_nats_start_finish (SPOT_EMBEDDED_NATS (source), result, &error))
    {
      g_prefix_error (&error, "embedded nats-server: ");
      record_error (self->shared, error->message);
      set_state (self->shared, SPOT_NATS_STATE_STOPPED, NULL, FALSE, FALSE);
      g_task_return_error (outer, g_steal_pointer (&error));
      g_object_unref (outer);
      return;
    }
  urls[0] = (char *)spot_embedded_nats_get_url (self->embedded);
  g_message ("embedded nats-server ready at %s", urls[0]);
  start_connect (self, outer, urls);
}

void
spot_nats_connection_start_async (SpotNatsConnection *self,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  GTask *task;

  g_return_if_fail (SPOT_IS_NATS_CONNECTION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, spot_nats_connection_start_async);
  if (self->started || self->closed || self->embedded != NULL)
    {
      g_task_return_new_error (task, SPOT_ERROR, SPOT_ERROR_FAILED,
                               "the NATS connection was already started");
      g_object_unref (task);
      return;
    }
  set_state (self->shared, SPOT_NATS_STATE_STARTING, NULL, FALSE, FALSE);
  if (self->urls != NULL)
    {
      start_connect (self, task, self->urls);
      return;
    }
  self->embedded = spot_embedded_nats_new (self->config.state_dir);
  spot_embedded_nats_start_async (self->embedded, cancellable, on_embedded_started, task);
}

gboolean
spot_nats_connection_start_finish (SpotNatsConnection *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
spot_nats_connection_start_sync (SpotNatsConnection *self, guint timeout_ms, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) local_error = NULL;
  gboolean timed_out = FALSE;

  result = spot_async_run_sync (self, (SpotAsyncStartFunc)spot_nats_connection_start_async,
                                timeout_ms, &timed_out);
  if (spot_nats_connection_start_finish (self, result, &local_error))
    return TRUE;
  /* Past the deadline the start was cancelled, and GTask then reports
   * G_IO_ERROR_CANCELLED whatever step it was in. */
  if (timed_out)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT, "NATS did not start within %u ms",
                   timeout_ms);
      return FALSE;
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

natsConnection *
spot_nats_connection_get_nc (SpotNatsConnection *self)
{
  g_return_val_if_fail (SPOT_IS_NATS_CONNECTION (self), NULL);
  return self->nc;
}

natsConnection *
spot_nats_connection_get_js_nc (SpotNatsConnection *self)
{
  g_return_val_if_fail (SPOT_IS_NATS_CONNECTION (self), NULL);
  return self->aux_nc;
}

GObject *
spot_nats_connection_get_embedded (SpotNatsConnection *self)
{
  g_return_val_if_fail (SPOT_IS_NATS_CONNECTION (self), NULL);
  return self->embedded != NULL ? G_OBJECT (self->embedded) : NULL;
}

void
spot_nats_connection_get_status (SpotNatsConnection *self, SpotNatsStatus *out)
{
  Shared *shared = self->shared;

  g_mutex_lock (&shared->lock);
  *out = shared->status;
  out->server_url = g_strdup (shared->status.server_url);
  out->last_error = g_strdup (shared->status.last_error);
  g_mutex_unlock (&shared->lock);
}

void
spot_nats_connection_close (SpotNatsConnection *self, guint deadline_ms)
{
  Shared *shared = self->shared;

  if (self->closed)
    return;
  self->closed = TRUE;

  g_mutex_lock (&shared->lock);
  shared->status.state = SPOT_NATS_STATE_STOPPED;
  if (shared->wakeup != NULL)
    {
      g_source_destroy (shared->wakeup);
      g_source_unref (shared->wakeup);
      shared->wakeup = NULL;
    }
  g_mutex_unlock (&shared->lock);

  if (self->nc != NULL)
    {
      gint64 deadline = g_get_monotonic_time () + (gint64)deadline_ms * 1000;

      if (natsConnection_Status (self->nc) == NATS_CONN_STATUS_CONNECTED)
        natsConnection_FlushTimeout (self->nc, MAX (deadline_ms / 2, 1));
      natsConnection_Close (self->nc);
      /* Wait (bounded) for the closed callback so no callback thread still
       * runs our code after the caller unloads everything. */
      g_mutex_lock (&shared->closed_lock);
      while (!shared->closed_cb_done)
        if (!g_cond_wait_until (&shared->closed_cond, &shared->closed_lock, deadline))
          break;
      g_mutex_unlock (&shared->closed_lock);
      natsConnection_Destroy (self->nc);
      self->nc = NULL;
    }
  if (self->aux_nc != NULL)
    {
      natsConnection_Close (self->aux_nc);
      natsConnection_Destroy (self->aux_nc);
      self->aux_nc = NULL;
    }
  if (self->embedded != NULL)
    {
      spot_embedded_nats_stop (self->embedded, deadline_ms);
      g_clear_object (&self->embedded);
    }
}
