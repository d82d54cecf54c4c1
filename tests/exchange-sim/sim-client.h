/* sim-client.h: starts the built spot-exchange-sim and talks to it like a
 * Coinbase client would (libsoup WebSocket + json-glib), for the
 * exchange-sim integration tests.
 *
 * Thread safety: the test's main thread only.
 */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct
{
  GSubprocess *proc;
  char *dir;
  char *supp; /* LSan suppressions for the child, under ASan only */
  guint port;
  char *ws_url;
  char *rest_url;
} Sim;

typedef struct
{
  gint64 recv_us; /* real clock */
  char *text;
  gsize len;
  JsonNode *root; /* NULL when the frame is not JSON */
} SimMsg;

typedef struct
{
  SoupSession *session;
  SoupWebsocketConnection *ws;
  GPtrArray *msgs; /* SimMsg* */
  gboolean closed;
  gint64 closed_us;
  gushort close_code;
} SimClient;

/* Starts the simulator with @args (NULL-terminated, may be NULL) plus
 * --port 0 --ports-file; exits 77 when the binary is missing. */
Sim *sim_start (const char *const *args);
void sim_stop (Sim *sim);

SimClient *sim_client_connect (Sim *sim);
void sim_client_free (SimClient *client);
void sim_client_send (SimClient *client, const char *json);
/* Iterates the main context until @cond returns TRUE or @timeout_ms passes. */
gboolean sim_wait (gboolean (*cond) (gpointer), gpointer data, guint timeout_ms);
void sim_sleep (guint ms);
/* Index of the first message from @from on with this channel (or "error"
 * type when @channel is "error"), waiting up to @timeout_ms; -1 if none. */
gint sim_client_wait_channel (SimClient *client, guint from, const char *channel, guint timeout_ms);

/* Blocking HTTP helpers against the simulator; the body is returned. */
char *sim_http (Sim *sim, const char *method, const char *path_and_query, guint *status);
JsonNode *sim_http_json (Sim *sim, const char *path_and_query, guint *status);
/* POST /_sim/fault to the newest connection (the test's own). */
void sim_fault (Sim *sim, const char *kind, const char *value);

const char *sim_msg_channel (SimMsg *m);
JsonObject *sim_msg_event (SimMsg *m, guint index);
gint64 sim_msg_seq (SimMsg *m);
gint64 sim_parse_time_us (const char *rfc3339);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SimClient, sim_client_free)

G_END_DECLS
