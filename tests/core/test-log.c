/* test-log.c: structured logging and the hot-path rate limiter. */
#define G_LOG_DOMAIN "spot-test"

#include "core/spot-log.h"

static void
test_rate_limit_allows_burst_then_suppresses (void)
{
  SpotRateLimit limit = SPOT_RATE_LIMIT_INIT (60000, 3);
  guint suppressed = 99;
  guint allowed = 0;

  for (guint i = 0; i < 10; i++)
    if (spot_rate_limit_allow (&limit, &suppressed))
      allowed++;

  g_assert_cmpuint (allowed, ==, 3);
  g_assert_cmpuint (limit.suppressed, ==, 7);
}

static void
test_rate_limit_reports_suppressed_in_next_window (void)
{
  SpotRateLimit limit = SPOT_RATE_LIMIT_INIT (20, 1);
  guint suppressed = 99;

  g_assert_true (spot_rate_limit_allow (&limit, &suppressed));
  g_assert_cmpuint (suppressed, ==, 0);
  g_assert_false (spot_rate_limit_allow (&limit, &suppressed));
  g_assert_false (spot_rate_limit_allow (&limit, &suppressed));
  g_usleep (30 * 1000);
  g_assert_true (spot_rate_limit_allow (&limit, &suppressed));
  g_assert_cmpuint (suppressed, ==, 2);
}

typedef struct {
  SpotRateLimit *limit;
  gint allowed;
} ThreadData;

static gpointer
hammer (gpointer data)
{
  ThreadData *td = data;

  for (guint i = 0; i < 10000; i++)
    if (spot_rate_limit_allow (td->limit, NULL))
      g_atomic_int_inc (&td->allowed);
  return NULL;
}

static void
test_rate_limit_is_exact_across_threads (void)
{
  SpotRateLimit limit = SPOT_RATE_LIMIT_INIT (600000, 50);
  ThreadData td = { &limit, 0 };
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("hammer", hammer, &td);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (td.allowed, ==, 50);
  g_assert_cmpuint (limit.suppressed, ==, 40000 - 50);
}

static GLogWriterOutput
capture_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  GPtrArray *seen = user_data;

  for (gsize i = 0; i < n_fields; i++)
    if (fields[i].length < 0)
      g_ptr_array_add (seen, g_strdup_printf ("%s=%s", fields[i].key, (const char *) fields[i].value));
  return G_LOG_WRITER_HANDLED;
}

static void
test_spot_log_adds_structured_fields (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
      gboolean product = FALSE, connection = FALSE, shard = FALSE, message = FALSE;

      g_log_set_writer_func (capture_writer, g_ptr_array_ref (seen), (GDestroyNotify) g_ptr_array_unref);
      spot_log (G_LOG_LEVEL_MESSAGE, G_LOG_DOMAIN, "BTC-USD", 3, 5, "queue %s full", "shard-5");
      for (guint i = 0; i < seen->len; i++)
        {
          const char *f = g_ptr_array_index (seen, i);
          product |= g_str_equal (f, "SPOT_PRODUCT=BTC-USD");
          connection |= g_str_equal (f, "SPOT_CONNECTION=3");
          shard |= g_str_equal (f, "SPOT_SHARD=5");
          message |= g_str_equal (f, "MESSAGE=queue shard-5 full");
        }
      g_assert_true (product && connection && shard && message);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log/rate-limit-allows-burst-then-suppresses", test_rate_limit_allows_burst_then_suppresses);
  g_test_add_func ("/log/rate-limit-reports-suppressed-in-next-window", test_rate_limit_reports_suppressed_in_next_window);
  g_test_add_func ("/log/rate-limit-is-exact-across-threads", test_rate_limit_is_exact_across_threads);
  g_test_add_func ("/log/spot-log-adds-structured-fields", test_spot_log_adds_structured_fields);
  return g_test_run ();
}
