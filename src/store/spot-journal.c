#define G_LOG_DOMAIN "spot-store"

#include "store/spot-journal.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/spot-error.h"

#define JOURNAL_FIELDS 15 /* J1 + 13 values + checksum */
#define READ_CHUNK (256 * 1024)

struct _SpotJournal {
  char *path;
  int fd;
  guint64 size;
  guint64 read_offset;
  guint64 pending_rows;
  guint64 peek_offset; /* where the last peek stopped */
  guint64 peek_rows;   /* rows (good or skipped) the last peek covered */
};

static guint32
fnv1a (const char *s, gsize len)
{
  guint32 h = 2166136261u;
  for (gsize i = 0; i < len; i++)
    {
      h ^= (guint8) s[i];
      h *= 16777619u;
    }
  return h;
}

void
spot_journal_format_line (const SpotCandle *c, GString *out)
{
  char d[5][SPOT_DECIMAL_BUFSIZE];
  gsize begin = out->len;

  spot_decimal_format (&c->open, d[0], sizeof d[0]);
  spot_decimal_format (&c->high, d[1], sizeof d[1]);
  spot_decimal_format (&c->low, d[2], sizeof d[2]);
  spot_decimal_format (&c->close, d[3], sizeof d[3]);
  spot_decimal_format (&c->volume, d[4], sizeof d[4]);
  g_string_append_printf (out, "J1\t%s\t%s\t%" G_GINT64_FORMAT "\t%s\t%s\t%s\t%s\t%s\t", c->product_id,
                          spot_granularity_name (c->granularity), c->start, d[0], d[1], d[2], d[3],
                          d[4]);
  if (c->trades == SPOT_CANDLE_TRADES_UNKNOWN)
    g_string_append (out, "-\t");
  else
    g_string_append_printf (out, "%" G_GINT64_FORMAT "\t", c->trades);
  if (c->last_trade_id == SPOT_CANDLE_TRADE_ID_UNKNOWN)
    g_string_append (out, "-\t");
  else
    g_string_append_printf (out, "%" G_GUINT64_FORMAT "\t", c->last_trade_id);
  g_string_append_printf (out, "%d\t%" G_GUINT64_FORMAT "\t", c->complete ? 1 : 0, c->rev);
  if (c->ts_ns == SPOT_CANDLE_TS_UNKNOWN)
    g_string_append (out, "-");
  else
    g_string_append_printf (out, "%" G_GINT64_FORMAT, c->ts_ns);
  g_string_append_printf (out, "\t%08x\n", fnv1a (out->str + begin, out->len - begin));
}

static gboolean
field_int64 (const char *f, gint64 *out)
{
  char *end = NULL;
  if (f[0] == '\0')
    return FALSE;
  errno = 0;
  *out = g_ascii_strtoll (f, &end, 10);
  return *end == '\0' && errno == 0;
}

static gboolean
field_uint64 (const char *f, guint64 *out)
{
  char *end = NULL;
  if (!g_ascii_isdigit (f[0]))
    return FALSE;
  errno = 0;
  *out = g_ascii_strtoull (f, &end, 10);
  return *end == '\0' && errno == 0;
}

gboolean
spot_journal_parse_line (const char *line, gsize len, SpotCandle *out, GError **error)
{
  g_autofree char *copy = NULL;
  g_auto (GStrv) f = NULL;
  const char *last_tab;
  SpotDecimal *decimals[] = { &out->open, &out->high, &out->low, &out->close, &out->volume };
  gint64 i64 = 0;
  guint64 u64 = 0;
  const char *bad = NULL;

  if (len > 0 && line[len - 1] == '\n')
    len--;
  copy = g_strndup (line, len);
  memset (out, 0, sizeof *out);
  if (!g_str_has_prefix (copy, "J1\t"))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "journal line \"%.40s\" does not start with the version tag J1", copy);
      return FALSE;
    }
  last_tab = strrchr (copy, '\t');
  {
    char sum[9];
    g_snprintf (sum, sizeof sum, "%08x", fnv1a (copy, (gsize) (last_tab - copy)));
    if (strcmp (last_tab + 1, sum) != 0)
      {
        g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                     "journal line \"%.40s...\" has checksum %s, expected %s", copy, last_tab + 1,
                     sum);
        return FALSE;
      }
  }
  f = g_strsplit (copy, "\t", -1);
  if (g_strv_length (f) != JOURNAL_FIELDS)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "journal line \"%.40s...\" has %u fields, expected %d",
                   copy, g_strv_length (f), JOURNAL_FIELDS);
      return FALSE;
    }
  if (!spot_product_id_validate (f[1], error))
    return FALSE;
  g_strlcpy (out->product_id, f[1], sizeof out->product_id);
  if (!spot_granularity_parse (f[2], -1, &out->granularity, error))
    return FALSE;
  if (!field_int64 (f[3], &out->start))
    bad = "start";
  for (guint i = 0; bad == NULL && i < G_N_ELEMENTS (decimals); i++)
    if (!spot_decimal_parse (f[4 + i], -1, decimals[i], error))
      return FALSE;
  out->trades = SPOT_CANDLE_TRADES_UNKNOWN;
  if (bad == NULL && strcmp (f[9], "-") != 0)
    {
      if (field_int64 (f[9], &i64) && i64 >= 0)
        out->trades = i64;
      else
        bad = "trades";
    }
  out->last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  if (bad == NULL && strcmp (f[10], "-") != 0)
    {
      if (field_uint64 (f[10], &u64))
        out->last_trade_id = u64;
      else
        bad = "last_trade_id";
    }
  if (bad == NULL && strcmp (f[11], "0") != 0 && strcmp (f[11], "1") != 0)
    bad = "complete";
  out->complete = f[11][0] == '1';
  if (bad == NULL && !field_uint64 (f[12], &out->rev))
    bad = "rev";
  out->ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  if (bad == NULL && strcmp (f[13], "-") != 0 && !field_int64 (f[13], &out->ts_ns))
    bad = "ts_ns";
  if (bad != NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "journal line \"%.40s...\" has a bad %s field",
                   copy, bad);
      return FALSE;
    }
  return TRUE;
}

static gboolean
io_error (GError **error, const char *what, const char *path)
{
  int e = errno;
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "cannot %s journal %s: %s", what, path,
               g_strerror (e));
  return FALSE;
}

/* Counts complete lines; returns the offset after the last newline. */
static gboolean
scan (SpotJournal *j, guint64 *good_end, guint64 *rows, GError **error)
{
  g_autofree char *buf = g_malloc (READ_CHUNK);
  guint64 off = 0;

  *good_end = 0;
  *rows = 0;
  for (;;)
    {
      ssize_t n = pread (j->fd, buf, READ_CHUNK, (off_t) off);
      if (n < 0)
        return io_error (error, "read", j->path);
      if (n == 0)
        break;
      for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\n')
          {
            (*rows)++;
            *good_end = off + (guint64) i + 1;
          }
      off += (guint64) n;
    }
  return TRUE;
}

SpotJournal *
spot_journal_open (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  SpotJournal *j;
  struct stat st;
  guint64 good_end = 0, rows = 0;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      io_error (error, "create the directory of", path);
      return NULL;
    }
  j = g_new0 (SpotJournal, 1);
  j->path = g_strdup (path);
  j->fd = open (path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (j->fd < 0 || fstat (j->fd, &st) != 0)
    {
      io_error (error, "open", path);
      spot_journal_free (j);
      return NULL;
    }
  if (!scan (j, &good_end, &rows, error))
    {
      spot_journal_free (j);
      return NULL;
    }
  if (good_end < (guint64) st.st_size)
    {
      g_warning ("journal %s ends with a torn line (%" G_GUINT64_FORMAT " bytes): cutting it off",
                 path, (guint64) st.st_size - good_end);
      if (ftruncate (j->fd, (off_t) good_end) != 0)
        {
          io_error (error, "truncate", path);
          spot_journal_free (j);
          return NULL;
        }
    }
  j->size = good_end;
  j->pending_rows = rows;
  if (rows > 0)
    g_message ("journal %s holds %" G_GUINT64_FORMAT " candles to replay", path, rows);
  return j;
}

void
spot_journal_free (SpotJournal *j)
{
  if (j == NULL)
    return;
  if (j->fd >= 0)
    close (j->fd);
  g_free (j->path);
  g_free (j);
}

const char *
spot_journal_get_path (SpotJournal *j)
{
  return j->path;
}

gboolean
spot_journal_append (SpotJournal *j, const SpotCandle *candles, guint n, GError **error)
{
  g_autoptr (GString) buf = g_string_sized_new (n * 140);
  gsize done = 0;

  if (n == 0)
    return TRUE;
  for (guint i = 0; i < n; i++)
    spot_journal_format_line (&candles[i], buf);
  while (done < buf->len)
    {
      ssize_t w = write (j->fd, buf->str + done, buf->len - done);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          /* Leave no torn line behind for the next append. */
          if (done > 0 && ftruncate (j->fd, (off_t) j->size) != 0)
            g_warning ("cannot cut a partial write off journal %s: %s", j->path, g_strerror (errno));
          return io_error (error, "write", j->path);
        }
      done += (gsize) w;
    }
  if (fdatasync (j->fd) != 0)
    return io_error (error, "sync", j->path);
  j->size += buf->len;
  j->pending_rows += n;
  return TRUE;
}

guint64
spot_journal_get_pending_rows (SpotJournal *j)
{
  return j->pending_rows;
}

guint64
spot_journal_get_size (SpotJournal *j)
{
  return j->size;
}

gboolean
spot_journal_peek (SpotJournal *j, GArray *out, guint max, GError **error)
{
  g_autoptr (GString) line = g_string_new (NULL);
  g_autofree char *buf = g_malloc (READ_CHUNK);
  guint64 off = j->read_offset;
  guint64 line_start = off;
  guint got = 0;

  j->peek_rows = 0;
  j->peek_offset = j->read_offset;
  while (got < max && off < j->size)
    {
      ssize_t n = pread (j->fd, buf, MIN (READ_CHUNK, j->size - off), (off_t) off);
      ssize_t i;
      if (n <= 0)
        return io_error (error, "read", j->path);
      for (i = 0; i < n && got < max; i++)
        {
          g_string_append_c (line, buf[i]);
          if (buf[i] != '\n')
            continue;
          {
            SpotCandle c;
            g_autoptr (GError) local = NULL;
            if (spot_journal_parse_line (line->str, line->len, &c, &local))
              {
                g_array_append_val (out, c);
                got++;
              }
            else
              g_warning ("skipping a line of journal %s at byte %" G_GUINT64_FORMAT ": %s",
                         j->path, line_start, local->message);
          }
          j->peek_rows++;
          g_string_truncate (line, 0);
          line_start = off + (guint64) i + 1;
        }
      off += (guint64) i;
    }
  j->peek_offset = line_start;
  return TRUE;
}

gboolean
spot_journal_consume (SpotJournal *j, GError **error)
{
  j->read_offset = j->peek_offset;
  j->pending_rows -= MIN (j->pending_rows, j->peek_rows);
  j->peek_rows = 0;
  if (j->read_offset >= j->size)
    {
      if (ftruncate (j->fd, 0) != 0 || fdatasync (j->fd) != 0)
        return io_error (error, "truncate", j->path);
      j->size = 0;
      j->read_offset = 0;
      j->peek_offset = 0;
      j->pending_rows = 0;
    }
  return TRUE;
}
