/* spot-candle-element.h: the <spot-candle> element streamed to browsers.
 *
 * One element per (product, granularity) with a stable id, so Datastar
 * morphs it in place (DESIGN.md section 4):
 *
 *   <spot-candle id="candle-BTC-USD-ONE_MINUTE" product="BTC-USD"
 *     granularity="ONE_MINUTE" start="1775521800" open=".." high=".."
 *     low=".." close=".." volume=".." trades="12" complete="false"
 *     ts="2026-04-07T14:30:02.789012345Z"></spot-candle>
 *
 * Every attribute value is HTML-escaped. trades and ts are empty for a
 * candle taken from REST (unknown). The element is written on one line.
 *
 * Thread safety: pure functions; call from any thread.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

/* Appends "candle-<PRODUCT>-<GRANULARITY>" (not escaped: product ids are
 * [A-Z0-9-] only). */
void spot_candle_element_append_id (GString *out, const char *product_id, SpotGranularity g);

/* Appends the element. */
void spot_candle_element_append (GString *out, const SpotCandle *candle);

/* Appends an element without values (id, product and granularity only), for
 * a selected key the live cache does not hold yet. */
void
spot_candle_element_append_placeholder (GString *out, const char *product_id, SpotGranularity g);

G_END_DECLS
