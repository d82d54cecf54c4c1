/* spot-bench-sse.c: /stream fan-out benchmark.
 *
 *   spot-bench-sse [--clients 1000] [--products 500] [--rate 20]
 *                  [--watch 10] [--granularities 8] [--seconds 20] [--warmup 5]
 *
 * Starts nats-server (Debian's, through the supervisor), then a server
 * process (this program with --serve: the HTTP server, the candle hub on
 * candles.>, default limits) and, in this process, a publisher thread and
 * the clients. The publisher sends live candle updates for --products
 * products at --rate trades per second each, one message per granularity
 * (--granularities, the service publishes every output granularity), each
 * stamped with the publish time as its exchange timestamp. Every client
 * opens /stream for the same --watch products at ONE_MINUTE and reads with
 * epoll on one thread. Latency: from the candle's ts (exchange message
 * timestamp) to the moment the client has read the event carrying it; the
 * initial state event is left out. Prints delivered events and elements per
 * second, latency p50/p99/max, the server's CPU (% of one core) and RSS.
 * Both processes raise RLIMIT_NOFILE to the hard limit.
 */
#define G_LOG_DOMAIN "spot-bench"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/spot-http-server.h"
#include "model/spot-candle-json.h"
#include "model/spot-time.h"
#include "nats/spot-nats-connection.h"
#include "supervisor/spot-embedded-nats.h"

static gint opt_clients = 1000;
static gint opt_products = 500;
static gint opt_rate = 20;
static gint opt_watch = 10;
static gint opt_granularities = 8;
static gint opt_seconds = 20;
static gint opt_warmup = 5;
static gboolean opt_serve = FALSE;
static gint opt_port = 0;
static char *opt_nats = NULL;

static GOptionEntry entries[] = {
  { "clients", 0, 0, G_OPTION_ARG_INT, &opt_clients, "SSE clients", "N" },
  { "products", 0, 0, G_OPTION_ARG_INT, &opt_products, "products fed", "N" },
  { "rate", 0, 0, G_OPTION_ARG_INT, &opt_rate, "trades per second per product", "N" },
  { "watch", 0, 0, G_OPTION_ARG_INT, &opt_watch, "products each client watches", "N" },
  { "granularities", 0, 0, G_OPTION_ARG_INT, &opt_granularities, "messages per trade (1-9)", "N" },
  { "seconds", 0, 0, G_OPTION_ARG_INT, &opt_seconds, "measured seconds", "S" },
  { "warmup", 0, 0, G_OPTION_ARG_INT, &opt_warmup, "seconds before measuring", "S" },
  { "serve", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &opt_serve, "server mode", NULL },
  { "port", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &opt_port, "server port", NULL },
  { "nats", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &opt_nats, "NATS URL", NULL },
  { NULL },
};

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

static char *
product_name (gint i)
{
  return g_strdup_printf ("P%03d-USD", i);
}

/* ---- server process --------------------------------------------------- */

static int
serve (void)
{
  SpotNatsConfig config;
  SpotHttpOptions options;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotNatsConnection) conn = NULL;
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  g_autoptr (SpotLiveCache) cache = spot_live_cache_new (NULL, NULL);
  g_autoptr (SpotHttpServer) server = NULL;
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  spot_nats_config_init (&config);
  config.urls = g_strdup (opt_nats);
  conn = spot_nats_connection_new (&config, &error);
  spot_nats_config_clear (&config);
  if (conn == NULL || !spot_nats_connection_start_sync (conn, 10000, &error))
    {
      g_printerr ("serve: NATS: %s\n", error->message);
      return 1;
    }
  if (!spot_candle_hub_attach (hub, spot_nats_connection_get_nc (conn), &error))
    {
      g_printerr ("serve: hub: %s\n", error->message);
      return 1;
    }
  spot_http_options_init (&options);
  options.port = (guint16)opt_port;
  server = spot_http_server_new (&options);
  spot_http_options_clear (&options);
  spot_http_server_set_hub (server, hub);
  spot_http_server_set_live_cache (server, cache);
  if (!spot_http_server_start (server, &error))
    {
      g_printerr ("serve: %s\n", error->message);
      return 1;
    }
  g_print ("ready %u\n", spot_http_server_get_port (server));
  fflush (stdout);
  g_main_loop_run (loop);
  return 0;
}

/* ---- latency histogram (log buckets, 2% wide) ------------------------- */

#define HIST_BUCKETS 1200
typedef struct
{
  guint64 counts[HIST_BUCKETS];
  guint64 n;
  double max_us;
} Hist;

static guint
hist_bucket (double us)
{
  double b = us <= 1.0 ? 0.0 : log (us) / log (1.02);

  return b >= HIST_BUCKETS - 1 ? HIST_BUCKETS - 1 : (guint)b;
}

static void
hist_add (Hist *h, double us)
{
  h->counts[hist_bucket (us)]++;
  h->n++;
  if (us > h->max_us)
    h->max_us = us;
}

static double
hist_quantile (const Hist *h, double q)
{
  guint64 want = (guint64)ceil (q * (double)h->n), seen = 0;

  for (guint i = 0; i < HIST_BUCKETS; i++)
    {
      seen += h->counts[i];
      if (seen >= want && h->counts[i] > 0)
        return pow (1.02, i + 0.5);
    }
  return h->max_us;
}

/* ---- clients ---------------------------------------------------------- */

typedef struct
{
  int fd;
  GString *buf;
  gboolean head_done;
  gboolean initial_seen;
} Client;

typedef struct
{
  Client *clients;
  gint n;
  int epfd;
  gint measuring; /* atomic */
  gint stop;      /* atomic */
  Hist hist;      /* reader thread only, read after join */
  guint64 events, elements, bytes, closed;
} Readers;

static void
process_events (Readers *r, Client *c, gint64 now_ns)
{
  char *end;
  char *p = c->buf->str;

  if (!c->head_done)
    {
      char *head_end = strstr (p, "\r\n\r\n");

      if (head_end == NULL)
        return;
      c->head_done = TRUE;
      g_string_erase (c->buf, 0, head_end + 4 - p);
      p = c->buf->str;
    }
  while ((end = strstr (p, "\n\n")) != NULL)
    {
      gboolean measure = g_atomic_int_get (&r->measuring);

      *end = '\0';
      if (g_str_has_prefix (p, "event: "))
        {
          if (!c->initial_seen)
            c->initial_seen = TRUE; /* the initial state: not a latency sample */
          else if (measure)
            {
              const char *q = p;

              r->events++;
              while ((q = strstr (q, " ts=\"")) != NULL)
                {
                  gint64 ts;
                  const char *v = q + 5;
                  const char *close = strchr (v, '"');

                  q = v;
                  if (close == NULL || close == v)
                    continue;
                  if (spot_time_parse_rfc3339 (v, close - v, &ts, NULL))
                    {
                      hist_add (&r->hist, (now_ns - ts) / 1000.0);
                      r->elements++;
                    }
                }
            }
        }
      p = end + 2;
    }
  g_string_erase (c->buf, 0, p - c->buf->str);
}

static gpointer
reader_thread (gpointer data)
{
  Readers *r = data;
  struct epoll_event evs[256];
  char chunk[65536];

  while (!g_atomic_int_get (&r->stop))
    {
      int n = epoll_wait (r->epfd, evs, G_N_ELEMENTS (evs), 100);

      for (int i = 0; i < n; i++)
        {
          Client *c = evs[i].data.ptr;
          gint64 now_ns;

          for (;;)
            {
              gssize got = recv (c->fd, chunk, sizeof chunk, MSG_DONTWAIT);

              if (got > 0)
                {
                  g_string_append_len (c->buf, chunk, got);
                  if (g_atomic_int_get (&r->measuring))
                    r->bytes += got;
                  continue;
                }
              if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                {
                  epoll_ctl (r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
                  r->closed++;
                }
              break;
            }
          now_ns = spot_time_now_ns ();
          process_events (r, c, now_ns);
        }
    }
  return NULL;
}

static int
connect_client (guint16 port, const char *products)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = { 0 };
  g_autofree char *req = NULL;
  int one = 1;

  if (fd < 0)
    return -1;
  addr.sin_family = AF_INET;
  addr.sin_port = htons (port);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *)&addr, sizeof addr) != 0)
    {
      close (fd);
      return -1;
    }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  req = g_strdup_printf ("GET /stream?products=%s&granularities=ONE_MINUTE HTTP/1.1\r\n"
                         "Host: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n",
                         products);
  if (write (fd, req, strlen (req)) != (gssize)strlen (req))
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* ---- publisher -------------------------------------------------------- */

typedef struct
{
  natsConnection *nc;
  gint stop;
  guint64 published;
} Publisher;

static gpointer
publisher_thread (gpointer data)
{
  Publisher *pub = data;
  const gint ticks_per_s = 100;
  g_autoptr (GString) json = g_string_sized_new (512);
  guint64 rev = 1;
  gint64 next = g_get_monotonic_time ();
  char subject[96];
  char price[32];
  gdouble carry = 0;

  while (!g_atomic_int_get (&pub->stop))
    {
      /* Trades due this tick, spread over the products round-robin. */
      double due = (double)opt_products * opt_rate / ticks_per_s + carry;
      gint n = (gint)due;
      static gint cursor = 0;

      carry = due - n;
      for (gint k = 0; k < n; k++, cursor = (cursor + 1) % opt_products)
        {
          g_autofree char *product = product_name (cursor);
          gint64 now_ns = spot_time_now_ns ();

          for (gint g = 0; g < opt_granularities && g < SPOT_GRANULARITY_COUNT; g++)
            {
              SpotCandle c = { 0 };

              g_strlcpy (c.product_id, product, sizeof c.product_id);
              c.granularity = (SpotGranularity)g;
              c.start = spot_granularity_align (c.granularity, now_ns / SPOT_NS_PER_SECOND);
              g_snprintf (price, sizeof price, "%d.%02d", 100 + (gint)(rev % 50),
                          (gint)(rev % 100));
              spot_decimal_parse (price, -1, &c.close, NULL);
              c.open = c.high = c.low = c.close;
              c.volume = spot_decimal_from_int ((gint64)(rev % 7) + 1);
              c.trades = (gint64)rev;
              c.last_trade_id = rev;
              c.rev = rev;
              c.ts_ns = now_ns;
              g_string_truncate (json, 0);
              spot_candle_json_append (json, &c);
              g_snprintf (subject, sizeof subject, "candles.%s.%s", product,
                          spot_granularity_name (c.granularity));
              natsConnection_Publish (pub->nc, subject, json->str, (int)json->len);
              pub->published++;
            }
          rev++;
        }
      next += G_USEC_PER_SEC / ticks_per_s;
      {
        gint64 wait = next - g_get_monotonic_time ();

        if (wait > 0)
          g_usleep (wait);
      }
    }
  natsConnection_Flush (pub->nc);
  return NULL;
}

/* ---- process figures -------------------------------------------------- */

static double
cpu_seconds (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  const char *p;
  unsigned long utime = 0, stime = 0;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (p = strrchr (text, ')')) == NULL)
    return 0;
  /* Fields after the command: state(3) ... utime(14) stime(15). */
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
    return 0;
  return (double)(utime + stime) / (double)sysconf (_SC_CLK_TCK);
}

static double
rss_mb (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "VmRSS:")) == NULL)
    return 0;
  return g_ascii_strtod (line + 6, NULL) / 1024.0;
}

/* ---- main ------------------------------------------------------------- */

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- /stream fan-out benchmark");
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotEmbeddedNats) nats = NULL;
  g_autofree char *state = NULL;
  g_autofree char *self = NULL;
  g_autoptr (GString) watch = g_string_new (NULL);
  GPid server_pid;
  gint server_out;
  char line[128] = { 0 };
  guint16 port;
  Readers r = { 0 };
  Publisher pub = { 0 };
  GThread *reader, *publisher;
  double cpu0, cpu1, wall;
  gint64 t0, t1;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  raise_nofile ();
  signal (SIGPIPE, SIG_IGN);
  if (opt_serve)
    return serve ();

  state = g_dir_make_tmp ("spot-bench-sse-XXXXXX", &error);
  nats = spot_embedded_nats_new (state);
  if (!spot_embedded_nats_start_sync (nats, 15000, &error))
    {
      g_printerr ("nats-server: %s\n", error->message);
      return 1;
    }

  self = g_file_read_link ("/proc/self/exe", NULL);
  {
    g_autofree char *nats_arg = g_strdup_printf ("--nats=%s", spot_embedded_nats_get_url (nats));
    const char *child_argv[] = { self, "--serve", nats_arg, NULL };

    if (!g_spawn_async_with_pipes (NULL, (char **)child_argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                   NULL, &server_pid, NULL, &server_out, NULL, &error))
      {
        g_printerr ("server: %s\n", error->message);
        return 1;
      }
  }
  {
    gssize n = 0, got;

    while (n < (gssize)sizeof line - 1 && (got = read (server_out, line + n, 1)) == 1
           && line[n] != '\n')
      n++;
    line[n] = '\0';
    if (!g_str_has_prefix (line, "ready "))
      {
        g_printerr ("server did not start: \"%s\"\n", line);
        return 1;
      }
    port = (guint16)atoi (line + 6);
  }

  for (gint i = 0; i < opt_watch; i++)
    {
      g_autofree char *p = product_name (i);

      g_string_append_printf (watch, "%s%s", i > 0 ? "," : "", p);
    }

  if (natsConnection_ConnectTo (&pub.nc, spot_embedded_nats_get_url (nats)) != NATS_OK)
    {
      g_printerr ("publisher: cannot connect\n");
      return 1;
    }

  r.n = opt_clients;
  r.clients = g_new0 (Client, r.n);
  r.epfd = epoll_create1 (EPOLL_CLOEXEC);
  for (gint i = 0; i < r.n; i++)
    {
      struct epoll_event ev = { .events = EPOLLIN };
      Client *c = &r.clients[i];

      c->fd = connect_client (port, watch->str);
      if (c->fd < 0)
        {
          g_printerr ("client %d: connect failed: %s\n", i, g_strerror (errno));
          return 1;
        }
      c->buf = g_string_sized_new (8192);
      ev.data.ptr = c;
      epoll_ctl (r.epfd, EPOLL_CTL_ADD, c->fd, &ev);
    }
  reader = g_thread_new ("bench-readers", reader_thread, &r);
  publisher = g_thread_new ("bench-publisher", publisher_thread, &pub);

  g_usleep ((gulong)opt_warmup * G_USEC_PER_SEC);
  cpu0 = cpu_seconds (server_pid);
  t0 = g_get_monotonic_time ();
  g_atomic_int_set (&r.measuring, 1);
  g_usleep ((gulong)opt_seconds * G_USEC_PER_SEC);
  g_atomic_int_set (&r.measuring, 0);
  t1 = g_get_monotonic_time ();
  cpu1 = cpu_seconds (server_pid);
  wall = (t1 - t0) / (double)G_USEC_PER_SEC;

  {
    double server_rss = rss_mb (server_pid);
    double pub_rate = 0;

    g_atomic_int_set (&pub.stop, 1);
    g_thread_join (publisher);
    g_atomic_int_set (&r.stop, 1);
    g_thread_join (reader);
    pub_rate = pub.published;

    g_print ("clients %d, products %d x %d trades/s x %d granularities (%.0f msgs/s published in "
             "total), "
             "watching %d at ONE_MINUTE, %d s measured\n",
             opt_clients, opt_products, opt_rate, opt_granularities, pub_rate / (wall + opt_warmup),
             opt_watch, opt_seconds);
    g_print (
        "delivered: %.0f events/s, %.0f elements/s, %.1f MB/s; clients closed: %" G_GUINT64_FORMAT
        "\n",
        r.events / wall, r.elements / wall, r.bytes / wall / 1e6, r.closed);
    g_print ("latency (exchange ts -> client read, live updates): p50 %.2f ms, p99 %.2f ms, max "
             "%.2f ms (%" G_GUINT64_FORMAT " samples)\n",
             hist_quantile (&r.hist, 0.50) / 1000.0, hist_quantile (&r.hist, 0.99) / 1000.0,
             r.hist.max_us / 1000.0, r.hist.n);
    g_print ("server: CPU %.0f%% of one core, RSS %.1f MB\n", 100.0 * (cpu1 - cpu0) / wall,
             server_rss);
  }

  for (gint i = 0; i < r.n; i++)
    {
      close (r.clients[i].fd);
      g_string_free (r.clients[i].buf, TRUE);
    }
  g_free (r.clients);
  close (r.epfd);
  natsConnection_Destroy (pub.nc);
  kill (server_pid, SIGTERM);
  waitpid (server_pid, NULL, 0);
  g_spawn_close_pid (server_pid);
  close (server_out);
  spot_embedded_nats_stop (nats, 2000);
  {
    g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", state);

    if (system (rm) != 0)
      g_printerr ("could not remove %s\n", state);
  }
  return 0;
}
