/* spot-trade-batch.h: the unit of hand-off into the engine.
 *
 * One parsed exchange message's trades (usually of one product, possibly of
 * several), with the message timestamp and when it was received. Queues hold
 * batches, never single trades. spot_sharded_aggregator_submit() takes
 * ownership of a batch whether or not it accepts it.
 *
 * Thread safety: a batch belongs to one thread at a time; hand it over, never
 * share it.
 */
#pragma once

#include <glib.h>

#include "model/spot-trade.h"

G_BEGIN_DECLS

typedef struct
{
  SpotTrade *trades; /* n_trades valid entries, room for capacity */
  guint n_trades;
  guint capacity;
  gint64 message_ns;  /* exchange timestamp of the message that carried them */
  gint64 receive_ns;  /* local time the frame was received (0: unknown) */
  gint connection_id; /* -1 when not from a WebSocket connection */
} SpotTradeBatch;

/* A batch with room for @capacity trades (grows on append). */
SpotTradeBatch *spot_trade_batch_new (guint capacity);
void spot_trade_batch_free (SpotTradeBatch *batch);

/* Appends a copy of @trade and returns the stored trade. */
SpotTrade *spot_trade_batch_append (SpotTradeBatch *batch, const SpotTrade *trade);
/* Appends an uninitialised trade (zeroed) to fill in place; avoids a copy. */
SpotTrade *spot_trade_batch_add (SpotTradeBatch *batch);
void spot_trade_batch_clear (SpotTradeBatch *batch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotTradeBatch, spot_trade_batch_free)

G_END_DECLS
