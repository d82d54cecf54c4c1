/* spot-coinbase-metrics.c: metric updates, kept apart from the engine headers. */
#define G_LOG_DOMAIN "spot-coinbase"

#include "coinbase/spot-coinbase-metrics.h"

#include "metrics/spot-backpressure-monitor.h"
#include "metrics/spot-counter.h"
#include "metrics/spot-gauge.h"
#include "metrics/spot-metrics.h"

void
spot_coinbase_metrics_trades_received (gpointer metrics, guint64 n)
{
  if (metrics != NULL)
    spot_counter_add (((SpotMetrics *)metrics)->trades_received, n);
}

void
spot_coinbase_metrics_exchange_candles (gpointer metrics, guint64 n)
{
  if (metrics != NULL)
    spot_counter_add (((SpotMetrics *)metrics)->exchange_candles_received, n);
}

void
spot_coinbase_metrics_connections (gpointer metrics, int delta)
{
  if (metrics != NULL)
    spot_gauge_add (((SpotMetrics *)metrics)->websocket_connections, delta);
}

void
spot_coinbase_metrics_reconnect (gpointer metrics)
{
  if (metrics != NULL)
    spot_counter_inc (((SpotMetrics *)metrics)->websocket_reconnects);
}

void
spot_coinbase_metrics_sequence_gap (gpointer metrics)
{
  if (metrics != NULL)
    spot_counter_inc (((SpotMetrics *)metrics)->websocket_sequence_gaps);
}

void
spot_coinbase_metrics_stall (gpointer metrics)
{
  if (metrics != NULL)
    spot_counter_inc (((SpotMetrics *)metrics)->websocket_stalls);
}

void
spot_coinbase_metrics_inbox_drop (gpointer metrics, guint64 n)
{
  if (metrics != NULL)
    spot_counter_add (((SpotMetrics *)metrics)->dropped[SPOT_DROP_STAGE_INBOX], n);
}

void
spot_coinbase_metrics_rest_repair (gpointer metrics, SpotCoinbaseRestRepair result)
{
  if (metrics == NULL)
    return;
  SpotMetrics *m = metrics;
  switch (result)
    {
    case SPOT_COINBASE_REST_REPAIR_APPLIED:
      spot_counter_inc (m->rest_repairs[SPOT_REST_REPAIR_APPLIED]);
      break;
    case SPOT_COINBASE_REST_REPAIR_FAILED:
      spot_counter_inc (m->rest_repairs[SPOT_REST_REPAIR_FAILED]);
      break;
    case SPOT_COINBASE_REST_REPAIR_ABANDONED:
    default:
      spot_counter_inc (m->rest_repairs[SPOT_REST_REPAIR_ABANDONED]);
      break;
    }
}

gpointer
spot_coinbase_metrics_add_queue (gpointer monitor,
                                 const char *name,
                                 guint capacity,
                                 guint (*get_length) (gpointer),
                                 gpointer user_data)
{
  if (monitor == NULL)
    return NULL;
  return spot_backpressure_monitor_add_queue (monitor, name, SPOT_DROP_STAGE_INBOX, capacity,
                                              get_length, user_data, NULL);
}

void
spot_coinbase_metrics_queue_drop (gpointer queue, guint64 n)
{
  if (queue != NULL)
    spot_monitored_queue_record_drop (queue, n);
}

void
spot_coinbase_metrics_remove_queue (gpointer monitor, gpointer queue)
{
  if (monitor != NULL && queue != NULL)
    spot_backpressure_monitor_remove_queue (monitor, queue);
}
