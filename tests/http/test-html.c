/* test-html.c: escaping, the <spot-candle> element and the template renderer. */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "core/spot-error.h"
#include "http/spot-candle-element.h"
#include "http/spot-html.h"
#include "http/spot-template.h"
#include "model/spot-time.h"

static SpotCandle
make_candle (void)
{
  SpotCandle c = { 0 };

  g_strlcpy (c.product_id, "BTC-USD", sizeof c.product_id);
  c.granularity = SPOT_GRANULARITY_ONE_MINUTE;
  c.start = 1775521800;
  g_assert_true (spot_decimal_parse ("68900.50", -1, &c.open, NULL));
  g_assert_true (spot_decimal_parse ("68950.00", -1, &c.high, NULL));
  g_assert_true (spot_decimal_parse ("68880.25", -1, &c.low, NULL));
  g_assert_true (spot_decimal_parse ("68940.10", -1, &c.close, NULL));
  g_assert_true (spot_decimal_parse ("1.50000000", -1, &c.volume, NULL));
  c.trades = 12;
  c.last_trade_id = 995098701;
  c.complete = FALSE;
  c.rev = 3;
  g_assert_true (spot_time_parse_rfc3339 ("2026-04-07T14:30:02.789012345Z", -1, &c.ts_ns, NULL));
  return c;
}

static void
test_escape_covers_the_five_characters (void)
{
  g_autofree char *s = spot_html_escape ("a&b<c>d\"e'f");

  g_assert_cmpstr (s, ==, "a&amp;b&lt;c&gt;d&quot;e&#39;f");
}

static void
test_escape_keeps_plain_text_and_utf8 (void)
{
  g_autofree char *s = spot_html_escape ("BTC-USD – 68900.50 €");

  g_assert_cmpstr (s, ==, "BTC-USD – 68900.50 €");
}

static void
test_element_has_every_attribute (void)
{
  SpotCandle c = make_candle ();
  g_autoptr (GString) out = g_string_new (NULL);

  spot_candle_element_append (out, &c);
  g_assert_cmpstr (out->str, ==,
                   "<spot-candle id=\"candle-BTC-USD-ONE_MINUTE\" product=\"BTC-USD\" "
                   "granularity=\"ONE_MINUTE\" start=\"1775521800\" open=\"68900.50\" "
                   "high=\"68950.00\" low=\"68880.25\" close=\"68940.10\" volume=\"1.50000000\" "
                   "trades=\"12\" complete=\"false\" ts=\"2026-04-07T14:30:02.789012345Z\">"
                   "</spot-candle>");
}

static void
test_element_of_rest_candle_has_empty_trades_and_ts (void)
{
  SpotCandle c = make_candle ();
  g_autoptr (GString) out = g_string_new (NULL);

  c.trades = SPOT_CANDLE_TRADES_UNKNOWN;
  c.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  c.complete = TRUE;
  spot_candle_element_append (out, &c);
  g_assert_nonnull (strstr (out->str, " trades=\"\" complete=\"true\" ts=\"\">"));
}

static void
test_element_escapes_attribute_values (void)
{
  SpotCandle c = make_candle ();
  g_autoptr (GString) out = g_string_new (NULL);

  /* Product ids are validated upstream; the renderer must not rely on it. */
  g_strlcpy (c.product_id, "A\"><x y='1'&", sizeof c.product_id);
  spot_candle_element_append (out, &c);
  g_assert_null (strstr (out->str, "\"><x"));
  g_assert_nonnull (strstr (out->str, "product=\"A&quot;&gt;&lt;x y=&#39;1&#39;&amp;\""));
  g_assert_nonnull (
      strstr (out->str, "id=\"candle-A&quot;&gt;&lt;x y=&#39;1&#39;&amp;-ONE_MINUTE\""));
}

static void
test_placeholder_has_identity_only (void)
{
  g_autoptr (GString) out = g_string_new (NULL);

  spot_candle_element_append_placeholder (out, "ETH-EUR", SPOT_GRANULARITY_ONE_DAY);
  g_assert_cmpstr (out->str, ==,
                   "<spot-candle id=\"candle-ETH-EUR-ONE_DAY\" product=\"ETH-EUR\" "
                   "granularity=\"ONE_DAY\"></spot-candle>");
}

static void
test_template_escapes_and_inserts_raw (void)
{
  const char *vars[] = { "title", "<b>&", "body", "<p>ok</p>", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *out
      = spot_template_render ("<h1>{{title}}</h1>{{{ body }}}{{ title }}", -1, vars, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "<h1>&lt;b&gt;&amp;</h1><p>ok</p>&lt;b&gt;&amp;");
}

static void
test_template_unknown_variable_fails_naming_it (void)
{
  const char *vars[] = { "a", "1", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = spot_template_render ("x {{missing}}", -1, vars, &error);

  g_assert_null (out);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "\"missing\""));
  g_assert_nonnull (strstr (error->message, "byte 2"));
}

static void
test_template_unterminated_tag_fails (void)
{
  const char *vars[] = { "a", "1", NULL };
  const char *bad[] = { "{{a", "{{a}", "{{{a}}", "{{}}", "{{a b}}" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *out = spot_template_render (bad[i], -1, vars, &error);

      g_assert_null (out);
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
    }
}

static void
test_template_respects_length (void)
{
  const char *vars[] = { "a", "1", NULL };
  g_autofree char *out = spot_template_render ("{{a}}{{b}}", 5, vars, NULL);

  g_assert_cmpstr (out, ==, "1");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/html/escape/covers-the-five-characters",
                   test_escape_covers_the_five_characters);
  g_test_add_func ("/html/escape/keeps-plain-text-and-utf8", test_escape_keeps_plain_text_and_utf8);
  g_test_add_func ("/html/element/has-every-attribute", test_element_has_every_attribute);
  g_test_add_func ("/html/element/rest-candle-has-empty-trades-and-ts",
                   test_element_of_rest_candle_has_empty_trades_and_ts);
  g_test_add_func ("/html/element/escapes-attribute-values", test_element_escapes_attribute_values);
  g_test_add_func ("/html/element/placeholder-has-identity-only",
                   test_placeholder_has_identity_only);
  g_test_add_func ("/html/template/escapes-and-inserts-raw", test_template_escapes_and_inserts_raw);
  g_test_add_func ("/html/template/unknown-variable-fails-naming-it",
                   test_template_unknown_variable_fails_naming_it);
  g_test_add_func ("/html/template/unterminated-tag-fails", test_template_unterminated_tag_fails);
  g_test_add_func ("/html/template/respects-length", test_template_respects_length);
  return g_test_run ();
}
