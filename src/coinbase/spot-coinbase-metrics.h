/* spot-coinbase-metrics.h: the Coinbase client's metric updates.
 *
 * A thin layer over src/metrics so that files including the engine's
 * headers never include spot-metrics.h: both declare an enum named
 * SpotRepairResult with clashing constants (SPOT_REPAIR_APPLIED, ...).
 * @metrics is a SpotMetrics* (NULL: nothing is counted); @monitor a
 * SpotBackpressureMonitor* (may be NULL).
 *
 * Thread safety: counter updates from any thread; queue registration on the
 * main thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  SPOT_COINBASE_REST_REPAIR_APPLIED,
  SPOT_COINBASE_REST_REPAIR_FAILED,
  SPOT_COINBASE_REST_REPAIR_ABANDONED,
} SpotCoinbaseRestRepair;

void spot_coinbase_metrics_trades_received (gpointer metrics, guint64 n);
void spot_coinbase_metrics_exchange_candles (gpointer metrics, guint64 n);
void spot_coinbase_metrics_connections (gpointer metrics, int delta);
void spot_coinbase_metrics_reconnect (gpointer metrics);
void spot_coinbase_metrics_sequence_gap (gpointer metrics);
void spot_coinbase_metrics_stall (gpointer metrics);
void spot_coinbase_metrics_inbox_drop (gpointer metrics, guint64 n);
void spot_coinbase_metrics_rest_repair (gpointer metrics, SpotCoinbaseRestRepair result);

/* Registers a bounded queue with the backpressure monitor; returns a
 * handle for _record_drop and _remove (NULL without a monitor). */
gpointer spot_coinbase_metrics_add_queue (gpointer monitor,
                                          const char *name,
                                          guint capacity,
                                          guint (*get_length) (gpointer),
                                          gpointer user_data);
void spot_coinbase_metrics_queue_drop (gpointer queue, guint64 n);
void spot_coinbase_metrics_remove_queue (gpointer monitor, gpointer queue);

G_END_DECLS
