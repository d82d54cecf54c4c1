/* spot-coinbase-message.h: Coinbase Advanced Trade WebSocket messages to
 * typed events (DESIGN.md section 3), a pure module without I/O.
 *
 * One call parses one frame. A frame that is not a JSON object, or whose
 * envelope (channel, timestamp, sequence_num, events) has the wrong type,
 * fails with SPOT_ERROR_PARSE. Inside a valid envelope, each trade or
 * candle that is missing a field, has a wrong type, a NaN, a negative,
 * zero or absurd decimal (integer part beyond SPOT_COINBASE_MAX_INTEGER_DIGITS
 * digits), an invalid product id or an absurd time is skipped and counted in
 * n_rejected; when its product and time are known they are reported in
 * rejected so the caller can mark that minute dirty (a REST repair then
 * fills it). Nothing rejected ever reaches a batch. Unknown channels and
 * message types give SPOT_COINBASE_MESSAGE_UNKNOWN (ignored, not an error).
 *
 * Thread safety: a SpotCoinbaseParser belongs to one thread (a parse lane);
 * different parsers may run concurrently.
 */
#pragma once

#include <glib.h>

#include "aggregate/spot-trade-batch.h"
#include "model/spot-candle.h"

G_BEGIN_DECLS

/* Prices and sizes with more integer digits are refused as absurd. */
#define SPOT_COINBASE_MAX_INTEGER_DIGITS 15
/* Trade times more than this after the message timestamp are refused. */
#define SPOT_COINBASE_MAX_FUTURE_NS (G_GINT64_CONSTANT (3600) * G_GINT64_CONSTANT (1000000000))
/* Trade times before 2010-01-01 are refused. */
#define SPOT_COINBASE_MIN_TIME_NS (G_GINT64_CONSTANT (1262304000) * G_GINT64_CONSTANT (1000000000))

typedef enum
{
  SPOT_COINBASE_MESSAGE_UNKNOWN, /* unknown channel or type: ignore */
  SPOT_COINBASE_MESSAGE_MARKET_TRADES,
  SPOT_COINBASE_MESSAGE_CANDLES,
  SPOT_COINBASE_MESSAGE_HEARTBEATS,
  SPOT_COINBASE_MESSAGE_SUBSCRIPTIONS,
  SPOT_COINBASE_MESSAGE_ERROR, /* {"type":"error","message":...} */
} SpotCoinbaseMessageKind;

const char *spot_coinbase_message_kind_to_string (SpotCoinbaseMessageKind kind);

typedef struct
{
  char channel[24];
  char product_id[SPOT_PRODUCT_ID_SIZE]; /* "" for channels without products */
} SpotCoinbaseSubscription;

typedef struct
{
  char product_id[SPOT_PRODUCT_ID_SIZE];
  gint64 time_ns;
} SpotCoinbaseRejected;

typedef struct
{
  SpotCoinbaseMessageKind kind;
  gint64 sequence_num;       /* -1 when absent */
  gint64 timestamp_ns;       /* exchange send time; 0 when absent */
  gboolean snapshot;         /* an event of type "snapshot" was present */
  SpotTradeBatch *trades;    /* MARKET_TRADES: owned, NULL otherwise (steal it) */
  GArray *candles;           /* CANDLES: SpotCandle FIVE_MINUTE, owned, or NULL */
  gint64 heartbeat_counter;  /* HEARTBEATS: -1 when absent */
  GArray *subscriptions;     /* SUBSCRIPTIONS: SpotCoinbaseSubscription, or NULL */
  char *error_message;       /* ERROR: the server's message */
  guint n_rejected;          /* items skipped as bad input */
  GArray *rejected;          /* SpotCoinbaseRejected with known product/time, or NULL */
  char *first_reject_reason; /* why the first item was skipped, for logs */
} SpotCoinbaseMessage;

void spot_coinbase_message_init (SpotCoinbaseMessage *msg);
void spot_coinbase_message_clear (SpotCoinbaseMessage *msg);

typedef struct _SpotCoinbaseParser SpotCoinbaseParser;

SpotCoinbaseParser *spot_coinbase_parser_new (void);
void spot_coinbase_parser_free (SpotCoinbaseParser *parser);
/* Parses every frame with json-glib (no lean fast path): the oracle of the
 * lean parser's tests and fuzz target. */
void spot_coinbase_parser_set_json_only (SpotCoinbaseParser *parser, gboolean json_only);

/* Parses @len bytes of @data (need not be NUL-terminated). @out must be
 * initialised (it is cleared first). Trades get message_ns = the envelope
 * timestamp; the batch gets @receive_ns and @connection_id. */
gboolean spot_coinbase_parser_parse (SpotCoinbaseParser *parser,
                                     const char *data,
                                     gsize len,
                                     gint64 receive_ns,
                                     gint connection_id,
                                     SpotCoinbaseMessage *out,
                                     GError **error);

/* Parses a decimal field value the way trades and candles need it: a JSON
 * string, positive (or >= 0 with @allow_zero), at most
 * SPOT_COINBASE_MAX_INTEGER_DIGITS integer digits. Pure. */
gboolean spot_coinbase_parse_amount (
    const char *text, gsize len, gboolean allow_zero, SpotDecimal *out, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotCoinbaseParser, spot_coinbase_parser_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SpotCoinbaseMessage, spot_coinbase_message_clear)

G_END_DECLS
