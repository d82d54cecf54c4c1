/* spot-batch-writer.h: coalescing, outage-proof writer of candle updates.
 *
 * The engine's sink threads hand over candle updates; a dedicated database
 * thread with its own connection upserts them in batches (one round trip per
 * batch, see spot_store_upsert_candles()):
 *
 * - a batch is written when BATCH_SIZE rows are pending or the oldest pending
 *   row has waited FLUSH_INTERVAL_MS, whichever comes first;
 * - updates of one (product, granularity, start) are coalesced, the newest by
 *   the store's rule winning (higher rev; complete over incomplete), so no
 *   complete candle is ever dropped and no write goes backwards;
 * - when PostgreSQL is unreachable the thread retries with exponential
 *   backoff, keeps coalescing in memory, keeps up to @memory_complete_limit
 *   complete candles in memory and appends the rest to the journal
 *   (<state_dir>/store-journal.log, see spot-journal.h), replayed in order
 *   after recovery and at the next start;
 * - spot_batch_writer_close() flushes everything within a deadline; whatever
 *   is still pending then (live and complete) goes to the journal.
 *
 * Thread safety: spot_batch_writer_submit() and spot_batch_writer_get_stats()
 * may be called from any thread and never block on the database (submit takes
 * a short mutex and at most signals a condition). new/close/free: one owner
 * thread (the main thread). flush_sync blocks: tests and tools only.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"
#include "store/spot-store-sql.h"

G_BEGIN_DECLS

typedef struct _SpotBatchWriter SpotBatchWriter;

typedef struct {
  const char *conninfo;          /* libpq connection string (required) */
  const char *state_dir;         /* journal directory; NULL: no journal, completes stay in memory */
  guint batch_size;              /* BATCH_SIZE, default 1000 */
  guint flush_interval_ms;       /* FLUSH_INTERVAL_MS, default 100 */
  guint memory_complete_limit;   /* complete rows kept in memory before the journal, default 100000 */
  guint retry_min_ms;            /* first backoff, default 100 */
  guint retry_max_ms;            /* backoff cap, default 5000 */
  SpotStoreStrategy strategy;    /* default SPOT_STORE_STRATEGY_DEFAULT */
} SpotBatchWriterConfig;

/* Fills @config with the defaults (conninfo and state_dir NULL). */
void spot_batch_writer_config_init (SpotBatchWriterConfig *config);

typedef struct {
  gboolean connected;            /* the last database call succeeded */
  guint64 backlog_rows;          /* pending in memory + journal rows to replay */
  guint64 memory_rows;           /* pending in memory (after coalescing) */
  guint64 journal_rows;          /* rows in the journal waiting for replay */
  guint64 journal_bytes;         /* size of the journal file */
  gint64 oldest_pending_age_ms;  /* age of the oldest pending row (0 when none) */
  guint64 rows_submitted;        /* accepted by submit */
  guint64 rows_rejected;         /* refused as invalid (by submit or by the database) */
  guint64 rows_coalesced;        /* replaced in memory by a newer version */
  guint64 rows_written;          /* rows sent in successful batches */
  guint64 batches;               /* successful batches */
  guint64 failures;              /* failed database attempts */
  gint64 last_write_latency_us;  /* duration of the last successful batch */
  gint64 total_write_latency_us; /* sum over all successful batches */
} SpotBatchWriterStats;

/* Opens the journal (when @config->state_dir is set) and starts the thread;
 * connecting happens there, so this never blocks on the database. Fails on a
 * bad configuration or an unusable journal. */
SpotBatchWriter *spot_batch_writer_new (const SpotBatchWriterConfig *config, GError **error);

/* Queues @n updates. Invalid candles are refused (counted, logged with the
 * reason, rate-limited); returns the number accepted. Never blocks. */
guint spot_batch_writer_submit (SpotBatchWriter *writer, const SpotCandleUpdate *updates, guint n);

void spot_batch_writer_get_stats (SpotBatchWriter *writer, SpotBatchWriterStats *stats);

/* Waits until everything submitted before the call (and the journal) is
 * written, or @timeout_ms passes (FALSE). Blocks: tests and tools only. */
gboolean spot_batch_writer_flush_sync (SpotBatchWriter *writer, guint timeout_ms);

/* Flushes everything and stops the thread within @deadline_ms (a running
 * statement is cancelled at the deadline). Rows that could not be written
 * are journaled; returns FALSE with @error when rows were journaled or lost. */
gboolean spot_batch_writer_close (SpotBatchWriter *writer, guint deadline_ms, GError **error);

/* Closes (5 s deadline) if needed and frees. */
void spot_batch_writer_free (SpotBatchWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotBatchWriter, spot_batch_writer_free)

G_END_DECLS
