/* spot-coinbase-manager.c: partitions products into paced connections. */
#define G_LOG_DOMAIN "spot-coinbase"

#include "coinbase/spot-coinbase-manager.h"

#include <string.h>

#include "core/spot-log.h"

struct _SpotCoinbaseManager
{
  SpotCoinbaseShared shared;
  GPtrArray *connections; /* SpotCoinbaseConnection* */
  GMutex stats_lock;      /* guards connections for _get_stats */
  guint next_id;
  gboolean stopped;
};

/* The exchange closes a connection that sends no subscribe within 5 s: hold
 * opens while more than about two seconds of subscribes are queued. */
static gboolean
subscribe_backlog (gpointer data)
{
  SpotCoinbaseManager *m = data;
  double queued = spot_coinbase_gate_length (&m->shared.subscribe_gate);
  return queued > MAX (3.0, 2.0 * m->shared.options.subscribe_rate);
}

SpotCoinbaseManager *
spot_coinbase_manager_new (const SpotCoinbaseOptions *options,
                           SpotShardedAggregator *aggregator,
                           SpotCoinbaseKey *key,
                           gpointer metrics,
                           gpointer monitor)
{
  SpotCoinbaseManager *m = g_new0 (SpotCoinbaseManager, 1);
  spot_coinbase_options_copy (&m->shared.options, options);
  m->shared.session = soup_session_new_with_options ("user-agent", "spot-canvas", NULL);
  m->shared.aggregator = aggregator;
  m->shared.key = key;
  m->shared.metrics = metrics;
  m->shared.monitor = monitor;
  spot_coinbase_gate_init (&m->shared.connect_gate, options->connect_rate);
  spot_coinbase_gate_init (&m->shared.subscribe_gate, options->subscribe_rate);
  m->shared.connect_gate.hold = subscribe_backlog;
  m->shared.connect_gate.hold_data = m;
  m->connections = g_ptr_array_new ();
  g_mutex_init (&m->stats_lock);
  return m;
}

void
spot_coinbase_manager_stop (SpotCoinbaseManager *m)
{
  if (m->stopped)
    return;
  m->stopped = TRUE;
  for (guint i = 0; i < m->connections->len; i++)
    spot_coinbase_connection_stop (g_ptr_array_index (m->connections, i));
  g_message ("closed %u exchange connections", m->connections->len);
}

void
spot_coinbase_manager_free (SpotCoinbaseManager *m)
{
  if (m == NULL)
    return;
  spot_coinbase_manager_stop (m);
  g_mutex_lock (&m->stats_lock);
  for (guint i = 0; i < m->connections->len; i++)
    spot_coinbase_connection_free (g_ptr_array_index (m->connections, i));
  g_ptr_array_unref (m->connections);
  m->connections = NULL;
  g_mutex_unlock (&m->stats_lock);
  g_mutex_clear (&m->stats_lock);
  spot_coinbase_gate_clear (&m->shared.connect_gate);
  spot_coinbase_gate_clear (&m->shared.subscribe_gate);
  g_clear_object (&m->shared.session);
  g_clear_pointer (&m->shared.open_times_us, g_array_unref);
  g_clear_pointer (&m->shared.subscribe_times_us, g_array_unref);
  spot_coinbase_options_clear (&m->shared.options);
  g_free (m);
}

static SpotCoinbaseConnection *
find_product (SpotCoinbaseManager *m, const char *product_id)
{
  for (guint i = 0; i < m->connections->len; i++)
    {
      SpotCoinbaseConnection *c = g_ptr_array_index (m->connections, i);
      if (spot_coinbase_connection_has_product (c, product_id))
        return c;
    }
  return NULL;
}

void
spot_coinbase_manager_add_products (SpotCoinbaseManager *m, const char *const *product_ids)
{
  if (m->stopped)
    return;
  guint per = MAX (1u, m->shared.options.products_per_connection);
  g_autoptr (GPtrArray) unplaced = g_ptr_array_new ();
  for (guint i = 0; product_ids != NULL && product_ids[i] != NULL; i++)
    if (find_product (m, product_ids[i]) == NULL
        && !g_ptr_array_find_with_equal_func (unplaced, product_ids[i], g_str_equal, NULL))
      g_ptr_array_add (unplaced, (gpointer)product_ids[i]);

  guint next = 0;
  /* First fill connections that have room, in order. */
  for (guint i = 0; i < m->connections->len && next < unplaced->len; i++)
    {
      SpotCoinbaseConnection *c = g_ptr_array_index (m->connections, i);
      guint room = per - MIN (per, spot_coinbase_connection_get_n_products (c));
      if (room == 0)
        continue;
      g_autoptr (GPtrArray) part = g_ptr_array_new ();
      for (; room > 0 && next < unplaced->len; room--)
        g_ptr_array_add (part, g_ptr_array_index (unplaced, next++));
      g_ptr_array_add (part, NULL);
      spot_coinbase_connection_add_products (c, (const char *const *)part->pdata);
    }
  /* Then new connections for the rest. */
  while (next < unplaced->len)
    {
      SpotCoinbaseConnection *c = spot_coinbase_connection_new (&m->shared, m->next_id++);
      g_autoptr (GPtrArray) part = g_ptr_array_new ();
      for (guint k = 0; k < per && next < unplaced->len; k++)
        g_ptr_array_add (part, g_ptr_array_index (unplaced, next++));
      g_ptr_array_add (part, NULL);
      spot_coinbase_connection_add_products (c, (const char *const *)part->pdata);
      g_mutex_lock (&m->stats_lock);
      g_ptr_array_add (m->connections, c);
      g_mutex_unlock (&m->stats_lock);
      spot_coinbase_connection_start (c);
    }
  if (unplaced->len > 0)
    g_info ("subscribed %u more products; %u connections", unplaced->len, m->connections->len);
}

void
spot_coinbase_manager_remove_products (SpotCoinbaseManager *m, const char *const *product_ids)
{
  /* One unsubscribe per connection concerned. */
  for (guint k = 0; k < m->connections->len; k++)
    {
      SpotCoinbaseConnection *c = g_ptr_array_index (m->connections, k);
      g_autoptr (GPtrArray) mine = g_ptr_array_new ();
      for (guint i = 0; product_ids != NULL && product_ids[i] != NULL; i++)
        if (spot_coinbase_connection_has_product (c, product_ids[i]))
          g_ptr_array_add (mine, (gpointer)product_ids[i]);
      if (mine->len == 0)
        continue;
      g_ptr_array_add (mine, NULL);
      spot_coinbase_connection_remove_products (c, (const char *const *)mine->pdata);
    }
  /* Connections left without products close; ids are never reused. */
  for (guint i = 0; i < m->connections->len;)
    {
      SpotCoinbaseConnection *c = g_ptr_array_index (m->connections, i);
      if (spot_coinbase_connection_get_n_products (c) > 0)
        {
          i++;
          continue;
        }
      g_mutex_lock (&m->stats_lock);
      g_ptr_array_remove_index (m->connections, i);
      g_mutex_unlock (&m->stats_lock);
      spot_coinbase_connection_free (c);
    }
}

char **
spot_coinbase_manager_dup_products (SpotCoinbaseManager *m)
{
  GPtrArray *all = g_ptr_array_new ();
  for (guint i = 0; i < m->connections->len; i++)
    {
      g_auto (GStrv) p
          = spot_coinbase_connection_dup_products (g_ptr_array_index (m->connections, i));
      for (guint k = 0; p[k] != NULL; k++)
        g_ptr_array_add (all, g_strdup (p[k]));
    }
  g_ptr_array_add (all, NULL);
  return (char **)g_ptr_array_free (all, FALSE);
}

guint
spot_coinbase_manager_get_n_connections (SpotCoinbaseManager *m)
{
  return m->connections->len;
}

guint
spot_coinbase_manager_get_n_open (SpotCoinbaseManager *m)
{
  guint n = 0;
  for (guint i = 0; i < m->connections->len; i++)
    if (spot_coinbase_connection_get_state (g_ptr_array_index (m->connections, i))
        == SPOT_COINBASE_CONNECTION_OPEN)
      n++;
  return n;
}

SpotCoinbaseConnection *
spot_coinbase_manager_get_connection (SpotCoinbaseManager *m, guint index)
{
  return index < m->connections->len ? g_ptr_array_index (m->connections, index) : NULL;
}

void
spot_coinbase_manager_reconnect (SpotCoinbaseManager *m)
{
  for (guint i = 0; i < m->connections->len; i++)
    spot_coinbase_connection_reconnect (g_ptr_array_index (m->connections, i));
}

guint
spot_coinbase_manager_get_closing (SpotCoinbaseManager *m)
{
  (void)m;
  return spot_coinbase_connection_get_closing ();
}

void
spot_coinbase_manager_get_stats (SpotCoinbaseManager *m, SpotCoinbaseConnectionStats *out)
{
  memset (out, 0, sizeof *out);
  guint64 peak_frames = 0, peak_bytes = 0;
  g_mutex_lock (&m->stats_lock);
  for (guint i = 0; m->connections != NULL && i < m->connections->len; i++)
    {
      SpotCoinbaseConnectionStats s;
      spot_coinbase_connection_get_stats (g_ptr_array_index (m->connections, i), &s);
      guint64 *dst = (guint64 *)out;
      const guint64 *src = (const guint64 *)&s;
      for (guint k = 0; k < sizeof s / sizeof (guint64); k++)
        dst[k] += src[k];
      /* Peaks are not sums. */
      peak_frames = MAX (peak_frames, s.inbox_peak_frames);
      peak_bytes = MAX (peak_bytes, s.inbox_peak_bytes);
    }
  out->inbox_peak_frames = peak_frames;
  out->inbox_peak_bytes = peak_bytes;
  g_mutex_unlock (&m->stats_lock);
}

void
spot_coinbase_manager_record_times (SpotCoinbaseManager *m,
                                    GArray **open_times,
                                    GArray **subscribe_times)
{
  if (m->shared.open_times_us == NULL)
    m->shared.open_times_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (m->shared.subscribe_times_us == NULL)
    m->shared.subscribe_times_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (open_times != NULL)
    *open_times = m->shared.open_times_us;
  if (subscribe_times != NULL)
    *subscribe_times = m->shared.subscribe_times_us;
}
