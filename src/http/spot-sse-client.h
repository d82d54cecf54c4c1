/* spot-sse-client.h: one /stream client, from its first event to clean-up.
 *
 * On start the client subscribes to the candle hub with its selection, then
 * writes the initial state from the live cache as one event: a
 * <div id="spot-candles"> holding one <spot-candle> per selected (product,
 * granularity), placeholders for keys the cache does not hold. Later events
 * carry only the elements that changed (several per event), each morphed by
 * its id. Per element the candle with the greatest start wins (equal
 * starts: the greater rev); older ones are skipped.
 *
 * Flow control, never a timer: an event is appended only when every earlier
 * chunk has been written to the socket (libsoup's wrote-chunk). While the
 * socket is busy, updates are coalesced per element (latest wins) and sent
 * as one event as soon as the last chunk is flushed, so a slow client gets
 * the newest state rather than a backlog. A client whose unflushed bytes
 * plus coalesced updates exceed the buffer (SSE_CLIENT_BUFFER), or that
 * makes no write progress over two keep-alive intervals, is disconnected
 * and counted (spot_sse_slow_client_disconnects_total).
 *
 * A comment line is written every keep-alive interval when the socket is
 * idle: a dead client is noticed on write. A client that closes its end is
 * noticed at once (the socket turns readable with EOF) and cleaned up.
 *
 * Thread safety: main thread (the hub's and libsoup's context) only.
 */
#pragma once

#include <libsoup/soup.h>

#include "http/spot-stream-selection.h"
#include "metrics/spot-metrics.h"
#include "nats/spot-candle-hub.h"
#include "nats/spot-live-cache.h"

G_BEGIN_DECLS

typedef struct _SpotSseClient SpotSseClient;

/* Called once when the stream is over (client gone, ended, or cut off).
 * The owner may free the client from inside the callback. */
typedef void (*SpotSseClientDoneFunc) (SpotSseClient *client, gpointer user_data);

typedef struct {
  SpotCandleHub *hub;     /* nullable: no live updates */
  SpotLiveCache *cache;   /* nullable: no initial state */
  SpotMetrics *metrics;   /* nullable */
  guint64 buffer_bytes;   /* SSE_CLIENT_BUFFER */
  guint keepalive_ms;     /* SSE_KEEPALIVE_S * 1000 */
} SpotSseClientConfig;

typedef struct {
  guint64 events;         /* events written (initial one included) */
  guint64 candles;        /* elements written */
  guint64 coalesced;      /* updates replaced while the socket was busy */
  guint64 skipped_older;  /* updates older than the element shown */
  guint64 bytes;          /* bytes appended */
  guint64 unflushed;      /* bytes appended, not yet written */
  gboolean slow;          /* cut off as a slow client */
} SpotSseClientStats;

/* Takes @selection (cleared). Sets the response headers, writes the initial
 * state and returns; the message stays open until the client goes. */
SpotSseClient *spot_sse_client_start (SoupServerMessage *msg,
                                      SpotStreamSelection *selection,
                                      const SpotSseClientConfig *config,
                                      SpotSseClientDoneFunc done,
                                      gpointer user_data);

/* Ends the stream cleanly (terminating chunk) - server shutdown. */
void spot_sse_client_end (SpotSseClient *client);

SoupServerMessage *spot_sse_client_get_message (SpotSseClient *client);
void spot_sse_client_get_stats (SpotSseClient *client, SpotSseClientStats *out);

/* Detaches from the hub and the message; safe after done was called. */
void spot_sse_client_free (SpotSseClient *client);

G_END_DECLS
