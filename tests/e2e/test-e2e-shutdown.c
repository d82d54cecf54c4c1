/* test-e2e-shutdown: SIGTERM under load loses no complete candle, and
 * /health keeps answering ("stopping") while the drain waits.
 *
 * 50 simulated products at 20 trades/s each feed the service; the test
 * follows candles.> on the same nats-server and records every complete
 * candle published (with its revision). SIGTERM arrives just after a minute
 * boundary, while the minute's completions are being emitted. Once the
 * service has exited (code 0), every complete candle it published is in
 * PostgreSQL, complete, at the same or a newer revision, and the service's
 * own count of complete candles emitted matches what was published. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <nats/nats.h>

#include "e2e-util.h"
#include "model/spot-candle-json.h"
#include "spot-test-harness.h"

typedef struct
{
  GMutex lock;
  GHashTable *complete; /* "PRODUCT GRANULARITY START" -> max rev (guint64 in a pointer) */
  guint64 complete_messages;
  guint64 messages;
} Seen;

static void
on_candle (natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
  Seen *seen = closure;
  SpotCandle candle;

  (void)nc;
  (void)sub;
  if (spot_candle_from_json (natsMsg_GetData (msg), natsMsg_GetDataLength (msg), &candle, NULL))
    {
      g_mutex_lock (&seen->lock);
      seen->messages++;
      if (candle.complete)
        {
          char *key = g_strdup_printf ("%s %s %" G_GINT64_FORMAT, candle.product_id,
                                       spot_granularity_name (candle.granularity), candle.start);
          guint64 old = GPOINTER_TO_SIZE (g_hash_table_lookup (seen->complete, key));
          seen->complete_messages++;
          g_hash_table_insert (seen->complete, key, GSIZE_TO_POINTER (MAX (old, candle.rev)));
        }
      g_mutex_unlock (&seen->lock);
    }
  natsMsg_Destroy (msg);
}

static guint64
emitted_from_log (const char *log)
{
  const char *at = strstr (log, "Shards drained: ");

  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen ("Shards drained: "), NULL, 10);
}

static void
test_sigterm_under_load_loses_no_complete_candle (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotTestNats) nats = spot_test_nats_start (&error);
  g_autoptr (SpotTestPostgres) pg = NULL;
  const char *sim_args[]
      = { "--products=50", "--trades-per-second=20", "--history-minutes=10", "--seed=5", NULL };
  const char *env[]
      = { "PRODUCTS=all",   "CANDLE_GRACE_MS=300", "REPAIR_DELAY_S=1",      "REST_RATE=30",
          "CONNECT_RATE=8", "SUBSCRIBE_RATE=8",    "SHUTDOWN_TIMEOUT_S=20", NULL };
  Seen seen = { 0 };
  natsConnection *nc = NULL;
  natsSubscription *sub = NULL;
  E2eSim *sim;
  E2eService *service;
  g_autofree char *log = NULL;
  GHashTableIter iter;
  gpointer key, value;
  PGconn *db;
  guint missing = 0, checked = 0;
  gint64 boundary;
  int status;

  g_assert_no_error (error);
  pg = spot_test_postgres_start (&error);
  g_assert_no_error (error);
  g_mutex_init (&seen.lock);
  seen.complete = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_assert_cmpint (natsConnection_ConnectTo (&nc, spot_test_nats_url (nats)), ==, NATS_OK);
  g_assert_cmpint (natsConnection_Subscribe (&sub, nc, "candles.>", on_candle, &seen), ==, NATS_OK);
  natsSubscription_SetPendingLimits (sub, -1, -1);

  sim = e2e_sim_start (sim_args, &error);
  g_assert_no_error (error);
  service = e2e_service_start (spot_test_nats_url (nats), spot_test_postgres_conninfo (pg), sim,
                               env, 120, &error);
  g_assert_no_error (error);

  /* Run through one full minute boundary, then stop right after the next
   * one, when its completions are on their way. */
  boundary = (g_get_real_time () / G_USEC_PER_SEC / 60 + 2) * 60;
  while (g_get_real_time () < boundary * G_USEC_PER_SEC + 350 * 1000)
    g_usleep (50 * 1000);
  status = e2e_service_stop (service, SIGTERM, 40);
  log = e2e_service_dup_log (service);
  if (status != 0)
    e2e_service_dump_log (service, "service");
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (log, "Stopping on SIGTERM"));
  g_assert_nonnull (strstr (log, " 0 journaled for the next start"));
  natsConnection_Flush (nc);
  g_usleep (500 * 1000);
  natsSubscription_Unsubscribe (sub);

  g_mutex_lock (&seen.lock);
  g_test_message (
      "%" G_GUINT64_FORMAT " candle messages, %" G_GUINT64_FORMAT
      " complete (%u distinct complete candles); the service emitted %" G_GUINT64_FORMAT,
      seen.messages, seen.complete_messages, g_hash_table_size (seen.complete),
      emitted_from_log (log));
  /* Every complete candle the service emitted was published. */
  g_assert_cmpuint (seen.complete_messages, ==, emitted_from_log (log));
  /* At least the 50 products' minute completions of the last boundary. */
  g_assert_cmpuint (g_hash_table_size (seen.complete), >=, 50);

  db = e2e_db_connect (spot_test_postgres_conninfo (pg));
  g_hash_table_iter_init (&iter, seen.complete);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_auto (GStrv) parts = g_strsplit (key, " ", 3);
      const char *params[] = { parts[0], parts[1], parts[2], NULL };
      g_autofree char *rev
          = g_strdup_printf ("%" G_GUINT64_FORMAT, (guint64)GPOINTER_TO_SIZE (value));
      PGresult *res;
      params[3] = rev;
      res = PQexecParams (db,
                          "SELECT 1 FROM candles WHERE product_id = $1 AND granularity = $2 "
                          "AND start = to_timestamp($3::bigint) AND complete AND rev >= $4::bigint",
                          4, NULL, params, NULL, NULL, 0);
      g_assert_cmpint (PQresultStatus (res), ==, PGRES_TUPLES_OK);
      if (PQntuples (res) != 1)
        {
          if (missing++ < 10)
            g_printerr ("not stored as complete: %s rev %s\n", (char *)key, rev);
        }
      checked++;
      PQclear (res);
    }
  g_mutex_unlock (&seen.lock);
  PQfinish (db);
  g_test_message ("%u complete candles checked in the database, %u missing", checked, missing);
  g_assert_cmpuint (missing, ==, 0);

  natsSubscription_Destroy (sub);
  natsConnection_Destroy (nc);
  g_hash_table_unref (seen.complete);
  g_mutex_clear (&seen.lock);
  e2e_service_free (service);
  e2e_sim_free (sim);
}

/* SIGSTOPs (or SIGCONTs) the postmaster and every backend it forked. */
static void
signal_postgres (GPid postmaster, int signum)
{
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  g_assert_nonnull (proc);
  g_assert_cmpint (kill (postmaster, signum), ==, 0);
  while ((name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *stat = NULL;
      const char *after;
      int ppid = 0;

      if (!g_ascii_isdigit (name[0]))
        continue;
      path = g_build_filename ("/proc", name, "stat", NULL);
      if (!g_file_get_contents (path, &stat, NULL, NULL))
        continue;
      /* "pid (comm) state ppid ...": comm may hold spaces, skip past ')'. */
      after = strrchr (stat, ')');
      if (after == NULL || sscanf (after + 1, " %*c %d", &ppid) != 1)
        continue;
      if (ppid == postmaster)
        kill ((pid_t)g_ascii_strtoll (name, NULL, 10), signum);
    }
}

/* The drain steps (shards, publisher, batch writer) run off the main loop:
 * with the database stalled (SIGSTOP) the batch writer's flush waits, and
 * meanwhile /health answers 503 with the state "stopping". Once the
 * database resumes, the flush completes within the deadline: exit 0,
 * nothing journaled. */
static void
test_health_answers_stopping_while_the_drain_waits (void)
{
  g_autoptr (E2eStack) stack = NULL;
  const char *sim_args[]
      = { "--products=10", "--trades-per-second=20", "--history-minutes=5", "--seed=7", NULL };
  const char *env[] = { "PRODUCTS=all", "REST_RATE=30", "CONNECT_RATE=8", "SUBSCRIBE_RATE=8",
                        "SHUTDOWN_TIMEOUT_S=20", NULL };
  g_autofree char *log = NULL;
  E2eService *service;
  GPid postmaster;
  guint stopping_answers = 0;
  gint64 until;
  int status;

  stack = e2e_stack_start (sim_args);
  service = e2e_stack_service_start (stack, env, 120);
  /* Seeding done and candles flowing to the database. */
  {
    gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
    double before = -1, now = -1;
    while (g_get_monotonic_time () < deadline)
      {
        now = e2e_service_metric (service, "spot_db_rows_written_total");
        if (before >= 1000 && now > before)
          break;
        before = now;
        g_usleep (G_USEC_PER_SEC);
      }
    g_assert_cmpfloat (now, >, before);
  }

  postmaster = spot_test_postgres_pid (stack->pg);
  g_assert_cmpint (postmaster, >, 0);
  signal_postgres (postmaster, SIGSTOP);
  /* Live updates keep coming and wait in the writer for the database. */
  g_usleep (500 * 1000);
  g_subprocess_send_signal (service->process, SIGTERM);

  /* For 3 s: /health keeps answering "stopping" and the process waits. */
  until = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < until)
    {
      if (e2e_service_health_is (service, "stopping"))
        stopping_answers++;
      g_usleep (100 * 1000);
    }
  signal_postgres (postmaster, SIGCONT);
  log = e2e_service_dup_log (service);
  g_test_message ("/health answered \"stopping\" %u times in 3 s", stopping_answers);
  if (stopping_answers < 10 || strstr (log, "Batch writer flushed") != NULL)
    e2e_service_dump_log (service, "service");
  /* The drain was still waiting for the database: the flush came later. */
  g_assert_null (strstr (log, "Batch writer flushed"));
  g_assert_cmpuint (stopping_answers, >=, 10);

  status = e2e_service_stop (service, SIGTERM, 40);
  g_clear_pointer (&log, g_free);
  log = e2e_service_dup_log (service);
  if (status != 0)
    e2e_service_dump_log (service, "service");
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (log, " 0 journaled for the next start"));
  g_assert_nonnull (strstr (log, "Stopped"));
  e2e_service_free (service);
}

int
main (int argc, char **argv)
{
  e2e_test_init (&argc, &argv);
  g_test_add_func ("/e2e/sigterm-under-load-loses-no-complete-candle",
                   test_sigterm_under_load_loses_no_complete_candle);
  g_test_add_func ("/e2e/health-answers-stopping-while-the-drain-waits",
                   test_health_answers_stopping_while_the_drain_waits);
  return g_test_run ();
}
