/* spot-candle-summary.h: the summary of one bucket, mergeable.
 *
 * Open and close are keyed by (exchange time, trade_id) so that the earliest
 * and latest trade win whatever the arrival order; high, low, volume, trade
 * count and the highest trade_id follow. Two summaries of disjoint or
 * overlapping trade sets merge into the summary of their union, which is how
 * larger granularities are built from their children (and incrementally, a
 * batch's delta into every ancestor).
 *
 * Decimals are kept as 128-bit units with a scale byte each (no padding of
 * SpotDecimal), so a summary is 144 bytes.
 *
 * A summary from a stored or REST candle has no trade times: its open key is
 * (start, 0) and its close key (start, last_trade_id), so later live trades
 * take over the close and never the open; between disjoint children the
 * order of their starts decides, which is exact.
 *
 * Thread safety: plain values; functions are pure.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"
#include "model/spot-decimal.h"
#include "model/spot-trade.h"

G_BEGIN_DECLS

typedef struct
{
  __int128 open;
  __int128 high;
  __int128 low;
  __int128 close;
  __int128 volume;
  gint64 open_time_ns;
  guint64 open_trade_id;
  gint64 close_time_ns;
  guint64 close_trade_id;
  guint64 last_trade_id; /* highest included; 0 when unknown */
  gint64 trades;         /* SPOT_CANDLE_TRADES_UNKNOWN when a REST child is included */
  gint64 ts_ns;          /* latest message timestamp of a live trade; 0 unknown */
  guint8 open_scale;
  guint8 high_scale;
  guint8 low_scale;
  guint8 close_scale;
  guint8 volume_scale;
  guint8 has_data; /* FALSE: empty (no trade, no candle) */
} SpotCandleSummary;

void spot_candle_summary_clear (SpotCandleSummary *summary);

/* Folds one trade in. FALSE (summary unchanged) only when the volume would
 * overflow the decimal range. */
gboolean spot_candle_summary_add_trade (SpotCandleSummary *summary,
                                        const SpotTrade *trade,
                                        gint64 message_ns);

/* dst = dst (+) src. FALSE (dst unchanged) on volume overflow. */
gboolean spot_candle_summary_merge (SpotCandleSummary *dst, const SpotCandleSummary *src);

/* From a stored or REST candle (see the key rule above). */
void spot_candle_summary_from_candle (SpotCandleSummary *summary, const SpotCandle *candle);

/* Fills the value fields of @candle (open ... volume, trades, last_trade_id,
 * ts_ns); identity, complete and rev are left to the caller. */
void spot_candle_summary_to_candle (const SpotCandleSummary *summary, SpotCandle *candle);

/* TRUE when every value field is numerically equal. */
gboolean spot_candle_summary_equal (const SpotCandleSummary *a, const SpotCandleSummary *b);

G_END_DECLS
