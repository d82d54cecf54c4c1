/* spot-sse-client.c: one Datastar SSE stream with busy-time coalescing. */
#define G_LOG_DOMAIN "spot-http"

#include "http/spot-sse-client.h"

#include <errno.h>
#include <sys/socket.h>

#include "core/spot-log.h"
#include "http/spot-candle-element.h"
#include "http/spot-datastar.h"

/* Used to estimate the size of coalesced updates before any was written. */
#define ELEMENT_BYTES_GUESS 320
/* Keep-alive intervals without write progress before a busy client is cut. */
#define STALLED_TICKS_MAX 2

typedef struct {
  gint64 start;
  guint64 rev;
  gboolean set;
} Shown;

struct _SpotSseClient {
  SoupServerMessage *msg;
  SpotStreamSelection sel;
  SpotSseClientConfig config;
  GHashTable *product_index; /* product id (in sel) -> slot base + 1 */
  Shown *shown;              /* per slot: product index * COUNT + granularity */
  guint n_slots;
  GHashTable *pending; /* slot -> SpotCandle*, while the socket is busy */
  GQueue chunks;       /* sizes of appended chunks not yet written */
  guint64 unflushed;
  guint hub_id;
  guint keepalive_id;
  GSource *eof_source;
  gulong wrote_chunk_id;
  gulong finished_id;
  guint64 progress; /* chunks written */
  guint64 progress_at_tick;
  guint stalled_ticks;
  gboolean over;   /* finished: nothing may be written any more */
  gboolean ending; /* body completed, waiting for libsoup to finish */
  SpotSseClientDoneFunc done;
  gpointer done_data;
  SpotSseClientStats stats;
};

static void cut_off (SpotSseClient *client, gboolean slow, const char *why);

static gboolean
is_busy (SpotSseClient *client)
{
  return !g_queue_is_empty (&client->chunks);
}

static void
append_chunk (SpotSseClient *client, GString *text)
{
  gsize len = text->len;
  SoupMessageBody *body = soup_server_message_get_response_body (client->msg);

  soup_message_body_append (body, SOUP_MEMORY_TAKE, g_string_free (text, FALSE), len);
  g_queue_push_tail (&client->chunks, GSIZE_TO_POINTER (len));
  client->unflushed += len;
  client->stats.bytes += len;
  soup_server_message_unpause (client->msg);
}

static gint
slot_of (SpotSseClient *client, const SpotCandle *candle)
{
  gpointer base = g_hash_table_lookup (client->product_index, candle->product_id);

  if (base == NULL || candle->granularity < 0 || candle->granularity >= SPOT_GRANULARITY_COUNT
      || !spot_granularity_set_contains (client->sel.granularities, candle->granularity))
    return -1;
  return (gint) (GPOINTER_TO_UINT (base) - 1) + candle->granularity;
}

/* Greatest start wins per element; equal starts: the greater rev. */
static gboolean
accept_newer (SpotSseClient *client, gint slot, const SpotCandle *candle)
{
  Shown *shown = &client->shown[slot];

  if (shown->set
      && (candle->start < shown->start || (candle->start == shown->start && candle->rev < shown->rev)))
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
  append_chunk (client, event);
}

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
      spot_candle_element_append (elements, value);
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

  if (client->over || client->ending)
    return;

  for (guint i = 0; i < n; i++)
    {
      const SpotCandle *c = &candles[i];
      gint slot = slot_of (client, c);

      if (slot < 0 || !accept_newer (client, slot, c))
        continue;
      if (is_busy (client))
        {
          if (client->pending == NULL)
            client->pending = g_hash_table_new_full (NULL, NULL, NULL, g_free);
          if (g_hash_table_contains (client->pending, GINT_TO_POINTER (slot)))
            client->stats.coalesced++;
          g_hash_table_insert (client->pending, GINT_TO_POINTER (slot),
                               g_memdup2 (c, sizeof *c));
          continue;
        }
      /* Several updates of one element in one batch: an element appears
       * once per event, so the later ones wait for the next flush. */
      if (elements == NULL)
        elements = g_string_sized_new (n * ELEMENT_BYTES_GUESS);
      else
        g_string_append_c (elements, '\n');
      spot_candle_element_append (elements, c);
      written++;
    }

  if (written > 0)
    write_elements (client, elements, written);

  if (client->pending != NULL && g_hash_table_size (client->pending) > 0
      && client->unflushed + g_hash_table_size (client->pending) * element_bytes (client)
             > client->config.buffer_bytes)
    cut_off (client, TRUE, "buffer limit exceeded");
}

static void
on_wrote_chunk (SoupServerMessage *msg, gpointer user_data)
{
  SpotSseClient *client = user_data;
  gsize len;

  if (g_queue_is_empty (&client->chunks))
    return;
  len = GPOINTER_TO_SIZE (g_queue_pop_head (&client->chunks));
  client->unflushed -= len;
  client->progress++;
  if (!is_busy (client) && !client->over && !client->ending)
    flush_pending (client);
}

static gboolean
on_keepalive (gpointer user_data)
{
  SpotSseClient *client = user_data;

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
          cut_off (client, TRUE, "no write progress");
          return G_SOURCE_REMOVE;
        }
      return G_SOURCE_CONTINUE;
    }
  client->stalled_ticks = 0;
  client->progress_at_tick = client->progress;
  GString *comment = g_string_new (NULL);
  spot_datastar_comment (comment, "keepalive");
  append_chunk (client, comment);
  return G_SOURCE_CONTINUE;
}

/* The client never sends anything after its request, so a readable socket
 * means it closed its end (or sent garbage): either way the stream is over. */
static gboolean
on_socket_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  SpotSseClient *client = user_data;
  char byte;
  gssize n = recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT);

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
      && (condition & (G_IO_HUP | G_IO_ERR)) == 0)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&client->eof_source, g_source_unref);
  cut_off (client, FALSE, n == 0 ? "client closed the connection" : "client sent data");
  return G_SOURCE_REMOVE;
}

static void
detach (SpotSseClient *client)
{
  if (client->hub_id != 0 && client->config.hub != NULL)
    spot_candle_hub_unsubscribe (client->config.hub, client->hub_id);
  client->hub_id = 0;
  g_clear_handle_id (&client->keepalive_id, g_source_remove);
  if (client->eof_source != NULL)
    {
      g_source_destroy (client->eof_source);
      g_clear_pointer (&client->eof_source, g_source_unref);
    }
  if (client->pending != NULL)
    g_hash_table_remove_all (client->pending);
}

static void
on_finished (SoupServerMessage *msg, gpointer user_data)
{
  SpotSseClient *client = user_data;

  if (client->over)
    return;
  client->over = TRUE;
  detach (client);
  g_clear_signal_handler (&client->wrote_chunk_id, client->msg);
  g_clear_signal_handler (&client->finished_id, client->msg);
  if (client->config.metrics != NULL)
    spot_gauge_dec (client->config.metrics->sse_clients);
  g_debug ("stream finished: %" G_GUINT64_FORMAT " events, %" G_GUINT64_FORMAT
           " coalesced, slow=%d",
           client->stats.events, client->stats.coalesced, client->stats.slow);
  /* Last: the owner may free the client here. */
  if (client->done != NULL)
    client->done (client, client->done_data);
}

/* Stops the stream now. The socket is shut down, so the write libsoup has
 * in flight (or the terminating chunk) fails and it finishes the message. */
static void
cut_off (SpotSseClient *client, gboolean slow, const char *why)
{
  GSocket *socket;

  if (client->over || client->ending)
    return;
  if (slow)
    {
      guint dropped = client->pending != NULL ? g_hash_table_size (client->pending) : 0;

      client->stats.slow = TRUE;
      if (client->config.metrics != NULL)
        {
          spot_counter_inc (client->config.metrics->sse_slow_client_disconnects);
          spot_counter_add (client->config.metrics->dropped[SPOT_DROP_STAGE_SSE_CLIENT], dropped);
        }
      spot_log_limited (10000, 5, G_LOG_LEVEL_MESSAGE, NULL, -1, -1,
                        "disconnecting slow SSE client %s: %s (%" G_GUINT64_FORMAT
                        " bytes unflushed, %u updates waiting)",
                        soup_server_message_get_remote_host (client->msg), why,
                        client->unflushed, dropped);
    }
  else
    g_debug ("stream of %s over: %s", soup_server_message_get_remote_host (client->msg), why);

  detach (client);
  client->ending = TRUE;
  socket = soup_server_message_get_socket (client->msg);
  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
  soup_message_body_complete (soup_server_message_get_response_body (client->msg));
  soup_server_message_unpause (client->msg);
}

void
spot_sse_client_end (SpotSseClient *client)
{
  if (client->over || client->ending)
    return;
  detach (client);
  client->ending = TRUE;
  soup_message_body_complete (soup_server_message_get_response_body (client->msg));
  soup_server_message_unpause (client->msg);
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
                                           (const char *const *) client->sel.products,
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

SpotSseClient *
spot_sse_client_start (SoupServerMessage *msg,
                       SpotStreamSelection *selection,
                       const SpotSseClientConfig *config,
                       SpotSseClientDoneFunc done,
                       gpointer user_data)
{
  SpotSseClient *client = g_new0 (SpotSseClient, 1);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  GSocket *socket;

  client->msg = g_object_ref (msg);
  client->sel = *selection;
  memset (selection, 0, sizeof *selection);
  client->config = *config;
  if (client->config.hub != NULL)
    g_object_ref (client->config.hub);
  if (client->config.cache != NULL)
    g_object_ref (client->config.cache);
  client->done = done;
  client->done_data = user_data;
  g_queue_init (&client->chunks);

  client->product_index = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint p = 0; p < client->sel.n_products; p++)
    g_hash_table_insert (client->product_index, client->sel.products[p],
                         GUINT_TO_POINTER (p * SPOT_GRANULARITY_COUNT + 1));
  client->n_slots = client->sel.n_products * SPOT_GRANULARITY_COUNT;
  client->shown = g_new0 (Shown, client->n_slots);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (headers, "text/event-stream", NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_message_headers_replace (headers, "X-Accel-Buffering", "no");
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);

  client->wrote_chunk_id = g_signal_connect (msg, "wrote-chunk", G_CALLBACK (on_wrote_chunk), client);
  client->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_finished), client);

  if (config->metrics != NULL)
    spot_gauge_inc (config->metrics->sse_clients);

  /* Subscribe before the snapshot: an update racing with it is then
   * delivered later and the greatest-start rule settles the order. */
  if (client->config.hub != NULL)
    client->hub_id = spot_candle_hub_subscribe (client->config.hub,
                                                (const char *const *) client->sel.products,
                                                client->sel.granularities, on_candles, client,
                                                NULL);
  write_initial_state (client);

  if (config->keepalive_ms > 0)
    client->keepalive_id = g_timeout_add (config->keepalive_ms, on_keepalive, client);

  socket = soup_server_message_get_socket (msg);
  if (socket != NULL)
    {
      client->eof_source = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
      g_source_set_callback (client->eof_source, (GSourceFunc) (void (*) (void)) on_socket_readable,
                             client, NULL);
      g_source_attach (client->eof_source, g_main_context_get_thread_default ());
    }
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
  out->unflushed = client->unflushed;
}

void
spot_sse_client_free (SpotSseClient *client)
{
  if (client == NULL)
    return;
  detach (client);
  if (!client->over)
    {
      g_clear_signal_handler (&client->wrote_chunk_id, client->msg);
      g_clear_signal_handler (&client->finished_id, client->msg);
      if (client->config.metrics != NULL)
        spot_gauge_dec (client->config.metrics->sse_clients);
    }
  g_clear_object (&client->config.hub);
  g_clear_object (&client->config.cache);
  g_clear_pointer (&client->pending, g_hash_table_unref);
  g_queue_clear (&client->chunks);
  g_hash_table_unref (client->product_index);
  g_free (client->shown);
  spot_stream_selection_clear (&client->sel);
  g_object_unref (client->msg);
  g_free (client);
}
