/* Unit tests of the pure candle builder: every rule of DESIGN.md section 2. */
#include "aggregate/spot-candle-builder.h"
#include "engine-test-util.h"

typedef struct
{
  SpotCandleClock *clock;
  SpotCandleBuilder *builder;
  SpotEngineOptions options;
  GHashTable *revs; /* "product.g.start" -> last rev seen */
} Fixture;

static void
fixture_setup_with (Fixture *f, const SpotEngineOptions *options, gint64 now_ms)
{
  if (options != NULL)
    f->options = *options;
  else
    spot_engine_options_init_defaults (&f->options);
  f->clock = spot_candle_clock_new_manual (at_ms (now_ms));
  f->builder = spot_candle_builder_new (&f->options, f->clock);
  /* Known from the start of the test: a product's memory begins with the
   * buckets open when it is added. */
  spot_candle_builder_add_product (f->builder, "BTC-USD", FALSE);
  spot_candle_builder_add_product (f->builder, "ETH-USD", FALSE);
  spot_candle_builder_add_product (f->builder, "SOL-USD", FALSE);
  f->revs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  fixture_setup_with (f, NULL, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  spot_candle_builder_free (f->builder);
  spot_candle_clock_unref (f->clock);
  g_hash_table_unref (f->revs);
}

static void
set_now (Fixture *f, gint64 t_ms)
{
  spot_candle_clock_set_manual (f->clock, at_ms (t_ms));
}

/* Checks every emitted revision grows per key, then clears the output. */
static void
check_revs_and_clear (Fixture *f)
{
  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);
  /* Live first, as the shard worker hands them to the sink. */
  GArray *arrays[] = { out->live, out->complete };

  for (guint a = 0; a < G_N_ELEMENTS (arrays); a++)
    for (guint i = 0; i < arrays[a]->len; i++)
      {
        SpotCandle *c = &g_array_index (arrays[a], SpotCandleUpdate, i).candle;
        g_autofree char *key
            = g_strdup_printf ("%s.%d.%" G_GINT64_FORMAT, c->product_id, c->granularity, c->start);
        guint64 last = GPOINTER_TO_SIZE (g_hash_table_lookup (f->revs, key));
        if (c->rev <= last)
          g_printerr ("key %s rev %" G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT
                      " array %u complete %d\n",
                      key, c->rev, last, a, c->complete);
        g_assert_cmpuint (c->rev, >, last);
        g_hash_table_replace (f->revs, g_steal_pointer (&key), GSIZE_TO_POINTER ((gsize)c->rev));
      }
  spot_candle_builder_clear_output (f->builder);
}

static const SpotCandleUpdate *
find_update (GArray *updates, SpotGranularity g, gint64 start)
{
  for (guint i = 0; i < updates->len; i++)
    {
      const SpotCandleUpdate *u = &g_array_index (updates, SpotCandleUpdate, i);
      if (u->candle.granularity == g && u->candle.start == start)
        return u;
    }
  return NULL;
}

static const SpotCandleUpdate *
find_last_update (GArray *updates, SpotGranularity g, gint64 start)
{
  const SpotCandleUpdate *found = NULL;
  for (guint i = 0; i < updates->len; i++)
    {
      const SpotCandleUpdate *u = &g_array_index (updates, SpotCandleUpdate, i);
      if (u->candle.granularity == g && u->candle.start == start)
        found = u;
    }
  return found;
}

static void
add (Fixture *f, const SpotTrade *trades, guint n)
{
  spot_candle_builder_add_trades (f->builder, trades, n, trades[0].message_ns);
}

static SpotCandle
candle (Fixture *f, const char *product, SpotGranularity g, gint64 t)
{
  SpotCandle c;
  g_assert_true (spot_candle_builder_get_candle (f->builder, product, g, t, &c));
  return c;
}

/* ---- building ---------------------------------------------------------- */

static void
test_minute_open_close_by_time_then_trade_id (Fixture *f, gconstpointer data)
{
  /* Newest first, with two trades at the same instant: the lower id opens. */
  SpotTrade t[] = {
    trade_at ("BTC-USD", 105, 50000, "101", "1"),
    trade_at ("BTC-USD", 104, 20000, "99", "1"),
    trade_at ("BTC-USD", 103, 10000, "102", "1"),
    trade_at ("BTC-USD", 102, 10000, "100", "1"),
  };
  set_now (f, 50100);
  add (f, t, G_N_ELEMENTS (t));

  SpotCandle c = candle (f, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0);
  assert_dec (c.open, "100");
  assert_dec (c.close, "101");
  assert_dec (c.high, "102");
  assert_dec (c.low, "99");
  assert_dec (c.volume, "4");
  g_assert_cmpint (c.trades, ==, 4);
  g_assert_cmpuint (c.last_trade_id, ==, 105);
  g_assert_false (c.complete);

  /* The same candle whatever the order inside the batch. */
  for (guint r = 1; r < G_N_ELEMENTS (t); r++)
    {
      Fixture g;
      SpotTrade rotated[G_N_ELEMENTS (t)];
      fixture_setup_with (&g, NULL, 50100);
      for (guint i = 0; i < G_N_ELEMENTS (t); i++)
        rotated[i] = t[(i + r) % G_N_ELEMENTS (t)];
      spot_candle_builder_add_trades (g.builder, rotated, G_N_ELEMENTS (t), t[0].message_ns);
      SpotCandle o = candle (&g, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0);
      assert_dec (o.open, "100");
      assert_dec (o.close, "101");
      g_assert_cmpint (o.trades, ==, 4);
      fixture_teardown (&g, NULL);
    }
}

static void
test_exact_decimals (Fixture *f, gconstpointer data)
{
  SpotTrade t[] = {
    trade_at ("BTC-USD", 1, 1000, "68900.50", "0.00000001"),
    trade_at ("BTC-USD", 2, 2000, "68900.49", "0.00000001"),
    trade_at ("BTC-USD", 3, 3000, "68900.51", "0.00000001"),
    trade_at ("BTC-USD", 4, 4000, "68900.5", "12345678.12345678"),
  };
  set_now (f, 5000);
  add (f, t, G_N_ELEMENTS (t));

  for (guint g = 0; g < SPOT_GRANULARITY_COUNT; g++)
    {
      SpotCandle c = candle (f, "BTC-USD", (SpotGranularity)g, DAY0);
      assert_dec (c.open, "68900.50");
      assert_dec (c.high, "68900.51");
      assert_dec (c.low, "68900.49");
      assert_dec (c.close, "68900.50");
      assert_dec (c.volume, "12345678.12345681");
      g_assert_cmpint (c.trades, ==, 4);
    }
  /* Formatting keeps the exchange's scale. */
  SpotCandle c = candle (f, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0);
  g_autofree char *open = spot_decimal_to_string (&c.open);
  g_assert_cmpstr (open, ==, "68900.50");
}

static void
test_live_updates_one_per_key_per_batch (Fixture *f, gconstpointer data)
{
  SpotTrade t[] = {
    trade_at ("BTC-USD", 1, 1000, "10", "1"), trade_at ("BTC-USD", 2, 2000, "11", "1"),
    trade_at ("BTC-USD", 3, 61000, "12", "1"), /* next minute */
  };
  set_now (f, 61500);
  add (f, t, G_N_ELEMENTS (t));

  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);
  /* One per output key (latest wins): eight granularities. */
  g_assert_cmpuint (out->live->len, ==, 8);
  g_assert_cmpuint (out->complete->len, ==, 0);
  const SpotCandleUpdate *m = find_update (out->live, SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 60);
  g_assert_nonnull (m);
  g_assert_cmpint (m->kind, ==, SPOT_CANDLE_UPDATE_LIVE);
  assert_dec (m->candle.close, "12");
  g_assert_null (find_update (out->live, SPOT_GRANULARITY_FOUR_HOUR, DAY0));
  const SpotCandleUpdate *h = find_update (out->live, SPOT_GRANULARITY_ONE_HOUR, DAY0);
  g_assert_nonnull (h);
  g_assert_cmpint (h->candle.trades, ==, 3);
  g_assert_cmpint (h->candle.ts_ns, ==, t[0].message_ns);
  check_revs_and_clear (f);

  /* A second batch coalesces with nothing left over. */
  SpotTrade u = trade_at ("BTC-USD", 4, 62000, "13", "1");
  add (f, &u, 1);
  g_assert_cmpuint (out->live->len, ==, 8);
  check_revs_and_clear (f);
}

static void
test_levels_outside_output_still_built (Fixture *f, gconstpointer data)
{
  SpotEngineOptions o;
  spot_engine_options_init_defaults (&o);
  o.output = 1u << SPOT_GRANULARITY_ONE_MINUTE;
  fixture_teardown (f, NULL);
  fixture_setup_with (f, &o, 1000);

  SpotTrade t[] = { trade_at ("ETH-USD", 7, 1000, "3000.1", "2"),
                    trade_at ("ETH-USD", 8, 70000, "3000.3", "1") };
  set_now (f, 70000);
  add (f, t, 2);
  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);
  for (guint i = 0; i < out->live->len; i++)
    g_assert_cmpint (g_array_index (out->live, SpotCandleUpdate, i).candle.granularity, ==,
                     SPOT_GRANULARITY_ONE_MINUTE);
  SpotCandle d = candle (f, "ETH-USD", SPOT_GRANULARITY_ONE_DAY, DAY0);
  assert_dec (d.volume, "3");
  assert_dec (d.close, "3000.3");
  SpotCandle h4 = candle (f, "ETH-USD", SPOT_GRANULARITY_FOUR_HOUR, DAY0);
  g_assert_cmpint (h4.trades, ==, 2);
}

static void
test_day_six_hour_four_hour_boundaries (Fixture *f, gconstpointer data)
{
  /* 03:59:59.999, 04:00:00, 05:59:59.999, 06:00:00, then 23:59:59.999 and
   * the next day's 00:00:00, each in its own bucket. */
  const gint64 h = 3600 * 1000;
  fixture_teardown (f, NULL);
  fixture_setup_with (f, NULL, 4 * h - 1);
  SpotTrade a = trade_at ("SOL-USD", 1, 4 * h - 1, "1", "1");
  SpotTrade b = trade_at ("SOL-USD", 2, 4 * h, "2", "1");
  add (f, &a, 1);
  set_now (f, 4 * h);
  add (f, &b, 1);
  g_assert_cmpint (candle (f, "SOL-USD", SPOT_GRANULARITY_FOUR_HOUR, DAY0).trades, ==, 1);
  g_assert_cmpint (candle (f, "SOL-USD", SPOT_GRANULARITY_FOUR_HOUR, DAY0 + 4 * 3600).trades, ==,
                   1);
  g_assert_cmpint (candle (f, "SOL-USD", SPOT_GRANULARITY_SIX_HOUR, DAY0).trades, ==, 2);

  set_now (f, 6 * h - 1);
  SpotTrade c = trade_at ("SOL-USD", 3, 6 * h - 1, "3", "1");
  add (f, &c, 1);
  set_now (f, 6 * h);
  SpotTrade d = trade_at ("SOL-USD", 4, 6 * h, "4", "1");
  add (f, &d, 1);
  SpotCandle six0 = candle (f, "SOL-USD", SPOT_GRANULARITY_SIX_HOUR, DAY0);
  g_assert_cmpint (six0.trades, ==, 3);
  assert_dec (six0.close, "3");
  SpotCandle six1 = candle (f, "SOL-USD", SPOT_GRANULARITY_SIX_HOUR, DAY0 + 6 * 3600);
  g_assert_cmpint (six1.trades, ==, 1);
  assert_dec (six1.open, "4");
  g_assert_cmpint (candle (f, "SOL-USD", SPOT_GRANULARITY_TWO_HOUR, DAY0 + 4 * 3600).trades, ==, 2);

  set_now (f, 24 * h - 1);
  SpotTrade e = trade_at ("SOL-USD", 5, 24 * h - 1, "5", "1");
  add (f, &e, 1);
  set_now (f, 24 * h);
  SpotTrade g = trade_at ("SOL-USD", 6, 24 * h, "6", "1");
  add (f, &g, 1);
  SpotCandle day0 = candle (f, "SOL-USD", SPOT_GRANULARITY_ONE_DAY, DAY0);
  g_assert_cmpint (day0.trades, ==, 5);
  assert_dec (day0.close, "5");
  assert_dec (day0.high, "5");
  SpotCandle day1 = candle (f, "SOL-USD", SPOT_GRANULARITY_ONE_DAY, DAY0 + 86400);
  g_assert_cmpint (day1.trades, ==, 1);
  g_assert_cmpint (day1.start, ==, DAY0 + 86400);
  g_assert_cmpint (candle (f, "SOL-USD", SPOT_GRANULARITY_SIX_HOUR, DAY0 + 86400).start, ==,
                   DAY0 + 86400);
}

/* ---- dedupe ------------------------------------------------------------ */

static void
test_replayed_duplicates_dropped (Fixture *f, gconstpointer data)
{
  SpotTrade t[]
      = { trade_at ("BTC-USD", 10, 1000, "5", "1"), trade_at ("BTC-USD", 11, 2000, "6", "1") };
  set_now (f, 3000);
  add (f, t, 2);
  check_revs_and_clear (f);
  /* A resubscribe's snapshot replays them (newest first) plus one new. */
  SpotTrade replay[] = { trade_at ("BTC-USD", 12, 2500, "7", "1"), t[1], t[0] };
  add (f, replay, 3);

  SpotCandle c = candle (f, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0);
  g_assert_cmpint (c.trades, ==, 3);
  assert_dec (c.volume, "3");
  SpotEngineStats s;
  spot_candle_builder_get_stats (f->builder, &s);
  g_assert_cmpuint (s.trades_duplicate, ==, 2);
  g_assert_cmpuint (s.trades_accepted, ==, 3);
  g_assert_cmpuint (spot_candle_builder_get_high_water_mark (f->builder, "BTC-USD"), ==, 12);
  check_revs_and_clear (f);

  /* Nothing new at all: no update. */
  add (f, replay, 3);
  g_assert_cmpuint (spot_candle_builder_get_output (f->builder)->live->len, ==, 0);
}

static void
test_duplicates_after_restart_with_stored_mark (Fixture *f, gconstpointer data)
{
  /* After a restart the mark comes from the database. */
  spot_candle_builder_set_high_water_mark (f->builder, "BTC-USD", 11);
  SpotTrade replay[]
      = { trade_at ("BTC-USD", 11, 2000, "6", "1"), trade_at ("BTC-USD", 10, 1000, "5", "1"),
          trade_at ("BTC-USD", 12, 2500, "7", "1") };
  set_now (f, 3000);
  add (f, replay, 3);
  SpotCandle c = candle (f, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0);
  g_assert_cmpint (c.trades, ==, 1);
  assert_dec (c.open, "7");
  SpotEngineStats s;
  spot_candle_builder_get_stats (f->builder, &s);
  g_assert_cmpuint (s.trades_duplicate, ==, 2);
}

/* ---- completion -------------------------------------------------------- */

static void
test_completes_without_later_trade (Fixture *f, gconstpointer data)
{
  SpotTrade t = trade_at ("BTC-USD", 1, 30000, "100", "1");
  set_now (f, 30000);
  add (f, &t, 1);
  check_revs_and_clear (f);

  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);
  set_now (f, 60000 + 1999); /* grace not over */
  spot_candle_builder_tick (f->builder);
  g_assert_cmpuint (out->complete->len, ==, 0);

  set_now (f, 62000);
  spot_candle_builder_tick (f->builder);
  g_assert_cmpuint (out->complete->len, ==, 1);
  const SpotCandleUpdate *u = find_update (out->complete, SPOT_GRANULARITY_ONE_MINUTE, DAY0);
  g_assert_nonnull (u);
  g_assert_cmpint (u->kind, ==, SPOT_CANDLE_UPDATE_COMPLETE);
  g_assert_true (u->candle.complete);
  assert_dec (u->candle.close, "100");
  check_revs_and_clear (f);

  /* The 5-minute candle completes at 05:02, the others later. */
  set_now (f, 302000);
  spot_candle_builder_tick (f->builder);
  g_assert_cmpuint (out->complete->len, ==, 1);
  g_assert_nonnull (find_update (out->complete, SPOT_GRANULARITY_FIVE_MINUTE, DAY0));
  check_revs_and_clear (f);

  /* Empty minutes produced nothing. */
  set_now (f, 3600 * 1000 + 2000);
  spot_candle_builder_tick (f->builder);
  for (guint i = 0; i < out->complete->len; i++)
    g_assert_cmpint (g_array_index (out->complete, SpotCandleUpdate, i).candle.start, ==, DAY0);
  g_assert_cmpuint (out->complete->len, ==, 3); /* 15m, 30m, 1h */
  check_revs_and_clear (f);
}

static void
test_completion_waits_for_pending_repair (Fixture *f, gconstpointer data)
{
  SpotTrade t = trade_at ("BTC-USD", 1, 10000, "100", "1");
  set_now (f, 10000);
  add (f, &t, 1);
  /* A disconnect covered the end of the minute. */
  spot_candle_builder_mark_dirty (f->builder, "BTC-USD", DAY0, DAY0, SPOT_DIRTY_REASON_DISCONNECT);
  check_revs_and_clear (f);
  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);

  set_now (f, 62000);
  spot_candle_builder_tick (f->builder);
  g_assert_cmpuint (out->complete->len, ==, 0);
  /* Reported to the repair coordinator once closed. */
  g_assert_cmpuint (out->dirty->len, ==, 1);
  SpotDirtyRange *r = &g_array_index (out->dirty, SpotDirtyRange, 0);
  g_assert_cmpstr (r->product_id, ==, "BTC-USD");
  g_assert_cmpint (r->first_minute, ==, DAY0);
  g_assert_cmpint (r->last_minute, ==, DAY0);
  g_autoptr (GArray) listed = g_array_new (FALSE, FALSE, sizeof (SpotDirtyRange));
  spot_candle_builder_list_closed_dirty (f->builder, "BTC-USD", listed);
  g_assert_cmpuint (listed->len, ==, 1);
  check_revs_and_clear (f);

  set_now (f, 70000);
  spot_candle_builder_tick (f->builder);
  g_assert_cmpuint (out->complete->len, ==, 0);
  g_assert_cmpuint (out->dirty->len, ==, 0); /* reported once */

  /* The repair lands: the minute is replaced and complete at once. */
  SpotCandle rest = rest_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0, "100", "105", "99",
                                 "104", "3.5");
  SpotGranularity level;
  g_assert_cmpint (spot_candle_builder_repair (f->builder, &rest, &level), ==, SPOT_REPAIR_APPLIED);
  const SpotCandleUpdate *u = find_update (out->complete, SPOT_GRANULARITY_ONE_MINUTE, DAY0);
  g_assert_nonnull (u);
  g_assert_cmpint (u->kind, ==, SPOT_CANDLE_UPDATE_REPAIR);
  g_assert_true (u->candle.complete);
  g_assert_cmpint (u->candle.trades, ==, SPOT_CANDLE_TRADES_UNKNOWN);
  assert_dec (u->candle.close, "104");
  const SpotCandleUpdate *five = find_update (out->complete, SPOT_GRANULARITY_FIVE_MINUTE, DAY0);
  g_assert_nonnull (five);
  g_assert_false (five->candle.complete);
  assert_dec (five->candle.high, "105");
  g_assert_false (spot_candle_builder_is_dirty (f->builder, "BTC-USD", DAY0));
  check_revs_and_clear (f);

  spot_candle_builder_tick (f->builder);
  g_assert_cmpuint (out->complete->len, ==, 0); /* already complete */
  SpotEngineStats s;
  spot_candle_builder_get_stats (f->builder, &s);
  g_assert_cmpuint (s.completions_waited, ==, 1);
  g_assert_cmpuint (s.completions_timed_out, ==, 0);
}

static void
test_completion_gives_up_waiting_after_timeout (Fixture *f, gconstpointer data)
{
  SpotTrade t = trade_at ("BTC-USD", 1, 10000, "100", "1");
  set_now (f, 10000);
  add (f, &t, 1);
  spot_candle_builder_mark_dirty (f->builder, "BTC-USD", DAY0, DAY0,
                                  SPOT_DIRTY_REASON_SEQUENCE_GAP);
  check_revs_and_clear (f);
  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);

  set_now (f, 62000 + f->options.repair_wait_ms - 1);
  spot_candle_builder_tick (f->builder);
  g_assert_null (find_update (out->complete, SPOT_GRANULARITY_ONE_MINUTE, DAY0));
  set_now (f, 62000 + f->options.repair_wait_ms);
  spot_candle_builder_tick (f->builder);
  const SpotCandleUpdate *u = find_update (out->complete, SPOT_GRANULARITY_ONE_MINUTE, DAY0);
  g_assert_nonnull (u);
  g_assert_true (u->candle.complete);
  SpotEngineStats s;
  spot_candle_builder_get_stats (f->builder, &s);
  g_assert_cmpuint (s.completions_timed_out, ==, 1);
}

/* ---- late trades ------------------------------------------------------- */

static void
test_correction_inside_window_then_drop_after (Fixture *f, gconstpointer data)
{
  SpotTrade t = trade_at ("BTC-USD", 1, 30000, "100", "1");
  set_now (f, 30000);
  add (f, &t, 1);
  set_now (f, 62000);
  spot_candle_builder_tick (f->builder);
  check_revs_and_clear (f);
  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);

  /* A late trade 60 s after completion: corrected complete revisions of the
   * minute, live revisions of the open ancestors. */
  set_now (f, 122000);
  SpotTrade late = trade_at ("BTC-USD", 2, 59000, "90", "2");
  add (f, &late, 1);
  const SpotCandleUpdate *m = find_update (out->complete, SPOT_GRANULARITY_ONE_MINUTE, DAY0);
  g_assert_nonnull (m);
  g_assert_cmpint (m->kind, ==, SPOT_CANDLE_UPDATE_CORRECTION);
  g_assert_true (m->candle.complete);
  assert_dec (m->candle.low, "90");
  assert_dec (m->candle.close, "90");
  assert_dec (m->candle.volume, "3");
  const SpotCandleUpdate *five = find_update (out->live, SPOT_GRANULARITY_FIVE_MINUTE, DAY0);
  g_assert_nonnull (five);
  assert_dec (five->candle.low, "90");
  check_revs_and_clear (f);

  /* After the 5-minute bucket completes, a late trade corrects it too. */
  set_now (f, 302000);
  spot_candle_builder_tick (f->builder);
  check_revs_and_clear (f);
  set_now (f, 303000);
  SpotTrade late5 = trade_at ("BTC-USD", 3, 299000, "80", "1");
  add (f, &late5, 1);
  const SpotCandleUpdate *m5 = find_update (out->complete, SPOT_GRANULARITY_FIVE_MINUTE, DAY0);
  g_assert_nonnull (m5);
  g_assert_cmpint (m5->kind, ==, SPOT_CANDLE_UPDATE_CORRECTION);
  g_assert_true (m5->candle.complete);
  assert_dec (m5->candle.low, "80");
  g_assert_nonnull (find_update (out->complete, SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 240));
  check_revs_and_clear (f);

  /* Past the minute's window: dropped, counted, nothing changes. */
  set_now (f, 62000 + 120000 + 1);
  SpotTrade too_late = trade_at ("BTC-USD", 4, 58000, "1", "1");
  add (f, &too_late, 1);
  g_assert_cmpuint (out->complete->len, ==, 0);
  g_assert_cmpuint (out->live->len, ==, 0);
  SpotCandle c = candle (f, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0);
  assert_dec (c.low, "90");
  SpotEngineStats s;
  spot_candle_builder_get_stats (f->builder, &s);
  g_assert_cmpuint (s.trades_late_dropped, ==, 1);
  g_assert_cmpuint (s.trades_corrected, ==, 2);
}

static void
test_late_trade_for_stateless_bucket_changes_nothing (Fixture *f, gconstpointer data)
{
  SpotTrade t = trade_at ("BTC-USD", 1, 30000, "100", "1");
  set_now (f, 30000);
  add (f, &t, 1);
  /* Two hours later everything of the first hour was completed and released
   * (the day and the 2h/4h/6h buckets are still open). */
  for (gint64 s = 60; s <= 2 * 3600 + 300; s += 30)
    {
      set_now (f, s * 1000);
      spot_candle_builder_tick (f->builder);
    }
  check_revs_and_clear (f);
  SpotCandle before;
  g_assert_false (spot_candle_builder_get_candle (f->builder, "BTC-USD",
                                                  SPOT_GRANULARITY_ONE_MINUTE, DAY0, &before));
  SpotCandle day_before = candle (f, "BTC-USD", SPOT_GRANULARITY_ONE_DAY, DAY0);

  SpotTrade late = trade_at ("BTC-USD", 2, 40000, "1", "1000");
  add (f, &late, 1);
  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);
  g_assert_cmpuint (out->live->len, ==, 0);
  g_assert_cmpuint (out->complete->len, ==, 0);
  g_assert_false (spot_candle_builder_get_candle (f->builder, "BTC-USD",
                                                  SPOT_GRANULARITY_ONE_MINUTE, DAY0, &before));
  SpotCandle day_after = candle (f, "BTC-USD", SPOT_GRANULARITY_ONE_DAY, DAY0);
  g_assert_true (spot_decimal_equal (&day_before.volume, &day_after.volume));
  g_assert_cmpuint (day_before.rev, ==, day_after.rev);
  SpotEngineStats s;
  spot_candle_builder_get_stats (f->builder, &s);
  g_assert_cmpuint (s.trades_late_dropped, ==, 1);
}

/* ---- repair ------------------------------------------------------------ */

static void
test_rest_minute_replaces_partial_minute_and_ancestors_follow (Fixture *f, gconstpointer data)
{
  SpotTrade t[]
      = { trade_at ("BTC-USD", 1, 61000, "100", "1"), trade_at ("BTC-USD", 2, 125000, "200", "1") };
  set_now (f, 61000);
  add (f, &t[0], 1);
  spot_candle_builder_mark_dirty (f->builder, "BTC-USD", DAY0 + 60, DAY0 + 60,
                                  SPOT_DIRTY_REASON_SEQUENCE_GAP);
  set_now (f, 125000);
  add (f, &t[1], 1);
  check_revs_and_clear (f);

  SpotCandle rest = rest_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 60, "98", "101",
                                 "97", "99.5", "4.25");
  g_assert_cmpint (spot_candle_builder_repair (f->builder, &rest, NULL), ==, SPOT_REPAIR_APPLIED);
  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);
  for (guint g = 0; g < SPOT_GRANULARITY_COUNT; g++)
    {
      if (g == SPOT_GRANULARITY_FOUR_HOUR)
        continue;
      const SpotCandleUpdate *u
          = find_update (out->complete, (SpotGranularity)g, g == 0 ? DAY0 + 60 : DAY0);
      g_assert_nonnull (u);
      g_assert_cmpint (u->kind, ==, SPOT_CANDLE_UPDATE_REPAIR);
      if (g > 0)
        {
          assert_dec (u->candle.open, "98");
          assert_dec (u->candle.close, "200");
          assert_dec (u->candle.low, "97");
          assert_dec (u->candle.high, "200");
          assert_dec (u->candle.volume, "5.25");
          g_assert_cmpint (u->candle.trades, ==, SPOT_CANDLE_TRADES_UNKNOWN);
          g_assert_cmpuint (u->candle.last_trade_id, ==, 2);
        }
    }
  check_revs_and_clear (f);

  /* The minute is final: a live trade for it is dropped. */
  SpotTrade again = trade_at ("BTC-USD", 3, 119000, "1", "1");
  add (f, &again, 1);
  SpotEngineStats s;
  spot_candle_builder_get_stats (f->builder, &s);
  g_assert_cmpuint (s.trades_rest_dropped, ==, 1);
  assert_dec (candle (f, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 60).low, "97");
}

static void
test_repair_of_last_minute_of_hour_after_hour_completed (Fixture *f, gconstpointer data)
{
  const gint64 hour_ms = 3600 * 1000;
  SpotTrade t = trade_at ("BTC-USD", 1, hour_ms - 30000, "100", "1");
  fixture_teardown (f, NULL);
  fixture_setup_with (f, NULL, hour_ms - 30000);
  add (f, &t, 1);
  spot_candle_builder_mark_dirty (f->builder, "BTC-USD", DAY0 + 3540, DAY0 + 3540,
                                  SPOT_DIRTY_REASON_DISCONNECT);
  /* The hour completes after the repair wait expires. */
  for (gint64 ms = hour_ms; ms <= hour_ms + 2000 + f->options.repair_wait_ms; ms += 1000)
    {
      set_now (f, ms);
      spot_candle_builder_tick (f->builder);
    }
  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);
  const SpotCandleUpdate *h = find_update (out->complete, SPOT_GRANULARITY_ONE_HOUR, DAY0);
  g_assert_nonnull (h);
  g_assert_cmpint (h->kind, ==, SPOT_CANDLE_UPDATE_COMPLETE);
  guint64 rev = h->candle.rev;
  check_revs_and_clear (f);

  set_now (f, hour_ms + 60000);
  SpotCandle rest = rest_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 3540, "100", "120",
                                 "95", "110", "7");
  g_assert_cmpint (spot_candle_builder_repair (f->builder, &rest, NULL), ==, SPOT_REPAIR_APPLIED);
  h = find_update (out->complete, SPOT_GRANULARITY_ONE_HOUR, DAY0);
  g_assert_nonnull (h);
  g_assert_cmpint (h->kind, ==, SPOT_CANDLE_UPDATE_REPAIR);
  g_assert_true (h->candle.complete);
  g_assert_cmpuint (h->candle.rev, >, rev);
  assert_dec (h->candle.high, "120");
  assert_dec (h->candle.close, "110");
  assert_dec (h->candle.volume, "7");
  const SpotCandleUpdate *two = find_update (out->complete, SPOT_GRANULARITY_TWO_HOUR, DAY0);
  g_assert_nonnull (two);
  g_assert_false (two->candle.complete);
  assert_dec (two->candle.high, "120");
  check_revs_and_clear (f);
}

static void
test_repair_results (Fixture *f, gconstpointer data)
{
  SpotTrade t = trade_at ("BTC-USD", 1, 10000, "100", "1");
  set_now (f, 10000);
  add (f, &t, 1);

  /* Open minute: never. */
  SpotCandle open
      = rest_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0, "1", "1", "1", "1", "1");
  g_assert_cmpint (spot_candle_builder_repair (f->builder, &open, NULL), ==,
                   SPOT_REPAIR_REJECTED_OPEN);
  assert_dec (candle (f, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0).open, "100");

  /* Beyond the horizon: abandoned. */
  SpotCandle old = rest_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 - 26 * 3600, "1", "1",
                                "1", "1", "1");
  g_assert_cmpint (spot_candle_builder_repair (f->builder, &old, NULL), ==, SPOT_REPAIR_ABANDONED);

  /* Yesterday evening: the database's job; today's day bucket is in memory
   * only for minutes of today, so nothing of yesterday is. */
  SpotCandle yesterday
      = rest_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 - 3600, "1", "1", "1", "1", "1");
  SpotGranularity level = SPOT_GRANULARITY_ONE_MINUTE;
  g_assert_cmpint (spot_candle_builder_repair (f->builder, &yesterday, &level), ==,
                   SPOT_REPAIR_NEEDS_DATABASE);
  g_assert_cmpint (level, ==, SPOT_GRANULARITY_INVALID);

  /* Unaligned or unknown: invalid. */
  SpotCandle bad = open;
  bad.start += 1;
  g_assert_cmpint (spot_candle_builder_repair (f->builder, &bad, NULL), ==, SPOT_REPAIR_INVALID);
  SpotCandle unknown = open;
  g_strlcpy (unknown.product_id, "NOPE-USD", sizeof unknown.product_id);
  g_assert_cmpint (spot_candle_builder_repair (f->builder, &unknown, NULL), ==,
                   SPOT_REPAIR_INVALID);
}

static void
test_repair_needs_database_then_replace_child (Fixture *f, gconstpointer data)
{
  /* Trades in minute 0; twenty minutes later minute 0's 5m bucket has left
   * memory but the 15m... also; the 30m and above are open. */
  SpotTrade t = trade_at ("BTC-USD", 1, 10000, "100", "1");
  set_now (f, 10000);
  add (f, &t, 1);
  for (gint64 s = 60; s <= 20 * 60; s += 10)
    {
      set_now (f, s * 1000);
      spot_candle_builder_tick (f->builder);
    }
  check_revs_and_clear (f);
  SpotCandle rest
      = rest_candle ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0, "100", "130", "90", "95", "5");
  SpotGranularity level;
  g_assert_cmpint (spot_candle_builder_repair (f->builder, &rest, &level), ==,
                   SPOT_REPAIR_NEEDS_DATABASE);
  g_assert_cmpint (level, ==, SPOT_GRANULARITY_THIRTY_MINUTE);

  /* The store recomputes the 15m from stored children and hands it back. */
  SpotCandle fifteen = rest_candle ("BTC-USD", SPOT_GRANULARITY_FIFTEEN_MINUTE, DAY0, "100", "130",
                                    "90", "95", "5");
  fifteen.complete = TRUE;
  g_assert_cmpint (spot_candle_builder_replace (f->builder, &fifteen), ==, SPOT_REPAIR_APPLIED);
  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);
  const SpotCandleUpdate *u = find_update (out->complete, SPOT_GRANULARITY_THIRTY_MINUTE, DAY0);
  g_assert_nonnull (u);
  g_assert_cmpint (u->kind, ==, SPOT_CANDLE_UPDATE_REPAIR);
  assert_dec (u->candle.high, "130");
  u = find_update (out->complete, SPOT_GRANULARITY_ONE_DAY, DAY0);
  g_assert_nonnull (u);
  assert_dec (u->candle.volume, "5");
  check_revs_and_clear (f);
}

/* ---- seeding ----------------------------------------------------------- */

static SpotCandle
stored (const char *product,
        SpotGranularity g,
        gint64 start,
        const char *o,
        const char *h,
        const char *l,
        const char *c,
        const char *v,
        gint64 trades,
        guint64 last,
        gboolean complete,
        guint64 rev)
{
  SpotCandle k = rest_candle (product, g, start, o, h, l, c, v);
  k.trades = trades;
  k.last_trade_id = last;
  k.complete = complete;
  k.rev = rev;
  k.ts_ns = at_ms (1000);
  return k;
}

static void
test_seeding_then_live_trades (Fixture *f, gconstpointer data)
{
  /* Restart at 00:02:30: minute 0 complete, minute 1 complete, minute 2
   * open, and every larger bucket open, all stored; last trade id 50. */
  set_now (f, 150000);
  spot_candle_builder_add_product (f->builder, "BTC-USD", TRUE);

  /* Live trades arrive before the stored rows: held. One replays id 50. */
  SpotTrade early[] = { trade_at ("BTC-USD", 50, 125000, "1", "1"),
                        trade_at ("BTC-USD", 51, 140000, "140", "1") };
  add (f, early, 2);
  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);
  g_assert_cmpuint (out->live->len, ==, 0);

  GArray *rows = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  SpotCandle r;
  r = stored ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0, "100", "110", "90", "105", "10", 10, 30,
              TRUE, 4);
  g_array_append_val (rows, r);
  r = stored ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 60, "105", "106", "104", "106", "2", 5,
              45, TRUE, 3);
  g_array_append_val (rows, r);
  r = stored ("BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 120, "106", "107", "106", "107", "1",
              1, 50, FALSE, 1);
  g_array_append_val (rows, r);
  for (guint g = 1; g < SPOT_GRANULARITY_COUNT; g++)
    {
      r = stored ("BTC-USD", (SpotGranularity)g, DAY0, "100", "110", "90", "107", "13", 16, 50,
                  FALSE, 7);
      g_array_append_val (rows, r);
    }
  spot_candle_builder_seed (f->builder, "BTC-USD", (SpotCandle *)rows->data, rows->len, 50);
  g_array_unref (rows);
  g_assert_cmpuint (out->live->len, ==, 0);
  spot_candle_builder_tick (f->builder); /* seeding: nothing emitted */
  g_assert_cmpuint (out->live->len + out->complete->len, ==, 0);

  spot_candle_builder_seed_end (f->builder, "BTC-USD");
  const SpotCandleUpdate *m = find_update (out->live, SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 120);
  g_assert_nonnull (m);
  assert_dec (m->candle.open, "106");
  assert_dec (m->candle.close, "140");
  assert_dec (m->candle.high, "140");
  assert_dec (m->candle.volume, "2");
  g_assert_cmpint (m->candle.trades, ==, 2);
  g_assert_cmpuint (m->candle.rev, ==, 2);
  const SpotCandleUpdate *d = find_update (out->live, SPOT_GRANULARITY_ONE_DAY, DAY0);
  g_assert_nonnull (d);
  assert_dec (d->candle.open, "100");
  assert_dec (d->candle.close, "140");
  assert_dec (d->candle.volume, "14");
  g_assert_cmpint (d->candle.trades, ==, 17);
  g_assert_cmpuint (d->candle.rev, ==, 8);
  check_revs_and_clear (f);

  SpotTrade live = trade_at ("BTC-USD", 52, 150000, "80", "1");
  add (f, &live, 1);
  d = find_update (out->live, SPOT_GRANULARITY_ONE_DAY, DAY0);
  assert_dec (d->candle.low, "80");
  check_revs_and_clear (f);

  SpotEngineStats s;
  spot_candle_builder_get_stats (f->builder, &s);
  g_assert_cmpuint (s.trades_held, ==, 2);
  g_assert_cmpuint (s.trades_duplicate, ==, 1);
}

static void
test_seeding_with_rest_minutes_and_hold_overflow (Fixture *f, gconstpointer data)
{
  SpotEngineOptions o;
  spot_engine_options_init_defaults (&o);
  o.seed_hold_limit = 2;
  fixture_teardown (f, NULL);
  fixture_setup_with (f, &o, 200000);

  spot_candle_builder_add_product (f->builder, "ETH-USD", TRUE);
  SpotTrade held[]
      = { trade_at ("ETH-USD", 5, 181000, "10", "1"), trade_at ("ETH-USD", 6, 182000, "11", "1"),
          trade_at ("ETH-USD", 7, 190000, "12", "1") };
  add (f, held, 3);
  g_assert_true (spot_candle_builder_is_dirty (f->builder, "ETH-USD", DAY0 + 180));

  /* Nothing stored: closed minutes from REST. */
  SpotCandle rest[] = {
    rest_candle ("ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 60, "5", "6", "4", "6", "1"),
    rest_candle ("ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 120, "6", "9", "6", "7", "2"),
  };
  spot_candle_builder_seed (f->builder, "ETH-USD", rest, 2, 4);
  spot_candle_builder_seed_end (f->builder, "ETH-USD");
  SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);
  const SpotCandleUpdate *seed5 = find_update (out->complete, SPOT_GRANULARITY_FIVE_MINUTE, DAY0);
  g_assert_nonnull (seed5);
  g_assert_cmpint (seed5->kind, ==, SPOT_CANDLE_UPDATE_SEED);
  /* The held trades' change follows the seed revisions, in order. */
  g_assert_null (find_update (out->live, SPOT_GRANULARITY_FIVE_MINUTE, DAY0));
  const SpotCandleUpdate *live5
      = find_last_update (out->complete, SPOT_GRANULARITY_FIVE_MINUTE, DAY0);
  g_assert_nonnull (live5);
  g_assert_cmpint (live5->kind, ==, SPOT_CANDLE_UPDATE_LIVE);
  assert_dec (live5->candle.open, "5");
  assert_dec (live5->candle.high, "11");
  assert_dec (live5->candle.close, "11");
  assert_dec (live5->candle.volume, "5");
  SpotEngineStats s;
  spot_candle_builder_get_stats (f->builder, &s);
  g_assert_cmpuint (s.trades_hold_overflow, ==, 1);
  check_revs_and_clear (f);
}

/* ---- divergence -------------------------------------------------------- */

static void
test_divergence_with_exchange_five_minute (Fixture *f, gconstpointer data)
{
  SpotTrade t[]
      = { trade_at ("BTC-USD", 1, 1000, "10", "1"), trade_at ("BTC-USD", 2, 2000, "12", "0.5") };
  set_now (f, 2000);
  add (f, t, 2);
  SpotCandle ex = rest_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, DAY0, "10", "12", "10",
                               "12", "1.50000000");
  spot_candle_builder_add_exchange_candle (f->builder, &ex);
  /* Second bucket: the exchange saw a different volume. */
  set_now (f, 302000);
  spot_candle_builder_tick (f->builder);
  set_now (f, 301000);
  SpotTrade u = trade_at ("BTC-USD", 3, 301000, "13", "1");
  add (f, &u, 1);
  SpotCandle ex2 = rest_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, DAY0 + 300, "13", "13",
                                "13", "13", "2");
  spot_candle_builder_add_exchange_candle (f->builder, &ex2);
  /* Third bucket: dirty, skipped. */
  set_now (f, 602000);
  spot_candle_builder_tick (f->builder);
  set_now (f, 601000);
  SpotTrade v = trade_at ("BTC-USD", 4, 601000, "14", "1");
  add (f, &v, 1);
  spot_candle_builder_mark_dirty (f->builder, "BTC-USD", DAY0 + 660, DAY0 + 660,
                                  SPOT_DIRTY_REASON_DISCONNECT);
  SpotCandle ex3 = rest_candle ("BTC-USD", SPOT_GRANULARITY_FIVE_MINUTE, DAY0 + 600, "14", "14",
                                "14", "14", "1");
  spot_candle_builder_add_exchange_candle (f->builder, &ex3);

  set_now (f, 902000 + f->options.repair_wait_ms);
  spot_candle_builder_tick (f->builder);
  SpotEngineStats s;
  spot_candle_builder_get_stats (f->builder, &s);
  g_assert_cmpuint (s.divergence_compared, ==, 2);
  g_assert_cmpuint (s.divergence_count, ==, 1);
  g_assert_cmpuint (s.divergence_skipped, ==, 1);
}

/* ---- products ---------------------------------------------------------- */

static void
test_removed_product_ignored_until_added (Fixture *f, gconstpointer data)
{
  SpotTrade t = trade_at ("BTC-USD", 1, 1000, "10", "1");
  set_now (f, 1000);
  add (f, &t, 1);
  spot_candle_builder_remove_product (f->builder, "BTC-USD");
  g_assert_false (spot_candle_builder_has_product (f->builder, "BTC-USD"));
  SpotTrade u = trade_at ("BTC-USD", 2, 2000, "10", "1");
  add (f, &u, 1);
  SpotEngineStats s;
  spot_candle_builder_get_stats (f->builder, &s);
  g_assert_cmpuint (s.trades_unknown_product, ==, 1);
  g_assert_cmpuint (s.products, ==, 2); /* ETH-USD and SOL-USD of the fixture */
  spot_candle_builder_add_product (f->builder, "BTC-USD", FALSE);
  SpotTrade v = trade_at ("BTC-USD", 3, 3000, "11", "1");
  add (f, &v, 1);
  g_assert_cmpint (candle (f, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0).trades, ==, 1);
  g_assert_cmpuint (spot_candle_builder_bytes_per_product (f->builder), <, 32 * 1024);
}

static void
test_multi_product_interleaved_batch (Fixture *f, gconstpointer data)
{
  SpotTrade t[] = {
    trade_at ("ETH-USD", 9, 3000, "3", "1"),
    trade_at ("BTC-USD", 5, 2000, "2", "1"),
    trade_at ("ETH-USD", 8, 1000, "1", "1"),
    trade_at ("BTC-USD", 4, 1000, "1", "1"),
  };
  set_now (f, 3000);
  add (f, t, 4);
  SpotCandle b = candle (f, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0);
  SpotCandle e = candle (f, "ETH-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0);
  g_assert_cmpint (b.trades, ==, 2);
  g_assert_cmpint (e.trades, ==, 2);
  assert_dec (e.open, "1");
  assert_dec (e.close, "3");
  g_assert_cmpuint (spot_candle_builder_get_output (f->builder)->live->len, ==, 16);
}

static void
test_revisions_only_grow_over_a_busy_hour (Fixture *f, gconstpointer data)
{
  /* Trades every 7 s for two hours, with late ones and ticks in between;
   * check_revs_and_clear asserts growth per key on every output. */
  guint64 id = 1;
  for (gint64 ms = 0; ms < 2 * 3600 * 1000; ms += 7000)
    {
      set_now (f, ms + 500);
      SpotTrade t[2] = { trade_at ("BTC-USD", id + 1, ms, "100.5", "0.1"),
                         trade_at ("BTC-USD", id, ms - 61000, "99", "0.2") };
      id += 2;
      add (f, t, 2);
      spot_candle_builder_tick (f->builder);
      check_revs_and_clear (f);
    }
  SpotEngineStats s;
  spot_candle_builder_get_stats (f->builder, &s);
  g_assert_cmpuint (s.trades_corrected, >, 0);
  g_assert_cmpuint (s.updates_complete, >, 0);
}

static void
test_a_day_completes_every_bucket_once (Fixture *f, gconstpointer data)
{
  /* A trade every 30 s for a day, ticking as a worker would: every bucket
   * completes exactly once, nothing is evicted early, state stays bounded. */
  guint completes[SPOT_GRANULARITY_COUNT] = { 0 };
  SpotCandle day = { 0 };
  guint64 id = 1;
  for (gint64 ms = 0; ms <= 86400 * 1000 + 400 * 1000; ms += 30000)
    {
      set_now (f, ms);
      if (ms < 86400 * 1000)
        {
          SpotTrade t = trade_at ("BTC-USD", id++, ms, "100", "1");
          add (f, &t, 1);
        }
      spot_candle_builder_tick (f->builder);
      SpotCandleOutput *out = spot_candle_builder_get_output (f->builder);
      for (guint i = 0; i < out->complete->len; i++)
        {
          SpotCandleUpdate *u = &g_array_index (out->complete, SpotCandleUpdate, i);
          g_assert_cmpint (u->kind, ==, SPOT_CANDLE_UPDATE_COMPLETE);
          completes[u->candle.granularity]++;
          if (u->candle.granularity == SPOT_GRANULARITY_ONE_DAY)
            day = u->candle;
        }
      check_revs_and_clear (f);
    }
  g_assert_cmpuint (completes[SPOT_GRANULARITY_ONE_MINUTE], ==, 1440);
  g_assert_cmpuint (completes[SPOT_GRANULARITY_FIVE_MINUTE], ==, 288);
  g_assert_cmpuint (completes[SPOT_GRANULARITY_FIFTEEN_MINUTE], ==, 96);
  g_assert_cmpuint (completes[SPOT_GRANULARITY_THIRTY_MINUTE], ==, 48);
  g_assert_cmpuint (completes[SPOT_GRANULARITY_ONE_HOUR], ==, 24);
  g_assert_cmpuint (completes[SPOT_GRANULARITY_TWO_HOUR], ==, 12);
  g_assert_cmpuint (completes[SPOT_GRANULARITY_FOUR_HOUR], ==, 0); /* not in the output */
  g_assert_cmpuint (completes[SPOT_GRANULARITY_SIX_HOUR], ==, 4);
  g_assert_cmpuint (completes[SPOT_GRANULARITY_ONE_DAY], ==, 1);
  g_assert_cmpint (day.trades, ==, 2880);
  g_assert_true (day.complete);
  /* Released after its window: the state of the day is gone. */
  SpotCandle gone;
  g_assert_false (spot_candle_builder_get_candle (f->builder, "BTC-USD", SPOT_GRANULARITY_ONE_DAY,
                                                  DAY0, &gone));
  g_assert_false (spot_candle_builder_get_candle (
      f->builder, "BTC-USD", SPOT_GRANULARITY_ONE_MINUTE, DAY0 + 86340, &gone));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn)                                                                              \
  g_test_add ("/candle-builder/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("minute-open-close-by-time-then-trade-id", test_minute_open_close_by_time_then_trade_id);
  ADD ("exact-decimals", test_exact_decimals);
  ADD ("live-updates-one-per-key-per-batch", test_live_updates_one_per_key_per_batch);
  ADD ("levels-outside-output-still-built", test_levels_outside_output_still_built);
  ADD ("day-six-hour-four-hour-boundaries", test_day_six_hour_four_hour_boundaries);
  ADD ("replayed-duplicates-dropped", test_replayed_duplicates_dropped);
  ADD ("duplicates-after-restart-with-stored-mark", test_duplicates_after_restart_with_stored_mark);
  ADD ("completes-without-later-trade", test_completes_without_later_trade);
  ADD ("completion-waits-for-pending-repair", test_completion_waits_for_pending_repair);
  ADD ("completion-gives-up-waiting-after-timeout", test_completion_gives_up_waiting_after_timeout);
  ADD ("correction-inside-window-then-drop-after", test_correction_inside_window_then_drop_after);
  ADD ("late-trade-for-stateless-bucket-changes-nothing",
       test_late_trade_for_stateless_bucket_changes_nothing);
  ADD ("rest-minute-replaces-partial-minute-and-ancestors-follow",
       test_rest_minute_replaces_partial_minute_and_ancestors_follow);
  ADD ("repair-of-last-minute-of-hour-after-hour-completed",
       test_repair_of_last_minute_of_hour_after_hour_completed);
  ADD ("repair-results", test_repair_results);
  ADD ("repair-needs-database-then-replace-child", test_repair_needs_database_then_replace_child);
  ADD ("seeding-then-live-trades", test_seeding_then_live_trades);
  ADD ("seeding-with-rest-minutes-and-hold-overflow",
       test_seeding_with_rest_minutes_and_hold_overflow);
  ADD ("divergence-with-exchange-five-minute", test_divergence_with_exchange_five_minute);
  ADD ("removed-product-ignored-until-added", test_removed_product_ignored_until_added);
  ADD ("multi-product-interleaved-batch", test_multi_product_interleaved_batch);
  ADD ("revisions-only-grow-over-a-busy-hour", test_revisions_only_grow_over_a_busy_hour);
  ADD ("a-day-completes-every-bucket-once", test_a_day_completes_every_bucket_once);
#undef ADD

  return g_test_run ();
}
