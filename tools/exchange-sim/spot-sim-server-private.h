/* spot-sim-server-private.h: the simulator server's state, shared by its
 * WebSocket side (spot-sim-server.c) and its REST and control handlers
 * (spot-sim-rest.c). Not for other modules.
 *
 * Thread safety: the main loop's thread only, like SpotSimServer.
 */
#pragma once

#include <libsoup/soup.h>

#include "spot-sim-server.h"
#include "spot-sim-wire.h"

G_BEGIN_DECLS

/* Per-connection lasting fault state. */
typedef struct
{
  gboolean newest_first;
  gboolean dup_snapshot;
  gboolean heartbeat_string;
  gint64 delay_ms;
} FaultModes;

typedef struct
{
  gint64 due_us; /* monotonic */
  char *text;
  gsize len;
} Delayed;

typedef struct _Conn Conn;

struct _SpotSimServer
{
  SpotSimServerConfig config;
  GArray *startup_faults;
  SpotSimMarket *market;
  SoupServer *soup;
  guint port;
  GPtrArray *conns; /* Conn*, open connections */
  GPtrArray *dead;  /* Conn*, closed, freed from reap_cb */
  guint reap_source;
  guint next_conn_id;
  guint64 conns_total;
  gint64 skew_ms;
  gint64 rest_refuse_from_s; /* rest-candles fault: refused granularities, 0 none */
  guint64 rest_candles_refused;
  FaultModes defaults; /* lasting faults for new connections */
  gint64 start_mono_us;

  guint second_source;

  /* Trades generated but not yet sent to every subscriber. Generation is
   * global (one market), sending is per connection on its own batch timer:
   * each generation step gets a number, and per product the trades of the
   * steps some subscriber still lacks are kept serialised once, oldest
   * first, so a connection's batch is one contiguous tail of it. */
  guint64 gen;              /* generation steps so far */
  guint *trade_subscribers; /* per product: connections with market_trades */
  GString **pend;           /* per product: serialised trades, comma-separated */
  GArray **pend_trades;     /* per product: the same trades (SpotSimTrade) */
  GArray **chunks;          /* per product: Chunk, one per step that traded */
  GString *scratch;
  SpotSimTimeCache time_cache;

  /* stats */
  guint64 *trades_sent; /* per product, summed over connections */
  guint64 messages_sent;
  guint64 bytes_sent;
  guint64 trades_sent_total;
  guint64 trades_sent_prev; /* at the previous second */
  guint64 trades_sent_rate;
  guint64 trades_generated_total;
  guint64 slow_consumers_dropped;
};

struct _Conn
{
  SpotSimServer *server;
  guint id;
  SoupWebsocketConnection *ws;
  GSocket *socket; /* the TCP socket under ws (libsoup wraps its stream) */
  char *peer;
  gint64 seq; /* next sequence_num */
  gboolean subscribed_once;
  guint idle_source;
  guint oneshot_source;
  guint heartbeat_source;
  guint batch_source;    /* this connection's market_trades batch timer */
  gint64 batch_phase_us; /* monotonic open time: batches at + k * batch_ms */
  gint64 batch_phase_clock_us; /* the same instant on the exchange clock */
  gboolean closing;

  gboolean *trades_sub; /* per product */
  guint64 *trades_gen;  /* per product: generation step sent through */
  guint64 tick_gen;     /* generation step at this connection's last batch */
  GArray *trades_list;  /* guint product indices, subscription order */
  gboolean *candles_sub;
  GArray *candles_list;
  guint64 *candles_version; /* last sent version per product */
  gboolean heartbeats;
  GPtrArray *quiet; /* char*: "channel" or "channel:product" */
  gint64 heartbeat_counter;

  FaultModes modes;
  gint64 stall_until_mono_us;
  gint64 skip_pending;
  GQueue delayed;
  guint delay_source;

  guint64 messages_sent;
  guint64 trades_sent;
  guint64 bytes_sent;
  guint64 wire_bytes; /* frames handed to libsoup, headers included */
  guint64 backlog;    /* wire_bytes not yet acked by the peer, last second */
};

/* The exchange clock: local clock + skew, in ns since the epoch. */
gint64 spot_sim_server_now_ns (SpotSimServer *self);
/* Generates every trade due and sends it at once, out of the connections'
 * batch phases, to the subscribers of @product (every product when -1):
 * before REST answers about it, so REST never shows a trade a subscriber
 * was not sent, and before the clock is moved. */
void spot_sim_server_flush (SpotSimServer *self, gint product);

/* Adds the REST (/api) and control (/_sim) handlers to self->soup. */
void spot_sim_rest_register (SpotSimServer *self);

G_END_DECLS
