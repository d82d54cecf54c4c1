/* spot-coinbase-connection.c: one WebSocket, its bounded inbox and parse lane. */
#define G_LOG_DOMAIN "spot-coinbase"

#include "coinbase/spot-coinbase-connection.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "coinbase/spot-coinbase-message.h"
#include "coinbase/spot-coinbase-metrics.h"
#include "core/spot-error.h"
#include "core/spot-log.h"
#include "model/spot-time.h"

#define NS_PER_S SPOT_NS_PER_SECOND
/* Frames of this size or more are counted and logged (then parsed). */
#define LARGE_FRAME_BYTES (1024 * 1024)
/* How far back a dropped or unreadable frame may have carried trades. */
#define LOST_FRAME_SPAN_NS (5 * NS_PER_S)

typedef enum
{
  ITEM_FRAME,
  ITEM_GENERATION, /* a new WebSocket: sequence restarts, products resubscribe */
  ITEM_EXPECT,     /* products added: dirty until their subscription is confirmed */
  ITEM_REMOVE,     /* products removed */
  ITEM_BATCH,      /* trades parsed on the main loop, for the lane to submit */
} ItemKind;

typedef struct
{
  ItemKind kind;
  GBytes *frame;
  gint64 receive_ns;
  char **products;
  gint64 gap_start_ns;
  SpotDirtyReason reason;
  SpotTradeBatch *batch; /* ITEM_BATCH */
} Item;

typedef struct
{
  gint64 gap_start_ns;
  SpotDirtyReason reason;
} PendingGap;

typedef struct
{
  SpotCoinbaseConnection *conn;
  guint generation;
  char *channel;
  char **products;
  gboolean subscribe;
} PendingSend;

typedef struct
{
  _Atomic guint64 frames, bytes, trades, exchange_candles, heartbeats, parse_errors, rejected_items,
      unknown, exchange_errors, inbox_drops, sequence_gaps, stalls, reconnects, opens, confirmed,
      batches_rejected, inline_frames;
  _Atomic guint64 lane_wait[SPOT_COINBASE_LATENCY_BINS];
  _Atomic guint64 lane_handoff[SPOT_COINBASE_LATENCY_BINS];
} Counters;

struct _SpotCoinbaseConnection
{
  SpotCoinbaseShared *shared;
  guint id;
  SpotCoinbaseConnectionState state;
  GPtrArray *products; /* char*, main thread */
  SoupWebsocketConnection *ws;
  GCancellable *cancellable;
  guint connect_source;
  guint stall_source;
  gint64 stall_check_us; /* when the stall timer last ran */
  guint attempt;
  gint64 opened_us;
  gint64 last_frame_us;
  _Atomic gint64 last_message_ns; /* written by the lane */
  gint64 lost_ns;
  gboolean ever_opened;
  gboolean subscribed; /* a subscribe went out on this WebSocket */
  guint generation;
  GList *pending_sends;
  gpointer monitored;

  GMutex lock;
  GCond cond;
  GQueue inbox;       /* Item* */
  guint inbox_frames; /* ITEM_FRAME entries in inbox */
  gsize inbox_bytes;  /* their payload */
  guint64 peak_frames, peak_bytes;
  gboolean lane_waiting;
  gboolean lane_busy; /* the lane holds frames taken from the inbox */
  gboolean stopping;
  GThread *lane;

  /* Parsing on the main loop (options.inline_frame_bytes). */
  SpotCoinbaseParser *main_parser;
  SpotCoinbaseMessage main_msg;

  /* Lane state: used by the lane thread, or by the main thread while the
   * inbox is empty and the lane idle (lane_busy FALSE under the lock; only
   * the main thread adds to the inbox, so the lane stays idle meanwhile). */
  GHashTable *lane_products; /* char* set */
  GHashTable *lane_pending;  /* char* -> PendingGap* */
  gint64 lane_last_seq;
  gint64 lane_last_ts_ns;

  Counters c;
};

static void
item_free (Item *item)
{
  if (item->frame != NULL)
    g_bytes_unref (item->frame);
  if (item->batch != NULL)
    spot_trade_batch_free (item->batch);
  g_strfreev (item->products);
  g_free (item);
}

static SpotCandleClock *
clock_of (SpotCoinbaseConnection *conn)
{
  return spot_sharded_aggregator_get_clock (conn->shared->aggregator);
}

static gint64
exchange_now_ns (SpotCoinbaseConnection *conn)
{
  return spot_candle_clock_now_ns (clock_of (conn));
}

static gint64
minute_of (gint64 ns)
{
  gint64 s = ns / NS_PER_S;
  return s - (s % 60 + 60) % 60;
}

/* ---- latency histogram --------------------------------------------------- */

static guint
latency_bin (gint64 ns)
{
  if (ns < 1000)
    return 0;
  /* Bin k >= 1 holds [2^((k-1)/4), 2^(k/4)) us. */
  guint k = (guint)(4.0 * log2 ((double)ns / 1000.0)) + 1;
  return MIN (k, SPOT_COINBASE_LATENCY_BINS - 1);
}

gint64
spot_coinbase_latency_percentile_ns (const guint64 *bins, double q)
{
  guint64 total = 0;
  for (guint k = 0; k < SPOT_COINBASE_LATENCY_BINS; k++)
    total += bins[k];
  if (total == 0)
    return 0;
  guint64 want = (guint64)ceil (q * (double)total), seen = 0;
  for (guint k = 0; k < SPOT_COINBASE_LATENCY_BINS; k++)
    {
      seen += bins[k];
      if (seen >= MAX (want, 1))
        return (gint64)(1000.0 * exp2 (k / 4.0));
    }
  return (gint64)(1000.0 * exp2 ((SPOT_COINBASE_LATENCY_BINS - 1) / 4.0));
}

/* ---- inbox ------------------------------------------------------------ */

static void
inbox_push (SpotCoinbaseConnection *conn, Item *item)
{
  g_mutex_lock (&conn->lock);
  g_queue_push_tail (&conn->inbox, item);
  if (item->kind == ITEM_FRAME)
    conn->inbox_frames++;
  if (conn->lane_waiting)
    g_cond_signal (&conn->cond);
  g_mutex_unlock (&conn->lock);
}

guint
spot_coinbase_connection_get_inbox_length (SpotCoinbaseConnection *conn)
{
  g_mutex_lock (&conn->lock);
  guint n = conn->inbox_frames;
  g_mutex_unlock (&conn->lock);
  return n;
}

static guint
inbox_length_cb (gpointer data)
{
  return spot_coinbase_connection_get_inbox_length (data);
}

/* ---- parse lane --------------------------------------------------------- */

static void
lane_mark (SpotCoinbaseConnection *conn,
           const char *product,
           gint64 from_ns,
           gint64 to_ns,
           SpotDirtyReason reason)
{
  if (from_ns <= 0)
    from_ns = to_ns;
  if (from_ns > to_ns)
    {
      gint64 t = from_ns;
      from_ns = to_ns;
      to_ns = t;
    }
  spot_sharded_aggregator_mark_dirty (conn->shared->aggregator, product, minute_of (from_ns),
                                      minute_of (to_ns), reason);
}

static void
lane_mark_all (SpotCoinbaseConnection *conn, gint64 from_ns, gint64 to_ns, SpotDirtyReason reason)
{
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, conn->lane_products);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    lane_mark (conn, key, from_ns, to_ns, reason);
}

static void
lane_expect (SpotCoinbaseConnection *conn,
             char **products,
             gint64 gap_start_ns,
             SpotDirtyReason reason)
{
  for (guint i = 0; products != NULL && products[i] != NULL; i++)
    {
      g_hash_table_add (conn->lane_products, g_strdup (products[i]));
      if (gap_start_ns <= 0)
        continue;
      PendingGap *gap = g_hash_table_lookup (conn->lane_pending, products[i]);
      if (gap != NULL)
        {
          /* Still waiting from an earlier gap: keep its start. */
          gap->gap_start_ns = MIN (gap->gap_start_ns, gap_start_ns);
          continue;
        }
      gap = g_new (PendingGap, 1);
      gap->gap_start_ns = gap_start_ns;
      gap->reason = reason;
      g_hash_table_insert (conn->lane_pending, g_strdup (products[i]), gap);
    }
}

static void
lane_confirm (SpotCoinbaseConnection *conn, const SpotCoinbaseMessage *msg)
{
  gint64 now = msg->timestamp_ns != 0 ? msg->timestamp_ns : exchange_now_ns (conn);
  for (guint i = 0; i < msg->subscriptions->len; i++)
    {
      const SpotCoinbaseSubscription *s
          = &g_array_index (msg->subscriptions, SpotCoinbaseSubscription, i);
      if (strcmp (s->channel, "market_trades") != 0 || s->product_id[0] == '\0')
        continue;
      PendingGap *gap = g_hash_table_lookup (conn->lane_pending, s->product_id);
      if (gap == NULL)
        continue;
      /* Trades between the gap's start and now may be missing: the minutes
       * are repaired from REST once closed. */
      lane_mark (conn, s->product_id, gap->gap_start_ns, now, gap->reason);
      g_hash_table_remove (conn->lane_pending, s->product_id);
      atomic_fetch_add (&conn->c.confirmed, 1);
    }
}

/* Whether every engine worker this batch goes to has room for it now. */
static gboolean
engine_has_room (SpotCoinbaseConnection *conn, const SpotTradeBatch *batch)
{
  SpotShardedAggregator *agg = conn->shared->aggregator;
  const char *prev = NULL;
  for (guint i = 0; i < batch->n_trades; i++)
    {
      const char *id = batch->trades[i].product_id;
      if (prev != NULL && strcmp (prev, id) == 0)
        continue;
      prev = id;
      guint length = 0, capacity = 0;
      spot_sharded_aggregator_get_queue (
          agg, spot_sharded_aggregator_worker_for_product (agg, id), &length, &capacity);
      if (length >= capacity)
        return FALSE;
    }
  return TRUE;
}

static void
submit_batch (SpotCoinbaseConnection *conn, SpotTradeBatch *batch, gint64 receive_ns)
{
  if (!spot_sharded_aggregator_submit (conn->shared->aggregator, batch))
    atomic_fetch_add (&conn->c.batches_rejected, 1);
  atomic_fetch_add (&conn->c.lane_handoff[latency_bin (spot_time_now_ns () - receive_ns)], 1);
}

/* On the lane: a full engine queue (a burst after the main loop was held
 * up) is waited for, up to a second, rather than dropping the batch; the
 * inbox buffers meanwhile. */
static void
lane_submit (SpotCoinbaseConnection *conn, SpotTradeBatch *batch, gint64 receive_ns)
{
  for (guint waited_ms = 0; waited_ms < 1000 && !engine_has_room (conn, batch); waited_ms++)
    {
      g_mutex_lock (&conn->lock);
      gboolean stopping = conn->stopping;
      g_mutex_unlock (&conn->lock);
      if (stopping)
        break;
      g_usleep (1000);
    }
  submit_batch (conn, batch, receive_ns);
}

static void
lane_frame (SpotCoinbaseConnection *conn,
            SpotCoinbaseParser *parser,
            SpotCoinbaseMessage *msg,
            Item *item,
            gboolean on_lane)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (item->frame, &len);
  g_autoptr (GError) error = NULL;
  if (len >= LARGE_FRAME_BYTES)
    spot_log_limited (10000, 3, G_LOG_LEVEL_INFO, NULL, (gint)conn->id, -1,
                      "large frame of %" G_GSIZE_FORMAT " bytes", len);
  if (!spot_coinbase_parser_parse (parser, data, len, item->receive_ns, (gint)conn->id, msg,
                                   &error))
    {
      atomic_fetch_add (&conn->c.parse_errors, 1);
      spot_log_limited (10000, 5, G_LOG_LEVEL_WARNING, NULL, (gint)conn->id, -1,
                        "bad message ignored: %s", error->message);
      /* It may have carried trades of any product of this connection. */
      gint64 now = exchange_now_ns (conn);
      lane_mark_all (conn, now - LOST_FRAME_SPAN_NS, now, SPOT_DIRTY_REASON_SEQUENCE_GAP);
      return;
    }

  if (msg->sequence_num >= 0)
    {
      if (conn->lane_last_seq >= 0 && msg->sequence_num > conn->lane_last_seq + 1)
        {
          atomic_fetch_add (&conn->c.sequence_gaps, 1);
          spot_coinbase_metrics_sequence_gap (conn->shared->metrics);
          spot_log_limited (10000, 5, G_LOG_LEVEL_INFO, NULL, (gint)conn->id, -1,
                            "sequence gap: %" G_GINT64_FORMAT " after %" G_GINT64_FORMAT
                            ", minutes marked dirty",
                            msg->sequence_num, conn->lane_last_seq);
          gint64 from = conn->lane_last_ts_ns != 0 ? conn->lane_last_ts_ns
                                                   : msg->timestamp_ns - LOST_FRAME_SPAN_NS;
          lane_mark_all (conn, from,
                         msg->timestamp_ns != 0 ? msg->timestamp_ns : exchange_now_ns (conn),
                         SPOT_DIRTY_REASON_SEQUENCE_GAP);
        }
      if (msg->sequence_num > conn->lane_last_seq)
        conn->lane_last_seq = msg->sequence_num;
    }
  if (msg->timestamp_ns != 0)
    {
      conn->lane_last_ts_ns = msg->timestamp_ns;
      atomic_store (&conn->last_message_ns, msg->timestamp_ns);
    }

  if (msg->n_rejected > 0)
    {
      atomic_fetch_add (&conn->c.rejected_items, msg->n_rejected);
      spot_log_limited (10000, 5, G_LOG_LEVEL_WARNING, NULL, (gint)conn->id, -1,
                        "%u bad items ignored in a %s message: %s", msg->n_rejected,
                        spot_coinbase_message_kind_to_string (msg->kind),
                        msg->first_reject_reason != NULL ? msg->first_reject_reason : "");
      guint located = msg->rejected != NULL ? msg->rejected->len : 0;
      for (guint i = 0; i < located; i++)
        {
          SpotCoinbaseRejected *r = &g_array_index (msg->rejected, SpotCoinbaseRejected, i);
          lane_mark (conn, r->product_id, r->time_ns, r->time_ns, SPOT_DIRTY_REASON_SEQUENCE_GAP);
        }
      if (located < msg->n_rejected && msg->kind == SPOT_COINBASE_MESSAGE_MARKET_TRADES)
        {
          gint64 ts = msg->timestamp_ns;
          lane_mark_all (conn, ts - LOST_FRAME_SPAN_NS, ts, SPOT_DIRTY_REASON_SEQUENCE_GAP);
        }
    }

  SpotShardedAggregator *agg = conn->shared->aggregator;
  switch (msg->kind)
    {
    case SPOT_COINBASE_MESSAGE_MARKET_TRADES:
      {
        SpotTradeBatch *batch = g_steal_pointer (&msg->trades);
        guint n = batch->n_trades;
        atomic_fetch_add (&conn->c.trades, n);
        spot_coinbase_metrics_trades_received (conn->shared->metrics, n);
        if (n == 0)
          {
            spot_candle_clock_observe (clock_of (conn), conn->id % 64, item->receive_ns,
                                       msg->timestamp_ns);
            spot_trade_batch_free (batch);
          }
        else if (on_lane)
          lane_submit (conn, batch, item->receive_ns);
        else if (engine_has_room (conn, batch))
          submit_batch (conn, batch, item->receive_ns);
        else
          {
            /* The main loop never waits: the lane submits it, and the
             * frames after it queue behind it. */
            Item *later = g_new0 (Item, 1);
            later->kind = ITEM_BATCH;
            later->batch = batch;
            later->receive_ns = item->receive_ns;
            inbox_push (conn, later);
          }
        break;
      }
    case SPOT_COINBASE_MESSAGE_CANDLES:
      atomic_fetch_add (&conn->c.exchange_candles, msg->candles->len);
      spot_coinbase_metrics_exchange_candles (conn->shared->metrics, msg->candles->len);
      if (msg->candles->len > 0)
        spot_sharded_aggregator_submit_exchange_candles (
            agg, (const SpotCandle *)msg->candles->data, msg->candles->len);
      spot_candle_clock_observe (clock_of (conn), conn->id % 64, item->receive_ns,
                                 msg->timestamp_ns);
      break;
    case SPOT_COINBASE_MESSAGE_HEARTBEATS:
      atomic_fetch_add (&conn->c.heartbeats, 1);
      spot_candle_clock_observe (clock_of (conn), conn->id % 64, item->receive_ns,
                                 msg->timestamp_ns);
      break;
    case SPOT_COINBASE_MESSAGE_SUBSCRIPTIONS:
      lane_confirm (conn, msg);
      break;
    case SPOT_COINBASE_MESSAGE_ERROR:
      atomic_fetch_add (&conn->c.exchange_errors, 1);
      spot_log_limited (10000, 5, G_LOG_LEVEL_WARNING, NULL, (gint)conn->id, -1,
                        "exchange error: %s", msg->error_message);
      break;
    case SPOT_COINBASE_MESSAGE_UNKNOWN:
    default:
      atomic_fetch_add (&conn->c.unknown, 1);
      spot_log_limited (60000, 3, G_LOG_LEVEL_DEBUG, NULL, (gint)conn->id, -1,
                        "unknown message ignored");
      break;
    }
}

static gpointer
lane_main (gpointer data)
{
  SpotCoinbaseConnection *conn = data;
  g_autoptr (SpotCoinbaseParser) parser = spot_coinbase_parser_new ();
  g_auto (SpotCoinbaseMessage) msg;
  spot_coinbase_message_init (&msg);
  GQueue batch = G_QUEUE_INIT;

  for (;;)
    {
      g_mutex_lock (&conn->lock);
      conn->lane_busy = FALSE;
      while (g_queue_is_empty (&conn->inbox) && !conn->stopping)
        {
          conn->lane_waiting = TRUE;
          g_cond_wait (&conn->cond, &conn->lock);
          conn->lane_waiting = FALSE;
        }
      if (g_queue_is_empty (&conn->inbox) && conn->stopping)
        {
          g_mutex_unlock (&conn->lock);
          break;
        }
      /* Take everything queued: one wake-up drains many frames. */
      batch = conn->inbox;
      g_queue_init (&conn->inbox);
      conn->inbox_frames = 0;
      conn->inbox_bytes = 0;
      conn->lane_busy = TRUE;
      g_mutex_unlock (&conn->lock);
      gint64 taken_ns = spot_time_now_ns ();

      Item *item;
      while ((item = g_queue_pop_head (&batch)) != NULL)
        {
          switch (item->kind)
            {
            case ITEM_FRAME:
              atomic_fetch_add (&conn->c.lane_wait[latency_bin (taken_ns - item->receive_ns)], 1);
              atomic_fetch_add (&conn->c.frames, 1);
              atomic_fetch_add (&conn->c.bytes, g_bytes_get_size (item->frame));
              lane_frame (conn, parser, &msg, item, TRUE);
              spot_coinbase_message_clear (&msg);
              break;
            case ITEM_GENERATION:
              conn->lane_last_seq = -1;
              lane_expect (conn, item->products, item->gap_start_ns, item->reason);
              break;
            case ITEM_EXPECT:
              lane_expect (conn, item->products, item->gap_start_ns, item->reason);
              break;
            case ITEM_BATCH:
              lane_submit (conn, g_steal_pointer (&item->batch), item->receive_ns);
              break;
            case ITEM_REMOVE:
              for (guint i = 0; item->products != NULL && item->products[i] != NULL; i++)
                {
                  g_hash_table_remove (conn->lane_products, item->products[i]);
                  g_hash_table_remove (conn->lane_pending, item->products[i]);
                }
              break;
            }
          item_free (item);
        }
    }
  return NULL;
}

/* ---- WebSocket ---------------------------------------------------------- */

static void schedule_connect (SpotCoinbaseConnection *conn, gint64 delay_us);

static char *
subscribe_json (SpotCoinbaseConnection *conn, const PendingSend *p, GError **error)
{
  GString *s = g_string_new ("{\"type\":\"");
  g_string_append (s, p->subscribe ? "subscribe" : "unsubscribe");
  g_string_append (s, "\"");
  if (p->products != NULL && p->products[0] != NULL)
    {
      /* Validated ids hold only letters, digits and dashes. */
      g_string_append (s, ",\"product_ids\":[");
      for (guint i = 0; p->products[i] != NULL; i++)
        g_string_append_printf (s, "%s\"%s\"", i > 0 ? "," : "", p->products[i]);
      g_string_append_c (s, ']');
    }
  g_string_append_printf (s, ",\"channel\":\"%s\"", p->channel);
  if (conn->shared->key != NULL)
    {
      char *jwt
          = spot_coinbase_key_sign (conn->shared->key, exchange_now_ns (conn) / NS_PER_S, error);
      if (jwt == NULL)
        {
          g_string_free (s, TRUE);
          return NULL;
        }
      g_string_append_printf (s, ",\"jwt\":\"%s\"", jwt);
      g_free (jwt);
    }
  g_string_append_c (s, '}');
  return g_string_free (s, FALSE);
}

static void
pending_send_free (PendingSend *p)
{
  g_free (p->channel);
  g_strfreev (p->products);
  g_free (p);
}

static void
send_cb (gpointer data)
{
  PendingSend *p = data;
  SpotCoinbaseConnection *conn = p->conn;
  /* The gate's slot: what the subscribe rate limits (tests record it). */
  gint64 slot_us = g_get_monotonic_time ();
  conn->pending_sends = g_list_remove (conn->pending_sends, p);
  if (conn->ws != NULL && p->generation == conn->generation
      && soup_websocket_connection_get_state (conn->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *json = subscribe_json (conn, p, &error);
      if (json == NULL)
        spot_log (G_LOG_LEVEL_WARNING, G_LOG_DOMAIN, NULL, (gint)conn->id, -1,
                  "cannot sign the subscribe: %s", error->message);
      else
        {
          soup_websocket_connection_send_text (conn->ws, json);
          if (!conn->subscribed)
            {
              /* Silence is only a stall once the exchange was asked for data. */
              conn->subscribed = TRUE;
              conn->last_frame_us = g_get_monotonic_time ();
            }
          if (conn->shared->subscribe_times_us != NULL)
            g_array_append_val (conn->shared->subscribe_times_us, slot_us);
          g_debug ("connection %u: %s %s (%u products)", conn->id,
                   p->subscribe ? "subscribe" : "unsubscribe", p->channel,
                   p->products != NULL ? g_strv_length (p->products) : 0);
        }
    }
  pending_send_free (p);
}

/* Queues one (un)subscribe message behind the global subscribe pacer. */
static void
queue_send (SpotCoinbaseConnection *conn, const char *channel, char **products, gboolean subscribe)
{
  PendingSend *p = g_new0 (PendingSend, 1);
  p->conn = conn;
  p->generation = conn->generation;
  p->channel = g_strdup (channel);
  p->products = g_strdupv (products);
  p->subscribe = subscribe;
  conn->pending_sends = g_list_append (conn->pending_sends, p);
  spot_coinbase_gate_push (&conn->shared->subscribe_gate, send_cb, p);
}

static void
cancel_sends (SpotCoinbaseConnection *conn)
{
  for (GList *l = conn->pending_sends; l != NULL; l = l->next)
    spot_coinbase_gate_remove (&conn->shared->subscribe_gate, l->data);
  g_list_free_full (g_steal_pointer (&conn->pending_sends), (GDestroyNotify)pending_send_free);
}

static char **
products_strv (GPtrArray *products)
{
  char **v = g_new0 (char *, products->len + 1);
  for (guint i = 0; i < products->len; i++)
    v[i] = g_strdup (g_ptr_array_index (products, i));
  return v;
}

static void
subscribe_products (SpotCoinbaseConnection *conn, char **products, gboolean subscribe)
{
  queue_send (conn, "market_trades", products, subscribe);
  if (conn->shared->options.subscribe_candles)
    queue_send (conn, "candles", products, subscribe);
}

static void
message_cb (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
  SpotCoinbaseConnection *conn = data;
  (void)ws;
  (void)type;
  conn->last_frame_us = g_get_monotonic_time ();
  gint64 receive_ns = spot_time_now_ns ();
  gsize len = g_bytes_get_size (message);
  g_mutex_lock (&conn->lock);
  /* Frames up to options.inline_frame_bytes (16 KiB) are parsed here when
   * the lane is idle (a few microseconds with the lean parser; about 0.1 ms
   * at most through json-glib): waking the lane thread costs more than the
   * parse, and on a loaded machine a woken thread may wait long for a core. */
  if (len > 0 && len <= conn->shared->options.inline_frame_bytes && g_queue_is_empty (&conn->inbox)
      && !conn->lane_busy && !conn->stopping)
    {
      /* Nothing ahead of this frame: parse and hand it over here. */
      g_mutex_unlock (&conn->lock);
      Item item = { .kind = ITEM_FRAME, .frame = message, .receive_ns = receive_ns };
      atomic_fetch_add (&conn->c.inline_frames, 1);
      atomic_fetch_add (&conn->c.lane_wait[latency_bin (spot_time_now_ns () - receive_ns)], 1);
      atomic_fetch_add (&conn->c.frames, 1);
      atomic_fetch_add (&conn->c.bytes, len);
      lane_frame (conn, conn->main_parser, &conn->main_msg, &item, FALSE);
      spot_coinbase_message_clear (&conn->main_msg);
      return;
    }
  /* Beyond INBOX_SIZE messages, small ones still fit within the byte
   * budget: after the main loop was held up (a busy cold start), the
   * frames waiting in the socket arrive at once, faster than the lane can
   * take them; they are not a lane that fell behind. */
  if (conn->inbox_frames >= conn->shared->options.inbox_size
      && conn->inbox_bytes + len > conn->shared->options.inbox_bytes)
    {
      g_mutex_unlock (&conn->lock);
      atomic_fetch_add (&conn->c.inbox_drops, 1);
      if (conn->monitored != NULL)
        spot_coinbase_metrics_queue_drop (conn->monitored, 1);
      else
        spot_coinbase_metrics_inbox_drop (conn->shared->metrics, 1);
      spot_log_limited (10000, 5, G_LOG_LEVEL_WARNING, NULL, (gint)conn->id, -1,
                        "inbox full (%u messages): message dropped, minutes marked dirty",
                        conn->shared->options.inbox_size);
      gint64 now = exchange_now_ns (conn);
      for (guint i = 0; i < conn->products->len; i++)
        spot_sharded_aggregator_mark_dirty (
            conn->shared->aggregator, g_ptr_array_index (conn->products, i),
            minute_of (now - LOST_FRAME_SPAN_NS), minute_of (now), SPOT_DIRTY_REASON_QUEUE_FULL);
      return;
    }
  Item *item = g_new0 (Item, 1);
  item->kind = ITEM_FRAME;
  item->frame = g_bytes_ref (message);
  item->receive_ns = receive_ns;
  g_queue_push_tail (&conn->inbox, item);
  conn->inbox_frames++;
  conn->inbox_bytes += len;
  conn->peak_frames = MAX (conn->peak_frames, conn->inbox_frames);
  conn->peak_bytes = MAX (conn->peak_bytes, conn->inbox_bytes);
  if (conn->lane_waiting)
    g_cond_signal (&conn->cond);
  g_mutex_unlock (&conn->lock);
}

static void connection_lost (SpotCoinbaseConnection *conn, const char *why);

static void
closed_cb (SoupWebsocketConnection *ws, gpointer data)
{
  SpotCoinbaseConnection *conn = data;
  g_autofree char *why = g_strdup_printf ("closed by the peer (code %u)",
                                          soup_websocket_connection_get_close_code (ws));
  connection_lost (conn, why);
}

static void
error_cb (SoupWebsocketConnection *ws, GError *error, gpointer data)
{
  SpotCoinbaseConnection *conn = data;
  (void)ws;
  spot_log_limited (10000, 5, G_LOG_LEVEL_INFO, NULL, (gint)conn->id, -1, "WebSocket error: %s",
                    error->message);
}

/* A WebSocket being closed outlives its connection until the close
 * handshake ends (or a deadline passes), so the close frame goes out. */
typedef struct
{
  SoupWebsocketConnection *ws;
  guint deadline;
} Closing;

/* Handshakes in progress in the process; independent of any manager so a
 * manager may be freed while they finish. */
static gint closing_total;

guint
spot_coinbase_connection_get_closing (void)
{
  return (guint)MAX (0, g_atomic_int_get (&closing_total));
}

static void
closing_done (Closing *c)
{
  g_signal_handlers_disconnect_by_data (c->ws, c);
  g_clear_handle_id (&c->deadline, g_source_remove);
  g_object_unref (c->ws);
  g_atomic_int_add (&closing_total, -1);
  g_free (c);
}

static void
closing_closed_cb (SoupWebsocketConnection *ws, gpointer data)
{
  closing_done (data);
}

static gboolean
closing_deadline_cb (gpointer data)
{
  Closing *c = data;
  c->deadline = 0;
  closing_done (c);
  return G_SOURCE_REMOVE;
}

static void
drop_ws (SpotCoinbaseConnection *conn, gushort code, const char *reason)
{
  if (conn->ws == NULL)
    return;
  g_signal_handlers_disconnect_by_data (conn->ws, conn);
  SoupWebsocketConnection *ws = g_steal_pointer (&conn->ws);
  if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
    {
      Closing *c = g_new0 (Closing, 1);
      c->ws = ws;
      g_atomic_int_inc (&closing_total);
      g_signal_connect (ws, "closed", G_CALLBACK (closing_closed_cb), c);
      c->deadline = g_timeout_add (2000, closing_deadline_cb, c);
      soup_websocket_connection_close (ws, code, reason);
    }
  else
    g_object_unref (ws);
  spot_coinbase_metrics_connections (conn->shared->metrics, -1);
}

static void
connection_lost (SpotCoinbaseConnection *conn, const char *why)
{
  gboolean was_open = conn->ws != NULL;
  drop_ws (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_clear_handle_id (&conn->stall_source, g_source_remove);
  cancel_sends (conn);
  if (conn->state == SPOT_COINBASE_CONNECTION_CLOSED)
    return;
  gint64 now_us = g_get_monotonic_time ();
  if (was_open)
    {
      gint64 last = atomic_load (&conn->last_message_ns);
      gint64 t = last != 0 ? last : exchange_now_ns (conn);
      conn->lost_ns = conn->lost_ns != 0 ? MIN (conn->lost_ns, t) : t;
      if (now_us - conn->opened_us >= conn->shared->options.stable_after_ms * 1000)
        conn->attempt = 0;
    }
  gint64 delay
      = spot_coinbase_backoff_us (conn->attempt, conn->shared->options.backoff_base_ms * 1000,
                                  conn->shared->options.backoff_cap_ms * 1000, g_random_double ());
  conn->attempt++;
  atomic_fetch_add (&conn->c.reconnects, 1);
  spot_coinbase_metrics_reconnect (conn->shared->metrics);
  spot_log (G_LOG_LEVEL_MESSAGE, G_LOG_DOMAIN, NULL, (gint)conn->id, -1,
            "connection lost (%s): reconnecting in %.1f s", why, delay / 1e6);
  conn->state = SPOT_COINBASE_CONNECTION_WAITING;
  schedule_connect (conn, delay);
}

static guint
stall_check_interval_ms (SpotCoinbaseConnection *conn)
{
  return MIN (1000u, MAX (50u, conn->shared->options.stall_timeout_ms / 4));
}

static gboolean
stall_cb (gpointer data)
{
  SpotCoinbaseConnection *conn = data;
  gint64 now_us = g_get_monotonic_time ();
  gint64 late_us = now_us - conn->stall_check_us;
  conn->stall_check_us = now_us;
  /* A check that runs much later than due means the main loop itself was
   * held up: the frames are waiting in the socket, not missing. Look again
   * once they had a chance to be read. */
  if (late_us > 2 * stall_check_interval_ms (conn) * 1000 + 500000)
    return G_SOURCE_CONTINUE;
  gint64 silent_us = now_us - conn->last_frame_us;
  if (!conn->subscribed || silent_us < (gint64)conn->shared->options.stall_timeout_ms * 1000)
    return G_SOURCE_CONTINUE;
  conn->stall_source = 0;
  atomic_fetch_add (&conn->c.stalls, 1);
  spot_coinbase_metrics_stall (conn->shared->metrics);
  g_autofree char *why = g_strdup_printf ("stalled: no message for %.1f s", silent_us / 1e6);
  connection_lost (conn, why);
  return G_SOURCE_REMOVE;
}

static void
connected_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  SoupWebsocketConnection *ws
      = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (ws == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* stopped: conn may be gone */
  SpotCoinbaseConnection *conn = data;
  g_clear_object (&conn->cancellable);
  if (ws == NULL)
    {
      g_autofree char *why = g_strdup_printf ("connect failed: %s", error->message);
      connection_lost (conn, why);
      return;
    }
  if (conn->state == SPOT_COINBASE_CONNECTION_CLOSED)
    {
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_object_unref (ws);
      return;
    }
  conn->ws = ws;
  conn->state = SPOT_COINBASE_CONNECTION_OPEN;
  conn->generation++;
  conn->subscribed = FALSE;
  conn->opened_us = conn->last_frame_us = g_get_monotonic_time ();
  atomic_fetch_add (&conn->c.opens, 1);
  spot_coinbase_metrics_connections (conn->shared->metrics, 1);
  soup_websocket_connection_set_max_incoming_payload_size (
      ws, (guint64)conn->shared->options.max_payload);
  soup_websocket_connection_set_keepalive_interval (ws, 15);
  g_signal_connect (ws, "message", G_CALLBACK (message_cb), conn);
  g_signal_connect (ws, "closed", G_CALLBACK (closed_cb), conn);
  g_signal_connect (ws, "error", G_CALLBACK (error_cb), conn);

  g_auto (GStrv) products = products_strv (conn->products);
  Item *item = g_new0 (Item, 1);
  item->kind = ITEM_GENERATION;
  item->products = g_strdupv (products);
  item->gap_start_ns = conn->ever_opened ? conn->lost_ns : 0;
  item->reason = SPOT_DIRTY_REASON_DISCONNECT;
  inbox_push (conn, item);
  conn->ever_opened = TRUE;
  conn->lost_ns = 0;

  spot_log (G_LOG_LEVEL_INFO, G_LOG_DOMAIN, NULL, (gint)conn->id, -1,
            "connected, subscribing %u products", conn->products->len);
  queue_send (conn, "heartbeats", NULL, TRUE);
  if (products[0] != NULL)
    subscribe_products (conn, products, TRUE);
  conn->stall_check_us = g_get_monotonic_time ();
  conn->stall_source = g_timeout_add (stall_check_interval_ms (conn), stall_cb, conn);
}

static void
connect_now_cb (gpointer data)
{
  SpotCoinbaseConnection *conn = data;
  conn->state = SPOT_COINBASE_CONNECTION_CONNECTING;
  if (conn->shared->open_times_us != NULL)
    {
      gint64 now = g_get_monotonic_time ();
      g_array_append_val (conn->shared->open_times_us, now);
    }
  SoupMessage *msg = soup_message_new ("GET", conn->shared->options.ws_url);
  if (msg == NULL)
    {
      spot_log (G_LOG_LEVEL_WARNING, G_LOG_DOMAIN, NULL, (gint)conn->id, -1,
                "COINBASE_WS_URL=%s is not a valid URL", conn->shared->options.ws_url);
      conn->state = SPOT_COINBASE_CONNECTION_CLOSED;
      return;
    }
  conn->cancellable = g_cancellable_new ();
  soup_session_websocket_connect_async (conn->shared->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        conn->cancellable, connected_cb, conn);
  g_object_unref (msg);
}

static gboolean
connect_slot_cb (gpointer data)
{
  SpotCoinbaseConnection *conn = data;
  conn->connect_source = 0;
  /* Backoff over: now wait for a slot of the shared connect gate. */
  spot_coinbase_gate_push (&conn->shared->connect_gate, connect_now_cb, conn);
  return G_SOURCE_REMOVE;
}

static void
schedule_connect (SpotCoinbaseConnection *conn, gint64 delay_us)
{
  g_clear_handle_id (&conn->connect_source, g_source_remove);
  conn->connect_source = g_timeout_add ((guint)(delay_us / 1000), connect_slot_cb, conn);
}

/* ---- public ------------------------------------------------------------- */

SpotCoinbaseConnection *
spot_coinbase_connection_new (SpotCoinbaseShared *shared, guint id)
{
  SpotCoinbaseConnection *conn = g_new0 (SpotCoinbaseConnection, 1);
  conn->shared = shared;
  conn->id = id;
  conn->products = g_ptr_array_new_with_free_func (g_free);
  g_mutex_init (&conn->lock);
  g_cond_init (&conn->cond);
  g_queue_init (&conn->inbox);
  conn->lane_products = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  conn->lane_pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  conn->lane_last_seq = -1;
  conn->main_parser = spot_coinbase_parser_new ();
  spot_coinbase_message_init (&conn->main_msg);
  g_autofree char *name = g_strdup_printf ("spot-lane-%u", id);
  conn->lane = g_thread_new (name, lane_main, conn);
  g_autofree char *qname = g_strdup_printf ("inbox-%u", id);
  conn->monitored = spot_coinbase_metrics_add_queue (
      shared->monitor, qname, shared->options.inbox_size, inbox_length_cb, conn);
  return conn;
}

guint
spot_coinbase_connection_get_id (SpotCoinbaseConnection *conn)
{
  return conn->id;
}

SpotCoinbaseConnectionState
spot_coinbase_connection_get_state (SpotCoinbaseConnection *conn)
{
  return conn->state;
}

guint
spot_coinbase_connection_get_n_products (SpotCoinbaseConnection *conn)
{
  return conn->products->len;
}

gboolean
spot_coinbase_connection_has_product (SpotCoinbaseConnection *conn, const char *product_id)
{
  for (guint i = 0; i < conn->products->len; i++)
    if (strcmp (g_ptr_array_index (conn->products, i), product_id) == 0)
      return TRUE;
  return FALSE;
}

char **
spot_coinbase_connection_dup_products (SpotCoinbaseConnection *conn)
{
  return products_strv (conn->products);
}

void
spot_coinbase_connection_add_products (SpotCoinbaseConnection *conn, const char *const *product_ids)
{
  g_autoptr (GPtrArray) fresh = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; product_ids != NULL && product_ids[i] != NULL; i++)
    if (!spot_coinbase_connection_has_product (conn, product_ids[i]))
      {
        g_ptr_array_add (conn->products, g_strdup (product_ids[i]));
        g_ptr_array_add (fresh, g_strdup (product_ids[i]));
      }
  if (fresh->len == 0)
    return;
  g_auto (GStrv) list = products_strv (fresh);
  Item *item = g_new0 (Item, 1);
  item->kind = ITEM_EXPECT;
  item->products = g_strdupv (list);
  item->gap_start_ns = exchange_now_ns (conn);
  item->reason = SPOT_DIRTY_REASON_UNSUBSCRIBED;
  inbox_push (conn, item);
  if (conn->state == SPOT_COINBASE_CONNECTION_OPEN)
    subscribe_products (conn, list, TRUE);
}

void
spot_coinbase_connection_remove_products (SpotCoinbaseConnection *conn,
                                          const char *const *product_ids)
{
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; product_ids != NULL && product_ids[i] != NULL; i++)
    for (guint k = 0; k < conn->products->len; k++)
      if (strcmp (g_ptr_array_index (conn->products, k), product_ids[i]) == 0)
        {
          g_ptr_array_add (gone, g_strdup (product_ids[i]));
          g_ptr_array_remove_index (conn->products, k);
          break;
        }
  if (gone->len == 0)
    return;
  g_auto (GStrv) list = products_strv (gone);
  Item *item = g_new0 (Item, 1);
  item->kind = ITEM_REMOVE;
  item->products = g_strdupv (list);
  inbox_push (conn, item);
  if (conn->state == SPOT_COINBASE_CONNECTION_OPEN)
    subscribe_products (conn, list, FALSE);
}

void
spot_coinbase_connection_start (SpotCoinbaseConnection *conn)
{
  if (conn->state != SPOT_COINBASE_CONNECTION_IDLE)
    return;
  conn->state = SPOT_COINBASE_CONNECTION_WAITING;
  connect_slot_cb (conn);
}

void
spot_coinbase_connection_reconnect (SpotCoinbaseConnection *conn)
{
  if (conn->state == SPOT_COINBASE_CONNECTION_OPEN)
    connection_lost (conn, "reconnect requested");
}

void
spot_coinbase_connection_stop (SpotCoinbaseConnection *conn)
{
  if (conn->lane == NULL)
    return;
  conn->state = SPOT_COINBASE_CONNECTION_CLOSED;
  g_clear_handle_id (&conn->connect_source, g_source_remove);
  spot_coinbase_gate_remove (&conn->shared->connect_gate, conn);
  g_clear_handle_id (&conn->stall_source, g_source_remove);
  if (conn->cancellable != NULL)
    {
      g_cancellable_cancel (conn->cancellable);
      g_clear_object (&conn->cancellable);
    }
  cancel_sends (conn);
  drop_ws (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, "shutdown");
  g_mutex_lock (&conn->lock);
  conn->stopping = TRUE;
  g_cond_signal (&conn->cond);
  g_mutex_unlock (&conn->lock);
  g_thread_join (g_steal_pointer (&conn->lane));
  spot_coinbase_metrics_remove_queue (conn->shared->monitor, g_steal_pointer (&conn->monitored));
}

void
spot_coinbase_connection_free (SpotCoinbaseConnection *conn)
{
  if (conn == NULL)
    return;
  spot_coinbase_connection_stop (conn);
  g_queue_clear_full (&conn->inbox, (GDestroyNotify)item_free);
  spot_coinbase_message_clear (&conn->main_msg);
  spot_coinbase_parser_free (conn->main_parser);
  g_hash_table_unref (conn->lane_products);
  g_hash_table_unref (conn->lane_pending);
  g_ptr_array_unref (conn->products);
  g_mutex_clear (&conn->lock);
  g_cond_clear (&conn->cond);
  g_free (conn);
}

void
spot_coinbase_connection_get_stats (SpotCoinbaseConnection *conn, SpotCoinbaseConnectionStats *out)
{
  out->frames = atomic_load (&conn->c.frames);
  out->bytes = atomic_load (&conn->c.bytes);
  out->trades = atomic_load (&conn->c.trades);
  out->exchange_candles = atomic_load (&conn->c.exchange_candles);
  out->heartbeats = atomic_load (&conn->c.heartbeats);
  out->parse_errors = atomic_load (&conn->c.parse_errors);
  out->rejected_items = atomic_load (&conn->c.rejected_items);
  out->unknown = atomic_load (&conn->c.unknown);
  out->exchange_errors = atomic_load (&conn->c.exchange_errors);
  out->inbox_drops = atomic_load (&conn->c.inbox_drops);
  out->sequence_gaps = atomic_load (&conn->c.sequence_gaps);
  out->stalls = atomic_load (&conn->c.stalls);
  out->reconnects = atomic_load (&conn->c.reconnects);
  out->opens = atomic_load (&conn->c.opens);
  out->confirmed = atomic_load (&conn->c.confirmed);
  out->batches_rejected = atomic_load (&conn->c.batches_rejected);
  out->inline_frames = atomic_load (&conn->c.inline_frames);
  for (guint k = 0; k < SPOT_COINBASE_LATENCY_BINS; k++)
    {
      out->lane_wait[k] = atomic_load (&conn->c.lane_wait[k]);
      out->lane_handoff[k] = atomic_load (&conn->c.lane_handoff[k]);
    }
  g_mutex_lock (&conn->lock);
  out->inbox_peak_frames = conn->peak_frames;
  out->inbox_peak_bytes = conn->peak_bytes;
  g_mutex_unlock (&conn->lock);
}
