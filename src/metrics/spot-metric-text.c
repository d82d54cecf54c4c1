/* spot-metric-text.c: pieces of the Prometheus text exposition format 0.0.4. */
#define G_LOG_DOMAIN "spot-metrics"

#include "metrics/spot-metric-text.h"

#include <math.h>

/* Doubles hold every integer exactly up to 2^53. */
#define SPOT_EXACT_INTEGER_LIMIT 9007199254740992.0

void
spot_metric_text_append_uint64 (GString *out, guint64 value)
{
  char buf[24];
  char *p = buf + sizeof buf;

  do
    {
      *--p = (char)('0' + value % 10);
      value /= 10;
    }
  while (value != 0);
  g_string_append_len (out, p, buf + sizeof buf - p);
}

void
spot_metric_text_append_int64 (GString *out, gint64 value)
{
  if (value < 0)
    {
      g_string_append_c (out, '-');
      /* Negate in unsigned arithmetic: -G_MININT64 does not fit. */
      spot_metric_text_append_uint64 (out, (guint64)0 - (guint64)value);
      return;
    }
  spot_metric_text_append_uint64 (out, (guint64)value);
}

/* Fast path for values with few decimals (prices, ratios, sums of
 * microseconds): the smallest k with r = round (|v| * 10^k) and r / 10^k == |v|
 * in double arithmetic. r < 2^53 and 10^k are exact doubles and both the
 * division and strtod round correctly, so the decimal r * 10^-k reads back as
 * exactly |v|. printf ("%.15g") costs about 1 us here; this costs tens of ns. */
static gboolean
append_short_decimal (GString *out, double value)
{
  static const double powers[] = {
    1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
  };
  double magnitude = fabs (value);

  for (guint k = 0; k < G_N_ELEMENTS (powers); k++)
    {
      double scaled = magnitude * powers[k];
      double rounded;
      char digits[24];
      char *p;
      guint64 r;
      gsize len;

      if (scaled >= SPOT_EXACT_INTEGER_LIMIT)
        return FALSE;
      rounded = nearbyint (scaled);
      if (rounded / powers[k] != magnitude)
        continue;

      r = (guint64)rounded;
      p = digits + sizeof digits;
      do
        {
          *--p = (char)('0' + r % 10);
          r /= 10;
        }
      while (r != 0);
      len = digits + sizeof digits - p;
      if (value < 0)
        g_string_append_c (out, '-');
      if (len <= k + 1)
        {
          /* 0.000ddd */
          g_string_append (out, "0.");
          for (gsize z = len; z < k + 1; z++)
            g_string_append_c (out, '0');
          g_string_append_len (out, p, len);
        }
      else
        {
          g_string_append_len (out, p, len - (k + 1));
          g_string_append_c (out, '.');
          g_string_append_len (out, p + len - (k + 1), k + 1);
        }
      return TRUE;
    }
  return FALSE;
}

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
      spot_metric_text_append_int64 (out, (gint64)value);
      return;
    }
  if (append_short_decimal (out, value))
    return;
  /* Most other values read back exactly with 15 digits; the rest need 17. */
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
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        default:
          g_string_append_c (out, *p);
          break;
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
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        default:
          g_string_append_c (out, *p);
          break;
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
      gboolean ok = g_ascii_isalpha (*p) || *p == '_' || (allow_colon && *p == ':')
                    || (p != name && g_ascii_isdigit (*p));
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
