/* nats-test-util.c: candles for the NATS tests. */
#define G_LOG_DOMAIN "spot-test"

#include "nats-test-util.h"

#include <string.h>

#include <glib/gstdio.h>

#include "model/spot-time.h"

SpotCandle
nats_test_candle (
    const char *product_id, SpotGranularity g, gint64 start, guint64 rev, const char *price)
{
  SpotCandle c;

  memset (&c, 0, sizeof c);
  g_strlcpy (c.product_id, product_id, sizeof c.product_id);
  c.granularity = g;
  c.start = start;
  g_assert_true (spot_decimal_parse (price, -1, &c.open, NULL));
  c.high = c.open;
  c.low = c.open;
  c.close = c.open;
  c.volume = spot_decimal_from_int (1);
  c.trades = 1;
  c.last_trade_id = rev + 1000;
  c.complete = FALSE;
  c.rev = rev;
  c.ts_ns = spot_time_now_ns ();
  return c;
}

SpotCandleUpdate
nats_test_update (
    const char *product_id, SpotGranularity g, gint64 start, guint64 rev, SpotCandleUpdateKind kind)
{
  SpotCandleUpdate u;
  char price[32];

  g_snprintf (price, sizeof price, "%" G_GUINT64_FORMAT ".5", rev + 1);
  u.candle = nats_test_candle (product_id, g, start, rev, price);
  u.kind = kind;
  u.candle.complete = kind != SPOT_CANDLE_UPDATE_LIVE;
  return u;
}

static gboolean
on_timeout (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
on_tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

gboolean
nats_test_wait_until (gboolean (*done) (gpointer), gpointer data, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (timeout_ms, on_timeout, &timed_out);
  /* Conditions may change on other threads without waking this context. */
  guint tick = g_timeout_add (5, on_tick, NULL);

  while (!done (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  g_source_remove (tick);
  return done (data);
}

SpotNatsConnection *
nats_test_connect (const char *urls)
{
  g_autoptr (GError) error = NULL;
  SpotNatsConfig config;
  SpotNatsConnection *conn;

  spot_nats_config_init (&config);
  config.urls = g_strdup (urls);
  config.name = g_strdup ("spot-test");
  conn = spot_nats_connection_new (&config, &error);
  g_assert_no_error (error);
  g_assert_true (spot_nats_connection_start_sync (conn, 10000, &error));
  g_assert_no_error (error);
  g_assert_true (nats_test_wait_state (conn, SPOT_NATS_STATE_CONNECTED, 10000));
  spot_nats_config_clear (&config);
  return conn;
}

typedef struct
{
  SpotNatsConnection *conn;
  SpotNatsState state;
} StateWait;

static gboolean
state_reached (gpointer data)
{
  StateWait *w = data;
  SpotNatsStatus status;
  gboolean reached;

  spot_nats_connection_get_status (w->conn, &status);
  reached = status.state == w->state;
  spot_nats_status_clear (&status);
  return reached;
}

static gboolean
poll_tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

gboolean
nats_test_wait_state (SpotNatsConnection *conn, SpotNatsState state, guint timeout_ms)
{
  StateWait w = { conn, state };
  /* The status is also readable without a signal: poll it. */
  guint tick = g_timeout_add (10, poll_tick, NULL);
  gboolean ok = nats_test_wait_until (state_reached, &w, timeout_ms);

  g_source_remove (tick);
  return ok;
}

gboolean
nats_test_pid_alive (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int)pid);
  g_autofree char *stat = NULL;
  const char *close_paren;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  close_paren = strrchr (stat, ')');
  return close_paren != NULL && close_paren[1] == ' ' && close_paren[2] != 'Z';
}

void
nats_test_remove_tree (const char *path)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  if (path == NULL)
    return;
  if (!g_file_test (path, G_FILE_TEST_IS_DIR) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_remove (path);
      return;
    }
  dir = g_dir_open (path, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      nats_test_remove_tree (child);
    }
  g_rmdir (path);
}

typedef struct
{
  SpotNatsConnection *conn;
  guint64 reconnects;
} ReconnectWait;

static gboolean
reconnected (gpointer data)
{
  ReconnectWait *w = data;
  SpotNatsStatus status;
  gboolean done;

  spot_nats_connection_get_status (w->conn, &status);
  done = status.state == SPOT_NATS_STATE_CONNECTED && status.reconnects >= w->reconnects;
  spot_nats_status_clear (&status);
  return done;
}

gboolean
nats_test_wait_reconnected (SpotNatsConnection *conn, guint64 reconnects, guint timeout_ms)
{
  ReconnectWait w = { conn, reconnects };
  guint tick = g_timeout_add (10, poll_tick, NULL);
  gboolean ok = nats_test_wait_until (reconnected, &w, timeout_ms);

  g_source_remove (tick);
  return ok;
}
