/* test-sse-churn.c (slow suite): 10,000 /stream connect/disconnect cycles.
 * The process's file descriptors must come back exactly to the baseline and
 * RSS may grow by less than 2 MB between cycle 1,000 and 10,000. */
#define G_LOG_DOMAIN "spot-test"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http-test-util.h"
#include "http/spot-http-server.h"

/* SPOT_CHURN_CYCLES overrides the count for diagnosis (valgrind and
 * sanitizer runs, whose allocators keep freed memory): the descriptors are
 * still checked, RSS is only reported. */
static guint CYCLES = 10000;
static guint RSS_FROM_CYCLE = 1000;
static gboolean check_rss = TRUE;
#define RSS_GROWTH_MAX_KB 2048

static void
raise_nofile (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
}

/* One client: connect, ask for a stream, read its first event, hang up. */
static void
one_cycle (guint16 port, guint i)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = { 0 };
  g_autofree char *request = NULL;
  char buf[8192];
  gsize got = 0;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_assert_cmpint (fd, >=, 0);
  addr.sin_family = AF_INET;
  addr.sin_port = htons (port);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (connect (fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  request = g_strdup_printf ("GET /stream?products=BTC-USD,ETH-USD&granularities=%s HTTP/1.1\r\n"
                             "Host: 127.0.0.1\r\n\r\n",
                             i % 2 == 0 ? "ONE_MINUTE" : "ONE_MINUTE,ONE_HOUR");
  g_assert_cmpint (write (fd, request, strlen (request)), ==, (gssize)strlen (request));
  for (;;)
    {
      gssize r = recv (fd, buf + got, sizeof buf - 1 - got, MSG_DONTWAIT);

      if (r > 0)
        {
          got += r;
          buf[got] = '\0';
          if (strstr (buf, "</div>\n\n") != NULL)
            break;
          continue;
        }
      g_assert_true (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
    }
  close (fd);
}

static gboolean
no_clients (gpointer data)
{
  SpotHttpStats stats;

  spot_http_server_get_stats (SPOT_HTTP_SERVER (data), &stats);
  return stats.sse_clients == 0;
}

static void
test_churn_returns_fds_and_keeps_rss_flat (void)
{
  SpotHttpOptions options;
  g_autoptr (SpotHttpServer) server = NULL;
  g_autoptr (SpotLiveCache) cache = spot_live_cache_new (NULL, NULL);
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  g_autoptr (GError) error = NULL;
  SpotCandle c
      = http_test_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, 1, "70000.5");
  guint fds_baseline, fds_end;
  guint64 rss_from = 0, rss_end;
  guint16 port;
  SpotHttpStats stats;

  spot_live_cache_update (cache, &c, 1);
  spot_http_options_init (&options);
  options.port = 0;
  /* The default 15 s keep-alive: hung-up clients must be noticed without it. */
  server = spot_http_server_new (&options);
  spot_http_options_clear (&options);
  spot_http_server_set_live_cache (server, cache);
  spot_http_server_set_hub (server, hub);
  g_assert_true (spot_http_server_start (server, &error));
  g_assert_no_error (error);
  port = spot_http_server_get_port (server);

  /* Warm-up: lazily created objects (resources, GIO modules) exist after it. */
  for (guint i = 0; i < 20; i++)
    one_cycle (port, i);
  g_assert_true (http_test_wait_until (no_clients, server, 10000));
  http_test_spin (100);
  fds_baseline = http_test_count_fds ();

  for (guint i = 1; i <= CYCLES; i++)
    {
      one_cycle (port, i);
      if (i % 100 == 0)
        g_assert_true (http_test_wait_until (no_clients, server, 10000));
      if (i == RSS_FROM_CYCLE)
        {
          http_test_spin (50);
          rss_from = http_test_rss_kb ();
        }
    }
  g_assert_true (http_test_wait_until (no_clients, server, 10000));
  http_test_spin (200);
  fds_end = http_test_count_fds ();
  rss_end = http_test_rss_kb ();
  spot_http_server_get_stats (server, &stats);
  g_test_message ("cycles %u: fds baseline %u end %u; RSS at %u %" G_GUINT64_FORMAT
                  " kB, at %u %" G_GUINT64_FORMAT " kB (growth %" G_GINT64_FORMAT
                  " kB); streams %" G_GUINT64_FORMAT,
                  CYCLES, fds_baseline, fds_end, RSS_FROM_CYCLE, rss_from, CYCLES, rss_end,
                  (gint64)rss_end - (gint64)rss_from, stats.sse_streams);
  g_print ("# churn: fds %u -> %u, RSS %" G_GUINT64_FORMAT " kB -> %" G_GUINT64_FORMAT " kB\n",
           fds_baseline, fds_end, rss_from, rss_end);
  g_assert_cmpuint (stats.sse_streams, ==, CYCLES + 20);
  g_assert_cmpuint (fds_end, ==, fds_baseline);
  if (check_rss)
    g_assert_cmpint ((gint64)rss_end - (gint64)rss_from, <, RSS_GROWTH_MAX_KB);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  raise_nofile ();
  if (g_getenv ("SPOT_CHURN_CYCLES") != NULL)
    {
      CYCLES = (guint)g_ascii_strtoull (g_getenv ("SPOT_CHURN_CYCLES"), NULL, 10);
      RSS_FROM_CYCLE = CYCLES / 10;
      check_rss = FALSE;
    }
  g_test_add_func ("/sse-churn/returns-fds-and-keeps-rss-flat",
                   test_churn_returns_fds_and_keeps_rss_flat);
  return g_test_run ();
}
