/* spot-candle.c: candle invariants, keys and numeric equality. */
#define G_LOG_DOMAIN "spot-model"

#include "model/spot-candle.h"

#include <string.h>

#include "core/spot-error.h"

static gboolean
invalid (GError **error, const SpotCandle *c, const char *field, const char *why)
{
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
               "candle %.33s %s start %" G_GINT64_FORMAT ": %s %s", c->product_id,
               c->granularity >= 0 && c->granularity < SPOT_GRANULARITY_COUNT
                   ? spot_granularity_name (c->granularity)
                   : "?",
               c->start, field, why);
  return FALSE;
}

static gboolean
invalid_decimal (
    GError **error, const SpotCandle *c, const char *field, const SpotDecimal *d, const char *why)
{
  char buf[SPOT_DECIMAL_BUFSIZE];
  g_autofree char *message = NULL;

  spot_decimal_format (d, buf, sizeof buf);
  message = g_strdup_printf ("%s %s", buf, why);
  return invalid (error, c, field, message);
}

gboolean
spot_candle_validate (const SpotCandle *c, GError **error)
{
  g_return_val_if_fail (c != NULL, FALSE);

  if (memchr (c->product_id, '\0', sizeof c->product_id) == NULL)
    {
      g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                           "candle product_id is not terminated");
      return FALSE;
    }
  if (!spot_product_id_validate (c->product_id, error))
    {
      g_prefix_error (error, "candle product_id: ");
      return FALSE;
    }
  if (c->granularity < 0 || c->granularity >= SPOT_GRANULARITY_COUNT)
    return invalid (error, c, "granularity", "is not a known granularity");
  if (spot_granularity_align (c->granularity, c->start) != c->start)
    return invalid (error, c, "start", "is not aligned to the granularity");

  const struct
  {
    const char *name;
    const SpotDecimal *value;
  } prices[] = {
    { "open", &c->open },
    { "high", &c->high },
    { "low", &c->low },
    { "close", &c->close },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (prices); i++)
    if (prices[i].value->units <= 0)
      return invalid_decimal (error, c, prices[i].name, prices[i].value, "is not positive");

  if (spot_decimal_compare (&c->low, &c->high) > 0)
    return invalid_decimal (error, c, "low", &c->low, "is above high");
  if (spot_decimal_compare (&c->open, &c->low) < 0 || spot_decimal_compare (&c->open, &c->high) > 0)
    return invalid_decimal (error, c, "open", &c->open, "is outside low..high");
  if (spot_decimal_compare (&c->close, &c->low) < 0
      || spot_decimal_compare (&c->close, &c->high) > 0)
    return invalid_decimal (error, c, "close", &c->close, "is outside low..high");
  if (c->volume.units < 0)
    return invalid_decimal (error, c, "volume", &c->volume, "is negative");
  if (c->trades < 0 && c->trades != SPOT_CANDLE_TRADES_UNKNOWN)
    return invalid (error, c, "trades", "is negative");
  return TRUE;
}

gsize
spot_candle_key (const SpotCandle *candle, char *buf, gsize size)
{
  g_return_val_if_fail (candle != NULL, 0);
  g_return_val_if_fail (buf != NULL && size > 0, 0);

  const char *gname = candle->granularity >= 0 && candle->granularity < SPOT_GRANULARITY_COUNT
                          ? spot_granularity_name (candle->granularity)
                          : "INVALID";
  gsize plen = strnlen (candle->product_id, sizeof candle->product_id);
  gsize glen = strlen (gname);
  gsize len = plen + 1 + glen;

  if (len + 1 > size)
    {
      g_critical ("%s: buffer of %" G_GSIZE_FORMAT " bytes is too small", G_STRFUNC, size);
      buf[0] = '\0';
      return 0;
    }
  memcpy (buf, candle->product_id, plen);
  buf[plen] = '.';
  memcpy (buf + plen + 1, gname, glen);
  buf[len] = '\0';
  return len;
}

gboolean
spot_candle_values_equal (const SpotCandle *a, const SpotCandle *b)
{
  return strncmp (a->product_id, b->product_id, sizeof a->product_id) == 0
         && a->granularity == b->granularity && a->start == b->start
         && spot_decimal_equal (&a->open, &b->open) && spot_decimal_equal (&a->high, &b->high)
         && spot_decimal_equal (&a->low, &b->low) && spot_decimal_equal (&a->close, &b->close)
         && spot_decimal_equal (&a->volume, &b->volume);
}

const char *
spot_candle_update_kind_to_string (SpotCandleUpdateKind kind)
{
  switch (kind)
    {
    case SPOT_CANDLE_UPDATE_LIVE:
      return "live";
    case SPOT_CANDLE_UPDATE_COMPLETE:
      return "complete";
    case SPOT_CANDLE_UPDATE_CORRECTION:
      return "correction";
    case SPOT_CANDLE_UPDATE_REPAIR:
      return "repair";
    case SPOT_CANDLE_UPDATE_SEED:
      return "seed";
    }
  return "unknown";
}
