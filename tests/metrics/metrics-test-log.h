/* metrics-test-log.h: captures the warnings of the spot-metrics log domain.
 *
 * GLib 2.74's g_test_expect_message() only sees g_log(), not structured
 * logging (the project builds with G_LOG_USE_STRUCTURED), so tests install
 * this writer instead. Captured warnings are not fatal; everything else goes
 * to the default writer (where warnings and criticals stay fatal).
 * Header-only: each test program includes it once.
 */
#pragma once

#include <glib.h>
#include <string.h>

static GMutex metrics_test_log_lock;
static GPtrArray *metrics_test_log_messages;

static GLogWriterOutput
metrics_test_log_writer (GLogLevelFlags level,
                         const GLogField *fields,
                         gsize n_fields,
                         gpointer user_data)
{
  const char *domain = NULL;
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (strcmp (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
      else if (strcmp (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
    }
  if ((level & G_LOG_LEVEL_WARNING) != 0 && g_strcmp0 (domain, "spot-metrics") == 0
      && message != NULL)
    {
      g_mutex_lock (&metrics_test_log_lock);
      g_ptr_array_add (metrics_test_log_messages, g_strdup (message));
      g_mutex_unlock (&metrics_test_log_lock);
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static inline void
metrics_test_log_init (void)
{
  metrics_test_log_messages = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (metrics_test_log_writer, NULL, NULL);
}

/* Number of captured warnings matching the glob @pattern; clears them all. */
static inline guint
metrics_test_log_take (const char *pattern)
{
  guint matches = 0;

  g_mutex_lock (&metrics_test_log_lock);
  for (guint i = 0; i < metrics_test_log_messages->len; i++)
    {
      const char *message = g_ptr_array_index (metrics_test_log_messages, i);

      if (g_pattern_match_simple (pattern, message))
        matches++;
      else
        g_test_message ("captured warning not matching \"%s\": %s", pattern, message);
    }
  g_ptr_array_set_size (metrics_test_log_messages, 0);
  g_mutex_unlock (&metrics_test_log_lock);
  return matches;
}

static inline guint
metrics_test_log_count (void)
{
  guint n;

  g_mutex_lock (&metrics_test_log_lock);
  n = metrics_test_log_messages->len;
  g_mutex_unlock (&metrics_test_log_lock);
  return n;
}

static inline void
metrics_test_log_clear (void)
{
  g_clear_pointer (&metrics_test_log_messages, g_ptr_array_unref);
}
