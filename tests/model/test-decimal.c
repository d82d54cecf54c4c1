/* test-decimal.c: exact decimals. */
#include "model/spot-decimal.h"

#include "core/spot-error.h"

static SpotDecimal
parse_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  SpotDecimal d = SPOT_DECIMAL_ZERO;

  g_assert_true (spot_decimal_parse (text, -1, &d, &error));
  g_assert_no_error (error);
  return d;
}

static void
assert_round_trip (const char *text)
{
  SpotDecimal d = parse_ok (text);
  char buf[SPOT_DECIMAL_BUFSIZE];
  gsize n = spot_decimal_format (&d, buf, sizeof buf);

  g_assert_cmpstr (buf, ==, text);
  g_assert_cmpuint (n, ==, strlen (text));
}

static void
test_decimal_parses_coinbase_strings (void)
{
  SpotDecimal d = parse_ok ("68900.50");
  g_assert_true (d.units == 6890050);
  g_assert_cmpuint (d.scale, ==, 2);

  d = parse_ok ("0.00000001");
  g_assert_true (d.units == 1);
  g_assert_cmpuint (d.scale, ==, 8);

  d = parse_ok ("12");
  g_assert_true (d.units == 12);
  g_assert_cmpuint (d.scale, ==, 0);

  d = parse_ok ("-3.5");
  g_assert_true (d.units == -35);
  g_assert_true (spot_decimal_is_negative (&d));

  d = parse_ok ("1234567890123.12345678");
  g_assert_true (d.units == (__int128)G_GINT64_CONSTANT (1234567890123) * 100000000 + 12345678);
  g_assert_cmpuint (d.scale, ==, 8);
}

static void
test_decimal_round_trips_text_at_own_scale (void)
{
  const char *texts[] = {
    "68900.50",
    "0.00000001",
    "12",
    "0",
    "0.0",
    "-3.5",
    "1234567890123.12345678",
    "100.000000000000000000",
    "0.000000000000000001",
    "9999999999999999999",
    "10000000000000000000",
    "123456789012345678.123456789012345678",
    "-999999999999999999999999999999999999",
    "1000000000000000000000000000000000.00",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    assert_round_trip (texts[i]);
}

static void
assert_rejected (const char *text, gssize len, gint code)
{
  g_autoptr (GError) error = NULL;
  SpotDecimal d = spot_decimal_from_int (42);

  g_assert_false (spot_decimal_parse (text, len, &d, &error));
  g_assert_error (error, SPOT_ERROR, code);
  /* The message names the text at fault. */
  gsize n = len < 0 ? strlen (text) : (gsize)len;
  g_autofree char *shown = g_strndup (text, MIN (n, 20));
  g_assert_nonnull (strstr (error->message, shown));
  /* The output is untouched. */
  g_assert_true (d.units == 42 && d.scale == 0);
}

static void
test_decimal_rejects_malformed_text (void)
{
  const char *bad[] = {
    "",   ".5", "5.",   "+5", "1e5", "1E5", "1.5e-3", "NaN", "nan",   "inf", "-inf", "Infinity",
    " 5", "5 ", "5 .1", "-",  "-.5", "--5", "0x10",   "5,0", "1.2.3", "05",  "00.5", "abc",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_rejected (bad[i], -1, SPOT_ERROR_PARSE);
  /* An embedded NUL inside an explicit length is not a digit. */
  assert_rejected ("12\0003", 4, SPOT_ERROR_PARSE);
}

static void
test_decimal_rejects_too_many_fraction_digits (void)
{
  assert_rejected ("0.0000000000000000001", -1, SPOT_ERROR_PARSE);
  assert_rejected ("1.1234567890123456789", -1, SPOT_ERROR_PARSE);
  assert_round_trip ("1.123456789012345678");
}

static void
test_decimal_rejects_too_many_digits (void)
{
  /* 37 significant digits. */
  assert_rejected ("1000000000000000000000000000000000000", -1, SPOT_ERROR_OVERFLOW);
  assert_rejected ("1000000000000000000000000000000000000.5", -1, SPOT_ERROR_OVERFLOW);
  assert_rejected ("123456789012345678901.1234567890123456", -1, SPOT_ERROR_OVERFLOW);
  /* Far beyond 128 bits. */
  assert_rejected ("99999999999999999999999999999999999999999999999999999999999", -1,
                   SPOT_ERROR_OVERFLOW);
  /* 36 digits are fine. */
  assert_round_trip ("999999999999999999999999999999999999");
}

static void
test_decimal_negative_zero_is_zero (void)
{
  SpotDecimal d = parse_ok ("-0");
  char buf[SPOT_DECIMAL_BUFSIZE];

  g_assert_true (spot_decimal_is_zero (&d));
  g_assert_false (spot_decimal_is_negative (&d));
  d = parse_ok ("-0.00");
  spot_decimal_format (&d, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "0.00");
}

static void
test_decimal_parses_explicit_length (void)
{
  g_autoptr (GError) error = NULL;
  SpotDecimal d;

  g_assert_true (spot_decimal_parse ("68900.50\",\"size\"", 8, &d, &error));
  g_assert_no_error (error);
  g_assert_true (d.units == 6890050 && d.scale == 2);
}

static void
test_decimal_compares_across_scales (void)
{
  SpotDecimal a = parse_ok ("68900.50");
  SpotDecimal b = parse_ok ("68900.5");
  SpotDecimal c = parse_ok ("68900.500000001");
  SpotDecimal tiny = parse_ok ("0.00000001");
  SpotDecimal zero = parse_ok ("0");
  SpotDecimal neg = parse_ok ("-0.000000000000000001");
  SpotDecimal huge = parse_ok ("999999999999999999999999999999999999");
  SpotDecimal huge_neg = parse_ok ("-999999999999999999999999999999999999");
  SpotDecimal small_scaled = parse_ok ("1.000000000000000000");

  g_assert_cmpint (spot_decimal_compare (&a, &b), ==, 0);
  g_assert_true (spot_decimal_equal (&a, &b));
  g_assert_cmpint (spot_decimal_compare (&a, &c), <, 0);
  g_assert_cmpint (spot_decimal_compare (&c, &b), >, 0);
  g_assert_cmpint (spot_decimal_compare (&tiny, &zero), >, 0);
  g_assert_cmpint (spot_decimal_compare (&neg, &zero), <, 0);
  g_assert_cmpint (spot_decimal_compare (&zero, &neg), >, 0);
  /* Scaling these up by 10^18 leaves 128 bits; the sign still decides. */
  g_assert_cmpint (spot_decimal_compare (&huge, &small_scaled), >, 0);
  g_assert_cmpint (spot_decimal_compare (&small_scaled, &huge), <, 0);
  g_assert_cmpint (spot_decimal_compare (&huge_neg, &small_scaled), <, 0);
  g_assert_cmpint (spot_decimal_compare (&small_scaled, &huge_neg), >, 0);
  g_assert_true (spot_decimal_is_zero (&zero));
  SpotDecimal zero_scaled = parse_ok ("0.000");
  g_assert_true (spot_decimal_equal (&zero, &zero_scaled));
}

static void
test_decimal_sum_of_ten_million_satoshis_is_exact (void)
{
  SpotDecimal sum = SPOT_DECIMAL_ZERO;
  SpotDecimal tiny = parse_ok ("0.00000001");
  SpotDecimal expected = parse_ok ("0.1");
  char buf[SPOT_DECIMAL_BUFSIZE];

  for (int i = 0; i < 10000000; i++)
    g_assert_true (spot_decimal_add (&sum, &tiny, &sum, NULL));
  g_assert_true (spot_decimal_equal (&sum, &expected));
  spot_decimal_format (&sum, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "0.10000000");
}

static void
test_decimal_adds_at_larger_scale (void)
{
  SpotDecimal a = parse_ok ("68900.50");
  SpotDecimal b = parse_ok ("0.00000001");
  SpotDecimal r;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  g_assert_true (spot_decimal_add (&a, &b, &r, &error));
  g_assert_no_error (error);
  text = spot_decimal_to_string (&r);
  g_assert_cmpstr (text, ==, "68900.50000001");

  SpotDecimal m = parse_ok ("-68900.50");
  g_assert_true (spot_decimal_add (&a, &m, &r, NULL));
  g_assert_true (spot_decimal_is_zero (&r));
  g_assert_cmpuint (r.scale, ==, 2);
}

static void
test_decimal_meme_coin_volume_above_1e13_is_exact (void)
{
  SpotDecimal v = SPOT_DECIMAL_ZERO;
  SpotDecimal size = parse_ok ("123456789012.34567891");
  char buf[SPOT_DECIMAL_BUFSIZE];

  for (int i = 0; i < 1000; i++)
    g_assert_true (spot_decimal_add (&v, &size, &v, NULL));
  spot_decimal_format (&v, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "123456789012345.67891000");

  SpotDecimal big = parse_ok ("98765432109876.12345678");
  g_assert_true (spot_decimal_add (&v, &big, &v, NULL));
  spot_decimal_format (&v, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "222222221122221.80236678");
}

static void
test_decimal_add_detects_overflow (void)
{
  SpotDecimal max = parse_ok ("999999999999999999999999999999999999");
  SpotDecimal one = parse_ok ("1");
  SpotDecimal tiny = parse_ok ("0.1");
  SpotDecimal min = parse_ok ("-999999999999999999999999999999999999");
  SpotDecimal out = spot_decimal_from_int (7);
  g_autoptr (GError) error = NULL;

  g_assert_false (spot_decimal_add (&max, &one, &out, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_OVERFLOW);
  g_assert_nonnull (strstr (error->message, "999999999999999999999999999999999999"));
  g_assert_true (out.units == 7);
  g_clear_error (&error);

  /* Scaling max up by one digit already leaves the range. */
  g_assert_false (spot_decimal_add (&max, &tiny, &out, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_OVERFLOW);
  g_clear_error (&error);

  SpotDecimal minus_one = parse_ok ("-1");
  g_assert_false (spot_decimal_add (&min, &minus_one, &out, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_OVERFLOW);
  g_assert_true (out.units == 7);

  g_assert_true (spot_decimal_add (&max, &min, &out, NULL));
  g_assert_true (spot_decimal_is_zero (&out));
}

static void
test_decimal_normalized_strips_trailing_zeros (void)
{
  const struct
  {
    const char *in;
    const char *out;
  } cases[] = {
    { "1.2300", "1.23" }, { "5.0", "5" },      { "68900.50", "68900.5" },      { "0.000", "0" },
    { "100", "100" },     { "-2.50", "-2.5" }, { "0.00000001", "0.00000001" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      SpotDecimal d = parse_ok (cases[i].in);
      SpotDecimal n = spot_decimal_normalized (&d);
      g_autofree char *text = spot_decimal_to_string (&n);
      g_assert_cmpstr (text, ==, cases[i].out);
      g_assert_true (spot_decimal_equal (&d, &n));
    }
}

static void
test_decimal_from_int_formats_plainly (void)
{
  char buf[SPOT_DECIMAL_BUFSIZE];
  SpotDecimal d = spot_decimal_from_int (G_MININT64);

  spot_decimal_format (&d, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "-9223372036854775808");
  d = spot_decimal_from_int (0);
  spot_decimal_format (&d, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "0");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/decimal/parses-coinbase-strings", test_decimal_parses_coinbase_strings);
  g_test_add_func ("/decimal/round-trips-text-at-own-scale",
                   test_decimal_round_trips_text_at_own_scale);
  g_test_add_func ("/decimal/rejects-malformed-text", test_decimal_rejects_malformed_text);
  g_test_add_func ("/decimal/rejects-too-many-fraction-digits",
                   test_decimal_rejects_too_many_fraction_digits);
  g_test_add_func ("/decimal/rejects-too-many-digits", test_decimal_rejects_too_many_digits);
  g_test_add_func ("/decimal/negative-zero-is-zero", test_decimal_negative_zero_is_zero);
  g_test_add_func ("/decimal/parses-explicit-length", test_decimal_parses_explicit_length);
  g_test_add_func ("/decimal/compares-across-scales", test_decimal_compares_across_scales);
  g_test_add_func ("/decimal/sum-of-ten-million-satoshis-is-exact",
                   test_decimal_sum_of_ten_million_satoshis_is_exact);
  g_test_add_func ("/decimal/adds-at-larger-scale", test_decimal_adds_at_larger_scale);
  g_test_add_func ("/decimal/meme-coin-volume-above-1e13-is-exact",
                   test_decimal_meme_coin_volume_above_1e13_is_exact);
  g_test_add_func ("/decimal/add-detects-overflow", test_decimal_add_detects_overflow);
  g_test_add_func ("/decimal/normalized-strips-trailing-zeros",
                   test_decimal_normalized_strips_trailing_zeros);
  g_test_add_func ("/decimal/from-int-formats-plainly", test_decimal_from_int_formats_plainly);
  return g_test_run ();
}
