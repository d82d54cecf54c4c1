/* spot-granularity.h: Coinbase candle granularities and the roll-up tree.
 *
 * Sizes and names are Coinbase's REST ones. Every size divides the next one in
 * the roll-up tree and all buckets are aligned to the Unix epoch (UTC):
 *   5m <- 1m, 15m <- 5m, 30m <- 15m, 1h <- 30m, 2h <- 1h, 4h <- 2h, 6h <- 2h, 1d <- 6h
 *
 * Thread safety: pure functions; call from any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  SPOT_GRANULARITY_ONE_MINUTE,
  SPOT_GRANULARITY_FIVE_MINUTE,
  SPOT_GRANULARITY_FIFTEEN_MINUTE,
  SPOT_GRANULARITY_THIRTY_MINUTE,
  SPOT_GRANULARITY_ONE_HOUR,
  SPOT_GRANULARITY_TWO_HOUR,
  SPOT_GRANULARITY_FOUR_HOUR,
  SPOT_GRANULARITY_SIX_HOUR,
  SPOT_GRANULARITY_ONE_DAY,
  SPOT_GRANULARITY_COUNT,
  SPOT_GRANULARITY_INVALID = -1,
} SpotGranularity;

/* A set of granularities, bit (1 << g). */
typedef guint32 SpotGranularitySet;

#define SPOT_GRANULARITY_SET_ALL ((SpotGranularitySet) ((1u << SPOT_GRANULARITY_COUNT) - 1))
/* The default output set: every granularity but FOUR_HOUR. */
#define SPOT_GRANULARITY_SET_DEFAULT \
  ((SpotGranularitySet) (SPOT_GRANULARITY_SET_ALL & ~(1u << SPOT_GRANULARITY_FOUR_HOUR)))

static inline gboolean
spot_granularity_set_contains (SpotGranularitySet set, SpotGranularity g)
{
  return g >= 0 && g < SPOT_GRANULARITY_COUNT && (set & (1u << g)) != 0;
}

/* Size in seconds (60 ... 86400). */
gint64 spot_granularity_seconds (SpotGranularity g);

/* "ONE_MINUTE" ... "ONE_DAY". */
const char *spot_granularity_name (SpotGranularity g);

/* "1m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "1d". */
const char *spot_granularity_short_name (SpotGranularity g);

/* Accepts the Coinbase name or the short name; an unknown text fails with
 * SPOT_ERROR_PARSE naming it and listing the allowed values. @len may be -1. */
gboolean spot_granularity_parse (const char *text, gssize len, SpotGranularity *out, GError **error);

/* Parses a comma-separated list ("ONE_MINUTE,5m"); empty items and unknown
 * names fail. An empty list fails. */
gboolean spot_granularity_set_parse (const char *text, SpotGranularitySet *out, GError **error);

/* Comma-separated Coinbase names in size order. */
char *spot_granularity_set_to_string (SpotGranularitySet set);

/* Start of the bucket holding @t (epoch seconds): floor(t / size) * size,
 * correct for negative @t too. */
gint64 spot_granularity_align (SpotGranularity g, gint64 t);

/* The child level in the roll-up tree (ONE_MINUTE has none:
 * SPOT_GRANULARITY_INVALID). */
SpotGranularity spot_granularity_child (SpotGranularity g);

/* The parents of @g in the roll-up tree: writes up to 2 into @parents and
 * returns how many (2 for TWO_HOUR, 0 for ONE_DAY). */
guint spot_granularity_parents (SpotGranularity g, SpotGranularity parents[2]);

G_END_DECLS
