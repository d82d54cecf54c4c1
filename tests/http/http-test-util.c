/* http-test-util.c: HTTP client helpers on threads. */
#define G_LOG_DOMAIN "spot-test"

#include "http-test-util.h"

#include <string.h>

#include "model/spot-time.h"

void
http_result_free (HttpResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->headers, soup_message_headers_unref);
  g_free (result->body);
  g_free (result);
}

gboolean
http_test_wait_until (gboolean (*done) (gpointer), gpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  while (!done (data))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (200);
    }
  return TRUE;
}

void
http_test_spin (guint ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (500);
    }
}

typedef struct
{
  char *method;
  char *url;
  GStrv headers;
  HttpResult *result;
  gint done;
} Request;

static gpointer
request_thread (gpointer data)
{
  Request *req = data;
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (SoupSession) session = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  HttpResult *result = g_new0 (HttpResult, 1);

  g_main_context_push_thread_default (context);
  session = soup_session_new_with_options ("timeout", 30, NULL);
  msg = soup_message_new (req->method, req->url);
  g_assert_nonnull (msg);
  for (guint i = 0; req->headers != NULL && req->headers[i] != NULL; i += 2)
    soup_message_headers_replace (soup_message_get_request_headers (msg), req->headers[i],
                                  req->headers[i + 1]);
  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  result->status = soup_message_get_status (msg);
  result->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  result->body = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  result->length = g_bytes_get_size (body);
  req->result = result;
  g_main_context_pop_thread_default (context);
  g_atomic_int_set (&req->done, 1);
  return NULL;
}

static gboolean
request_done (gpointer data)
{
  return g_atomic_int_get (&((Request *)data)->done) != 0;
}

HttpResult *
http_test_request (const char *method, const char *url, const char *const *headers)
{
  Request req = { 0 };
  GThread *thread;
  HttpResult *result;

  req.method = g_strdup (method);
  req.url = g_strdup (url);
  req.headers = g_strdupv ((char **)headers);
  thread = g_thread_new ("http-test-request", request_thread, &req);
  g_assert_true (http_test_wait_until (request_done, &req, 30000));
  g_thread_join (thread);
  result = req.result;
  g_free (req.method);
  g_free (req.url);
  g_strfreev (req.headers);
  return result;
}

HttpResult *
http_test_get (guint16 port, const char *path_and_query)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", port, path_and_query);

  return http_test_request ("GET", url, NULL);
}

/* ---- SSE reader ------------------------------------------------------- */

struct _SseReader
{
  char *url;
  GThread *thread;
  GCancellable *cancellable;
  GMutex lock;
  GString *text; /* under lock */
  guint status;  /* under lock */
  gboolean eof;  /* under lock */
  GString *copy; /* main-thread snapshot */
};

static gpointer
sse_thread (gpointer data)
{
  SseReader *reader = data;
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (SoupSession) session = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GInputStream) stream = NULL;
  char buf[16384];

  g_main_context_push_thread_default (context);
  session = soup_session_new ();
  msg = soup_message_new ("GET", reader->url);
  stream = soup_session_send (session, msg, reader->cancellable, NULL);
  g_mutex_lock (&reader->lock);
  reader->status = soup_message_get_status (msg);
  g_mutex_unlock (&reader->lock);
  while (stream != NULL)
    {
      gssize n = g_input_stream_read (stream, buf, sizeof buf, reader->cancellable, NULL);

      if (n <= 0)
        break;
      g_mutex_lock (&reader->lock);
      g_string_append_len (reader->text, buf, n);
      g_mutex_unlock (&reader->lock);
    }
  if (stream != NULL)
    g_input_stream_close (stream, NULL, NULL);
  g_mutex_lock (&reader->lock);
  reader->eof = TRUE;
  g_mutex_unlock (&reader->lock);
  g_clear_object (&stream);
  g_clear_object (&msg);
  g_clear_object (&session);
  g_main_context_pop_thread_default (context);
  return NULL;
}

SseReader *
sse_reader_open (guint16 port, const char *path_and_query)
{
  SseReader *reader = g_new0 (SseReader, 1);

  reader->url = g_strdup_printf ("http://127.0.0.1:%u%s", port, path_and_query);
  reader->cancellable = g_cancellable_new ();
  g_mutex_init (&reader->lock);
  reader->text = g_string_new (NULL);
  reader->copy = g_string_new (NULL);
  reader->thread = g_thread_new ("sse-reader", sse_thread, reader);
  return reader;
}

static void
snapshot (SseReader *reader)
{
  g_mutex_lock (&reader->lock);
  g_string_assign (reader->copy, reader->text->str);
  g_mutex_unlock (&reader->lock);
}

const char *
sse_reader_text (SseReader *reader)
{
  snapshot (reader);
  return reader->copy->str;
}

guint
sse_reader_status (SseReader *reader)
{
  guint status;

  g_mutex_lock (&reader->lock);
  status = reader->status;
  g_mutex_unlock (&reader->lock);
  return status;
}

guint
sse_reader_count_events (SseReader *reader)
{
  const char *p = sse_reader_text (reader);
  guint n = 0;

  while ((p = strstr (p, "event: ")) != NULL)
    {
      n++;
      p += 7;
    }
  return n;
}

gssize
sse_reader_wait_for (SseReader *reader, const char *needle, gsize from, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  for (;;)
    {
      const char *text = sse_reader_text (reader);
      const char *hit = strlen (text) > from ? strstr (text + from, needle) : NULL;

      if (hit != NULL)
        return (hit - text) + strlen (needle);
      if (g_get_monotonic_time () > deadline)
        return -1;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (500);
    }
}

gboolean
sse_reader_wait_eof (SseReader *reader, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  for (;;)
    {
      gboolean eof;

      g_mutex_lock (&reader->lock);
      eof = reader->eof;
      g_mutex_unlock (&reader->lock);
      if (eof)
        return TRUE;
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (500);
    }
}

static gboolean
thread_finished (gpointer data)
{
  SseReader *reader = data;
  gboolean eof;

  g_mutex_lock (&reader->lock);
  eof = reader->eof;
  g_mutex_unlock (&reader->lock);
  return eof;
}

void
sse_reader_close (SseReader *reader)
{
  if (reader == NULL)
    return;
  g_cancellable_cancel (reader->cancellable);
  /* Keep the server's context running while the reader thread unwinds. */
  http_test_wait_until (thread_finished, reader, 10000);
  g_thread_join (reader->thread);
  g_object_unref (reader->cancellable);
  g_mutex_clear (&reader->lock);
  g_string_free (reader->text, TRUE);
  g_string_free (reader->copy, TRUE);
  g_free (reader->url);
  g_free (reader);
}

/* ---- candles and process figures ------------------------------------- */

SpotCandle
http_test_candle (
    const char *product, SpotGranularity g, gint64 start, guint64 rev, const char *close)
{
  SpotCandle c = { 0 };

  g_strlcpy (c.product_id, product, sizeof c.product_id);
  c.granularity = g;
  c.start = spot_granularity_align (g, start);
  g_assert_true (spot_decimal_parse (close, -1, &c.open, NULL));
  c.high = c.open;
  c.low = c.open;
  c.close = c.open;
  c.volume = spot_decimal_from_int (1);
  c.trades = 5;
  c.last_trade_id = 1000 + rev;
  c.rev = rev;
  c.ts_ns = spot_time_now_ns ();
  return c;
}

guint
http_test_count_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n > 0 ? n - 1 : 0; /* the directory's own fd */
}

guint64
http_test_rss_kb (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmRSS:");
  return line != NULL ? g_ascii_strtoull (line + 6, NULL, 10) : 0;
}
