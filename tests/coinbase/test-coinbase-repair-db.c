/* test-coinbase-repair-db.c: the repair coordinator's database path.
 *
 * A product's minute was missed entirely (no row stored) long enough ago
 * that the engine no longer holds its buckets; the stored FIVE_MINUTE and
 * FIFTEEN_MINUTE ancestors were completed without it. The minute is marked
 * dirty in the real engine, which reports it to the real repairer; the
 * repairer fetches it from the simulator's REST, the engine answers
 * NEEDS_DATABASE, and the repairer applies it through the store in a real
 * PostgreSQL. Afterwards the minute's row and the recomputed ancestors
 * (corrected revisions) equal the simulator's REST candles.
 */
#include <string.h>

#include <glib.h>
#include <libpq-fe.h>

#include "../exchange-sim/sim-client.h"
#include "aggregate/spot-sharded-aggregator.h"
#include "coinbase/spot-coinbase-repairer.h"
#include "coinbase/spot-coinbase-rest.h"
#include "model/spot-candle.h"
#include "spot-test-harness.h"
#include "store/spot-repository.h"
#include "store/spot-store-queries.h"

#define PRODUCT "BTC-USD"

typedef struct
{
  GMutex lock;
  SpotCoinbaseRepairer *repairer;
  guint dirty_reported; /* minutes reported through emit_dirty */
} Wiring;

/* Shard worker thread: the engine's closed dirty minutes go to the repairer,
 * as the service wires them. */
static void
emit_dirty (gpointer data, guint worker, const SpotDirtyRange *ranges, guint n)
{
  Wiring *w = data;
  (void)worker;
  g_mutex_lock (&w->lock);
  for (guint i = 0; i < n; i++)
    w->dirty_reported += (guint)((ranges[i].last_minute - ranges[i].first_minute) / 60 + 1);
  if (w->repairer != NULL)
    spot_coinbase_repairer_queue_dirty (w->repairer, ranges, n);
  g_mutex_unlock (&w->lock);
}

/* The simulator's REST candles of one granularity, oldest first. */
static GArray *
rest_candles (Sim *sim, SpotGranularity g, gint64 first, gint64 last)
{
  g_autofree char *path = g_strdup_printf ("/api/v3/brokerage/market/products/" PRODUCT
                                           "/candles?start=%" G_GINT64_FORMAT
                                           "&end=%" G_GINT64_FORMAT "&granularity=%s",
                                           first, last, spot_granularity_name (g));
  guint status = 0;
  g_autofree char *body = sim_http (sim, "GET", path, &status);
  g_assert_cmpuint (status, ==, 200);
  g_autoptr (GError) error = NULL;
  GArray *out = spot_coinbase_rest_parse_candles (body, strlen (body), PRODUCT, g, &error);
  g_assert_no_error (error);
  return out;
}

static const SpotCandle *
find (GArray *candles, gint64 start)
{
  for (guint i = 0; i < candles->len; i++)
    if (g_array_index (candles, SpotCandle, i).start == start)
      return &g_array_index (candles, SpotCandle, i);
  g_assert_not_reached ();
}

/* The stored row of one bucket, or FALSE when there is none. */
static gboolean
stored (PGconn *conn, SpotGranularity g, gint64 start, SpotCandle *out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) rows = spot_store_query_history (conn, PRODUCT, g, start, start, 10, &error);
  g_assert_no_error (error);
  if (rows->len == 0)
    return FALSE;
  g_assert_cmpuint (rows->len, ==, 1);
  *out = g_array_index (rows, SpotCandle, 0);
  return TRUE;
}

static void
assert_equals_rest (const SpotCandle *row, const SpotCandle *rest)
{
  if (!spot_candle_values_equal (row, rest))
    {
      g_autofree char *a = spot_decimal_to_string (&row->close);
      g_autofree char *b = spot_decimal_to_string (&rest->close);
      g_autofree char *va = spot_decimal_to_string (&row->volume);
      g_autofree char *vb = spot_decimal_to_string (&rest->volume);
      g_test_message ("%s at %" G_GINT64_FORMAT ": stored close %s volume %s, REST close %s volume %s",
                      spot_granularity_name (rest->granularity), rest->start, a, va, b, vb);
    }
  g_assert_true (spot_candle_values_equal (row, rest));
}

/* A complete stored revision as the engine would have written it. */
static SpotCandle
as_stored (const SpotCandle *c, guint64 rev)
{
  SpotCandle s = *c;
  s.complete = TRUE;
  s.rev = rev;
  return s;
}

typedef struct
{
  SpotCoinbaseRepairer *repairer;
} Waiting;

static gboolean
via_database (gpointer data)
{
  Waiting *w = data;
  SpotCoinbaseRepairerStats st;
  spot_coinbase_repairer_get_stats (w->repairer, &st);
  return st.via_database >= 1 && spot_coinbase_repairer_get_pending (w->repairer) == 0;
}

static void
test_missed_minute_past_memory_is_repaired_through_database_with_ancestors_recomputed (void)
{
  spot_test_require_program ("postgres");
  static const char *args[] = { "--product-ids=" PRODUCT, "--trades-per-second=2",
                                "--history-minutes=60", "--seed=11", NULL };
  Sim *sim = sim_start (args);

  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestPostgres) pg = spot_test_postgres_start (&error);
  g_assert_no_error (error);
  g_autoptr (SpotRepository) repo = spot_repository_new (spot_test_postgres_conninfo (pg));
  g_assert_true (spot_repository_migrate_sync (repo, &error));
  g_assert_no_error (error);
  PGconn *conn = PQconnectdb (spot_test_postgres_conninfo (pg));
  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  const char *ids[] = { PRODUCT, NULL };
  g_assert_true (spot_store_replace_active_products (conn, ids, &error));
  g_assert_no_error (error);

  /* A closed FIFTEEN_MINUTE bucket well inside the sim's history and long
   * past the engine's windows; the missed minute is in its middle five. */
  gint64 now_s = g_get_real_time () / G_USEC_PER_SEC;
  gint64 q = spot_granularity_align (SPOT_GRANULARITY_FIFTEEN_MINUTE, now_s) - 2 * 900;
  gint64 f = q + 300;
  gint64 m = f + 120;
  g_autoptr (GArray) rest1 = rest_candles (sim, SPOT_GRANULARITY_ONE_MINUTE, q, q + 840);
  g_autoptr (GArray) rest5 = rest_candles (sim, SPOT_GRANULARITY_FIVE_MINUTE, q, q + 600);
  g_autoptr (GArray) rest15 = rest_candles (sim, SPOT_GRANULARITY_FIFTEEN_MINUTE, q, q);
  /* 2 trades a second: every bucket has trades. */
  g_assert_cmpuint (rest1->len, ==, 15);
  g_assert_cmpuint (rest5->len, ==, 3);
  g_assert_cmpuint (rest15->len, ==, 1);

  /* What the service stored while it missed minute m: every other minute,
   * the FIVE_MINUTE bucket f and the FIFTEEN_MINUTE bucket q completed from
   * the minutes it had (wrong by minute m). */
  g_autoptr (GArray) seed = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  for (guint i = 0; i < rest1->len; i++)
    {
      const SpotCandle *c = &g_array_index (rest1, SpotCandle, i);
      if (c->start != m)
        {
          SpotCandle s = as_stored (c, 1);
          g_array_append_val (seed, s);
        }
    }
  for (guint i = 0; i < rest5->len; i++)
    {
      const SpotCandle *c = &g_array_index (rest5, SpotCandle, i);
      SpotCandle s = as_stored (c, 1);
      if (c->start == f)
        {
          /* Without minute m: the values of minute f (an earlier child),
           * under the bucket's identity. Valid and not what REST says. */
          const SpotCandle *first = find (rest1, f);
          s = as_stored (first, 1);
          s.granularity = SPOT_GRANULARITY_FIVE_MINUTE;
          s.start = f;
        }
      g_array_append_val (seed, s);
    }
  {
    SpotCandle s = as_stored (find (rest1, q), 1);
    s.granularity = SPOT_GRANULARITY_FIFTEEN_MINUTE;
    s.start = q;
    g_array_append_val (seed, s);
  }
  guint n_applied = 0;
  g_assert_true (spot_store_upsert_candles (conn, SPOT_STORE_STRATEGY_VALUES,
                                            (const SpotCandle *)seed->data, seed->len, &n_applied,
                                            &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_applied, ==, seed->len);
  SpotCandle before5, before15, row;
  g_assert_false (stored (conn, SPOT_GRANULARITY_ONE_MINUTE, m, &row));
  g_assert_true (stored (conn, SPOT_GRANULARITY_FIVE_MINUTE, f, &before5));
  g_assert_true (stored (conn, SPOT_GRANULARITY_FIFTEEN_MINUTE, q, &before15));
  g_assert_false (spot_candle_values_equal (&before5, find (rest5, f)));
  g_assert_false (spot_candle_values_equal (&before15, find (rest15, q)));

  /* The engine with short windows: minute m's buckets are long gone. */
  Wiring w = { 0 };
  g_mutex_init (&w.lock);
  SpotEngineOptions eo;
  spot_engine_options_init_defaults (&eo);
  eo.workers = 1;
  eo.grace_ms = 200;
  eo.correction_window_s = 1;
  eo.repair_wait_ms = 500;
  eo.tick_interval_ms = 50;
  SpotCandleSink sink = { NULL, NULL, emit_dirty, &w };
  SpotShardedAggregator *agg = spot_sharded_aggregator_new (&eo, &sink, NULL, &error);
  g_assert_no_error (error);
  spot_sharded_aggregator_add_product (agg, PRODUCT, FALSE);

  SpotCoinbaseOptions o;
  spot_coinbase_options_init_defaults (&o);
  g_free (o.rest_url);
  o.rest_url = g_strdup (sim->rest_url);
  if (g_str_has_suffix (o.rest_url, "/"))
    o.rest_url[strlen (o.rest_url) - 1] = '\0';
  o.rest_rate = 50;
  o.repair_delay_ms = 0;
  SpotCoinbaseRest *rest = spot_coinbase_rest_new (&o);
  SpotCoinbaseRepairer *repairer = spot_coinbase_repairer_new (&o, rest, agg, repo, NULL);
  spot_coinbase_options_clear (&o);
  g_mutex_lock (&w.lock);
  w.repairer = repairer;
  g_mutex_unlock (&w.lock);

  /* Trades of minute m were missed (a disconnect). */
  spot_sharded_aggregator_mark_dirty (agg, PRODUCT, m, m, SPOT_DIRTY_REASON_DISCONNECT);
  Waiting wait = { repairer };
  gboolean done = sim_wait (via_database, &wait, 30000);
  SpotCoinbaseRepairerStats st;
  spot_coinbase_repairer_get_stats (repairer, &st);
  g_test_message ("repairer: queued %" G_GUINT64_FORMAT " requests %" G_GUINT64_FORMAT
                  " applied %" G_GUINT64_FORMAT " via_database %" G_GUINT64_FORMAT
                  " failed %" G_GUINT64_FORMAT " abandoned %" G_GUINT64_FORMAT,
                  st.minutes_queued, st.rest_requests, st.applied, st.via_database, st.failed,
                  st.abandoned);
  g_assert_true (done);
  g_mutex_lock (&w.lock);
  g_assert_cmpuint (w.dirty_reported, >=, 1);
  g_mutex_unlock (&w.lock);
  g_assert_cmpuint (st.minutes_queued, ==, 1);
  g_assert_cmpuint (st.via_database, ==, 1);
  g_assert_cmpuint (st.applied, ==, 0);
  g_assert_cmpuint (st.failed, ==, 0);
  g_assert_cmpuint (st.rest_failures, ==, 0);
  SpotEngineStats es;
  spot_sharded_aggregator_get_stats (agg, &es);
  g_assert_cmpuint (es.repairs_database, ==, 1);
  g_assert_cmpuint (es.dirty_pending, ==, 0);

  /* The minute's row is the exchange's minute. */
  g_assert_true (stored (conn, SPOT_GRANULARITY_ONE_MINUTE, m, &row));
  assert_equals_rest (&row, find (rest1, m));
  g_assert_true (row.complete);
  /* The ancestors were recomputed from their stored children as corrected
   * revisions and now equal the exchange's buckets. */
  g_assert_true (stored (conn, SPOT_GRANULARITY_FIVE_MINUTE, f, &row));
  assert_equals_rest (&row, find (rest5, f));
  g_assert_true (row.complete);
  g_assert_cmpuint (row.rev, >, before5.rev);
  g_assert_true (stored (conn, SPOT_GRANULARITY_FIFTEEN_MINUTE, q, &row));
  assert_equals_rest (&row, find (rest15, q));
  g_assert_true (row.complete);
  g_assert_cmpuint (row.rev, >, before15.rev);
  /* Untouched siblings keep their revision. */
  g_assert_true (stored (conn, SPOT_GRANULARITY_FIVE_MINUTE, q, &row));
  g_assert_cmpuint (row.rev, ==, 1);

  g_mutex_lock (&w.lock);
  w.repairer = NULL;
  g_mutex_unlock (&w.lock);
  spot_sharded_aggregator_stop (agg);
  spot_coinbase_repairer_free (repairer);
  /* Let callbacks already queued on the main context run. */
  sim_sleep (50);
  spot_coinbase_rest_free (rest);
  spot_sharded_aggregator_free (agg);
  g_mutex_clear (&w.lock);
  PQfinish (conn);
  g_clear_object (&repo);
  sim_stop (sim);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func (
      "/coinbase/repair-db/missed-minute-past-memory-is-repaired-through-database-with-ancestors-recomputed",
      test_missed_minute_past_memory_is_repaired_through_database_with_ancestors_recomputed);
  return g_test_run ();
}
