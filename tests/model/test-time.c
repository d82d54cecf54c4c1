/* test-time.c: RFC 3339 parsing and formatting. */
#include "model/spot-time.h"

#include "core/spot-error.h"

#define NS SPOT_NS_PER_SECOND

static gint64
parse_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  gint64 ns = 42;

  if (!spot_time_parse_rfc3339 (text, -1, &ns, &error))
    g_error ("%s: %s", text, error->message);
  return ns;
}

static void
test_time_parses_coinbase_timestamps (void)
{
  g_assert_cmpint (parse_ok ("2026-04-07T14:30:02.789012345Z"), ==, 1775572202 * NS + 789012345);
  g_assert_cmpint (parse_ok ("1970-01-01T00:00:00Z"), ==, 0);
  g_assert_cmpint (parse_ok ("1970-01-01T00:00:00.000000001Z"), ==, 1);
  g_assert_cmpint (parse_ok ("1969-12-31T23:59:59.999999999Z"), ==, -1);
  g_assert_cmpint (parse_ok ("1900-03-01T00:00:00Z"), ==, G_GINT64_CONSTANT (-2203891200) * NS);
  /* Lower-case separators are RFC 3339 too. */
  g_assert_cmpint (parse_ok ("2026-04-07t14:30:02z"), ==, 1775572202 * NS);
}

static void
test_time_parses_one_to_nine_fraction_digits (void)
{
  const char *texts[] = {
    "2026-04-07T14:30:02.7Z",         "2026-04-07T14:30:02.78Z",
    "2026-04-07T14:30:02.789Z",       "2026-04-07T14:30:02.7890Z",
    "2026-04-07T14:30:02.78901Z",     "2026-04-07T14:30:02.789012Z",
    "2026-04-07T14:30:02.7890123Z",   "2026-04-07T14:30:02.78901234Z",
    "2026-04-07T14:30:02.789012345Z",
  };
  const gint64 fractions[] = { 700000000, 780000000, 789000000, 789000000, 789010000,
                               789012000, 789012300, 789012340, 789012345 };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    g_assert_cmpint (parse_ok (texts[i]), ==, 1775572202 * NS + fractions[i]);
}

static void
test_time_applies_numeric_offsets (void)
{
  gint64 utc = parse_ok ("2026-04-07T14:30:02.5Z");

  g_assert_cmpint (parse_ok ("2026-04-07T16:30:02.5+02:00"), ==, utc);
  g_assert_cmpint (parse_ok ("2026-04-07T09:00:02.5-05:30"), ==, utc);
  g_assert_cmpint (parse_ok ("2026-04-07T14:30:02.5+00:00"), ==, utc);
  g_assert_cmpint (parse_ok ("2026-04-07T14:30:02.5-00:00"), ==, utc);
  /* An offset that crosses midnight and a month end. */
  g_assert_cmpint (parse_ok ("2026-05-01T01:00:00+02:00"), ==, parse_ok ("2026-04-30T23:00:00Z"));
  g_assert_cmpint (parse_ok ("2025-12-31T23:00:00-01:00"), ==, parse_ok ("2026-01-01T00:00:00Z"));
}

static void
test_time_handles_leap_years (void)
{
  g_assert_cmpint (parse_ok ("2024-02-29T00:00:00Z"), ==, 1709164800 * NS);
  g_assert_cmpint (parse_ok ("2000-02-29T23:59:59Z"), ==, 951868799 * NS);
  g_assert_cmpint (parse_ok ("2024-03-01T00:00:00Z") - parse_ok ("2024-02-28T00:00:00Z"), ==,
                   2 * 86400 * NS);
  g_assert_cmpint (parse_ok ("2100-03-01T00:00:00Z") - parse_ok ("2100-02-28T00:00:00Z"), ==,
                   86400 * NS);
  g_assert_cmpint (parse_ok ("2025-01-01T00:00:00Z") - parse_ok ("2024-01-01T00:00:00Z"), ==,
                   366 * 86400 * NS);
}

static void
test_time_rejects_invalid_text (void)
{
  const char *bad[] = {
    "",
    "2026-04-07",
    "2026-04-07T14:30:02",  /* no zone */
    "2026-04-07 14:30:02Z", /* space separator */
    "2026-04-07T14:30Z",
    "2026-4-07T14:30:02Z",
    "26-04-07T14:30:02Z",
    "2026-04-07T14:30:02.Z",
    "2026-04-07T14:30:02.1234567890Z", /* ten fraction digits */
    "2026-04-07T14:30:02,5Z",
    "2026-04-07T14:30:02Z ",
    " 2026-04-07T14:30:02Z",
    "2026-04-07T14:30:02+0200",
    "2026-04-07T14:30:02+02",
    "2026-04-07T14:30:02+24:00",
    "2026-04-07T14:30:02+02:60",
    "2026-04-07T14:30:02UTC",
    "2026-02-30T00:00:00Z",
    "2026-02-29T00:00:00Z",
    "2100-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-01-00T00:00:00Z",
    "2026-01-32T00:00:00Z",
    "2026-04-07T24:00:00Z",
    "2026-04-07T23:60:00Z",
    "2026-04-07T23:59:60Z",
    "2300-01-01T00:00:00Z", /* beyond 64-bit nanoseconds */
    "1600-01-01T00:00:00Z",
    "-026-04-07T14:30:02Z",
    "2026-04-07T14:30:02.5ZZ",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      gint64 ns = 42;

      g_assert_false (spot_time_parse_rfc3339 (bad[i], -1, &ns, &error));
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
      g_assert_nonnull (strstr (error->message, bad[i]));
      g_assert_cmpint (ns, ==, 42);
    }
}

static void
test_time_honours_length (void)
{
  gint64 ns;

  g_assert_true (spot_time_parse_rfc3339 ("2026-04-07T14:30:02Z\",\"x\"", 20, &ns, NULL));
  g_assert_cmpint (ns, ==, 1775572202 * NS);
  g_assert_false (spot_time_parse_rfc3339 ("2026-04-07T14:30:02Z", 19, &ns, NULL));
}

static void
test_time_formats_nine_digits_utc (void)
{
  char buf[SPOT_TIME_BUFSIZE];

  g_assert_cmpuint (spot_time_format_rfc3339 (1775572202 * NS + 789012345, buf, sizeof buf), ==,
                    30);
  g_assert_cmpstr (buf, ==, "2026-04-07T14:30:02.789012345Z");
  spot_time_format_rfc3339 (0, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "1970-01-01T00:00:00.000000000Z");
  spot_time_format_rfc3339 (-1, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "1969-12-31T23:59:59.999999999Z");
  spot_time_format_rfc3339 (1709164800 * NS + 7, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "2024-02-29T00:00:00.000000007Z");
  spot_time_format_rfc3339 (G_MAXINT64, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "2262-04-11T23:47:16.854775807Z");
  spot_time_format_rfc3339 (G_MININT64, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "1677-09-21T00:12:43.145224192Z");
  g_assert_cmpint (parse_ok ("2262-04-11T23:47:16.854775807Z"), ==, G_MAXINT64);
  g_assert_cmpint (parse_ok ("1677-09-21T00:12:43.145224192Z"), ==, G_MININT64);
}

/* Every third day from 1677 to 2262 against GLib's own calendar. */
static void
test_time_format_agrees_with_gdatetime (void)
{
  char buf[SPOT_TIME_BUFSIZE];

  for (gint64 day = -106750; day <= 106750; day += 3)
    {
      gint64 s = day * 86400 + ((day * 7919) % 86400 + 86400) % 86400;
      g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (s);
      g_autofree char *expected = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S.123456789Z");

      spot_time_format_rfc3339 (s * NS + 123456789, buf, sizeof buf);
      g_assert_cmpstr (buf, ==, expected);
      g_assert_cmpint (parse_ok (buf), ==, s * NS + 123456789);
    }
}

static void
test_time_now_is_recent (void)
{
  gint64 now = spot_time_now_ns ();

  g_assert_cmpint (now, >, parse_ok ("2024-01-01T00:00:00Z"));
  g_assert_cmpint (ABS (now / 1000 - g_get_real_time ()), <, 10 * G_USEC_PER_SEC);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/time/parses-coinbase-timestamps", test_time_parses_coinbase_timestamps);
  g_test_add_func ("/time/parses-one-to-nine-fraction-digits",
                   test_time_parses_one_to_nine_fraction_digits);
  g_test_add_func ("/time/applies-numeric-offsets", test_time_applies_numeric_offsets);
  g_test_add_func ("/time/handles-leap-years", test_time_handles_leap_years);
  g_test_add_func ("/time/rejects-invalid-text", test_time_rejects_invalid_text);
  g_test_add_func ("/time/honours-length", test_time_honours_length);
  g_test_add_func ("/time/formats-nine-digits-utc", test_time_formats_nine_digits_utc);
  g_test_add_func ("/time/format-agrees-with-gdatetime", test_time_format_agrees_with_gdatetime);
  g_test_add_func ("/time/now-is-recent", test_time_now_is_recent);
  return g_test_run ();
}
