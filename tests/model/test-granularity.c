/* test-granularity.c: granularity names, sizes, alignment and the roll-up tree. */
#include "model/spot-granularity.h"

#include "core/spot-error.h"

static void
test_granularity_sizes_and_names_are_coinbase_ones (void)
{
  const struct
  {
    SpotGranularity g;
    gint64 seconds;
    const char *name;
    const char *short_name;
  } cases[] = {
    { SPOT_GRANULARITY_ONE_MINUTE, 60, "ONE_MINUTE", "1m" },
    { SPOT_GRANULARITY_FIVE_MINUTE, 300, "FIVE_MINUTE", "5m" },
    { SPOT_GRANULARITY_FIFTEEN_MINUTE, 900, "FIFTEEN_MINUTE", "15m" },
    { SPOT_GRANULARITY_THIRTY_MINUTE, 1800, "THIRTY_MINUTE", "30m" },
    { SPOT_GRANULARITY_ONE_HOUR, 3600, "ONE_HOUR", "1h" },
    { SPOT_GRANULARITY_TWO_HOUR, 7200, "TWO_HOUR", "2h" },
    { SPOT_GRANULARITY_FOUR_HOUR, 14400, "FOUR_HOUR", "4h" },
    { SPOT_GRANULARITY_SIX_HOUR, 21600, "SIX_HOUR", "6h" },
    { SPOT_GRANULARITY_ONE_DAY, 86400, "ONE_DAY", "1d" },
  };

  g_assert_cmpint (G_N_ELEMENTS (cases), ==, SPOT_GRANULARITY_COUNT);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      SpotGranularity parsed = SPOT_GRANULARITY_INVALID;

      g_assert_cmpint (spot_granularity_seconds (cases[i].g), ==, cases[i].seconds);
      g_assert_cmpstr (spot_granularity_name (cases[i].g), ==, cases[i].name);
      g_assert_cmpstr (spot_granularity_short_name (cases[i].g), ==, cases[i].short_name);
      g_assert_true (spot_granularity_parse (cases[i].name, -1, &parsed, NULL));
      g_assert_cmpint (parsed, ==, cases[i].g);
      parsed = SPOT_GRANULARITY_INVALID;
      g_assert_true (spot_granularity_parse (cases[i].short_name, -1, &parsed, NULL));
      g_assert_cmpint (parsed, ==, cases[i].g);
    }
}

static void
test_granularity_parse_rejects_unknown_names (void)
{
  const char *bad[] = { "", "one_minute", "ONE_MINUTES", "1M", "60", " 1m", "1m ", "ONE_WEEK" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      SpotGranularity g = SPOT_GRANULARITY_ONE_DAY;

      g_assert_false (spot_granularity_parse (bad[i], -1, &g, &error));
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
      g_autofree char *quoted = g_strdup_printf ("\"%s\"", bad[i]);
      g_assert_nonnull (strstr (error->message, quoted));
      g_assert_nonnull (strstr (error->message, "FIFTEEN_MINUTE"));
      g_assert_cmpint (g, ==, SPOT_GRANULARITY_ONE_DAY);
    }
}

static void
test_granularity_parse_honours_length (void)
{
  SpotGranularity g;

  g_assert_true (spot_granularity_parse ("1h,2h", 2, &g, NULL));
  g_assert_cmpint (g, ==, SPOT_GRANULARITY_ONE_HOUR);
  g_assert_false (spot_granularity_parse ("ONE_HOUR", 3, &g, NULL));
}

static void
test_granularity_set_parses_mixed_names (void)
{
  g_autoptr (GError) error = NULL;
  SpotGranularitySet set = 0;
  g_autofree char *text = NULL;

  g_assert_true (spot_granularity_set_parse ("ONE_MINUTE,5m,ONE_DAY,1m", &set, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (set, ==,
                    (1u << SPOT_GRANULARITY_ONE_MINUTE) | (1u << SPOT_GRANULARITY_FIVE_MINUTE)
                        | (1u << SPOT_GRANULARITY_ONE_DAY));
  text = spot_granularity_set_to_string (set);
  g_assert_cmpstr (text, ==, "ONE_MINUTE,FIVE_MINUTE,ONE_DAY");
}

static void
test_granularity_set_rejects_empty_and_unknown_items (void)
{
  const char *bad[] = { "", ",", "1m,", ",1m", "1m,,5m", "1m,2d", "1m, 5m" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      SpotGranularitySet set = 12345;

      g_assert_false (spot_granularity_set_parse (bad[i], &set, &error));
      g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
      g_assert_cmpuint (set, ==, 12345);
    }
}

static void
test_granularity_default_set_omits_four_hour (void)
{
  g_autofree char *text = spot_granularity_set_to_string (SPOT_GRANULARITY_SET_DEFAULT);

  g_assert_cmpstr (
      text, ==,
      "ONE_MINUTE,FIVE_MINUTE,FIFTEEN_MINUTE,THIRTY_MINUTE,ONE_HOUR,TWO_HOUR,SIX_HOUR,ONE_DAY");
  g_assert_false (
      spot_granularity_set_contains (SPOT_GRANULARITY_SET_DEFAULT, SPOT_GRANULARITY_FOUR_HOUR));
  g_assert_true (
      spot_granularity_set_contains (SPOT_GRANULARITY_SET_ALL, SPOT_GRANULARITY_FOUR_HOUR));
  g_assert_false (
      spot_granularity_set_contains (SPOT_GRANULARITY_SET_ALL, SPOT_GRANULARITY_INVALID));
  g_assert_false (spot_granularity_set_contains (SPOT_GRANULARITY_SET_ALL, SPOT_GRANULARITY_COUNT));
}

static void
test_granularity_align_day_boundaries (void)
{
  /* 2026-04-07T00:00:00Z = 1775520000. */
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_ONE_DAY, 1775520000), ==, 1775520000);
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_ONE_DAY, 1775520000 + 86399), ==,
                   1775520000);
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_ONE_DAY, 1775520000 - 1), ==,
                   1775520000 - 86400);
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_ONE_DAY, 1775521800 + 2), ==,
                   1775520000);
}

static void
test_granularity_align_six_and_four_hour_boundaries (void)
{
  gint64 day = 1775520000;

  /* SIX_HOUR buckets start at 00, 06, 12 and 18 UTC. */
  for (int h = 0; h < 24; h++)
    {
      gint64 t = day + h * 3600 + 1799;
      g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_SIX_HOUR, t), ==,
                       day + (h / 6) * 6 * 3600);
      g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_FOUR_HOUR, t), ==,
                       day + (h / 4) * 4 * 3600);
      g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_TWO_HOUR, t), ==,
                       day + (h / 2) * 2 * 3600);
    }
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_SIX_HOUR, day + 6 * 3600 - 1), ==, day);
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_SIX_HOUR, day + 6 * 3600), ==,
                   day + 6 * 3600);
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_FOUR_HOUR, day + 4 * 3600 - 1), ==,
                   day);
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_FOUR_HOUR, day + 4 * 3600), ==,
                   day + 4 * 3600);
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_ONE_MINUTE, 1775521859), ==,
                   1775521800);
}

static void
test_granularity_align_floors_negative_times (void)
{
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_ONE_MINUTE, -1), ==, -60);
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_ONE_MINUTE, -60), ==, -60);
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_ONE_MINUTE, -61), ==, -120);
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_ONE_DAY, -1), ==, -86400);
  g_assert_cmpint (spot_granularity_align (SPOT_GRANULARITY_ONE_DAY, 0), ==, 0);
}

static void
test_granularity_tree_children_and_parents (void)
{
  SpotGranularity parents[2];

  g_assert_cmpint (spot_granularity_child (SPOT_GRANULARITY_ONE_MINUTE), ==,
                   SPOT_GRANULARITY_INVALID);
  g_assert_cmpint (spot_granularity_child (SPOT_GRANULARITY_FIVE_MINUTE), ==,
                   SPOT_GRANULARITY_ONE_MINUTE);
  g_assert_cmpint (spot_granularity_child (SPOT_GRANULARITY_FOUR_HOUR), ==,
                   SPOT_GRANULARITY_TWO_HOUR);
  g_assert_cmpint (spot_granularity_child (SPOT_GRANULARITY_SIX_HOUR), ==,
                   SPOT_GRANULARITY_TWO_HOUR);
  g_assert_cmpint (spot_granularity_child (SPOT_GRANULARITY_ONE_DAY), ==,
                   SPOT_GRANULARITY_SIX_HOUR);

  g_assert_cmpuint (spot_granularity_parents (SPOT_GRANULARITY_TWO_HOUR, parents), ==, 2);
  g_assert_cmpint (parents[0], ==, SPOT_GRANULARITY_FOUR_HOUR);
  g_assert_cmpint (parents[1], ==, SPOT_GRANULARITY_SIX_HOUR);
  g_assert_cmpuint (spot_granularity_parents (SPOT_GRANULARITY_ONE_DAY, parents), ==, 0);
  g_assert_cmpuint (spot_granularity_parents (SPOT_GRANULARITY_FOUR_HOUR, parents), ==, 0);
  g_assert_cmpuint (spot_granularity_parents (SPOT_GRANULARITY_SIX_HOUR, parents), ==, 1);
  g_assert_cmpint (parents[0], ==, SPOT_GRANULARITY_ONE_DAY);
  g_assert_cmpuint (spot_granularity_parents (SPOT_GRANULARITY_ONE_MINUTE, parents), ==, 1);
  g_assert_cmpint (parents[0], ==, SPOT_GRANULARITY_FIVE_MINUTE);

  /* Every size divides its parent's. */
  for (int g = SPOT_GRANULARITY_FIVE_MINUTE; g < SPOT_GRANULARITY_COUNT; g++)
    {
      SpotGranularity c = spot_granularity_child ((SpotGranularity)g);
      g_assert_cmpint (spot_granularity_seconds ((SpotGranularity)g) % spot_granularity_seconds (c),
                       ==, 0);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/granularity/sizes-and-names-are-coinbase-ones",
                   test_granularity_sizes_and_names_are_coinbase_ones);
  g_test_add_func ("/granularity/parse-rejects-unknown-names",
                   test_granularity_parse_rejects_unknown_names);
  g_test_add_func ("/granularity/parse-honours-length", test_granularity_parse_honours_length);
  g_test_add_func ("/granularity/set-parses-mixed-names", test_granularity_set_parses_mixed_names);
  g_test_add_func ("/granularity/set-rejects-empty-and-unknown-items",
                   test_granularity_set_rejects_empty_and_unknown_items);
  g_test_add_func ("/granularity/default-set-omits-four-hour",
                   test_granularity_default_set_omits_four_hour);
  g_test_add_func ("/granularity/align-day-boundaries", test_granularity_align_day_boundaries);
  g_test_add_func ("/granularity/align-six-and-four-hour-boundaries",
                   test_granularity_align_six_and_four_hour_boundaries);
  g_test_add_func ("/granularity/align-floors-negative-times",
                   test_granularity_align_floors_negative_times);
  g_test_add_func ("/granularity/tree-children-and-parents",
                   test_granularity_tree_children_and_parents);
  return g_test_run ();
}
