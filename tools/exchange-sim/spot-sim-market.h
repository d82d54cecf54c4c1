/* spot-sim-market.h: the simulator's deterministic market and its trade log.
 *
 * Prices and sizes are int64 counts of the product's increments (a power of
 * ten, 10^exp). The market keeps, per product, a ring of its newest trades
 * (for WebSocket snapshots) and a ring of one-minute summaries that covers the
 * configured horizon (for REST candles at every granularity, rolled up here
 * with plain integer arithmetic: this code never shares the service's engine).
 *
 * Trades follow the clock they are generated against: each product draws its
 * next trade's gap, price step, size and side from its own PRNG seeded by
 * (seed, product id), so the sequence of trades is a function of the seed.
 *
 * Thread safety: a SpotSimMarket belongs to one thread (the simulator's main
 * loop); nothing here locks.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint64 time_us; /* exchange time, µs since the epoch */
  gint64 trade_id;
  gint64 price; /* in quote increments */
  gint64 size;  /* in base increments */
  gboolean buy; /* maker side BUY */
} SpotSimTrade;

/* One bucket of any granularity, values in increments. */
typedef struct
{
  gint64 start; /* epoch seconds */
  gint64 open;
  gint64 high;
  gint64 low;
  gint64 close;
  __int128 volume;
  gint64 trades;
} SpotSimCandle;

typedef struct
{
  char *product_id;
  char *base;
  char *quote;
  gint quote_exp; /* quote_increment = 10^quote_exp, -12..0 */
  gint base_exp;  /* base_increment = 10^base_exp, -12..0 */
} SpotSimProductInfo;

typedef struct _SpotSimMarket SpotSimMarket;

typedef struct
{
  guint64 seed;
  guint n_products;         /* used when product_ids is NULL */
  char **product_ids;       /* explicit list, or NULL */
  double trades_per_second; /* per product, > 0 */
  guint history_minutes;    /* pre-generated past trades */
  guint snapshot_trades;    /* trades kept per product for snapshots */
  guint horizon_minutes;    /* minute summaries kept per product */
} SpotSimMarketConfig;

/* Creates the market and generates its history up to @now_us. Returns NULL
 * with SPOT_ERROR_INVALID_ARGUMENT when the configuration is unusable (an
 * explicit product id that is not BASE-QUOTE, a zero rate, ...). */
SpotSimMarket *
spot_sim_market_new (const SpotSimMarketConfig *config, gint64 now_us, GError **error);
void spot_sim_market_free (SpotSimMarket *market);

guint spot_sim_market_n_products (SpotSimMarket *market);
const SpotSimProductInfo *spot_sim_market_product (SpotSimMarket *market, guint index);
/* Index of @product_id, or -1. */
gint spot_sim_market_find (SpotSimMarket *market, const char *product_id);

/* Generates every trade of every product up to @now_us (monotonic per
 * product even when @now_us goes back), appends them to the log and returns
 * how many. The new trades of product i are then available through
 * spot_sim_market_last_batch() until the next call. */
guint64 spot_sim_market_advance (SpotSimMarket *market, gint64 now_us);
const SpotSimTrade *
spot_sim_market_last_batch (SpotSimMarket *market, guint index, guint *n_trades);

/* The exchange clock moved by @delta_us (a skew change). Forward: each
 * product's schedule moves with it, so no burst of catch-up trades. Back:
 * nothing moves, and trades pause until the clock passes the last one, as
 * trade times never go back. */
void spot_sim_market_shift_clock (SpotSimMarket *market, gint64 delta_us);

/* Up to @max newest trades of product @index, newest first (copied into
 * @out, which holds @max). Returns the count. */
guint spot_sim_market_recent (SpotSimMarket *market, guint index, SpotSimTrade *out, guint max);

/* Totals for stats. */
guint64 spot_sim_market_trades_generated (SpotSimMarket *market, guint index);
gint64 spot_sim_market_last_price (SpotSimMarket *market, guint index);
gint64 spot_sim_market_last_trade_id (SpotSimMarket *market, guint index);
/* Bumped by every trade of the product: cheap change detection. */
guint64 spot_sim_market_version (SpotSimMarket *market, guint index);
/* Oldest minute start still kept (epoch seconds). */
gint64 spot_sim_market_horizon_start (SpotSimMarket *market, guint index);

/* Candles of @granularity seconds (60 .. 86400, a multiple of 60 that divides
 * 86400) whose start lies in [@start, @end], newest first, at most @limit,
 * only buckets with trades, the open bucket with its running values. Returns
 * an array of SpotSimCandle. */
GArray *spot_sim_market_candles (
    SpotSimMarket *market, guint index, gint64 granularity, gint64 start, gint64 end, guint limit);

/* Formats @count * 10^@exp: with @strip, without trailing zeros (and without
 * a trailing point), as Coinbase prints REST and candle values; otherwise
 * with exactly -@exp decimals, as in trades. Appends to @out. */
void spot_sim_format_decimal (GString *out, __int128 count, gint exp, gboolean strip);
/* "0.01" for exp -2, "1" for 0. */
char *spot_sim_increment_string (gint exp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotSimMarket, spot_sim_market_free)

G_END_DECLS
