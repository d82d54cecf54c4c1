/* test-coinbase-sim.c: the Coinbase client against spot-exchange-sim.
 *
 * The engine's output is captured by a recording sink; after faults and
 * their repairs, every candle the service built (every granularity, the
 * latest revision of each bucket) must equal the simulator's REST candle
 * numerically, and every REST bucket since the service started must exist
 * in the service's output.
 */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../exchange-sim/sim-client.h"
#include "aggregate/spot-sharded-aggregator.h"
#include "coinbase/spot-coinbase-client.h"
#include "coinbase/spot-coinbase-rest.h"
#include "model/spot-decimal.h"
#include "model/spot-time.h"

/* ---- recording sink -------------------------------------------------------- */

typedef struct
{
  GMutex lock;
  GHashTable *latest; /* "product|g|start" -> SpotCandle* (highest rev) */
  SpotCoinbaseClient *client;
  guint64 updates;
} Recorder;

static void
record (Recorder *r, const SpotCandleUpdate *u, guint n)
{
  g_mutex_lock (&r->lock);
  for (guint i = 0; i < n; i++)
    {
      const SpotCandle *c = &u[i].candle;
      g_autofree char *key
          = g_strdup_printf ("%s|%d|%" G_GINT64_FORMAT, c->product_id, c->granularity, c->start);
      SpotCandle *old = g_hash_table_lookup (r->latest, key);
      if (old != NULL
          && (old->rev > c->rev || (old->rev == c->rev && old->complete && !c->complete)))
        continue;
      g_hash_table_insert (r->latest, g_steal_pointer (&key), g_memdup2 (c, sizeof *c));
    }
  r->updates += n;
  g_mutex_unlock (&r->lock);
}

static void
emit_live (gpointer data, guint worker, const SpotCandleUpdate *u, guint n)
{
  record (data, u, n);
}

static void
emit_complete (gpointer data, guint worker, const SpotCandleUpdate *u, guint n)
{
  record (data, u, n);
}

static void
emit_dirty (gpointer data, guint worker, const SpotDirtyRange *ranges, guint n)
{
  Recorder *r = data;
  g_mutex_lock (&r->lock);
  if (r->client != NULL)
    spot_coinbase_client_queue_dirty (r->client, ranges, n);
  g_mutex_unlock (&r->lock);
}

/* ---- the service under test ---------------------------------------------------- */

typedef struct
{
  Recorder rec;
  SpotShardedAggregator *agg;
  SpotCoinbaseClient *client;
  char **products;
  gint64 started_s;
} Service;

/* Set by a test before service_start_with: changes the defaults below. */
static void (*tweak_options) (SpotCoinbaseOptions *o) = NULL;
/* Set by a test: the recording sink keeps nothing but the dirty minutes. */
static gboolean record_nothing = FALSE;

static void
options_for (SpotCoinbaseOptions *o, Sim *sim)
{
  spot_coinbase_options_init_defaults (o);
  g_free (o->ws_url);
  g_free (o->rest_url);
  o->ws_url = g_strdup (sim->ws_url);
  o->rest_url = g_strdup (sim->rest_url);
  /* g_strdup of "http://127.0.0.1:P/" has a trailing slash the paths add again. */
  if (g_str_has_suffix (o->rest_url, "/"))
    o->rest_url[strlen (o->rest_url) - 1] = '\0';
  o->products_per_connection = 2;
  o->connect_rate = 20;
  o->subscribe_rate = 40;
  o->rest_rate = 50;
  o->stall_timeout_ms = 3000;
  o->repair_delay_ms = 1000;
  o->backoff_base_ms = 200;
  o->backoff_cap_ms = 2000;
  if (tweak_options != NULL)
    tweak_options (o);
}

static void
started_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Service *s = data;
  g_autoptr (GError) error = NULL;
  s->products = spot_coinbase_client_start_finish (s->client, result, &error);
  g_assert_no_error (error);
}

static gboolean
has_products (gpointer data)
{
  return ((Service *)data)->products != NULL;
}

static Service *
service_start_with (Sim *sim,
                    const char *key_name,
                    const char *key_file,
                    const char *const *products)
{
  Service *s = g_new0 (Service, 1);
  g_mutex_init (&s->rec.lock);
  s->rec.latest = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  SpotEngineOptions eo;
  spot_engine_options_init_defaults (&eo);
  eo.workers = 2;
  eo.grace_ms = 500;
  eo.tick_interval_ms = 100;
  eo.repair_wait_ms = 15000;
  eo.output = SPOT_GRANULARITY_SET_ALL;
  SpotCandleSink sink = { record_nothing ? NULL : emit_live,
                          record_nothing ? NULL : emit_complete, emit_dirty, &s->rec };
  g_autoptr (GError) error = NULL;
  s->agg = spot_sharded_aggregator_new (&eo, &sink, NULL, &error);
  g_assert_no_error (error);
  SpotCoinbaseOptions o;
  options_for (&o, sim);
  s->client
      = spot_coinbase_client_new (&o, key_name, key_file, NULL, s->agg, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  spot_coinbase_options_clear (&o);
  g_mutex_lock (&s->rec.lock);
  s->rec.client = s->client;
  g_mutex_unlock (&s->rec.lock);
  s->started_s = g_get_real_time () / G_USEC_PER_SEC;
  spot_coinbase_client_start_async (s->client, products == NULL, products, NULL, started_cb, s);
  g_assert_true (sim_wait (has_products, s, 10000));
  g_assert_cmpuint (g_strv_length (s->products), >, 0);
  return s;
}

static Service *
service_start (Sim *sim, const char *key_name, const char *key_file, gpointer unused)
{
  return service_start_with (sim, key_name, key_file, NULL);
}

static void
service_stop (Service *s)
{
  spot_coinbase_client_stop (s->client);
  spot_sharded_aggregator_stop (s->agg);
  g_mutex_lock (&s->rec.lock);
  s->rec.client = NULL;
  g_mutex_unlock (&s->rec.lock);
  /* Let callbacks already queued on the main context run. */
  sim_sleep (50);
  spot_coinbase_client_free (s->client);
  spot_sharded_aggregator_free (s->agg);
  g_hash_table_unref (s->rec.latest);
  g_mutex_clear (&s->rec.lock);
  g_strfreev (s->products);
  g_free (s);
}

static gboolean
all_confirmed (gpointer data)
{
  Service *s = data;
  SpotCoinbaseConnectionStats st;
  spot_coinbase_manager_get_stats (spot_coinbase_client_get_manager (s->client), &st);
  SpotCoinbaseRepairerStats rs;
  spot_coinbase_repairer_get_stats (spot_coinbase_client_get_repairer (s->client), &rs);
  return st.confirmed >= g_strv_length (s->products) && rs.seeding == 0 && st.trades > 0;
}

static gboolean
repairs_done (gpointer data)
{
  Service *s = data;
  SpotEngineStats es;
  spot_sharded_aggregator_get_stats (s->agg, &es);
  return es.dirty_pending == 0
         && spot_coinbase_repairer_get_pending (spot_coinbase_client_get_repairer (s->client)) == 0;
}

/* ---- comparison with the simulator's REST candles ------------------------------- */

static GArray *
rest_candles (Sim *sim, const char *product, SpotGranularity g, gint64 from, gint64 to)
{
  g_autofree char *path
      = g_strdup_printf ("/api/v3/brokerage/market/products/%s/candles?start=%" G_GINT64_FORMAT
                         "&end=%" G_GINT64_FORMAT "&granularity=%s&limit=350",
                         product, from, to, spot_granularity_name (g));
  guint status = 0;
  g_autofree char *body = sim_http (sim, "GET", path, &status);
  g_assert_cmpuint (status, ==, 200);
  g_autoptr (GError) error = NULL;
  GArray *c = spot_coinbase_rest_parse_candles (body, strlen (body), product, g, &error);
  g_assert_no_error (error);
  return c;
}

/* All granularities of one product, in one array. */
static GArray *
rest_all (Sim *sim, const char *product, gint64 now)
{
  GArray *all = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  for (gint g = 0; g < SPOT_GRANULARITY_COUNT; g++)
    {
      gint64 size = spot_granularity_seconds (g);
      gint64 from = spot_granularity_align (g, now - MIN (size * 300, 6 * 3600));
      g_autoptr (GArray) c = rest_candles (sim, product, g, from, now + size);
      g_array_append_vals (all, c->data, c->len);
    }
  return all;
}

static gboolean
same_rest (GArray *a, GArray *b)
{
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++)
    if (!spot_candle_values_equal (&g_array_index (a, SpotCandle, i),
                                   &g_array_index (b, SpotCandle, i)))
      return FALSE;
  return TRUE;
}

static char *
describe (const SpotCandle *c)
{
  char o[SPOT_DECIMAL_BUFSIZE], h[SPOT_DECIMAL_BUFSIZE], l[SPOT_DECIMAL_BUFSIZE],
      cl[SPOT_DECIMAL_BUFSIZE], v[SPOT_DECIMAL_BUFSIZE];
  spot_decimal_format (&c->open, o, sizeof o);
  spot_decimal_format (&c->high, h, sizeof h);
  spot_decimal_format (&c->low, l, sizeof l);
  spot_decimal_format (&c->close, cl, sizeof cl);
  spot_decimal_format (&c->volume, v, sizeof v);
  return g_strdup_printf ("%s %s %" G_GINT64_FORMAT
                          " o=%s h=%s l=%s c=%s v=%s rev=%" G_GUINT64_FORMAT " complete=%d",
                          c->product_id, spot_granularity_name (c->granularity), c->start, o, h, l,
                          cl, v, c->rev, c->complete);
}

/* Compares one product; returns NULL on equality, else why not. */
static char *
compare_product (Service *s, GArray *rest, const char *product, gint64 since)
{
  guint compared = 0;
  g_mutex_lock (&s->rec.lock);
  char *why = NULL;
  /* Every REST bucket since the service started is in the output, equal. */
  for (guint i = 0; i < rest->len && why == NULL; i++)
    {
      const SpotCandle *r = &g_array_index (rest, SpotCandle, i);
      gint64 size = spot_granularity_seconds (r->granularity);
      if (r->start + size <= since)
        continue; /* closed before the service started */
      g_autofree char *key
          = g_strdup_printf ("%s|%d|%" G_GINT64_FORMAT, product, r->granularity, r->start);
      SpotCandle *c = g_hash_table_lookup (s->rec.latest, key);
      if (c == NULL)
        {
          g_autofree char *d = describe (r);
          why = g_strdup_printf ("missing in the service: %s", d);
        }
      else if (!spot_candle_values_equal (c, r))
        {
          g_autofree char *d1 = describe (c);
          g_autofree char *d2 = describe (r);
          why = g_strdup_printf ("service %s != exchange %s", d1, d2);
        }
      compared++;
    }
  /* Every bucket the service built (in the REST range) exists on the exchange. */
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, s->rec.latest);
  while (why == NULL && g_hash_table_iter_next (&it, NULL, &value))
    {
      const SpotCandle *c = value;
      if (strcmp (c->product_id, product) != 0
          || c->start + spot_granularity_seconds (c->granularity) <= since)
        continue;
      gboolean found = FALSE;
      for (guint i = 0; i < rest->len && !found; i++)
        {
          const SpotCandle *r = &g_array_index (rest, SpotCandle, i);
          found = r->granularity == c->granularity && r->start == c->start;
        }
      if (!found)
        {
          g_autofree char *d = describe (c);
          why = g_strdup_printf ("not on the exchange: %s", d);
        }
    }
  g_mutex_unlock (&s->rec.lock);
  if (why == NULL && compared < SPOT_GRANULARITY_COUNT)
    why = g_strdup_printf ("only %u buckets compared", compared);
  return why;
}

/* Waits for a quiet moment (REST unchanged across the check) per product
 * and compares; fails after @attempts. */
static void
assert_candles_equal_rest (Sim *sim, Service *s, gint64 since, guint attempts)
{
  for (guint p = 0; s->products[p] != NULL; p++)
    {
      const char *product = s->products[p];
      g_autofree char *last_why = NULL;
      gboolean ok = FALSE;
      for (guint a = 0; a < attempts && !ok; a++)
        {
          gint64 now = g_get_real_time () / G_USEC_PER_SEC;
          g_autoptr (GArray) r1 = rest_all (sim, product, now);
          /* The simulator sent every trade in r1 before answering: let the
           * frames arrive, parse and reach the sink. */
          sim_sleep (700);
          spot_sharded_aggregator_flush (s->agg);
          g_autoptr (GArray) r2 = rest_all (sim, product, now);
          if (!same_rest (r1, r2))
            continue; /* trades arrived meanwhile: try again */
          g_free (last_why);
          last_why = compare_product (s, r2, product, since);
          ok = last_why == NULL;
        }
      if (!ok)
        g_error ("%s: candles differ from the exchange: %s", product,
                 last_why != NULL ? last_why : "never quiet");
      g_test_message ("%s: every granularity equals the exchange's REST candles", product);
    }
}

static const char *sim_base_args[] = {
  "--products=4", "--trades-per-second=0.4", "--history-minutes=30",
  "--seed=7",     "--fault-after=1000",      NULL,
};

static void
dump_stats (Service *s, const char *when)
{
  SpotCoinbaseConnectionStats st;
  spot_coinbase_manager_get_stats (spot_coinbase_client_get_manager (s->client), &st);
  SpotCoinbaseRepairerStats rs;
  spot_coinbase_repairer_get_stats (spot_coinbase_client_get_repairer (s->client), &rs);
  g_test_message (
      "%s: frames %" G_GUINT64_FORMAT " trades %" G_GUINT64_FORMAT
      " parse_errors %" G_GUINT64_FORMAT " rejected %" G_GUINT64_FORMAT " gaps %" G_GUINT64_FORMAT
      " stalls %" G_GUINT64_FORMAT " reconnects %" G_GUINT64_FORMAT " drops %" G_GUINT64_FORMAT
      " | repairs queued %" G_GUINT64_FORMAT " applied %" G_GUINT64_FORMAT
      " cleared %" G_GUINT64_FORMAT " rest %" G_GUINT64_FORMAT " failed %" G_GUINT64_FORMAT,
      when, st.frames, st.trades, st.parse_errors, st.rejected_items, st.sequence_gaps, st.stalls,
      st.reconnects, st.inbox_drops, rs.minutes_queued, rs.applied, rs.cleared, rs.rest_requests,
      rs.failed);
}

static void
fault (Sim *sim, const char *kind, const char *value)
{
  g_autofree char *path = g_strdup_printf (
      "/_sim/fault?kind=%s%s%s", kind, value != NULL ? "&value=" : "", value != NULL ? value : "");
  guint status = 0;
  g_autofree char *body = sim_http (sim, "POST", path, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (strstr (body, "\"applied\""));
}

/* ---- tests ------------------------------------------------------------------- */

static void
test_builds_candles_equal_to_exchange_through_faults_and_restart (void)
{
  Sim *sim = sim_start (sim_base_args);
  Service *s = service_start (sim, NULL, NULL, NULL);
  g_assert_true (sim_wait (all_confirmed, s, 20000));
  gint64 since = s->started_s;

  /* Every message kind arrives and is parsed. */
  sim_sleep (3000);
  SpotCoinbaseConnectionStats st;
  spot_coinbase_manager_get_stats (spot_coinbase_client_get_manager (s->client), &st);
  g_assert_cmpuint (st.trades, >, 0);
  g_assert_cmpuint (st.heartbeats, >, 0);
  g_assert_cmpuint (st.exchange_candles, >, 0);
  g_assert_cmpuint (st.parse_errors, ==, 0);
  g_assert_cmpuint (st.sequence_gaps, ==, 0);

  /* Faults, each followed by recovery. */
  struct
  {
    const char *kind;
    const char *value;
    guint settle_ms;
  } faults[] = {
    { "heartbeat-string", "1", 2500 },
    { "newest-first", "1", 2500 },
    { "dup-snapshot", "1", 500 },
    { "close1001", NULL, 3000 },
    { "drop", NULL, 3000 },
    { "skip-sequence", "3", 2000 },
    { "malformed", NULL, 1500 },
    { "wrong-type", "0", 1500 },
    { "wrong-type", "1", 1500 },
    { "oversized", "4194304", 3000 },
    { "delay", "800", 3000 },
    { "clear", NULL, 500 },
    { "stall", "6", 9000 },
    { "skew", "4000", 4000 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (faults); i++)
    {
      fault (sim, faults[i].kind, faults[i].value);
      sim_sleep (faults[i].settle_ms);
      g_test_message ("fault %s applied", faults[i].kind);
    }
  dump_stats (s, "after faults");
  spot_coinbase_manager_get_stats (spot_coinbase_client_get_manager (s->client), &st);
  g_assert_cmpuint (st.reconnects, >=, 3); /* close1001, drop, stall */
  g_assert_cmpuint (st.stalls, >=, 1);
  g_assert_cmpuint (st.sequence_gaps, >=, 1);
  g_assert_cmpuint (st.parse_errors, >=, 2); /* malformed, wrong-type 1 is counted as rejected */
  g_assert_cmpuint (st.rejected_items, >=, 1);
  g_assert_true (sim_wait (all_confirmed, s, 20000));
  /* Skewed exchange clock: the offset estimate follows it. */
  gint64 offset = spot_candle_clock_get_offset_ns (spot_sharded_aggregator_get_clock (s->agg));
  g_test_message ("clock offset estimate %.3f s", offset / 1e9);
  g_assert_cmpint (offset, <, -3 * SPOT_NS_PER_SECOND);

  g_assert_true (sim_wait (repairs_done, s, 150000));
  dump_stats (s, "after repairs");
  assert_candles_equal_rest (sim, s, since, 30);

  /* Restart mid-run: a fresh service gives the same result. */
  service_stop (s);
  fault (sim, "clear", NULL);
  s = service_start (sim, NULL, NULL, NULL);
  g_assert_true (sim_wait (all_confirmed, s, 20000));
  since = s->started_s;
  sim_sleep (2000);
  g_assert_true (sim_wait (repairs_done, s, 150000));
  dump_stats (s, "after restart");
  assert_candles_equal_rest (sim, s, since, 30);
  service_stop (s);
  sim_stop (sim);
}

static void
test_products_added_at_run_time_are_seeded_and_equal_exchange (void)
{
  Sim *sim = sim_start (sim_base_args);
  guint status = 0;
  g_autoptr (JsonNode) root = sim_http_json (sim, "/api/v3/brokerage/market/products", &status);
  JsonArray *arr = json_object_get_array_member (json_node_get_object (root), "products");
  g_assert_cmpuint (json_array_get_length (arr), ==, 4);
  const char *all[5] = { NULL };
  for (guint i = 0; i < 4; i++)
    all[i] = json_object_get_string_member (json_array_get_object_element (arr, i), "product_id");
  const char *first[] = { all[0], all[1], NULL };
  Service *s = service_start_with (sim, NULL, NULL, first);
  g_assert_cmpuint (g_strv_length (s->products), ==, 2);
  g_assert_true (sim_wait (all_confirmed, s, 20000));
  sim_sleep (2000);

  /* Two more products at run time, one removed: only their connection
   * subscribes; the added ones are seeded before anything is emitted. */
  const char *more[] = { all[2], all[3], NULL };
  spot_coinbase_client_add_products (s->client, more);
  const char *gone[] = { all[1], NULL };
  spot_coinbase_client_remove_products (s->client, gone);
  g_strfreev (s->products);
  s->products = g_strdupv (
      (char **)(const char *[]){ (char *)all[0], (char *)all[2], (char *)all[3], NULL });
  g_assert_true (sim_wait (all_confirmed, s, 20000));
  SpotCoinbaseRepairerStats rs;
  spot_coinbase_repairer_get_stats (spot_coinbase_client_get_repairer (s->client), &rs);
  g_assert_cmpuint (rs.products_seeded, ==, 4);
  g_assert_true (sim_wait (repairs_done, s, 150000));
  dump_stats (s, "after adding products");
  assert_candles_equal_rest (sim, s, s->started_s, 30);
  service_stop (s);
  sim_stop (sim);
}

static char *
write_public_key (EVP_PKEY *pkey, const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  BIO *bio = BIO_new_file (path, "w");
  g_assert_cmpint (PEM_write_bio_PUBKEY (bio, pkey), ==, 1);
  BIO_free (bio);
  return g_steal_pointer (&path);
}

static char *
write_private_key (EVP_PKEY *pkey, const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  BIO *bio = BIO_new_file (path, "w");
  g_assert_cmpint (PEM_write_bio_PrivateKey (bio, pkey, NULL, NULL, 0, NULL, NULL), ==, 1);
  BIO_free (bio);
  return g_steal_pointer (&path);
}

static void
test_jwt_subscribes_accepted_by_exchange_requiring_auth (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("spot-cb-jwt-XXXXXX", &error);
  g_assert_no_error (error);
  EVP_PKEY *ec = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
  EVP_PKEY *ed = EVP_PKEY_Q_keygen (NULL, NULL, "ED25519");
  EVP_PKEY *other = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
  g_autofree char *ec_pub = write_public_key (ec, dir, "ec.pub");
  g_autofree char *ed_pub = write_public_key (ed, dir, "ed.pub");
  g_autofree char *ec_priv = write_private_key (ec, dir, "ec.pem");
  g_autofree char *ed_priv = write_private_key (ed, dir, "ed.pem");
  g_autofree char *other_priv = write_private_key (other, dir, "other.pem");
  g_autofree char *a1 = g_strdup_printf ("--jwt-public-key=%s", ec_pub);
  g_autofree char *a2 = g_strdup_printf ("--jwt-public-key=%s", ed_pub);
  const char *args[] = { "--products=2", "--trades-per-second=2", "--require-auth", a1, a2, NULL };
  Sim *sim = sim_start (args);

  const char *keys[] = { ec_priv, ed_priv };
  for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
    {
      Service *s = service_start (sim, "organizations/test/apiKeys/k", keys[k], NULL);
      g_assert_true (sim_wait (all_confirmed, s, 15000));
      SpotCoinbaseConnectionStats st;
      spot_coinbase_manager_get_stats (spot_coinbase_client_get_manager (s->client), &st);
      g_assert_cmpuint (st.exchange_errors, ==, 0);
      g_test_message ("%s key: %" G_GUINT64_FORMAT " trades", k == 0 ? "ES256" : "EdDSA",
                      st.trades);
      service_stop (s);
    }

  /* A key the exchange does not know: subscribes are refused. */
  Service *s = service_start (sim, "organizations/test/apiKeys/unknown", other_priv, NULL);
  sim_sleep (3000);
  SpotCoinbaseConnectionStats st;
  spot_coinbase_manager_get_stats (spot_coinbase_client_get_manager (s->client), &st);
  g_assert_cmpuint (st.exchange_errors, >, 0);
  g_assert_cmpuint (st.confirmed, ==, 0);
  g_assert_cmpuint (st.trades, ==, 0);
  service_stop (s);

  sim_stop (sim);
  EVP_PKEY_free (ec);
  EVP_PKEY_free (ed);
  EVP_PKEY_free (other);
  const char *names[] = { "ec.pub", "ed.pub", "ec.pem", "ed.pem", "other.pem" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *p = g_build_filename (dir, names[i], NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
}

typedef struct
{
  SpotCoinbaseManager *m;
  guint want;
} OpenWait;

static gboolean
manager_ready (gpointer data)
{
  OpenWait *w = data;
  SpotCoinbaseConnectionStats st;
  spot_coinbase_manager_get_stats (w->m, &st);
  return spot_coinbase_manager_get_n_open (w->m) == spot_coinbase_manager_get_n_connections (w->m)
         && st.confirmed >= w->want;
}

static gboolean
array_has_75 (gpointer data)
{
  return ((GArray *)data)->len >= 75;
}

static void
test_500_products_use_25_connections_within_rate_limits (void)
{
  const char *args[]
      = { "--products=500", "--trades-per-second=0.05", "--history-minutes=1", NULL };
  Sim *sim = sim_start (args);
  SpotEngineOptions eo;
  spot_engine_options_init_defaults (&eo);
  eo.workers = 2;
  SpotCandleSink sink = { 0 };
  g_autoptr (GError) error = NULL;
  SpotShardedAggregator *agg = spot_sharded_aggregator_new (&eo, &sink, NULL, &error);
  g_assert_no_error (error);

  SpotCoinbaseOptions o;
  options_for (&o, sim);
  o.products_per_connection = 20; /* the defaults */
  o.connect_rate = 4;
  o.subscribe_rate = 8;
  SpotCoinbaseManager *m = spot_coinbase_manager_new (&o, agg, NULL, NULL, NULL);
  GArray *opens = NULL, *subs = NULL;
  spot_coinbase_manager_record_times (m, &opens, &subs);

  guint status = 0;
  g_autoptr (JsonNode) root = sim_http_json (sim, "/api/v3/brokerage/market/products", &status);
  JsonArray *arr = json_object_get_array_member (json_node_get_object (root), "products");
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  for (guint i = 0; i < json_array_get_length (arr); i++)
    g_ptr_array_add (ids, (gpointer)json_object_get_string_member (
                              json_array_get_object_element (arr, i), "product_id"));
  g_ptr_array_add (ids, NULL);
  g_assert_cmpuint (ids->len - 1, ==, 500);
  spot_coinbase_manager_add_products (m, (const char *const *)ids->pdata);
  g_assert_cmpuint (spot_coinbase_manager_get_n_connections (m), ==, 25);

  OpenWait w = { m, 500 };
  g_assert_true (sim_wait (manager_ready, &w, 60000));
  g_assert_cmpuint (spot_coinbase_manager_get_n_open (m), ==, 25);
  g_assert_cmpuint (opens->len, ==, 25);
  /* Opens at most 4 per second, subscribes at most 8 per second (measured). */
  gint64 min_gap = G_MAXINT64;
  for (guint i = 1; i < opens->len; i++)
    min_gap
        = MIN (min_gap, g_array_index (opens, gint64, i) - g_array_index (opens, gint64, i - 1));
  g_test_message ("opens: %u, smallest gap %.3f s; subscribes: %u", opens->len, min_gap / 1e6,
                  subs->len);
  g_assert_cmpint (min_gap, >=, 250000 - 2000);
  g_assert_true (sim_wait (array_has_75, subs, 5000));
  g_assert_cmpuint (subs->len, ==, 25 * 3);
  guint worst = 0;
  for (guint i = 0; i < subs->len; i++)
    {
      guint n = 0;
      for (guint k = i;
           k < subs->len
           && g_array_index (subs, gint64, k) < g_array_index (subs, gint64, i) + G_USEC_PER_SEC;
           k++)
        n++;
      worst = MAX (worst, n);
    }
  g_test_message ("most subscribes in any one second: %u", worst);
  g_assert_cmpuint (worst, <=, 8);

  /* Removing products unsubscribes only their connections; adding fills room. */
  const char *gone[] = { g_ptr_array_index (ids, 0), g_ptr_array_index (ids, 1), NULL };
  guint before = subs->len;
  spot_coinbase_manager_remove_products (m, gone);
  spot_coinbase_manager_add_products (m, gone);
  sim_sleep (1500);
  g_assert_cmpuint (spot_coinbase_manager_get_n_connections (m), ==, 25);
  g_assert_cmpuint (subs->len - before, ==, 4); /* unsubscribe + subscribe, trades and candles */

  spot_coinbase_manager_stop (m);
  spot_coinbase_manager_free (m);
  spot_sharded_aggregator_free (agg);
  spot_coinbase_options_clear (&o);
  sim_stop (sim);
}

static void
cold_start_options (SpotCoinbaseOptions *o)
{
  /* The defaults, with the benchmark's fast opens, subscribes and REST. */
  o->products_per_connection = 20;
  o->connect_rate = 20;
  o->subscribe_rate = 50;
  o->rest_rate = 500;
}

static void
test_500_products_cold_start_without_inbox_drops (void)
{
  /* Snapshots of 50 trades per product and 20 trades/s per product: each
   * connection gets about 80 messages a second. */
  const char *args[] = { "--products=500", "--trades-per-second=20", "--history-minutes=3", NULL };
  Sim *sim = sim_start (args);
  tweak_options = cold_start_options;
  record_nothing = TRUE;
  Service *s = service_start (sim, NULL, NULL, NULL);
  g_assert_cmpuint (g_strv_length (s->products), ==, 500);
  SpotCoinbaseManager *m = spot_coinbase_client_get_manager (s->client);
  g_assert_cmpuint (spot_coinbase_manager_get_n_connections (m), ==, 25);
  /* Seeded from REST, every subscription confirmed, trades flowing. */
  g_assert_true (sim_wait (all_confirmed, s, 120000));
  g_assert_cmpuint (spot_coinbase_manager_get_n_open (m), ==, 25);
  sim_sleep (3000);

  /* A busy start-up holds the main loop (here 4 s, longer than the stall
   * timeout of 3 s): the frames wait in the sockets and then arrive at
   * once, about 320 per connection. None may be dropped, and the silence
   * is not a stall. */
  g_usleep (4 * G_USEC_PER_SEC);
  sim_sleep (5000);

  SpotCoinbaseConnectionStats st;
  spot_coinbase_manager_get_stats (m, &st);
  SpotEngineStats es;
  spot_sharded_aggregator_get_stats (s->agg, &es);
  dump_stats (s, "after the cold start");
  g_test_message ("inbox peak %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT
                  " bytes; %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                  " frames parsed on the main loop",
                  st.inbox_peak_frames, st.inbox_peak_bytes, st.inline_frames, st.frames);
  g_assert_cmpuint (spot_coinbase_manager_get_n_connections (m), ==, 25);
  g_assert_cmpuint (spot_coinbase_manager_get_n_open (m), ==, 25);
  g_assert_cmpuint (st.opens, ==, 25);
  g_assert_cmpuint (st.trades, >, 500 * 50);
  g_assert_cmpuint (st.inbox_drops, ==, 0);
  g_assert_cmpuint (st.batches_rejected, ==, 0);
  g_assert_cmpuint (es.batches_dropped, ==, 0);
  g_assert_cmpuint (st.stalls, ==, 0);
  g_assert_cmpuint (st.reconnects, ==, 0);
  g_assert_cmpuint (st.sequence_gaps, ==, 0);
  g_assert_cmpuint (st.parse_errors, ==, 0);

  service_stop (s);
  tweak_options = NULL;
  record_nothing = FALSE;
  sim_stop (sim);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Faults make the client log warnings on purpose; criticals stay fatal. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_FATAL_MASK);
  g_test_add_func ("/coinbase/sim/builds-candles-equal-to-exchange-through-faults-and-restart",
                   test_builds_candles_equal_to_exchange_through_faults_and_restart);
  g_test_add_func ("/coinbase/sim/products-added-at-run-time-are-seeded-and-equal-exchange",
                   test_products_added_at_run_time_are_seeded_and_equal_exchange);
  g_test_add_func ("/coinbase/sim/jwt-subscribes-accepted-by-exchange-requiring-auth",
                   test_jwt_subscribes_accepted_by_exchange_requiring_auth);
  g_test_add_func ("/coinbase/sim/500-products-use-25-connections-within-rate-limits",
                   test_500_products_use_25_connections_within_rate_limits);
  g_test_add_func ("/coinbase/sim/500-products-cold-start-without-inbox-drops",
                   test_500_products_cold_start_without_inbox_drops);
  return g_test_run ();
}
