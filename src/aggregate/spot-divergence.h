/* spot-divergence.h: comparing the exchange's 5-minute candles with ours.
 *
 * Coinbase's WebSocket `candles` channel sends the current FIVE_MINUTE candle
 * about every second. A tracker keeps, per product, the latest exchange
 * candle of the two most recent starts; when our bucket completes, the
 * builder takes the exchange's candle for that start and compares
 * (numerically: open, high, low, close, volume). Buckets with dirty minutes
 * are skipped by the builder.
 *
 * Thread safety: plain values; one tracker per product, used by its worker.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

typedef struct
{
  SpotCandle latest[2]; /* by start; latest[i].start == 0: empty */
} SpotDivergenceTracker;

void spot_divergence_tracker_init (SpotDivergenceTracker *tracker);
/* Keeps @candle when its start is one of the two newest seen; older is ignored. */
void spot_divergence_tracker_offer (SpotDivergenceTracker *tracker, const SpotCandle *candle);
/* Removes and returns the exchange candle for @start, FALSE when none. */
gboolean
spot_divergence_tracker_take (SpotDivergenceTracker *tracker, gint64 start, SpotCandle *out);

/* TRUE when the two candles differ in open, high, low, close or volume;
 * writes the first differing field's name into @field (may be NULL). */
gboolean
spot_divergence_differs (const SpotCandle *ours, const SpotCandle *exchange, const char **field);

G_END_DECLS
