/* spot-trade.h: one exchange trade, parsed.
 *
 * Thread safety: a plain value; functions are pure.
 */
#pragma once

#include <glib.h>

#include "model/spot-decimal.h"
#include "model/spot-product.h"

G_BEGIN_DECLS

typedef enum {
  SPOT_TRADE_SIDE_UNKNOWN,
  SPOT_TRADE_SIDE_BUY,
  SPOT_TRADE_SIDE_SELL,
} SpotTradeSide;

typedef struct {
  char product_id[SPOT_PRODUCT_ID_SIZE];
  guint64 trade_id;     /* Coinbase's numeric id; compared as a number */
  gint64 time_ns;       /* exchange trade time */
  gint64 message_ns;    /* timestamp of the exchange message that carried it */
  SpotDecimal price;
  SpotDecimal size;
  SpotTradeSide side;   /* the maker side, as Coinbase reports it */
} SpotTrade;

/* Parses a trade id ("995098700") into a number; rejects empty, signs,
 * non-digits and values above G_MAXUINT64 with SPOT_ERROR_PARSE. */
gboolean spot_trade_id_parse (const char *text, gssize len, guint64 *out, GError **error);

/* Checks what a trade must satisfy before it may reach a candle: a valid
 * product id, trade_id > 0, price > 0, size > 0, a time after 2000-01-01. */
gboolean spot_trade_validate (const SpotTrade *trade, GError **error);

/* Order of trades inside a candle: by exchange time, then trade_id. */
int spot_trade_compare_time (const SpotTrade *a, const SpotTrade *b);

G_END_DECLS
