/* spot-candle-json.h: the one JSON form of a candle (DESIGN.md section 4),
 * used by NATS, the KV bucket, /api/candles and D-Bus:
 *
 * {"product_id":"BTC-USD","granularity":"ONE_MINUTE","start":1775521800,
 *  "open":"68900.50","high":"..","low":"..","close":"..","volume":"..",
 *  "trades":12,"last_trade_id":"995098701","complete":false,"rev":3,
 *  "ts":"2026-04-07T14:30:02.789012345Z"}
 *
 * Decimals are strings at their own scale; trades, last_trade_id and ts are
 * null when unknown. Writing never allocates beyond the GString.
 *
 * Thread safety: pure functions; call from any thread.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

/* Appends the JSON object to @out. */
void spot_candle_json_append (GString *out, const SpotCandle *candle);

/* Newly allocated JSON text. */
char *spot_candle_to_json (const SpotCandle *candle);

/* Parses the JSON form (field order free, unknown fields ignored); every
 * field is checked and the result passes spot_candle_validate(). All
 * thirteen fields must be present; only trades, last_trade_id and ts may be
 * null. granularity must be a Coinbase name ("ONE_MINUTE", not "1m").
 * Errors (SPOT_ERROR_PARSE) name the field at fault; @out is untouched on
 * failure. @len may be -1. */
gboolean spot_candle_from_json (const char *json, gssize len, SpotCandle *out, GError **error);

G_END_DECLS
