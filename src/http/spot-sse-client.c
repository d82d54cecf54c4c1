/* spot-sse-client.c: one Datastar SSE stream on a connection taken over
 * from libsoup, with busy-time coalescing. */
#define G_LOG_DOMAIN "spot-http"

#include "http/spot-sse-client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "core/spot-log.h"
#include "http/spot-candle-element.h"
#include "http/spot-datastar.h"

/* Used to estimate the size of coalesced updates before any was written. */
#define ELEMENT_BYTES_GUESS 320
/* Keep-alive intervals without write progress before a busy client is cut. */
#define STALLED_TICKS_MAX 2

typedef struct
{
  gint64 start;
  guint64 rev;
  gboolean set;
} Shown;

struct _SpotSseClient
{
  gatomicrefcount ref; /* the owner's, plus one per asynchronous operation */
  SoupServerMessage *msg;
  char *remote;
  GIOStream *io;
  GCancellable *cancellable;
  SpotStreamSelection sel;
  SpotSseClientConfig config;
  GHashTable *product_index; /* product id (in sel) -> slot base + 1 */
  Shown *shown;              /* per slot: product index * COUNT + granularity */
  guint n_slots;
  GHashTable *pending; /* slot -> SpotCandle*, while a write is in flight */
  GString *out;        /* bytes the socket has not taken yet, from out_off */
  gsize out_off;
  GSource *writable_source;
  GWeakRef *socket_watch; /* the connection's GSocket, see release_leaked_socket() */
  guint hub_id;
  guint keepalive_id;
  guint takeover_id;
  guint64 progress; /* writes completed */
  guint64 progress_at_tick;
  guint stalled_ticks;
  gboolean over;   /* nothing may be written any more */
  gboolean ending; /* close after the write in flight */
  gboolean freed;  /* the owner let go */
  guint8 read_byte;
  SpotSseClientDoneFunc done;
  gpointer done_data;
  SpotSseClientStats stats;
};

static void finish (SpotSseClient *client, const char *why);
static void cut_off (SpotSseClient *client, const char *why);
static void flush_pending (SpotSseClient *client);

/* libsoup 3.2.3 keeps one reference too many on the GSocket of every
 * connection it gives away or closes itself (measured: also for a plain
 * request with "Connection: close"; not for connections the client closes
 * on keep-alive). A stream ends that way every time, so each would leave
 * ~350 bytes behind. Once the stream and its GIOStream are gone, a socket
 * that is still alive with exactly one reference and closed has no owner
 * but that leak: drop it. A later libsoup without the leak has finalized
 * the socket by then (the weak reference is empty) and nothing happens. */
static gboolean
release_socket_if_orphaned (gpointer data)
{
  GWeakRef *watch = data;
  GSocket *socket = g_weak_ref_get (watch);

  if (socket != NULL)
    {
      /* Our g_weak_ref_get() reference is the second one. */
      if (G_OBJECT (socket)->ref_count == 2 && g_socket_is_closed (socket))
        g_object_unref (socket);
      g_object_unref (socket);
    }
  g_weak_ref_clear (watch);
  g_free (watch);
  return G_SOURCE_REMOVE;
}

static void
release_leaked_socket (GWeakRef *watch)
{
  /* After the pending GIO callbacks have let go of the stream. */
  g_timeout_add (200, release_socket_if_orphaned, watch);
}

static SpotSseClient *
client_ref (SpotSseClient *client)
{
  g_atomic_ref_count_inc (&client->ref);
  return client;
}

static void
client_unref (SpotSseClient *client)
{
  if (!g_atomic_ref_count_dec (&client->ref))
    return;
  g_clear_object (&client->config.hub);
  g_clear_object (&client->config.cache);
  g_clear_pointer (&client->pending, g_hash_table_unref);
  g_string_free (client->out, TRUE);
  g_hash_table_unref (client->product_index);
  g_free (client->shown);
  spot_stream_selection_clear (&client->sel);
  g_clear_object (&client->io);
  if (client->socket_watch != NULL)
    release_leaked_socket (g_steal_pointer (&client->socket_watch));
  g_clear_object (&client->cancellable);
  g_clear_object (&client->msg);
  g_free (client->remote);
  g_free (client);
}

/* Busy: bytes the socket has not taken yet (or no socket yet). */
static gboolean
is_busy (SpotSseClient *client)
{
  return client->io == NULL || client->out->len > client->out_off;
}

static gboolean on_writable (GObject *stream, gpointer user_data);

/* Writes as much of the output buffer as the socket takes now. What is
 * left waits for the socket to become writable; the client is busy until
 * then and updates meanwhile are coalesced. */
static void
try_write (SpotSseClient *client)
{
  GPollableOutputStream *out
      = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (client->io));

  while (client->out_off < client->out->len)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_output_stream_write_nonblocking (
          out, client->out->str + client->out_off, client->out->len - client->out_off, NULL,
          &error);

      if (n > 0)
        {
          client->out_off += n;
          client->progress++;
          continue;
        }
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          if (client->writable_source == NULL)
            {
              client->writable_source = g_pollable_output_stream_create_source (out, NULL);
              g_source_set_callback (client->writable_source,
                                     (GSourceFunc)(void (*) (void))on_writable, client, NULL);
              g_source_attach (client->writable_source, g_main_context_get_thread_default ());
            }
          return;
        }
      finish (client, "write failed (client gone)");
      return;
    }
  /* Everything is with the kernel. */
  g_string_truncate (client->out, 0);
  client->out_off = 0;
  if (client->ending)
    finish (client, "ended by the server");
  else
    flush_pending (client);
}

static gboolean
on_writable (GObject *stream, gpointer user_data)
{
  SpotSseClient *client = user_data;

  g_clear_pointer (&client->writable_source, g_source_unref);
  if (!client->over)
    try_write (client);
  return G_SOURCE_REMOVE;
}

/* Appends @text to the output and writes it (callers write only when the
 * client is not busy, except before the connection is taken over). */
static void
write_text (SpotSseClient *client, GString *text)
{
  g_string_append_len (client->out, text->str, text->len);
  client->stats.bytes += text->len;
  g_string_free (text, TRUE);
  if (client->io != NULL && !client->over)
    try_write (client);
}

/* Rendered elements shared by every client in this thread: a thousand
 * clients watching the same products get the same candle in the same hub
 * batch, so each element is formatted once. Keyed by the candle's identity
 * and revision (a revision never changes content); cleared when full. */
#define RENDER_CACHE_MAX 8192

typedef struct
{
  char product_id[SPOT_PRODUCT_ID_SIZE];
  gint granularity;
  gint64 start;
  guint64 rev;
  gboolean complete;
  gint64 ts_ns;
} RenderKey;

static guint
render_key_hash (gconstpointer data)
{
  const RenderKey *k = data;

  return g_str_hash (k->product_id) ^ (guint)(k->rev * 2654435761u) ^ (guint)k->start
         ^ ((guint)k->granularity << 24);
}

static gboolean
render_key_equal (gconstpointer a, gconstpointer b)
{
  const RenderKey *x = a, *y = b;

  return x->rev == y->rev && x->start == y->start && x->granularity == y->granularity
         && x->complete == y->complete && x->ts_ns == y->ts_ns
         && strcmp (x->product_id, y->product_id) == 0;
}

static void
append_element_cached (GString *out, const SpotCandle *c)
{
  static GHashTable *cache; /* RenderKey* -> char*, main thread only */
  RenderKey key;
  const char *text;

  memset (&key, 0, sizeof key);
  g_strlcpy (key.product_id, c->product_id, sizeof key.product_id);
  key.granularity = c->granularity;
  key.start = c->start;
  key.rev = c->rev;
  key.complete = c->complete;
  key.ts_ns = c->ts_ns;
  if (cache == NULL)
    cache = g_hash_table_new_full (render_key_hash, render_key_equal, g_free, g_free);
  text = g_hash_table_lookup (cache, &key);
  if (text == NULL)
    {
      GString *rendered = g_string_sized_new (ELEMENT_BYTES_GUESS);

      if (g_hash_table_size (cache) >= RENDER_CACHE_MAX)
        g_hash_table_remove_all (cache);
      spot_candle_element_append (rendered, c);
      text = rendered->str;
      g_hash_table_insert (cache, g_memdup2 (&key, sizeof key), g_string_free (rendered, FALSE));
    }
  g_string_append (out, text);
}

static gint
slot_of (SpotSseClient *client, const SpotCandle *candle)
{
  gpointer base = g_hash_table_lookup (client->product_index, candle->product_id);

  if (base == NULL || candle->granularity < 0 || candle->granularity >= SPOT_GRANULARITY_COUNT
      || !spot_granularity_set_contains (client->sel.granularities, candle->granularity))
    return -1;
  return (gint)(GPOINTER_TO_UINT (base) - 1) + candle->granularity;
}

/* Greatest start wins per element; equal starts: the greater rev. */
static gboolean
accept_newer (SpotSseClient *client, gint slot, const SpotCandle *candle)
{
  Shown *shown = &client->shown[slot];

  if (shown->set
      && (candle->start < shown->start
          || (candle->start == shown->start && candle->rev < shown->rev)))
    {
      client->stats.skipped_older++;
      return FALSE;
    }
  shown->start = candle->start;
  shown->rev = candle->rev;
  shown->set = TRUE;
  return TRUE;
}

static void
write_elements (SpotSseClient *client, GString *elements, guint n)
{
  GString *event = g_string_sized_new (elements->len + elements->len / 8 + 64);

  spot_datastar_patch_elements (event, client->sel.dialect, elements->str, NULL,
                                SPOT_DATASTAR_MODE_OUTER, FALSE, NULL);
  client->stats.events++;
  client->stats.candles += n;
  write_text (client, event);
}

/* Sends what was coalesced while the last write was in flight, as one event. */
static void
flush_pending (SpotSseClient *client)
{
  g_autoptr (GString) elements = NULL;
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  if (client->pending == NULL || g_hash_table_size (client->pending) == 0)
    return;
  elements = g_string_sized_new (g_hash_table_size (client->pending) * ELEMENT_BYTES_GUESS);
  g_hash_table_iter_init (&iter, client->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      if (n++ > 0)
        g_string_append_c (elements, '\n');
      append_element_cached (elements, value);
    }
  g_hash_table_remove_all (client->pending);
  write_elements (client, elements, n);
}

static guint64
element_bytes (SpotSseClient *client)
{
  return client->stats.candles > 0 ? client->stats.bytes / client->stats.candles
                                   : ELEMENT_BYTES_GUESS;
}

static void
on_candles (const SpotCandle *candles, guint n, gpointer user_data)
{
  SpotSseClient *client = user_data;
  g_autoptr (GString) elements = NULL;
  guint written = 0;
  gboolean busy = is_busy (client);

  if (client->over || client->ending)
    return;

  for (guint i = 0; i < n; i++)
    {
      const SpotCandle *c = &candles[i];
      gint slot = slot_of (client, c);

      if (slot < 0 || !accept_newer (client, slot, c))
        continue;
      if (busy)
        {
          if (client->pending == NULL)
            client->pending = g_hash_table_new_full (NULL, NULL, NULL, g_free);
          if (g_hash_table_contains (client->pending, GINT_TO_POINTER (slot)))
            client->stats.coalesced++;
          g_hash_table_insert (client->pending, GINT_TO_POINTER (slot), g_memdup2 (c, sizeof *c));
          continue;
        }
      if (elements == NULL)
        elements = g_string_sized_new (n * ELEMENT_BYTES_GUESS);
      else
        g_string_append_c (elements, '\n');
      append_element_cached (elements, c);
      written++;
    }

  if (written > 0)
    write_elements (client, elements, written);

  if (client->pending != NULL && g_hash_table_size (client->pending) > 0
      && (client->out->len - client->out_off)
                 + g_hash_table_size (client->pending) * element_bytes (client)
             > client->config.buffer_bytes)
    cut_off (client, "buffer limit exceeded");
}

static gboolean
on_keepalive (gpointer user_data)
{
  SpotSseClient *client = user_data;
  GString *comment;

  if (client->io == NULL)
    return G_SOURCE_CONTINUE;
  if (is_busy (client))
    {
      if (client->progress == client->progress_at_tick)
        client->stalled_ticks++;
      else
        client->stalled_ticks = 0;
      client->progress_at_tick = client->progress;
      if (client->stalled_ticks >= STALLED_TICKS_MAX)
        {
          client->keepalive_id = 0;
          cut_off (client, "no write progress");
          return G_SOURCE_REMOVE;
        }
      return G_SOURCE_CONTINUE;
    }
  client->stalled_ticks = 0;
  client->progress_at_tick = client->progress;
  comment = g_string_new (NULL);
  spot_datastar_comment (comment, "keepalive");
  write_text (client, comment);
  return G_SOURCE_CONTINUE;
}

/* The client sends nothing after its request: a read that completes means
 * it hung up (0 bytes, or an error). */
static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SpotSseClient *client = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (!client->over)
    {
      if (n > 0)
        g_input_stream_read_async (G_INPUT_STREAM (source), &client->read_byte, 1,
                                   G_PRIORITY_DEFAULT, client->cancellable, on_read,
                                   client_ref (client));
      else
        finish (client, "client closed the connection");
    }
  client_unref (client);
}

static void
on_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  client_unref (user_data);
}

static void
detach (SpotSseClient *client)
{
  if (client->hub_id != 0 && client->config.hub != NULL)
    spot_candle_hub_unsubscribe (client->config.hub, client->hub_id);
  client->hub_id = 0;
  g_clear_handle_id (&client->keepalive_id, g_source_remove);
  g_clear_handle_id (&client->takeover_id, g_source_remove);
  if (client->writable_source != NULL)
    {
      g_source_destroy (client->writable_source);
      g_clear_pointer (&client->writable_source, g_source_unref);
    }
  if (client->pending != NULL)
    g_hash_table_remove_all (client->pending);
}

/* The stream is over: stop, close the connection, tell the owner. */
static void
finish (SpotSseClient *client, const char *why)
{
  if (client->over)
    return;
  client->over = TRUE;
  detach (client);
  g_cancellable_cancel (client->cancellable);
  if (client->io != NULL)
    g_io_stream_close_async (client->io, G_PRIORITY_DEFAULT, NULL, on_closed, client_ref (client));
  if (client->config.metrics != NULL)
    spot_gauge_dec (client->config.metrics->sse_clients);
  g_debug ("stream of %s over (%s): %" G_GUINT64_FORMAT " events, %" G_GUINT64_FORMAT " coalesced",
           client->remote, why, client->stats.events, client->stats.coalesced);
  /* Last: the owner may free the client here. */
  if (client->done != NULL && !client->freed)
    client->done (client, client->done_data);
}

static void
cut_off (SpotSseClient *client, const char *why)
{
  guint dropped = client->pending != NULL ? g_hash_table_size (client->pending) : 0;

  if (client->over)
    return;
  client->stats.slow = TRUE;
  if (client->config.metrics != NULL)
    {
      spot_counter_inc (client->config.metrics->sse_slow_client_disconnects);
      spot_counter_add (client->config.metrics->dropped[SPOT_DROP_STAGE_SSE_CLIENT], dropped);
    }
  spot_log_limited (10000, 5, G_LOG_LEVEL_MESSAGE, NULL, -1, -1,
                    "disconnecting slow SSE client %s: %s (%" G_GSIZE_FORMAT
                    " bytes unflushed, %u updates waiting)",
                    client->remote, why, client->out->len - client->out_off, dropped);
  finish (client, why);
}

void
spot_sse_client_end (SpotSseClient *client)
{
  if (client->over || client->ending)
    return;
  client->ending = TRUE;
  detach (client);
  /* Not taken over yet (detach dropped the take-over), or nothing in
   * flight: end now. */
  if (client->io == NULL || !is_busy (client))
    finish (client, "ended by the server");
  /* Otherwise when the write in flight completes. */
}

static void
write_initial_state (SpotSseClient *client)
{
  g_autoptr (GArray) snapshot = NULL;
  g_autofree SpotCandle **by_slot = g_new0 (SpotCandle *, client->n_slots);
  g_autoptr (GString) elements = g_string_sized_new (client->n_slots * ELEMENT_BYTES_GUESS);
  guint n = 0;

  if (client->config.cache != NULL)
    {
      snapshot = spot_live_cache_snapshot (client->config.cache,
                                           (const char *const *)client->sel.products,
                                           client->sel.granularities);
      for (guint i = 0; i < snapshot->len; i++)
        {
          SpotCandle *c = &g_array_index (snapshot, SpotCandle, i);
          gint slot = slot_of (client, c);

          if (slot >= 0 && accept_newer (client, slot, c))
            by_slot[slot] = c;
        }
    }

  g_string_append (elements, "<div id=\"spot-candles\">");
  for (guint p = 0; p < client->sel.n_products; p++)
    for (gint g = 0; g < SPOT_GRANULARITY_COUNT; g++)
      {
        guint slot = p * SPOT_GRANULARITY_COUNT + g;

        if (!spot_granularity_set_contains (client->sel.granularities, g))
          continue;
        g_string_append_c (elements, '\n');
        if (by_slot[slot] != NULL)
          spot_candle_element_append (elements, by_slot[slot]);
        else
          spot_candle_element_append_placeholder (elements, client->sel.products[p], g);
        n++;
      }
  g_string_append (elements, "\n</div>");
  write_elements (client, elements, n);
}

/* Runs outside libsoup's I/O callbacks (the message is paused meanwhile). */
static gboolean
take_over (gpointer user_data)
{
  SpotSseClient *client = user_data;
  GSocket *socket = soup_server_message_get_socket (client->msg);

  client->takeover_id = 0;
  /* Events are small and latency matters: no Nagle delay. */
  if (socket != NULL)
    {
      g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
      client->socket_watch = g_new0 (GWeakRef, 1);
      g_weak_ref_init (client->socket_watch, socket);
    }
  client->io = soup_server_message_steal_connection (client->msg);
  if (client->io == NULL
      || !G_IS_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (client->io)))
    {
      finish (client, "connection could not be taken over");
      return G_SOURCE_REMOVE;
    }
  try_write (client);
  if (!client->over)
    g_input_stream_read_async (g_io_stream_get_input_stream (client->io), &client->read_byte, 1,
                               G_PRIORITY_DEFAULT, client->cancellable, on_read,
                               client_ref (client));
  return G_SOURCE_REMOVE;
}

static void
append_head (SpotSseClient *client)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (client->msg);
  SoupMessageHeadersIter iter;
  const char *name, *value;

  g_string_append (client->out, "HTTP/1.1 200 OK\r\n");
  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    if (g_ascii_strcasecmp (name, "Content-Type") != 0
        && g_ascii_strcasecmp (name, "Cache-Control") != 0
        && g_ascii_strcasecmp (name, "Connection") != 0
        && g_ascii_strcasecmp (name, "Content-Length") != 0
        && g_ascii_strcasecmp (name, "Transfer-Encoding") != 0)
      g_string_append_printf (client->out, "%s: %s\r\n", name, value);
  g_string_append (client->out, "Content-Type: text/event-stream\r\n"
                                "Cache-Control: no-cache\r\n"
                                "X-Accel-Buffering: no\r\n"
                                "Connection: close\r\n\r\n");
}

SpotSseClient *
spot_sse_client_start (SoupServerMessage *msg,
                       SpotStreamSelection *selection,
                       const SpotSseClientConfig *config,
                       SpotSseClientDoneFunc done,
                       gpointer user_data)
{
  SpotSseClient *client = g_new0 (SpotSseClient, 1);

  g_atomic_ref_count_init (&client->ref);
  client->msg = g_object_ref (msg);
  client->remote = g_strdup (soup_server_message_get_remote_host (msg));
  client->cancellable = g_cancellable_new ();
  client->out = g_string_sized_new (4096);
  client->sel = *selection;
  memset (selection, 0, sizeof *selection);
  client->config = *config;
  if (client->config.hub != NULL)
    g_object_ref (client->config.hub);
  if (client->config.cache != NULL)
    g_object_ref (client->config.cache);
  client->done = done;
  client->done_data = user_data;

  client->product_index = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint p = 0; p < client->sel.n_products; p++)
    g_hash_table_insert (client->product_index, client->sel.products[p],
                         GUINT_TO_POINTER (p * SPOT_GRANULARITY_COUNT + 1));
  client->n_slots = client->sel.n_products * SPOT_GRANULARITY_COUNT;
  client->shown = g_new0 (Shown, client->n_slots);

  if (config->metrics != NULL)
    spot_gauge_inc (config->metrics->sse_clients);

  append_head (client);
  /* Subscribe before the snapshot: an update racing with it is then
   * delivered later and the greatest-start rule settles the order. */
  if (client->config.hub != NULL)
    client->hub_id
        = spot_candle_hub_subscribe (client->config.hub, (const char *const *)client->sel.products,
                                     client->sel.granularities, on_candles, client, NULL);
  write_initial_state (client);

  if (config->keepalive_ms > 0)
    client->keepalive_id = g_timeout_add (config->keepalive_ms, on_keepalive, client);

  /* libsoup must not touch the message any more; the connection is taken
   * over outside its I/O callback. */
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_pause (msg);
  client->takeover_id = g_idle_add_full (G_PRIORITY_HIGH, take_over, client, NULL);
  return client;
}

SoupServerMessage *
spot_sse_client_get_message (SpotSseClient *client)
{
  return client->msg;
}

void
spot_sse_client_get_stats (SpotSseClient *client, SpotSseClientStats *out)
{
  *out = client->stats;
  out->unflushed = client->out->len - client->out_off;
}

void
spot_sse_client_free (SpotSseClient *client)
{
  if (client == NULL)
    return;
  client->freed = TRUE;
  finish (client, "freed");
  client_unref (client);
}
