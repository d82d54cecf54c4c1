/* test-e2e-prometheus: the running service as Prometheus sees it.
 *
 * Debian's prometheus scrapes the service on loopback every second; queries
 * through its HTTP API see the target up and spot_trades_received_total
 * moving. promtool accepts the live /metrics text. Either tool missing:
 * that test is skipped. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "e2e-util.h"
#include "spot-test-harness.h"

typedef struct
{
  E2eStack *stack;
  E2eService *service;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  const char *sim_args[]
      = { "--products=10", "--trades-per-second=10", "--history-minutes=5", NULL };
  const char *env[]
      = { "PRODUCTS=all", "CONNECT_RATE=8", "SUBSCRIBE_RATE=8", "REST_RATE=30", NULL };

  (void)data;
  f->stack = e2e_stack_start (sim_args);
  f->service = e2e_stack_service_start (f->stack, env, 90);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  (void)data;
  e2e_finish (f->service, NULL);
  e2e_stack_free (f->stack);
}

static char *
find_tool (const char *name)
{
  return g_find_program_in_path (name);
}

static void
test_promtool_accepts_live_metrics (Fixture *f, gconstpointer data)
{
  g_autofree char *promtool = find_tool ("promtool");
  g_autofree char *url = g_strdup_printf ("%s/metrics", f->service->base_url);
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  (void)data;
  if (promtool == NULL)
    {
      g_test_skip ("promtool not installed (Debian package prometheus)");
      return;
    }
  /* A few seconds of traffic so every family has samples. */
  g_usleep (3 * G_USEC_PER_SEC);
  text = e2e_http_get (url, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (e2e_metric_value (text, "spot_trades_received_total"), >, 0);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                  | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                              &error, promtool, "check", "metrics", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, text, NULL, &out, &err, &error));
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (process) != 0)
    g_printerr ("promtool:\n%s%s\n", out, err);
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
}

/* The first sample's value of an instant query, or -1. */
static double
query (guint16 port, const char *expr)
{
  g_autofree char *escaped = g_uri_escape_string (expr, NULL, FALSE);
  g_autofree char *url
      = g_strdup_printf ("http://127.0.0.1:%u/api/v1/query?query=%s", port, escaped);
  g_autofree char *body = e2e_http_get (url, NULL, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root, *d;
  JsonArray *result, *value;

  if (body == NULL || !json_parser_load_from_data (parser, body, -1, NULL))
    return -1;
  root = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (json_object_get_string_member_with_default (root, "status", ""), "success") != 0)
    return -1;
  d = json_object_get_object_member (root, "data");
  result = json_object_get_array_member (d, "result");
  if (json_array_get_length (result) == 0)
    return -1;
  value = json_object_get_array_member (json_array_get_object_element (result, 0), "value");
  return g_ascii_strtod (json_array_get_string_element (value, 1), NULL);
}

static void
test_prometheus_scrapes_moving_series (Fixture *f, gconstpointer data)
{
  g_autofree char *prometheus = find_tool ("prometheus");
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *config_text = NULL;
  g_autofree char *storage = NULL;
  g_autofree char *listen = NULL;
  g_autoptr (GSubprocess) process = NULL;
  guint16 port;
  double first = -1, second = -1, up = -1;
  gint64 until;

  (void)data;
  if (prometheus == NULL)
    {
      g_test_skip ("prometheus not installed (Debian package prometheus)");
      return;
    }
  dir = g_build_filename (spot_test_tmp_dir (), "spot-e2e-prom-XXXXXX", NULL);
  g_assert_nonnull (g_mkdtemp (dir));
  config_path = g_build_filename (dir, "prometheus.yml", NULL);
  storage = g_build_filename (dir, "data", NULL);
  config_text = g_strdup_printf ("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                 "scrape_configs:\n  - job_name: spot\n    scrape_interval: 1s\n"
                                 "    static_configs:\n      - targets: ['127.0.0.1:%u']\n",
                                 f->service->http_port);
  g_assert_true (g_file_set_contents (config_path, config_text, -1, &error));
  port = e2e_free_port ();
  listen = g_strdup_printf ("--web.listen-address=127.0.0.1:%u", port);
  {
    g_autofree char *config_arg = g_strdup_printf ("--config.file=%s", config_path);
    g_autofree char *storage_arg = g_strdup_printf ("--storage.tsdb.path=%s", storage);
    process
        = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                            &error, prometheus, config_arg, storage_arg, listen, NULL);
  }
  g_assert_no_error (error);

  /* Ready, scraping, and the counter moving between two queries. */
  until = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < until && (up != 1 || first <= 0))
    {
      g_usleep (500 * 1000);
      up = query (port, "up{job=\"spot\"}");
      first = query (port, "spot_trades_received_total");
    }
  g_assert_cmpfloat (up, ==, 1);
  g_assert_cmpfloat (first, >, 0);
  until = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < until && second <= first)
    {
      g_usleep (1000 * 1000);
      second = query (port, "spot_trades_received_total");
    }
  g_test_message ("spot_trades_received_total: %.0f then %.0f", first, second);
  g_assert_cmpfloat (second, >, first);
  /* Other main series are there too. */
  g_assert_cmpfloat (query (port, "spot_nats_messages_published_total"), >, 0);
  g_assert_cmpfloat (query (port, "spot_db_rows_written_total"), >, 0);
  g_assert_cmpfloat (query (port, "spot_nats_connected"), ==, 1);
  g_assert_cmpfloat (query (port, "spot_database_connected"), ==, 1);

  g_subprocess_send_signal (process, SIGTERM);
  g_assert_true (g_subprocess_wait (process, NULL, &error));
  {
    g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", dir);
    g_assert_true (g_spawn_command_line_sync (rm, NULL, NULL, NULL, NULL));
  }
}

int
main (int argc, char **argv)
{
  e2e_test_init (&argc, &argv);
  g_test_add ("/e2e/promtool-accepts-live-metrics", Fixture, NULL, fixture_set_up,
              test_promtool_accepts_live_metrics, fixture_tear_down);
  g_test_add ("/e2e/prometheus-scrapes-moving-series", Fixture, NULL, fixture_set_up,
              test_prometheus_scrapes_moving_series, fixture_tear_down);
  return g_test_run ();
}
