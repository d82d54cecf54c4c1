/* sim-client.c: helpers for the exchange-sim integration tests. */
#define G_LOG_DOMAIN "spot-test"

#include "sim-client.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static gboolean
file_exists_cb (gpointer data)
{
  return g_file_test (data, G_FILE_TEST_EXISTS);
}

void
sim_sleep (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64)ms * 1000;
  while (g_get_monotonic_time () < end)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
}

gboolean
sim_wait (gboolean (*cond) (gpointer), gpointer data, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  while (!cond (data))
    {
      if (g_get_monotonic_time () >= end)
        return FALSE;
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
  return TRUE;
}

Sim *
sim_start (const char *const *args)
{
  const char *root = g_getenv ("SPOT_BUILD_ROOT");
  g_autofree char *exe = g_build_filename (root != NULL ? root : ".", "tools", "exchange-sim",
                                           "spot-exchange-sim", NULL);
  if (!g_file_test (exe, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_print ("1..0 # SKIP %s not built\n", exe);
      exit (77);
    }
  Sim *sim = g_new0 (Sim, 1);
  g_autoptr (GError) error = NULL;
  sim->dir = g_dir_make_tmp ("spot-sim-test-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *ports = g_build_filename (sim->dir, "ports", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, exe);
  g_ptr_array_add (argv, (gpointer) "--port=0");
  g_autofree char *pf = g_strdup_printf ("--ports-file=%s", ports);
  g_ptr_array_add (argv, pf);
  g_ptr_array_add (argv, (gpointer) "--exit-with-parent");
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer)args[i]);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  const char *asan = g_getenv ("ASAN_OPTIONS");
  if (asan != NULL)
    {
      /* libsoup 3.2.3 never frees the GSocket object of an accepted
       * connection (its fd is closed; a bare SoupServer shows the same).
       * Suppress that one leak in the simulator, on top of the project's
       * list; matching it needs full stacks. */
      const char *lsan = g_getenv ("LSAN_OPTIONS");
      const char *supp = lsan != NULL ? strstr (lsan, "suppressions=") : NULL;
      g_autofree char *project = NULL;
      if (supp != NULL)
        {
          g_autofree char *path = g_strndup (supp + strlen ("suppressions="),
                                             strcspn (supp + strlen ("suppressions="), ":"));
          g_file_get_contents (path, &project, NULL, NULL);
        }
      sim->supp = g_build_filename (sim->dir, "lsan.supp", NULL);
      g_autofree char *text
          = g_strdup_printf ("%s\nleak:g_socket_accept\n", project != NULL ? project : "");
      g_assert_true (g_file_set_contents (sim->supp, text, -1, NULL));
      g_autofree char *asan_opts = g_strdup_printf ("%s:fast_unwind_on_malloc=0", asan);
      g_autofree char *lsan_opts = g_strdup_printf ("suppressions=%s", sim->supp);
      g_subprocess_launcher_setenv (launcher, "ASAN_OPTIONS", asan_opts, TRUE);
      g_subprocess_launcher_setenv (launcher, "LSAN_OPTIONS", lsan_opts, TRUE);
    }
  sim->proc = g_subprocess_launcher_spawnv (launcher, (const char *const *)argv->pdata, &error);
  g_assert_no_error (error);
  g_assert_true (sim_wait (file_exists_cb, ports, 20000));
  g_autofree char *line = NULL;
  g_assert_true (g_file_get_contents (ports, &line, NULL, NULL));
  const char *p = strstr (line, "rest=http://127.0.0.1:");
  g_assert_nonnull (p);
  sim->port = (guint)atoi (p + strlen ("rest=http://127.0.0.1:"));
  g_assert_cmpuint (sim->port, >, 0);
  sim->ws_url = g_strdup_printf ("ws://127.0.0.1:%u/", sim->port);
  sim->rest_url = g_strdup_printf ("http://127.0.0.1:%u", sim->port);
  return sim;
}

void
sim_stop (Sim *sim)
{
  if (sim == NULL)
    return;
  g_subprocess_send_signal (sim->proc, SIGTERM);
  g_autoptr (GError) error = NULL;
  g_subprocess_wait (sim->proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (sim->proc));
  g_assert_cmpint (g_subprocess_get_exit_status (sim->proc), ==, 0);
  g_object_unref (sim->proc);
  g_autofree char *ports = g_build_filename (sim->dir, "ports", NULL);
  g_unlink (ports);
  if (sim->supp != NULL)
    g_unlink (sim->supp);
  g_free (sim->supp);
  g_rmdir (sim->dir);
  g_free (sim->dir);
  g_free (sim->ws_url);
  g_free (sim->rest_url);
  g_free (sim);
}

static void
msg_free (gpointer data)
{
  SimMsg *m = data;
  g_free (m->text);
  if (m->root != NULL)
    json_node_unref (m->root);
  g_free (m);
}

static void
message_cb (SoupWebsocketConnection *ws, gint type, GBytes *bytes, gpointer data)
{
  SimClient *c = data;
  SimMsg *m = g_new0 (SimMsg, 1);
  m->recv_us = g_get_real_time ();
  gsize len = 0;
  const char *text = g_bytes_get_data (bytes, &len);
  m->text = g_strndup (text, len);
  m->len = len;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (json_parser_load_from_data (parser, m->text, (gssize)len, NULL)
      && json_parser_get_root (parser) != NULL)
    m->root = json_node_copy (json_parser_get_root (parser));
  g_ptr_array_add (c->msgs, m);
}

static void
closed_cb (SoupWebsocketConnection *ws, gpointer data)
{
  SimClient *c = data;
  c->closed = TRUE;
  c->closed_us = g_get_monotonic_time ();
  c->close_code = soup_websocket_connection_get_close_code (ws);
}

typedef struct
{
  GAsyncResult *result;
} Pending;

static void
connected_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  Pending *p = data;
  p->result = g_object_ref (res);
}

static gboolean
pending_done (gpointer data)
{
  return ((Pending *)data)->result != NULL;
}

SimClient *
sim_client_connect (Sim *sim)
{
  SimClient *c = g_new0 (SimClient, 1);
  c->session = soup_session_new ();
  c->msgs = g_ptr_array_new_with_free_func (msg_free);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", sim->ws_url);
  Pending p = { NULL };
  soup_session_websocket_connect_async (c->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        connected_cb, &p);
  g_assert_true (sim_wait (pending_done, &p, 10000));
  g_autoptr (GError) error = NULL;
  c->ws = soup_session_websocket_connect_finish (c->session, p.result, &error);
  g_object_unref (p.result);
  g_assert_no_error (error);
  /* Snapshots and the oversized fault exceed libsoup's 128 KiB default. */
  soup_websocket_connection_set_max_incoming_payload_size (c->ws, 64 * 1024 * 1024);
  g_signal_connect (c->ws, "message", G_CALLBACK (message_cb), c);
  g_signal_connect (c->ws, "closed", G_CALLBACK (closed_cb), c);
  return c;
}

static gboolean
client_closed (gpointer data)
{
  return ((SimClient *)data)->closed;
}

void
sim_client_free (SimClient *c)
{
  if (c == NULL)
    return;
  if (!c->closed && soup_websocket_connection_get_state (c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    {
      soup_websocket_connection_close (c->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      sim_wait (client_closed, c, 3000);
    }
  g_signal_handlers_disconnect_by_data (c->ws, c);
  g_object_unref (c->ws);
  g_object_unref (c->session);
  g_ptr_array_unref (c->msgs);
  g_free (c);
}

void
sim_client_send (SimClient *c, const char *json)
{
  soup_websocket_connection_send_text (c->ws, json);
}

const char *
sim_msg_channel (SimMsg *m)
{
  if (m->root == NULL || !JSON_NODE_HOLDS_OBJECT (m->root))
    return NULL;
  JsonObject *o = json_node_get_object (m->root);
  if (g_strcmp0 (json_object_get_string_member_with_default (o, "type", NULL), "error") == 0)
    return "error";
  JsonNode *ch = json_object_get_member (o, "channel");
  return ch != NULL && JSON_NODE_HOLDS_VALUE (ch) ? json_node_get_string (ch) : NULL;
}

JsonObject *
sim_msg_event (SimMsg *m, guint index)
{
  JsonObject *o = json_node_get_object (m->root);
  JsonArray *events = json_object_get_array_member (o, "events");
  g_assert_nonnull (events);
  g_assert_cmpuint (index, <, json_array_get_length (events));
  return json_array_get_object_element (events, index);
}

gint64
sim_msg_seq (SimMsg *m)
{
  JsonObject *o = json_node_get_object (m->root);
  g_assert_true (json_object_has_member (o, "sequence_num"));
  return json_object_get_int_member (o, "sequence_num");
}

typedef struct
{
  SimClient *c;
  guint from;
  const char *channel;
  gint found;
} WaitChannel;

static gboolean
channel_seen (gpointer data)
{
  WaitChannel *w = data;
  for (guint i = w->from; i < w->c->msgs->len; i++)
    if (g_strcmp0 (sim_msg_channel (g_ptr_array_index (w->c->msgs, i)), w->channel) == 0)
      {
        w->found = (gint)i;
        return TRUE;
      }
  return FALSE;
}

gint
sim_client_wait_channel (SimClient *client, guint from, const char *channel, guint timeout_ms)
{
  WaitChannel w = { client, from, channel, -1 };
  sim_wait (channel_seen, &w, timeout_ms);
  return w.found;
}

char *
sim_http (Sim *sim, const char *method, const char *path_and_query, guint *status)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strconcat (sim->rest_url, path_and_query, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_assert_nonnull (msg);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (msg);
  gsize len = 0;
  const char *data = g_bytes_get_data (body, &len);
  return g_strndup (data != NULL ? data : "", len);
}

JsonNode *
sim_http_json (Sim *sim, const char *path_and_query, guint *status)
{
  g_autofree char *body = sim_http (sim, "GET", path_and_query, status);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  json_parser_load_from_data (parser, body, -1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

void
sim_fault (Sim *sim, const char *kind, const char *value)
{
  guint status = 0;
  g_autoptr (JsonNode) stats = sim_http_json (sim, "/_sim/stats", &status);
  g_assert_cmpuint (status, ==, 200);
  JsonArray *conns = json_object_get_array_member (json_node_get_object (stats), "connection_list");
  gint64 newest = 0;
  for (guint i = 0; i < json_array_get_length (conns); i++)
    newest
        = MAX (newest, json_object_get_int_member (json_array_get_object_element (conns, i), "id"));
  g_assert_cmpint (newest, >, 0);
  g_autofree char *path
      = g_strdup_printf ("/_sim/fault?kind=%s&connection=%" G_GINT64_FORMAT "%s%s", kind, newest,
                         value != NULL ? "&value=" : "", value != NULL ? value : "");
  g_autofree char *body = sim_http (sim, "POST", path, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (strstr (body, "\"applied\":1"));
}

gint64
sim_parse_time_us (const char *text)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (text, NULL);
  g_assert_nonnull (dt);
  return g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
}
