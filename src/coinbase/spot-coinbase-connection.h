/* spot-coinbase-connection.h: one Coinbase WebSocket connection, its
 * bounded inbox and its parse lane (DESIGN.md sections 1 to 3).
 *
 * The WebSocket lives on the main loop. Each received frame goes into a
 * bounded inbox: it holds INBOX_SIZE messages, or more while they take less
 * than the byte budget (options.inbox_bytes), so a burst of small messages
 * after the main loop was held up fits while memory stays bounded; a full
 * inbox drops the frame, counts it and marks the connection's products'
 * recent minutes dirty. One
 * dedicated parse-lane thread per connection drains the inbox in order
 * (many frames per wake-up); a small frame that finds the inbox empty and
 * the lane idle is parsed on the main loop at once instead (same lane
 * state, so order is kept, without the thread wake-up), parses each frame into typed events and hands
 * trade batches and exchange candles to the aggregator (non-blocking). The
 * lane also checks sequence_num (a jump marks the gap's minutes dirty),
 * feeds the exchange clock offset and marks each product's minutes from the
 * disconnect (or its addition) to its confirmed subscription dirty.
 *
 * Health: a stall timer (STALL_TIMEOUT; libsoup 3.2.3 has no pong timeout)
 * closes a silent connection; every close reconnects after full-jitter
 * exponential backoff (base 2 s, cap 60 s, reset once the connection stayed
 * up a minute); opens are paced by the shared connect pacer and every
 * subscribe message by the shared subscribe pacer, each with a fresh JWT
 * when a key is configured.
 *
 * Thread safety: every function runs on the main thread, except the
 * counters (read with _get_stats from any thread). The parse lane is
 * internal.
 */
#pragma once

#include <libsoup/soup.h>

#include "aggregate/spot-sharded-aggregator.h"
#include "coinbase/spot-coinbase-jwt.h"
#include "coinbase/spot-coinbase-options.h"
#include "coinbase/spot-coinbase-pacer.h"

G_BEGIN_DECLS

/* Quarter-octave bins from 1 us to about 1 s. */
#define SPOT_COINBASE_LATENCY_BINS 82

/* What all connections of one manager share (owned by the manager). */
typedef struct
{
  SpotCoinbaseOptions options;
  SoupSession *session;
  SpotShardedAggregator *aggregator; /* borrowed */
  SpotCoinbaseKey *key;              /* borrowed, may be NULL */
  SpotCoinbaseGate connect_gate;     /* WebSocket opens at CONNECT_RATE */
  SpotCoinbaseGate subscribe_gate;   /* (un)subscribe messages at SUBSCRIBE_RATE */
  gpointer metrics;                  /* SpotMetrics*, may be NULL */
  gpointer monitor;                  /* SpotBackpressureMonitor*, may be NULL */
  GArray *open_times_us;             /* monotonic time of each open attempt (tests) */
  GArray *subscribe_times_us;        /* monotonic time of each subscribe sent (tests) */
} SpotCoinbaseShared;

typedef enum
{
  SPOT_COINBASE_CONNECTION_IDLE,
  SPOT_COINBASE_CONNECTION_WAITING, /* for its connect slot or backoff */
  SPOT_COINBASE_CONNECTION_CONNECTING,
  SPOT_COINBASE_CONNECTION_OPEN,
  SPOT_COINBASE_CONNECTION_CLOSED, /* stopped for good */
} SpotCoinbaseConnectionState;

typedef struct
{
  guint64 frames;
  guint64 bytes;
  guint64 trades;
  guint64 exchange_candles;
  guint64 heartbeats;
  guint64 parse_errors;    /* frames that were not valid messages */
  guint64 rejected_items;  /* trades or candles refused as bad input */
  guint64 unknown;         /* unknown channels or types, ignored */
  guint64 exchange_errors; /* {"type":"error"} messages */
  guint64 inbox_drops;
  guint64 sequence_gaps;
  guint64 stalls;
  guint64 reconnects;
  guint64 opens;            /* successful WebSocket opens */
  guint64 confirmed;        /* product subscriptions confirmed */
  guint64 batches_rejected; /* submit returned FALSE (engine queue full) */
  guint64 inline_frames;    /* parsed on the main loop, the lane being idle */
  /* Time from a frame's arrival on the main loop ("message" signal) to its
   * parse starting (wait: on the lane, or at once on the main loop) and,
   * for market_trades with trades, to its batch handed to the aggregator
   * (handoff): counts per bin, see spot_coinbase_latency_percentile_ns(). */
  guint64 lane_wait[SPOT_COINBASE_LATENCY_BINS];
  guint64 lane_handoff[SPOT_COINBASE_LATENCY_BINS];
  /* The most frames and bytes an inbox held (over connections: the largest). */
  guint64 inbox_peak_frames;
  guint64 inbox_peak_bytes;
} SpotCoinbaseConnectionStats;

/* The latency at quantile @q (0..1) of a histogram of the stats above: the
 * upper bound of the bin reaching it (bins are a quarter octave wide, so
 * within 19 %), or 0 when it is empty. */
gint64 spot_coinbase_latency_percentile_ns (const guint64 *bins, double q);

typedef struct _SpotCoinbaseConnection SpotCoinbaseConnection;

/* @id: 0.. (also the clock-offset connection slot, modulo 64). */
SpotCoinbaseConnection *spot_coinbase_connection_new (SpotCoinbaseShared *shared, guint id);
/* Stops (if not yet) and frees. */
void spot_coinbase_connection_free (SpotCoinbaseConnection *conn);

guint spot_coinbase_connection_get_id (SpotCoinbaseConnection *conn);
SpotCoinbaseConnectionState spot_coinbase_connection_get_state (SpotCoinbaseConnection *conn);
guint spot_coinbase_connection_get_n_products (SpotCoinbaseConnection *conn);
gboolean spot_coinbase_connection_has_product (SpotCoinbaseConnection *conn,
                                               const char *product_id);
/* Newly allocated NULL-terminated list. */
char **spot_coinbase_connection_dup_products (SpotCoinbaseConnection *conn);

/* Adds products: subscribed at once when open, else with the next open.
 * Their minutes from now to the confirmed subscription become dirty. */
void spot_coinbase_connection_add_products (SpotCoinbaseConnection *conn,
                                            const char *const *product_ids);
/* Unsubscribes products (when open). */
void spot_coinbase_connection_remove_products (SpotCoinbaseConnection *conn,
                                               const char *const *product_ids);

/* Starts connecting (through the connect pacer). */
void spot_coinbase_connection_start (SpotCoinbaseConnection *conn);
/* Closes the WebSocket now and reconnects after backoff (D-Bus reconnect,
 * tests). */
void spot_coinbase_connection_reconnect (SpotCoinbaseConnection *conn);
/* Closes gracefully (close frame 1000), drains the inbox into the
 * aggregator and joins the parse lane. Final. */
void spot_coinbase_connection_stop (SpotCoinbaseConnection *conn);

void spot_coinbase_connection_get_stats (SpotCoinbaseConnection *conn,
                                         SpotCoinbaseConnectionStats *out);
/* WebSockets of the process still in their close handshake (each gives
 * up after 2 s; the close frame goes out when the main loop runs). */
guint spot_coinbase_connection_get_closing (void);

/* Frames in the inbox now (any thread). */
guint spot_coinbase_connection_get_inbox_length (SpotCoinbaseConnection *conn);

G_END_DECLS
