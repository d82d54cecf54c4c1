/* Unit tests of the batch writer's journal (file format and replay). */
#include <glib/gstdio.h>
#include <string.h>

#include "core/spot-error.h"
#include "store/spot-journal.h"
#include "store-test-util.h"

static void
assert_same_candle (const SpotCandle *a, const SpotCandle *b)
{
  g_assert_cmpstr (a->product_id, ==, b->product_id);
  g_assert_cmpint (a->granularity, ==, b->granularity);
  g_assert_cmpint (a->start, ==, b->start);
  g_assert_true (spot_candle_values_equal (a, b));
  g_assert_cmpint (a->trades, ==, b->trades);
  g_assert_cmpuint (a->last_trade_id, ==, b->last_trade_id);
  g_assert_cmpint (a->complete, ==, b->complete);
  g_assert_cmpuint (a->rev, ==, b->rev);
  g_assert_cmpint (a->ts_ns, ==, b->ts_ns);
}

static void
test_line_round_trips_every_field (void)
{
  SpotCandle live = make_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 1775521800, "68900.50",
                                 "68950.00", "68800.25", "68900.10", "12.34500000", 12, 995098701,
                                 FALSE, 3);
  SpotCandle rest = make_candle ("ETH-EUR", SPOT_GRANULARITY_ONE_DAY, 1775520000, "1", "2", "1",
                                 "2", "0", SPOT_CANDLE_TRADES_UNKNOWN, SPOT_CANDLE_TRADE_ID_UNKNOWN,
                                 TRUE, 0);
  g_autoptr (GString) line = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  SpotCandle back;

  spot_journal_format_line (&live, line);
  g_assert_true (g_str_has_prefix (line->str, "J1\tBTC-USD\tONE_MINUTE\t1775521800\t68900.50\t"));
  g_assert_true (g_str_has_suffix (line->str, "\n"));
  g_assert_true (spot_journal_parse_line (line->str, line->len, &back, &error));
  g_assert_no_error (error);
  assert_same_candle (&live, &back);
  /* Scale is kept: "68900.50" prints back as written. */
  {
    char buf[SPOT_DECIMAL_BUFSIZE];
    spot_decimal_format (&back.open, buf, sizeof buf);
    g_assert_cmpstr (buf, ==, "68900.50");
  }

  g_string_truncate (line, 0);
  spot_journal_format_line (&rest, line);
  g_assert_nonnull (strstr (line->str, "\t-\t-\t1\t0\t-\t"));
  g_assert_true (spot_journal_parse_line (line->str, line->len, &back, &error));
  assert_same_candle (&rest, &back);
}

static void
test_damaged_lines_are_refused (void)
{
  SpotCandle c = flat_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 60, "1", "1", TRUE, 1);
  g_autoptr (GString) line = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  SpotCandle back;
  char *p;

  spot_journal_format_line (&c, line);
  p = strstr (line->str, "BTC");
  p[0] = 'X'; /* one flipped byte */
  g_assert_false (spot_journal_parse_line (line->str, line->len, &back, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "checksum"));
  g_clear_error (&error);

  g_assert_false (spot_journal_parse_line ("J9\tx\n", 5, &back, &error));
  g_assert_nonnull (strstr (error->message, "J1"));
}

static void
test_journal_replays_in_order_and_truncates (void)
{
  g_autofree char *dir = g_dir_make_tmp ("spot-journal-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "sub", "store-journal.log", NULL);
  g_autoptr (GError) error = NULL;
  SpotCandle rows[5];
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (SpotCandle));

  for (guint i = 0; i < 5; i++)
    rows[i] = flat_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 60 * (i + 1), "2", "1", TRUE, i);
  {
    g_autoptr (SpotJournal) j = spot_journal_open (path, &error);
    g_assert_no_error (error);
    g_assert_true (spot_journal_append (j, rows, 3, &error));
    g_assert_true (spot_journal_append (j, rows + 3, 2, &error));
    g_assert_cmpuint (spot_journal_get_pending_rows (j), ==, 5);
    g_assert_cmpuint (spot_journal_get_size (j), >, 0);
  }
  {
    /* Reopened (as after a restart): still five rows, read in order. */
    g_autoptr (SpotJournal) j = spot_journal_open (path, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (spot_journal_get_pending_rows (j), ==, 5);
    g_assert_true (spot_journal_peek (j, out, 2, &error));
    g_assert_cmpuint (out->len, ==, 2);
    /* A peek without consume is read again. */
    g_array_set_size (out, 0);
    g_assert_true (spot_journal_peek (j, out, 2, &error));
    g_assert_cmpint (g_array_index (out, SpotCandle, 0).start, ==, 60);
    g_assert_true (spot_journal_consume (j, &error));
    g_assert_cmpuint (spot_journal_get_pending_rows (j), ==, 3);
    g_array_set_size (out, 0);
    g_assert_true (spot_journal_peek (j, out, 100, &error));
    g_assert_cmpuint (out->len, ==, 3);
    for (guint i = 0; i < 3; i++)
      assert_same_candle (&g_array_index (out, SpotCandle, i), &rows[2 + i]);
    g_assert_true (spot_journal_consume (j, &error));
    g_assert_cmpuint (spot_journal_get_pending_rows (j), ==, 0);
    g_assert_cmpuint (spot_journal_get_size (j), ==, 0);
  }
  g_remove (path);
  {
    g_autofree char *sub = g_path_get_dirname (path);
    g_rmdir (sub);
  }
  g_rmdir (dir);
}

static void
test_torn_last_line_is_cut_off (void)
{
  g_autofree char *dir = g_dir_make_tmp ("spot-journal-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "store-journal.log", NULL);
  g_autoptr (GError) error = NULL;
  SpotCandle rows[2];
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  g_autoptr (GString) text = g_string_new (NULL);

  rows[0] = flat_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 60, "2", "1", TRUE, 1);
  rows[1] = flat_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, 120, "2", "1", TRUE, 1);
  spot_journal_format_line (&rows[0], text);
  spot_journal_format_line (&rows[1], text);
  /* A crash in the middle of the second line. */
  g_assert_true (g_file_set_contents (path, text->str, (gssize) text->len - 10, &error));
  {
    g_autoptr (SpotJournal) j = NULL;
    j = spot_journal_open (path, &error); /* warns about the torn line */
    g_assert_no_error (error);
    g_assert_cmpuint (spot_journal_get_pending_rows (j), ==, 1);
    g_assert_true (spot_journal_append (j, &rows[1], 1, &error));
    g_assert_true (spot_journal_peek (j, out, 10, &error));
    g_assert_cmpuint (out->len, ==, 2);
    assert_same_candle (&g_array_index (out, SpotCandle, 1), &rows[1]);
  }
  g_remove (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* The torn-line case logs a warning on purpose. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/store/journal/line round trips every field", test_line_round_trips_every_field);
  g_test_add_func ("/store/journal/damaged lines are refused", test_damaged_lines_are_refused);
  g_test_add_func ("/store/journal/replays in order and truncates",
                   test_journal_replays_in_order_and_truncates);
  g_test_add_func ("/store/journal/torn last line is cut off", test_torn_last_line_is_cut_off);
  return g_test_run ();
}
