/* spot-nats-connection.h: the service's NATS connection.
 *
 * With servers (NATS_URL, a comma-separated list: a cluster's seed URLs) it
 * connects to them; with none it starts Debian's nats-server through
 * SpotEmbeddedNats (JetStream, store under the state directory, loopback,
 * supervised) and connects to that. Either way the connection reconnects
 * forever, buffers publishes while reconnecting, and reports its state.
 *
 * nats.c calls back on its own threads; those callbacks only record the event
 * under a lock and wake the owner context once per batch. The
 * "status-changed" signal is emitted there, once per batch of events.
 *
 * Thread safety: construction, start, close and signals: the thread whose
 * thread-default main context was current at construction ("main thread").
 * spot_nats_connection_get_status(), spot_nats_connection_get_nc() and
 * spot_nats_connection_get_js_nc(): any
 * thread (the natsConnection itself is thread-safe and lives until the
 * SpotNatsConnection is finalized).
 */
#pragma once

#include <gio/gio.h>
#include <nats/nats.h>

G_BEGIN_DECLS

typedef struct
{
  char *urls;               /* NATS_URL; NULL or "": embedded nats-server */
  char *state_dir;          /* embedded only: the store goes under <state_dir>/nats */
  char *creds_file;         /* NATS user credentials (JWT + nkey seed), or NULL */
  char *tls_ca_file;        /* trusted CA bundle, or NULL */
  char *tls_cert_file;      /* client certificate chain, or NULL */
  char *tls_key_file;       /* its private key, or NULL */
  gboolean tls_required;    /* force TLS even with nats:// URLs */
  char *name;               /* client name shown by the server */
  guint reconnect_wait_ms;  /* pause between rounds over the server list */
  gint reconnect_buf_bytes; /* publishes kept while reconnecting */
  guint connect_timeout_ms;
  guint embedded_start_timeout_ms;
} SpotNatsConfig;

/* Fills the defaults: embedded, 250 ms reconnect wait, 8 MiB reconnect
 * buffer, 2 s connect timeout, 15 s embedded start timeout. */
void spot_nats_config_init (SpotNatsConfig *config);
void spot_nats_config_clear (SpotNatsConfig *config);

/* Splits a NATS_URL value into URLs: comma-separated, spaces around items
 * allowed; each item needs a scheme (nats://, tls://, ws://, wss://) or is
 * host:port, which gets nats://. Empty items and empty lists fail with
 * SPOT_ERROR_INVALID_CONFIG naming the item. */
char **spot_nats_parse_urls (const char *urls, GError **error);

/* Refuses an embedded nats-server when several instances share the work:
 * each would silently get its own NATS. FALSE with SPOT_ERROR_INVALID_CONFIG
 * when @urls is NULL/empty and @shard_count > 1. */
gboolean spot_nats_check_embedded_allowed (const char *urls, guint shard_count, GError **error);

typedef enum
{
  SPOT_NATS_STATE_STOPPED,  /* not started, or closed by us */
  SPOT_NATS_STATE_STARTING, /* embedded server starting / first connect */
  SPOT_NATS_STATE_CONNECTED,
  SPOT_NATS_STATE_RECONNECTING, /* lost (or never had) a server; retrying */
  SPOT_NATS_STATE_CLOSED,       /* the library gave up (never with our options) */
} SpotNatsState;

const char *spot_nats_state_to_string (SpotNatsState state);

typedef struct
{
  SpotNatsState state;
  gboolean embedded;
  char *server_url;      /* connected (or last connected) server, or NULL */
  char *last_error;      /* last asynchronous error, or NULL */
  gint64 last_change_us; /* g_get_real_time() of the last state change */
  guint64 disconnects;
  guint64 reconnects;
  guint64 async_errors; /* slow consumer and similar reports */
} SpotNatsStatus;

void spot_nats_status_clear (SpotNatsStatus *status);

#define SPOT_TYPE_NATS_CONNECTION (spot_nats_connection_get_type ())
G_DECLARE_FINAL_TYPE (SpotNatsConnection, spot_nats_connection, SPOT, NATS_CONNECTION, GObject)

/* Copies @config. Fails (SPOT_ERROR_INVALID_CONFIG) on an unusable URL list
 * or an embedded setup without a state directory. */
SpotNatsConnection *spot_nats_connection_new (const SpotNatsConfig *config, GError **error);

/* Starts the embedded server when configured and connects. Completes once a
 * connection object exists: connected, or (the servers being unreachable)
 * retrying in the background, state RECONNECTING. Fails only when the
 * embedded server cannot start or an option is refused (bad TLS files ...). */
void spot_nats_connection_start_async (SpotNatsConnection *self,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean
spot_nats_connection_start_finish (SpotNatsConnection *self, GAsyncResult *result, GError **error);
/* Iterates the thread-default context until started or @timeout_ms passed. */
gboolean
spot_nats_connection_start_sync (SpotNatsConnection *self, guint timeout_ms, GError **error);

/* The natsConnection once started, else NULL. Borrowed: valid until @self is
 * finalized. */
natsConnection *spot_nats_connection_get_nc (SpotNatsConnection *self);

/* A second connection to the same servers, for JetStream traffic (KV writes
 * and the KV watcher). nats-server handles a JetStream publish inline on the
 * connection that sent it, so core candle messages sharing that connection
 * waited behind KV writes (measured: service-path latency p50 11-70 ms with
 * a shared connection, 0.9 ms, the bare floor, without KV). Same lifetime
 * as the primary; its reconnects are logged, not reported in the status. */
natsConnection *spot_nats_connection_get_js_nc (SpotNatsConnection *self);

/* The embedded server, or NULL when connected to external servers. */
GObject *spot_nats_connection_get_embedded (SpotNatsConnection *self);

/* A copy of the current status; clear with spot_nats_status_clear(). */
void spot_nats_connection_get_status (SpotNatsConnection *self, SpotNatsStatus *out);

/* Closes the connection (flushing what it can for up to @deadline_ms) and
 * stops the embedded server. Users of the natsConnection (publisher, live
 * cache, hub) must be stopped first. Idempotent; also done on dispose. */
void spot_nats_connection_close (SpotNatsConnection *self, guint deadline_ms);

G_END_DECLS
