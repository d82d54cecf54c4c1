/* spot-sim-wire.c: Coinbase's text forms. */
#define G_LOG_DOMAIN "spot-exchange-sim"

#include "spot-sim-wire.h"

#include <time.h>

static gint64
floor_div (gint64 a, gint64 b)
{
  gint64 q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0)))
    q--;
  return q;
}

/* "2026-04-07T14:30:02", or with a space instead of the T. */
static void
format_second (char *buf, gsize len, gint64 second, char separator)
{
  time_t t = (time_t)second;
  struct tm tm;
  gmtime_r (&t, &tm);
  g_snprintf (buf, len, "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, separator, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void
spot_sim_append_rfc3339_ns (GString *out, gint64 time_ns)
{
  gint64 sec = floor_div (time_ns, 1000000000);
  char buf[32];
  format_second (buf, sizeof buf, sec, 'T');
  g_string_append_printf (out, "%s.%09" G_GINT64_FORMAT "Z", buf, time_ns - sec * 1000000000);
}

void
spot_sim_append_rfc3339_us (GString *out, SpotSimTimeCache *cache, gint64 time_us)
{
  gint64 sec = floor_div (time_us, G_USEC_PER_SEC);
  if (!cache->valid || cache->second != sec)
    {
      format_second (cache->text, sizeof cache->text, sec, 'T');
      cache->second = sec;
      cache->valid = TRUE;
    }
  g_string_append (out, cache->text);
  char frac[10];
  gint64 us = time_us - sec * G_USEC_PER_SEC;
  /* Hand-rolled: printf is the hot spot of a large batch. */
  frac[0] = '.';
  for (gint i = 6; i >= 1; i--)
    {
      frac[i] = (char)('0' + us % 10);
      us /= 10;
    }
  frac[7] = 'Z';
  g_string_append_len (out, frac, 8);
}

void
spot_sim_append_go_time (GString *out, gint64 time_ns, gint64 uptime_ns)
{
  gint64 sec = floor_div (time_ns, 1000000000);
  char buf[32];
  format_second (buf, sizeof buf, sec, ' ');
  g_string_append_printf (
      out, "%s.%09" G_GINT64_FORMAT " +0000 UTC m=+%" G_GINT64_FORMAT ".%09" G_GINT64_FORMAT, buf,
      time_ns - sec * 1000000000, uptime_ns / 1000000000, uptime_ns % 1000000000);
}

static void
append_i64 (GString *out, gint64 v)
{
  char buf[24];
  gint n = 0;
  guint64 u = v < 0 ? (guint64)(-(v + 1)) + 1 : (guint64)v;
  do
    {
      buf[n++] = (char)('0' + u % 10);
      u /= 10;
    }
  while (u > 0);
  if (v < 0)
    g_string_append_c (out, '-');
  while (n > 0)
    g_string_append_c (out, buf[--n]);
}

void
spot_sim_append_trade (GString *out,
                       SpotSimTimeCache *cache,
                       const SpotSimProductInfo *product,
                       const SpotSimTrade *trade)
{
  g_string_append (out, "{\"trade_id\":\"");
  append_i64 (out, trade->trade_id);
  g_string_append (out, "\",\"product_id\":\"");
  g_string_append (out, product->product_id);
  g_string_append (out, "\",\"price\":\"");
  spot_sim_format_decimal (out, trade->price, product->quote_exp, FALSE);
  g_string_append (out, "\",\"size\":\"");
  spot_sim_format_decimal (out, trade->size, product->base_exp, FALSE);
  g_string_append (out, trade->buy ? "\",\"side\":\"BUY\",\"time\":\""
                                   : "\",\"side\":\"SELL\",\"time\":\"");
  spot_sim_append_rfc3339_us (out, cache, trade->time_us);
  g_string_append (out, "\"}");
}

void
spot_sim_append_candle (GString *out,
                        const SpotSimProductInfo *product,
                        const SpotSimCandle *c,
                        gboolean with_product_id)
{
  g_string_append (out, "{\"start\":\"");
  append_i64 (out, c->start);
  if (with_product_id)
    {
      /* The candles channel's order. */
      g_string_append (out, "\",\"high\":\"");
      spot_sim_format_decimal (out, c->high, product->quote_exp, TRUE);
      g_string_append (out, "\",\"low\":\"");
      spot_sim_format_decimal (out, c->low, product->quote_exp, TRUE);
      g_string_append (out, "\",\"open\":\"");
      spot_sim_format_decimal (out, c->open, product->quote_exp, TRUE);
      g_string_append (out, "\",\"close\":\"");
      spot_sim_format_decimal (out, c->close, product->quote_exp, TRUE);
      g_string_append (out, "\",\"volume\":\"");
      spot_sim_format_decimal (out, c->volume, product->base_exp, TRUE);
      g_string_append (out, "\",\"product_id\":\"");
      g_string_append (out, product->product_id);
      g_string_append (out, "\"}");
      return;
    }
  g_string_append (out, "\",\"low\":\"");
  spot_sim_format_decimal (out, c->low, product->quote_exp, TRUE);
  g_string_append (out, "\",\"high\":\"");
  spot_sim_format_decimal (out, c->high, product->quote_exp, TRUE);
  g_string_append (out, "\",\"open\":\"");
  spot_sim_format_decimal (out, c->open, product->quote_exp, TRUE);
  g_string_append (out, "\",\"close\":\"");
  spot_sim_format_decimal (out, c->close, product->quote_exp, TRUE);
  g_string_append (out, "\",\"volume\":\"");
  spot_sim_format_decimal (out, c->volume, product->base_exp, TRUE);
  g_string_append (out, "\"}");
}

void
spot_sim_append_json_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (; *s != '\0'; s++)
    {
      guchar c = (guchar)*s;
      if (c == '"' || c == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char)c);
        }
      else if (c < 0x20)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char)c);
    }
  g_string_append_c (out, '"');
}
