/* spot-coinbase-fast.h: a lean parser for the one hot message shape, a
 * well-formed market_trades message (DESIGN.md section 3).
 *
 * json-glib parses about 140k trades/s per core on this machine, below the
 * ingest target, so the trade path first tries this hand parser. It accepts
 * only strict JSON (no string escapes, no bytes >= 0x80 in strings, no
 * duplicate known members, timestamp before events) whose every event and
 * trade is valid; anything else returns FALSE and the caller parses the
 * frame with json-glib, which does the full bad-input accounting. When it
 * returns TRUE its output equals the json-glib path's output exactly
 * (pinned by unit tests and by the differential fuzz target
 * tests/coinbase/fuzz-message.c).
 *
 * Thread safety: pure; any thread.
 */
#pragma once

#include "coinbase/spot-coinbase-message.h"

G_BEGIN_DECLS

/* @out must be cleared (spot_coinbase_message_init). On FALSE, @out is left
 * cleared again. */
gboolean spot_coinbase_fast_parse_trades (
    const char *data, gsize len, gint64 receive_ns, gint connection_id, SpotCoinbaseMessage *out);

G_END_DECLS
