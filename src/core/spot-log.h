/* spot-log.h: logging conventions and a rate limiter for hot paths.
 *
 * Every .c file defines G_LOG_DOMAIN ("spot-<area>") before its includes and
 * logs with g_debug/g_info/g_message/g_warning (never g_error). Messages that
 * concern one product, connection or shard use spot_log() so the field is
 * structured and can be filtered in the journal (SPOT_PRODUCT=BTC-USD).
 *
 * Thread safety: all functions may be called from any thread; a SpotRateLimit
 * may be shared between threads.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * SpotRateLimit:
 *
 * Allows @burst messages per @interval_ms window; the first message of the
 * next window reports how many were suppressed in between. Declare it static
 * at the call site with SPOT_RATE_LIMIT_INIT.
 */
typedef struct {
  gint interval_ms;
  gint burst;
  GMutex lock; /* only taken when a message is about to be logged */
  gint64 window_start_ms;
  gint count;
  guint suppressed;
} SpotRateLimit;

#define SPOT_RATE_LIMIT_INIT(interval_ms_, burst_) { (interval_ms_), (burst_), { 0 }, 0, 0, 0 }

/* Returns TRUE when the caller may log now. When TRUE and messages were
 * suppressed since the last allowed one, *suppressed is set to their number
 * (otherwise 0). */
gboolean spot_rate_limit_allow (SpotRateLimit *limit, guint *suppressed);

/* Structured log with optional fields; any of @product, @connection, @shard
 * may be NULL / negative. The message is printf-style. */
void spot_log (GLogLevelFlags level,
               const char *domain,
               const char *product,
               gint connection,
               gint shard,
               const char *format,
               ...) G_GNUC_PRINTF (6, 7);

/* spot_log() through a static rate limiter: at most @burst messages every
 * @interval_ms for this call site, then a note with the count suppressed. */
#define spot_log_limited(interval_ms, burst, level, product, connection, shard, ...) \
  G_STMT_START {                                                                    \
    static SpotRateLimit spot_log_limit_ = SPOT_RATE_LIMIT_INIT (interval_ms, burst); \
    guint spot_log_suppressed_ = 0;                                                 \
    if (spot_rate_limit_allow (&spot_log_limit_, &spot_log_suppressed_))            \
      {                                                                             \
        if (spot_log_suppressed_ > 0)                                               \
          spot_log (level, G_LOG_DOMAIN, product, connection, shard,                \
                    "(%u similar messages suppressed)", spot_log_suppressed_);      \
        spot_log (level, G_LOG_DOMAIN, product, connection, shard, __VA_ARGS__);    \
      }                                                                             \
  } G_STMT_END

G_END_DECLS
