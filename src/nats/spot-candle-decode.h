/* spot-candle-decode.h: compatibility name for spot_candle_from_json().
 *
 * The single-pass candle reader that lived here is now the fast path of
 * spot_candle_from_json() (model/spot-candle-json.h); call that directly.
 * This wrapper stays only for tools/bench-nats, which still includes it;
 * delete it once that tool calls spot_candle_from_json().
 *
 * Thread safety: pure; call from any thread.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle-json.h"

G_BEGIN_DECLS

static inline gboolean
spot_candle_decode (const char *json, gsize len, SpotCandle *out, GError **error)
{
  return spot_candle_from_json (json, (gssize)len, out, error);
}

G_END_DECLS
