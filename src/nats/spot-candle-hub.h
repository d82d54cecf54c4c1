/* spot-candle-hub.h: in-process fan-out of NATS candle messages to clients.
 *
 * The hub makes one subscription, candles.> (never one per key: nats.c runs
 * a thread per asynchronous subscription). Its message callback parses the
 * candle and hands it to a SpotCandleCoalescer; the owner main context is
 * woken once per batch and delivers each client the candles it selected, in
 * one call per batch. While the main loop is busy, live updates of a key are
 * coalesced (latest wins); complete candles are kept in order.
 *
 * Messages for keys no client selected are dropped on the subscription
 * thread by subject, before their JSON is read.
 *
 * A client selects products (or all) and a set of granularities. Its callback
 * gets an array of candles valid for the duration of the call, in arrival
 * order per key. A callback may subscribe or unsubscribe anything, itself
 * included.
 *
 * Thread safety: new, attach, detach, subscribe, set_filter, unsubscribe,
 * dispose and the callbacks: the owner context's thread (the thread-default
 * context at construction, normally the main loop). push, offer and get_stats: any
 * thread.
 */
#pragma once

#include <glib-object.h>
#include <nats/nats.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

typedef void (*SpotCandleHubFunc) (const SpotCandle *candles, guint n, gpointer user_data);

typedef struct
{
  guint64 received;     /* messages taken from NATS or push */
  guint64 parse_errors; /* NATS messages that were not a candle */
  guint64 filtered;     /* NATS messages or offered updates no client wanted */
  guint64 local_skipped; /* NATS messages for products fed in process (offer) */
  guint64 coalesced;    /* live updates replaced while the loop was busy */
  guint64 dropped;      /* lost to a full queue */
  guint64 batches;      /* main-context wake-ups */
  guint64 delivered;    /* candles handed to clients (sum over clients) */
  guint clients;
  gboolean attached;
  gboolean local_only; /* set_local_shard (.., 1): every product is fed in process */
} SpotCandleHubStats;

#define SPOT_TYPE_CANDLE_HUB (spot_candle_hub_get_type ())
G_DECLARE_FINAL_TYPE (SpotCandleHub, spot_candle_hub, SPOT, CANDLE_HUB, GObject)

/* @max_pending bounds the queue between NATS and the main context (0: the
 * coalescer default). */
SpotCandleHub *spot_candle_hub_new (guint max_pending);

/* Subscribes to candles.> on @nc (which must outlive the attachment). */
gboolean spot_candle_hub_attach (SpotCandleHub *self, natsConnection *nc, GError **error);
/* Unsubscribes and waits (bounded) until the message callback can no longer
 * run. Also done on dispose. */
void spot_candle_hub_detach (SpotCandleHub *self);

/* Adds a client; @product_ids NULL selects every product. Returns an id > 0. */
guint spot_candle_hub_subscribe (SpotCandleHub *self,
                                 const char *const *product_ids,
                                 SpotGranularitySet granularities,
                                 SpotCandleHubFunc func,
                                 gpointer user_data,
                                 GDestroyNotify destroy);
/* Changes a client's selection. FALSE for an unknown id. */
gboolean spot_candle_hub_set_filter (SpotCandleHub *self,
                                     guint id,
                                     const char *const *product_ids,
                                     SpotGranularitySet granularities);
/* Removes a client; its destroy notify runs (now or after the current
 * delivery). Unknown ids are ignored. */
void spot_candle_hub_unsubscribe (SpotCandleHub *self, guint id);

/* In-process source, any thread: the engine's updates for the products this
 * instance publishes reach its own clients without the NATS round trip. Keys
 * no client selected are dropped; kinds are taken from candle.complete. */
void spot_candle_hub_offer (SpotCandleHub *self, const SpotCandleUpdate *updates, guint n);
/* Products whose updates come through offer(): FNV-1a-32(product) %
 * @shard_count == @shard_index (DESIGN.md section 1). Their copies from NATS
 * are skipped, so each key has one source and keeps its order. Owner thread,
 * before attach; @shard_count 0 turns it off. */
void spot_candle_hub_set_local_shard (SpotCandleHub *self, guint shard_index, guint shard_count);

/* Feeds candles as if they came from NATS (what the subscription callback
 * calls; also for tests and for in-process sources). */
void spot_candle_hub_push (SpotCandleHub *self, const SpotCandle *candles, guint n);

void spot_candle_hub_get_stats (SpotCandleHub *self, SpotCandleHubStats *out);

G_END_DECLS
