/* spot-metric-text.c: pieces of the Prometheus text exposition format 0.0.4. */
#define G_LOG_DOMAIN "spot-metrics"

#include "metrics/spot-metric-text.h"

#include <math.h>

/* Doubles hold every integer exactly up to 2^53. */
#define SPOT_EXACT_INTEGER_LIMIT 9007199254740992.0

void
spot_metric_text_append_double (GString *out, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (value))
    {
      g_string_append (out, "NaN");
      return;
    }
  if (isinf (value))
    {
      g_string_append (out, value > 0 ? "+Inf" : "-Inf");
      return;
    }
  if (value == trunc (value) && fabs (value) <= SPOT_EXACT_INTEGER_LIMIT)
    {
      g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) value);
      return;
    }
  /* Most values read back exactly with 15 digits (0.1 rather than
   * 0.10000000000000001); the rest need 17. */
  g_ascii_formatd (buf, sizeof buf, "%.15g", value);
  if (g_ascii_strtod (buf, NULL) != value)
    g_ascii_formatd (buf, sizeof buf, "%.17g", value);
  g_string_append (out, buf);
}

void
spot_metric_text_append_label_value (GString *out, const char *value)
{
  for (const char *p = value; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '\\': g_string_append (out, "\\\\"); break;
        case '"': g_string_append (out, "\\\""); break;
        case '\n': g_string_append (out, "\\n"); break;
        default: g_string_append_c (out, *p); break;
        }
    }
}

void
spot_metric_text_append_help (GString *out, const char *help)
{
  for (const char *p = help; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        default: g_string_append_c (out, *p); break;
        }
    }
}

static gboolean
name_chars_valid (const char *name, gboolean allow_colon)
{
  if (name == NULL || name[0] == '\0')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    {
      gboolean ok = g_ascii_isalpha (*p) || *p == '_' || (allow_colon && *p == ':') ||
                    (p != name && g_ascii_isdigit (*p));
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

gboolean
spot_metric_text_name_is_valid (const char *name)
{
  return name_chars_valid (name, TRUE);
}

gboolean
spot_metric_text_label_name_is_valid (const char *name)
{
  return name_chars_valid (name, FALSE) && !g_str_has_prefix (name, "__");
}
