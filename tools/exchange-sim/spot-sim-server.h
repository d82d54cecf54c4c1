/* spot-sim-server.h: the simulator's one libsoup server.
 *
 * Serves, on one port, the Coinbase Advanced Trade WebSocket protocol (any
 * path), the public REST market endpoints and a small control endpoint
 * (/_sim/...) that injects faults at run time. Everything runs on the
 * thread-default main context of the thread that created the server: trade
 * generation every batch interval, heartbeats and candle updates every
 * second, and all sends.
 *
 * Thread safety: create, use and free on one thread (the main loop's).
 */
#pragma once

#include <glib.h>

#include "spot-sim-jwt.h"
#include "spot-sim-market.h"

G_BEGIN_DECLS

typedef enum
{
  SPOT_SIM_FAULT_CLOSE1001,        /* close frame with code 1001 */
  SPOT_SIM_FAULT_DROP,             /* TCP shutdown, no close frame */
  SPOT_SIM_FAULT_STALL,            /* value: seconds without any frame */
  SPOT_SIM_FAULT_SKIP_SEQUENCE,    /* value: sequence numbers skipped once */
  SPOT_SIM_FAULT_NEWEST_FIRST,     /* value 1/0: trades newest first in updates */
  SPOT_SIM_FAULT_DUP_SNAPSHOT,     /* value 1/0: resubscribe replays, snapshots twice */
  SPOT_SIM_FAULT_OVERSIZED,        /* value: bytes of one frame (default 4 MiB) */
  SPOT_SIM_FAULT_MALFORMED,        /* one truncated JSON message */
  SPOT_SIM_FAULT_WRONG_TYPE,       /* value 0: price as number, 1: trades not an array */
  SPOT_SIM_FAULT_DELAY,            /* value: ms added before every send */
  SPOT_SIM_FAULT_SKEW,             /* value: ms added to the exchange clock */
  SPOT_SIM_FAULT_HEARTBEAT_STRING, /* value 1/0: counter alternates string/number */
  SPOT_SIM_FAULT_REST_CANDLES,     /* value: REST candles of granularity >= value s answer 503, 0 off */
  SPOT_SIM_FAULT_CLEAR,            /* every fault off, skew 0 */
} SpotSimFaultKind;

/* "close1001", "drop", ... "clear". FALSE for an unknown name. */
gboolean spot_sim_fault_kind_from_string (const char *name, SpotSimFaultKind *kind);
const char *spot_sim_fault_kind_to_string (SpotSimFaultKind kind);
/* The value a fault gets when none is given. */
gint64 spot_sim_fault_default_value (SpotSimFaultKind kind);

typedef struct
{
  SpotSimFaultKind kind;
  gint64 value;
} SpotSimFault;

typedef struct
{
  const char *host;       /* listen address, default 127.0.0.1 */
  guint port;             /* 0: any free port */
  guint batch_ms;         /* market_trades batching, default 250 */
  guint idle_close_s;     /* close without a subscribe, default 5 */
  guint snapshot_trades;  /* per product in a market_trades snapshot */
  guint candles_snapshot; /* 5-minute candles per product in a snapshot */
  gint64 skew_ms;
  gboolean require_auth;
  SpotSimJwtVerifier *verifier; /* borrowed; required with require_auth */
  GArray *faults;               /* SpotSimFault applied to each new connection */
  guint fault_after_s;          /* when one-shot faults of @faults fire */
  guint64 max_backlog_bytes;    /* drop a client this far behind; 0: never */
} SpotSimServerConfig;

typedef struct _SpotSimServer SpotSimServer;

/* Takes ownership of @market. Listens before returning. */
SpotSimServer *
spot_sim_server_new (const SpotSimServerConfig *config, SpotSimMarket *market, GError **error);
void spot_sim_server_free (SpotSimServer *server);

guint spot_sim_server_port (SpotSimServer *server);

/* Stops generating, closes every connection with 1001 and iterates the
 * thread-default main context until they are gone or @timeout_ms passed.
 * For process shutdown, after the main loop has returned. */
void spot_sim_server_stop (SpotSimServer *server, guint timeout_ms);

/* Applies @kind to connection @connection_id (0: all, and every later one for
 * lasting faults). Returns the number of connections it touched. */
guint spot_sim_server_apply_fault (SpotSimServer *server,
                                   SpotSimFaultKind kind,
                                   guint connection_id,
                                   gint64 value);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotSimServer, spot_sim_server_free)

G_END_DECLS
