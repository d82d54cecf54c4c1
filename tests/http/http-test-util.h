/* http-test-util.h: a real HTTP client for the server tests.
 *
 * The server under test runs on the test's main context, so every client
 * call runs on its own thread (its own SoupSession) while the main context
 * is iterated until the answer is in.
 */
#pragma once

#include <libsoup/soup.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

typedef struct
{
  guint status;
  SoupMessageHeaders *headers;
  char *body;
  gsize length;
} HttpResult;

void http_result_free (HttpResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpResult, http_result_free)

/* @headers: NULL or NULL-terminated name, value pairs. */
HttpResult *http_test_request (const char *method, const char *url, const char *const *headers);
HttpResult *http_test_get (guint16 port, const char *path_and_query);

/* A streaming reader of one SSE response. */
typedef struct _SseReader SseReader;

SseReader *sse_reader_open (guint16 port, const char *path_and_query);
/* Iterates the main context until the text received so far contains
 * @needle (after @from bytes) or @timeout_ms passed. Returns the offset just
 * after the match, or -1. */
gssize sse_reader_wait_for (SseReader *reader, const char *needle, gsize from, guint timeout_ms);
/* Iterates until the server ended the response (EOF) or @timeout_ms. */
gboolean sse_reader_wait_eof (SseReader *reader, guint timeout_ms);
const char *sse_reader_text (SseReader *reader);
guint sse_reader_status (SseReader *reader);
/* Number of "event:" lines received so far. */
guint sse_reader_count_events (SseReader *reader);
void sse_reader_close (SseReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SseReader, sse_reader_close)

/* Iterates the default context until @done returns TRUE or @timeout_ms. */
gboolean http_test_wait_until (gboolean (*done) (gpointer), gpointer data, guint timeout_ms);
/* Iterates the default context for @ms. */
void http_test_spin (guint ms);

/* A valid live candle: OHLC @close, volume 1, 5 trades, ts = now. */
SpotCandle http_test_candle (
    const char *product, SpotGranularity g, gint64 start, guint64 rev, const char *close);

/* Open file descriptors of this process and its resident set in kB. */
guint http_test_count_fds (void);
guint64 http_test_rss_kb (void);

G_END_DECLS
