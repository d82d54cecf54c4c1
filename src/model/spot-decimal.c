/* spot-decimal.c: exact decimals as 128-bit units with a per-value scale. */
#define G_LOG_DOMAIN "spot-model"

#include "model/spot-decimal.h"

#include <string.h>

#include "core/spot-error.h"

/* Longest input echoed back in an error message. */
#define ERROR_TEXT_MAX 64

/* 10^0 ... 10^38; 10^38 still fits a signed 128-bit integer. */
static const __int128 pow10_table[39] = {
#define P1 ((__int128)1)
#define E18 ((__int128)G_GUINT64_CONSTANT (1000000000000000000))
  P1,
  P1 * 10,
  P1 * 100,
  P1 * 1000,
  P1 * 10000,
  P1 * 100000,
  P1 * 1000000,
  P1 * 10000000,
  P1 * 100000000,
  P1 * 1000000000,
  P1 * 10000000000,
  P1 * 100000000000,
  P1 * 1000000000000,
  P1 * 10000000000000,
  P1 * 100000000000000,
  P1 * 1000000000000000,
  P1 * 10000000000000000,
  P1 * 100000000000000000,
  E18,
  E18 * 10,
  E18 * 100,
  E18 * 1000,
  E18 * 10000,
  E18 * 100000,
  E18 * 1000000,
  E18 * 10000000,
  E18 * 100000000,
  E18 * 1000000000,
  E18 * 10000000000,
  E18 * 100000000000,
  E18 * 1000000000000,
  E18 * 10000000000000,
  E18 * 100000000000000,
  E18 * 1000000000000000,
  E18 * 10000000000000000,
  E18 * 100000000000000000,
  E18 *E18,
  E18 *E18 * 10,
  E18 *E18 * 100,
#undef P1
#undef E18
};

static void
set_parse_error (GError **error, gint code, const char *text, gsize len, const char *why)
{
  g_set_error (error, SPOT_ERROR, code, "\"%.*s%s\" is not a valid decimal: %s",
               (int)MIN (len, ERROR_TEXT_MAX), text, len > ERROR_TEXT_MAX ? "..." : "", why);
}

gboolean
spot_decimal_parse (const char *text, gssize len, SpotDecimal *out, GError **error)
{
  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  gsize n = len < 0 ? strlen (text) : (gsize)len;
  const char *p = text;
  const char *end = text + n;
  gboolean negative = FALSE;

  if (p < end && *p == '-')
    {
      negative = TRUE;
      p++;
    }

  /* Up to 19 digits accumulate in 64 bits (the usual case); longer numbers
   * continue in 128 bits. */
  guint64 small = 0;
  unsigned __int128 wide = 0;
  guint ndigits = 0;
  gboolean too_big = FALSE;

  const char *int_start = p;
  while (p < end && (guint)(*p - '0') < 10)
    {
      guint digit = (guint)(*p - '0');
      if (G_LIKELY (ndigits < 19))
        small = small * 10 + digit;
      else
        {
          if (ndigits == 19)
            wide = small;
          if (wide > (unsigned __int128)SPOT_DECIMAL_MAX_UNITS)
            too_big = TRUE;
          else
            wide = wide * 10 + digit;
        }
      ndigits++;
      p++;
    }
  gsize int_digits = (gsize)(p - int_start);

  if (int_digits == 0)
    {
      set_parse_error (error, SPOT_ERROR_PARSE, text, n,
                       "expected digits with an optional leading '-' and '.'");
      return FALSE;
    }
  /* Leading zeros would not survive a round trip, and Coinbase never sends them. */
  if (int_digits > 1 && *int_start == '0')
    {
      set_parse_error (error, SPOT_ERROR_PARSE, text, n, "leading zeros are not allowed");
      return FALSE;
    }

  gsize frac_digits = 0;
  if (p < end && *p == '.')
    {
      p++;
      const char *frac_start = p;
      while (p < end && (guint)(*p - '0') < 10)
        {
          guint digit = (guint)(*p - '0');
          if (G_LIKELY (ndigits < 19))
            small = small * 10 + digit;
          else
            {
              if (ndigits == 19)
                wide = small;
              if (wide > (unsigned __int128)SPOT_DECIMAL_MAX_UNITS)
                too_big = TRUE;
              else
                wide = wide * 10 + digit;
            }
          ndigits++;
          p++;
        }
      frac_digits = (gsize)(p - frac_start);
      if (frac_digits == 0)
        {
          set_parse_error (error, SPOT_ERROR_PARSE, text, n, "expected digits after '.'");
          return FALSE;
        }
    }

  if (p != end)
    {
      set_parse_error (error, SPOT_ERROR_PARSE, text, n,
                       "expected digits with an optional leading '-' and '.'");
      return FALSE;
    }
  if (frac_digits > SPOT_DECIMAL_MAX_SCALE)
    {
      set_parse_error (error, SPOT_ERROR_PARSE, text, n,
                       "more than " G_STRINGIFY (SPOT_DECIMAL_MAX_SCALE) " fraction digits");
      return FALSE;
    }

  __int128 units;
  if (G_LIKELY (ndigits <= 19))
    units = (__int128)small;
  else
    {
      if (too_big || wide > (unsigned __int128)SPOT_DECIMAL_MAX_UNITS)
        {
          set_parse_error (
              error, SPOT_ERROR_OVERFLOW, text, n,
              "more than " G_STRINGIFY (SPOT_DECIMAL_MAX_DIGITS) " significant digits");
          return FALSE;
        }
      units = (__int128)wide;
    }

  out->units = negative ? -units : units;
  out->scale = (guint8)frac_digits;
  return TRUE;
}

/* a * 10^shift, FALSE when it leaves the 128-bit range. */
static gboolean
scale_up (__int128 units, guint shift, __int128 *out)
{
  /* Below 10^18 times at most 10^18 stays below 10^36: no check needed. */
  if (G_LIKELY (shift <= SPOT_DECIMAL_MAX_SCALE && units < pow10_table[18]
                && units > -pow10_table[18]))
    {
      *out = units * pow10_table[shift];
      return TRUE;
    }
  if (shift >= G_N_ELEMENTS (pow10_table))
    {
      *out = 0;
      return units == 0;
    }
  return !__builtin_mul_overflow (units, pow10_table[shift], out);
}

int
spot_decimal_compare_slow (const SpotDecimal *a, const SpotDecimal *b)
{
  if (a->scale == b->scale)
    return (a->units > b->units) - (a->units < b->units);

  /* Bring the smaller scale up; if that leaves 128 bits, its magnitude is
   * beyond anything the other value can hold, so its sign decides. */
  if (a->scale < b->scale)
    {
      __int128 ua;
      if (!scale_up (a->units, (guint)(b->scale - a->scale), &ua))
        return a->units < 0 ? -1 : 1;
      return (ua > b->units) - (ua < b->units);
    }
  __int128 ub;
  if (!scale_up (b->units, (guint)(a->scale - b->scale), &ub))
    return b->units < 0 ? 1 : -1;
  return (a->units > ub) - (a->units < ub);
}

static void
set_add_overflow (const SpotDecimal *a, const SpotDecimal *b, GError **error)
{
  char abuf[SPOT_DECIMAL_BUFSIZE];
  char bbuf[SPOT_DECIMAL_BUFSIZE];

  spot_decimal_format (a, abuf, sizeof abuf);
  spot_decimal_format (b, bbuf, sizeof bbuf);
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_OVERFLOW,
               "%s + %s exceeds " G_STRINGIFY (SPOT_DECIMAL_MAX_DIGITS) " significant digits", abuf,
               bbuf);
}

gboolean
spot_decimal_add_slow (const SpotDecimal *a, const SpotDecimal *b, SpotDecimal *out, GError **error)
{
  guint8 scale = MAX (a->scale, b->scale);
  __int128 ua = a->units, ub = b->units, sum;
  gboolean in_range = TRUE;

  /* Only the operand at the smaller scale moves. */
  if (a->scale < b->scale)
    in_range = scale_up (a->units, (guint)(b->scale - a->scale), &ua);
  else if (b->scale < a->scale)
    in_range = scale_up (b->units, (guint)(a->scale - b->scale), &ub);

  if (!in_range || __builtin_add_overflow (ua, ub, &sum) || sum > SPOT_DECIMAL_MAX_UNITS
      || sum < -SPOT_DECIMAL_MAX_UNITS)
    {
      set_add_overflow (a, b, error);
      return FALSE;
    }
  out->units = sum;
  out->scale = scale;
  return TRUE;
}

SpotDecimal
spot_decimal_normalized (const SpotDecimal *d)
{
  SpotDecimal r = *d;

  if (r.units == 0)
    {
      r.scale = 0;
      return r;
    }
  while (r.scale > 0 && r.units % 10 == 0)
    {
      r.units /= 10;
      r.scale--;
    }
  return r;
}

/* Writes the decimal digits of @v backwards ending at @end; returns the start. */
static char *
u64_digits_backwards (guint64 v, char *end, guint min_digits)
{
  char *p = end;
  guint count = 0;

  do
    {
      *--p = (char)('0' + v % 10);
      v /= 10;
      count++;
    }
  while (v != 0 || count < min_digits);
  return p;
}

gsize
spot_decimal_format (const SpotDecimal *d, char *buf, gsize size)
{
  g_return_val_if_fail (d != NULL, 0);
  g_return_val_if_fail (buf != NULL || size == 0, 0);

  /* 39 digits at most plus leading zeros up to the scale, sign and point. */
  char tmp[8 + 39 + 256];
  char *end = tmp + sizeof tmp;
  gboolean negative = d->units < 0;
  unsigned __int128 mag = negative ? -(unsigned __int128)d->units : (unsigned __int128)d->units;
  const guint64 e18 = G_GUINT64_CONSTANT (1000000000000000000);
  char *p;

  /* At most three 64-bit chunks of 18 digits; only values above 10^18 pay
   * for a 128-bit division. */
  if (mag < e18)
    p = u64_digits_backwards ((guint64)mag, end, 1);
  else
    {
      guint64 low = (guint64)(mag % e18);
      unsigned __int128 rest = mag / e18;
      p = u64_digits_backwards (low, end, 18);
      if (rest < e18)
        p = u64_digits_backwards ((guint64)rest, p, 1);
      else
        {
          p = u64_digits_backwards ((guint64)(rest % e18), p, 18);
          p = u64_digits_backwards ((guint64)(rest / e18), p, 1);
        }
    }

  gsize ndigits = (gsize)(end - p);
  char *out = tmp;
  if (negative)
    *out++ = '-';
  if (d->scale == 0)
    {
      memmove (out, p, ndigits);
      out += ndigits;
    }
  else if (ndigits > d->scale)
    {
      gsize int_digits = ndigits - d->scale;
      memmove (out, p, int_digits);
      out += int_digits;
      *out++ = '.';
      memmove (out, p + int_digits, d->scale);
      out += d->scale;
    }
  else
    {
      gsize zeros = d->scale - ndigits;
      *out++ = '0';
      *out++ = '.';
      memset (out, '0', zeros);
      out += zeros;
      memmove (out, p, ndigits);
      out += ndigits;
    }

  gsize length = (gsize)(out - tmp);
  if (length + 1 > size)
    {
      g_critical ("%s: buffer of %" G_GSIZE_FORMAT " bytes is too small", G_STRFUNC, size);
      if (size > 0)
        buf[0] = '\0';
      return 0;
    }
  memcpy (buf, tmp, length);
  buf[length] = '\0';
  return length;
}

char *
spot_decimal_to_string (const SpotDecimal *d)
{
  char buf[SPOT_DECIMAL_BUFSIZE + 256];

  spot_decimal_format (d, buf, sizeof buf);
  return g_strdup (buf);
}

SpotDecimal
spot_decimal_from_int (gint64 v)
{
  SpotDecimal d = { v, 0 };
  return d;
}
