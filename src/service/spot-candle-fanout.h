/* spot-candle-fanout.h: the engine's sink in the running service.
 *
 * Fans every candle update out to the NATS publisher (subjects and KV), to
 * the batch writer (PostgreSQL) and to the candle hub (this instance's SSE
 * clients, when set), and closed dirty minutes to the repair coordinator.
 * The consumers only queue (they never block a shard worker);
 * complete updates are handed to both unconditionally, so the engine's
 * "never dropped" promise holds up to their own queues (the batch writer
 * journals what the database cannot take).
 *
 * It also counts what passed through (complete candles emitted, live
 * updates), which the shutdown log and the end-to-end tests compare with
 * what reached the database.
 *
 * Thread safety: the sink functions run on shard workers (any number at
 * once); _get_stats from any thread; new/set_dirty_func/free on the owner
 * thread, set_dirty_func before the engine can report dirty minutes, free
 * after the aggregator has stopped.
 */
#pragma once

#include <glib.h>

#include "aggregate/spot-candle-sink.h"
#include "metrics/spot-histogram.h"
#include "nats/spot-candle-hub.h"
#include "nats/spot-publisher.h"
#include "store/spot-batch-writer.h"

G_BEGIN_DECLS

typedef struct _SpotCandleFanout SpotCandleFanout;

typedef void (*SpotCandleFanoutDirtyFunc) (gpointer user_data,
                                           const SpotDirtyRange *ranges,
                                           guint n);

typedef struct
{
  guint64 live;         /* live updates handed on */
  guint64 complete;     /* complete candles (complete=true, any kind) handed on */
  guint64 dirty_ranges; /* dirty ranges reported */
} SpotCandleFanoutStats;

/* @publisher and @writer may each be NULL (that output is skipped); both
 * must outlive the fan-out's use by the engine. */
SpotCandleFanout *spot_candle_fanout_new (SpotPublisher *publisher, SpotBatchWriter *writer);
void spot_candle_fanout_free (SpotCandleFanout *fanout);

/* Also hands every update to @hub (spot_candle_hub_offer), for this
 * instance's SSE clients; NULL stops that. The hub must outlive the engine's
 * workers or be cleared first. Any thread. */
void spot_candle_fanout_set_hub (SpotCandleFanout *fanout, SpotCandleHub *hub);
/* Observes, for every live update, the time from its exchange message
 * timestamp to its emission by the engine (spot_processing_latency_seconds);
 * NULL stops that. Any thread. */
void spot_candle_fanout_set_processing_latency (SpotCandleFanout *fanout, SpotHistogram *histogram);
void spot_candle_fanout_set_dirty_func (SpotCandleFanout *fanout,
                                        SpotCandleFanoutDirtyFunc func,
                                        gpointer user_data);

/* Fills @sink with functions that feed this fan-out. */
void spot_candle_fanout_init_sink (SpotCandleFanout *fanout, SpotCandleSink *sink);

void spot_candle_fanout_get_stats (SpotCandleFanout *fanout, SpotCandleFanoutStats *out);

G_END_DECLS
