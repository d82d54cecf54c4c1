/* spot-journal.h: the batch writer's append-only overflow journal.
 *
 * During a database outage the batch writer keeps complete candles in memory
 * up to a bound; beyond it they are appended here (one text line per candle,
 * flushed with fdatasync) and replayed in order once the database is back.
 * Replaying twice is harmless: the upsert rule keeps the newest revision.
 *
 * Line format (version 1), fields separated by one TAB, "-" for unknown:
 *   J1 product granularity start open high low close volume trades
 *      last_trade_id complete(0|1) rev ts_ns checksum
 * where checksum is the FNV-1a 32-bit hash, 8 lowercase hex digits, of
 * everything before the TAB that precedes it. A line without its newline at
 * the end of the file (a crash while writing) is cut off when the journal is
 * opened; a line with a wrong checksum is skipped with a warning.
 *
 * Thread safety: a SpotJournal belongs to one thread (the batch writer's).
 * The line functions are pure and may be called from any thread.
 */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

typedef struct _SpotJournal SpotJournal;

/* Appends the journal line of @candle, with its newline, to @out. */
void spot_journal_format_line (const SpotCandle *candle, GString *out);
/* Parses one line (without or with its newline). Fails with SPOT_ERROR_PARSE
 * naming the problem (bad field, checksum mismatch, unknown version). */
gboolean spot_journal_parse_line (const char *line, gsize len, SpotCandle *out, GError **error);

/* Opens (creating it and its directory) the journal at @path, cuts a torn
 * last line and counts the rows waiting to be replayed. */
SpotJournal *spot_journal_open (const char *path, GError **error);
void spot_journal_free (SpotJournal *journal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotJournal, spot_journal_free)

const char *spot_journal_get_path (SpotJournal *journal);

/* Appends @n candles and syncs them to disk. */
gboolean spot_journal_append (SpotJournal *journal, const SpotCandle *candles, guint n, GError **error);

/* Rows appended and not yet replayed, and the file's size in bytes. */
guint64 spot_journal_get_pending_rows (SpotJournal *journal);
guint64 spot_journal_get_size (SpotJournal *journal);

/* Reads up to @max rows from the replay position into @out (SpotCandle)
 * without consuming them. Corrupt lines are skipped (and consumed). */
gboolean spot_journal_peek (SpotJournal *journal, GArray *out, guint max, GError **error);
/* Consumes what the last peek returned; when everything is replayed the file
 * is truncated to zero. */
gboolean spot_journal_consume (SpotJournal *journal, GError **error);

G_END_DECLS
