/* test-nats-cluster.c: a 3-node nats-server cluster on loopback; one node is
 * killed while the service publishes, and the service keeps going. */
#define G_LOG_DOMAIN "spot-test"

#include <gio/gio.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>

#include "nats-test-util.h"
#include "nats/spot-candle-hub.h"
#include "nats/spot-live-cache.h"
#include "nats/spot-publisher.h"
#include "spot-test-harness.h"

#define NODES 3

typedef struct
{
  char *dir;
  guint client_port[NODES];
  guint cluster_port[NODES];
  GSubprocess *proc[NODES];
} Cluster;

static guint
free_port (void)
{
  g_autoptr (GSocket) sock
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (sock, addr, FALSE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* The nodes die with the test, however it ends. */
static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
port_open (guint port)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn
      = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);

  return conn != NULL;
}

static void
cluster_start_node (Cluster *c, guint i)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr (GError) error = NULL;
  g_autofree char *store = g_strdup_printf ("%s/node%u", c->dir, i);
  g_autofree char *port = g_strdup_printf ("%u", c->client_port[i]);
  g_autofree char *name = g_strdup_printf ("node%u", i);
  g_autofree char *cluster = g_strdup_printf ("nats://127.0.0.1:%u", c->cluster_port[i]);
  g_autofree char *routes
      = g_strdup_printf ("nats://127.0.0.1:%u,nats://127.0.0.1:%u,nats://127.0.0.1:%u",
                         c->cluster_port[0], c->cluster_port[1], c->cluster_port[2]);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  c->proc[i] = g_subprocess_launcher_spawn (
      launcher, &error, "nats-server", "-js", "-sd", store, "-a", "127.0.0.1", "-p", port, "-n",
      name, "--cluster_name", "spot-test", "--cluster", cluster, "--routes", routes, NULL);
  g_assert_no_error (error);
  while (!port_open (c->client_port[i]))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20000);
    }
}

static Cluster *
cluster_start (void)
{
  Cluster *c = g_new0 (Cluster, 1);

  c->dir = g_dir_make_tmp ("spot-nats-cluster-XXXXXX", NULL);
  g_assert_nonnull (c->dir);
  for (guint i = 0; i < NODES; i++)
    {
      c->client_port[i] = free_port ();
      c->cluster_port[i] = free_port ();
    }
  for (guint i = 0; i < NODES; i++)
    cluster_start_node (c, i);
  return c;
}

static char *
cluster_urls (Cluster *c)
{
  return g_strdup_printf ("nats://127.0.0.1:%u,nats://127.0.0.1:%u,nats://127.0.0.1:%u",
                          c->client_port[0], c->client_port[1], c->client_port[2]);
}

static void
cluster_kill_node (Cluster *c, guint i)
{
  g_subprocess_send_signal (c->proc[i], SIGKILL);
  g_subprocess_wait (c->proc[i], NULL, NULL);
  g_clear_object (&c->proc[i]);
}

static void
cluster_free (Cluster *c)
{
  for (guint i = 0; i < NODES; i++)
    if (c->proc[i] != NULL)
      {
        g_subprocess_send_signal (c->proc[i], SIGTERM);
        g_subprocess_wait (c->proc[i], NULL, NULL);
        g_clear_object (&c->proc[i]);
      }
  nats_test_remove_tree (c->dir);
  g_free (c->dir);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Cluster, cluster_free)

typedef struct
{
  SpotPublisher *publisher;
  atomic_bool stop;
  atomic_uint rev;
  gint64 max_submit_us;
} Producer;

static gpointer
produce (gpointer data)
{
  Producer *p = data;

  while (!atomic_load (&p->stop))
    {
      SpotCandleUpdate u[8];
      guint rev = atomic_fetch_add (&p->rev, 1) + 1;
      gint64 t0;

      for (guint k = 0; k < G_N_ELEMENTS (u); k++)
        {
          char product[16];

          g_snprintf (product, sizeof product, "K%u-USD", k);
          u[k] = nats_test_update (product, SPOT_GRANULARITY_ONE_MINUTE, 1775521800, rev,
                                   SPOT_CANDLE_UPDATE_LIVE);
        }
      t0 = g_get_monotonic_time ();
      spot_publisher_submit (p->publisher, u, G_N_ELEMENTS (u));
      p->max_submit_us = MAX (p->max_submit_us, g_get_monotonic_time () - t0);
      g_usleep (500);
    }
  return NULL;
}

static void
on_candles (const SpotCandle *candles, guint n, gpointer user_data)
{
  *(guint64 *)user_data += n;
}

typedef struct
{
  SpotPublisher *publisher;
  guint64 acked_above;
} AckWait;

static gboolean
acked_above (gpointer data)
{
  AckWait *w = data;
  SpotPublisherStats stats;

  spot_publisher_get_stats (w->publisher, &stats);
  return stats.kv_acked > w->acked_above;
}

typedef struct
{
  guint64 *received;
  guint64 above;
} ReceivedWait;

static gboolean
received_above (gpointer data)
{
  ReceivedWait *w = data;

  return *w->received > w->above;
}

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static guint
connected_port (SpotNatsConnection *conn)
{
  SpotNatsStatus status;
  const char *colon;
  guint port = 0;

  spot_nats_connection_get_status (conn, &status);
  if (status.server_url != NULL && (colon = strrchr (status.server_url, ':')) != NULL)
    port = (guint)g_ascii_strtoull (colon + 1, NULL, 10);
  spot_nats_status_clear (&status);
  return port;
}

static void
test_service_keeps_going_when_a_cluster_node_dies (void)
{
  g_autoptr (Cluster) cluster = cluster_start ();
  g_autofree char *urls = cluster_urls (cluster);
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotNatsConnection) conn = nats_test_connect (urls);
  g_autoptr (SpotPublisher) publisher = NULL;
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  SpotPublisherOptions options;
  SpotPublisherStats before, after;
  SpotNatsStatus status;
  Producer producer = { 0 };
  guint64 received = 0;
  AckWait aw;
  ReceivedWait rw;
  GThread *thread;
  guint victim = NODES;
  guint port;
  guint tick_id = g_timeout_add (10, tick, NULL);

  spot_publisher_options_init (&options);
  options.kv_replicas = 3; /* the bucket survives losing one node */
  publisher = spot_publisher_new (spot_nats_connection_get_nc (conn), &options, &error);
  spot_publisher_set_js_connection (publisher, spot_nats_connection_get_js_nc (conn));
  g_assert_true (spot_publisher_start (publisher, &error));
  g_assert_true (spot_candle_hub_attach (hub, spot_nats_connection_get_nc (conn), &error));
  spot_candle_hub_subscribe (hub, NULL, SPOT_GRANULARITY_SET_ALL, on_candles, &received, NULL);

  producer.publisher = publisher;
  thread = g_thread_new ("producer", produce, &producer);
  /* JetStream needs a meta leader before the bucket exists. */
  aw = (AckWait){ publisher, 100 };
  g_assert_true (nats_test_wait_until (acked_above, &aw, 30000));
  g_assert_cmpuint (received, >, 0);
  {
    SpotPublisherStats stats;

    /* A replicated bucket: every write acknowledged on its own. */
    spot_publisher_get_stats (publisher, &stats);
    g_assert_cmpuint (stats.kv_ack_group, ==, 1);
  }

  /* Kill the node the service is connected to: the hardest case. */
  port = connected_port (conn);
  for (guint i = 0; i < NODES; i++)
    if (cluster->client_port[i] == port)
      victim = i;
  g_assert_cmpuint (victim, <, NODES);
  cluster_kill_node (cluster, victim);
  spot_publisher_get_stats (publisher, &before);

  /* Reconnected to another node... */
  g_assert_true (nats_test_wait_reconnected (conn, 1, 15000));
  g_assert_cmpuint (connected_port (conn), !=, port);
  /* ...subscribers get messages again, and the KV (R3) takes writes. */
  rw = (ReceivedWait){ &received, received };
  g_assert_true (nats_test_wait_until (received_above, &rw, 15000));
  aw = (AckWait){ publisher, before.kv_acked };
  g_assert_true (nats_test_wait_until (acked_above, &aw, 30000));

  atomic_store (&producer.stop, TRUE);
  g_thread_join (thread);
  g_assert_true (spot_publisher_flush (publisher, 15000));
  spot_publisher_get_stats (publisher, &after);
  spot_nats_connection_get_status (conn, &status);
  g_test_message ("published %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
                  " after the kill), kv acked %" G_GUINT64_FORMAT ", kv errors %" G_GUINT64_FORMAT
                  ", reconnects %" G_GUINT64_FORMAT ", longest submit %" G_GINT64_FORMAT " us",
                  after.published, after.published - before.published, after.kv_acked,
                  after.kv_errors, status.reconnects, producer.max_submit_us);
  g_assert_cmpuint (after.published, >, before.published);
  g_assert_cmpuint (status.reconnects, >=, 1);
  /* A submit that waited for NATS would take most of the outage (~1 s, or a
   * reconnect); 500 ms leaves room for scheduling noise (valgrind included). */
  g_assert_cmpint (producer.max_submit_us, <, 500 * 1000);
  spot_nats_status_clear (&status);
  g_source_remove (tick_id);

  spot_candle_hub_detach (hub);
  spot_publisher_stop (publisher, 2000);
  spot_nats_connection_close (conn, 2000);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  spot_test_require_program ("nats-server");
  /* Killing a node makes the NATS layer warn: expected here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/nats/cluster/node-killed-while-publishing",
                   test_service_keeps_going_when_a_cluster_node_dies);
  ret = g_test_run ();
  nats_CloseAndWait (5000);
  return ret;
}
