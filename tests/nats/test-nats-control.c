/* test-nats-control.c: the product control message and its subject. */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "core/spot-error.h"
#include "nats/spot-nats-control.h"

static void
test_round_trips_add_and_remove_lists (void)
{
  const char *add[] = { "BTC-USD", "ETH-EUR", NULL };
  g_autofree char *json = spot_nats_control_to_json (add, NULL);
  g_auto (GStrv) a = NULL;
  g_auto (GStrv) r = NULL;

  g_assert_cmpstr (json, ==, "{\"add\":[\"BTC-USD\",\"ETH-EUR\"],\"remove\":[]}");
  g_assert_true (spot_nats_control_parse (json, -1, &a, &r, NULL));
  g_assert_cmpuint (g_strv_length (a), ==, 2);
  g_assert_cmpstr (a[1], ==, "ETH-EUR");
  g_assert_cmpuint (g_strv_length (r), ==, 0);
}

static void
test_missing_list_is_empty (void)
{
  g_auto (GStrv) a = NULL;
  g_auto (GStrv) r = NULL;

  g_assert_true (spot_nats_control_parse ("{\"remove\":[\"SOL-USD\"]}", -1, &a, &r, NULL));
  g_assert_cmpuint (g_strv_length (a), ==, 0);
  g_assert_cmpstr (r[0], ==, "SOL-USD");
}

static void
test_rejects_bad_messages_naming_the_fault (void)
{
  struct
  {
    const char *json;
    const char *named;
  } bad[] = {
    { "not json", "malformed" },
    { "[]", "object" },
    { "{}", "nothing" },
    { "{\"add\":\"BTC-USD\"}", "add" },
    { "{\"add\":[1]}", "item 0" },
    { "{\"add\":[\"btc-usd\"]}", "btc-usd" },
    { "{\"remove\":[\"BTC-USD\",\"BTC-USD\"]}", "twice" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      char **a = NULL, **r = NULL;

      g_assert_false (spot_nats_control_parse (bad[i].json, -1, &a, &r, &error));
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, bad[i].named));
      g_assert_null (a);
      g_assert_null (r);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nats/control/round-trip", test_round_trips_add_and_remove_lists);
  g_test_add_func ("/nats/control/missing-list-empty", test_missing_list_is_empty);
  g_test_add_func ("/nats/control/rejects-bad", test_rejects_bad_messages_naming_the_fault);
  return g_test_run ();
}
