/* spot-log.c: structured logging helpers and the hot-path rate limiter. */
#define G_LOG_DOMAIN "spot-core"

#include "spot-log.h"

#include <stdarg.h>

gboolean
spot_rate_limit_allow (SpotRateLimit *limit, guint *suppressed)
{
  gint64 now_ms = g_get_monotonic_time () / 1000;
  gboolean allowed;

  g_mutex_lock (&limit->lock);
  if (suppressed != NULL)
    *suppressed = 0;
  if (limit->window_start_ms == 0 || now_ms - limit->window_start_ms >= limit->interval_ms)
    {
      limit->window_start_ms = MAX (now_ms, 1);
      limit->count = 0;
      if (suppressed != NULL)
        *suppressed = limit->suppressed;
      limit->suppressed = 0;
    }
  allowed = limit->count < limit->burst;
  if (allowed)
    limit->count++;
  else
    limit->suppressed++;
  g_mutex_unlock (&limit->lock);

  return allowed;
}

void
spot_log (GLogLevelFlags level,
          const char *domain,
          const char *product,
          gint connection,
          gint shard,
          const char *format,
          ...)
{
  va_list args;
  g_autofree char *message = NULL;
  GLogField fields[6];
  gsize n = 0;
  char connection_text[16];
  char shard_text[16];
  const char *priority = "6";

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  switch (level & G_LOG_LEVEL_MASK)
    {
    case G_LOG_LEVEL_ERROR: priority = "3"; break;
    case G_LOG_LEVEL_CRITICAL: priority = "4"; break;
    case G_LOG_LEVEL_WARNING: priority = "4"; break;
    case G_LOG_LEVEL_MESSAGE: priority = "5"; break;
    case G_LOG_LEVEL_INFO: priority = "6"; break;
    default: priority = "7"; break;
    }

  fields[n++] = (GLogField) { "GLIB_DOMAIN", domain != NULL ? domain : "spot", -1 };
  fields[n++] = (GLogField) { "PRIORITY", priority, -1 };
  fields[n++] = (GLogField) { "MESSAGE", message, -1 };
  if (product != NULL)
    fields[n++] = (GLogField) { "SPOT_PRODUCT", product, -1 };
  if (connection >= 0)
    {
      g_snprintf (connection_text, sizeof connection_text, "%d", connection);
      fields[n++] = (GLogField) { "SPOT_CONNECTION", connection_text, -1 };
    }
  if (shard >= 0)
    {
      g_snprintf (shard_text, sizeof shard_text, "%d", shard);
      fields[n++] = (GLogField) { "SPOT_SHARD", shard_text, -1 };
    }

  g_log_structured_array (level, fields, n);
}
