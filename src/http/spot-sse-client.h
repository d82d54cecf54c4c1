/* spot-sse-client.h: one /stream client, from its first event to clean-up.
 *
 * The client takes the connection over from libsoup (the request was
 * validated by the server): it writes the response head itself
 * ("Connection: close", no chunked encoding: the stream ends when the
 * connection does) and then the events, with GIO asynchronous writes. This
 * gives exact flow control and prompt clean-up: libsoup 3.2.3 notices a
 * hung-up client only on a write, and streams it ended by interruption left
 * one GSocket each behind (valgrind, churn test), while an owned connection
 * is read for EOF and closed at once.
 *
 * On start the client subscribes to the candle hub with its selection, then
 * writes the initial state from the live cache as one event: a
 * <div id="spot-candles"> holding one <spot-candle> per selected (product,
 * granularity), placeholders for keys the cache does not hold. Later events
 * carry only the elements that changed (several per event), each morphed by
 * its id. Per element the candle with the greatest start wins (equal
 * starts: the greater rev); older ones are skipped.
 *
 * Flow control, never a timer: an event is written only when the previous
 * write has completed. While a write is in flight, updates are coalesced per
 * element (latest wins) and sent as one event when it completes, so a slow
 * client gets the newest state rather than a backlog. A client whose
 * unflushed bytes plus coalesced updates exceed the buffer
 * (SSE_CLIENT_BUFFER), or that makes no write progress over two keep-alive
 * intervals, is disconnected and counted
 * (spot_sse_slow_client_disconnects_total). A comment line is written every
 * keep-alive interval when idle (proxies, and peers that vanished without a
 * FIN).
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

typedef struct
{
  SpotCandleHub *hub;   /* nullable: no live updates */
  SpotLiveCache *cache; /* nullable: no initial state */
  SpotMetrics *metrics; /* nullable */
  guint64 buffer_bytes; /* SSE_CLIENT_BUFFER */
  guint keepalive_ms;   /* SSE_KEEPALIVE_S * 1000 */
} SpotSseClientConfig;

typedef struct
{
  guint64 events;        /* events written (initial one included) */
  guint64 candles;       /* elements written */
  guint64 coalesced;     /* updates replaced while a write was in flight */
  guint64 skipped_older; /* updates older than the element shown */
  guint64 bytes;         /* bytes handed to the socket, head included */
  guint64 unflushed;     /* bytes of the write in flight */
  gboolean slow;         /* cut off as a slow client */
} SpotSseClientStats;

/* Takes @selection (cleared). @msg must be the request being handled, with
 * any extra response headers (CORS) already set; the client pauses it and
 * takes its connection over from an idle callback. */
SpotSseClient *spot_sse_client_start (SoupServerMessage *msg,
                                      SpotStreamSelection *selection,
                                      const SpotSseClientConfig *config,
                                      SpotSseClientDoneFunc done,
                                      gpointer user_data);

/* Ends the stream cleanly (after the write in flight) - server shutdown. */
void spot_sse_client_end (SpotSseClient *client);

SoupServerMessage *spot_sse_client_get_message (SpotSseClient *client);
void spot_sse_client_get_stats (SpotSseClient *client, SpotSseClientStats *out);

/* Stops everything and drops the owner's reference; asynchronous operations
 * still in flight hold their own and finish quietly. */
void spot_sse_client_free (SpotSseClient *client);

G_END_DECLS
