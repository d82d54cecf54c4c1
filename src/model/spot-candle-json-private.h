/* spot-candle-json-private.h: the two readers behind spot_candle_from_json(),
 * exposed for the tests that check they agree. Not for other code.
 *
 * Thread safety: pure functions; call from any thread.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

/* The single-pass reader alone: TRUE when it read and validated @json into
 * @out; FALSE means "ask the json-glib reader", not necessarily invalid, and
 * leaves @out untouched. */
gboolean spot_candle_from_json_fast (const char *json, gsize len, SpotCandle *out);

/* The json-glib reader alone: the definition of what is accepted and of the
 * error messages. Same contract as spot_candle_from_json(). */
gboolean spot_candle_from_json_tree (const char *json, gssize len, SpotCandle *out, GError **error);

G_END_DECLS
