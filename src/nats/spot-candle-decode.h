/* spot-candle-decode.h: fast reading of candle JSON received from NATS.
 *
 * spot_candle_from_json() (model/spot-candle-json.h) builds a json-glib tree
 * and costs ~10-25 us per candle here; the hub and the live cache read every
 * message of every product, so they use this single-pass reader of the form
 * spot_candle_json_append() writes (any field order and whitespace, the same
 * checks). Anything it is not sure about (escapes, unknown or repeated
 * fields, other number forms, errors) goes to spot_candle_from_json(), which
 * stays the one definition of what is accepted and of the error messages.
 *
 * Thread safety: pure; call from any thread.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

gboolean spot_candle_decode (const char *json, gsize len, SpotCandle *out, GError **error);

/* The fast path alone: TRUE when it decoded and validated @json; FALSE means
 * "ask spot_candle_from_json()", not necessarily invalid. For tests. */
gboolean spot_candle_decode_fast (const char *json, gsize len, SpotCandle *out);

G_END_DECLS
