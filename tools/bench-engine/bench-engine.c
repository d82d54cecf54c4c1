/* bench-engine: throughput of the candle engine.
 *
 *   bench-engine [--runs N] [--trades N] [--products N] [--mode all|builder|sharded|sustained]
 *                [--seconds S] [--workers K]
 *
 * Input: pre-parsed trades in batches of 1 to 10 trades of one product,
 * round-robin over the products (500 by default), exchange time advancing
 * 100 us per trade. Every granularity is built (8 emitted).
 *  - builder: the pure SpotCandleBuilder on this thread, output after every
 *    batch copied by a sink (memcpy of every update).
 *  - sharded: SpotShardedAggregator with all workers; one producer thread
 *    builds a SpotTradeBatch per batch (as a parse lane would) and submits;
 *    sinks: no-op and copying. The producer waits (yields) on a full queue
 *    instead of dropping so the figure is throughput, not loss.
 *  - sustained: 500 products x 20 trades/s in real time for --seconds (60),
 *    real clock; prints drops and the fullest queue seen.
 * Prints one line per run and the median of the runs.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "aggregate/spot-candle-builder.h"
#include "aggregate/spot-sharded-aggregator.h"
#include "model/spot-time.h"

#define NS G_GINT64_CONSTANT (1000000000)
#define START_S G_GINT64_CONSTANT (1775520000)

typedef struct
{
  guint first; /* index into trades */
  guint n;
  guint product;
} Batch;

typedef struct
{
  GPtrArray *ids;
  SpotTrade *trades;
  guint n_trades;
  Batch *batches;
  guint n_batches;
  gint64 span_ns; /* exchange time covered by one pass */
} Input;

static GPtrArray *
product_ids (guint n)
{
  static const char *bases[] = {
    "BTC",  "ETH",   "SOL",   "XRP",   "ADA",  "DOGE", "AVAX", "DOT", "LINK", "MATIC", "LTC",
    "BCH",  "UNI",   "ATOM",  "XLM",   "ETC",  "FIL",  "APT",  "ARB", "OP",   "NEAR",  "ICP",
    "AAVE", "GRT",   "ALGO",  "SAND",  "MANA", "AXS",  "EOS",  "XTZ", "CRV",  "MKR",   "SNX",
    "COMP", "YFI",   "SUSHI", "1INCH", "BAT",  "ZRX",  "ENJ",  "CHZ", "LRC",  "IMX",   "RNDR",
    "INJ",  "SEI",   "SUI",   "TIA",   "PEPE", "SHIB", "BONK", "WIF", "FET",  "AGIX",  "OCEAN",
    "ANKR", "STORJ", "SKL",   "CELO",  "FLOW", "HBAR", "VET",  "QNT", "EGLD", "KSM",   "ZEC",
    "DASH", "MINA",  "ROSE",  "KAVA",  "GLM",  "API3", "BAND", "UMA", "BAL",  "REN",   "NMR",
    "OXT",  "CVC",   "DNT",   "MLN",   "NKN",  "OGN",  "CTSI",
  };
  static const char *quotes[] = { "USD", "USDC", "EUR", "GBP", "USDT", "BTC", "ETH", "DAI" };
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  for (guint q = 0; q < G_N_ELEMENTS (quotes) && ids->len < n; q++)
    for (guint b = 0; b < G_N_ELEMENTS (bases) && ids->len < n; b++)
      if (strcmp (bases[b], quotes[q]) != 0)
        g_ptr_array_add (ids, g_strdup_printf ("%s-%s", bases[b], quotes[q]));
  for (guint i = ids->len; i < n; i++)
    g_ptr_array_add (ids, g_strdup_printf ("P%u-USD", i));
  return ids;
}

static void
input_build (Input *in, guint n_products, guint n_trades)
{
  GRand *rand = g_rand_new_with_seed (42);
  g_autofree guint64 *next_id = g_new0 (guint64, n_products);
  g_autofree gint64 *price = g_new0 (gint64, n_products);

  in->ids = product_ids (n_products);
  in->trades = g_new0 (SpotTrade, n_trades);
  in->batches = g_new0 (Batch, n_trades);
  for (guint p = 0; p < n_products; p++)
    {
      next_id[p] = 1000000 + p;
      price[p] = 100000 + g_rand_int_range (rand, 0, 6890050);
    }

  guint t = 0, product = 0;
  gint64 time_ns = START_S * NS;
  while (t < n_trades)
    {
      guint n = (guint)g_rand_int_range (rand, 1, 11);
      n = MIN (n, n_trades - t);
      Batch *b = &in->batches[in->n_batches++];
      b->first = t;
      b->n = n;
      b->product = product;
      for (guint i = 0; i < n; i++)
        {
          SpotTrade *tr = &in->trades[t++];
          g_strlcpy (tr->product_id, g_ptr_array_index (in->ids, product), sizeof tr->product_id);
          tr->trade_id = next_id[product]++;
          time_ns += 100000; /* 10,000 trades/s of exchange time */
          tr->time_ns = time_ns;
          tr->message_ns = time_ns + 1000000;
          price[product] += g_rand_int_range (rand, -50, 51);
          if (price[product] < 1)
            price[product] = 1;
          tr->price = (SpotDecimal){ price[product], 2 };
          tr->size = (SpotDecimal){ g_rand_int_range (rand, 1, 100000000), 8 };
          tr->side = SPOT_TRADE_SIDE_BUY;
        }
      product = (product + 1) % n_products;
    }
  in->span_ns = time_ns - START_S * NS + 100000;
  g_rand_free (rand);
}

/* The next pass continues in time and ids. */
static void
input_shift (Input *in)
{
  for (guint i = 0; i < in->n_trades; i++)
    {
      in->trades[i].trade_id += in->n_trades;
      in->trades[i].time_ns += in->span_ns;
      in->trades[i].message_ns += in->span_ns;
    }
}

static void
input_free (Input *in)
{
  g_ptr_array_unref (in->ids);
  g_free (in->trades);
  g_free (in->batches);
}

/* ---- sinks ------------------------------------------------------------- */

typedef struct
{
  SpotCandleUpdate *buf;
  guint cap;
  guint pos;
  guint64 updates;
} CopySink;

static void
copy_updates (CopySink *s, const SpotCandleUpdate *u, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      memcpy (&s->buf[s->pos], &u[i], sizeof *u);
      s->pos = (s->pos + 1) % s->cap;
    }
  s->updates += n;
}

static void
copy_live (gpointer data, guint worker, const SpotCandleUpdate *u, guint n)
{
  CopySink *sinks = data;
  copy_updates (&sinks[worker], u, n);
}

static void
count_only (gpointer data, guint worker, const SpotCandleUpdate *u, guint n)
{
  CopySink *sinks = data;
  sinks[worker].updates += n;
}

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double
median_of (GArray *values)
{
  g_array_sort (values, cmp_double);
  guint n = values->len;
  if (n == 0)
    return 0;
  if (n % 2 == 1)
    return g_array_index (values, double, n / 2);
  return (g_array_index (values, double, n / 2 - 1) + g_array_index (values, double, n / 2)) / 2;
}

static gint64
thread_cpu_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gint64
process_cpu_us (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return (gint64)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC + ru.ru_utime.tv_usec
         + ru.ru_stime.tv_usec;
}

/* ---- builder ----------------------------------------------------------- */

/* Returns trades per second of thread CPU time (the machine is shared and
 * noisy; wall-clock figures are printed too). */
static double
run_builder (
    Input *in, guint passes, gsize *bytes_per_product, guint64 *updates_out, double *wall_rate)
{
  SpotEngineOptions options;
  spot_engine_options_init_defaults (&options);
  g_autoptr (SpotCandleClock) clock = spot_candle_clock_new_manual (START_S * NS);
  SpotCandleBuilder *b = spot_candle_builder_new (&options, clock);
  CopySink sink = { g_new0 (SpotCandleUpdate, 4096), 4096, 0, 0 };
  gint64 elapsed_us = 0, cpu_us = 0;
  guint64 trades = 0;

  for (guint i = 0; i < in->ids->len; i++)
    spot_candle_builder_add_product (b, g_ptr_array_index (in->ids, i), FALSE);

  for (guint pass = 0; pass < passes; pass++)
    {
      if (pass > 0)
        input_shift (in);
      gint64 next_tick = 0;
      gint64 t0 = g_get_monotonic_time (), c0 = thread_cpu_us ();
      for (guint i = 0; i < in->n_batches; i++)
        {
          const Batch *batch = &in->batches[i];
          const SpotTrade *tr = &in->trades[batch->first];
          gint64 now = tr[batch->n - 1].time_ns + 50000000;
          spot_candle_clock_set_manual (clock, now);
          spot_candle_builder_add_trades (b, tr, batch->n, tr->message_ns);
          if (now >= next_tick)
            {
              spot_candle_builder_tick (b);
              next_tick = now + 250000000;
            }
          SpotCandleOutput *out = spot_candle_builder_get_output (b);
          copy_updates (&sink, (const SpotCandleUpdate *)out->live->data, out->live->len);
          copy_updates (&sink, (const SpotCandleUpdate *)out->complete->data, out->complete->len);
          spot_candle_builder_clear_output (b);
        }
      elapsed_us += g_get_monotonic_time () - t0;
      cpu_us += thread_cpu_us () - c0;
      trades += in->n_trades;
    }
  *wall_rate = (double)trades / ((double)elapsed_us / 1e6);
  *bytes_per_product = spot_candle_builder_bytes_per_product (b);
  *updates_out = sink.updates;
  spot_candle_builder_free (b);
  g_free (sink.buf);
  return (double)trades / ((double)cpu_us / 1e6);
}

/* ---- sharded ----------------------------------------------------------- */

/* Returns wall-clock trades per second; *cpu_ns gets the CPU time of all
 * threads (producer and workers, user and system) per trade. */
static double
run_sharded (Input *in, guint passes, guint workers, gboolean copy, guint64 *drops, double *cpu_ns)
{
  SpotEngineOptions options;
  spot_engine_options_init_defaults (&options);
  options.workers = workers;
  g_autoptr (SpotCandleClock) clock = spot_candle_clock_new_manual (START_S * NS);
  CopySink *sinks = g_new0 (CopySink, workers);
  for (guint i = 0; i < workers; i++)
    {
      sinks[i].cap = 4096;
      sinks[i].buf = g_new0 (SpotCandleUpdate, sinks[i].cap);
    }
  SpotCandleSink sink
      = { copy ? copy_live : count_only, copy ? copy_live : count_only, NULL, sinks };
  g_autoptr (GError) error = NULL;
  SpotShardedAggregator *a = spot_sharded_aggregator_new (&options, &sink, clock, &error);
  g_assert_no_error (error);
  g_autofree guint *worker_of = g_new (guint, in->ids->len);
  for (guint i = 0; i < in->ids->len; i++)
    {
      const char *id = g_ptr_array_index (in->ids, i);
      spot_sharded_aggregator_add_product (a, id, FALSE);
      worker_of[i] = spot_sharded_aggregator_worker_for_product (a, id);
    }
  spot_sharded_aggregator_flush (a);

  gint64 elapsed_us = 0, cpu_us = 0;
  guint64 trades = 0;
  for (guint pass = 0; pass < passes; pass++)
    {
      if (pass > 0)
        input_shift (in);
      gint64 t0 = g_get_monotonic_time (), c0 = process_cpu_us ();
      for (guint i = 0; i < in->n_batches; i++)
        {
          const Batch *batch = &in->batches[i];
          const SpotTrade *tr = &in->trades[batch->first];
          if ((i & 63) == 0)
            spot_candle_clock_set_manual (clock, tr->time_ns + 50000000);
          guint len, cap;
          for (;;)
            {
              spot_sharded_aggregator_get_queue (a, worker_of[batch->product], &len, &cap);
              if (len + 1 < cap)
                break;
              g_thread_yield ();
            }
          SpotTradeBatch *sb = spot_trade_batch_new (batch->n);
          memcpy (sb->trades, tr, batch->n * sizeof (SpotTrade));
          sb->n_trades = batch->n;
          sb->message_ns = tr->message_ns;
          spot_sharded_aggregator_submit (a, sb);
        }
      spot_sharded_aggregator_flush (a);
      elapsed_us += g_get_monotonic_time () - t0;
      cpu_us += process_cpu_us () - c0;
      trades += in->n_trades;
    }
  *cpu_ns = (double)cpu_us * 1000.0 / (double)trades;
  SpotEngineStats stats;
  spot_sharded_aggregator_get_stats (a, &stats);
  *drops = stats.batches_dropped;
  spot_sharded_aggregator_free (a);
  for (guint i = 0; i < workers; i++)
    g_free (sinks[i].buf);
  g_free (sinks);
  return (double)trades / ((double)elapsed_us / 1e6);
}

/* ---- sustained --------------------------------------------------------- */

static void
run_sustained (guint n_products, guint rate_per_product, guint seconds, guint workers)
{
  SpotEngineOptions options;
  spot_engine_options_init_defaults (&options);
  options.workers = workers;
  CopySink *sinks = g_new0 (CopySink, workers);
  for (guint i = 0; i < workers; i++)
    {
      sinks[i].cap = 4096;
      sinks[i].buf = g_new0 (SpotCandleUpdate, sinks[i].cap);
    }
  SpotCandleSink sink = { copy_live, copy_live, NULL, sinks };
  g_autoptr (GError) error = NULL;
  SpotShardedAggregator *a = spot_sharded_aggregator_new (&options, &sink, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) ids = product_ids (n_products);
  GRand *rand = g_rand_new_with_seed (7);
  g_autofree guint64 *next_id = g_new0 (guint64, n_products);
  for (guint i = 0; i < n_products; i++)
    {
      spot_sharded_aggregator_add_product (a, g_ptr_array_index (ids, i), FALSE);
      next_id[i] = 1;
    }

  /* Every 250 ms each product sends one message of rate/4 trades on
   * average (1..10), like Coinbase's batching. */
  guint64 sent = 0, max_queue = 0;
  gint64 start = g_get_monotonic_time ();
  gint64 next = start;
  guint tick = 0;
  while (g_get_monotonic_time () - start < (gint64)seconds * G_USEC_PER_SEC)
    {
      next += 250000;
      for (guint p = 0; p < n_products; p++)
        {
          guint n = MAX (1, MIN (10, rate_per_product / 4 + (guint)g_rand_int_range (rand, -2, 3)));
          SpotTradeBatch *b = spot_trade_batch_new (n);
          gint64 now = spot_time_now_ns ();
          b->message_ns = now - 2000000;
          b->receive_ns = now;
          b->connection_id = (gint)(p / 20);
          for (guint i = 0; i < n; i++)
            {
              SpotTrade *t = spot_trade_batch_add (b);
              g_strlcpy (t->product_id, g_ptr_array_index (ids, p), sizeof t->product_id);
              t->trade_id = next_id[p]++;
              t->time_ns = now - 3000000 - (gint64)(n - i) * 1000;
              t->message_ns = b->message_ns;
              t->price = (SpotDecimal){ 6890050 + g_rand_int_range (rand, -100, 100), 2 };
              t->size = (SpotDecimal){ 150000, 8 };
            }
          sent += n;
          spot_sharded_aggregator_submit (a, b);
        }
      SpotEngineStats s;
      spot_sharded_aggregator_get_stats (a, &s);
      max_queue = MAX (max_queue, s.queue_max_length);
      if (++tick % 40 == 0)
        g_print ("  %3us: %" G_GUINT64_FORMAT " trades sent, drops %" G_GUINT64_FORMAT
                 ", fullest queue %u\n",
                 tick / 4, sent, s.batches_dropped, s.queue_max_length);
      gint64 wait = next - g_get_monotonic_time ();
      if (wait > 0)
        g_usleep ((gulong)wait);
    }
  spot_sharded_aggregator_flush (a);
  SpotEngineStats s;
  spot_sharded_aggregator_get_stats (a, &s);
  g_print ("sustained %u products x %u trades/s for %u s: %" G_GUINT64_FORMAT
           " trades, accepted %" G_GUINT64_FORMAT ", batches dropped %" G_GUINT64_FORMAT
           ", fullest queue %" G_GUINT64_FORMAT " of %u, state %" G_GUINT64_FORMAT
           " bytes (%" G_GUINT64_FORMAT " per product)\n",
           n_products, rate_per_product, seconds, sent, s.trades_accepted, s.batches_dropped,
           max_queue, options.queue_size, s.state_bytes,
           s.products > 0 ? s.state_bytes / s.products : 0);
  spot_sharded_aggregator_free (a);
  g_rand_free (rand);
  for (guint i = 0; i < workers; i++)
    g_free (sinks[i].buf);
  g_free (sinks);
}

int
main (int argc, char **argv)
{
  gint runs = 5, n_trades = 400000, n_products = 500, seconds = 60, workers = 16, passes = 5;
  g_autofree char *mode = NULL;
  GOptionEntry entries[] = {
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "Runs per figure (median printed)", "N" },
    { "trades", 0, 0, G_OPTION_ARG_INT, &n_trades, "Pre-parsed trades per pass", "N" },
    { "passes", 0, 0, G_OPTION_ARG_INT, &passes, "Passes over the trades per run", "N" },
    { "products", 0, 0, G_OPTION_ARG_INT, &n_products, "Products", "N" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode, "all, builder, sharded or sustained", "MODE" },
    { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "Duration of the sustained run", "S" },
    { "workers", 0, 0, G_OPTION_ARG_INT, &workers, "Shard workers", "K" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- candle engine benchmark");
  g_autoptr (GError) error = NULL;
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (mode == NULL)
    mode = g_strdup ("all");
  gboolean all = g_str_equal (mode, "all");

  Input in = { 0 };
  input_build (&in, (guint)n_products, (guint)n_trades);
  in.n_trades = (guint)n_trades;
  g_print ("%u products, %u trades in %u batches (1-10 trades) per pass, %d passes per run\n",
           n_products, in.n_trades, in.n_batches, passes);

  if (all || g_str_equal (mode, "builder"))
    {
      g_autoptr (GArray) rates = g_array_new (FALSE, FALSE, sizeof (double));
      gsize bytes = 0;
      for (gint r = 0; r < runs; r++)
        {
          guint64 updates = 0;
          double wall = 0;
          double rate = run_builder (&in, (guint)passes, &bytes, &updates, &wall);
          g_array_append_val (rates, rate);
          g_print ("builder run %d: %.0f trades/s of CPU time (%.1f ns/trade), %.0f trades/s "
                   "wall, %" G_GUINT64_FORMAT " updates copied\n",
                   r + 1, rate, 1e9 / rate, wall, updates);
        }
      double m = median_of (rates);
      g_print ("builder (1 core, 9 levels built, 8 emitted, copying sink): median %.0f trades/s "
               "(CPU time), "
               "%.1f ns/trade; %" G_GSIZE_FORMAT " bytes of state per active product\n",
               m, 1e9 / m, bytes);
    }
  if (all || g_str_equal (mode, "sharded"))
    {
      for (gint copy = 0; copy <= 1; copy++)
        {
          g_autoptr (GArray) rates = g_array_new (FALSE, FALSE, sizeof (double));
          g_autoptr (GArray) cpus = g_array_new (FALSE, FALSE, sizeof (double));
          for (gint r = 0; r < runs; r++)
            {
              guint64 drops = 0;
              double cpu_ns = 0;
              double rate = run_sharded (&in, (guint)passes, (guint)workers, copy, &drops, &cpu_ns);
              g_array_append_val (rates, rate);
              g_array_append_val (cpus, cpu_ns);
              g_print ("  CPU time (all threads) %.1f ns/trade\n", cpu_ns);
              g_print (
                  "sharded (%s sink) run %d: %.0f trades/s, %.1f ns/trade, drops %" G_GUINT64_FORMAT
                  "\n",
                  copy ? "copying" : "no-op", r + 1, rate, 1e9 / rate, drops);
            }
          double m = median_of (rates);
          double c = median_of (cpus);
          g_print ("sharded (%d workers, %s sink): median %.0f trades/s wall, %.1f ns/trade; "
                   "CPU %.1f ns/trade (all threads), so %.0f trades/s per core\n",
                   workers, copy ? "copying" : "no-op", m, 1e9 / m, c, 1e9 / c);
        }
    }
  if (g_str_equal (mode, "sustained"))
    run_sustained ((guint)n_products, 20, (guint)seconds, (guint)workers);
  input_free (&in);
  return 0;
}
