/* spot-time.h: exchange timestamps.
 *
 * Times inside the service are gint64 nanoseconds since the Unix epoch (UTC);
 * candle starts are gint64 seconds. Coinbase sends RFC 3339 with up to nine
 * fraction digits ("2026-04-07T14:30:02.789012345Z").
 *
 * Thread safety: pure functions; call from any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SPOT_TIME_BUFSIZE 40
#define SPOT_NS_PER_SECOND G_GINT64_CONSTANT (1000000000)

/* Parses RFC 3339 ("Z" or "+hh:mm"/"-hh:mm" offsets, 0-9 fraction digits).
 * @len may be -1. Fails with SPOT_ERROR_PARSE naming the text. Never
 * allocates on success. Lower-case 't'/'z' are accepted; a space separator,
 * leap seconds (:60), impossible dates (2026-02-30) and times outside the
 * 64-bit nanosecond range (1677-09-21 ... 2262-04-11) are rejected. */
gboolean spot_time_parse_rfc3339 (const char *text, gssize len, gint64 *out_ns, GError **error);

/* Writes "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (UTC, always nine digits) into
 * @buf of at least SPOT_TIME_BUFSIZE bytes; returns the length. */
gsize spot_time_format_rfc3339 (gint64 ns, char *buf, gsize size);

/* Wall clock now, nanoseconds since the epoch. */
gint64 spot_time_now_ns (void);

G_END_DECLS
