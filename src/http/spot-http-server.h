/* spot-http-server.h: the browser-facing HTTP server on libsoup.
 *
 * Routes (docs/http.md): GET / (dashboard), /stream (Datastar SSE),
 * /health, /metrics, /static/<file>, /api/candles; OPTIONS preflight for
 * allowed origins. Every request is logged once it finishes (method, path,
 * status, bytes, duration) as structured fields.
 *
 * The listening socket is created here with a large backlog (libsoup's own
 * is 10: bursts of clients would stall) and handed to
 * soup_server_listen_socket().
 *
 * Stopping: new requests get 503 with "Connection: close", every SSE stream
 * is ended with its terminating chunk, other requests in flight get up to
 * the shutdown timeout to finish, then the listener and every connection are
 * closed and the stop completes.
 *
 * Thread safety: main thread only (the thread-default main context at
 * construction runs every callback); the components handed in must belong
 * to that context too.
 */
#pragma once

#include <gio/gio.h>

#include "config/spot-config.h"
#include "http/spot-health.h"
#include "metrics/spot-metrics.h"
#include "model/spot-granularity.h"
#include "nats/spot-candle-hub.h"
#include "nats/spot-live-cache.h"
#include "store/spot-repository.h"

G_BEGIN_DECLS

typedef struct
{
  char *host;          /* "" or NULL: every interface; else an IP literal or "localhost" */
  guint16 port;        /* 0: an ephemeral port (tests) */
  guint backlog;       /* listen backlog, default 1024 */
  char **cors_origins; /* NULL-terminated; "*" allows any origin */
  guint sse_max_clients;
  guint sse_max_products;
  guint64 sse_client_buffer; /* bytes */
  guint sse_keepalive_ms;
  guint max_query_length; /* bytes of the raw query; longer: 414 */
  guint shutdown_timeout_ms;
  SpotGranularitySet default_granularities;
  guint api_default_limit; /* /api/candles without limit= */
  guint api_max_limit;
} SpotHttpOptions;

/* Defaults: 127.0.0.1:8080, backlog 1024, no CORS origins, 10000 clients,
 * 200 products, 1 MiB buffer, 15 s keep-alive, 8 KiB queries, 5 s shutdown,
 * the default granularity set, limit 300 (at most 10000). */
void spot_http_options_init (SpotHttpOptions *options);
/* The same, then the values of @config (HTTP_ADDR, CORS_ORIGINS, SSE_*,
 * GRANULARITIES, the shutdown timeout). */
void spot_http_options_init_from_config (SpotHttpOptions *options, const SpotConfig *config);
void spot_http_options_clear (SpotHttpOptions *options);

typedef struct
{
  guint64 requests;     /* finished requests, SSE included */
  guint sse_clients;    /* open streams */
  guint64 sse_streams;  /* streams started */
  guint64 sse_rejected; /* refused: SSE_MAX_CLIENTS reached */
  guint64 sse_slow_disconnects;
  guint64 sse_coalesced; /* over finished and open streams */
  guint64 bad_requests;  /* 4xx answers */
} SpotHttpStats;

#define SPOT_TYPE_HTTP_SERVER (spot_http_server_get_type ())
G_DECLARE_FINAL_TYPE (SpotHttpServer, spot_http_server, SPOT, HTTP_SERVER, GObject)

SpotHttpServer *spot_http_server_new (const SpotHttpOptions *options);

/* Components; each may be left unset (NULL): /stream then has no initial
 * state or no live updates, /api/candles answers 503, /health reports only
 * what it has. Set them before start. @metrics NULL: the process default. */
void spot_http_server_set_live_cache (SpotHttpServer *self, SpotLiveCache *cache);
void spot_http_server_set_hub (SpotHttpServer *self, SpotCandleHub *hub);
void spot_http_server_set_repository (SpotHttpServer *self, SpotRepository *repository);
void spot_http_server_set_metrics (SpotHttpServer *self, SpotMetrics *metrics);
void spot_http_server_set_health (SpotHttpServer *self, SpotHealth *health);

/* Binds and listens. Fails with SPOT_ERROR_IO naming the address. */
gboolean spot_http_server_start (SpotHttpServer *self, GError **error);
/* The bound port (after start). */
guint16 spot_http_server_get_port (SpotHttpServer *self);

void spot_http_server_get_stats (SpotHttpServer *self, SpotHttpStats *out);

/* Graceful stop as described above; completes on the main context. */
void spot_http_server_stop_async (SpotHttpServer *self,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean spot_http_server_stop_finish (SpotHttpServer *self, GAsyncResult *result, GError **error);

G_END_DECLS
