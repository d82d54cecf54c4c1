/* spot-decimal.h: exact decimal numbers for prices, sizes and volumes.
 *
 * A SpotDecimal is units / 10^scale with a signed 128-bit integer and a
 * per-value scale, so "68900.50" prints back as "68900.50" and sums are exact.
 * There is no binary floating point anywhere in the candle path.
 *
 * Limits: at most SPOT_DECIMAL_MAX_SCALE digits after the point and at most
 * SPOT_DECIMAL_MAX_DIGITS significant digits in all; arithmetic that would
 * leave that range fails with SPOT_ERROR_OVERFLOW.
 *
 * Thread safety: pure functions on values; call from any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SPOT_DECIMAL_MAX_SCALE 18
#define SPOT_DECIMAL_MAX_DIGITS 36
/* Enough for sign, 36 digits, a point and the terminating NUL. */
#define SPOT_DECIMAL_BUFSIZE 48

typedef struct {
  __int128 units;
  guint8 scale;
} SpotDecimal;

#define SPOT_DECIMAL_ZERO ((SpotDecimal) { 0, 0 })

/* Parses Coinbase's decimal strings: optional '-', digits, optional '.' and
 * digits ("68900.50", "0.00000001", "12", ".5" is rejected). @len may be -1
 * for NUL-terminated text. Rejects empty text, exponents, NaN/Inf, spaces,
 * more than SPOT_DECIMAL_MAX_SCALE fraction digits (SPOT_ERROR_PARSE) and
 * more than SPOT_DECIMAL_MAX_DIGITS significant digits (SPOT_ERROR_OVERFLOW),
 * each with a GError naming the text. Leading zeros ("05", "00.5") are
 * rejected so every accepted text formats back identically; "-0" is accepted
 * as zero. Never allocates on success; @out is untouched on failure. */
gboolean spot_decimal_parse (const char *text, gssize len, SpotDecimal *out, GError **error);

/* Out-of-line halves of the inline functions below (different scales or
 * overflow); call the inline ones instead. */
int spot_decimal_compare_slow (const SpotDecimal *a, const SpotDecimal *b);
gboolean spot_decimal_add_slow (const SpotDecimal *a, const SpotDecimal *b, SpotDecimal *out, GError **error);

/* Largest magnitude a value may hold: 10^36 - 1 units. */
#define SPOT_DECIMAL_MAX_UNITS \
  ((__int128) G_GUINT64_CONSTANT (999999999999999999) * (__int128) G_GUINT64_CONSTANT (1000000000000000000) \
   + (__int128) G_GUINT64_CONSTANT (999999999999999999))

/* Numeric comparison (scales may differ): <0, 0, >0. Inline because the
 * candle engine calls it for every trade and granularity; equal scales
 * cost one 128-bit comparison. */
static inline int
spot_decimal_compare (const SpotDecimal *a, const SpotDecimal *b)
{
  if (G_LIKELY (a->scale == b->scale))
    return (a->units > b->units) - (a->units < b->units);
  return spot_decimal_compare_slow (a, b);
}

static inline gboolean
spot_decimal_equal (const SpotDecimal *a, const SpotDecimal *b)
{
  return spot_decimal_compare (a, b) == 0;
}

/* *out = a + b exactly, at the larger of the two scales. FALSE on overflow
 * (out untouched) with SPOT_ERROR_OVERFLOW naming both operands. @out may
 * be @a or @b. */
static inline gboolean
spot_decimal_add (const SpotDecimal *a, const SpotDecimal *b, SpotDecimal *out, GError **error)
{
  if (G_LIKELY (a->scale == b->scale))
    {
      /* Both operands are within +-(10^36 - 1), so the sum cannot wrap. */
      __int128 sum = a->units + b->units;
      if (G_LIKELY (sum <= SPOT_DECIMAL_MAX_UNITS && sum >= -SPOT_DECIMAL_MAX_UNITS))
        {
          out->units = sum;
          out->scale = a->scale;
          return TRUE;
        }
    }
  return spot_decimal_add_slow (a, b, out, error);
}

static inline gboolean
spot_decimal_is_zero (const SpotDecimal *d)
{
  return d->units == 0;
}

static inline gboolean
spot_decimal_is_negative (const SpotDecimal *d)
{
  return d->units < 0;
}

/* The same value with trailing fraction zeros removed ("1.2300" -> "1.23",
 * "5.0" -> "5"), as Coinbase's REST API prints. */
SpotDecimal spot_decimal_normalized (const SpotDecimal *d);

/* Writes the value at its own scale into @buf (at least SPOT_DECIMAL_BUFSIZE
 * bytes), NUL-terminated; returns the length. Never allocates. A buffer too
 * small for the text gets "" and 0 (and a g_critical). */
gsize spot_decimal_format (const SpotDecimal *d, char *buf, gsize size);

/* Newly allocated text form, at the value's own scale. */
char *spot_decimal_to_string (const SpotDecimal *d);

/* Integer value with scale 0. */
SpotDecimal spot_decimal_from_int (gint64 v);

G_END_DECLS
