/* Integration tests of the batch writer against a real PostgreSQL: batching,
 * coalescing, outages (kill, restart), the journal and shutdown.
 *
 * The outage-during-flush test stops PostgreSQL for 5 s in the integration
 * suite; the same program built with SPOT_STORE_SLOW_OUTAGE (suite 'slow',
 * test batch-writer-30s-outage) stops it for 30 s. */
#include <glib/gstdio.h>
#include <string.h>

#include "core/spot-error.h"
#include "spot-test-harness.h"
#include "store/spot-batch-writer.h"
#include "store/spot-migrations.h"
#include "store/spot-pg.h"
#include "store-test-util.h"

#ifdef SPOT_STORE_SLOW_OUTAGE
#define OUTAGE_S 30
#else
#define OUTAGE_S 5
#endif

static SpotTestPostgres *pg;
static char *state_dir;

static PGconn *
connect_test (void)
{
  g_autoptr (GError) error = NULL;
  PGconn *c = spot_pg_connect (spot_test_postgres_conninfo (pg), "test", &error);
  g_assert_no_error (error);
  return c;
}

static gint64
count_rows (const char *where)
{
  g_autoptr (PGconn) c = connect_test ();
  g_autoptr (GError) error = NULL;
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM candles WHERE %s", where);
  g_autoptr (PGresult) r = spot_pg_exec_params (c, sql, 0, NULL, &error);
  g_assert_no_error (error);
  return g_ascii_strtoll (PQgetvalue (r, 0, 0), NULL, 10);
}

static void
reset (void)
{
  g_autoptr (PGconn) c = connect_test ();
  g_autoptr (GError) error = NULL;
  g_autofree char *journal = g_build_filename (state_dir, "store-journal.log", NULL);
  g_assert_true (spot_pg_exec (c, "TRUNCATE candles", &error));
  g_remove (journal);
}

static void
config_for_test (SpotBatchWriterConfig *config)
{
  spot_batch_writer_config_init (config);
  config->conninfo = spot_test_postgres_conninfo (pg);
  config->state_dir = state_dir;
  config->retry_min_ms = 50;
  config->retry_max_ms = 500;
}

static SpotCandleUpdate
update (const char *product, gint64 start, const char *price, gboolean complete, guint64 rev)
{
  SpotCandleUpdate u;
  u.candle = flat_candle (product, SPOT_GRANULARITY_ONE_MINUTE, start, price, "1", complete, rev);
  u.kind = complete ? SPOT_CANDLE_UPDATE_COMPLETE : SPOT_CANDLE_UPDATE_LIVE;
  return u;
}

static gboolean
wait_for_rows (const char *where, gint64 expected, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (g_get_monotonic_time () < end)
    {
      if (count_rows (where) == expected)
        return TRUE;
      g_usleep (20000);
    }
  return count_rows (where) == expected;
}

G_GNUC_UNUSED static void
test_live_updates_are_coalesced_newest_wins (void)
{
  SpotBatchWriterConfig config;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotBatchWriter) w = NULL;
  SpotBatchWriterStats stats;

  reset ();
  config_for_test (&config);
  config.flush_interval_ms = 60000; /* only flush_sync writes */
  config.batch_size = 100000;
  w = spot_batch_writer_new (&config, &error);
  g_assert_no_error (error);
  for (guint64 rev = 1; rev <= 50; rev++)
    for (int k = 0; k < 10; k++)
      {
        char price[16];
        g_snprintf (price, sizeof price, "%u", (guint) (100 + rev));
        SpotCandleUpdate u = update ("BTC-USD", 60 * k, price, FALSE, rev);
        g_assert_cmpuint (spot_batch_writer_submit (w, &u, 1), ==, 1);
      }
  /* A stale version arriving late does not win either. */
  {
    SpotCandleUpdate u = update ("BTC-USD", 0, "1", FALSE, 3);
    spot_batch_writer_submit (w, &u, 1);
  }
  g_assert_cmpint (count_rows ("true"), ==, 0);
  g_assert_true (spot_batch_writer_flush_sync (w, 10000));
  g_assert_cmpint (count_rows ("rev = 50 AND close = 150"), ==, 10);
  spot_batch_writer_get_stats (w, &stats);
  g_assert_cmpuint (stats.rows_submitted, ==, 501);
  g_assert_cmpuint (stats.rows_written, ==, 10);
  g_assert_cmpuint (stats.rows_coalesced, ==, 491);
  g_assert_cmpuint (stats.batches, ==, 1);
  g_assert_true (stats.connected);
  g_assert_cmpuint (stats.backlog_rows, ==, 0);
  g_assert_true (spot_batch_writer_close (w, 5000, &error));
}

G_GNUC_UNUSED static void
test_flushes_at_batch_size_or_interval (void)
{
  SpotBatchWriterConfig config;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotBatchWriter) w = NULL;
  g_autoptr (GArray) ups = g_array_new (FALSE, FALSE, sizeof (SpotCandleUpdate));

  reset ();
  config_for_test (&config);
  config.flush_interval_ms = 60000;
  config.batch_size = 100;
  w = spot_batch_writer_new (&config, &error);
  g_assert_no_error (error);
  for (int k = 0; k < 150; k++)
    {
      SpotCandleUpdate u = update ("ETH-USD", 60 * k, "5", TRUE, 1);
      g_array_append_val (ups, u);
    }
  spot_batch_writer_submit (w, (SpotCandleUpdate *) ups->data, ups->len);
  /* A full batch goes at once; the remaining 50 wait for the interval. */
  g_assert_true (wait_for_rows ("true", 100, 5000));
  g_usleep (300000);
  g_assert_cmpint (count_rows ("true"), ==, 100);
  g_assert_true (spot_batch_writer_close (w, 5000, &error));
  g_assert_cmpint (count_rows ("true"), ==, 150);
  g_clear_pointer (&w, spot_batch_writer_free);

  reset ();
  config.flush_interval_ms = 200;
  config.batch_size = 1000;
  w = spot_batch_writer_new (&config, &error);
  spot_batch_writer_submit (w, (SpotCandleUpdate *) ups->data, 5);
  g_assert_true (wait_for_rows ("true", 5, 3000));
}

G_GNUC_UNUSED static void
test_complete_candles_are_never_replaced_by_live_ones (void)
{
  SpotBatchWriterConfig config;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotBatchWriter) w = NULL;
  SpotCandleUpdate ups[3];

  reset ();
  config_for_test (&config);
  w = spot_batch_writer_new (&config, &error);
  ups[0] = update ("SOL-USD", 0, "7", FALSE, 1);
  ups[1] = update ("SOL-USD", 0, "8", TRUE, 2);
  ups[2] = update ("SOL-USD", 0, "9", FALSE, 3); /* a stray live update after completion */
  spot_batch_writer_submit (w, ups, 3);
  g_assert_true (spot_batch_writer_flush_sync (w, 10000));
  g_assert_cmpint (count_rows ("complete AND close = 8 AND rev = 2"), ==, 1);
  /* The same in two separate batches (the database's guard this time). */
  spot_batch_writer_submit (w, &ups[2], 1);
  g_assert_true (spot_batch_writer_flush_sync (w, 10000));
  g_assert_cmpint (count_rows ("complete AND close = 8 AND rev = 2"), ==, 1);
}

G_GNUC_UNUSED static void
test_invalid_candles_are_refused_at_submit (void)
{
  SpotBatchWriterConfig config;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotBatchWriter) w = NULL;
  SpotCandleUpdate ups[3];
  SpotBatchWriterStats stats;

  reset ();
  config_for_test (&config);
  w = spot_batch_writer_new (&config, &error);
  ups[0] = update ("ADA-USD", 0, "1", TRUE, 1);
  ups[1] = update ("ADA-USD", 60, "1", TRUE, 1);
  ups[1].candle.high = dec ("0.5"); /* high below open */
  ups[2] = update ("ADA-USD", 120, "1", TRUE, 1);
  g_assert_cmpuint (spot_batch_writer_submit (w, ups, 3), ==, 2);
  g_assert_true (spot_batch_writer_flush_sync (w, 10000));
  spot_batch_writer_get_stats (w, &stats);
  g_assert_cmpuint (stats.rows_rejected, ==, 1);
  g_assert_cmpint (count_rows ("product_id = 'ADA-USD'"), ==, 2);
}

G_GNUC_UNUSED static void
test_a_row_the_database_refuses_does_not_block_the_batch (void)
{
  SpotBatchWriterConfig config;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotBatchWriter) w = NULL;
  g_autoptr (PGconn) c = connect_test ();
  SpotCandleUpdate ups[4];
  SpotBatchWriterStats stats;

  reset ();
  /* A rule only the server knows: the client's validation lets it through. */
  g_assert_true (spot_pg_exec (c, "ALTER TABLE candles ADD CONSTRAINT test_no_doge "
                                  "CHECK (product_id <> 'DOGE-USD')", &error));
  config_for_test (&config);
  w = spot_batch_writer_new (&config, &error);
  ups[0] = update ("LTC-USD", 0, "1", TRUE, 1);
  ups[1] = update ("DOGE-USD", 0, "1", TRUE, 1);
  ups[2] = update ("LTC-USD", 60, "1", TRUE, 1);
  ups[3] = update ("LTC-USD", 120, "1", FALSE, 1);
  g_assert_cmpuint (spot_batch_writer_submit (w, ups, 4), ==, 4);
  g_assert_true (spot_batch_writer_flush_sync (w, 10000));
  spot_batch_writer_get_stats (w, &stats);
  g_assert_cmpuint (stats.rows_rejected, ==, 1);
  g_assert_cmpuint (stats.backlog_rows, ==, 0);
  g_assert_true (stats.connected);
  g_assert_cmpint (count_rows ("product_id = 'LTC-USD'"), ==, 3);
  g_assert_true (spot_pg_exec (c, "ALTER TABLE candles DROP CONSTRAINT test_no_doge", &error));
}

/* A producer thread that keeps submitting while the test kills and restarts
 * PostgreSQL: each tick one complete candle per product for a new minute and
 * a live update of the next minute. */
typedef struct {
  SpotBatchWriter *writer;
  gint stop;
  guint ticks;
} Producer;

static gpointer
producer_thread (gpointer data)
{
  Producer *p = data;
  static const char *const products[] = { "BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD", "XRP-USD" };

  while (!g_atomic_int_get (&p->stop))
    {
      SpotCandleUpdate ups[G_N_ELEMENTS (products) * 2];
      guint n = 0;
      for (guint i = 0; i < G_N_ELEMENTS (products); i++)
        {
          ups[n++] = update (products[i], 60 * (gint64) p->ticks, "10", TRUE, 2);
          ups[n++] = update (products[i], 60 * (gint64) (p->ticks + 1), "11", FALSE, 1);
        }
      spot_batch_writer_submit (p->writer, ups, n);
      p->ticks++;
      g_usleep (5000);
    }
  return NULL;
}

static void
test_outage_during_flush_loses_no_complete_candle (void)
{
  SpotBatchWriterConfig config;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotBatchWriter) w = NULL;
  SpotBatchWriterStats stats;
  Producer p = { 0 };
  GThread *thread;

  reset ();
  config_for_test (&config);
  config.batch_size = 50;
  config.flush_interval_ms = 20;
  w = spot_batch_writer_new (&config, &error);
  g_assert_no_error (error);
  p.writer = w;
  thread = g_thread_new ("producer", producer_thread, &p);
  g_usleep (500000);
  g_assert_cmpint (count_rows ("complete"), >, 0); /* flushing in full swing */
  spot_test_postgres_kill (pg);
  g_usleep (OUTAGE_S * G_USEC_PER_SEC);
  spot_batch_writer_get_stats (w, &stats);
  g_assert_false (stats.connected);
  g_assert_cmpuint (stats.backlog_rows, >, 0);
  g_assert_cmpint (stats.oldest_pending_age_ms, >=, (OUTAGE_S - 1) * 1000);
  g_assert_cmpuint (stats.failures, >, 0);
  g_assert_true (spot_test_postgres_restart (pg, &error));
  g_assert_no_error (error);
  g_usleep (500000);
  g_atomic_int_set (&p.stop, 1);
  g_thread_join (thread);
  g_assert_true (spot_batch_writer_flush_sync (w, 60000));
  /* Every minute completed by the producer is stored, complete. */
  g_assert_cmpint (count_rows ("complete"), ==, (gint64) p.ticks * 5);
  g_assert_cmpint (count_rows ("NOT complete"), ==, 5); /* the last open minute */
  spot_batch_writer_get_stats (w, &stats);
  g_assert_true (stats.connected);
  g_assert_cmpuint (stats.backlog_rows, ==, 0);
  g_assert_cmpint (stats.oldest_pending_age_ms, ==, 0);
  g_test_message ("%u ticks, %" G_GUINT64_FORMAT " rows written in %" G_GUINT64_FORMAT " batches",
                  p.ticks, stats.rows_written, stats.batches);
}

G_GNUC_UNUSED static void
test_long_outage_goes_through_the_journal (void)
{
  SpotBatchWriterConfig config;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotBatchWriter) w = NULL;
  SpotBatchWriterStats stats;
  g_autoptr (GArray) ups = g_array_new (FALSE, FALSE, sizeof (SpotCandleUpdate));

  reset ();
  config_for_test (&config);
  config.memory_complete_limit = 100;
  config.batch_size = 200;
  w = spot_batch_writer_new (&config, &error);
  g_assert_no_error (error);
  g_assert_true (spot_batch_writer_flush_sync (w, 10000));
  spot_test_postgres_kill (pg);

  /* 2,000 complete minutes and a live update for each, in chunks. */
  for (int k = 0; k < 2000; k++)
    {
      SpotCandleUpdate u = update ("BTC-USD", 60 * k, "20", FALSE, 1);
      g_array_append_val (ups, u);
      u = update ("BTC-USD", 60 * k, "21", TRUE, 2);
      g_array_append_val (ups, u);
      if (ups->len == 100)
        {
          spot_batch_writer_submit (w, (SpotCandleUpdate *) ups->data, ups->len);
          g_array_set_size (ups, 0);
          g_usleep (2000);
        }
    }
  g_usleep (1000000);
  spot_batch_writer_get_stats (w, &stats);
  g_assert_false (stats.connected);
  g_assert_cmpuint (stats.memory_rows, <=, 100 + 1);
  g_assert_cmpuint (stats.journal_rows, >=, 1899);
  g_assert_cmpuint (stats.journal_bytes, >, 1899 * 60);
  g_assert_cmpuint (stats.backlog_rows, ==, stats.memory_rows + stats.journal_rows);

  g_assert_true (spot_test_postgres_restart (pg, &error));
  g_assert_true (spot_batch_writer_flush_sync (w, 60000));
  g_assert_cmpint (count_rows ("complete AND close = 21 AND rev = 2"), ==, 2000);
  g_assert_cmpint (count_rows ("true"), ==, 2000);
  spot_batch_writer_get_stats (w, &stats);
  g_assert_cmpuint (stats.journal_rows, ==, 0);
  g_assert_cmpuint (stats.journal_bytes, ==, 0);
}

G_GNUC_UNUSED static void
test_shutdown_during_outage_journals_and_next_start_replays (void)
{
  SpotBatchWriterConfig config;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotBatchWriter) w = NULL;
  g_autoptr (GArray) ups = g_array_new (FALSE, FALSE, sizeof (SpotCandleUpdate));

  reset ();
  config_for_test (&config);
  w = spot_batch_writer_new (&config, &error);
  g_assert_true (spot_batch_writer_flush_sync (w, 10000));
  spot_test_postgres_kill (pg);
  for (int k = 0; k < 300; k++)
    {
      SpotCandleUpdate u = update ("ETH-BTC", 60 * k, "0.05", k < 299, 1);
      g_array_append_val (ups, u);
    }
  spot_batch_writer_submit (w, (SpotCandleUpdate *) ups->data, ups->len);
  g_assert_false (spot_batch_writer_close (w, 500, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT);
  g_assert_nonnull (strstr (error->message, "journal"));
  g_clear_error (&error);
  g_clear_pointer (&w, spot_batch_writer_free);

  g_assert_true (spot_test_postgres_restart (pg, &error));
  w = spot_batch_writer_new (&config, &error);
  g_assert_no_error (error);
  g_assert_true (spot_batch_writer_flush_sync (w, 30000));
  g_assert_cmpint (count_rows ("product_id = 'ETH-BTC' AND complete"), ==, 299);
  g_assert_cmpint (count_rows ("product_id = 'ETH-BTC' AND NOT complete"), ==, 1);
}

G_GNUC_UNUSED static void
test_close_flushes_everything (void)
{
  SpotBatchWriterConfig config;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotBatchWriter) w = NULL;
  g_autoptr (GArray) ups = g_array_new (FALSE, FALSE, sizeof (SpotCandleUpdate));

  reset ();
  config_for_test (&config);
  config.flush_interval_ms = 60000;
  config.batch_size = 500;
  w = spot_batch_writer_new (&config, &error);
  for (int k = 0; k < 1234; k++)
    {
      SpotCandleUpdate u = update ("DOT-USD", 60 * k, "3", TRUE, 1);
      g_array_append_val (ups, u);
    }
  spot_batch_writer_submit (w, (SpotCandleUpdate *) ups->data, ups->len);
  g_assert_true (spot_batch_writer_close (w, 10000, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_rows ("product_id = 'DOT-USD'"), ==, 1234);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PGconn) c = NULL;
  g_autoptr (GPtrArray) migrations = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  /* Outages log warnings on purpose. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  spot_test_require_program ("postgres");
  pg = spot_test_postgres_start (&error);
  g_assert_no_error (error);
  state_dir = g_dir_make_tmp ("spot-store-state-XXXXXX", &error);
  g_assert_no_error (error);
  c = connect_test ();
  migrations = spot_migrations_load_builtin (&error);
  g_assert_true (spot_migrations_up (c, migrations, 0, NULL, &error));
  g_assert_no_error (error);
  g_clear_pointer (&c, PQfinish);

#ifndef SPOT_STORE_SLOW_OUTAGE
  g_test_add_func ("/store/batch-writer/live updates are coalesced newest wins",
                   test_live_updates_are_coalesced_newest_wins);
  g_test_add_func ("/store/batch-writer/flushes at batch size or interval",
                   test_flushes_at_batch_size_or_interval);
  g_test_add_func ("/store/batch-writer/complete candles are never replaced by live ones",
                   test_complete_candles_are_never_replaced_by_live_ones);
  g_test_add_func ("/store/batch-writer/invalid candles are refused at submit",
                   test_invalid_candles_are_refused_at_submit);
  g_test_add_func ("/store/batch-writer/a row the database refuses does not block the batch",
                   test_a_row_the_database_refuses_does_not_block_the_batch);
  g_test_add_func ("/store/batch-writer/long outage goes through the journal",
                   test_long_outage_goes_through_the_journal);
  g_test_add_func ("/store/batch-writer/shutdown during outage journals and next start replays",
                   test_shutdown_during_outage_journals_and_next_start_replays);
  g_test_add_func ("/store/batch-writer/close flushes everything", test_close_flushes_everything);
#endif
  g_test_add_func ("/store/batch-writer/outage during flush loses no complete candle",
                   test_outage_during_flush_loses_no_complete_candle);
  rc = g_test_run ();
  spot_test_postgres_free (pg);
  {
    g_autofree char *journal = g_build_filename (state_dir, "store-journal.log", NULL);
    g_remove (journal);
    g_rmdir (state_dir);
  }
  g_free (state_dir);
  return rc;
}
