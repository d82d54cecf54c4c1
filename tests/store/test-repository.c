/* Integration tests of the candle and product queries and the repository
 * thread, against a real PostgreSQL started by the test harness. */
#include <string.h>

#include "core/spot-error.h"
#include "spot-test-harness.h"
#include "store/spot-migrations.h"
#include "store/spot-pg.h"
#include "store/spot-repository.h"
#include "store/spot-store-queries.h"
#include "store-test-util.h"

static SpotTestPostgres *pg;
static PGconn *conn;

static void
reset_tables (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (spot_pg_exec (conn, "TRUNCATE candles, products", &error));
  g_assert_no_error (error);
}

/* The stored row of one key, or FALSE when there is none. */
static gboolean
load (const char *product, SpotGranularity g, gint64 start, SpotCandle *out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) rows = spot_store_query_history (conn, product, g, start, start, 1, &error);
  g_assert_no_error (error);
  if (rows->len == 0)
    return FALSE;
  *out = g_array_index (rows, SpotCandle, 0);
  return TRUE;
}

static void
test_upsert_keeps_exact_decimals_and_nulls (void)
{
  SpotCandle c = make_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, "68900.50",
                              "68950.00", "68800.25", "68900.10", "12.34500000", 12, 995098701,
                              FALSE, 3);
  SpotCandle rest = make_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521860, "1", "2",
                                 "0.5", "1.5", "0", SPOT_CANDLE_TRADES_UNKNOWN,
                                 SPOT_CANDLE_TRADE_ID_UNKNOWN, TRUE, 0);
  g_autoptr (GError) error = NULL;
  gboolean applied = FALSE;
  SpotCandle back;
  char buf[SPOT_DECIMAL_BUFSIZE];

  reset_tables ();
  c.ts_ns = G_GINT64_CONSTANT (1775521802789012345);
  g_assert_true (spot_store_upsert_candle (conn, &c, &applied, &error));
  g_assert_no_error (error);
  g_assert_true (applied);
  g_assert_true (load ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, &back));
  g_assert_true (spot_candle_values_equal (&c, &back));
  spot_decimal_format (&back.open, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "68900.50");
  g_assert_cmpint (back.trades, ==, 12);
  g_assert_cmpuint (back.last_trade_id, ==, 995098701);
  g_assert_cmpuint (back.rev, ==, 3);
  g_assert_false (back.complete);
  g_assert_cmpint (back.ts_ns, ==, G_GINT64_CONSTANT (1775521802789012000));

  g_assert_true (spot_store_upsert_candle (conn, &rest, &applied, &error));
  g_assert_true (load ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521860, &back));
  g_assert_cmpint (back.trades, ==, SPOT_CANDLE_TRADES_UNKNOWN);
  g_assert_cmpuint (back.last_trade_id, ==, SPOT_CANDLE_TRADE_ID_UNKNOWN);
  g_assert_cmpint (back.ts_ns, ==, SPOT_CANDLE_TS_UNKNOWN);
  g_assert_true (back.complete);
}

static void
test_upsert_never_goes_back (void)
{
  SpotCandle c = flat_candle ("ETH-USD", SPOT_GRANULARITY_FIVE_MINUTE, 1775521800, "10", "1", FALSE, 5);
  g_autoptr (GError) error = NULL;
  gboolean applied = FALSE;
  SpotCandle back;

  reset_tables ();
  g_assert_true (spot_store_upsert_candle (conn, &c, &applied, &error));
  g_assert_true (applied);

  /* Lower rev: ignored. */
  c.rev = 4;
  c.volume = dec ("4");
  g_assert_true (spot_store_upsert_candle (conn, &c, &applied, &error));
  g_assert_false (applied);
  g_assert_true (load ("ETH-USD", SPOT_GRANULARITY_FIVE_MINUTE, 1775521800, &back));
  g_assert_true (dec_equals (&back.volume, "1"));
  g_assert_cmpuint (back.rev, ==, 5);

  /* Same rev, incomplete: ignored. */
  c.rev = 5;
  g_assert_true (spot_store_upsert_candle (conn, &c, &applied, &error));
  g_assert_false (applied);

  /* Same rev, completing: written. */
  c.complete = TRUE;
  c.volume = dec ("1.5");
  g_assert_true (spot_store_upsert_candle (conn, &c, &applied, &error));
  g_assert_true (applied);

  /* Incomplete with a higher rev never replaces the complete row. */
  c.complete = FALSE;
  c.rev = 9;
  c.volume = dec ("9");
  g_assert_true (spot_store_upsert_candle (conn, &c, &applied, &error));
  g_assert_false (applied);
  g_assert_true (load ("ETH-USD", SPOT_GRANULARITY_FIVE_MINUTE, 1775521800, &back));
  g_assert_true (back.complete);
  g_assert_true (dec_equals (&back.volume, "1.5"));

  /* A corrected complete revision replaces it. */
  c.complete = TRUE;
  c.rev = 6;
  c.volume = dec ("2.25");
  g_assert_true (spot_store_upsert_candle (conn, &c, &applied, &error));
  g_assert_true (applied);
  g_assert_true (load ("ETH-USD", SPOT_GRANULARITY_FIVE_MINUTE, 1775521800, &back));
  g_assert_true (dec_equals (&back.volume, "2.250"));
  g_assert_cmpuint (back.rev, ==, 6);
}

static void
test_batch_strategies_agree_and_keep_the_guard (gconstpointer data)
{
  SpotStoreStrategy strategy = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) batch = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  guint applied = 0;
  SpotCandle back;

  reset_tables ();
  /* 300 keys, each first written incomplete at rev 1. */
  for (guint i = 0; i < 300; i++)
    {
      SpotCandle c = flat_candle (i % 2 ? "BTC-USD" : "SOL-USD", SPOT_GRANULARITY_ONE_MINUTE,
                                  60 * (gint64) (i / 2), "100.10", "1", FALSE, 1);
      g_array_append_val (batch, c);
    }
  g_assert_true (spot_store_upsert_candles (conn, strategy, (SpotCandle *) batch->data, batch->len,
                                            &applied, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (applied, ==, 300);

  /* Second batch: key 0 completed at rev 2 and, in the same batch, a stale
   * rev 1 update of it; key 1 goes back to rev 0 (ignored); key 2 moves on. */
  g_array_set_size (batch, 0);
  {
    SpotCandle k0 = g_array_index (batch, SpotCandle, 0);
    k0 = flat_candle ("SOL-USD", SPOT_GRANULARITY_ONE_MINUTE, 0, "100.20", "2", TRUE, 2);
    g_array_append_val (batch, k0);
    k0.rev = 1;
    k0.complete = FALSE;
    k0.volume = dec ("7");
    g_array_append_val (batch, k0);
    SpotCandle k1 = flat_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 0, "1", "9", FALSE, 0);
    g_array_append_val (batch, k1);
    SpotCandle k2 = flat_candle ("SOL-USD", SPOT_GRANULARITY_ONE_MINUTE, 60, "101", "3", FALSE, 2);
    g_array_append_val (batch, k2);
  }
  g_assert_true (spot_store_upsert_candles (conn, strategy, (SpotCandle *) batch->data, batch->len,
                                            &applied, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (applied, ==, 2);
  g_assert_true (load ("SOL-USD", SPOT_GRANULARITY_ONE_MINUTE, 0, &back));
  g_assert_true (back.complete);
  g_assert_cmpuint (back.rev, ==, 2);
  g_assert_true (dec_equals (&back.volume, "2"));
  g_assert_true (load ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 0, &back));
  g_assert_cmpuint (back.rev, ==, 1);
  g_assert_true (dec_equals (&back.close, "100.1"));
  g_assert_true (load ("SOL-USD", SPOT_GRANULARITY_ONE_MINUTE, 60, &back));
  g_assert_cmpuint (back.rev, ==, 2);
  g_assert_true (dec_equals (&back.close, "101"));
}

static void
test_invalid_rows_are_rejected_with_a_clear_error (void)
{
  g_autoptr (GError) error = NULL;
  SpotCandle rows[2];
  guint applied = 99;
  gboolean one = TRUE;
  g_autoptr (PGresult) res = NULL;

  reset_tables ();
  rows[0] = flat_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 60, "1", "1", FALSE, 1);
  rows[1] = make_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 120, "5", "4", "3", "5", "1", 1, 1,
                         FALSE, 1); /* open above high */
  g_assert_false (spot_store_upsert_candles (conn, SPOT_STORE_STRATEGY_DEFAULT, rows, 2, &applied,
                                             &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "BTC-USD"));
  g_assert_nonnull (strstr (error->message, "120"));
  g_assert_cmpuint (applied, ==, 0);
  g_clear_error (&error);
  /* Nothing of the batch was written. */
  res = spot_pg_exec_params (conn, "SELECT count(*) FROM candles", 0, NULL, &error);
  g_assert_cmpstr (PQgetvalue (res, 0, 0), ==, "0");

  rows[1].start = 121; /* not aligned */
  rows[1].open = dec ("4");
  g_assert_false (spot_store_upsert_candle (conn, &rows[1], &one, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* The database's own checks back the client's: a negative volume sent
   * around the validation is refused by PostgreSQL, naming the constraint. */
  {
    const char *v[] = { "BTC-USD", "ONE_MINUTE", "1970-01-01T00:03:00Z", "1", "1", "1", "1", "-1",
                        NULL, NULL, "f", "1", NULL };
    g_autoptr (PGresult) r = spot_pg_exec_params (conn, spot_store_upsert_one_sql (), 13, v, &error);
    g_assert_null (r);
    g_assert_error (error, SPOT_ERROR, SPOT_ERROR_DATABASE);
    g_assert_nonnull (strstr (error->message, "candles_volume_check"));
  }
}

static void
test_products_create_update_activate (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotProduct) btc = spot_product_new ("BTC-USD", "BTC", "USD", "online", FALSE);
  g_autoptr (SpotProduct) eth = spot_product_new ("ETH-USD", "ETH", "USD", "online", TRUE);
  g_autoptr (GPtrArray) active = NULL;
  g_autoptr (GPtrArray) all = NULL;
  const char *wanted[] = { "BTC-USD", "ADA-USD", NULL };

  reset_tables ();
  g_assert_true (spot_store_put_product (conn, btc, &error));
  g_assert_true (spot_store_put_product (conn, eth, &error));
  g_assert_no_error (error);
  active = spot_store_get_products (conn, TRUE, &error);
  g_assert_cmpuint (active->len, ==, 1);
  g_assert_cmpstr (((SpotProduct *) active->pdata[0])->product_id, ==, "ETH-USD");
  g_clear_pointer (&active, g_ptr_array_unref);

  /* put on an existing product updates metadata and keeps `active`. */
  g_free (eth->status);
  eth->status = g_strdup ("delisted");
  eth->active = FALSE;
  g_assert_true (spot_store_put_product (conn, eth, &error));
  g_assert_true (spot_store_set_product_active (conn, "BTC-USD", TRUE, &error));
  g_assert_true (spot_store_set_product_active (conn, "ETH-USD", FALSE, &error));
  active = spot_store_get_products (conn, TRUE, &error);
  g_assert_cmpuint (active->len, ==, 1);
  g_assert_cmpstr (((SpotProduct *) active->pdata[0])->product_id, ==, "BTC-USD");
  g_clear_pointer (&active, g_ptr_array_unref);

  g_assert_false (spot_store_set_product_active (conn, "XRP-USD", TRUE, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "XRP-USD"));
  g_clear_error (&error);
  {
    g_autoptr (SpotProduct) missing = spot_product_new ("XRP-USD", "XRP", "USD", "online", FALSE);
    g_assert_false (spot_store_update_product (conn, missing, &error));
    g_assert_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }
  g_assert_false (spot_store_set_product_active (conn, "btc usd", TRUE, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* PRODUCTS at start-up replaces the active set. */
  g_assert_true (spot_store_replace_active_products (conn, wanted, &error));
  g_assert_no_error (error);
  active = spot_store_get_products (conn, TRUE, &error);
  g_assert_cmpuint (active->len, ==, 2);
  g_assert_cmpstr (((SpotProduct *) active->pdata[0])->product_id, ==, "ADA-USD");
  g_assert_cmpstr (((SpotProduct *) active->pdata[0])->base, ==, "ADA");
  g_assert_cmpstr (((SpotProduct *) active->pdata[1])->product_id, ==, "BTC-USD");
  all = spot_store_get_products (conn, FALSE, &error);
  g_assert_cmpuint (all->len, ==, 3);
  g_assert_cmpstr (((SpotProduct *) all->pdata[2])->status, ==, "delisted");
}

static gboolean
seed_has (SpotStoreSeed *seed, SpotGranularity g, gint64 start)
{
  for (guint i = 0; i < seed->candles->len; i++)
    {
      SpotCandle *c = &g_array_index (seed->candles, SpotCandle, i);
      if (c->granularity == g && c->start == start)
        return TRUE;
    }
  return FALSE;
}

static void
test_seed_loads_open_buckets_children_and_last_trade (void)
{
  /* now = 10:07:30 on some day; the open 5m bucket is 10:05, 15m 10:00. */
  const gint64 day = 1775520000;
  const gint64 now = day + 10 * 3600 + 7 * 60 + 30;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  SpotStoreSeed seed = { 0 };
  SpotCandle c;

  reset_tables ();
  /* Minutes 09:50 .. 10:07: the ones from 10:05 are children of the open 5m. */
  for (gint64 t = now - 17 * 60 - 30; t <= now - 30; t += 60)
    {
      c = flat_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, t, "5", "1", t < now - 30, 1);
      c.last_trade_id = (guint64) (t - day);
      g_array_append_val (rows, c);
    }
  /* 5m: 09:55 (closed, child of the open 15m at 10:00? no: 15m opened at
   * 10:00), 10:00 (closed child of the open 15m), 10:05 (open). */
  c = flat_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, day + 9 * 3600 + 55 * 60, "5", "1", TRUE, 1);
  g_array_append_val (rows, c);
  c = flat_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, day + 10 * 3600, "5", "1", TRUE, 1);
  g_array_append_val (rows, c);
  c = flat_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, day + 10 * 3600 + 5 * 60, "5", "1", FALSE, 1);
  g_array_append_val (rows, c);
  /* An incomplete 1h row of yesterday evening (its bucket closed: dirty). */
  c = flat_candle ("BTC-USD", SPOT_GRANULARITY_ONE_HOUR, day - 3600, "5", "1", FALSE, 1);
  g_array_append_val (rows, c);
  /* Another product's rows are not loaded. */
  c = flat_candle ("ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, now - 30 - 60 * 2, "5", "1", FALSE, 1);
  c.last_trade_id = 999999999;
  g_array_append_val (rows, c);
  g_assert_true (spot_store_upsert_candles (conn, SPOT_STORE_STRATEGY_DEFAULT,
                                            (SpotCandle *) rows->data, rows->len, NULL, &error));
  g_assert_no_error (error);

  g_assert_true (spot_store_load_seed (conn, "BTC-USD", now, now - 25 * 3600, &seed, &error));
  g_assert_no_error (error);
  /* Minutes inside the open 5m bucket (10:05, 10:06, 10:07). */
  g_assert_true (seed_has (&seed, SPOT_GRANULARITY_ONE_MINUTE, day + 10 * 3600 + 5 * 60));
  g_assert_true (seed_has (&seed, SPOT_GRANULARITY_ONE_MINUTE, day + 10 * 3600 + 7 * 60));
  g_assert_false (seed_has (&seed, SPOT_GRANULARITY_ONE_MINUTE, day + 10 * 3600 + 4 * 60));
  /* 5m rows inside the open 15m bucket (10:00, 10:05), not 09:55. */
  g_assert_true (seed_has (&seed, SPOT_GRANULARITY_FIVE_MINUTE, day + 10 * 3600));
  g_assert_true (seed_has (&seed, SPOT_GRANULARITY_FIVE_MINUTE, day + 10 * 3600 + 5 * 60));
  g_assert_false (seed_has (&seed, SPOT_GRANULARITY_FIVE_MINUTE, day + 9 * 3600 + 55 * 60));
  /* The stale incomplete hour. */
  g_assert_true (seed_has (&seed, SPOT_GRANULARITY_ONE_HOUR, day - 3600));
  g_assert_cmpuint (seed.candles->len, ==, 3 + 2 + 1);
  /* Ordered by granularity, then start. */
  g_assert_cmpint (g_array_index (seed.candles, SpotCandle, 0).granularity, ==, SPOT_GRANULARITY_ONE_MINUTE);
  g_assert_cmpint (g_array_index (seed.candles, SpotCandle, 5).granularity, ==, SPOT_GRANULARITY_ONE_HOUR);
  g_assert_cmpuint (seed.last_trade_id, ==, (guint64) (now - 30 - day));
  spot_store_seed_clear (&seed);

  g_assert_true (spot_store_load_seed (conn, "DOGE-USD", now, now - 25 * 3600, &seed, &error));
  g_assert_cmpuint (seed.candles->len, ==, 0);
  g_assert_cmpuint (seed.last_trade_id, ==, SPOT_CANDLE_TRADE_ID_UNKNOWN);
  spot_store_seed_clear (&seed);
}

static void
test_late_repair_recomputes_stored_ancestors (void)
{
  const gint64 day = 1775520000; /* 00:00 UTC */
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  g_autoptr (GArray) written = NULL;
  SpotCandle c, back;

  reset_tables ();
  /* Ten stored minutes 00:00-00:09, price 10, volume 1, complete. */
  for (int m = 0; m < 10; m++)
    {
      c = make_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, day + 60 * m, "10", "10", "10", "10",
                       "1", 2, (guint64) (100 + m), TRUE, 1);
      g_array_append_val (rows, c);
    }
  /* Their stored complete 5m parents and the complete 15m (built from them). */
  for (int f = 0; f < 2; f++)
    {
      c = make_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, day + 300 * f, "10", "10", "10", "10",
                       "5", 10, (guint64) (104 + 5 * f), TRUE, 4);
      g_array_append_val (rows, c);
    }
  c = make_candle ("BTC-USD", SPOT_GRANULARITY_FIFTEEN_MINUTE, day, "10", "10", "10", "10", "10",
                   20, 109, TRUE, 7);
  g_array_append_val (rows, c);
  /* The day is still open: incomplete, left to the engine. */
  c = make_candle ("BTC-USD", SPOT_GRANULARITY_ONE_DAY, day, "10", "10", "10", "10", "10", 20, 109,
                   FALSE, 30);
  g_array_append_val (rows, c);
  g_assert_true (spot_store_upsert_candles (conn, SPOT_STORE_STRATEGY_DEFAULT,
                                            (SpotCandle *) rows->data, rows->len, NULL, &error));
  g_assert_no_error (error);

  /* The REST repair of 00:07: a spike to 12, volume 3, count unknown. It
   * goes through a fresh connection (the repository's, say) that has not
   * used the single-row upsert yet. */
  c = make_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, day + 7 * 60, "10", "12", "9.5", "11",
                   "3", SPOT_CANDLE_TRADES_UNKNOWN, SPOT_CANDLE_TRADE_ID_UNKNOWN, TRUE, 2);
  {
    g_autoptr (PGconn) fresh = spot_pg_connect (spot_test_postgres_conninfo (pg), "test", &error);
    g_assert_no_error (error);
    written = spot_store_apply_repair (fresh, "BTC-USD", day + 7 * 60, &c, &error);
    g_assert_no_error (error);
  }
  /* The minute, its 5m parent (00:05) and the 15m: not the untouched 00:00
   * 5m, not the open day. */
  g_assert_cmpuint (written->len, ==, 3);
  g_assert_cmpint (g_array_index (written, SpotCandle, 1).granularity, ==, SPOT_GRANULARITY_FIVE_MINUTE);
  g_assert_cmpint (g_array_index (written, SpotCandle, 2).granularity, ==, SPOT_GRANULARITY_FIFTEEN_MINUTE);

  g_assert_true (load ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, day + 300, &back));
  g_assert_true (back.complete);
  g_assert_cmpuint (back.rev, ==, 5);
  g_assert_true (dec_equals (&back.open, "10"));
  g_assert_true (dec_equals (&back.high, "12"));
  g_assert_true (dec_equals (&back.low, "9.5"));
  g_assert_true (dec_equals (&back.close, "10")); /* 00:09 closes it */
  g_assert_true (dec_equals (&back.volume, "7"));
  g_assert_cmpint (back.trades, ==, SPOT_CANDLE_TRADES_UNKNOWN); /* a REST child */
  g_assert_cmpuint (back.last_trade_id, ==, 109);

  g_assert_true (load ("BTC-USD", SPOT_GRANULARITY_FIFTEEN_MINUTE, day, &back));
  g_assert_cmpuint (back.rev, ==, 8);
  g_assert_true (dec_equals (&back.volume, "12"));
  g_assert_true (dec_equals (&back.high, "12"));

  g_assert_true (load ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, day, &back));
  g_assert_cmpuint (back.rev, ==, 4);
  g_assert_true (load ("BTC-USD", SPOT_GRANULARITY_ONE_DAY, day, &back));
  g_assert_cmpuint (back.rev, ==, 30);
  g_assert_false (back.complete);

  /* Applying the same repair again changes nothing. */
  g_clear_pointer (&written, g_array_unref);
  written = spot_store_apply_repair (conn, "BTC-USD", day + 7 * 60, &c, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (written->len, ==, 0);
}

static void
test_repair_replaces_a_stored_live_minute (void)
{
  const gint64 hour = 1775520000;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) written = NULL;
  SpotCandle c, back;

  reset_tables ();
  /* The engine stored 00:03 from the trades it saw (rev 5), and its complete
   * 5m parent; trades were missed, so both are wrong. */
  c = make_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, hour + 180, "10", "10", "10", "10", "1",
                   2, 103, TRUE, 5);
  g_assert_true (spot_store_upsert_candle (conn, &c, NULL, &error));
  c = make_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, hour, "10", "10", "10", "10", "1", 2, 103,
                   TRUE, 9);
  g_assert_true (spot_store_upsert_candle (conn, &c, NULL, &error));
  g_assert_no_error (error);

  /* REST has no revision (0): the repair still replaces the minute. */
  c = make_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, hour + 180, "10", "13", "9", "12", "4",
                   SPOT_CANDLE_TRADES_UNKNOWN, SPOT_CANDLE_TRADE_ID_UNKNOWN, TRUE, 0);
  written = spot_store_apply_repair (conn, "BTC-USD", hour + 180, &c, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (written->len, ==, 2);

  g_assert_true (load ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, hour + 180, &back));
  g_assert_true (back.complete);
  g_assert_cmpuint (back.rev, ==, 6);
  g_assert_true (dec_equals (&back.high, "13"));
  g_assert_true (dec_equals (&back.close, "12"));
  g_assert_true (dec_equals (&back.volume, "4"));
  g_assert_cmpint (back.trades, ==, SPOT_CANDLE_TRADES_UNKNOWN);
  g_assert_cmpuint (g_array_index (written, SpotCandle, 0).rev, ==, 6);

  g_assert_true (load ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, hour, &back));
  g_assert_cmpuint (back.rev, ==, 10);
  g_assert_true (dec_equals (&back.high, "13"));
  g_assert_true (dec_equals (&back.volume, "4"));

  /* The same repair again writes nothing. */
  g_clear_pointer (&written, g_array_unref);
  written = spot_store_apply_repair (conn, "BTC-USD", hour + 180, &c, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (written->len, ==, 0);
  g_assert_true (load ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, hour + 180, &back));
  g_assert_cmpuint (back.rev, ==, 6);
}

static void
test_history_ranges_and_limits (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  g_autoptr (GArray) got = NULL;

  reset_tables ();
  for (int m = 0; m < 100; m++)
    {
      SpotCandle c = flat_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 6000 + 60 * m, "3", "1",
                                  TRUE, 1);
      g_array_append_val (rows, c);
      c.granularity = SPOT_GRANULARITY_FIVE_MINUTE; /* other granularity, same starts */
      c.start = 6000 + 300 * m;
      g_array_append_val (rows, c);
    }
  g_assert_true (spot_store_upsert_candles (conn, SPOT_STORE_STRATEGY_DEFAULT,
                                            (SpotCandle *) rows->data, rows->len, NULL, &error));

  /* Inclusive bounds, oldest first. */
  got = spot_store_query_history (conn, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 6060, 6240, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got->len, ==, 4);
  g_assert_cmpint (g_array_index (got, SpotCandle, 0).start, ==, 6060);
  g_assert_cmpint (g_array_index (got, SpotCandle, 3).start, ==, 6240);
  g_clear_pointer (&got, g_array_unref);

  /* The limit keeps the newest rows of the range. */
  got = spot_store_query_history (conn, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 0, 1000000, 10, &error);
  g_assert_cmpuint (got->len, ==, 10);
  g_assert_cmpint (g_array_index (got, SpotCandle, 0).start, ==, 6000 + 60 * 90);
  g_assert_cmpint (g_array_index (got, SpotCandle, 9).start, ==, 6000 + 60 * 99);
  g_clear_pointer (&got, g_array_unref);

  got = spot_store_query_history (conn, "BTC-USD", SPOT_GRANULARITY_ONE_HOUR, 0, 1000000, 10, &error);
  g_assert_cmpuint (got->len, ==, 0);
  g_clear_pointer (&got, g_array_unref);

  got = spot_store_query_history (conn, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 7000, 6000, 10, &error);
  g_assert_null (got);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "start=7000"));
  g_clear_error (&error);
  got = spot_store_query_history (conn, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 0, 1, 0, &error);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  got = spot_store_query_history (conn, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 0, 1, 10001, &error);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "limit=10001"));
  g_clear_error (&error);
  got = spot_store_query_history (conn, "BTC-USD'; DROP TABLE candles; --", SPOT_GRANULARITY_ONE_MINUTE,
                                  0, 1, 1, &error);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

/* Async API: results arrive on the caller's main context. */

typedef struct {
  GMainLoop *loop;
  GPtrArray *products;
  GArray *history;
  GError *error;
  GThread *callback_thread;
} AsyncState;

static void
products_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  AsyncState *st = user_data;
  st->callback_thread = g_thread_self ();
  st->products = spot_repository_get_active_products_finish (SPOT_REPOSITORY (source), result, &st->error);
  g_main_loop_quit (st->loop);
}

static void
history_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  AsyncState *st = user_data;
  st->history = spot_repository_query_history_finish (SPOT_REPOSITORY (source), result, &st->error);
  g_main_loop_quit (st->loop);
}

static void
put_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  AsyncState *st = user_data;
  g_assert_true (spot_repository_put_product_finish (SPOT_REPOSITORY (source), result, &st->error));
  g_main_loop_quit (st->loop);
}

static void
test_repository_answers_on_the_callers_context (void)
{
  g_autoptr (SpotRepository) repo = spot_repository_new (spot_test_postgres_conninfo (pg));
  g_autoptr (SpotProduct) p = spot_product_new ("BTC-USD", "BTC", "USD", "online", TRUE);
  AsyncState st = { 0 };
  g_autoptr (GError) error = NULL;

  reset_tables ();
  st.loop = g_main_loop_new (NULL, FALSE);
  g_assert_true (spot_repository_migrate_sync (repo, &error)); /* already applied: no-op */
  g_assert_no_error (error);
  g_assert_true (spot_repository_is_connected (repo));

  spot_repository_put_product_async (repo, p, NULL, put_cb, &st);
  g_main_loop_run (st.loop);
  g_assert_no_error (st.error);

  spot_repository_get_active_products_async (repo, NULL, products_cb, &st);
  g_main_loop_run (st.loop);
  g_assert_no_error (st.error);
  g_assert_true (st.callback_thread == g_thread_self ());
  g_assert_cmpuint (st.products->len, ==, 1);
  g_clear_pointer (&st.products, g_ptr_array_unref);

  /* A bad request fails in the callback with a 400-worthy error. */
  spot_repository_query_history_async (repo, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 10, 5, 10, NULL,
                                       history_cb, &st);
  g_main_loop_run (st.loop);
  g_assert_null (st.history);
  g_assert_error (st.error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT);
  g_clear_error (&st.error);
  g_main_loop_unref (st.loop);
}

static gpointer
put_product_job (PGconn *c, gpointer data, GError **error)
{
  return spot_store_put_product (c, data, error) ? GINT_TO_POINTER (1) : NULL;
}

static void
test_repository_reconnects_after_a_server_restart (void)
{
  g_autoptr (SpotRepository) repo = spot_repository_new (spot_test_postgres_conninfo (pg));
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotProduct) p = spot_product_new ("ETH-USD", "ETH", "USD", "online", TRUE);

  g_assert_true (spot_repository_migrate_sync (repo, &error));
  spot_test_postgres_kill (pg);
  g_clear_pointer (&conn, PQfinish);
  g_assert_true (spot_test_postgres_restart (pg, &error));
  g_assert_no_error (error);
  /* The first request after the restart succeeds on a fresh connection. */
  g_assert_nonnull (spot_repository_run_sync (repo, put_product_job, p, &error));
  g_assert_no_error (error);
  conn = spot_pg_connect (spot_test_postgres_conninfo (pg), "test", &error);
  g_assert_no_error (error);
  g_assert_true (spot_repository_migrate_sync (repo, &error));
  g_assert_no_error (error);
  g_assert_true (spot_repository_is_connected (repo));
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) migrations = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  spot_test_require_program ("postgres");
  pg = spot_test_postgres_start (&error);
  g_assert_no_error (error);
  conn = spot_pg_connect (spot_test_postgres_conninfo (pg), "test", &error);
  g_assert_no_error (error);
  migrations = spot_migrations_load_builtin (&error);
  g_assert_no_error (error);
  g_assert_true (spot_migrations_up (conn, migrations, 0, NULL, &error));
  g_assert_no_error (error);

  g_test_add_func ("/store/upsert/keeps exact decimals and nulls", test_upsert_keeps_exact_decimals_and_nulls);
  g_test_add_func ("/store/upsert/never goes back", test_upsert_never_goes_back);
  g_test_add_data_func ("/store/upsert/batch values agrees and keeps the guard",
                        GINT_TO_POINTER (SPOT_STORE_STRATEGY_VALUES), test_batch_strategies_agree_and_keep_the_guard);
  g_test_add_data_func ("/store/upsert/batch unnest agrees and keeps the guard",
                        GINT_TO_POINTER (SPOT_STORE_STRATEGY_UNNEST), test_batch_strategies_agree_and_keep_the_guard);
  g_test_add_data_func ("/store/upsert/batch copy agrees and keeps the guard",
                        GINT_TO_POINTER (SPOT_STORE_STRATEGY_COPY), test_batch_strategies_agree_and_keep_the_guard);
  g_test_add_func ("/store/upsert/invalid rows are rejected with a clear error",
                   test_invalid_rows_are_rejected_with_a_clear_error);
  g_test_add_func ("/store/products/create update activate", test_products_create_update_activate);
  g_test_add_func ("/store/seed/loads open buckets children and last trade",
                   test_seed_loads_open_buckets_children_and_last_trade);
  g_test_add_func ("/store/repair/recomputes stored ancestors", test_late_repair_recomputes_stored_ancestors);
  g_test_add_func ("/store/repair/replaces a stored live minute", test_repair_replaces_a_stored_live_minute);
  g_test_add_func ("/store/history/ranges and limits", test_history_ranges_and_limits);
  g_test_add_func ("/store/repository/answers on the caller's context",
                   test_repository_answers_on_the_callers_context);
  g_test_add_func ("/store/repository/reconnects after a server restart",
                   test_repository_reconnects_after_a_server_restart);
  rc = g_test_run ();
  g_clear_pointer (&conn, PQfinish);
  spot_test_postgres_free (pg);
  return rc;
}
