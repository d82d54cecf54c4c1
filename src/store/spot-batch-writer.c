#define G_LOG_DOMAIN "spot-store"

#include "store/spot-batch-writer.h"

#include <string.h>

#include "core/spot-error.h"
#include "core/spot-log.h"
#include "core/spot-thread.h"
#include "store/spot-journal.h"
#include "store/spot-pg.h"
#include "store/spot-store-queries.h"

typedef struct {
  SpotCandle candle; /* also the hash key: product, granularity, start */
  gint64 since_us;   /* when this key became pending */
  GList link;        /* in `order`, oldest first */
} Entry;

struct _SpotBatchWriter {
  SpotBatchWriterConfig config;
  char *conninfo;
  char *state_dir;
  GThread *thread;

  GMutex lock;
  GCond wake;  /* the writer thread waits on it */
  GCond done;  /* flush_sync / close wait on it */
  GArray *input;            /* SpotCandle, filled by submit */
  gboolean writer_idle;     /* waiting with nothing pending: wake on first row */
  guint64 submit_seq;       /* rows accepted so far */
  guint64 submitted_total;
  guint64 rejected_on_submit;
  guint64 drained_seq;      /* every row up to here is in the database */
  gboolean closing;
  gint64 close_deadline_us;
  guint64 flush_requested; /* flush_sync generations */
  guint64 flush_done;
  gboolean finished;
  guint64 close_journaled;
  guint64 close_lost;
  PGcancel *cancel;
  SpotPgInterrupt *interrupt; /* triggered at the close deadline: a connect gives up */
  SpotBatchWriterStats stats;

  /* Writer thread only. */
  GHashTable *pending; /* Entry* (key and value) */
  GQueue order;        /* the same entries, oldest first: written first */
  guint64 complete_in_memory;
  gint64 pending_since_us;
  gint64 journal_since_us;
  SpotJournal *journal;
  PGconn *conn;
  guint retry_ms;
  gint64 retry_at_us;
  gint64 outage_since_us;
  SpotBatchWriterStats local; /* counters published under the lock */
};

void
spot_batch_writer_config_init (SpotBatchWriterConfig *config)
{
  memset (config, 0, sizeof *config);
  config->batch_size = 1000;
  config->flush_interval_ms = 100;
  config->memory_complete_limit = 100000;
  config->retry_min_ms = 100;
  config->retry_max_ms = 5000;
  config->strategy = SPOT_STORE_STRATEGY_DEFAULT;
}

static guint
entry_hash (gconstpointer p)
{
  const SpotCandle *c = p;
  guint h = g_str_hash (c->product_id);
  h = h * 31 + (guint) c->granularity;
  h = h * 31 + (guint) (c->start ^ (c->start >> 32));
  return h;
}

static gboolean
entry_equal (gconstpointer a, gconstpointer b)
{
  return spot_store_candle_key_compare (a, b) == 0;
}

/* ---- writer thread ---- */

static void
set_cancel (SpotBatchWriter *self, PGcancel *cancel)
{
  PGcancel *old;
  g_mutex_lock (&self->lock);
  old = self->cancel;
  self->cancel = cancel;
  g_mutex_unlock (&self->lock);
  if (old != NULL)
    PQfreeCancel (old);
}

static void
drop_connection (SpotBatchWriter *self)
{
  set_cancel (self, NULL);
  g_clear_pointer (&self->conn, PQfinish);
}

static void
note_failure (SpotBatchWriter *self, const GError *error)
{
  gint64 now = g_get_monotonic_time ();

  self->local.failures++;
  self->local.connected = FALSE;
  self->retry_ms = self->retry_ms == 0 ? self->config.retry_min_ms
                                       : MIN (self->retry_ms * 2, self->config.retry_max_ms);
  self->retry_at_us = now + (gint64) self->retry_ms * 1000;
  if (self->outage_since_us == 0)
    {
      self->outage_since_us = now;
      g_warning ("database write failed, buffering candles and retrying: %s", error->message);
    }
  else
    spot_log_limited (60000, 1, G_LOG_LEVEL_WARNING, NULL, -1, -1,
                      "database still unreachable (retry in %u ms): %s", self->retry_ms,
                      error->message);
}

static void
note_success (SpotBatchWriter *self)
{
  if (self->outage_since_us != 0)
    g_message ("database writes resumed after %.1f s; %u rows in memory, %" G_GUINT64_FORMAT
               " in the journal to write",
               (double) (g_get_monotonic_time () - self->outage_since_us) / 1e6,
               g_hash_table_size (self->pending),
               self->journal != NULL ? spot_journal_get_pending_rows (self->journal) : 0);
  self->outage_since_us = 0;
  self->retry_ms = 0;
  self->retry_at_us = 0;
  self->local.connected = TRUE;
}

static gboolean
ensure_connection (SpotBatchWriter *self, GError **error)
{
  if (self->conn != NULL && PQstatus (self->conn) == CONNECTION_OK)
    return TRUE;
  drop_connection (self);
  self->conn = spot_pg_connect_interruptible (self->conninfo, "spot-canvas batch writer",
                                              self->interrupt, error);
  if (self->conn == NULL)
    return FALSE;
  set_cancel (self, PQgetCancel (self->conn));
  return TRUE;
}

static void
remove_entry (SpotBatchWriter *self, Entry *e)
{
  if (e->candle.complete)
    self->complete_in_memory--;
  g_queue_unlink (&self->order, &e->link);
  g_hash_table_remove (self->pending, e);
  self->pending_since_us = self->order.head != NULL ? ((Entry *) self->order.head->data)->since_us : 0;
}

/* Coalesces @n submitted candles into the pending set; complete candles over
 * the memory bound go to the journal. */
static void
merge_input (SpotBatchWriter *self, const SpotCandle *in, guint n)
{
  g_autoptr (GArray) overflow = NULL;
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < n; i++)
    {
      const SpotCandle *c = &in[i];
      Entry *e = g_hash_table_lookup (self->pending, c);

      if (e != NULL && !spot_store_candle_supersedes (c, &e->candle))
        {
          self->local.rows_coalesced++; /* an older version: the newer one stays */
          continue;
        }
      if (c->complete && (e == NULL || !e->candle.complete) && self->journal != NULL
          && self->complete_in_memory >= self->config.memory_complete_limit)
        {
          if (overflow == NULL)
            overflow = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
          g_array_append_val (overflow, *c);
          if (e != NULL)
            {
              remove_entry (self, e); /* the journaled version supersedes it */
              self->local.rows_coalesced++;
            }
          continue;
        }
      if (e == NULL)
        {
          e = g_new0 (Entry, 1);
          e->candle = *c;
          e->since_us = now;
          e->link.data = e;
          g_hash_table_add (self->pending, e);
          g_queue_push_tail_link (&self->order, &e->link);
          if (self->pending_since_us == 0)
            self->pending_since_us = now;
        }
      else
        {
          if (e->candle.complete)
            self->complete_in_memory--;
          e->candle = *c;
          self->local.rows_coalesced++;
        }
      if (c->complete)
        self->complete_in_memory++;
    }
  if (overflow != NULL)
    {
      g_autoptr (GError) error = NULL;
      if (self->journal_since_us == 0 && spot_journal_get_pending_rows (self->journal) == 0)
        self->journal_since_us = now;
      if (!spot_journal_append (self->journal, (SpotCandle *) overflow->data, overflow->len, &error))
        {
          /* Never drop a complete candle: keep it in memory past the bound. */
          spot_log_limited (10000, 1, G_LOG_LEVEL_WARNING, NULL, -1, -1,
                            "cannot journal %u complete candles, keeping them in memory: %s",
                            overflow->len, error->message);
          guint64 saved = self->config.memory_complete_limit;
          self->config.memory_complete_limit = G_MAXUINT;
          merge_input (self, (SpotCandle *) overflow->data, overflow->len);
          self->config.memory_complete_limit = (guint) saved;
        }
    }
}

/* Writes @rows one by one after the database refused the batch, so one bad
 * row cannot block the others forever. FALSE when the connection broke. */
static gboolean
write_rows_singly (SpotBatchWriter *self, GPtrArray *entries, const SpotCandle *rows, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GError) error = NULL;
      if (!spot_store_upsert_candle (self->conn, &rows[i], NULL, &error))
        {
          if (PQstatus (self->conn) != CONNECTION_OK || !spot_pg_error_is_refusal (error))
            {
              if (PQstatus (self->conn) != CONNECTION_OK)
                drop_connection (self);
              note_failure (self, error);
              return FALSE;
            }
          self->local.rows_rejected++;
          spot_log_limited (10000, 5, G_LOG_LEVEL_WARNING, rows[i].product_id, -1, -1,
                            "database rejected a candle, dropping it: %s", error->message);
        }
      else
        self->local.rows_written++;
      if (entries != NULL)
        remove_entry (self, g_ptr_array_index (entries, i));
    }
  return TRUE;
}

/* One batch from memory, or from the journal when memory has nothing due.
 * FALSE on failure (backoff set). */
static gboolean
write_batch (SpotBatchWriter *self, gboolean from_memory)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) rows = g_array_sized_new (FALSE, FALSE, sizeof (SpotCandle),
                                               self->config.batch_size);
  g_autoptr (GPtrArray) entries = NULL;
  gint64 t0;
  gboolean ok;

  if (!ensure_connection (self, &error))
    {
      note_failure (self, error);
      return FALSE;
    }
  if (from_memory)
    {
      /* Oldest first, so that no key waits behind a steady stream of others. */
      entries = g_ptr_array_sized_new (self->config.batch_size);
      for (GList *l = self->order.head; l != NULL && entries->len < self->config.batch_size;
           l = l->next)
        {
          g_ptr_array_add (entries, l->data);
          g_array_append_val (rows, ((Entry *) l->data)->candle);
        }
    }
  else if (!spot_journal_peek (self->journal, rows, self->config.batch_size, &error))
    {
      note_failure (self, error); /* back off instead of spinning on it */
      return FALSE;
    }

  t0 = g_get_monotonic_time ();
  ok = spot_store_upsert_candles (self->conn, self->config.strategy, (SpotCandle *) rows->data,
                                  rows->len, NULL, &error);
  if (!ok && PQstatus (self->conn) == CONNECTION_OK && spot_pg_error_is_refusal (error))
    {
      /* A refused statement, not an outage: isolate the bad rows. */
      spot_log_limited (10000, 1, G_LOG_LEVEL_WARNING, NULL, -1, -1,
                        "a batch of %u candles was refused, writing them one by one: %s",
                        rows->len, error->message);
      if (!write_rows_singly (self, entries, (SpotCandle *) rows->data, rows->len))
        return FALSE;
      if (!from_memory)
        spot_journal_consume (self->journal, NULL);
      note_success (self);
      return TRUE;
    }
  if (!ok)
    {
      if (PQstatus (self->conn) != CONNECTION_OK)
        drop_connection (self);
      note_failure (self, error);
      return FALSE;
    }
  self->local.last_write_latency_us = g_get_monotonic_time () - t0;
  self->local.total_write_latency_us += self->local.last_write_latency_us;
  self->local.rows_written += rows->len;
  self->local.batches++;
  if (from_memory)
    for (guint i = 0; i < entries->len; i++)
      remove_entry (self, g_ptr_array_index (entries, i));
  else if (!spot_journal_consume (self->journal, &error))
    g_warning ("cannot advance the journal: %s", error->message);
  note_success (self);
  return TRUE;
}

static guint64
journal_rows (SpotBatchWriter *self)
{
  return self->journal != NULL ? spot_journal_get_pending_rows (self->journal) : 0;
}

/* When memory has a batch due. */
static gboolean
memory_due (SpotBatchWriter *self, gint64 now, gboolean all)
{
  guint n = g_hash_table_size (self->pending);
  if (n == 0)
    return FALSE;
  return all || n >= self->config.batch_size
         || now - self->pending_since_us >= (gint64) self->config.flush_interval_ms * 1000;
}

/* Moves everything left in memory to the journal (at the close deadline). */
static void
journal_everything (SpotBatchWriter *self)
{
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  g_autoptr (GError) error = NULL;
  GHashTableIter it;
  gpointer key;
  guint64 n;

  g_hash_table_iter_init (&it, self->pending);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_array_append_val (rows, ((Entry *) key)->candle);
  n = rows->len;
  if (n == 0)
    return;
  if (self->journal != NULL && spot_journal_append (self->journal, (SpotCandle *) rows->data,
                                                    rows->len, &error))
    {
      g_warning ("shutdown deadline passed: %" G_GUINT64_FORMAT " candles written to journal %s",
                 n, spot_journal_get_path (self->journal));
      self->close_journaled = n;
    }
  else
    {
      g_warning ("shutdown deadline passed: %" G_GUINT64_FORMAT " candles lost (%s)", n,
                 error != NULL ? error->message : "no journal configured");
      self->close_lost = n;
    }
  g_queue_init (&self->order);
  g_hash_table_remove_all (self->pending);
  self->complete_in_memory = 0;
  self->pending_since_us = 0;
}

static void
publish_stats (SpotBatchWriter *self, guint64 seq, guint64 flush_gen, gboolean input_empty)
{
  gint64 now = g_get_monotonic_time ();
  guint64 mem = g_hash_table_size (self->pending);
  guint64 jr = journal_rows (self);
  gint64 since = 0;

  if (mem == 0)
    self->pending_since_us = 0;
  if (jr == 0)
    self->journal_since_us = 0;
  if (self->pending_since_us != 0)
    since = self->pending_since_us;
  if (self->journal_since_us != 0 && (since == 0 || self->journal_since_us < since))
    since = self->journal_since_us;

  g_mutex_lock (&self->lock);
  self->local.memory_rows = mem;
  self->local.journal_rows = jr;
  self->local.journal_bytes = self->journal != NULL ? spot_journal_get_size (self->journal) : 0;
  self->local.backlog_rows = mem + jr + self->input->len;
  self->local.oldest_pending_age_ms = since != 0 ? (now - since) / 1000 : 0;
  self->stats = self->local;
  self->stats.rows_submitted = self->submitted_total;
  self->stats.rows_rejected = self->local.rows_rejected; /* the database's; get_stats adds submit's */
  if (mem == 0 && jr == 0 && input_empty)
    {
      self->drained_seq = seq;
      self->flush_done = MAX (self->flush_done, flush_gen);
      g_cond_broadcast (&self->done);
    }
  g_mutex_unlock (&self->lock);
}

static gpointer
writer_thread (gpointer data)
{
  SpotBatchWriter *self = data;
  g_autoptr (GArray) batch = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  g_autoptr (GError) error = NULL;
  gboolean closing_seen = FALSE;

  spot_thread_set_background (SPOT_THREAD_BACKGROUND_NICE);
  /* Connect right away so the status is known before the first write. */
  if (ensure_connection (self, &error))
    note_success (self);
  else
    note_failure (self, error);
  publish_stats (self, 0, 0, FALSE);

  for (;;)
    {
      gboolean closing, force, deadline_passed, input_empty;
      guint64 seq, flush_gen;
      gint64 now;
      GArray *tmp;

      g_mutex_lock (&self->lock);
      for (;;)
        {
          gint64 wake = G_MAXINT64;
          guint n_mem = g_hash_table_size (self->pending);
          gboolean has_work = n_mem > 0 || journal_rows (self) > 0;
          now = g_get_monotonic_time ();
          if (self->input->len > 0 || (self->closing && !closing_seen))
            break;
          if (!has_work && self->flush_requested > self->flush_done)
            break; /* report the drained state to flush_sync */
          if (self->closing && (!has_work || now >= self->close_deadline_us))
            break;
          if (has_work)
            {
              if (self->retry_at_us > now)
                wake = self->retry_at_us;
              else if (self->flush_requested > self->flush_done || self->closing || n_mem >= self->config.batch_size
                       || journal_rows (self) > 0)
                wake = now;
              else
                wake = self->pending_since_us + (gint64) self->config.flush_interval_ms * 1000;
            }
          if (self->closing)
            wake = MIN (wake, self->close_deadline_us);
          if (wake <= now)
            break;
          self->writer_idle = wake == G_MAXINT64;
          /* A periodic wake-up keeps the published age current. */
          g_cond_wait_until (&self->wake, &self->lock, MIN (wake, now + G_USEC_PER_SEC));
          self->writer_idle = FALSE;
        }
      tmp = self->input;
      self->input = batch;
      batch = tmp;
      seq = self->submit_seq;
      closing = self->closing;
      closing_seen = closing;
      flush_gen = self->flush_requested;
      force = flush_gen > self->flush_done;
      deadline_passed = closing && g_get_monotonic_time () >= self->close_deadline_us;
      g_mutex_unlock (&self->lock);

      merge_input (self, (SpotCandle *) batch->data, batch->len);
      /* The two swapped arrays keep the capacity of their largest burst
       * (seeding submits tens of thousands of rows at start-up): past a
       * few batches' worth, start over small so that memory goes back. */
      if (batch->len > 4 * self->config.batch_size)
        {
          g_array_unref (batch);
          batch = g_array_sized_new (FALSE, FALSE, sizeof (SpotCandle), self->config.batch_size);
        }
      else
        g_array_set_size (batch, 0);

      if (deadline_passed)
        {
          journal_everything (self);
          publish_stats (self, seq, flush_gen, TRUE);
          break;
        }

      now = g_get_monotonic_time ();
      if (self->retry_at_us <= now)
        {
          /* One batch per pass, so new input is merged between batches. */
          if (memory_due (self, now, closing || force))
            write_batch (self, TRUE);
          else if (journal_rows (self) > 0)
            write_batch (self, FALSE);
        }

      g_mutex_lock (&self->lock);
      input_empty = self->input->len == 0;
      g_mutex_unlock (&self->lock);
      publish_stats (self, seq, flush_gen, input_empty);
      if (closing && input_empty && g_hash_table_size (self->pending) == 0
          && journal_rows (self) == 0)
        break;
    }

  drop_connection (self);
  g_mutex_lock (&self->lock);
  self->finished = TRUE;
  self->stats.connected = FALSE;
  g_cond_broadcast (&self->done);
  g_mutex_unlock (&self->lock);
  return NULL;
}

/* ---- public ---- */

SpotBatchWriter *
spot_batch_writer_new (const SpotBatchWriterConfig *config, GError **error)
{
  g_autoptr (SpotBatchWriter) self = NULL;

  if (config->conninfo == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "the batch writer needs a database connection string");
      return NULL;
    }
  if (config->batch_size == 0 || config->batch_size > 100000)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "BATCH_SIZE=%u must be between 1 and 100000", config->batch_size);
      return NULL;
    }
  if (config->flush_interval_ms == 0 || config->flush_interval_ms > 60000)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "FLUSH_INTERVAL_MS=%u must be between 1 and 60000", config->flush_interval_ms);
      return NULL;
    }
  self = g_new0 (SpotBatchWriter, 1);
  self->config = *config;
  if (self->config.retry_min_ms == 0)
    self->config.retry_min_ms = 100;
  if (self->config.retry_max_ms < self->config.retry_min_ms)
    self->config.retry_max_ms = MAX (self->config.retry_min_ms, 5000);
  self->conninfo = g_strdup (config->conninfo);
  self->state_dir = g_strdup (config->state_dir);
  self->config.conninfo = self->conninfo;
  self->config.state_dir = self->state_dir;
  g_mutex_init (&self->lock);
  g_cond_init (&self->wake);
  g_cond_init (&self->done);
  self->input = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  self->pending = g_hash_table_new_full (entry_hash, entry_equal, g_free, NULL);
  g_queue_init (&self->order);
  if (self->state_dir != NULL)
    {
      g_autofree char *path = g_build_filename (self->state_dir, "store-journal.log", NULL);
      self->journal = spot_journal_open (path, error);
      if (self->journal == NULL)
        return NULL;
      if (spot_journal_get_pending_rows (self->journal) > 0)
        self->journal_since_us = g_get_monotonic_time ();
    }
  self->interrupt = spot_pg_interrupt_new (error);
  if (self->interrupt == NULL)
    return NULL;
  self->thread = g_thread_try_new ("spot-db-writer", writer_thread, self, error);
  if (self->thread == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

guint
spot_batch_writer_submit (SpotBatchWriter *self, const SpotCandleUpdate *updates, guint n)
{
  guint accepted = 0, rejected = 0;
  guint old_len, new_len;
  gboolean signal;

  g_return_val_if_fail (self != NULL, 0);
  /* Validate outside the lock. Invalid rows would fail the batch anyway. */
  g_autofree gboolean *ok = g_new (gboolean, n);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GError) error = NULL;
      ok[i] = spot_store_candle_check (&updates[i].candle, &error);
      if (!ok[i])
        {
          rejected++;
          spot_log_limited (10000, 5, G_LOG_LEVEL_WARNING, updates[i].candle.product_id, -1, -1,
                            "refusing to store an invalid candle: %s", error->message);
        }
    }
  g_mutex_lock (&self->lock);
  old_len = self->input->len;
  for (guint i = 0; i < n; i++)
    if (ok[i])
      {
        g_array_append_val (self->input, updates[i].candle);
        accepted++;
      }
  new_len = self->input->len;
  self->submit_seq += accepted;
  self->submitted_total += accepted;
  self->rejected_on_submit += rejected;
  /* One wake-up per idle period or per batch worth of rows; the writer's own
   * timer covers the flush interval otherwise. */
  signal = self->closing
           || (old_len == 0 && new_len > 0 && self->writer_idle)
           || (old_len < self->config.batch_size && new_len >= self->config.batch_size);
  if (signal)
    g_cond_signal (&self->wake);
  g_mutex_unlock (&self->lock);
  return accepted;
}

void
spot_batch_writer_get_stats (SpotBatchWriter *self, SpotBatchWriterStats *stats)
{
  g_mutex_lock (&self->lock);
  *stats = self->stats;
  stats->rows_submitted = self->submitted_total;
  stats->rows_rejected = self->stats.rows_rejected + self->rejected_on_submit;
  stats->backlog_rows = self->stats.memory_rows + self->stats.journal_rows + self->input->len;
  g_mutex_unlock (&self->lock);
}

gboolean
spot_batch_writer_flush_sync (SpotBatchWriter *self, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean ok = TRUE;
  guint64 gen;

  g_mutex_lock (&self->lock);
  /* Done when the thread has seen this request and then found memory,
   * journal and input empty: everything submitted before is written. */
  gen = ++self->flush_requested;
  g_cond_signal (&self->wake);
  while (ok && self->flush_done < gen && !self->finished)
    ok = g_cond_wait_until (&self->done, &self->lock, end);
  ok = self->flush_done >= gen;
  g_mutex_unlock (&self->lock);
  return ok;
}

gboolean
spot_batch_writer_close (SpotBatchWriter *self, guint deadline_ms, GError **error)
{
  gint64 deadline;
  guint64 journaled, lost;

  if (self->thread == NULL)
    return TRUE;
  deadline = g_get_monotonic_time () + (gint64) deadline_ms * 1000;
  g_mutex_lock (&self->lock);
  self->closing = TRUE;
  self->close_deadline_us = deadline;
  g_cond_signal (&self->wake);
  while (!self->finished)
    {
      if (!g_cond_wait_until (&self->done, &self->lock, deadline))
        {
          /* Interrupt a statement or a connect in flight; the thread then
           * journals. */
          if (self->cancel != NULL)
            {
              char errbuf[256];
              PQcancel (self->cancel, errbuf, sizeof errbuf);
            }
          spot_pg_interrupt_trigger (self->interrupt);
          g_cond_signal (&self->wake);
          g_cond_wait_until (&self->done, &self->lock, g_get_monotonic_time () + 100000);
        }
    }
  g_mutex_unlock (&self->lock);
  g_thread_join (self->thread);
  self->thread = NULL;
  journaled = self->close_journaled;
  lost = self->close_lost;
  if (lost > 0)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT,
                   "%" G_GUINT64_FORMAT " candles could not be written before the deadline and were lost",
                   lost);
      return FALSE;
    }
  if (journaled > 0)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT,
                   "%" G_GUINT64_FORMAT " candles could not be written before the deadline; "
                   "they are in the journal and will be written at the next start",
                   journaled);
      return FALSE;
    }
  return TRUE;
}

void
spot_batch_writer_free (SpotBatchWriter *self)
{
  if (self == NULL)
    return;
  if (self->thread != NULL)
    {
      g_autoptr (GError) error = NULL;
      if (!spot_batch_writer_close (self, 5000, &error))
        g_warning ("%s", error->message);
    }
  drop_connection (self);
  g_clear_pointer (&self->pending, g_hash_table_unref);
  g_clear_pointer (&self->input, g_array_unref);
  g_clear_pointer (&self->journal, spot_journal_free);
  g_clear_pointer (&self->interrupt, spot_pg_interrupt_free);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->wake);
  g_cond_clear (&self->done);
  g_free (self->conninfo);
  g_free (self->state_dir);
  g_free (self);
}
