/* test-metric-text.c: value formatting and escaping of the text format. */
#define G_LOG_DOMAIN "spot-test"

#include "metrics/spot-metric-text.h"

#include <locale.h>
#include <math.h>

static char *
format (double value)
{
  GString *out = g_string_new (NULL);

  spot_metric_text_append_double (out, value);
  return g_string_free (out, FALSE);
}

static void
assert_format (double value, const char *expected)
{
  g_autofree char *text = format (value);

  g_assert_cmpstr (text, ==, expected);
}

static void
test_text_formats_values_as_prometheus_parses_them (void)
{
  assert_format (0.0, "0");
  assert_format (-0.0, "0");
  assert_format (42.0, "42");
  assert_format (-7.0, "-7");
  assert_format (9007199254740992.0, "9007199254740992");
  assert_format (1e300, "1e+300");
  assert_format (0.1, "0.1");
  assert_format (0.0005, "0.0005");
  assert_format (2.5, "2.5");
  assert_format (1e-05, "0.00001");
  assert_format (1000.37, "1000.37");
  assert_format (-0.5, "-0.5");
  assert_format (123.456789, "123.456789");
  assert_format (1.7976931348623157e308, "1.7976931348623157e+308");
  assert_format (5e-324, "4.94065645841247e-324");
  assert_format (0.1 + 0.2, "0.30000000000000004");
  assert_format (INFINITY, "+Inf");
  assert_format (-INFINITY, "-Inf");
  assert_format (NAN, "NaN");
}

static void
test_text_values_read_back_exactly (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (8);

  for (guint i = 0; i < 50000; i++)
    {
      double value;
      g_autofree char *text = NULL;

      switch (i % 4)
        {
        case 0:
          value = g_rand_double_range (rand, -1e6, 1e6);
          break;
        case 1:
          value = (double)g_rand_int_range (rand, -1000000, 1000000) / 100.0;
          break;
        case 2:
          value = (double)g_rand_int (rand) / 1e6;
          break;
        default:
          value = g_rand_double (rand) * pow (10.0, g_rand_int_range (rand, -30, 30));
          break;
        }
      text = format (value);
      if (g_ascii_strtod (text, NULL) != value)
        g_error ("%.17g formatted as %s", value, text);
    }
}

static void
test_text_formats_integers_without_printf (void)
{
  g_autoptr (GString) out = g_string_new (NULL);

  spot_metric_text_append_uint64 (out, 0);
  g_string_append_c (out, ' ');
  spot_metric_text_append_uint64 (out, G_MAXUINT64);
  g_string_append_c (out, ' ');
  spot_metric_text_append_int64 (out, G_MININT64);
  g_string_append_c (out, ' ');
  spot_metric_text_append_int64 (out, -42);
  g_assert_cmpstr (out->str, ==, "0 18446744073709551615 -9223372036854775808 -42");
}

static void
test_text_escapes_label_values (void)
{
  g_autoptr (GString) out = g_string_new (NULL);

  spot_metric_text_append_label_value (out, "a\\b\"c\nd\te");
  g_assert_cmpstr (out->str, ==, "a\\\\b\\\"c\\nd\te");
}

static void
test_text_escapes_help_but_not_quotes (void)
{
  g_autoptr (GString) out = g_string_new (NULL);

  spot_metric_text_append_help (out, "say \"hi\"\\\nbye");
  g_assert_cmpstr (out->str, ==, "say \"hi\"\\\\\\nbye");
}

static void
test_text_validates_names (void)
{
  g_assert_true (spot_metric_text_name_is_valid ("spot_trades_received_total"));
  g_assert_true (spot_metric_text_name_is_valid ("ns:rule_name"));
  g_assert_false (spot_metric_text_name_is_valid ("9lives"));
  g_assert_false (spot_metric_text_name_is_valid ("with-dash"));
  g_assert_false (spot_metric_text_name_is_valid (""));
  g_assert_true (spot_metric_text_label_name_is_valid ("stage"));
  g_assert_false (spot_metric_text_label_name_is_valid ("__reserved"));
  g_assert_false (spot_metric_text_label_name_is_valid ("a:b"));
}

static void
test_text_ignores_locale_decimal_comma (void)
{
  /* A service started under de_DE must still print a dot. */
  const char *old = setlocale (LC_NUMERIC, NULL);
  g_autofree char *saved = g_strdup (old);

  if (setlocale (LC_NUMERIC, "de_DE.UTF-8") == NULL
      && setlocale (LC_NUMERIC, "fr_FR.UTF-8") == NULL)
    {
      g_test_skip ("no locale with a decimal comma installed");
      return;
    }
  assert_format (2.5, "2.5");
  setlocale (LC_NUMERIC, saved);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/text/formats-values-as-prometheus-parses-them",
                   test_text_formats_values_as_prometheus_parses_them);
  g_test_add_func ("/metrics/text/values-read-back-exactly", test_text_values_read_back_exactly);
  g_test_add_func ("/metrics/text/formats-integers-without-printf",
                   test_text_formats_integers_without_printf);
  g_test_add_func ("/metrics/text/escapes-label-values", test_text_escapes_label_values);
  g_test_add_func ("/metrics/text/escapes-help-but-not-quotes",
                   test_text_escapes_help_but_not_quotes);
  g_test_add_func ("/metrics/text/validates-names", test_text_validates_names);
  g_test_add_func ("/metrics/text/ignores-locale-decimal-comma",
                   test_text_ignores_locale_decimal_comma);
  return g_test_run ();
}
