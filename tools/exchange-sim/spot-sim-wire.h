/* spot-sim-wire.h: Coinbase's text forms, written by hand into GStrings.
 *
 * Pure functions, no I/O. Thread safety: any thread; a SpotSimTimeCache
 * belongs to its caller.
 */
#pragma once

#include <glib.h>

#include "spot-sim-market.h"

G_BEGIN_DECLS

/* Caches the formatted date and time of one second, since a batch of trades
 * mostly shares it. Zero-initialise before use. */
typedef struct
{
  gint64 second;
  gboolean valid;
  char text[24]; /* "2026-04-07T14:30:02" */
} SpotSimTimeCache;

/* "2026-04-07T14:30:02.789012345Z" from nanoseconds since the epoch. */
void spot_sim_append_rfc3339_ns (GString *out, gint64 time_ns);
/* "2026-04-07T14:30:02.789012Z" from microseconds since the epoch. */
void spot_sim_append_rfc3339_us (GString *out, SpotSimTimeCache *cache, gint64 time_us);
/* Go's time.Time String(): "2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105",
 * @uptime_ns being the monotonic reading since process start. */
void spot_sim_append_go_time (GString *out, gint64 time_ns, gint64 uptime_ns);

/* One trade object of a market_trades event. */
void spot_sim_append_trade (GString *out,
                            SpotSimTimeCache *cache,
                            const SpotSimProductInfo *product,
                            const SpotSimTrade *trade);

/* One candle object: REST form (start, low, high, open, close, volume) or,
 * with @product_id, the WebSocket candles channel form. */
void spot_sim_append_candle (GString *out,
                             const SpotSimProductInfo *product,
                             const SpotSimCandle *candle,
                             gboolean with_product_id);

/* Appends @s as a JSON string literal. */
void spot_sim_append_json_string (GString *out, const char *s);

G_END_DECLS
