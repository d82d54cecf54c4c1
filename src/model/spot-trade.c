/* spot-trade.c: trade ids, validation and ordering. */
#define G_LOG_DOMAIN "spot-model"

#include "model/spot-trade.h"

#include <string.h>

#include "core/spot-error.h"
#include "model/spot-time.h"

/* 2000-01-01T00:00:00Z. */
#define TRADE_TIME_MIN_NS (G_GINT64_CONSTANT (946684800) * SPOT_NS_PER_SECOND)

gboolean
spot_trade_id_parse (const char *text, gssize len, guint64 *out, GError **error)
{
  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  gsize n = len < 0 ? strlen (text) : (gsize)len;
  guint64 v = 0;

  if (n == 0)
    {
      g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_PARSE, "empty trade id");
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    {
      guint digit = (guint)(text[i] - '0');

      if (digit > 9)
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                       "trade id \"%.*s\" is not an unsigned decimal number", (int)MIN (n, 64),
                       text);
          return FALSE;
        }
      if (__builtin_mul_overflow (v, 10, &v) || __builtin_add_overflow (v, digit, &v))
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                       "trade id \"%.*s\" is larger than 18446744073709551615", (int)MIN (n, 64),
                       text);
          return FALSE;
        }
    }
  *out = v;
  return TRUE;
}

gboolean
spot_trade_validate (const SpotTrade *trade, GError **error)
{
  g_return_val_if_fail (trade != NULL, FALSE);

  char buf[SPOT_DECIMAL_BUFSIZE];

  if (memchr (trade->product_id, '\0', sizeof trade->product_id) == NULL
      || !spot_product_id_validate (trade->product_id, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                             "trade product_id is not terminated");
      return FALSE;
    }
  if (trade->trade_id == 0)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "trade of %s has trade_id 0; trade ids are positive", trade->product_id);
      return FALSE;
    }
  if (trade->price.units <= 0)
    {
      spot_decimal_format (&trade->price, buf, sizeof buf);
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "trade %" G_GUINT64_FORMAT " of %s has price %s; prices are positive",
                   trade->trade_id, trade->product_id, buf);
      return FALSE;
    }
  if (trade->size.units <= 0)
    {
      spot_decimal_format (&trade->size, buf, sizeof buf);
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "trade %" G_GUINT64_FORMAT " of %s has size %s; sizes are positive",
                   trade->trade_id, trade->product_id, buf);
      return FALSE;
    }
  if (trade->time_ns < TRADE_TIME_MIN_NS)
    {
      char tbuf[SPOT_TIME_BUFSIZE];
      spot_time_format_rfc3339 (trade->time_ns, tbuf, sizeof tbuf);
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "trade %" G_GUINT64_FORMAT " of %s has time %s, before 2000-01-01",
                   trade->trade_id, trade->product_id, tbuf);
      return FALSE;
    }
  return TRUE;
}

int
spot_trade_compare_time (const SpotTrade *a, const SpotTrade *b)
{
  if (a->time_ns != b->time_ns)
    return a->time_ns < b->time_ns ? -1 : 1;
  return (a->trade_id > b->trade_id) - (a->trade_id < b->trade_id);
}
