/* spot-sim-market.c: deterministic trades, trade ring and minute log. */
#define G_LOG_DOMAIN "spot-exchange-sim"

#include "spot-sim-market.h"

#include <math.h>
#include <string.h>

#include "core/spot-error.h"

/* A product as the market knows it: PRNG, walk state, logs. */
typedef struct
{
  SpotSimProductInfo info;
  guint64 rng;
  gint64 anchor_price; /* the walk is pulled back towards it */
  gint64 price;
  gint64 step_max;     /* largest price step, in ticks */
  gint64 size_typical; /* in base increments */
  gint64 next_time_us;
  gint64 last_time_us;
  gint64 next_id;
  gint64 mean_gap_us;
  guint64 generated;
  guint64 version;

  SpotSimTrade *ring; /* newest snapshot_trades trades */
  guint ring_len;
  guint ring_head; /* next write position */
  guint ring_count;

  SpotSimCandle *minutes; /* indexed by (start / 60) % horizon */
  GArray *batch;          /* trades of the last advance() */
} Product;

struct _SpotSimMarket
{
  SpotSimMarketConfig config;
  Product *products;
  guint n_products;
  guint horizon;
};

typedef struct
{
  const char *base;
  const char *quote;
  double price;
  gint quote_exp;
  gint base_exp;
  double notional; /* typical trade value in quote currency */
} KnownProduct;

/* Real-looking products with Coinbase-like increments, including sub-cent
 * prices with eight or nine decimals and whole-unit sizes. */
static const KnownProduct known_products[] = {
  { "BTC", "USD", 68900.50, -2, -8, 2000 },   { "ETH", "USD", 3512.25, -2, -8, 1500 },
  { "SOL", "USD", 148.37, -2, -8, 800 },      { "DOGE", "USD", 0.15432, -5, -1, 300 },
  { "SHIB", "USD", 0.00002456, -8, 0, 200 },  { "XRP", "USD", 0.5521, -4, -6, 400 },
  { "ADA", "USD", 0.4512, -4, -8, 300 },      { "AVAX", "USD", 35.12, -2, -8, 500 },
  { "LINK", "USD", 14.873, -3, -2, 400 },     { "LTC", "USD", 81.45, -2, -8, 400 },
  { "PEPE", "USD", 0.000008123, -9, 0, 150 }, { "BTC", "EUR", 63450.12, -2, -8, 1500 },
  { "ETH", "BTC", 0.05123, -5, -8, 0.05 },    { "DOT", "USD", 6.512, -3, -8, 300 },
  { "BONK", "USD", 0.00002112, -8, 0, 100 },  { "UNI", "USD", 7.823, -3, -6, 300 },
  { "ATOM", "USD", 8.342, -3, -4, 300 },      { "ETH", "EUR", 3250.11, -2, -8, 1000 },
  { "MATIC", "USD", 0.7123, -4, -1, 300 },    { "USDT", "USD", 1.0001, -5, -2, 5000 },
};

static guint64
splitmix64 (guint64 *state)
{
  guint64 z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static guint64
rng_below (guint64 *state, guint64 n)
{
  return n == 0 ? 0 : splitmix64 (state) % n;
}

static guint32
fnv1a32 (const char *s)
{
  guint32 h = 2166136261u;
  for (; *s != '\0'; s++)
    {
      h ^= (guchar)*s;
      h *= 16777619u;
    }
  return h;
}

static gint64
pow10_i64 (gint n)
{
  gint64 r = 1;
  for (gint i = 0; i < n; i++)
    r *= 10;
  return r;
}

static void
product_setup (Product *p,
               const SpotSimMarketConfig *config,
               guint horizon,
               const char *base,
               const char *quote,
               double price,
               gint quote_exp,
               gint base_exp,
               double notional)
{
  p->info.product_id = g_strdup_printf ("%s-%s", base, quote);
  p->info.base = g_strdup (base);
  p->info.quote = g_strdup (quote);
  p->info.quote_exp = quote_exp;
  p->info.base_exp = base_exp;

  p->rng = config->seed ^ ((guint64)fnv1a32 (p->info.product_id) << 17);
  (void)splitmix64 (&p->rng);

  /* Generation parameters only; the log itself is integer. */
  p->anchor_price = MAX (1, (gint64)llround (price * (double)pow10_i64 (-quote_exp)));
  p->price = p->anchor_price;
  p->step_max = MAX (1, p->anchor_price / 4000);
  double size = notional / price;
  p->size_typical = MAX (1, (gint64)llround (size * (double)pow10_i64 (-base_exp)));
  p->mean_gap_us = MAX (1, (gint64)llround (1e6 / config->trades_per_second));
  p->next_id = 100000000 + (gint64)(fnv1a32 (p->info.product_id) % 800000000u);

  p->ring_len = MAX (config->snapshot_trades, 1);
  p->ring = g_new0 (SpotSimTrade, p->ring_len);
  p->minutes = g_new0 (SpotSimCandle, horizon);
  for (guint i = 0; i < horizon; i++)
    p->minutes[i].start = G_MININT64;
  p->batch = g_array_new (FALSE, FALSE, sizeof (SpotSimTrade));
}

static void
product_clear (Product *p)
{
  g_free (p->info.product_id);
  g_free (p->info.base);
  g_free (p->info.quote);
  g_free (p->ring);
  g_free (p->minutes);
  if (p->batch != NULL)
    g_array_unref (p->batch);
}

static gboolean
valid_currency (const char *s)
{
  gsize n = strlen (s);
  if (n < 2 || n > 10)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isupper (s[i]) && !g_ascii_isdigit (s[i]))
      return FALSE;
  return TRUE;
}

static gboolean
market_has_id (SpotSimMarket *market, guint upto, const char *id)
{
  for (guint i = 0; i < upto; i++)
    if (g_strcmp0 (market->products[i].info.product_id, id) == 0)
      return TRUE;
  return FALSE;
}

static void
append_trade (SpotSimMarket *market, Product *p, const SpotSimTrade *t)
{
  p->ring[p->ring_head] = *t;
  p->ring_head = (p->ring_head + 1) % p->ring_len;
  if (p->ring_count < p->ring_len)
    p->ring_count++;

  gint64 sec = t->time_us >= 0 ? t->time_us / G_USEC_PER_SEC
                               : -((-t->time_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  gint64 minute = sec >= 0 ? sec / 60 : -((-sec + 59) / 60);
  SpotSimCandle *m = &p->minutes[((minute % market->horizon) + market->horizon) % market->horizon];
  if (m->start != minute * 60)
    {
      /* Trades are appended in time order per product, so the first trade
       * of a minute opens it and the newest closes it. */
      m->start = minute * 60;
      m->open = m->high = m->low = t->price;
      m->volume = 0;
      m->trades = 0;
    }
  m->high = MAX (m->high, t->price);
  m->low = MIN (m->low, t->price);
  m->close = t->price;
  m->volume += t->size;
  m->trades++;
  p->generated++;
  p->version++;
}

static void
generate_one (SpotSimMarket *market, Product *p, SpotSimTrade *out)
{
  /* Random walk pulled towards the anchor so prices stay plausible. */
  gint64 step = (gint64)rng_below (&p->rng, (guint64)(2 * p->step_max + 1)) - p->step_max;
  if (p->price > p->anchor_price + p->anchor_price / 10)
    step -= p->step_max / 2 + 1;
  else if (p->price < p->anchor_price - p->anchor_price / 10)
    step += p->step_max / 2 + 1;
  p->price = MAX (1, p->price + step);

  /* Mostly small trades, sometimes large ones. */
  guint64 r = rng_below (&p->rng, 100);
  gint64 size;
  if (r < 90)
    size = 1 + (gint64)rng_below (&p->rng, (guint64)(2 * p->size_typical));
  else
    size = 1 + (gint64)rng_below (&p->rng, (guint64)(20 * p->size_typical));

  out->time_us = MAX (p->next_time_us, p->last_time_us);
  out->trade_id = p->next_id++;
  out->price = p->price;
  out->size = size;
  out->buy = (splitmix64 (&p->rng) & 1) != 0;
  p->last_time_us = out->time_us;
  p->next_time_us += 1 + (gint64)rng_below (&p->rng, (guint64)(2 * p->mean_gap_us));
}

static guint64 advance (SpotSimMarket *market, gint64 now_us, gboolean keep_batch);

SpotSimMarket *
spot_sim_market_new (const SpotSimMarketConfig *config, gint64 now_us, GError **error)
{
  if (!(config->trades_per_second > 0) || config->trades_per_second > 1e6)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "trades per second %g must be above 0 and at most 1000000",
                   config->trades_per_second);
      return NULL;
    }
  guint n = config->product_ids != NULL ? g_strv_length (config->product_ids) : config->n_products;
  if (n == 0 || n > 100000)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "number of products %u must be between 1 and 100000", n);
      return NULL;
    }

  g_autoptr (SpotSimMarket) market = g_new0 (SpotSimMarket, 1);
  market->config = *config;
  market->config.product_ids = NULL;
  market->horizon = MAX (config->horizon_minutes, config->history_minutes + 10);
  market->products = g_new0 (Product, n);

  guint64 names_rng = config->seed ^ 0x5EEDull;
  for (guint i = 0; i < n; i++)
    {
      Product *p = &market->products[i];
      if (config->product_ids != NULL)
        {
          const char *id = config->product_ids[i];
          g_auto (GStrv) parts = g_strsplit (id, "-", -1);
          if (g_strv_length (parts) != 2 || !valid_currency (parts[0])
              || !valid_currency (parts[1]))
            {
              g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                           "product id \"%s\" is not BASE-QUOTE in capitals", id);
              return NULL;
            }
          if (market_has_id (market, market->n_products, id))
            {
              g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                           "product id \"%s\" is listed twice", id);
              return NULL;
            }
          const KnownProduct *k = NULL;
          for (guint j = 0; j < G_N_ELEMENTS (known_products); j++)
            if (g_str_equal (known_products[j].base, parts[0])
                && g_str_equal (known_products[j].quote, parts[1]))
              k = &known_products[j];
          if (k != NULL)
            product_setup (p, config, market->horizon, k->base, k->quote, k->price, k->quote_exp,
                           k->base_exp, k->notional);
          else
            {
              guint64 h = fnv1a32 (id) ^ config->seed;
              double price = 0.5 + (double)(splitmix64 (&h) % 20000) / 100.0;
              product_setup (p, config, market->horizon, parts[0], parts[1], price,
                             price < 5 ? -4 : -2, -(gint)(2 + splitmix64 (&h) % 7), 400);
            }
        }
      else if (i < G_N_ELEMENTS (known_products))
        {
          const KnownProduct *k = &known_products[i];
          product_setup (p, config, market->horizon, k->base, k->quote, k->price, k->quote_exp,
                         k->base_exp, k->notional);
        }
      else
        {
          static const char *quotes[] = { "USD", "USD", "USD", "USD", "EUR", "USDC", "GBP" };
          char base[5] = { 0 };
          char id[16];
          do
            {
              guint len = 3 + (guint)rng_below (&names_rng, 2);
              for (guint c = 0; c < len; c++)
                base[c] = (char)('A' + rng_below (&names_rng, 26));
              base[len] = '\0';
              g_snprintf (id, sizeof id, "%s-%s", base,
                          quotes[rng_below (&names_rng, G_N_ELEMENTS (quotes))]);
            }
          while (market_has_id (market, market->n_products, id));
          const char *quote = strchr (id, '-') + 1;
          /* Spread prices over many magnitudes, increments to match. */
          guint mag = (guint)rng_below (&names_rng, 9); /* 10^-5 .. 10^3 */
          double price
              = (1.0 + (double)rng_below (&names_rng, 900) / 100.0) * pow (10.0, (double)mag - 5.0);
          gint quote_exp = mag >= 5 ? -2 : -(gint)(8 - mag + (mag == 0 ? 1 : 0));
          gint base_exp = mag <= 2 ? 0 : -(gint)(1 + rng_below (&names_rng, 8));
          product_setup (p, config, market->horizon, base, quote, price, quote_exp, base_exp,
                         50 + (double)rng_below (&names_rng, 2000));
        }
      market->n_products++;
    }

  /* History: trades from now - history_minutes on, with the same generator. */
  gint64 start_us = now_us - (gint64)config->history_minutes * 60 * G_USEC_PER_SEC;
  for (guint i = 0; i < n; i++)
    {
      Product *p = &market->products[i];
      p->next_time_us = start_us + (gint64)rng_below (&p->rng, (guint64)p->mean_gap_us);
      p->last_time_us = start_us;
    }
  /* History is logged, never sent: no batch. */
  advance (market, now_us, FALSE);
  return g_steal_pointer (&market);
}

void
spot_sim_market_free (SpotSimMarket *market)
{
  if (market == NULL)
    return;
  for (guint i = 0; i < market->n_products; i++)
    product_clear (&market->products[i]);
  g_free (market->products);
  g_free (market);
}

guint
spot_sim_market_n_products (SpotSimMarket *market)
{
  return market->n_products;
}

const SpotSimProductInfo *
spot_sim_market_product (SpotSimMarket *market, guint index)
{
  g_return_val_if_fail (index < market->n_products, NULL);
  return &market->products[index].info;
}

gint
spot_sim_market_find (SpotSimMarket *market, const char *product_id)
{
  for (guint i = 0; i < market->n_products; i++)
    if (g_strcmp0 (market->products[i].info.product_id, product_id) == 0)
      return (gint)i;
  return -1;
}

static guint64
advance (SpotSimMarket *market, gint64 now_us, gboolean keep_batch)
{
  guint64 total = 0;
  for (guint i = 0; i < market->n_products; i++)
    {
      Product *p = &market->products[i];
      /* A batch after a stall of the loop can be huge: do not keep its
       * allocation for ever. */
      if (p->batch->len > 65536)
        {
          g_array_unref (p->batch);
          p->batch = g_array_new (FALSE, FALSE, sizeof (SpotSimTrade));
        }
      g_array_set_size (p->batch, 0);
      /* A clock that went back (skew changed) resumes from the last trade. */
      while (p->next_time_us <= now_us)
        {
          SpotSimTrade t;
          memset (&t, 0, sizeof t); /* padding too: trades are compared bytewise */
          generate_one (market, p, &t);
          append_trade (market, p, &t);
          if (keep_batch)
            g_array_append_val (p->batch, t);
          total++;
        }
    }
  return total;
}

guint64
spot_sim_market_advance (SpotSimMarket *market, gint64 now_us)
{
  return advance (market, now_us, TRUE);
}

void
spot_sim_market_shift_clock (SpotSimMarket *market, gint64 delta_us)
{
  if (delta_us <= 0)
    return;
  for (guint i = 0; i < market->n_products; i++)
    market->products[i].next_time_us += delta_us;
}

const SpotSimTrade *
spot_sim_market_last_batch (SpotSimMarket *market, guint index, guint *n_trades)
{
  g_return_val_if_fail (index < market->n_products, NULL);
  Product *p = &market->products[index];
  *n_trades = p->batch->len;
  return (const SpotSimTrade *)(gpointer)p->batch->data;
}

guint
spot_sim_market_recent (SpotSimMarket *market, guint index, SpotSimTrade *out, guint max)
{
  g_return_val_if_fail (index < market->n_products, 0);
  Product *p = &market->products[index];
  guint n = MIN (max, p->ring_count);
  for (guint k = 0; k < n; k++)
    out[k] = p->ring[(p->ring_head + p->ring_len - 1 - k) % p->ring_len];
  return n;
}

guint64
spot_sim_market_trades_generated (SpotSimMarket *market, guint index)
{
  return market->products[index].generated;
}

gint64
spot_sim_market_last_price (SpotSimMarket *market, guint index)
{
  return market->products[index].price;
}

gint64
spot_sim_market_last_trade_id (SpotSimMarket *market, guint index)
{
  return market->products[index].next_id - 1;
}

guint64
spot_sim_market_version (SpotSimMarket *market, guint index)
{
  return market->products[index].version;
}

gint64
spot_sim_market_horizon_start (SpotSimMarket *market, guint index)
{
  Product *p = &market->products[index];
  gint64 newest = p->last_time_us / G_USEC_PER_SEC / 60;
  return (newest - (gint64)market->horizon + 1) * 60;
}

static gint64
floor_div (gint64 a, gint64 b)
{
  gint64 q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0)))
    q--;
  return q;
}

GArray *
spot_sim_market_candles (
    SpotSimMarket *market, guint index, gint64 granularity, gint64 start, gint64 end, guint limit)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (SpotSimCandle));
  g_return_val_if_fail (index < market->n_products, out);
  g_return_val_if_fail (granularity >= 60 && granularity % 60 == 0, out);
  Product *p = &market->products[index];

  gint64 first_minute = MAX (floor_div (start, granularity) * granularity,
                             spot_sim_market_horizon_start (market, index));
  gint64 newest_minute = floor_div (p->last_time_us / G_USEC_PER_SEC, 60) * 60;
  gint64 last_bucket = MIN (floor_div (end, granularity) * granularity,
                            floor_div (newest_minute, granularity) * granularity);
  /* Walk buckets newest first; each bucket rolls up its minutes in time
   * order (open of the earliest minute, close of the latest). */
  for (gint64 b = last_bucket; b + granularity > first_minute && out->len < limit; b -= granularity)
    {
      if (b < start || b > end)
        continue;
      SpotSimCandle c = { .start = b, .trades = 0 };
      for (gint64 m = MAX (b, first_minute); m < b + granularity && m <= newest_minute; m += 60)
        {
          gint64 slot = floor_div (m, 60) % market->horizon;
          if (slot < 0)
            slot += market->horizon;
          const SpotSimCandle *mc = &p->minutes[slot];
          if (mc->start != m || mc->trades == 0)
            continue;
          if (c.trades == 0)
            {
              c.open = mc->open;
              c.high = mc->high;
              c.low = mc->low;
            }
          c.high = MAX (c.high, mc->high);
          c.low = MIN (c.low, mc->low);
          c.close = mc->close;
          c.volume += mc->volume;
          c.trades += mc->trades;
        }
      if (c.trades > 0)
        g_array_append_val (out, c);
    }
  return out;
}

void
spot_sim_format_decimal (GString *out, __int128 count, gint exp, gboolean strip)
{
  char digits[64];
  gint n = 0;
  gboolean negative = count < 0;
  unsigned __int128 v = negative ? (unsigned __int128)(-count) : (unsigned __int128)count;
  do
    {
      digits[n++] = (char)('0' + (int)(v % 10));
      v /= 10;
    }
  while (v > 0);

  if (negative)
    g_string_append_c (out, '-');
  if (exp >= 0)
    {
      for (gint i = n - 1; i >= 0; i--)
        g_string_append_c (out, digits[i]);
      for (gint i = 0; i < exp; i++)
        g_string_append_c (out, '0');
      return;
    }

  gint decimals = -exp;
  while (n <= decimals)
    digits[n++] = '0';
  for (gint i = n - 1; i >= decimals; i--)
    g_string_append_c (out, digits[i]);
  gint last = 0; /* lowest decimal digit index to print */
  if (strip)
    while (last < decimals && digits[last] == '0')
      last++;
  if (last == decimals)
    return;
  g_string_append_c (out, '.');
  for (gint i = decimals - 1; i >= last; i--)
    g_string_append_c (out, digits[i]);
}

char *
spot_sim_increment_string (gint exp)
{
  GString *s = g_string_new (NULL);
  spot_sim_format_decimal (s, 1, exp, TRUE);
  return g_string_free (s, FALSE);
}
