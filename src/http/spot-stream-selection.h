/* spot-stream-selection.h: what a /stream client asked for.
 *
 * The selection comes from the query (`products=A,B`,
 * `granularities=ONE_MINUTE,5m`, `dialect=v1|beta11`) or from Datastar
 * signals (`datastar=<url-encoded JSON>`, what a Datastar GET action sends),
 * whose members `products`, `granularities` and `dialect` may each be a
 * comma-separated string or an array of strings. A query parameter wins over
 * the signal of the same name. Missing granularities mean the configured
 * default set; a missing dialect means Datastar 1.0.
 *
 * Errors (SPOT_ERROR_INVALID_ARGUMENT, HTTP 400) are one line naming the
 * input at fault: unknown granularity, bad product id, too many products,
 * empty selection, malformed signals, unknown dialect.
 *
 * Thread safety: pure functions; call from any thread.
 */
#pragma once

#include <glib.h>

#include "http/spot-datastar.h"
#include "model/spot-granularity.h"

G_BEGIN_DECLS

typedef struct
{
  char **products; /* NULL-terminated, validated, without duplicates, in the order given */
  guint n_products;
  SpotGranularitySet granularities;
  SpotDatastarDialect dialect;
} SpotStreamSelection;

/* @query: the decoded query parameters (soup_form_decode()), or NULL.
 * @max_products: SSE_MAX_PRODUCTS. @default_granularities: used when the
 * request names none. On failure @out is left cleared. */
gboolean spot_stream_selection_parse (GHashTable *query,
                                      guint max_products,
                                      SpotGranularitySet default_granularities,
                                      SpotStreamSelection *out,
                                      GError **error);

void spot_stream_selection_clear (SpotStreamSelection *selection);

G_END_DECLS
