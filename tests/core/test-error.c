/* test-error.c: the SPOT_ERROR domain. */
#include "core/spot-error.h"

static void
test_error_domain_is_stable (void)
{
  g_autoptr (GError) error = g_error_new (SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG, "SHARD_INDEX=7 must be smaller than SHARD_COUNT=4");

  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
  g_assert_cmpstr (g_quark_to_string (SPOT_ERROR), ==, "spot-error-quark");
}

static void
test_error_codes_have_names (void)
{
  g_assert_cmpstr (spot_error_code_to_string (SPOT_ERROR_INVALID_ARGUMENT), ==, "invalid-argument");
  g_assert_cmpstr (spot_error_code_to_string (SPOT_ERROR_DATABASE), ==, "database");
  g_assert_cmpstr (spot_error_code_to_string (SPOT_ERROR_CANCELLED), ==, "cancelled");
  g_assert_cmpstr (spot_error_code_to_string ((SpotError) 999), ==, "unknown");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/error/domain-is-stable", test_error_domain_is_stable);
  g_test_add_func ("/error/codes-have-names", test_error_codes_have_names);
  return g_test_run ();
}
