/* spot-log-filter.c: LOG_LEVEL on top of g_log_writer_default(). */
#define G_LOG_DOMAIN "spot-config"

#include "config/spot-log-filter.h"

static SpotLogLevel threshold = SPOT_LOG_LEVEL_MESSAGE;

gboolean
spot_log_filter_drops (SpotLogLevel level, GLogLevelFlags log_level)
{
  switch (log_level & G_LOG_LEVEL_MASK)
    {
    case G_LOG_LEVEL_DEBUG:
      return level > SPOT_LOG_LEVEL_DEBUG;
    case G_LOG_LEVEL_INFO:
      return level > SPOT_LOG_LEVEL_INFO;
    case G_LOG_LEVEL_MESSAGE:
      return level > SPOT_LOG_LEVEL_MESSAGE;
    default:
      return FALSE; /* warnings, criticals and errors always pass */
    }
}

static GLogWriterOutput
filter_writer (GLogLevelFlags log_level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  GLogLevelFlags level = log_level & G_LOG_LEVEL_MASK;

  /* Below the threshold, debug and info still pass to the default writer,
   * which shows them only for the domains in G_MESSAGES_DEBUG. */
  if (spot_log_filter_drops (threshold, log_level) && level != G_LOG_LEVEL_DEBUG
      && level != G_LOG_LEVEL_INFO)
    return G_LOG_WRITER_HANDLED;
  if (level == G_LOG_LEVEL_DEBUG && threshold == SPOT_LOG_LEVEL_INFO
      && g_getenv ("G_MESSAGES_DEBUG") == NULL)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

void
spot_log_filter_install (SpotLogLevel level)
{
  threshold = level;
  g_log_writer_default_set_use_stderr (TRUE);
  if (level <= SPOT_LOG_LEVEL_INFO)
    g_log_set_debug_enabled (TRUE);
  g_log_set_writer_func (filter_writer, NULL, NULL);
}
