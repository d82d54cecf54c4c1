/* bench-sse-reader.c: see bench-sse-reader.h. */
#define G_LOG_DOMAIN "spot-bench"

#include "config.h"

#include "bench-sse-reader.h"

#include <gio/gio.h>
#include <string.h>

#include "model/spot-time.h"

struct _BenchSseReader
{
  GSocketConnection *connection;
  GCancellable *cancellable;
  GThread *thread;
  BenchSseFunc func;
  gpointer func_data;
  gint lines; /* atomic */
};

/* Hands on every live element of one line. */
static void
scan_line (BenchSseReader *reader, const char *line, gsize len, gint64 read_ns)
{
  const char *end = line + len;
  const char *at = line;

  while ((at = g_strstr_len (at, end - at, "<spot-candle ")) != NULL)
    {
      const char *close = memchr (at, '>', end - at);
      const char *ts;
      gint64 ts_ns;

      if (close == NULL)
        return;
      ts = g_strstr_len (at, close - at, " ts=\"");
      if (g_strstr_len (at, close - at, " complete=\"false\"") != NULL && ts != NULL)
        {
          const char *value = ts + 5;
          const char *quote = memchr (value, '"', close - value);

          if (quote != NULL && quote > value
              && spot_time_parse_rfc3339 (value, quote - value, &ts_ns, NULL))
            reader->func (ts_ns, read_ns, reader->func_data);
        }
      at = close;
    }
}

static gpointer
reader_thread (gpointer data)
{
  BenchSseReader *reader = data;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (reader->connection));
  g_autoptr (GByteArray) buf = g_byte_array_sized_new (1 << 20);
  gsize scanned = 0; /* bytes of buf without a newline */
  guint8 chunk[65536];

  for (;;)
    {
      gssize n = g_input_stream_read (in, chunk, sizeof chunk, reader->cancellable, NULL);
      gint64 read_ns = spot_time_now_ns ();
      gsize start = 0;

      if (n <= 0)
        break;
      g_byte_array_append (buf, chunk, (guint)n);
      for (gsize i = scanned; i < buf->len; i++)
        {
          if (buf->data[i] != '\n')
            continue;
          const char *line = (const char *)buf->data + start;
          gsize len = i - start;

          if (g_atomic_int_add (&reader->lines, 1) == 0
              && !(len >= 12 && memcmp (line, "HTTP/1.1 200", 12) == 0))
            {
              g_printerr ("bench: /stream answered %.*s\n", (int)MIN (len, 80), line);
              return NULL;
            }
          if (len > 15 && memcmp (line, "data: elements ", 15) == 0)
            scan_line (reader, line, len, read_ns);
          start = i + 1;
        }
      g_byte_array_remove_range (buf, 0, (guint)start);
      scanned = buf->len;
    }
  return NULL;
}

BenchSseReader *
bench_sse_reader_open (const char *base_url,
                       const char *path_and_query,
                       BenchSseFunc func,
                       gpointer user_data,
                       GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GUri) uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, error);
  g_autofree char *request = NULL;
  GOutputStream *out;
  BenchSseReader *reader;

  if (uri == NULL)
    return NULL;
  reader = g_new0 (BenchSseReader, 1);
  reader->func = func;
  reader->func_data = user_data;
  reader->cancellable = g_cancellable_new ();
  reader->connection = g_socket_client_connect_to_host (
      client, g_uri_get_host (uri), (guint16)g_uri_get_port (uri), NULL, error);
  if (reader->connection == NULL)
    {
      bench_sse_reader_close (reader);
      return NULL;
    }
  request = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n",
                             path_and_query, g_uri_get_host (uri));
  out = g_io_stream_get_output_stream (G_IO_STREAM (reader->connection));
  if (!g_output_stream_write_all (out, request, strlen (request), NULL, NULL, error))
    {
      bench_sse_reader_close (reader);
      return NULL;
    }
  reader->thread = g_thread_new ("bench-sse", reader_thread, reader);
  return reader;
}

guint64
bench_sse_reader_lines (BenchSseReader *reader)
{
  return (guint64)g_atomic_int_get (&reader->lines);
}

void
bench_sse_reader_close (BenchSseReader *reader)
{
  if (reader == NULL)
    return;
  g_cancellable_cancel (reader->cancellable);
  if (reader->connection != NULL)
    g_io_stream_close (G_IO_STREAM (reader->connection), NULL, NULL);
  if (reader->thread != NULL)
    g_thread_join (reader->thread);
  g_clear_object (&reader->connection);
  g_clear_object (&reader->cancellable);
  g_free (reader);
}
