/* bench-sse-reader.h: a lean /stream reader for latency measurement.
 *
 * A plain HTTP/1.1 GET on a blocking socket, read on its own thread. Each
 * `data: elements` line is stamped with the time the read that completed it
 * returned, before anything is parsed, so the figure is the pipeline's and
 * not the reader's: a general client (libsoup body stream, a per-element
 * parser) added tens of milliseconds at 2,000 elements/s here.
 *
 * For every live <spot-candle> element of a stamped line the callback gets
 * the element's ts (exchange message timestamp, ns) and the stamp; complete
 * candles and elements without ts are skipped.
 *
 * Thread safety: open and close on one thread; the callback runs on the
 * reader's thread. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef void (*BenchSseFunc) (gint64 ts_ns, gint64 read_ns, gpointer user_data);

typedef struct _BenchSseReader BenchSseReader;

/* @base_url is "http://HOST:PORT"; @path_and_query starts with '/'. */
BenchSseReader *bench_sse_reader_open (const char *base_url,
                                       const char *path_and_query,
                                       BenchSseFunc func,
                                       gpointer user_data,
                                       GError **error);
/* Lines seen so far (any kind). Any thread. */
guint64 bench_sse_reader_lines (BenchSseReader *reader);
void bench_sse_reader_close (BenchSseReader *reader);

G_END_DECLS
