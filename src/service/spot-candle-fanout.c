/* spot-candle-fanout.c: the engine's sink: publisher, batch writer, repairs. */
#define G_LOG_DOMAIN "spot-service"

#include "config.h"

#include "service/spot-candle-fanout.h"

#include "model/spot-time.h"

struct _SpotCandleFanout
{
  SpotPublisher *publisher; /* borrowed */
  SpotBatchWriter *writer;  /* borrowed */
  SpotCandleHub *hub;       /* borrowed, may be NULL */
  SpotHistogram *processing_latency; /* borrowed, may be NULL */
  SpotCandleFanoutDirtyFunc dirty_func;
  gpointer dirty_data;
  guint64 live;
  guint64 complete;
  guint64 dirty_ranges;
};

SpotCandleFanout *
spot_candle_fanout_new (SpotPublisher *publisher, SpotBatchWriter *writer)
{
  SpotCandleFanout *fanout = g_new0 (SpotCandleFanout, 1);

  fanout->publisher = publisher;
  fanout->writer = writer;
  return fanout;
}

void
spot_candle_fanout_free (SpotCandleFanout *fanout)
{
  g_free (fanout);
}

void
spot_candle_fanout_set_hub (SpotCandleFanout *fanout, SpotCandleHub *hub)
{
  g_atomic_pointer_set (&fanout->hub, hub);
}

void
spot_candle_fanout_set_processing_latency (SpotCandleFanout *fanout, SpotHistogram *histogram)
{
  g_atomic_pointer_set (&fanout->processing_latency, histogram);
}

void
spot_candle_fanout_set_dirty_func (SpotCandleFanout *fanout,
                                   SpotCandleFanoutDirtyFunc func,
                                   gpointer user_data)
{
  /* Workers read the pair without a lock: a new function is published
   * after its data, a cleared one before (the function copes with NULL). */
  if (func != NULL)
    {
      g_atomic_pointer_set (&fanout->dirty_data, user_data);
      g_atomic_pointer_set (&fanout->dirty_func, func);
    }
  else
    {
      g_atomic_pointer_set (&fanout->dirty_func, NULL);
      g_atomic_pointer_set (&fanout->dirty_data, NULL);
    }
}

static void
hand_on (SpotCandleFanout *fanout, const SpotCandleUpdate *updates, guint n)
{
  if (fanout->publisher != NULL)
    spot_publisher_submit (fanout->publisher, updates, n);
  if (fanout->writer != NULL)
    spot_batch_writer_submit (fanout->writer, updates, n);
  /* Own products reach this instance's SSE clients without the NATS round
   * trip; the hub skips their NATS copies. */
  SpotCandleHub *hub = g_atomic_pointer_get (&fanout->hub);
  if (hub != NULL)
    spot_candle_hub_offer (hub, updates, n);
}

static void
emit_live (gpointer user_data, guint worker, const SpotCandleUpdate *updates, guint n)
{
  SpotCandleFanout *fanout = user_data;

  SpotHistogram *latency = g_atomic_pointer_get (&fanout->processing_latency);

  (void)worker;
  if (latency != NULL && n > 0)
    {
      gint64 now_ns = spot_time_now_ns ();

      for (guint i = 0; i < n; i++)
        if (updates[i].candle.ts_ns != SPOT_CANDLE_TS_UNKNOWN)
          spot_histogram_observe_ns (latency, now_ns - updates[i].candle.ts_ns);
    }
  hand_on (fanout, updates, n);
  __atomic_fetch_add (&fanout->live, n, __ATOMIC_RELAXED);
}

static void
emit_complete (gpointer user_data, guint worker, const SpotCandleUpdate *updates, guint n)
{
  SpotCandleFanout *fanout = user_data;
  guint complete = 0;

  (void)worker;
  hand_on (fanout, updates, n);
  for (guint i = 0; i < n; i++)
    if (updates[i].candle.complete)
      complete++;
  __atomic_fetch_add (&fanout->complete, complete, __ATOMIC_RELAXED);
}

static void
emit_dirty (gpointer user_data, guint worker, const SpotDirtyRange *ranges, guint n)
{
  SpotCandleFanout *fanout = user_data;
  SpotCandleFanoutDirtyFunc func = g_atomic_pointer_get (&fanout->dirty_func);

  (void)worker;
  __atomic_fetch_add (&fanout->dirty_ranges, n, __ATOMIC_RELAXED);
  if (func != NULL)
    func (g_atomic_pointer_get (&fanout->dirty_data), ranges, n);
}

void
spot_candle_fanout_init_sink (SpotCandleFanout *fanout, SpotCandleSink *sink)
{
  sink->emit_live = emit_live;
  sink->emit_complete = emit_complete;
  sink->emit_dirty = emit_dirty;
  sink->user_data = fanout;
}

void
spot_candle_fanout_get_stats (SpotCandleFanout *fanout, SpotCandleFanoutStats *out)
{
  out->live = __atomic_load_n (&fanout->live, __ATOMIC_RELAXED);
  out->complete = __atomic_load_n (&fanout->complete, __ATOMIC_RELAXED);
  out->dirty_ranges = __atomic_load_n (&fanout->dirty_ranges, __ATOMIC_RELAXED);
}
