/* spot-sim-server.c: WebSocket, REST and control endpoint of the simulator. */
#define G_LOG_DOMAIN "spot-exchange-sim"

#include "spot-sim-server.h"

#include <string.h>
#include <time.h>

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "core/spot-error.h"
#include "core/spot-log.h"
#include "spot-sim-server-private.h"
#include "spot-sim-wire.h"

#define LISTEN_BACKLOG 1024
#define MAX_INCOMING_PAYLOAD (16 * 1024 * 1024)
#define JWT_LEEWAY_S 5

/* Channels a client may subscribe to; only the first three carry data here,
 * the others are acknowledged and stay quiet. */
static const char *quiet_channels[] = {
  "ticker", "ticker_batch", "level2", "status", "user", "futures_balance_summary", NULL,
};

static const char *fault_names[] = {
  [SPOT_SIM_FAULT_CLOSE1001] = "close1001",
  [SPOT_SIM_FAULT_DROP] = "drop",
  [SPOT_SIM_FAULT_STALL] = "stall",
  [SPOT_SIM_FAULT_SKIP_SEQUENCE] = "skip-sequence",
  [SPOT_SIM_FAULT_NEWEST_FIRST] = "newest-first",
  [SPOT_SIM_FAULT_DUP_SNAPSHOT] = "dup-snapshot",
  [SPOT_SIM_FAULT_OVERSIZED] = "oversized",
  [SPOT_SIM_FAULT_MALFORMED] = "malformed",
  [SPOT_SIM_FAULT_WRONG_TYPE] = "wrong-type",
  [SPOT_SIM_FAULT_DELAY] = "delay",
  [SPOT_SIM_FAULT_SKEW] = "skew",
  [SPOT_SIM_FAULT_HEARTBEAT_STRING] = "heartbeat-string",
  [SPOT_SIM_FAULT_REST_CANDLES] = "rest-candles",
  [SPOT_SIM_FAULT_CLEAR] = "clear",
};

gboolean
spot_sim_fault_kind_from_string (const char *name, SpotSimFaultKind *kind)
{
  for (guint i = 0; name != NULL && i < G_N_ELEMENTS (fault_names); i++)
    if (g_str_equal (fault_names[i], name))
      {
        *kind = (SpotSimFaultKind)i;
        return TRUE;
      }
  return FALSE;
}

const char *
spot_sim_fault_kind_to_string (SpotSimFaultKind kind)
{
  return (guint)kind < G_N_ELEMENTS (fault_names) ? fault_names[kind] : "unknown";
}

gint64
spot_sim_fault_default_value (SpotSimFaultKind kind)
{
  switch (kind)
    {
    case SPOT_SIM_FAULT_STALL:
      return 10;
    case SPOT_SIM_FAULT_SKIP_SEQUENCE:
      return 3;
    case SPOT_SIM_FAULT_OVERSIZED:
      return 4 * 1024 * 1024;
    case SPOT_SIM_FAULT_DELAY:
      return 500;
    case SPOT_SIM_FAULT_SKEW:
      return 0;
    case SPOT_SIM_FAULT_REST_CANDLES:
      return 60; /* every granularity */
    case SPOT_SIM_FAULT_WRONG_TYPE:
      return 0;
    case SPOT_SIM_FAULT_NEWEST_FIRST:
    case SPOT_SIM_FAULT_DUP_SNAPSHOT:
    case SPOT_SIM_FAULT_HEARTBEAT_STRING:
      return 1;
    case SPOT_SIM_FAULT_CLOSE1001:
    case SPOT_SIM_FAULT_DROP:
    case SPOT_SIM_FAULT_MALFORMED:
    case SPOT_SIM_FAULT_CLEAR:
    default:
      return 0;
    }
}

static gboolean
fault_is_lasting (SpotSimFaultKind kind)
{
  return kind == SPOT_SIM_FAULT_NEWEST_FIRST || kind == SPOT_SIM_FAULT_DUP_SNAPSHOT
         || kind == SPOT_SIM_FAULT_DELAY || kind == SPOT_SIM_FAULT_HEARTBEAT_STRING;
}

/* ---- clock ------------------------------------------------------------ */

gint64
spot_sim_server_now_ns (SpotSimServer *self)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec + self->skew_ms * 1000000;
}

/* ---- sending ---------------------------------------------------------- */

static void conn_close_abruptly (Conn *conn);
static void conn_schedule_batch (Conn *conn);

static gboolean
conn_open (Conn *conn)
{
  return !conn->closing && conn->ws != NULL
         && soup_websocket_connection_get_state (conn->ws) == SOUP_WEBSOCKET_STATE_OPEN;
}

static void
conn_write (Conn *conn, const char *text, gsize len)
{
  if (!conn_open (conn))
    return;
  soup_websocket_connection_send_text (conn->ws, text);
  /* Payload plus the server frame header (2, 4 or 10 bytes). */
  conn->wire_bytes += len + (len < 126 ? 2 : len < 65536 ? 4 : 10);
  conn->messages_sent++;
  conn->bytes_sent += len;
  conn->server->messages_sent++;
  conn->server->bytes_sent += len;
}

static gboolean
delayed_flush_cb (gpointer data)
{
  Conn *conn = data;
  gint64 now = g_get_monotonic_time ();
  while (!g_queue_is_empty (&conn->delayed))
    {
      Delayed *d = g_queue_peek_head (&conn->delayed);
      if (d->due_us > now)
        return G_SOURCE_CONTINUE;
      g_queue_pop_head (&conn->delayed);
      conn_write (conn, d->text, d->len);
      g_free (d->text);
      g_free (d);
    }
  conn->delay_source = 0;
  return G_SOURCE_REMOVE;
}

/* Sends @text now, or queues it when a delay fault is on. Frames of a
 * stalled connection are lost (their sequence numbers with them). */
static void
conn_send_text (Conn *conn, const char *text, gsize len)
{
  if (conn->stall_until_mono_us > g_get_monotonic_time ())
    return;
  if (conn->modes.delay_ms > 0 || !g_queue_is_empty (&conn->delayed))
    {
      Delayed *d = g_new0 (Delayed, 1);
      d->due_us = g_get_monotonic_time () + conn->modes.delay_ms * 1000;
      d->text = g_memdup2 (text, len + 1);
      d->len = len;
      g_queue_push_tail (&conn->delayed, d);
      if (conn->delay_source == 0)
        conn->delay_source = g_timeout_add (5, delayed_flush_cb, conn);
      return;
    }
  conn_write (conn, text, len);
}

/* Starts a data message in the server's scratch buffer, up to "events":. */
static GString *
message_begin (Conn *conn, const char *channel)
{
  SpotSimServer *self = conn->server;
  GString *s = self->scratch;
  g_string_truncate (s, 0);
  if (conn->skip_pending > 0)
    {
      conn->seq += conn->skip_pending;
      conn->skip_pending = 0;
    }
  g_string_append (s, "{\"channel\":\"");
  g_string_append (s, channel);
  g_string_append (s, "\",\"client_id\":\"\",\"timestamp\":\"");
  spot_sim_append_rfc3339_ns (s, spot_sim_server_now_ns (self));
  g_string_append_printf (s, "\",\"sequence_num\":%" G_GINT64_FORMAT ",\"events\":", conn->seq++);
  return s;
}

static void
message_end (Conn *conn)
{
  GString *s = conn->server->scratch;
  g_string_append_c (s, '}');
  conn_send_text (conn, s->str, s->len);
}

static void
send_error (Conn *conn, const char *message)
{
  g_autoptr (GString) s = g_string_new ("{\"type\":\"error\",\"message\":");
  spot_sim_append_json_string (s, message);
  g_string_append_c (s, '}');
  conn_send_text (conn, s->str, s->len);
}

/* ---- messages --------------------------------------------------------- */

static void
append_trades_array (
    SpotSimServer *self, GString *s, guint product, const SpotSimTrade *trades, guint n)
{
  const SpotSimProductInfo *info = spot_sim_market_product (self->market, product);
  for (guint k = 0; k < n; k++)
    {
      if (s->str[s->len - 1] != '[')
        g_string_append_c (s, ',');
      spot_sim_append_trade (s, &self->time_cache, info, &trades[k]);
    }
}

static void
send_subscriptions (Conn *conn)
{
  SpotSimServer *self = conn->server;
  GString *s = message_begin (conn, "subscriptions");
  g_string_append (s, "[{\"subscriptions\":{");
  gboolean first = TRUE;
  struct
  {
    const char *name;
    GArray *list;
  } lists[] = { { "market_trades", conn->trades_list }, { "candles", conn->candles_list } };
  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    {
      if (lists[l].list->len == 0)
        continue;
      g_string_append_printf (s, "%s\"%s\":[", first ? "" : ",", lists[l].name);
      first = FALSE;
      for (guint k = 0; k < lists[l].list->len; k++)
        {
          guint p = g_array_index (lists[l].list, guint, k);
          g_string_append_printf (s, "%s\"%s\"", k == 0 ? "" : ",",
                                  spot_sim_market_product (self->market, p)->product_id);
        }
      g_string_append_c (s, ']');
    }
  if (conn->heartbeats)
    {
      g_string_append_printf (s, "%s\"heartbeats\":[\"heartbeats\"]", first ? "" : ",");
      first = FALSE;
    }
  /* Quiet channels, grouped by channel name. */
  g_autoptr (GHashTable) done = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < conn->quiet->len; i++)
    {
      const char *entry = g_ptr_array_index (conn->quiet, i);
      g_autofree char *channel = g_strndup (entry, strcspn (entry, ":"));
      if (g_hash_table_contains (done, channel))
        continue;
      g_hash_table_add (done, g_strdup (channel));
      g_string_append_printf (s, "%s\"%s\":[", first ? "" : ",", channel);
      first = FALSE;
      gboolean first_item = TRUE;
      for (guint j = i; j < conn->quiet->len; j++)
        {
          const char *other = g_ptr_array_index (conn->quiet, j);
          gsize clen = strlen (channel);
          if (strncmp (other, channel, clen) != 0 || (other[clen] != ':' && other[clen] != '\0'))
            continue;
          const char *item = other[clen] == ':' ? other + clen + 1 : channel;
          g_string_append_printf (s, "%s\"%s\"", first_item ? "" : ",", item);
          first_item = FALSE;
        }
      g_string_append_c (s, ']');
    }
  g_string_append (s, "}}]");
  message_end (conn);
}

static void
send_trades_snapshot (Conn *conn, GArray *products)
{
  SpotSimServer *self = conn->server;
  guint max = self->config.snapshot_trades;
  g_autofree SpotSimTrade *buf = g_new (SpotSimTrade, MAX (max, 1));
  GString *s = message_begin (conn, "market_trades");
  g_string_append (s, "[{\"type\":\"snapshot\",\"trades\":[");
  guint64 count = 0;
  for (guint k = 0; k < products->len; k++)
    {
      guint p = g_array_index (products, guint, k);
      guint n = spot_sim_market_recent (self->market, p, buf, max);
      append_trades_array (self, s, p, buf, n);
      count += n;
    }
  g_string_append (s, "]}]");
  conn->trades_sent += count;
  message_end (conn);
}

static void
current_five_minute (SpotSimServer *self, guint p, GArray *out, guint max)
{
  gint64 now_s = spot_sim_server_now_ns (self) / 1000000000;
  g_autoptr (GArray) c
      = spot_sim_market_candles (self->market, p, 300, now_s - 300 * (gint64)max, now_s, max);
  g_array_append_vals (out, c->data, c->len);
}

static void
send_candles (Conn *conn, GArray *products, gboolean snapshot)
{
  SpotSimServer *self = conn->server;
  guint per_product = snapshot ? MAX (1u, self->config.candles_snapshot) : 1;
  GString *s = message_begin (conn, "candles");
  g_string_append (s, snapshot ? "[{\"type\":\"snapshot\",\"candles\":["
                               : "[{\"type\":\"update\",\"candles\":[");
  g_autoptr (GArray) candles = g_array_new (FALSE, FALSE, sizeof (SpotSimCandle));
  gboolean first = TRUE;
  for (guint k = 0; k < products->len; k++)
    {
      guint p = g_array_index (products, guint, k);
      g_array_set_size (candles, 0);
      current_five_minute (self, p, candles, per_product);
      /* An update carries only the open (newest) bucket. */
      guint n = snapshot ? candles->len : MIN (candles->len, 1);
      for (guint i = 0; i < n; i++)
        {
          if (!first)
            g_string_append_c (s, ',');
          first = FALSE;
          spot_sim_append_candle (s, spot_sim_market_product (self->market, p),
                                  &g_array_index (candles, SpotSimCandle, i), TRUE);
        }
      conn->candles_version[p] = spot_sim_market_version (self->market, p);
    }
  g_string_append (s, "]}]");
  message_end (conn);
}

static void
send_heartbeat (Conn *conn)
{
  SpotSimServer *self = conn->server;
  gint64 counter = conn->heartbeat_counter++;
  GString *s = message_begin (conn, "heartbeats");
  g_string_append (s, "[{\"current_time\":\"");
  spot_sim_append_go_time (s, spot_sim_server_now_ns (self),
                           (g_get_monotonic_time () - self->start_mono_us) * 1000);
  if (conn->modes.heartbeat_string && counter % 2 == 1)
    g_string_append_printf (s, "\",\"heartbeat_counter\":\"%" G_GINT64_FORMAT "\"}]", counter);
  else
    g_string_append_printf (s, "\",\"heartbeat_counter\":%" G_GINT64_FORMAT "}]", counter);
  message_end (conn);
}

static gboolean
heartbeat_cb (gpointer data)
{
  Conn *conn = data;
  if (conn_open (conn) && conn->heartbeats)
    send_heartbeat (conn);
  return G_SOURCE_CONTINUE;
}

/* ---- one-shot faults -------------------------------------------------- */

static guint
first_trades_product (Conn *conn)
{
  return conn->trades_list->len > 0 ? g_array_index (conn->trades_list, guint, 0) : 0;
}

static void
send_oversized (Conn *conn, gint64 bytes)
{
  SpotSimServer *self = conn->server;
  /* Recent trades the client already has, repeated: a client that dedupes
   * by trade_id stays correct, one with a small frame limit fails. */
  guint p = first_trades_product (conn);
  SpotSimTrade recent[50];
  guint n = spot_sim_market_recent (self->market, p, recent, G_N_ELEMENTS (recent));
  GString *s = message_begin (conn, "market_trades");
  g_string_append (s, "[{\"type\":\"update\",\"trades\":[");
  while ((gint64)s->len < bytes && n > 0)
    append_trades_array (self, s, p, recent, n);
  g_string_append (s, "]}]");
  message_end (conn);
}

static void
send_malformed (Conn *conn)
{
  GString *s = message_begin (conn, "market_trades");
  g_string_append (s, "[{\"type\":\"update\",\"trades\":[{\"trade_id\":\"1");
  /* No closing brackets: not JSON. */
  conn_send_text (conn, s->str, s->len);
}

static void
send_wrong_type (Conn *conn, gint64 variant)
{
  SpotSimServer *self = conn->server;
  guint p = first_trades_product (conn);
  const SpotSimProductInfo *info = spot_sim_market_product (self->market, p);
  GString *s = message_begin (conn, "market_trades");
  if (variant == 1)
    g_string_append (s, "[{\"type\":\"update\",\"trades\":{\"trade_id\":\"1\"}}]");
  else
    {
      /* The newest trade again, price and trade_id as numbers. */
      SpotSimTrade t;
      g_string_append (s, "[{\"type\":\"update\",\"trades\":[");
      if (spot_sim_market_recent (self->market, p, &t, 1) == 1)
        {
          g_string_append_printf (
              s, "{\"trade_id\":%" G_GINT64_FORMAT ",\"product_id\":\"%s\",\"price\":", t.trade_id,
              info->product_id);
          spot_sim_format_decimal (s, t.price, info->quote_exp, TRUE);
          g_string_append (s, ",\"size\":\"");
          spot_sim_format_decimal (s, t.size, info->base_exp, FALSE);
          g_string_append (s, t.buy ? "\",\"side\":\"BUY\",\"time\":\""
                                    : "\",\"side\":\"SELL\",\"time\":\"");
          spot_sim_append_rfc3339_us (s, &self->time_cache, t.time_us);
          g_string_append (s, "\"}");
        }
      g_string_append (s, "]}]");
    }
  message_end (conn);
}

static void
conn_apply_fault (Conn *conn, SpotSimFaultKind kind, gint64 value)
{
  spot_log (G_LOG_LEVEL_INFO, G_LOG_DOMAIN, NULL, (gint)conn->id, -1,
            "fault %s (%" G_GINT64_FORMAT ")", spot_sim_fault_kind_to_string (kind), value);
  switch (kind)
    {
    case SPOT_SIM_FAULT_CLOSE1001:
      if (conn_open (conn))
        soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      break;
    case SPOT_SIM_FAULT_DROP:
      conn_close_abruptly (conn);
      break;
    case SPOT_SIM_FAULT_STALL:
      conn->stall_until_mono_us = g_get_monotonic_time () + value * G_USEC_PER_SEC;
      break;
    case SPOT_SIM_FAULT_SKIP_SEQUENCE:
      conn->skip_pending += MAX (1, value);
      break;
    case SPOT_SIM_FAULT_NEWEST_FIRST:
      conn->modes.newest_first = value != 0;
      break;
    case SPOT_SIM_FAULT_DUP_SNAPSHOT:
      conn->modes.dup_snapshot = value != 0;
      break;
    case SPOT_SIM_FAULT_OVERSIZED:
      send_oversized (conn, value > 0 ? value : spot_sim_fault_default_value (kind));
      break;
    case SPOT_SIM_FAULT_MALFORMED:
      send_malformed (conn);
      break;
    case SPOT_SIM_FAULT_WRONG_TYPE:
      send_wrong_type (conn, value);
      break;
    case SPOT_SIM_FAULT_DELAY:
      conn->modes.delay_ms = MAX (0, value);
      break;
    case SPOT_SIM_FAULT_HEARTBEAT_STRING:
      conn->modes.heartbeat_string = value != 0;
      break;
    case SPOT_SIM_FAULT_CLEAR:
      memset (&conn->modes, 0, sizeof conn->modes);
      conn->stall_until_mono_us = 0;
      conn->skip_pending = 0;
      break;
    case SPOT_SIM_FAULT_SKEW:
    default:
      break;
    }
}

static Conn *
find_conn (SpotSimServer *self, guint id)
{
  for (guint i = 0; i < self->conns->len; i++)
    {
      Conn *c = g_ptr_array_index (self->conns, i);
      if (c->id == id)
        return c;
    }
  return NULL;
}

guint
spot_sim_server_apply_fault (SpotSimServer *self,
                             SpotSimFaultKind kind,
                             guint connection_id,
                             gint64 value)
{
  if (kind == SPOT_SIM_FAULT_SKEW || (kind == SPOT_SIM_FAULT_CLEAR && connection_id == 0))
    {
      gint64 skew = kind == SPOT_SIM_FAULT_SKEW ? value : 0;
      /* Send what the old clock has due first, then move the schedule. */
      spot_sim_server_flush (self, -1);
      spot_sim_market_shift_clock (self->market, (skew - self->skew_ms) * 1000);
      self->skew_ms = skew;
      g_message ("exchange clock skew now %" G_GINT64_FORMAT " ms", self->skew_ms);
      if (kind == SPOT_SIM_FAULT_SKEW)
        return self->conns->len;
    }
  if (kind == SPOT_SIM_FAULT_REST_CANDLES)
    {
      self->rest_refuse_from_s = MAX (0, value);
      g_message ("REST candles of granularity >= %" G_GINT64_FORMAT " s now refused (0: none)",
                 self->rest_refuse_from_s);
      return 1;
    }
  if (connection_id == 0 && kind == SPOT_SIM_FAULT_CLEAR)
    {
      memset (&self->defaults, 0, sizeof self->defaults);
      self->rest_refuse_from_s = 0;
    }
  else if (connection_id == 0 && fault_is_lasting (kind))
    {
      Conn tmp = { .modes = self->defaults };
      conn_apply_fault (&tmp, kind, value);
      self->defaults = tmp.modes;
    }

  /* Copy: close faults remove connections from the array. */
  g_autoptr (GPtrArray) targets = g_ptr_array_new ();
  for (guint i = 0; i < self->conns->len; i++)
    {
      Conn *c = g_ptr_array_index (self->conns, i);
      if (connection_id == 0 || c->id == connection_id)
        g_ptr_array_add (targets, c);
    }
  for (guint i = 0; i < targets->len; i++)
    {
      Conn *c = g_ptr_array_index (targets, i);
      if (find_conn (self, c->id) == c)
        conn_apply_fault (c, kind, value);
    }
  return targets->len;
}

/* ---- connection lifecycle --------------------------------------------- */

static void
conn_free (Conn *conn)
{
  g_clear_handle_id (&conn->idle_source, g_source_remove);
  g_clear_handle_id (&conn->oneshot_source, g_source_remove);
  g_clear_handle_id (&conn->heartbeat_source, g_source_remove);
  g_clear_handle_id (&conn->batch_source, g_source_remove);
  g_clear_handle_id (&conn->delay_source, g_source_remove);
  Delayed *d;
  while ((d = g_queue_pop_head (&conn->delayed)) != NULL)
    {
      g_free (d->text);
      g_free (d);
    }
  if (conn->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (conn->ws, conn);
      g_object_unref (conn->ws);
    }
  g_clear_object (&conn->socket);
  g_free (conn->trades_sub);
  g_free (conn->trades_gen);
  g_free (conn->candles_sub);
  g_free (conn->candles_version);
  g_array_unref (conn->trades_list);
  g_array_unref (conn->candles_list);
  g_ptr_array_unref (conn->quiet);
  g_free (conn->peer);
  g_free (conn);
}

static gboolean
reap_cb (gpointer data)
{
  SpotSimServer *self = data;
  self->reap_source = 0;
  g_ptr_array_set_size (self->dead, 0);
  return G_SOURCE_REMOVE;
}

/* The connection leaves the server now and is freed from an idle callback:
 * "closed" can be emitted from inside a send while a loop holds it. */
static void
conn_remove (Conn *conn)
{
  SpotSimServer *self = conn->server;
  conn->closing = TRUE;
  g_clear_handle_id (&conn->idle_source, g_source_remove);
  g_clear_handle_id (&conn->oneshot_source, g_source_remove);
  g_clear_handle_id (&conn->heartbeat_source, g_source_remove);
  g_clear_handle_id (&conn->batch_source, g_source_remove);
  g_clear_handle_id (&conn->delay_source, g_source_remove);
  for (guint k = 0; k < conn->trades_list->len; k++)
    self->trade_subscribers[g_array_index (conn->trades_list, guint, k)]--;
  g_array_set_size (conn->trades_list, 0);
  spot_log (G_LOG_LEVEL_INFO, G_LOG_DOMAIN, NULL, (gint)conn->id, -1,
            "connection closed after %" G_GUINT64_FORMAT " messages, %" G_GUINT64_FORMAT " trades",
            conn->messages_sent, conn->trades_sent);
  g_ptr_array_remove_fast (self->conns, conn);
  g_ptr_array_add (self->dead, conn);
  if (self->reap_source == 0)
    self->reap_source = g_idle_add (reap_cb, self);
}

static void
conn_closed_cb (SoupWebsocketConnection *ws, gpointer data)
{
  conn_remove (data);
}

static void
conn_close_abruptly (Conn *conn)
{
  if (conn->closing || conn->ws == NULL)
    return;
  conn->closing = TRUE;
  /* Shut the socket down under libsoup: the peer reads EOF without a close
   * frame (1006 on its side), and libsoup notices and emits "closed". */
  if (conn->socket != NULL)
    g_socket_shutdown (conn->socket, TRUE, TRUE, NULL);
  else
    g_io_stream_close (soup_websocket_connection_get_io_stream (conn->ws), NULL, NULL);
}

static gboolean
idle_close_cb (gpointer data)
{
  Conn *conn = data;
  conn->idle_source = 0;
  if (!conn->subscribed_once && conn_open (conn))
    {
      spot_log (G_LOG_LEVEL_INFO, G_LOG_DOMAIN, NULL, (gint)conn->id, -1,
                "no subscribe within %u s: closing", conn->server->config.idle_close_s);
      soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, NULL);
    }
  return G_SOURCE_REMOVE;
}

static gboolean
oneshot_faults_cb (gpointer data)
{
  Conn *conn = data;
  SpotSimServer *self = conn->server;
  guint id = conn->id;
  conn->oneshot_source = 0;
  for (guint i = 0; i < self->startup_faults->len; i++)
    {
      SpotSimFault *f = &g_array_index (self->startup_faults, SpotSimFault, i);
      if (fault_is_lasting (f->kind) || f->kind == SPOT_SIM_FAULT_SKEW)
        continue;
      if (find_conn (self, id) != conn)
        break;
      conn_apply_fault (conn, f->kind, f->value);
    }
  return G_SOURCE_REMOVE;
}

/* ---- subscribe / unsubscribe ------------------------------------------ */

static gboolean
is_quiet_channel (const char *channel)
{
  return g_strv_contains (quiet_channels, channel);
}

static void
quiet_set (Conn *conn, const char *entry, gboolean on)
{
  for (guint i = 0; i < conn->quiet->len; i++)
    if (g_str_equal (g_ptr_array_index (conn->quiet, i), entry))
      {
        if (!on)
          g_ptr_array_remove_index (conn->quiet, i);
        return;
      }
  if (on)
    g_ptr_array_add (conn->quiet, g_strdup (entry));
}

static void
list_remove (GArray *list, guint p)
{
  for (guint k = 0; k < list->len; k++)
    if (g_array_index (list, guint, k) == p)
      {
        g_array_remove_index (list, k);
        return;
      }
}

static void
handle_request (Conn *conn, JsonObject *req)
{
  SpotSimServer *self = conn->server;
  const char *type = json_object_get_string_member_with_default (req, "type", "");
  const char *channel = json_object_get_string_member_with_default (req, "channel", "");
  gboolean subscribe = g_str_equal (type, "subscribe");
  if (!subscribe && !g_str_equal (type, "unsubscribe"))
    {
      send_error (conn, "authentication failure");
      return;
    }

  if (self->config.require_auth)
    {
      const char *jwt = json_object_get_string_member_with_default (req, "jwt", NULL);
      g_autoptr (GError) error = NULL;
      if (jwt == NULL
          || !spot_sim_jwt_verify (self->config.verifier, jwt,
                                   spot_sim_server_now_ns (self) / 1000000000, JWT_LEEWAY_S,
                                   &error))
        {
          spot_log (G_LOG_LEVEL_INFO, G_LOG_DOMAIN, NULL, (gint)conn->id, -1, "refused %s: %s",
                    type, error != NULL ? error->message : "no jwt");
          send_error (conn, "authentication failure");
          return;
        }
    }

  gboolean heartbeats = g_str_equal (channel, "heartbeats");
  gboolean trades = g_str_equal (channel, "market_trades");
  gboolean candles = g_str_equal (channel, "candles");
  gboolean quiet = is_quiet_channel (channel);
  if (!heartbeats && !trades && !candles && !quiet)
    {
      send_error (conn, "authentication failure");
      return;
    }

  /* Product ids: all must exist. */
  g_autoptr (GArray) products = g_array_new (FALSE, FALSE, sizeof (guint));
  /* heartbeats ignores product_ids, whatever they are. */
  JsonNode *ids = heartbeats ? NULL : json_object_get_member (req, "product_ids");
  if (ids != NULL && JSON_NODE_HOLDS_ARRAY (ids))
    {
      JsonArray *arr = json_node_get_array (ids);
      for (guint i = 0; i < json_array_get_length (arr); i++)
        {
          JsonNode *n = json_array_get_element (arr, i);
          const char *id
              = JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
                    ? json_node_get_string (n)
                    : NULL;
          gint p = id != NULL ? spot_sim_market_find (self->market, id) : -1;
          if (p < 0)
            {
              g_autofree char *msg = g_strdup_printf ("failure to subscribe: unknown product_id %s",
                                                      id != NULL ? id : "(not a string)");
              send_error (conn, msg);
              return;
            }
          guint up = (guint)p;
          g_array_append_val (products, up);
        }
    }
  else if (ids != NULL && !JSON_NODE_HOLDS_NULL (ids))
    {
      send_error (conn, "failure to subscribe: product_ids must be an array");
      return;
    }
  if (!heartbeats && products->len == 0 && !g_str_equal (channel, "status"))
    {
      send_error (conn, "failure to subscribe: product_ids required");
      return;
    }

  if (subscribe && !conn->subscribed_once)
    {
      conn->subscribed_once = TRUE;
      g_clear_handle_id (&conn->idle_source, g_source_remove);
      if (self->startup_faults->len > 0)
        conn->oneshot_source
            = g_timeout_add_seconds (MAX (1u, self->config.fault_after_s), oneshot_faults_cb, conn);
    }

  g_autoptr (GArray) fresh = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint k = 0; k < products->len; k++)
    {
      guint p = g_array_index (products, guint, k);
      if (trades)
        {
          if (subscribe && !conn->trades_sub[p])
            {
              conn->trades_sub[p] = TRUE;
              /* The snapshot holds what was generated so far. */
              conn->trades_gen[p] = self->gen;
              g_array_append_val (conn->trades_list, p);
              self->trade_subscribers[p]++;
              g_array_append_val (fresh, p);
            }
          else if (subscribe && conn->modes.dup_snapshot)
            g_array_append_val (fresh, p);
          else if (!subscribe && conn->trades_sub[p])
            {
              conn->trades_sub[p] = FALSE;
              list_remove (conn->trades_list, p);
              self->trade_subscribers[p]--;
            }
        }
      else if (candles)
        {
          if (subscribe && !conn->candles_sub[p])
            {
              conn->candles_sub[p] = TRUE;
              g_array_append_val (conn->candles_list, p);
              g_array_append_val (fresh, p);
            }
          else if (subscribe && conn->modes.dup_snapshot)
            g_array_append_val (fresh, p);
          else if (!subscribe && conn->candles_sub[p])
            {
              conn->candles_sub[p] = FALSE;
              list_remove (conn->candles_list, p);
            }
        }
      else
        {
          g_autofree char *entry = g_strdup_printf (
              "%s:%s", channel, spot_sim_market_product (self->market, p)->product_id);
          quiet_set (conn, entry, subscribe);
        }
    }
  if (heartbeats)
    {
      conn->heartbeats = subscribe;
      /* Every second from the subscribe on, per connection. */
      if (subscribe && conn->heartbeat_source == 0)
        conn->heartbeat_source = g_timeout_add (1000, heartbeat_cb, conn);
      else if (!subscribe)
        g_clear_handle_id (&conn->heartbeat_source, g_source_remove);
    }
  else if (quiet && products->len == 0)
    quiet_set (conn, channel, subscribe);

  send_subscriptions (conn);
  if (fresh->len > 0)
    {
      guint times = conn->modes.dup_snapshot ? 2 : 1;
      for (guint t = 0; t < times; t++)
        {
          if (trades)
            send_trades_snapshot (conn, fresh);
          else
            send_candles (conn, fresh, TRUE);
        }
    }
}

static void
conn_message_cb (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
  Conn *conn = data;
  gsize len = 0;
  const char *text = g_bytes_get_data (message, &len);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  if (type != SOUP_WEBSOCKET_DATA_TEXT || text == NULL
      || !json_parser_load_from_data (parser, text, (gssize)len, &error)
      || json_parser_get_root (parser) == NULL
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      spot_log (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN, NULL, (gint)conn->id, -1, "bad request: %s",
                error != NULL ? error->message : "not a JSON object");
      send_error (conn, "failure to parse request: invalid JSON");
      return;
    }
  handle_request (conn, json_node_get_object (json_parser_get_root (parser)));
}

static void
websocket_cb (SoupServer *soup,
              SoupServerMessage *msg,
              const char *path,
              SoupWebsocketConnection *ws,
              gpointer data)
{
  SpotSimServer *self = data;
  guint n = spot_sim_market_n_products (self->market);
  Conn *conn = g_new0 (Conn, 1);
  conn->server = self;
  conn->id = ++self->next_conn_id;
  conn->ws = g_object_ref (ws);
  GSocket *sock = soup_server_message_get_socket (msg);
  conn->socket = sock != NULL ? g_object_ref (sock) : NULL;
  conn->trades_sub = g_new0 (gboolean, n);
  conn->trades_gen = g_new0 (guint64, n);
  conn->tick_gen = self->gen;
  conn->candles_sub = g_new0 (gboolean, n);
  conn->candles_version = g_new0 (guint64, n);
  conn->trades_list = g_array_new (FALSE, FALSE, sizeof (guint));
  conn->candles_list = g_array_new (FALSE, FALSE, sizeof (guint));
  conn->quiet = g_ptr_array_new_with_free_func (g_free);
  conn->heartbeat_counter = 1;
  conn->modes = self->defaults;
  g_queue_init (&conn->delayed);
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  if (remote != NULL && G_IS_INET_SOCKET_ADDRESS (remote))
    {
      g_autofree char *ip = g_inet_address_to_string (
          g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
      conn->peer = g_strdup_printf (
          "%s:%u", ip, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote)));
    }
  soup_websocket_connection_set_max_incoming_payload_size (ws, MAX_INCOMING_PAYLOAD);
  soup_websocket_connection_set_keepalive_interval (ws, 0);
  g_signal_connect (ws, "message", G_CALLBACK (conn_message_cb), conn);
  g_signal_connect (ws, "closed", G_CALLBACK (conn_closed_cb), conn);
  conn->batch_phase_us = g_get_monotonic_time ();
  conn->batch_phase_clock_us = spot_sim_server_now_ns (self) / 1000;
  conn_schedule_batch (conn);
  conn->idle_source
      = g_timeout_add_seconds (MAX (1u, self->config.idle_close_s), idle_close_cb, conn);
  g_ptr_array_add (self->conns, conn);
  self->conns_total++;
  spot_log (G_LOG_LEVEL_INFO, G_LOG_DOMAIN, NULL, (gint)conn->id, -1, "connection from %s on %s",
            conn->peer != NULL ? conn->peer : "?", path);
}

/* ---- market_trades batches ------------------------------------------- */

typedef struct
{
  guint64 gen;  /* generation step */
  gsize offset; /* first byte of its first trade in pend[p] */
  guint index;  /* its first trade in pend_trades[p] */
} Chunk;

/* Generates every trade due up to now and keeps each product's new trades
 * for the subscribers that have not been sent them yet. */
static void
server_advance (SpotSimServer *self)
{
  gint64 now_us = spot_sim_server_now_ns (self) / 1000;
  self->trades_generated_total += spot_sim_market_advance (self->market, now_us);
  self->gen++;
  guint n_products = spot_sim_market_n_products (self->market);
  for (guint p = 0; p < n_products; p++)
    {
      if (self->trade_subscribers[p] == 0)
        continue;
      guint n = 0;
      const SpotSimTrade *batch = spot_sim_market_last_batch (self->market, p, &n);
      if (n == 0)
        continue;
      const SpotSimProductInfo *info = spot_sim_market_product (self->market, p);
      GString *s = self->pend[p];
      if (s->len > 0)
        g_string_append_c (s, ',');
      Chunk c = { self->gen, s->len, self->pend_trades[p]->len };
      g_array_append_val (self->chunks[p], c);
      for (guint k = 0; k < n; k++)
        {
          if (k > 0)
            g_string_append_c (s, ',');
          spot_sim_append_trade (s, &self->time_cache, info, &batch[k]);
        }
      g_array_append_vals (self->pend_trades[p], batch, n);
    }
}

/* Drops what every subscriber has been sent: each connection's batch timer
 * moves its tick_gen, so this keeps about one batch interval per product. */
static void
server_prune (SpotSimServer *self)
{
  guint64 low = self->gen;
  for (guint i = 0; i < self->conns->len; i++)
    {
      Conn *c = g_ptr_array_index (self->conns, i);
      if (c->trades_list->len > 0)
        low = MIN (low, c->tick_gen);
    }
  guint n_products = spot_sim_market_n_products (self->market);
  for (guint p = 0; p < n_products; p++)
    {
      GArray *chunks = self->chunks[p];
      guint drop = 0;
      while (drop < chunks->len && g_array_index (chunks, Chunk, drop).gen <= low)
        drop++;
      if (drop == 0)
        continue;
      if (drop == chunks->len)
        {
          g_array_set_size (chunks, 0);
          g_string_truncate (self->pend[p], 0);
          g_array_set_size (self->pend_trades[p], 0);
          continue;
        }
      Chunk keep = g_array_index (chunks, Chunk, drop);
      g_string_erase (self->pend[p], 0, (gssize)keep.offset);
      g_array_remove_range (self->pend_trades[p], 0, keep.index);
      g_array_remove_range (chunks, 0, drop);
      for (guint k = 0; k < chunks->len; k++)
        {
          Chunk *c = &g_array_index (chunks, Chunk, k);
          c->offset -= keep.offset;
          c->index -= keep.index;
        }
    }
}

/* Sends @conn the trades of product @p it has not been sent yet, as one
 * update message. */
static void
conn_send_pending (Conn *conn, guint p)
{
  SpotSimServer *self = conn->server;
  GArray *chunks = self->chunks[p];
  /* The first step this connection lacks; chunks are in step order. */
  guint k = chunks->len;
  while (k > 0 && g_array_index (chunks, Chunk, k - 1).gen > conn->trades_gen[p])
    k--;
  conn->trades_gen[p] = self->gen;
  if (k == chunks->len)
    return;
  const Chunk *first = &g_array_index (chunks, Chunk, k);
  GArray *trades = self->pend_trades[p];
  guint n = trades->len - first->index;
  GString *s = message_begin (conn, "market_trades");
  g_string_append (s, "[{\"type\":\"update\",\"trades\":[");
  if (!conn->modes.newest_first)
    g_string_append_len (s, self->pend[p]->str + first->offset,
                         (gssize)(self->pend[p]->len - first->offset));
  else
    {
      const SpotSimProductInfo *info = spot_sim_market_product (self->market, p);
      for (guint i = trades->len; i > first->index; i--)
        {
          if (i != trades->len)
            g_string_append_c (s, ',');
          spot_sim_append_trade (s, &self->time_cache, info,
                                 &g_array_index (trades, SpotSimTrade, i - 1));
        }
    }
  g_string_append (s, "]}]");
  message_end (conn);
  conn->trades_sent += n;
  self->trades_sent[p] += n;
  self->trades_sent_total += n;
}

/* Each connection's own batch timer, its phase set by its open time, as
 * independent Coinbase connections are: one message per subscribed product
 * that traded since this connection's previous batch. */
static gboolean
conn_batch_cb (gpointer data)
{
  Conn *conn = data;
  SpotSimServer *self = conn->server;
  server_advance (self);
  for (guint k = 0; k < conn->trades_list->len && conn_open (conn); k++)
    conn_send_pending (conn, g_array_index (conn->trades_list, guint, k));
  conn->tick_gen = self->gen;
  server_prune (self);
  conn_schedule_batch (conn);
  return G_SOURCE_REMOVE;
}

/* The next batch at the next point of this connection's own grid (open
 * time + k intervals). A repeating GLib timeout re-arms from the loop
 * iteration's time, so two connections dispatched in the same iteration
 * (a busy loop) would batch together from then on. */
static void
conn_schedule_batch (Conn *conn)
{
  gint64 step = (gint64)conn->server->config.batch_ms * 1000;
  gint64 now = g_get_monotonic_time ();
  gint64 next = conn->batch_phase_us + ((now - conn->batch_phase_us) / step + 1) * step;
  conn->batch_source = g_timeout_add ((guint)((next - now + 999) / 1000), conn_batch_cb, conn);
}

void
spot_sim_server_flush (SpotSimServer *self, gint product)
{
  server_advance (self);
  /* Copy: a failed send may remove a connection. */
  g_autoptr (GPtrArray) conns = g_ptr_array_copy (self->conns, NULL, NULL);
  for (guint i = 0; i < conns->len; i++)
    {
      Conn *conn = g_ptr_array_index (conns, i);
      for (guint k = 0; k < conn->trades_list->len && conn_open (conn); k++)
        {
          guint p = g_array_index (conn->trades_list, guint, k);
          if (product < 0 || (guint)product == p)
            conn_send_pending (conn, p);
        }
      if (product < 0)
        conn->tick_gen = self->gen;
    }
  server_prune (self);
}

/* TCP bytes the peer has acknowledged, or -1 when unknown. */
static gint64
conn_acked_bytes (Conn *conn)
{
  if (conn->socket == NULL)
    return -1;
  int fd = g_socket_get_fd (conn->socket);
  struct tcp_info info;
  socklen_t len = sizeof info;
  memset (&info, 0, sizeof info);
  if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0
      || len < offsetof (struct tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked)
    return -1;
  /* bytes_acked counts from the SYN: one more than the payload. */
  return info.tcpi_bytes_acked > 0 ? (gint64)info.tcpi_bytes_acked - 1 : 0;
}

/* libsoup 3.2 queues outgoing frames without bound and reports no buffered
 * amount; what the peer has not acknowledged yet (libsoup's queue plus the
 * kernel's) is the frames handed over minus the TCP bytes acked. A client
 * that far behind is dropped, as an exchange drops a slow consumer, before
 * the simulator's memory runs away. */
static void
check_backlog (Conn *conn)
{
  SpotSimServer *self = conn->server;
  gint64 acked = conn_acked_bytes (conn);
  if (acked < 0)
    return;
  /* acked also counts the handshake response: a few hundred bytes low. */
  conn->backlog = conn->wire_bytes > (guint64)acked ? conn->wire_bytes - (guint64)acked : 0;
  if (self->config.max_backlog_bytes > 0 && conn->backlog > self->config.max_backlog_bytes)
    {
      spot_log (G_LOG_LEVEL_WARNING, G_LOG_DOMAIN, NULL, (gint)conn->id, -1,
                "slow consumer: %" G_GUINT64_FORMAT " bytes not yet read, dropping the connection",
                conn->backlog);
      self->slow_consumers_dropped++;
      conn_close_abruptly (conn);
    }
}

static gboolean
second_cb (gpointer data)
{
  SpotSimServer *self = data;
  self->trades_sent_rate = self->trades_sent_total - self->trades_sent_prev;
  self->trades_sent_prev = self->trades_sent_total;

  g_autoptr (GPtrArray) conns = g_ptr_array_copy (self->conns, NULL, NULL);
  g_autoptr (GArray) changed = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < conns->len; i++)
    {
      Conn *conn = g_ptr_array_index (conns, i);
      if (!conn_open (conn))
        continue;
      check_backlog (conn);
      if (!conn_open (conn))
        continue;
      g_array_set_size (changed, 0);
      for (guint k = 0; k < conn->candles_list->len; k++)
        {
          guint p = g_array_index (conn->candles_list, guint, k);
          if (spot_sim_market_version (self->market, p) != conn->candles_version[p])
            g_array_append_val (changed, p);
        }
      if (changed->len > 0)
        send_candles (conn, changed, FALSE);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- construction ----------------------------------------------------- */

static gboolean
listen_on (SpotSimServer *self, GError **error)
{
  g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (self->config.host);
  if (addr == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "listen address %s is not an IP address", self->config.host);
      return FALSE;
    }
  g_autoptr (GSocket) sock = g_socket_new (g_inet_address_get_family (addr), G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, error);
  if (sock == NULL)
    return FALSE;
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (addr, (guint16)self->config.port);
  g_socket_set_listen_backlog (sock, LISTEN_BACKLOG);
  /* libsoup's own listener uses a backlog of 10: bursts of clients stall. */
  if (!g_socket_bind (sock, sa, TRUE, error) || !g_socket_listen (sock, error))
    {
      g_prefix_error (error, "listening on %s:%u: ", self->config.host, self->config.port);
      return FALSE;
    }
  if (!soup_server_listen_socket (self->soup, sock, 0, error))
    return FALSE;
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (sock, error);
  if (local == NULL)
    return FALSE;
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  return TRUE;
}

SpotSimServer *
spot_sim_server_new (const SpotSimServerConfig *config, SpotSimMarket *market, GError **error)
{
  g_autoptr (SpotSimServer) self = g_new0 (SpotSimServer, 1);
  self->config = *config;
  if (self->config.host == NULL)
    self->config.host = "127.0.0.1";
  if (self->config.batch_ms == 0)
    self->config.batch_ms = 250;
  self->config.faults = NULL;
  self->startup_faults = g_array_new (FALSE, FALSE, sizeof (SpotSimFault));
  self->market = market;
  self->skew_ms = config->skew_ms;
  self->start_mono_us = g_get_monotonic_time ();
  self->conns = g_ptr_array_new ();
  self->dead = g_ptr_array_new_with_free_func ((GDestroyNotify)conn_free);
  if (config->faults != NULL)
    for (guint i = 0; i < config->faults->len; i++)
      {
        SpotSimFault *f = &g_array_index (config->faults, SpotSimFault, i);
        if (f->kind == SPOT_SIM_FAULT_SKEW)
          self->skew_ms = f->value;
        else if (f->kind == SPOT_SIM_FAULT_REST_CANDLES)
          self->rest_refuse_from_s = MAX (0, f->value);
        else if (fault_is_lasting (f->kind))
          {
            Conn tmp = { .modes = self->defaults };
            conn_apply_fault (&tmp, f->kind, f->value);
            self->defaults = tmp.modes;
          }
        else
          g_array_append_val (self->startup_faults, *f);
      }
  if (config->require_auth
      && (config->verifier == NULL || spot_sim_jwt_verifier_n_keys (config->verifier) == 0))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "--require-auth needs at least one --jwt-public-key");
      return NULL;
    }

  guint n = spot_sim_market_n_products (market);
  self->trade_subscribers = g_new0 (guint, n);
  self->trades_sent = g_new0 (guint64, n);
  self->pend = g_new0 (GString *, n);
  self->pend_trades = g_new0 (GArray *, n);
  self->chunks = g_new0 (GArray *, n);
  for (guint p = 0; p < n; p++)
    {
      self->pend[p] = g_string_new (NULL);
      self->pend_trades[p] = g_array_new (FALSE, FALSE, sizeof (SpotSimTrade));
      self->chunks[p] = g_array_new (FALSE, FALSE, sizeof (Chunk));
    }
  self->scratch = g_string_sized_new (64 * 1024);

  self->soup = soup_server_new ("server-header", "spot-exchange-sim", NULL);
  spot_sim_rest_register (self);
  soup_server_add_websocket_handler (self->soup, NULL, NULL, NULL, websocket_cb, self, NULL);
  if (!listen_on (self, error))
    return NULL;

  /* Catch up to now before the first batch: history ends at creation. */
  self->trades_generated_total = 0;
  for (guint p = 0; p < n; p++)
    self->trades_generated_total += spot_sim_market_trades_generated (market, p);
  self->second_source = g_timeout_add_seconds (1, second_cb, self);
  return g_steal_pointer (&self);
}

void
spot_sim_server_free (SpotSimServer *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->second_source, g_source_remove);
  g_clear_handle_id (&self->reap_source, g_source_remove);
  g_ptr_array_unref (self->dead);
  while (self->conns->len > 0)
    {
      Conn *c = g_ptr_array_index (self->conns, 0);
      g_ptr_array_remove_index_fast (self->conns, 0);
      /* Still there after spot_sim_server_stop(): cut the socket so
       * libsoup releases the connection. */
      if (c->ws != NULL)
        {
          g_signal_handlers_disconnect_by_data (c->ws, c);
          g_io_stream_close (soup_websocket_connection_get_io_stream (c->ws), NULL, NULL);
        }
      conn_free (c);
    }
  if (self->soup != NULL)
    {
      soup_server_disconnect (self->soup);
      g_object_unref (self->soup);
    }
  guint n = self->market != NULL ? spot_sim_market_n_products (self->market) : 0;
  for (guint p = 0; p < n && self->pend != NULL; p++)
    {
      g_string_free (self->pend[p], TRUE);
      g_array_unref (self->pend_trades[p]);
      g_array_unref (self->chunks[p]);
    }
  g_free (self->pend);
  g_free (self->pend_trades);
  g_free (self->chunks);
  g_free (self->trade_subscribers);
  g_free (self->trades_sent);
  if (self->scratch != NULL)
    g_string_free (self->scratch, TRUE);
  g_array_unref (self->startup_faults);
  g_ptr_array_unref (self->conns);
  spot_sim_market_free (self->market);
  g_free (self);
}

void
spot_sim_server_stop (SpotSimServer *self, guint timeout_ms)
{
  g_clear_handle_id (&self->second_source, g_source_remove);
  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  for (guint i = 0; i < self->conns->len; i++)
    {
      Conn *c = g_ptr_array_index (self->conns, i);
      if (conn_open (c))
        soup_websocket_connection_close (c->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
    }
  /* Let the close handshakes (and libsoup's own clean-up) finish. */
  gint64 end = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  while ((self->conns->len > 0 || self->dead->len > 0) && g_get_monotonic_time () < end)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  for (guint i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
}

guint
spot_sim_server_port (SpotSimServer *self)
{
  return self->port;
}
