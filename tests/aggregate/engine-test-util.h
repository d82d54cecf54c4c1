/* engine-test-util.h: small helpers shared by the engine's unit tests. */
#pragma once

#include <glib.h>
#include <string.h>

#include "model/spot-candle.h"
#include "model/spot-decimal.h"
#include "model/spot-trade.h"

/* 2026-04-07 00:00:00 UTC, a day boundary. */
#define DAY0 G_GINT64_CONSTANT (1775520000)
#define NS_PER_S G_GINT64_CONSTANT (1000000000)
#define MS_NS G_GINT64_CONSTANT (1000000)

static inline SpotDecimal
dec (const char *text)
{
  SpotDecimal d;
  g_autoptr (GError) error = NULL;
  g_assert_true (spot_decimal_parse (text, -1, &d, &error));
  g_assert_no_error (error);
  return d;
}

static inline void
assert_dec (SpotDecimal d, const char *expected)
{
  SpotDecimal e = dec (expected);
  if (!spot_decimal_equal (&d, &e))
    {
      char buf[SPOT_DECIMAL_BUFSIZE];
      spot_decimal_format (&d, buf, sizeof buf);
      g_error ("decimal %s, expected %s", buf, expected);
    }
}

/* A trade at @t_ms milliseconds after DAY0. */
static inline SpotTrade
trade_at (const char *product, guint64 id, gint64 t_ms, const char *price, const char *size)
{
  SpotTrade t;
  memset (&t, 0, sizeof t);
  g_strlcpy (t.product_id, product, sizeof t.product_id);
  t.trade_id = id;
  t.time_ns = DAY0 * NS_PER_S + t_ms * MS_NS;
  t.message_ns = t.time_ns + 5 * MS_NS;
  t.price = dec (price);
  t.size = dec (size);
  t.side = SPOT_TRADE_SIDE_BUY;
  return t;
}

static inline gint64
at_ms (gint64 t_ms)
{
  return DAY0 * NS_PER_S + t_ms * MS_NS;
}

/* A REST-style candle (no trades, no ids, no ts). */
static inline SpotCandle
rest_candle (const char *product,
             SpotGranularity g,
             gint64 start,
             const char *o,
             const char *h,
             const char *l,
             const char *c,
             const char *v)
{
  SpotCandle k;
  memset (&k, 0, sizeof k);
  g_strlcpy (k.product_id, product, sizeof k.product_id);
  k.granularity = g;
  k.start = start;
  k.open = dec (o);
  k.high = dec (h);
  k.low = dec (l);
  k.close = dec (c);
  k.volume = dec (v);
  k.trades = SPOT_CANDLE_TRADES_UNKNOWN;
  k.last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  k.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  return k;
}

/* Realistic Coinbase-style product ids (bases x quotes; 756 of them), then
 * numbered tokens. */
static inline GPtrArray *
realistic_product_ids (guint n)
{
  static const char *bases[] = {
    "BTC",  "ETH",   "SOL",   "XRP",   "ADA",  "DOGE",  "AVAX", "DOT",  "LINK",  "MATIC", "LTC",
    "BCH",  "UNI",   "ATOM",  "XLM",   "ETC",  "FIL",   "APT",  "ARB",  "OP",    "NEAR",  "ICP",
    "AAVE", "GRT",   "ALGO",  "SAND",  "MANA", "AXS",   "EOS",  "XTZ",  "CRV",   "MKR",   "SNX",
    "COMP", "YFI",   "SUSHI", "1INCH", "BAT",  "ZRX",   "ENJ",  "CHZ",  "LRC",   "IMX",   "RNDR",
    "INJ",  "SEI",   "SUI",   "TIA",   "PEPE", "SHIB",  "BONK", "WIF",  "FET",   "AGIX",  "OCEAN",
    "ANKR", "STORJ", "SKL",   "CELO",  "FLOW", "HBAR",  "VET",  "QNT",  "EGLD",  "KSM",   "ZEC",
    "DASH", "MINA",  "ROSE",  "KAVA",  "GLM",  "API3",  "BAND", "UMA",  "BAL",   "REN",   "NMR",
    "OXT",  "CVC",   "DNT",   "MLN",   "NKN",  "OGN",   "CTSI", "AMP",  "AUDIO", "BICO",  "BLZ",
    "C98",  "CLV",   "COTI",  "DIA",   "FARM", "FORTH", "GTC",  "IOTX", "JASMY", "KNC",   "LPT",
    "MASK", "MDT",   "PERP",  "POLS",  "POWR", "QUICK", "RAD",  "RARI", "REQ",
  };
  static const char *quotes[] = { "USD", "USDC", "EUR", "GBP", "USDT", "BTC", "ETH" };
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  for (guint q = 0; q < G_N_ELEMENTS (quotes) && ids->len < n; q++)
    for (guint b = 0; b < G_N_ELEMENTS (bases) && ids->len < n; b++)
      if (strcmp (bases[b], quotes[q]) != 0)
        g_ptr_array_add (ids, g_strdup_printf ("%s-%s", bases[b], quotes[q]));
  /* Beyond the real-looking ones: numbered tokens. */
  for (guint i = 0; ids->len < n; i++)
    g_ptr_array_add (ids, g_strdup_printf ("TKN%u-USD", i));
  return ids;
}
