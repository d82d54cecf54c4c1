/* e2e-util.c: simulator, service, HTTP, SSE and database helpers for the
 * end-to-end tests. */
#define G_LOG_DOMAIN "spot-e2e"

#include "config.h"

#include "e2e-util.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "core/spot-error.h"
#include "model/spot-decimal.h"
#include "model/spot-time.h"
#ifdef E2E_WITH_HARNESS
#include "spot-test-harness.h"
#define e2e_tmp_dir() spot_test_tmp_dir ()
#else
#define e2e_tmp_dir() g_get_tmp_dir ()
#endif

static const char *
build_root (void)
{
  const char *root = g_getenv ("SPOT_BUILD_ROOT");

  return root != NULL ? root : ".";
}

static char *
make_dir (const char *what)
{
  g_autofree char *template = g_build_filename (e2e_tmp_dir (), "spot-e2e-XXXXXX", NULL);
  char *dir = g_mkdtemp (g_steal_pointer (&template));

  g_assert_nonnull (dir);
  (void)what;
  /* The harness's PostgreSQL may run as user postgres; nothing of ours
   * needs hiding from it. */
  g_chmod (dir, 0755);
  return dir;
}

static void
remove_tree (const char *path)
{
  GStatBuf st;

  if (path == NULL || g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

/* ---- HTTP ------------------------------------------------------------------ */

static SoupSession *
session (void)
{
  /* One session per call: tests are not hot, and every request then owns
   * its connection (the simulator closes REST connections anyway). */
  return soup_session_new_with_options ("timeout", 30, NULL);
}

char *
e2e_http_get (const char *url, guint *status, GError **error)
{
  g_autoptr (SoupSession) s = session ();
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = NULL;

  if (msg == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT, "bad URL %s", url);
      return NULL;
    }
  body = soup_session_send_and_read (s, msg, NULL, error);
  if (body == NULL)
    return NULL;
  if (status != NULL)
    *status = soup_message_get_status (msg);
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

static char *
http_post (const char *url, guint *status, GError **error)
{
  g_autoptr (SoupSession) s = session ();
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr (GBytes) body = NULL;

  body = soup_session_send_and_read (s, msg, NULL, error);
  if (body == NULL)
    return NULL;
  *status = soup_message_get_status (msg);
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

double
e2e_metric_value (const char *text, const char *series)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  gsize len = strlen (series);

  for (guint i = 0; lines[i] != NULL; i++)
    if (strncmp (lines[i], series, len) == 0 && lines[i][len] == ' ')
      return g_ascii_strtod (lines[i] + len + 1, NULL);
  return -1;
}

JsonObject *
e2e_http_get_json (JsonParser *parser, const char *url)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *body = e2e_http_get (url, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (json_parser_load_from_data (parser, body, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

/* ---- simulator ----------------------------------------------------------- */

E2eSim *
e2e_sim_start (const char *const *extra_args, GError **error)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *ports = NULL;
  E2eSim *sim = g_new0 (E2eSim, 1);
  gint64 until;

  sim->dir = make_dir ("sim");
  ports = g_build_filename (sim->dir, "ports", NULL);
  g_ptr_array_add (
      argv, g_build_filename (build_root (), "tools", "exchange-sim", "spot-exchange-sim", NULL));
  g_ptr_array_add (argv, g_strdup ("--port=0"));
  g_ptr_array_add (argv, g_strdup_printf ("--ports-file=%s", ports));
  g_ptr_array_add (argv, g_strdup ("--exit-with-parent"));
  for (guint i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (extra_args[i]));
  g_ptr_array_add (argv, NULL);
  sim->process = g_subprocess_newv ((const char *const *)argv->pdata,
                                    G_SUBPROCESS_FLAGS_STDOUT_SILENCE, error);
  if (sim->process == NULL)
    {
      e2e_sim_free (sim);
      return NULL;
    }
  until = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < until)
    {
      g_autofree char *text = NULL;
      if (g_file_get_contents (ports, &text, NULL, NULL) && strstr (text, "control=") != NULL)
        {
          g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
          for (guint i = 0; lines[i] != NULL; i++)
            {
              if (g_str_has_prefix (lines[i], "ws="))
                sim->ws_url = g_strdup (lines[i] + 3);
              else if (g_str_has_prefix (lines[i], "rest="))
                sim->rest_url = g_strdup (lines[i] + 5);
              else if (g_str_has_prefix (lines[i], "control="))
                sim->control_url = g_strdup (lines[i] + 8);
            }
          return sim;
        }
      g_usleep (50 * 1000);
    }
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT, "the exchange simulator did not start");
  e2e_sim_free (sim);
  return NULL;
}

void
e2e_sim_free (E2eSim *sim)
{
  if (sim == NULL)
    return;
  if (sim->process != NULL)
    {
      g_subprocess_send_signal (sim->process, SIGTERM);
      g_subprocess_wait (sim->process, NULL, NULL);
      g_object_unref (sim->process);
    }
  remove_tree (sim->dir);
  g_free (sim->dir);
  g_free (sim->ws_url);
  g_free (sim->rest_url);
  g_free (sim->control_url);
  g_free (sim);
}

gboolean
e2e_sim_fault (E2eSim *sim, const char *kind, const char *value, GError **error)
{
  g_autofree char *url
      = value != NULL ? g_strdup_printf ("%s/fault?kind=%s&value=%s", sim->control_url, kind, value)
                      : g_strdup_printf ("%s/fault?kind=%s", sim->control_url, kind);
  guint status = 0;
  g_autofree char *body = http_post (url, &status, error);

  if (body == NULL)
    return FALSE;
  if (status != 200)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "fault %s: HTTP %u %s", kind, status, body);
      return FALSE;
    }
  return TRUE;
}

void
e2e_sim_fault_assert (E2eSim *sim, const char *kind, const char *value)
{
  g_autoptr (GError) error = NULL;

  g_test_message ("fault %s%s%s", kind, value != NULL ? "=" : "", value != NULL ? value : "");
  g_assert_true (e2e_sim_fault (sim, kind, value, &error));
  g_assert_no_error (error);
}

guint
e2e_sim_subscriptions (E2eSim *sim)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *url = g_strdup_printf ("%s/stats", sim->control_url);
  JsonObject *stats = e2e_http_get_json (parser, url);
  JsonArray *list = json_object_get_array_member (stats, "connection_list");
  guint n = 0;

  for (guint i = 0; i < json_array_get_length (list); i++)
    n += json_object_get_int_member (json_array_get_object_element (list, i), "market_trades");
  return n;
}

typedef struct
{
  E2eSim *sim;
  guint want;
} SubsWait;

static gboolean
subscriptions_reach (gpointer data)
{
  SubsWait *w = data;

  return e2e_sim_subscriptions (w->sim) == w->want;
}

gboolean
e2e_sim_wait_subscriptions (E2eSim *sim, guint want, guint timeout_ms)
{
  SubsWait w = { sim, want };

  return e2e_wait_until (subscriptions_reach, &w, timeout_ms);
}

static gboolean
json_member_decimal (JsonObject *object, const char *name, SpotDecimal *out)
{
  const char *text = json_object_get_string_member_with_default (object, name, NULL);

  return text != NULL && spot_decimal_parse (text, -1, out, NULL);
}

GArray *
e2e_sim_candles (E2eSim *sim,
                 const char *product_id,
                 SpotGranularity granularity,
                 gint64 start,
                 gint64 end,
                 GError **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, TRUE, sizeof (SpotCandle));
  gint64 g = spot_granularity_seconds (granularity);

  /* At most 300 buckets per request, as the service asks. */
  for (gint64 from = start; from <= end; from += 300 * g)
    {
      gint64 to = MIN (end, from + 299 * g);
      g_autofree char *url = g_strdup_printf (
          "%s/api/v3/brokerage/market/products/%s/candles?start=%" G_GINT64_FORMAT
          "&end=%" G_GINT64_FORMAT "&granularity=%s&limit=300",
          sim->rest_url, product_id, from, to, spot_granularity_name (granularity));
      guint status = 0;
      g_autofree char *body = e2e_http_get (url, &status, error);
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonArray *candles;

      if (body == NULL)
        return NULL;
      if (status != 200 || !json_parser_load_from_data (parser, body, -1, error))
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "%s: HTTP %u %s", url, status, body);
          return NULL;
        }
      candles = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                              "candles");
      for (guint i = 0; i < json_array_get_length (candles); i++)
        {
          JsonObject *o = json_array_get_object_element (candles, i);
          SpotCandle c = { 0 };
          g_strlcpy (c.product_id, product_id, sizeof c.product_id);
          c.granularity = granularity;
          c.start = g_ascii_strtoll (json_object_get_string_member (o, "start"), NULL, 10);
          if (!json_member_decimal (o, "open", &c.open) || !json_member_decimal (o, "high", &c.high)
              || !json_member_decimal (o, "low", &c.low)
              || !json_member_decimal (o, "close", &c.close)
              || !json_member_decimal (o, "volume", &c.volume))
            {
              g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "%s: bad candle", url);
              return NULL;
            }
          c.trades = SPOT_CANDLE_TRADES_UNKNOWN;
          g_array_append_val (out, c);
        }
    }
  return g_steal_pointer (&out);
}

char **
e2e_sim_products (E2eSim *sim, GError **error)
{
  g_autofree char *url = g_strdup_printf ("%s/api/v3/brokerage/market/products", sim->rest_url);
  g_autofree char *body = e2e_http_get (url, NULL, error);
  g_autoptr (JsonParser) parser = json_parser_new ();
  GPtrArray *ids;
  JsonArray *products;

  if (body == NULL || !json_parser_load_from_data (parser, body, -1, error))
    return NULL;
  products = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                           "products");
  ids = g_ptr_array_new ();
  for (guint i = 0; i < json_array_get_length (products); i++)
    g_ptr_array_add (ids, g_strdup (json_object_get_string_member (
                              json_array_get_object_element (products, i), "product_id")));
  g_ptr_array_add (ids, NULL);
  return (char **)g_ptr_array_free (ids, FALSE);
}

/* ---- service --------------------------------------------------------------- */

guint16
e2e_free_port (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  guint16 port;

  g_assert_cmpint (fd, >=, 0);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *)&addr, &len), ==, 0);
  port = ntohs (addr.sin_port);
  close (fd);
  return port;
}

static gpointer
log_thread (gpointer data)
{
  E2eService *service = data;
  GInputStream *err = g_subprocess_get_stderr_pipe (service->process);
  char buf[4096];
  gssize n;

  while ((n = g_input_stream_read (err, buf, sizeof buf, NULL, NULL)) > 0)
    {
      g_mutex_lock (&service->log_lock);
      g_string_append_len (service->log, buf, n);
      g_mutex_unlock (&service->log_lock);
    }
  return NULL;
}

char *
e2e_service_dup_log (E2eService *service)
{
  char *copy;

  g_mutex_lock (&service->log_lock);
  copy = g_strdup (service->log->str);
  g_mutex_unlock (&service->log_lock);
  return copy;
}

void
e2e_service_dump_log (E2eService *service, const char *name)
{
  g_autofree char *log = e2e_service_dup_log (service);

  g_printerr ("---- %s log ----\n%s---- end of %s log ----\n", name, log, name);
}

E2eService *
e2e_service_spawn (const char *nats_url,
                   const char *database_url,
                   E2eSim *sim,
                   const char *const *env_extra,
                   GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autofree char *binary = g_build_filename (build_root (), "src", "spot-canvas", NULL);
  /* MALLOC_ARENA_MAX passes through: the benchmark compares the service's
   * arena limit with glibc's default (docs/operations.md, "Memory"). */
  const char *keep[] = { "PATH", "HOME", "LANG", "TMPDIR", "MALLOC_ARENA_MAX", NULL };
  g_auto (GStrv) env = NULL;
  E2eService *service = g_new0 (E2eService, 1);

  g_mutex_init (&service->log_lock);
  service->log = g_string_new (NULL);
  service->state_dir = make_dir ("service");
  service->http_port = e2e_free_port ();
  service->base_url = g_strdup_printf ("http://127.0.0.1:%u", service->http_port);

  for (guint i = 0; keep[i] != NULL; i++)
    if (g_getenv (keep[i]) != NULL)
      env = g_environ_setenv (env, keep[i], g_getenv (keep[i]), TRUE);
  env = g_environ_setenv (env, "DBUS_BUS", "none", TRUE);
  env = g_environ_setenv (env, "STATE_DIRECTORY", service->state_dir, TRUE);
  {
    g_autofree char *addr = g_strdup_printf ("127.0.0.1:%u", service->http_port);
    env = g_environ_setenv (env, "HTTP_ADDR", addr, TRUE);
  }
  if (nats_url != NULL)
    env = g_environ_setenv (env, "NATS_URL", nats_url, TRUE);
  if (database_url != NULL)
    env = g_environ_setenv (env, "DATABASE_URL", database_url, TRUE);
  if (sim != NULL)
    {
      env = g_environ_setenv (env, "COINBASE_WS_URL", sim->ws_url, TRUE);
      env = g_environ_setenv (env, "COINBASE_REST_URL", sim->rest_url, TRUE);
    }
  for (guint i = 0; env_extra != NULL && env_extra[i] != NULL; i++)
    {
      g_auto (GStrv) kv = g_strsplit (env_extra[i], "=", 2);
      env = g_environ_setenv (env, kv[0], kv[1] != NULL ? kv[1] : "", TRUE);
    }
  g_subprocess_launcher_set_environ (launcher, env);
  service->process = g_subprocess_launcher_spawn (launcher, error, binary, "run", NULL);
  if (service->process == NULL)
    {
      e2e_service_free (service);
      return NULL;
    }
  service->log_thread = g_thread_new ("e2e-service-log", log_thread, service);
  return service;
}

gboolean
e2e_service_health_is (E2eService *service, const char *state)
{
  g_autofree char *url = g_strdup_printf ("%s/health", service->base_url);
  g_autofree char *body = e2e_http_get (url, NULL, NULL);
  g_autofree char *member = g_strdup_printf ("\"state\":\"%s\"", state);

  return body != NULL && strstr (body, member) != NULL;
}

gboolean
e2e_service_wait_state (E2eService *service, const char *state, guint timeout_s, GError **error)
{
  gint64 until = g_get_monotonic_time () + (gint64)timeout_s * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < until)
    {
      if (g_subprocess_get_identifier (service->process) == NULL)
        break; /* exited */
      if (e2e_service_health_is (service, state))
        return TRUE;
      g_usleep (100 * 1000);
    }
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT, "the service did not reach the state %s",
               state);
  return FALSE;
}

E2eService *
e2e_service_start (const char *nats_url,
                   const char *database_url,
                   E2eSim *sim,
                   const char *const *env_extra,
                   guint timeout_s,
                   GError **error)
{
  E2eService *service = e2e_service_spawn (nats_url, database_url, sim, env_extra, error);

  if (service == NULL)
    return NULL;
  if (e2e_service_wait_state (service, "running", timeout_s, error))
    return service;
  e2e_service_dump_log (service, "service");
  e2e_service_free (service);
  return NULL;
}

int
e2e_service_stop (E2eService *service, int signum, guint timeout_s)
{
  gint64 until = g_get_monotonic_time () + (gint64)timeout_s * G_USEC_PER_SEC;

  if (service->process == NULL)
    return -1;
  g_subprocess_send_signal (service->process, signum);
  while (g_subprocess_get_identifier (service->process) != NULL && g_get_monotonic_time () < until)
    g_usleep (50 * 1000);
  if (g_subprocess_get_identifier (service->process) != NULL)
    {
      g_subprocess_force_exit (service->process);
      g_subprocess_wait (service->process, NULL, NULL);
      return -1;
    }
  g_subprocess_wait (service->process, NULL, NULL);
  if (!g_subprocess_get_if_exited (service->process))
    return -1;
  return g_subprocess_get_exit_status (service->process);
}

void
e2e_service_free (E2eService *service)
{
  if (service == NULL)
    return;
  if (service->process != NULL)
    {
      if (g_subprocess_get_identifier (service->process) != NULL)
        e2e_service_stop (service, SIGTERM, 30);
      if (service->log_thread != NULL)
        g_thread_join (service->log_thread);
      g_object_unref (service->process);
    }
  remove_tree (service->state_dir);
  g_free (service->state_dir);
  g_free (service->base_url);
  g_string_free (service->log, TRUE);
  g_mutex_clear (&service->log_lock);
  g_free (service);
}

/* ---- /stream ---------------------------------------------------------------- */

struct _E2eStream
{
  SoupSession *session;
  SoupMessage *msg;
  GInputStream *body;
  GCancellable *cancellable;
  GThread *thread;
  GMutex lock;
  GHashTable *shown; /* element id -> SpotCandle* */
  guint64 events;
  E2eStreamFunc func;
  gpointer func_data;
};

static char *
attribute (const char *element, const char *name)
{
  g_autofree char *key = g_strdup_printf (" %s=\"", name);
  const char *at = strstr (element, key);
  const char *end;

  if (at == NULL)
    return NULL;
  at += strlen (key);
  end = strchr (at, '"');
  return end != NULL ? g_strndup (at, end - at) : NULL;
}

/* One <spot-candle ...> element into a candle; FALSE for a placeholder. */
static gboolean
parse_element (const char *element, SpotCandle *out, char **id)
{
  g_autofree char *product = attribute (element, "product");
  g_autofree char *granularity = attribute (element, "granularity");
  g_autofree char *start = attribute (element, "start");
  const char *names[] = { "open", "high", "low", "close", "volume" };
  SpotDecimal *values[] = { &out->open, &out->high, &out->low, &out->close, &out->volume };
  g_autofree char *complete = attribute (element, "complete");

  memset (out, 0, sizeof *out);
  *id = attribute (element, "id");
  if (*id == NULL || product == NULL || granularity == NULL || start == NULL || *start == '\0')
    return FALSE;
  g_strlcpy (out->product_id, product, sizeof out->product_id);
  if (!spot_granularity_parse (granularity, -1, &out->granularity, NULL))
    return FALSE;
  out->start = g_ascii_strtoll (start, NULL, 10);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *text = attribute (element, names[i]);
      if (text == NULL || !spot_decimal_parse (text, -1, values[i], NULL))
        return FALSE;
    }
  out->complete = g_strcmp0 (complete, "true") == 0;
  return TRUE;
}

static gpointer
stream_thread (gpointer data)
{
  E2eStream *stream = data;
  g_autoptr (GDataInputStream) lines = g_data_input_stream_new (stream->body);

  for (;;)
    {
      g_autofree char *line
          = g_data_input_stream_read_line_utf8 (lines, NULL, stream->cancellable, NULL);
      const char *at;

      if (line == NULL)
        break;
      if (!g_str_has_prefix (line, "data: elements "))
        continue;
      /* An element may follow a wrapper's opening tag on the same line. */
      for (at = strstr (line, "<spot-candle "); at != NULL; at = strstr (at + 1, "<spot-candle "))
        {
          SpotCandle candle;
          g_autofree char *id = NULL;
          const char *end = strchr (at, '>');
          g_autofree char *element = end != NULL ? g_strndup (at, end - at + 1) : g_strdup (at);

          if (!parse_element (element, &candle, &id))
            continue;
          if (stream->func != NULL)
            {
              g_autofree char *ts = attribute (element, "ts");
              gint64 ts_ns = 0;
              if (ts == NULL || !spot_time_parse_rfc3339 (ts, -1, &ts_ns, NULL))
                ts_ns = 0;
              stream->func (&candle, ts_ns, spot_time_now_ns (), stream->func_data);
            }
          g_mutex_lock (&stream->lock);
          g_hash_table_insert (stream->shown, g_steal_pointer (&id),
                               g_memdup2 (&candle, sizeof candle));
          stream->events++;
          g_mutex_unlock (&stream->lock);
        }
    }
  return NULL;
}

E2eStream *
e2e_stream_open (const char *url, GError **error)
{
  return e2e_stream_open_full (url, NULL, NULL, error);
}

E2eStream *
e2e_stream_open_full (const char *url, E2eStreamFunc func, gpointer user_data, GError **error)
{
  E2eStream *stream = g_new0 (E2eStream, 1);

  stream->func = func;
  stream->func_data = user_data;
  g_mutex_init (&stream->lock);
  stream->shown = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  stream->cancellable = g_cancellable_new ();
  stream->session = soup_session_new ();
  stream->msg = soup_message_new ("GET", url);
  stream->body = soup_session_send (stream->session, stream->msg, NULL, error);
  if (stream->body == NULL)
    {
      e2e_stream_close (stream);
      return NULL;
    }
  if (soup_message_get_status (stream->msg) != 200)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "%s: HTTP %u", url,
                   soup_message_get_status (stream->msg));
      e2e_stream_close (stream);
      return NULL;
    }
  stream->thread = g_thread_new ("e2e-stream", stream_thread, stream);
  return stream;
}

GHashTable *
e2e_stream_snapshot (E2eStream *stream)
{
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer key, value;

  g_mutex_lock (&stream->lock);
  g_hash_table_iter_init (&iter, stream->shown);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), g_memdup2 (value, sizeof (SpotCandle)));
  g_mutex_unlock (&stream->lock);
  return copy;
}

guint64
e2e_stream_events (E2eStream *stream)
{
  guint64 n;

  g_mutex_lock (&stream->lock);
  n = stream->events;
  g_mutex_unlock (&stream->lock);
  return n;
}

typedef struct
{
  E2eStream *stream;
  const char *const *products;
  const char *granularity;
} ShowsWait;

static gboolean
stream_shows (gpointer data)
{
  ShowsWait *w = data;
  g_autoptr (GHashTable) shown = e2e_stream_snapshot (w->stream);

  for (guint i = 0; w->products[i] != NULL; i++)
    {
      g_autofree char *id = g_strdup_printf ("candle-%s-%s", w->products[i], w->granularity);
      if (g_hash_table_lookup (shown, id) == NULL)
        return FALSE;
    }
  return TRUE;
}

gboolean
e2e_stream_wait_shows (E2eStream *stream,
                       const char *const *products,
                       const char *granularity,
                       guint timeout_ms)
{
  ShowsWait w = { stream, products, granularity };

  return e2e_wait_until (stream_shows, &w, timeout_ms);
}

void
e2e_stream_close (E2eStream *stream)
{
  if (stream == NULL)
    return;
  g_cancellable_cancel (stream->cancellable);
  if (stream->thread != NULL)
    {
      /* A blocked read only notices the cancellation on the next chunk;
       * closing the stream ends it at once. */
      g_input_stream_close (stream->body, NULL, NULL);
      g_thread_join (stream->thread);
    }
  g_clear_object (&stream->body);
  g_clear_object (&stream->msg);
  g_clear_object (&stream->session);
  g_clear_object (&stream->cancellable);
  g_hash_table_unref (stream->shown);
  g_mutex_clear (&stream->lock);
  g_free (stream);
}

void
e2e_finish (E2eService *service, E2eSim *sim)
{
  int status = e2e_service_stop (service, SIGTERM, 30);

  if (status != 0)
    e2e_service_dump_log (service, "service");
  g_assert_cmpint (status, ==, 0);
  e2e_service_free (service);
  if (sim != NULL)
    e2e_sim_free (sim);
}

/* ---- the service's /health and /metrics ------------------------------------- */

char *
e2e_service_metrics (E2eService *service)
{
  g_autofree char *url = g_strdup_printf ("%s/metrics", service->base_url);

  return e2e_http_get (url, NULL, NULL);
}

double
e2e_service_metric (E2eService *service, const char *series)
{
  g_autofree char *text = e2e_service_metrics (service);

  return text != NULL ? e2e_metric_value (text, series) : -1;
}

gint64
e2e_service_health_member (E2eService *service, const char *member)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *url = g_strdup_printf ("%s/health", service->base_url);
  JsonObject *health = e2e_http_get_json (parser, url);
  JsonObject *components = json_object_get_object_member (health, "components");

  return json_object_get_int_member (json_object_get_object_member (components, "service"),
                                     member);
}

gboolean
e2e_service_repairs_settled (gpointer service)
{
  return e2e_service_metric (service, "spot_repairs_pending") == 0;
}

gboolean
e2e_service_trades_flowing (gpointer service)
{
  return e2e_service_metric (service, "spot_trades_received_total") > 0;
}

void
e2e_service_assert_repairs_done (E2eService *service, gint64 since)
{
  /* A dirty minute is repaired once it has closed (plus the grace and the
   * repair delay). */
  while (g_get_real_time () / G_USEC_PER_SEC < since / 60 * 60 + 60 + 6)
    g_usleep (500 * 1000);
  if (!e2e_wait_until (e2e_service_repairs_settled, service, 60000))
    {
      e2e_service_dump_log (service, "service");
      g_assert_not_reached ();
    }
}

/* ---- PostgreSQL -------------------------------------------------------------- */

PGconn *
e2e_db_connect (const char *conninfo)
{
  PGconn *conn = PQconnectdb (conninfo);

  if (PQstatus (conn) != CONNECTION_OK)
    g_error ("PostgreSQL %s: %s", conninfo, PQerrorMessage (conn));
  return conn;
}

GArray *
e2e_db_candles (PGconn *conn, const char *product_id, SpotGranularity granularity, gint64 from)
{
  g_autofree char *from_text = g_strdup_printf ("%" G_GINT64_FORMAT, from);
  const char *params[] = { product_id, spot_granularity_name (granularity), from_text };
  PGresult *res = PQexecParams (conn,
                                "SELECT extract(epoch FROM start)::bigint, open::text, high::text, "
                                "low::text, close::text, volume::text, complete, rev "
                                "FROM candles WHERE product_id = $1 AND granularity = $2 "
                                "AND start >= to_timestamp($3::bigint) ORDER BY start",
                                3, NULL, params, NULL, NULL, 0);
  GArray *out = g_array_new (FALSE, TRUE, sizeof (SpotCandle));

  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    g_error ("candles query: %s", PQerrorMessage (conn));
  for (int r = 0; r < PQntuples (res); r++)
    {
      SpotCandle c = { 0 };
      SpotDecimal *values[] = { &c.open, &c.high, &c.low, &c.close, &c.volume };
      g_strlcpy (c.product_id, product_id, sizeof c.product_id);
      c.granularity = granularity;
      c.start = g_ascii_strtoll (PQgetvalue (res, r, 0), NULL, 10);
      for (int i = 0; i < 5; i++)
        g_assert_true (spot_decimal_parse (PQgetvalue (res, r, i + 1), -1, values[i], NULL));
      c.complete = PQgetvalue (res, r, 6)[0] == 't';
      c.rev = g_ascii_strtoull (PQgetvalue (res, r, 7), NULL, 10);
      g_array_append_val (out, c);
    }
  PQclear (res);
  return out;
}

gboolean
e2e_candles_equal (const SpotCandle *a, const SpotCandle *b, char **why)
{
  const char *names[] = { "open", "high", "low", "close", "volume" };
  const SpotDecimal *av[] = { &a->open, &a->high, &a->low, &a->close, &a->volume };
  const SpotDecimal *bv[] = { &b->open, &b->high, &b->low, &b->close, &b->volume };

  if (a->start != b->start)
    {
      *why
          = g_strdup_printf ("start %" G_GINT64_FORMAT " != %" G_GINT64_FORMAT, a->start, b->start);
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (spot_decimal_compare (av[i], bv[i]) != 0)
      {
        g_autofree char *x = spot_decimal_to_string (av[i]);
        g_autofree char *y = spot_decimal_to_string (bv[i]);
        *why = g_strdup_printf ("%s %s %s start %" G_GINT64_FORMAT ": %s %s != %s", a->product_id,
                                spot_granularity_name (a->granularity), names[i], a->start,
                                names[i], x, y);
        return FALSE;
      }
  return TRUE;
}

guint
e2e_compare_product (PGconn *db,
                     E2eSim *sim,
                     GHashTable *shown,
                     const char *product,
                     gint64 since,
                     gint64 now,
                     GString *problems)
{
  guint compared = 0;

  for (SpotGranularity g = 0; g < SPOT_GRANULARITY_COUNT; g++)
    {
      gint64 from = spot_granularity_align (g, since);
      g_autoptr (GError) error = NULL;
      g_autoptr (GArray) rest = e2e_sim_candles (sim, product, g, from, now, &error);
      g_autoptr (GArray) stored = NULL;
      g_autoptr (GHashTable) by_start = g_hash_table_new (g_int64_hash, g_int64_equal);
      g_autofree char *id = g_strdup_printf ("candle-%s-%s", product, spot_granularity_name (g));
      const SpotCandle *newest = NULL;
      SpotCandle *seen;

      g_assert_no_error (error);
      stored = e2e_db_candles (db, product, g, from);
      g_test_message ("%s %s: %u on the exchange, %u stored since %" G_GINT64_FORMAT, product,
                      spot_granularity_name (g), rest->len, stored->len, from);
      for (guint i = 0; i < rest->len; i++)
        {
          SpotCandle *c = &g_array_index (rest, SpotCandle, i);
          g_hash_table_insert (by_start, &c->start, c);
          if (newest == NULL || c->start > newest->start)
            newest = c;
        }
      /* Every stored row is the exchange's candle... */
      for (guint i = 0; i < stored->len; i++)
        {
          SpotCandle *row = &g_array_index (stored, SpotCandle, i);
          SpotCandle *truth = g_hash_table_lookup (by_start, &row->start);
          g_autofree char *why = NULL;
          if (truth == NULL)
            g_string_append_printf (
                problems, "%s %s start %" G_GINT64_FORMAT ": stored, not on the exchange\n",
                product, spot_granularity_name (g), row->start);
          else if (!e2e_candles_equal (row, truth, &why))
            g_string_append_printf (problems, "database: %s\n", why);
          compared++;
        }
      /* ... and every exchange candle since the start is stored. */
      for (guint i = 0; i < rest->len; i++)
        {
          SpotCandle *c = &g_array_index (rest, SpotCandle, i);
          gboolean found = FALSE;
          for (guint j = 0; j < stored->len && !found; j++)
            found = g_array_index (stored, SpotCandle, j).start == c->start;
          if (!found)
            g_string_append_printf (
                problems, "%s %s start %" G_GINT64_FORMAT ": on the exchange, not stored\n",
                product, spot_granularity_name (g), c->start);
        }
      /* The browser's last state is the exchange's newest bucket. */
      if (shown == NULL || newest == NULL)
        continue;
      seen = g_hash_table_lookup (shown, id);
      if (seen == NULL)
        g_string_append_printf (problems, "stream: no %s\n", id);
      else
        {
          g_autofree char *why = NULL;
          if (!e2e_candles_equal (seen, newest, &why))
            g_string_append_printf (problems, "stream: %s\n", why);
          compared++;
        }
    }
  return compared;
}

guint
e2e_assert_candles_match_exchange (E2eService *service,
                                   const char *conninfo,
                                   E2eSim *sim,
                                   char **products,
                                   GHashTable *shown,
                                   gint64 since,
                                   gint64 now)
{
  g_autoptr (GString) problems = g_string_new (NULL);
  PGconn *db = e2e_db_connect (conninfo);
  guint compared = 0;

  for (guint i = 0; products[i] != NULL; i++)
    compared += e2e_compare_product (db, sim, shown, products[i], since, now, problems);
  PQfinish (db);
  g_test_message ("%u candles compared", compared);
  if (problems->len > 0)
    {
      e2e_service_dump_log (service, "service");
      g_printerr ("%s", problems->str);
    }
  g_assert_cmpstr (problems->str, ==, "");
  return compared;
}

gboolean
e2e_wait_until (gboolean (*func) (gpointer), gpointer data, guint timeout_ms)
{
  gint64 until = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  while (!func (data))
    {
      if (g_get_monotonic_time () > until)
        return FALSE;
      g_usleep (100 * 1000);
    }
  return TRUE;
}

#ifdef E2E_WITH_HARNESS
E2eStack *
e2e_stack_start (const char *const *sim_args)
{
  g_autoptr (GError) error = NULL;
  E2eStack *stack = g_new0 (E2eStack, 1);

  stack->nats = spot_test_nats_start (&error);
  g_assert_no_error (error);
  stack->pg = spot_test_postgres_start (&error);
  g_assert_no_error (error);
  stack->sim = e2e_sim_start (sim_args, &error);
  g_assert_no_error (error);
  stack->products = e2e_sim_products (stack->sim, &error);
  g_assert_no_error (error);
  return stack;
}

E2eService *
e2e_stack_service_start (E2eStack *stack, const char *const *env_extra, guint timeout_s)
{
  g_autoptr (GError) error = NULL;
  E2eService *service
      = e2e_service_start (spot_test_nats_url (stack->nats), spot_test_postgres_conninfo (stack->pg),
                           stack->sim, env_extra, timeout_s, &error);

  g_assert_no_error (error);
  return service;
}

void
e2e_stack_free (E2eStack *stack)
{
  if (stack == NULL)
    return;
  g_clear_pointer (&stack->sim, e2e_sim_free);
  g_strfreev (stack->products);
  g_clear_pointer (&stack->pg, spot_test_postgres_free);
  g_clear_pointer (&stack->nats, spot_test_nats_free);
  g_free (stack);
}

void
e2e_test_init (int *argc, char ***argv)
{
  g_test_init (argc, argv, NULL);
  spot_test_require_program ("nats-server");
  spot_test_require_program ("postgres");
}
#endif
