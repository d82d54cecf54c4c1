/* spot-candle.h: an OHLCV candle and the update that carries it.
 *
 * A candle taken from the exchange's REST API has no trade count, no last
 * trade id and no message timestamp: those fields then hold the "unknown"
 * values below (JSON null).
 *
 * Thread safety: plain values; functions are pure.
 */
#pragma once

#include <glib.h>

#include "model/spot-decimal.h"
#include "model/spot-granularity.h"
#include "model/spot-product.h"

G_BEGIN_DECLS

#define SPOT_CANDLE_TRADES_UNKNOWN (-1)
#define SPOT_CANDLE_TRADE_ID_UNKNOWN G_GUINT64_CONSTANT (0)
#define SPOT_CANDLE_TS_UNKNOWN G_GINT64_CONSTANT (0)

typedef struct {
  char product_id[SPOT_PRODUCT_ID_SIZE];
  SpotGranularity granularity;
  gint64 start;          /* bucket start, epoch seconds, aligned */
  SpotDecimal open;
  SpotDecimal high;
  SpotDecimal low;
  SpotDecimal close;
  SpotDecimal volume;
  gint64 trades;         /* SPOT_CANDLE_TRADES_UNKNOWN for REST candles */
  guint64 last_trade_id; /* SPOT_CANDLE_TRADE_ID_UNKNOWN for REST candles */
  gboolean complete;
  guint64 rev;           /* grows per (product, granularity, start) */
  gint64 ts_ns;          /* exchange message timestamp of the last live trade,
                            SPOT_CANDLE_TS_UNKNOWN for REST candles */
} SpotCandle;

/* Why an update was emitted. Only LIVE updates are latency samples. */
typedef enum {
  SPOT_CANDLE_UPDATE_LIVE,       /* an open bucket changed */
  SPOT_CANDLE_UPDATE_COMPLETE,   /* a bucket completed by the clock */
  SPOT_CANDLE_UPDATE_CORRECTION, /* a late trade inside the correction window */
  SPOT_CANDLE_UPDATE_REPAIR,     /* a REST minute replaced a dirty one */
  SPOT_CANDLE_UPDATE_SEED,       /* state loaded at start-up or on add */
} SpotCandleUpdateKind;

typedef struct {
  SpotCandle candle;
  SpotCandleUpdateKind kind;
} SpotCandleUpdate;

/* Checks the invariants a stored or published candle must satisfy: valid
 * product id and granularity, aligned start, low <= open/close <= high,
 * volume >= 0, prices > 0. Sets SPOT_ERROR_INVALID_ARGUMENT naming the field. */
gboolean spot_candle_validate (const SpotCandle *candle, GError **error);

/* The per-key identity "<PRODUCT>.<GRANULARITY>" used by NATS subjects (after
 * "candles.") and KV keys; written into @buf, returns its length. */
gsize spot_candle_key (const SpotCandle *candle, char *buf, gsize size);

/* Numeric equality of product, granularity, start and OHLCV (scales may
 * differ). Used to compare candles with the exchange's. */
gboolean spot_candle_values_equal (const SpotCandle *a, const SpotCandle *b);

const char *spot_candle_update_kind_to_string (SpotCandleUpdateKind kind);

G_END_DECLS
