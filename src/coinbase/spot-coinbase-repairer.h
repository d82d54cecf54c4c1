/* spot-coinbase-repairer.h: the repair coordinator and product seeding
 * (DESIGN.md section 2, "Repair" and "Start and added products").
 *
 * Repair: the engine reports closed dirty minutes (its sink's emit_dirty,
 * from worker threads) to spot_coinbase_repairer_queue_dirty(). Once a
 * minute has been closed for REPAIR_DELAY it is fetched from REST
 * ONE_MINUTE (contiguous runs, at most 300 per request, paced by REST_RATE,
 * retried) and handed to the engine; a minute without a REST candle had no
 * trades and is cleared. When the engine answers NEEDS_DATABASE, the minute
 * is applied through the store's recompute (spot_repository_apply_repair)
 * and the recomputed child below the level still in memory is handed back
 * (spot_sharded_aggregator_replace). A minute the engine still considers
 * open is retried later; minutes beyond REPAIR_HORIZON are abandoned and
 * counted.
 *
 * Seeding: spot_coinbase_repairer_seed_products() adds each product to the
 * engine in seeding mode (live trades held), loads its stored candles and
 * highest last_trade_id (when a repository is given), fetches from REST the
 * closed buckets of every level inside the open parent buckets that the
 * database does not have, seeds the engine, marks the minutes from the last
 * stored minute to now dirty (STARTUP), and ends seeding. Nothing is
 * written for the product before that (the engine emits nothing while
 * seeding).
 *
 * Thread safety: main thread, except spot_coinbase_repairer_queue_dirty()
 * and _get_stats (any thread).
 */
#pragma once

#include <gio/gio.h>

#include "aggregate/spot-sharded-aggregator.h"
#include "coinbase/spot-coinbase-options.h"
#include "coinbase/spot-coinbase-rest.h"

G_BEGIN_DECLS

typedef struct _SpotCoinbaseRepairer SpotCoinbaseRepairer;

typedef struct
{
  guint64 minutes_queued; /* closed dirty minutes reported */
  guint64 rest_requests;  /* ONE_MINUTE requests for repairs */
  guint64 rest_failures;  /* requests that failed after retries */
  guint64 applied;        /* applied in memory */
  guint64 via_database;   /* applied through the database */
  guint64 cleared;        /* no REST candle: the minute had no trades */
  guint64 retried_open;   /* the engine still considered the minute open */
  guint64 abandoned;      /* beyond the repair horizon */
  guint64 failed;         /* invalid, or the database path failed */
  guint64 products_seeded;
  guint64 seeding; /* products being seeded now */
} SpotCoinbaseRepairerStats;

/* @repository (SpotRepository*, may be NULL: no database path, no stored
 * seed) and @metrics (SpotMetrics*, may be NULL) must outlive the repairer;
 * @rest and @aggregator too. */
SpotCoinbaseRepairer *spot_coinbase_repairer_new (const SpotCoinbaseOptions *options,
                                                  SpotCoinbaseRest *rest,
                                                  SpotShardedAggregator *aggregator,
                                                  gpointer repository,
                                                  gpointer metrics);
void spot_coinbase_repairer_free (SpotCoinbaseRepairer *repairer);

/* Any thread (the sink's emit_dirty): closed dirty minutes. */
void spot_coinbase_repairer_queue_dirty (SpotCoinbaseRepairer *repairer,
                                         const SpotDirtyRange *ranges,
                                         guint n);

/* Seeds products (see above). */
void spot_coinbase_repairer_seed_products (SpotCoinbaseRepairer *repairer,
                                           const char *const *product_ids);
/* Forgets a removed product's pending repairs. */
void spot_coinbase_repairer_remove_products (SpotCoinbaseRepairer *repairer,
                                             const char *const *product_ids);

/* Minutes waiting or in flight. */
guint spot_coinbase_repairer_get_pending (SpotCoinbaseRepairer *repairer);
void spot_coinbase_repairer_get_stats (SpotCoinbaseRepairer *repairer,
                                       SpotCoinbaseRepairerStats *out);

G_END_DECLS
