#define G_LOG_DOMAIN "spot-aggregate"

#include "aggregate/spot-trade-batch.h"

#include <string.h>

SpotTradeBatch *
spot_trade_batch_new (guint capacity)
{
  SpotTradeBatch *batch = g_new0 (SpotTradeBatch, 1);

  batch->capacity = MAX (capacity, 1);
  batch->trades = g_new0 (SpotTrade, batch->capacity);
  batch->connection_id = -1;
  return batch;
}

void
spot_trade_batch_free (SpotTradeBatch *batch)
{
  if (batch == NULL)
    return;
  g_free (batch->trades);
  g_free (batch);
}

SpotTrade *
spot_trade_batch_add (SpotTradeBatch *batch)
{
  g_return_val_if_fail (batch != NULL, NULL);

  if (batch->n_trades == batch->capacity)
    {
      batch->capacity *= 2;
      batch->trades = g_renew (SpotTrade, batch->trades, batch->capacity);
    }
  SpotTrade *trade = &batch->trades[batch->n_trades++];
  memset (trade, 0, sizeof *trade);
  return trade;
}

SpotTrade *
spot_trade_batch_append (SpotTradeBatch *batch, const SpotTrade *trade)
{
  SpotTrade *slot = spot_trade_batch_add (batch);

  if (slot != NULL)
    *slot = *trade;
  return slot;
}

void
spot_trade_batch_clear (SpotTradeBatch *batch)
{
  g_return_if_fail (batch != NULL);
  batch->n_trades = 0;
}
