/* dbus-test-log.h: captures the spot-dbus log domain's messages and warnings.
 *
 * GLib 2.74's g_test_expect_message() does not see structured logging, so
 * the tests install this writer. Captured messages are not fatal; other
 * domains go to the default writer. Header-only, included once per program.
 */
#pragma once

#include <glib.h>
#include <string.h>

static GPtrArray *dbus_test_log_messages;

static GLogWriterOutput
dbus_test_log_writer (GLogLevelFlags level,
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
  if ((level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE)) != 0
      && g_strcmp0 (domain, "spot-dbus") == 0 && message != NULL)
    {
      g_ptr_array_add (dbus_test_log_messages, g_strdup (message));
      g_test_message ("captured: %s", message);
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static inline void
dbus_test_log_init (void)
{
  dbus_test_log_messages = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (dbus_test_log_writer, NULL, NULL);
}

/* Number of captured messages matching the glob @pattern; clears all. */
static inline guint
dbus_test_log_take (const char *pattern)
{
  guint matches = 0;

  for (guint i = 0; i < dbus_test_log_messages->len; i++)
    if (g_pattern_match_simple (pattern, g_ptr_array_index (dbus_test_log_messages, i)))
      matches++;
  g_ptr_array_set_size (dbus_test_log_messages, 0);
  return matches;
}
