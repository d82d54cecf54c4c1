/* spot-bench-nats.c: throughput, KV staleness and latency of the NATS layer.
 *
 * Against an embedded nats-server (started here in a temporary directory) or
 * --url. Each run measures, in this order:
 *  1. publish: one producer thread (a shard stand-in) offers --rate updates/s
 *     (0: as fast as it can) over --keys keys for --seconds; reported are
 *     core publishes/s, coalesced and dropped updates, KV writes (acked)/s,
 *     and the KV staleness seen by a KV watcher on its own connection: for
 *     each value it receives, the time since the oldest update it did not
 *     yet reflect was submitted (an upper bound of how old a reader's view
 *     is), p50/p99/max; "tail" is the time from the producer's stop until
 *     the watcher saw every key's final value;
 *  2. latency (service path): --latency-rate updates/s through the
 *     publisher, core NATS, the candle hub and a client callback on the main
 *     loop; latency = receive time - submit time (the candle's ts);
 *  3. latency (bare): a nats.c publisher and an async subscriber on two
 *     connections, same payload size and rate: the floor;
 *  4. bare JetStream: js_PublishAsync to a KV bucket's subjects as fast as
 *     MaxPending allows: acked/s, alone and again while a second thread
 *     publishes core messages at --rate and a KV watcher reads the bucket
 *     (the capacity left for KV writes under the publish phase's load).
 * With the embedded server, the CPU used by nats-server and by this process
 * during the publish phase is printed too (share of one core).
 * Medians over --runs runs are printed last.
 */
#define G_LOG_DOMAIN "spot-bench"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "model/spot-candle-json.h"
#include "model/spot-time.h"
#include "nats/spot-candle-coalescer.h"
#include "nats/spot-candle-hub.h"
#include "nats/spot-nats-connection.h"
#include "nats/spot-nats-kv.h"
#include "nats/spot-nats-subject.h"
#include "nats/spot-publisher.h"
#include "supervisor/spot-embedded-nats.h"

static gint opt_runs = 5;
static gint opt_seconds = 5;
static gint opt_keys = 4800;
static gint opt_rate = 250000;
static gint opt_latency_rate = 10000;
static gint opt_latency_seconds = 3;
static gint opt_staleness_ms = 250;
static char *opt_url = NULL;
static gboolean opt_no_kv = FALSE;
static gint opt_kv_inflight = 0;
static gboolean opt_kv_memory = FALSE;
static gint opt_kv_ack_group = 0;

static GOptionEntry entries[] = {
  { "runs", 'n', 0, G_OPTION_ARG_INT, &opt_runs, "Runs (median reported)", "N" },
  { "seconds", 's', 0, G_OPTION_ARG_INT, &opt_seconds, "Publish phase length", "S" },
  { "keys", 'k', 0, G_OPTION_ARG_INT, &opt_keys, "Distinct (product, granularity) keys", "K" },
  { "rate", 'r', 0, G_OPTION_ARG_INT, &opt_rate,
    "Offered updates/s in the publish phase (0: unpaced)", "R" },
  { "latency-rate", 'l', 0, G_OPTION_ARG_INT, &opt_latency_rate, "Updates/s in the latency phases",
    "R" },
  { "latency-seconds", 0, 0, G_OPTION_ARG_INT, &opt_latency_seconds, "Latency phase length", "S" },
  { "staleness-ms", 0, 0, G_OPTION_ARG_INT, &opt_staleness_ms, "KV_STALENESS_MS", "MS" },
  { "kv-inflight", 0, 0, G_OPTION_ARG_INT, &opt_kv_inflight,
    "Publisher kv_max_inflight (0: default)", "N" },
  { "kv-ack-group", 0, 0, G_OPTION_ARG_INT, &opt_kv_ack_group,
    "Publisher kv_ack_group: KV writes per acknowledgement (0: default)", "N" },
  { "kv-memory", 0, 0, G_OPTION_ARG_NONE, &opt_kv_memory,
    "Create the KV bucket with memory storage", NULL },
  { "no-kv", 0, 0, G_OPTION_ARG_NONE, &opt_no_kv, "Publish phase without KV writes", NULL },
  { "url", 'u', 0, G_OPTION_ARG_STRING, &opt_url, "NATS URL (default: embedded nats-server)",
    "URL" },
  { NULL }
};

static const SpotGranularity grans[8] = {
  SPOT_GRANULARITY_ONE_MINUTE,    SPOT_GRANULARITY_FIVE_MINUTE, SPOT_GRANULARITY_FIFTEEN_MINUTE,
  SPOT_GRANULARITY_THIRTY_MINUTE, SPOT_GRANULARITY_ONE_HOUR,    SPOT_GRANULARITY_TWO_HOUR,
  SPOT_GRANULARITY_SIX_HOUR,      SPOT_GRANULARITY_ONE_DAY,
};

/* Key index i: product P<i/8>-USD, granularity grans[i % 8]. The decimals
 * are parsed once: the producer stands for a shard worker, whose cost is
 * not what is measured here. */
static SpotCandle template_candle;
static SpotCandle *key_templates; /* by key index, product id filled in */
static GPid server_pid;

static void
init_template (void)
{
  memset (&template_candle, 0, sizeof template_candle);
  spot_decimal_parse ("68900.50", -1, &template_candle.open, NULL);
  spot_decimal_parse ("68950.25", -1, &template_candle.high, NULL);
  spot_decimal_parse ("68850.75", -1, &template_candle.low, NULL);
  spot_decimal_parse ("68910.00", -1, &template_candle.close, NULL);
  spot_decimal_parse ("12.34567890", -1, &template_candle.volume, NULL);
  template_candle.trades = 1234;
}

static void key_candle (SpotCandle *c, guint key, guint64 rev, gint64 now_ns);

/* The shard stand-in has its candles at hand: no formatting per update. */
static void
init_key_templates (void)
{
  key_templates = g_new (SpotCandle, opt_keys);
  for (gint k = 0; k < opt_keys; k++)
    key_candle (&key_templates[k], (guint)k, 0, 0);
}

static inline void
key_candle_fast (SpotCandle *c, guint key, guint64 rev, gint64 now_ns)
{
  *c = key_templates[key];
  c->last_trade_id = 995098700 + rev;
  c->rev = rev;
  c->ts_ns = now_ns;
}

static void
key_candle (SpotCandle *c, guint key, guint64 rev, gint64 now_ns)
{
  SpotGranularity g = grans[key % 8];

  *c = template_candle;
  g_snprintf (c->product_id, sizeof c->product_id, "P%u-USD", key / 8);
  c->granularity = g;
  c->start = spot_granularity_align (g, 1775521800);
  c->last_trade_id = 995098700 + rev;
  c->rev = rev;
  c->ts_ns = now_ns;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

static double
percentile (GArray *v, double p)
{
  if (v->len == 0)
    return NAN;
  qsort (v->data, v->len, sizeof (double), cmp_double);
  return g_array_index (v, double, MIN ((guint)(p * v->len), v->len - 1));
}

static double
median (double *v, guint n)
{
  qsort (v, n, sizeof (double), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static natsConnection *
connect_raw (const char *url)
{
  natsConnection *nc = NULL;
  natsStatus s = natsConnection_ConnectTo (&nc, url);

  if (s != NATS_OK)
    {
      g_printerr ("cannot connect to %s: %s\n", url, natsStatus_GetText (s));
      exit (1);
    }
  return nc;
}

/* Each phase uses a bucket of its own, deleted afterwards: revisions restart
 * at 1 in every phase, and the publisher never writes a lower revision of
 * the same start over what a bucket already holds. */
static void
delete_bucket (const char *url, const char *bucket)
{
  natsConnection *nc = connect_raw (url);
  jsCtx *js = NULL;

  if (natsConnection_JetStream (&js, nc, NULL) == NATS_OK)
    js_DeleteKeyValue (js, bucket);
  jsCtx_Destroy (js);
  natsConnection_Destroy (nc);
}

static const char *
offered_text (void)
{
  static char buf[32];

  if (opt_rate <= 0)
    return "unpaced";
  g_snprintf (buf, sizeof buf, "%d/s", opt_rate);
  return buf;
}

/* ---- phase 1: publish with KV staleness ---- */

typedef struct
{
  SpotPublisher *publisher;
  guint keys;
  gint rate;
  gint64 duration_us;
  gint64 *submit_ns; /* by rev */
  guint64 max_rev;
  atomic_uint_fast64_t last_rev;
  atomic_bool done;
  gint64 stop_ns;
} Producer;

#define BATCH 100

static gpointer
produce (gpointer data)
{
  Producer *p = data;
  SpotCandleUpdate batch[BATCH];
  gint64 t0 = g_get_monotonic_time ();
  guint64 rev = 0;
  guint64 n_batches = 0;

  while (g_get_monotonic_time () - t0 < p->duration_us && rev + BATCH < p->max_rev)
    {
      gint64 now_ns = spot_time_now_ns ();

      for (guint i = 0; i < BATCH; i++)
        {
          rev++;
          key_candle_fast (&batch[i].candle, (guint)((rev - 1) % p->keys), rev, now_ns);
          batch[i].kind = SPOT_CANDLE_UPDATE_LIVE;
          p->submit_ns[rev] = now_ns;
        }
      spot_publisher_submit (p->publisher, batch, BATCH);
      atomic_store (&p->last_rev, rev);
      n_batches++;
      if (p->rate > 0)
        {
          gint64 due = t0 + (gint64)((double)n_batches * BATCH * G_USEC_PER_SEC / p->rate);
          gint64 now = g_get_monotonic_time ();

          if (due > now)
            g_usleep (due - now);
        }
    }
  p->stop_ns = spot_time_now_ns ();
  atomic_store (&p->done, TRUE);
  return NULL;
}

typedef struct
{
  guint32 key;
  guint64 rev;
  gint64 seen_ns;
  gint64 value_ns; /* the value's own update's submit time (its ts) */
} Observation;

typedef struct
{
  natsConnection *nc;
  const char *bucket;
  guint keys;
  GArray *obs; /* Observation */
  atomic_bool stop;
  atomic_bool synced;
} Watcher;

static gpointer
watch (gpointer data)
{
  Watcher *w = data;
  jsCtx *js = NULL;
  kvStore *kv = NULL;
  kvWatcher *watcher = NULL;
  kvWatchOptions wo;
  SpotNatsKvConfig config;

  natsConnection_JetStream (&js, w->nc, NULL);
  spot_nats_kv_config_init (&config);
  config.bucket = w->bucket;
  config.memory = opt_kv_memory;
  kv = spot_nats_kv_open (js, &config, TRUE, NULL);
  g_assert (kv != NULL);
  kvWatchOptions_Init (&wo);
  if (kvStore_WatchAll (&watcher, kv, &wo) != NATS_OK)
    g_error ("cannot watch the bucket");
  while (!atomic_load (&w->stop))
    {
      kvEntry *e = NULL;
      natsStatus s = kvWatcher_Next (&e, watcher, 100);
      SpotCandle c;

      if (s != NATS_OK)
        continue;
      if (e == NULL)
        {
          atomic_store (&w->synced, TRUE);
          continue;
        }
      if (kvEntry_Operation (e) == kvOp_Put
          && spot_candle_from_json (kvEntry_Value (e), kvEntry_ValueLen (e), &c, NULL)
          && atomic_load (&w->synced))
        {
          Observation o = { (guint32)((c.rev - 1) % w->keys), c.rev, spot_time_now_ns (), c.ts_ns };

          g_array_append_val (w->obs, o);
        }
      kvEntry_Destroy (e);
    }
  kvWatcher_Destroy (watcher);
  kvStore_Destroy (kv);
  jsCtx_Destroy (js);
  return NULL;
}

typedef struct
{
  double published_per_s;
  double coalesced_pct;
  double dropped;
  double kv_acked_per_s;
  double stale_p50_ms, stale_p99_ms, stale_max_ms, tail_ms;
  double service_p50_ms, service_p99_ms;
  double bare_p50_ms, bare_p99_ms;
  double js_bare_per_s;
  double js_loaded_per_s;
  double stale_over_pct;
  double server_cpu_pct, bench_cpu_pct;
  double ack_latency_ms, budget_ms;
  double cpu_us_per_update;
  double core_bare_per_s;
} RunResult;

/* User + system CPU time of @pid (all threads), in us; -1 when unknown. */
static gint64
pid_cpu_us (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int)pid);
  g_autofree char *text = NULL;
  const char *p;
  guint64 utime = 0, stime = 0;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL)
      || (p = strrchr (text, ')')) == NULL)
    return -1;
  /* Fields after the command: state is the 3rd, utime the 14th. */
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %" G_GUINT64_FORMAT
                     " %" G_GUINT64_FORMAT,
              &utime, &stime)
      != 2)
    return -1;
  return (gint64)((utime + stime) * G_USEC_PER_SEC / sysconf (_SC_CLK_TCK));
}

/* User + system CPU time of the whole process (all threads). */
static gint64
process_cpu_us (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (gint64)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec
         + (gint64)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

static void
phase_publish (const char *url, const char *bucket, RunResult *r)
{
  g_autoptr (GError) error = NULL;
  natsConnection *nc = connect_raw (url);
  natsConnection *jnc = connect_raw (url);
  natsConnection *wnc = connect_raw (url);
  g_autoptr (SpotPublisher) publisher = NULL;
  SpotPublisherOptions options;
  SpotPublisherStats s0, s1;
  Producer p = { 0 };
  Watcher w = { 0 };
  GThread *pt, *wt;
  g_autoptr (GArray) stale = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) age = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 cpu0, cpu1, scpu0, scpu1, wall0, wall1;
  guint over = 0;
  double writer_max_ms;
  g_autofree guint64 *last_seen = NULL;
  guint64 final_seen = 0;
  gint64 tail_ns = 0;

  spot_publisher_options_init (&options);
  options.kv_bucket = bucket;
  options.kv_staleness_ms = opt_staleness_ms;
  options.kv_enabled = !opt_no_kv;
  if (opt_kv_inflight > 0)
    options.kv_max_inflight = (guint)opt_kv_inflight;
  if (opt_kv_ack_group > 0)
    options.kv_ack_group = (guint)opt_kv_ack_group;
  options.kv_memory = opt_kv_memory;
  publisher = spot_publisher_new (nc, &options, &error);
  g_assert_no_error (error);
  spot_publisher_set_js_connection (publisher, jnc);
  spot_publisher_start (publisher, &error);
  g_assert_no_error (error);

  w.nc = wnc;
  w.bucket = bucket;
  w.keys = opt_keys;
  w.obs = g_array_sized_new (FALSE, FALSE, sizeof (Observation), 1 << 20);
  wt = g_thread_new ("kv-watch", watch, &w);
  /* Let the bucket exist and the watcher sync before measuring. */
  while (!atomic_load (&w.synced))
    g_usleep (10000);

  p.publisher = publisher;
  p.keys = opt_keys;
  p.rate = opt_rate;
  p.duration_us = (gint64)opt_seconds * G_USEC_PER_SEC;
  p.max_rev = (guint64)(opt_rate > 0 ? opt_rate * 1.2 : 3000000) * opt_seconds + 2 * BATCH;
  p.submit_ns = g_new0 (gint64, p.max_rev + 1 + opt_keys);
  spot_publisher_get_stats (publisher, &s0);
  cpu0 = process_cpu_us ();
  scpu0 = pid_cpu_us (server_pid);
  wall0 = g_get_monotonic_time ();
  pt = g_thread_new ("producer", produce, &p);
  g_thread_join (pt);
  /* CPU shares over the producer's span only (not the flush). */
  wall1 = g_get_monotonic_time ();
  scpu1 = pid_cpu_us (server_pid);
  r->bench_cpu_pct = 100.0 * (process_cpu_us () - cpu0) / MAX (wall1 - wall0, 1);
  r->server_cpu_pct = scpu0 >= 0 && scpu1 >= 0 ? 100.0 * (scpu1 - scpu0) / MAX (wall1 - wall0, 1)
                                                 : NAN;
  spot_publisher_get_stats (publisher, &s1);
  r->ack_latency_ms = s1.kv_ack_latency_us / 1000.0;
  writer_max_ms = s1.kv_staleness_max_us / 1000.0;
  r->budget_ms = s1.kv_write_budget_us / 1000.0;
  spot_publisher_flush (publisher, 30000);
  cpu1 = process_cpu_us ();
  spot_publisher_get_stats (publisher, &s1);

  /* Wait until the watcher saw every key's final revision. */
  last_seen = g_new0 (guint64, opt_keys);
  {
    guint64 last_rev = atomic_load (&p.last_rev);
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
    guint scanned = 0;
    guint complete_keys = 0;

    while (g_get_monotonic_time () < deadline && complete_keys < (guint)opt_keys)
      {
        g_usleep (5000);
        /* The watcher appends concurrently; read only what is there. */
        for (; scanned < w.obs->len; scanned++)
          {
            Observation *o = &g_array_index (w.obs, Observation, scanned);
            guint64 final_rev = last_rev - ((last_rev - 1 - o->key) % opt_keys);

            if (o->rev == final_rev && last_seen[o->key] != final_rev)
              {
                complete_keys++;
                tail_ns = MAX (tail_ns, o->seen_ns - p.stop_ns);
              }
            last_seen[o->key] = MAX (last_seen[o->key], o->rev);
          }
      }
    final_seen = complete_keys;
  }
  atomic_store (&w.stop, TRUE);
  g_thread_join (wt);

  /* Staleness: when a value with rev r arrives for a key whose previous
   * value was p, the oldest update not reflected until then is p + keys. */
  memset (last_seen, 0, sizeof (guint64) * opt_keys);
  for (guint i = 0; i < w.obs->len; i++)
    {
      Observation *o = &g_array_index (w.obs, Observation, i);
      guint64 prev = last_seen[o->key];

      if (prev != 0 && o->rev > prev && prev + opt_keys <= p.max_rev)
        {
          double ms = (o->seen_ns - p.submit_ns[prev + opt_keys]) / 1e6;

          g_array_append_val (stale, ms);
          if (ms > opt_staleness_ms)
            over++;
          /* How old the received value's own update was: the path from
           * submit to the reader, without the write budget. */
          ms = (o->seen_ns - o->value_ns) / 1e6;
          g_array_append_val (age, ms);
        }
      last_seen[o->key] = MAX (prev, o->rev);
    }

  /* Use the producer's actual span for rates. */
  {
    double span_s = (p.stop_ns - (p.submit_ns[1])) / 1e9;

    r->published_per_s = (s1.published - s0.published) / span_s;
    r->kv_acked_per_s = (s1.kv_acked - s0.kv_acked) / span_s;
    r->coalesced_pct = 100.0 * (s1.coalesced - s0.coalesced) / MAX (s1.submitted - s0.submitted, 1);
    r->dropped = (double)(s1.dropped - s0.dropped);
    r->cpu_us_per_update = (double)(cpu1 - cpu0) / MAX (s1.published - s0.published, 1);
  }
  r->stale_p50_ms = percentile (stale, 0.5);
  r->stale_p99_ms = percentile (stale, 0.99);
  r->stale_max_ms = stale->len > 0 ? g_array_index (stale, double, stale->len - 1) : NAN;
  r->tail_ms = final_seen == (guint64)opt_keys ? tail_ns / 1e6 : NAN;
  r->stale_over_pct = stale->len > 0 ? 100.0 * over / stale->len : NAN;
  printf ("  publish: offered %s, submitted %" G_GUINT64_FORMAT
          ", published %.0f/s, coalesced %.2f%%, dropped %.0f, "
          "KV writes %.0f/s (acked), KV staleness p50 %.1f ms p99 %.1f ms max %.1f ms, "
          "%.2f%% of %u samples over the bound of %d ms, "
          "tail %.1f ms; value age at receipt p50 %.1f ms p99 %.1f ms; writer: ack latency %.1f "
          "ms, write budget %.1f ms, oldest change to ack max %.1f ms; "
          "bench process CPU %.2f us per published update; CPU (share of one core) "
          "nats-server %.0f%%, bench process %.0f%%\n",
          offered_text (), s1.submitted - s0.submitted, r->published_per_s, r->coalesced_pct,
          r->dropped, r->kv_acked_per_s, r->stale_p50_ms, r->stale_p99_ms, r->stale_max_ms,
          r->stale_over_pct, stale->len, opt_staleness_ms, r->tail_ms, percentile (age, 0.5),
          percentile (age, 0.99), r->ack_latency_ms, r->budget_ms, writer_max_ms, r->cpu_us_per_update, r->server_cpu_pct, r->bench_cpu_pct);

  spot_publisher_stop (publisher, 5000);
  g_clear_object (&publisher);
  g_array_unref (w.obs);
  g_free (p.submit_ns);
  natsConnection_Destroy (wnc);
  natsConnection_Destroy (jnc);
  natsConnection_Destroy (nc);
}

/* ---- phase 2: service-path latency ---- */

typedef struct
{
  GArray *lat; /* double ms */
  gint64 measure_from_ns;
  guint64 received;
} LatencySink;

static void
on_candles (const SpotCandle *candles, guint n, gpointer user_data)
{
  LatencySink *s = user_data;
  gint64 now = spot_time_now_ns ();

  for (guint i = 0; i < n; i++)
    {
      s->received++;
      if (candles[i].ts_ns >= s->measure_from_ns)
        {
          double ms = (now - candles[i].ts_ns) / 1e6;

          g_array_append_val (s->lat, ms);
        }
    }
}

typedef struct
{
  SpotPublisher *publisher;
  gint rate;
  gint64 duration_us;
  atomic_bool done;
} PacedProducer;

static gpointer
produce_paced (gpointer data)
{
  PacedProducer *p = data;
  gint64 t0 = g_get_monotonic_time ();
  guint64 n = 0;

  while (g_get_monotonic_time () - t0 < p->duration_us)
    {
      SpotCandleUpdate u;
      gint64 due, now;

      key_candle_fast (&u.candle, (guint)(n % (guint)opt_keys), n + 1, spot_time_now_ns ());
      u.kind = SPOT_CANDLE_UPDATE_LIVE;
      spot_publisher_submit (p->publisher, &u, 1);
      n++;
      due = t0 + (gint64)((double)n * G_USEC_PER_SEC / p->rate);
      now = g_get_monotonic_time ();
      if (due > now)
        g_usleep (due - now);
    }
  atomic_store (&p->done, TRUE);
  return NULL;
}

static void
phase_service_latency (const char *url, const char *bucket, RunResult *r)
{
  g_autoptr (GError) error = NULL;
  natsConnection *pnc = connect_raw (url);
  natsConnection *jnc = connect_raw (url);
  natsConnection *snc = connect_raw (url);
  g_autoptr (SpotPublisher) publisher = NULL;
  g_autoptr (SpotCandleHub) hub = spot_candle_hub_new (0);
  SpotPublisherOptions options;
  LatencySink sink = { g_array_new (FALSE, FALSE, sizeof (double)), 0, 0 };
  PacedProducer p = { 0 };
  GThread *t;

  spot_publisher_options_init (&options);
  options.kv_bucket = bucket;
  options.kv_staleness_ms = opt_staleness_ms;
  options.kv_enabled = !opt_no_kv;
  if (opt_kv_inflight > 0)
    options.kv_max_inflight = (guint)opt_kv_inflight;
  if (opt_kv_ack_group > 0)
    options.kv_ack_group = (guint)opt_kv_ack_group;
  options.kv_memory = opt_kv_memory;
  publisher = spot_publisher_new (pnc, &options, &error);
  spot_publisher_set_js_connection (publisher, jnc);
  spot_publisher_start (publisher, &error);
  g_assert_no_error (error);
  spot_candle_hub_attach (hub, snc, &error);
  g_assert_no_error (error);
  spot_candle_hub_subscribe (hub, NULL, SPOT_GRANULARITY_SET_ALL, on_candles, &sink, NULL);
  natsConnection_FlushTimeout (snc, 5000);
  /* The first half second warms up and is left out. */
  sink.measure_from_ns = spot_time_now_ns () + 500 * 1000000LL;
  p.publisher = publisher;
  p.rate = opt_latency_rate;
  p.duration_us = (gint64)opt_latency_seconds * G_USEC_PER_SEC + 500000;
  t = g_thread_new ("paced", produce_paced, &p);
  while (!atomic_load (&p.done))
    g_main_context_iteration (NULL, FALSE) || (g_usleep (50), TRUE);
  g_thread_join (t);
  {
    gint64 end = g_get_monotonic_time () + 200000;

    while (g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, FALSE) || (g_usleep (50), TRUE);
  }
  r->service_p50_ms = percentile (sink.lat, 0.5);
  r->service_p99_ms = percentile (sink.lat, 0.99);
  printf ("  latency service path (%d/s, publisher -> NATS -> hub -> main loop): p50 %.3f ms p99 "
          "%.3f ms (%u samples)\n",
          opt_latency_rate, r->service_p50_ms, r->service_p99_ms, sink.lat->len);
  spot_candle_hub_detach (hub);
  spot_publisher_stop (publisher, 2000);
  g_clear_object (&publisher);
  g_clear_object (&hub);
  g_array_unref (sink.lat);
  natsConnection_Destroy (pnc);
  natsConnection_Destroy (jnc);
  natsConnection_Destroy (snc);
}

/* ---- phase 3: bare nats.c pair ---- */

typedef struct
{
  GMutex lock;
  GArray *lat;
  gint64 measure_from_ns;
} BareSink;

static void
on_bare (natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
  BareSink *s = closure;
  gint64 now = spot_time_now_ns ();
  gint64 ts;

  memcpy (&ts, natsMsg_GetData (msg), sizeof ts);
  if (ts >= s->measure_from_ns)
    {
      double ms = (now - ts) / 1e6;

      g_mutex_lock (&s->lock);
      g_array_append_val (s->lat, ms);
      g_mutex_unlock (&s->lock);
    }
  natsMsg_Destroy (msg);
}

static void
phase_bare_latency (const char *url, RunResult *r)
{
  natsConnection *pnc = connect_raw (url);
  natsConnection *snc = connect_raw (url);
  natsSubscription *sub = NULL;
  BareSink sink;
  g_autoptr (GString) json = g_string_new (NULL);
  g_autofree char *payload = NULL;
  SpotCandle c;
  gint64 t0;
  guint64 n = 0;

  /* Same size as the service's messages. */
  key_candle (&c, 0, 1, 0);
  spot_candle_json_append (json, &c);
  payload = g_malloc0 (json->len);
  g_mutex_init (&sink.lock);
  sink.lat = g_array_new (FALSE, FALSE, sizeof (double));
  natsConnection_Subscribe (&sub, snc, "bare.>", on_bare, &sink);
  natsConnection_FlushTimeout (snc, 5000);
  sink.measure_from_ns = spot_time_now_ns () + 500 * 1000000LL;
  t0 = g_get_monotonic_time ();
  while (g_get_monotonic_time () - t0 < (gint64)opt_latency_seconds * G_USEC_PER_SEC + 500000)
    {
      gint64 ts = spot_time_now_ns ();
      gint64 due, now;

      memcpy (payload, &ts, sizeof ts);
      natsConnection_Publish (pnc, "bare.x", payload, (int)json->len);
      n++;
      due = t0 + (gint64)((double)n * G_USEC_PER_SEC / opt_latency_rate);
      now = g_get_monotonic_time ();
      if (due > now)
        g_usleep (due - now);
    }
  natsConnection_FlushTimeout (pnc, 5000);
  g_usleep (200000);
  natsSubscription_Unsubscribe (sub);
  natsSubscription_Destroy (sub);
  g_mutex_lock (&sink.lock);
  r->bare_p50_ms = percentile (sink.lat, 0.5);
  r->bare_p99_ms = percentile (sink.lat, 0.99);
  printf (
      "  latency bare nats.c pair (%d/s, %u-byte payload): p50 %.3f ms p99 %.3f ms (%u samples)\n",
      opt_latency_rate, (guint)json->len, r->bare_p50_ms, r->bare_p99_ms, sink.lat->len);
  g_mutex_unlock (&sink.lock);
  natsConnection_Destroy (pnc);
  natsConnection_Destroy (snc);
  g_array_unref (sink.lat);
  g_mutex_clear (&sink.lock);
}

/* ---- phase 0: bare core publishes, one thread, preformatted payload ---- */

static void
phase_bare_core (const char *url, RunResult *r)
{
  natsConnection *nc = connect_raw (url);
  g_autoptr (GString) json = g_string_new (NULL);
  char subject[SPOT_NATS_SUBJECT_SIZE];
  SpotCandle c;
  gint64 t0, t1;
  guint64 n = 0;

  key_candle (&c, 0, 1, spot_time_now_ns ());
  spot_candle_json_append (json, &c);
  spot_nats_subject_format (c.product_id, c.granularity, subject, sizeof subject);
  t0 = g_get_monotonic_time ();
  while ((t1 = g_get_monotonic_time ()) - t0 < 2 * G_USEC_PER_SEC)
    for (guint i = 0; i < 1000; i++, n++)
      natsConnection_Publish (nc, subject, json->str, (int)json->len);
  natsConnection_FlushTimeout (nc, 5000);
  t1 = g_get_monotonic_time ();
  r->core_bare_per_s = n / ((t1 - t0) / 1e6);
  printf ("  bare core publish loop (one thread, preformatted): %.0f/s\n", r->core_bare_per_s);
  natsConnection_Destroy (nc);
}

/* ---- phase 4: bare js_PublishAsync ---- */

static atomic_uint_fast64_t js_acked;

static void
on_js_ack (jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
  if (pa != NULL)
    atomic_fetch_add (&js_acked, 1);
  natsMsg_Destroy (msg);
}

typedef struct
{
  const char *url;
  gint rate;
  atomic_bool stop;
} CoreLoad;

/* Core publishes at @rate, preformatted, over the keys' subjects. */
static gpointer
core_load (gpointer data)
{
  CoreLoad *l = data;
  natsConnection *nc = connect_raw (l->url);
  g_autoptr (GString) json = g_string_new (NULL);
  char *subjects = g_malloc ((gsize)opt_keys * SPOT_NATS_SUBJECT_SIZE);
  gint64 t0 = g_get_monotonic_time ();
  guint64 n = 0;

  for (gint k = 0; k < opt_keys; k++)
    spot_nats_subject_format (key_templates[k].product_id, key_templates[k].granularity,
                              subjects + (gsize)k * SPOT_NATS_SUBJECT_SIZE, SPOT_NATS_SUBJECT_SIZE);
  spot_candle_json_append (json, &key_templates[0]);
  while (!atomic_load (&l->stop))
    {
      gint64 due, now;

      for (guint i = 0; i < BATCH; i++, n++)
        natsConnection_Publish (nc, subjects + (n % (guint64)opt_keys) * SPOT_NATS_SUBJECT_SIZE,
                                json->str, (int)json->len);
      due = t0 + (gint64)((double)n * G_USEC_PER_SEC / MAX (l->rate, 1));
      now = g_get_monotonic_time ();
      if (l->rate > 0 && due > now)
        g_usleep (due - now);
    }
  natsConnection_FlushTimeout (nc, 5000);
  natsConnection_Destroy (nc);
  g_free (subjects);
  return NULL;
}

static void
phase_bare_js (const char *url, gboolean loaded, RunResult *r)
{
  natsConnection *nc = connect_raw (url);
  jsCtx *js = NULL;
  jsOptions jo;
  jsPubOptions po;
  kvStore *kv;
  SpotNatsKvConfig config;
  g_autoptr (GString) json = g_string_new (NULL);
  SpotCandle c;
  gint64 t0, t1;
  guint64 sent = 0, a0;
  char subject[SPOT_NATS_SUBJECT_SIZE];
  const char *bucket = loaded ? "bench-raw-loaded" : "bench-raw";
  CoreLoad load = { url, opt_rate, FALSE };
  Watcher w = { 0 };
  GThread *lt = NULL, *wt = NULL;
  double rate;

  jsOptions_Init (&jo);
  jo.PublishAsync.MaxPending = 4096;
  jo.PublishAsync.AckHandler = on_js_ack;
  natsConnection_JetStream (&js, nc, &jo);
  spot_nats_kv_config_init (&config);
  config.bucket = bucket;
  config.memory = opt_kv_memory;
  kv = spot_nats_kv_open (js, &config, TRUE, NULL);
  g_assert (kv != NULL);
  if (loaded)
    {
      w.nc = connect_raw (url);
      w.bucket = bucket;
      w.keys = opt_keys;
      w.obs = g_array_sized_new (FALSE, FALSE, sizeof (Observation), 1 << 18);
      wt = g_thread_new ("kv-watch", watch, &w);
      while (!atomic_load (&w.synced))
        g_usleep (10000);
      lt = g_thread_new ("core-load", core_load, &load);
      g_usleep (200000);
    }
  jsPubOptions_Init (&po);
  po.MaxWait = 5000;
  key_candle (&c, 0, 1, spot_time_now_ns ());
  spot_candle_json_append (json, &c);
  a0 = atomic_load (&js_acked);
  t0 = g_get_monotonic_time ();
  while (g_get_monotonic_time () - t0 < 3 * G_USEC_PER_SEC)
    {
      guint key = (guint)(sent % (guint64)opt_keys);

      spot_nats_kv_subject_format (bucket, key_templates[key].product_id,
                                   key_templates[key].granularity, subject, sizeof subject);
      js_PublishAsync (js, subject, json->str, (int)json->len, &po);
      sent++;
    }
  js_PublishAsyncComplete (js, &po);
  t1 = g_get_monotonic_time ();
  rate = (atomic_load (&js_acked) - a0) / ((t1 - t0) / 1e6);
  if (loaded)
    {
      atomic_store (&load.stop, TRUE);
      g_thread_join (lt);
      atomic_store (&w.stop, TRUE);
      g_thread_join (wt);
      g_array_unref (w.obs);
      natsConnection_Destroy (w.nc);
      r->js_loaded_per_s = rate;
      printf ("  bare js_PublishAsync (MaxPending 4096) with core publishes at %s and a KV "
              "watcher: %.0f acked/s\n",
              offered_text (), rate);
    }
  else
    {
      r->js_bare_per_s = rate;
      printf ("  bare js_PublishAsync (MaxPending 4096): %.0f acked/s\n", rate);
    }
  kvStore_Destroy (kv);
  jsCtx_Destroy (js);
  natsConnection_Destroy (nc);
}

static double
median_of (const RunResult *results, glong offset, double *col)
{
  for (gint i = 0; i < opt_runs; i++)
    col[i] = G_STRUCT_MEMBER (double, (gpointer)&results[i], offset);
  return median (col, opt_runs);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("- benchmark the NATS layer");
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotEmbeddedNats) server = NULL;
  g_autofree char *dir = NULL;
  g_autofree RunResult *results = NULL;
  const char *url = opt_url;
  double col[64];

  init_template ();
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (opt_runs < 1 || opt_runs > 64 || opt_keys < 8 || opt_seconds < 1 || opt_latency_rate < 1)
    {
      g_printerr ("bad options\n");
      return 2;
    }
  url = opt_url;
  if (url == NULL)
    {
      dir = g_dir_make_tmp ("spot-bench-nats-XXXXXX", NULL);
      server = spot_embedded_nats_new (dir);
      if (!spot_embedded_nats_start_sync (server, 20000, &error))
        {
          g_printerr ("cannot start nats-server: %s\n", error->message);
          return 1;
        }
      url = spot_embedded_nats_get_url (server);
      server_pid = spot_embedded_nats_get_pid (server);
    }
  init_key_templates ();
  printf ("spot-bench-nats: %s, %d keys, %d s publish phase, staleness bound %d ms, %d runs\n", url,
          opt_keys, opt_seconds, opt_staleness_ms, opt_runs);
  results = g_new0 (RunResult, opt_runs);
  for (gint i = 0; i < opt_runs; i++)
    {
      printf ("run %d:\n", i + 1);
      phase_bare_core (url, &results[i]);
      phase_publish (url, "bench-publish", &results[i]);
      delete_bucket (url, "bench-publish");
      phase_service_latency (url, "bench-latency", &results[i]);
      delete_bucket (url, "bench-latency");
      phase_bare_latency (url, &results[i]);
      phase_bare_js (url, FALSE, &results[i]);
      delete_bucket (url, "bench-raw");
      phase_bare_js (url, TRUE, &results[i]);
      delete_bucket (url, "bench-raw-loaded");
      fflush (stdout);
    }
#define MEDIAN(field) median_of (results, G_STRUCT_OFFSET (RunResult, field), col)
  printf ("median of %d runs:\n", opt_runs);
  printf ("  published %.0f/s (offered %s), coalesced %.2f%%, dropped %.0f\n",
          MEDIAN (published_per_s), offered_text (), MEDIAN (coalesced_pct), MEDIAN (dropped));
  printf ("  bare core publish loop %.0f/s; bench process CPU %.2f us per published update\n",
          MEDIAN (core_bare_per_s), MEDIAN (cpu_us_per_update));
  printf ("  CPU during the publish phase (share of one core): nats-server %.0f%%, bench process "
          "%.0f%%\n",
          MEDIAN (server_cpu_pct), MEDIAN (bench_cpu_pct));
  printf ("  KV writes %.0f/s; bare js_PublishAsync %.0f/s alone, %.0f/s beside core publishes "
          "at the offered rate\n",
          MEDIAN (kv_acked_per_s), MEDIAN (js_bare_per_s), MEDIAN (js_loaded_per_s));
  printf ("  KV staleness p50 %.1f ms, p99 %.1f ms, max %.1f ms, over the bound %.2f%%, tail "
          "%.1f ms (bound %d ms); writer ack latency %.1f ms, write budget %.1f ms\n",
          MEDIAN (stale_p50_ms), MEDIAN (stale_p99_ms), MEDIAN (stale_max_ms),
          MEDIAN (stale_over_pct), MEDIAN (tail_ms), opt_staleness_ms, MEDIAN (ack_latency_ms),
          MEDIAN (budget_ms));
  printf (
      "  latency service p50 %.3f ms p99 %.3f ms; bare nats.c p50 %.3f ms p99 %.3f ms (at %d/s)\n",
      MEDIAN (service_p50_ms), MEDIAN (service_p99_ms), MEDIAN (bare_p50_ms), MEDIAN (bare_p99_ms),
      opt_latency_rate);
  if (server != NULL)
    spot_embedded_nats_stop (server, 5000);
  if (dir != NULL)
    {
      g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

      (void)system (cmd);
    }
  g_free (key_templates);
  nats_CloseAndWait (5000);
  return 0;
}
