#define G_LOG_DOMAIN "spot-aggregate"

#include "aggregate/spot-trade-batch.h"

#include <string.h>

/* The struct and its first trades share one allocation (one malloc per
 * message on the parse lanes); growing moves the trades out. */
typedef struct
{
  SpotTradeBatch batch;
  SpotTrade inline_trades[];
} BatchBlock;

SpotTradeBatch *
spot_trade_batch_new (guint capacity)
{
  capacity = MAX (capacity, 1);
  BatchBlock *block = g_malloc (sizeof (BatchBlock) + capacity * sizeof (SpotTrade));
  SpotTradeBatch *batch = &block->batch;

  memset (batch, 0, sizeof *batch);
  batch->capacity = capacity;
  batch->trades = block->inline_trades;
  batch->connection_id = -1;
  return batch;
}

static gboolean
is_inline (SpotTradeBatch *batch)
{
  return batch->trades == ((BatchBlock *)batch)->inline_trades;
}

void
spot_trade_batch_free (SpotTradeBatch *batch)
{
  if (batch == NULL)
    return;
  if (!is_inline (batch))
    g_free (batch->trades);
  g_free (batch);
}

SpotTrade *
spot_trade_batch_add (SpotTradeBatch *batch)
{
  g_return_val_if_fail (batch != NULL, NULL);

  if (batch->n_trades == batch->capacity)
    {
      guint capacity = batch->capacity * 2;
      if (is_inline (batch))
        {
          SpotTrade *trades = g_new (SpotTrade, capacity);
          memcpy (trades, batch->trades, batch->n_trades * sizeof (SpotTrade));
          batch->trades = trades;
        }
      else
        {
          batch->trades = g_renew (SpotTrade, batch->trades, capacity);
        }
      batch->capacity = capacity;
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
