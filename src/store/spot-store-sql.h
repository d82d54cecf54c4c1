/* spot-store-sql.h: the SQL text and parameter encoding of the candle store.
 *
 * Pure code (no I/O): turning candles into text parameters, array literals
 * and COPY rows, building the upsert statements, reading rows back, and the
 * ordering rule that decides which of two versions of a candle wins. The
 * same rule is written in SQL in the upsert's WHERE clause, so the database
 * and in-memory coalescing always agree.
 *
 * Thread safety: pure functions; call from any thread.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

/* Columns written per candle, in this order: product_id, granularity, start,
 * open, high, low, close, volume, trades, last_trade_id, complete, rev, ts. */
#define SPOT_STORE_CANDLE_COLUMNS 13

/* The three batched upsert strategies measured by tools/bench-store. */
typedef enum {
  SPOT_STORE_STRATEGY_VALUES, /* one INSERT with a multi-row VALUES list */
  SPOT_STORE_STRATEGY_UNNEST, /* one INSERT ... SELECT FROM unnest(13 arrays) */
  SPOT_STORE_STRATEGY_COPY,   /* COPY into a temporary table, then one merge */
} SpotStoreStrategy;

/* The fastest on this machine (see docs/storage.md). */
#define SPOT_STORE_STRATEGY_DEFAULT SPOT_STORE_STRATEGY_UNNEST

const char *spot_store_strategy_name (SpotStoreStrategy strategy);
gboolean spot_store_strategy_parse (const char *text, SpotStoreStrategy *out, GError **error);

/* The text form of one candle's parameters. values[i] points into the
 * buffers below, or is NULL for SQL NULL (trades, last_trade_id, ts of REST
 * candles). */
typedef struct {
  char start[32];
  char open[SPOT_DECIMAL_BUFSIZE];
  char high[SPOT_DECIMAL_BUFSIZE];
  char low[SPOT_DECIMAL_BUFSIZE];
  char close[SPOT_DECIMAL_BUFSIZE];
  char volume[SPOT_DECIMAL_BUFSIZE];
  char trades[24];
  char last_trade_id[24];
  char rev[24];
  char ts[40];
  const char *values[SPOT_STORE_CANDLE_COLUMNS];
} SpotStoreCandleParams;

/* Checks that @candle can be stored: spot_candle_validate() plus the column
 * ranges (rev, last_trade_id and trades fit a bigint). Fails with
 * SPOT_ERROR_INVALID_ARGUMENT naming the candle and the field. */
gboolean spot_store_candle_check (const SpotCandle *candle, GError **error);

/* Fills @params from @candle (which should have passed the check). Start is
 * written as "YYYY-MM-DDTHH:MM:SSZ"; ts with microseconds, PostgreSQL's
 * precision (the nanoseconds are truncated). */
void spot_store_candle_params (const SpotCandle *candle, SpotStoreCandleParams *params);

/* TRUE when @incoming would replace @stored (same key) under the store's rule:
 * a higher rev wins, an equal rev wins only when it completes the row, and an
 * incomplete candle never replaces a complete one. */
gboolean spot_store_candle_supersedes (const SpotCandle *incoming, const SpotCandle *stored);

/* Orders candles by key (product, granularity, start); for sorting batches so
 * concurrent writers lock rows in the same order. */
int spot_store_candle_key_compare (const SpotCandle *a, const SpotCandle *b);

/* Statement texts. All use $n parameters only. */
const char *spot_store_upsert_one_sql (void);   /* 13 parameters, one row */
/* A REST minute replacing a stored one: 13 parameters; written as the stored rev + 1
 * when a value differs, whatever the stored revision (the repair path only). */
const char *spot_store_upsert_repair_sql (void);
const char *spot_store_upsert_unnest_sql (void); /* 13 array parameters */
const char *spot_store_stage_create_sql (void);  /* temp table for COPY */
const char *spot_store_stage_copy_sql (void);    /* COPY ... FROM STDIN */
const char *spot_store_stage_merge_sql (void);   /* merge stage -> candles */
/* INSERT ... VALUES ($1..$13), ($14..$26), ... for @n_rows rows
 * (n_rows * 13 <= 65535). */
char *spot_store_build_values_sql (guint n_rows);

/* Appends one candle's values to the 13 array literals of the unnest
 * statement ("{a,b,...}"); call spot_store_unnest_finish() after the last. */
void spot_store_unnest_append (GString *arrays[SPOT_STORE_CANDLE_COLUMNS],
                               const SpotStoreCandleParams *params);
void spot_store_unnest_finish (GString *arrays[SPOT_STORE_CANDLE_COLUMNS]);

/* Appends one COPY text-format line (tab separated, \N for NULL). */
void spot_store_copy_append (GString *buf, const SpotStoreCandleParams *params);

/* The select list matching spot_store_candle_from_row(). */
#define SPOT_STORE_SELECT_COLUMNS                                                         \
  "product_id, granularity, extract(epoch from start)::bigint, open::text, high::text, " \
  "low::text, close::text, volume::text, trades, last_trade_id, complete, rev, "         \
  "(extract(epoch from ts) * 1000000)::bigint"

/* Reads row @row of @res (selected with SPOT_STORE_SELECT_COLUMNS starting at
 * column @col0) into @out. NUMERIC text is parsed exactly; trailing zeros at
 * the column's scale are kept (compare numerically). */
gboolean spot_store_candle_from_row (const PGresult *res,
                                     int row,
                                     int col0,
                                     SpotCandle *out,
                                     GError **error);

G_END_DECLS
