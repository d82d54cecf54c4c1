/* spot-publisher.h: publishes candle updates on NATS and keeps the KV bucket.
 *
 * Shard workers call spot_publisher_submit(); it only appends to a bounded
 * SpotCandleCoalescer (latest live update per key; other kinds kept in
 * order) and never waits for NATS. One dedicated thread drains it and:
 *  - publishes every drained update on core NATS, subject
 *    candles.<PRODUCT>.<GRANULARITY>, payload the candle's JSON form;
 *  - keeps, per key, the candle with the greatest start (ties: greater rev)
 *    and writes it to the KV bucket with asynchronous JetStream publishes.
 *    Updates for an older start reach the subject (and the database, through
 *    the engine's other sink) but never the KV.
 *    KV writes are scheduled per key against the staleness bound: a key that
 *    changes after a quiet period is written at once; otherwise its write is
 *    sent when its oldest unwritten change (timed at submit) is one write
 *    budget old, budget = kv_staleness_ms - 15 % of it - the observed
 *    write latency (smoothed, plus four deviations), never below 2/5
 *    of the bound. So each hot key costs one write per budget, as few as the
 *    bound allows, and the write is acknowledged within the bound while
 *    JetStream keeps up. One write per key is in flight at a time and at most
 *    kv_max_inflight in all; keys waiting for a slot keep coalescing. While the
 *    server is unreachable KV writes pause (keys stay dirty and are written
 *    after the reconnect), and a write that fails or is not acknowledged within
 *    kv_ack_wait_ms is retried at once with the key's then newest value.
 *
 * Thread safety: new/start/stop/flush/dispose from one controlling thread
 * (usually the main thread; stop and flush block, boundedly). submit and
 * get_stats from any thread. The latency callback runs on the publisher
 * thread.
 */
#pragma once

#include <glib-object.h>
#include <nats/nats.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

/* Small enough that a write's queue inside the server stays a few ms
 * (Little's law: in flight / acknowledged rate), large enough to keep
 * JetStream busy (docs/nats.md has the measurements). */
#define SPOT_PUBLISHER_KV_MAX_INFLIGHT_DEFAULT 512

/* Grouped acknowledgements: of kv_ack_group writes sent together, only the
 * last asks JetStream for an acknowledgement; the others are plain publishes
 * on the bucket's subjects. A single-replica stream stores the messages of one
 * connection in the order they arrive, so the last write's acknowledgement
 * confirms the whole group, and its failure or timeout retries the whole group.
 * This halves the messages the server handles per KV write. A replicated
 * bucket (found at bind) always gets one acknowledgement per write: during a
 * leader change it can lose a plain publish and still acknowledge a later one. */
#define SPOT_PUBLISHER_KV_ACK_GROUP_DEFAULT 16

typedef struct
{
  const char *kv_bucket;      /* "live-candles" */
  gboolean kv_enabled;        /* TRUE */
  gint64 kv_ttl_ms;           /* bucket TTL when created; 0: none */
  gint kv_replicas;           /* bucket replicas when created; 1 */
  gboolean kv_memory;         /* memory storage when created; FALSE */
  guint kv_staleness_ms;      /* KV_STALENESS_MS, 250 */
  guint kv_write_interval_ms; /* fixed write budget instead of the adaptive one;
                                 0 (default): adaptive, see above */
  guint kv_max_inflight;      /* unacknowledged KV writes,
                                 SPOT_PUBLISHER_KV_MAX_INFLIGHT_DEFAULT */
  guint kv_stall_wait_ms;     /* jsOptions StallWait, 5 */
  guint kv_ack_wait_ms;       /* jsPubOptions MaxWait, 2000 */
  guint kv_ack_group;         /* KV writes sharing one acknowledgement, see
                                 below; SPOT_PUBLISHER_KV_ACK_GROUP_DEFAULT;
                                 1: every write acknowledged */
  guint max_pending_updates;  /* coalescer bound, 65536 */
} SpotPublisherOptions;

void spot_publisher_options_init (SpotPublisherOptions *options);

typedef struct
{
  guint64 submitted;      /* updates offered to submit */
  guint64 coalesced;      /* live updates replaced before publishing */
  guint64 dropped;        /* updates lost: queue full or NATS refused them */
  guint64 published;      /* core NATS publishes */
  guint64 publish_errors; /* core publishes refused (reconnect buffer full, closed) */
  guint64 kv_writes;      /* asynchronous KV publishes sent */
  guint64 kv_acked;
  guint64 kv_errors;          /* failed or timed out; retried */
  guint64 kv_older_skipped;   /* updates not written to the KV: older start */
  guint kv_inflight;          /* sent, not yet acknowledged */
  guint kv_dirty;             /* keys whose newest value is not written yet */
  guint kv_keys;              /* keys known */
  guint queue_pending;        /* updates waiting for the publisher thread */
  gboolean kv_ready;          /* bucket bound */
  gint64 kv_staleness_max_us; /* largest delay from a key's oldest unwritten
                                 change (submitted) to the acknowledgement of
                                 the write carrying it, over the last second */
  gint64 kv_ack_latency_us;   /* smoothed KV write acknowledgement latency */
  gint64 kv_write_budget_us;  /* current per-key write budget */
  guint kv_ack_group;         /* KV writes per acknowledgement for the bound
                                 bucket (1 when replicated); 0 before bind */
} SpotPublisherStats;

/* Called on the publisher thread after each published LIVE update whose
 * candle has an exchange timestamp. */
typedef void (*SpotPublisherLatencyFunc) (const SpotCandle *candle,
                                          gint64 published_ns,
                                          gpointer user_data);

#define SPOT_TYPE_PUBLISHER (spot_publisher_get_type ())
G_DECLARE_FINAL_TYPE (SpotPublisher, spot_publisher, SPOT, PUBLISHER, GObject)

/* @nc must outlive the publisher (stop the publisher before closing the
 * connection). Fails on an invalid bucket name. */
SpotPublisher *
spot_publisher_new (natsConnection *nc, const SpotPublisherOptions *options, GError **error);

/* Before start: send KV writes on @js_nc (spot_nats_connection_get_js_nc())
 * so core messages never queue behind them on the server. Must outlive the
 * publisher too. */
void spot_publisher_set_js_connection (SpotPublisher *self, natsConnection *js_nc);

/* Before start. */
void spot_publisher_set_latency_func (SpotPublisher *self,
                                      SpotPublisherLatencyFunc func,
                                      gpointer user_data);

/* Spawns the publisher thread. */
gboolean spot_publisher_start (SpotPublisher *self, GError **error);

/* Any thread, never blocks on NATS. Updates must have valid product ids and
 * granularities. */
void spot_publisher_submit (SpotPublisher *self, const SpotCandleUpdate *updates, guint n);

/* Waits up to @timeout_ms until everything submitted so far is published,
 * every KV key written and acknowledged, and the connection flushed. For
 * tests, benchmarks and orderly shutdown. */
gboolean spot_publisher_flush (SpotPublisher *self, guint timeout_ms);

/* Publishes what is queued, writes dirty KV keys and waits for their acks
 * (all bounded by @deadline_ms), then joins the thread. Idempotent; also
 * done on dispose with a 2 s deadline. */
void spot_publisher_stop (SpotPublisher *self, guint deadline_ms);

void spot_publisher_get_stats (SpotPublisher *self, SpotPublisherStats *out);

G_END_DECLS
