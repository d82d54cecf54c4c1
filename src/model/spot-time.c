/* spot-time.c: RFC 3339 timestamps without libc time zone machinery.
 *
 * mktime/timegm depend on TZ and locale state and are slow; the civil date
 * conversion is plain integer arithmetic on the proleptic Gregorian calendar. */
#define G_LOG_DOMAIN "spot-model"

#include "model/spot-time.h"

#include <string.h>
#include <time.h>

#include "core/spot-error.h"

#define SECONDS_PER_DAY G_GINT64_CONSTANT (86400)

static gboolean
is_leap_year (gint64 y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month (gint64 y, int m)
{
  static const guint8 days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  return m == 2 && is_leap_year (y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 for a valid civil date. Years are counted from
 * March so the leap day is the last day of the counted year; 400-year eras
 * hold exactly 146097 days. */
static gint64
days_from_civil (gint64 y, int m, int d)
{
  if (m <= 2)
    y--;
  gint64 era = (y >= 0 ? y : y - 399) / 400;
  gint64 year_of_era = y - era * 400;                            /* 0 ... 399 */
  int month_from_march = m > 2 ? m - 3 : m + 9;                  /* 0 ... 11 */
  gint64 day_of_year = (153 * month_from_march + 2) / 5 + d - 1; /* 0 ... 365 */
  gint64 day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  /* 719468 days lie between 0000-03-01 and 1970-01-01. */
  return era * 146097 + day_of_era - 719468;
}

static void
civil_from_days (gint64 days, gint64 *out_y, int *out_m, int *out_d)
{
  days += 719468;
  gint64 era = (days >= 0 ? days : days - 146096) / 146097;
  gint64 day_of_era = days - era * 146097;
  gint64 year_of_era
      = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  gint64 day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  gint64 month_from_march = (5 * day_of_year + 2) / 153;
  int d = (int)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  int m = (int)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  gint64 y = year_of_era + era * 400 + (m <= 2 ? 1 : 0);

  *out_y = y;
  *out_m = m;
  *out_d = d;
}

/* Reads exactly @n digits at *p; FALSE when one is not a digit. */
static inline gboolean
read_digits (const char **p, const char *end, int n, int *out)
{
  int v = 0;

  if (end - *p < n)
    return FALSE;
  for (int i = 0; i < n; i++)
    {
      guint c = (guint)((*p)[i] - '0');
      if (c > 9)
        return FALSE;
      v = v * 10 + (int)c;
    }
  *p += n;
  *out = v;
  return TRUE;
}

static inline gboolean
expect (const char **p, const char *end, char c)
{
  if (*p >= end || **p != c)
    return FALSE;
  (*p)++;
  return TRUE;
}

static gboolean
fail (GError **error, const char *text, gsize n, const char *why)
{
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "\"%.*s%s\" is not an RFC 3339 time: %s",
               (int)MIN (n, 64), text, n > 64 ? "..." : "", why);
  return FALSE;
}

gboolean
spot_time_parse_rfc3339 (const char *text, gssize len, gint64 *out_ns, GError **error)
{
  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (out_ns != NULL, FALSE);

  gsize n = len < 0 ? strlen (text) : (gsize)len;
  const char *p = text;
  const char *end = text + n;
  int year, month, day, hour, minute, second;

  if (!read_digits (&p, end, 4, &year) || !expect (&p, end, '-')
      || !read_digits (&p, end, 2, &month) || !expect (&p, end, '-')
      || !read_digits (&p, end, 2, &day))
    return fail (error, text, n, "expected YYYY-MM-DD");
  if (p >= end || (*p != 'T' && *p != 't'))
    return fail (error, text, n, "expected 'T' after the date");
  p++;
  if (!read_digits (&p, end, 2, &hour) || !expect (&p, end, ':')
      || !read_digits (&p, end, 2, &minute) || !expect (&p, end, ':')
      || !read_digits (&p, end, 2, &second))
    return fail (error, text, n, "expected hh:mm:ss");

  gint64 fraction_ns = 0;
  if (p < end && *p == '.')
    {
      static const gint64 scale[10]
          = { 0, 100000000, 10000000, 1000000, 100000, 10000, 1000, 100, 10, 1 };
      int digits = 0;

      p++;
      while (p < end && (guint)(*p - '0') <= 9)
        {
          if (++digits > 9)
            return fail (error, text, n, "more than 9 fraction digits");
          fraction_ns = fraction_ns * 10 + (*p - '0');
          p++;
        }
      if (digits == 0)
        return fail (error, text, n, "expected digits after '.'");
      fraction_ns *= scale[digits];
    }

  gint64 offset_s = 0;
  if (p < end && (*p == 'Z' || *p == 'z'))
    p++;
  else if (p < end && (*p == '+' || *p == '-'))
    {
      int sign = *p == '-' ? -1 : 1;
      int off_h, off_m;

      p++;
      if (!read_digits (&p, end, 2, &off_h) || !expect (&p, end, ':')
          || !read_digits (&p, end, 2, &off_m))
        return fail (error, text, n, "expected a +hh:mm or -hh:mm offset");
      if (off_h > 23 || off_m > 59)
        return fail (error, text, n, "offset out of range");
      offset_s = sign * (off_h * 3600 + off_m * 60);
    }
  else
    return fail (error, text, n, "expected 'Z' or a numeric offset");

  if (p != end)
    return fail (error, text, n, "unexpected text after the time");
  if (month < 1 || month > 12)
    return fail (error, text, n, "month out of range");
  if (day < 1 || day > days_in_month (year, month))
    return fail (error, text, n, "day out of range for the month");
  /* Leap seconds (:60) never appear in exchange data; refusing them keeps
   * every accepted text mapping to one instant. */
  if (hour > 23 || minute > 59 || second > 59)
    return fail (error, text, n, "time of day out of range");

  gint64 seconds = days_from_civil (year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60
                   + second - offset_s;
  gint64 ns;
  /* Borrow a second so the very first representable instant (1677) fits. */
  if (seconds < 0 && fraction_ns > 0)
    {
      seconds++;
      fraction_ns -= SPOT_NS_PER_SECOND;
    }
  if (__builtin_mul_overflow (seconds, SPOT_NS_PER_SECOND, &ns)
      || __builtin_add_overflow (ns, fraction_ns, &ns))
    return fail (error, text, n, "outside the range of 64-bit nanoseconds (1677 to 2262)");

  *out_ns = ns;
  return TRUE;
}

static inline char *
put2 (char *p, int v)
{
  p[0] = (char)('0' + v / 10);
  p[1] = (char)('0' + v % 10);
  return p + 2;
}

gsize
spot_time_format_rfc3339 (gint64 ns, char *buf, gsize size)
{
  g_return_val_if_fail (buf != NULL, 0);
  g_return_val_if_fail (size >= 31, 0);

  gint64 seconds = ns / SPOT_NS_PER_SECOND;
  gint64 frac = ns % SPOT_NS_PER_SECOND;
  if (frac < 0)
    {
      frac += SPOT_NS_PER_SECOND;
      seconds--;
    }
  gint64 days = seconds / SECONDS_PER_DAY;
  gint64 sod = seconds % SECONDS_PER_DAY;
  if (sod < 0)
    {
      sod += SECONDS_PER_DAY;
      days--;
    }

  gint64 y;
  int m, d;
  civil_from_days (days, &y, &m, &d);

  /* 64-bit nanoseconds span 1677 ... 2262, always four year digits. */
  char *p = buf;
  p = put2 (p, (int)(y / 100));
  p = put2 (p, (int)(y % 100));
  *p++ = '-';
  p = put2 (p, m);
  *p++ = '-';
  p = put2 (p, d);
  *p++ = 'T';
  p = put2 (p, (int)(sod / 3600));
  *p++ = ':';
  p = put2 (p, (int)(sod / 60 % 60));
  *p++ = ':';
  p = put2 (p, (int)(sod % 60));
  *p++ = '.';
  for (int i = 8; i >= 0; i--)
    {
      p[i] = (char)('0' + frac % 10);
      frac /= 10;
    }
  p += 9;
  *p++ = 'Z';
  *p = '\0';
  return (gsize)(p - buf);
}

gint64
spot_time_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (gint64)ts.tv_sec * SPOT_NS_PER_SECOND + ts.tv_nsec;
}
