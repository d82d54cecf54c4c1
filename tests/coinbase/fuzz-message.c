/* fuzz-message.c: differential fuzz target of the message parser.
 *
 * Every input is parsed twice: by the service's parser (lean fast path for
 * market_trades, json-glib otherwise) and by json-glib alone (the oracle).
 * Both results must be identical, and every trade and candle that comes out
 * must satisfy the model's invariants. Built as a libFuzzer target with
 * clang (-fsanitize=fuzzer), and always as a standalone driver that runs
 * the seed corpus and then random mutations for SPOT_FUZZ_SECONDS (the
 * `slow` suite). docs/coinbase.md gives the commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "coinbase/spot-coinbase-message.h"
#include "model/spot-trade.h"

static SpotCoinbaseParser *fast_parser, *oracle_parser;

static void
check_same (const SpotCoinbaseMessage *a, const SpotCoinbaseMessage *b)
{
  g_assert_cmpint (a->kind, ==, b->kind);
  g_assert_cmpint (a->sequence_num, ==, b->sequence_num);
  g_assert_cmpint (a->timestamp_ns, ==, b->timestamp_ns);
  g_assert_cmpint (a->snapshot, ==, b->snapshot);
  g_assert_cmpuint (a->n_rejected, ==, b->n_rejected);
  g_assert_cmpint (a->heartbeat_counter, ==, b->heartbeat_counter);
  g_assert_true ((a->trades == NULL) == (b->trades == NULL));
  if (a->trades != NULL)
    {
      g_assert_cmpuint (a->trades->n_trades, ==, b->trades->n_trades);
      g_assert_cmpint (a->trades->message_ns, ==, b->trades->message_ns);
      g_assert_cmpint (a->trades->receive_ns, ==, b->trades->receive_ns);
      for (guint i = 0; i < a->trades->n_trades; i++)
        {
          const SpotTrade *x = &a->trades->trades[i], *y = &b->trades->trades[i];
          g_assert_cmpstr (x->product_id, ==, y->product_id);
          g_assert_cmpuint (x->trade_id, ==, y->trade_id);
          g_assert_cmpint (x->time_ns, ==, y->time_ns);
          g_assert_cmpint (x->message_ns, ==, y->message_ns);
          g_assert_cmpint (x->side, ==, y->side);
          g_assert_true (x->price.units == y->price.units && x->price.scale == y->price.scale);
          g_assert_true (x->size.units == y->size.units && x->size.scale == y->size.scale);
          /* Nothing invalid reaches a batch. */
          g_assert_true (spot_trade_validate (x, NULL));
          g_assert_true (x->price.units > 0 && x->size.units > 0);
        }
    }
  g_assert_true ((a->candles == NULL) == (b->candles == NULL));
  if (a->candles != NULL)
    {
      g_assert_cmpuint (a->candles->len, ==, b->candles->len);
      for (guint i = 0; i < a->candles->len; i++)
        {
          const SpotCandle *c = &g_array_index (a->candles, SpotCandle, i);
          g_assert_true (spot_candle_values_equal (c, &g_array_index (b->candles, SpotCandle, i)));
          g_assert_true (spot_candle_validate (c, NULL));
        }
    }
  g_assert_cmpstr (a->error_message, ==, b->error_message);
}

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  if (fast_parser == NULL)
    {
      fast_parser = spot_coinbase_parser_new ();
      oracle_parser = spot_coinbase_parser_new ();
      spot_coinbase_parser_set_json_only (oracle_parser, TRUE);
    }
  SpotCoinbaseMessage a, b;
  spot_coinbase_message_init (&a);
  spot_coinbase_message_init (&b);
  gboolean ok_a
      = spot_coinbase_parser_parse (fast_parser, (const char *)data, size, 1, 0, &a, NULL);
  gboolean ok_b
      = spot_coinbase_parser_parse (oracle_parser, (const char *)data, size, 1, 0, &b, NULL);
  g_assert_cmpint (ok_a, ==, ok_b);
  if (ok_a)
    check_same (&a, &b);
  spot_coinbase_message_clear (&a);
  spot_coinbase_message_clear (&b);
  return 0;
}

#ifdef SPOT_FUZZ_STANDALONE
/* A small mutation loop for machines without libFuzzer. */
static GByteArray *
mutate (GRand *rand, GPtrArray *seeds)
{
  GByteArray *src = g_ptr_array_index (seeds, g_rand_int_range (rand, 0, (gint)seeds->len));
  GByteArray *out = g_byte_array_new ();
  g_byte_array_append (out, src->data, src->len);
  static const char *tokens[] = { "\"",
                                  "{",
                                  "}",
                                  "[",
                                  "]",
                                  ",",
                                  ":",
                                  "\\",
                                  "-",
                                  "0",
                                  "1e999",
                                  "NaN",
                                  "null",
                                  "\"trades\":",
                                  "\"price\":\"-1\"",
                                  "\"market_trades\"",
                                  "\"snapshot\"",
                                  "\"sequence_num\":",
                                  "99999999999999999999",
                                  "\xc3\xa9",
                                  "\x00",
                                  " ",
                                  ".",
                                  "\"time\":\"2026-04-07T14:30:02Z\"",
                                  "\"heartbeat_counter\":\"7\"" };
  guint n = (guint)g_rand_int_range (rand, 1, 6);
  for (guint i = 0; i < n; i++)
    {
      guint pos = out->len > 0 ? (guint)g_rand_int_range (rand, 0, (gint)out->len + 1) : 0;
      switch (g_rand_int_range (rand, 0, 5))
        {
        case 0: /* flip a byte */
          if (out->len > 0)
            out->data[MIN (pos, out->len - 1)] ^= (guint8)(1u << g_rand_int_range (rand, 0, 8));
          break;
        case 1: /* delete a span */
          if (out->len > 0 && pos < out->len)
            {
              guint span = (guint)g_rand_int_range (rand, 1, 16);
              g_byte_array_remove_range (out, pos, MIN (out->len - pos, span));
            }
          break;
        case 2: /* insert a token */
          {
            const char *t = tokens[g_rand_int_range (rand, 0, G_N_ELEMENTS (tokens))];
            gsize tl = t[0] == '\0' ? 1 : strlen (t);
            GByteArray *tmp = g_byte_array_new ();
            g_byte_array_append (tmp, out->data, pos);
            g_byte_array_append (tmp, (const guint8 *)t, (guint)tl);
            g_byte_array_append (tmp, out->data + pos, out->len - pos);
            g_byte_array_unref (out);
            out = tmp;
            break;
          }
        case 3: /* replace a digit */
          for (guint k = pos; k < out->len; k++)
            if (out->data[k] >= '0' && out->data[k] <= '9')
              {
                out->data[k] = (guint8)('0' + g_rand_int_range (rand, 0, 10));
                break;
              }
          break;
        default: /* truncate */
          g_byte_array_set_size (out, pos);
          break;
        }
    }
  return out;
}

int
main (int argc, char **argv)
{
  /* A critical is a finding too. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_FATAL_MASK);
  GPtrArray *seeds = g_ptr_array_new_with_free_func ((GDestroyNotify)g_byte_array_unref);
  const char *dir_path = argc > 1 ? argv[1] : NULL;
  g_autofree char *default_dir = NULL;
  if (dir_path == NULL)
    dir_path = default_dir = g_build_filename (
        g_getenv ("SPOT_SOURCE_ROOT") != NULL ? g_getenv ("SPOT_SOURCE_ROOT") : ".", "tests",
        "coinbase", "fuzz-corpus", NULL);
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      gchar *contents = NULL;
      gsize len = 0;
      if (g_file_get_contents (path, &contents, &len, NULL))
        {
          GByteArray *b = g_byte_array_new_take ((guint8 *)contents, len);
          LLVMFuzzerTestOneInput (b->data, b->len);
          g_ptr_array_add (seeds, b);
        }
    }
  if (seeds->len == 0)
    {
      printf ("1..0 # SKIP no seed corpus in %s\n", dir_path);
      return 77;
    }
  const char *secs_env = g_getenv ("SPOT_FUZZ_SECONDS");
  gint64 secs = secs_env != NULL ? g_ascii_strtoll (secs_env, NULL, 10) : 60;
  GRand *rand = g_rand_new ();
  gint64 end = g_get_monotonic_time () + secs * G_USEC_PER_SEC;
  guint64 runs = 0;
  while (g_get_monotonic_time () < end)
    for (guint i = 0; i < 1000; i++, runs++)
      {
        GByteArray *m = mutate (rand, seeds);
        LLVMFuzzerTestOneInput (m->data, m->len);
        /* Keep some mutants as seeds so mutations compound. */
        if (g_rand_int_range (rand, 0, 50) == 0 && seeds->len < 4096)
          g_ptr_array_add (seeds, m);
        else
          g_byte_array_unref (m);
      }
  printf ("1..1\nok 1 /coinbase/fuzz-message %" G_GUINT64_FORMAT " inputs in %" G_GINT64_FORMAT
          " s, no finding\n",
          runs, secs);
  g_rand_free (rand);
  g_ptr_array_unref (seeds);
  spot_coinbase_parser_free (fast_parser);
  spot_coinbase_parser_free (oracle_parser);
  return 0;
}
#endif
