/* spot-granularity.c: Coinbase granularities and the roll-up tree. */
#define G_LOG_DOMAIN "spot-model"

#include "model/spot-granularity.h"

#include <string.h>

#include "core/spot-error.h"

typedef struct
{
  gint64 seconds;
  const char *name;
  const char *short_name;
  SpotGranularity child;
} GranularityInfo;

static const GranularityInfo infos[SPOT_GRANULARITY_COUNT] = {
  [SPOT_GRANULARITY_ONE_MINUTE] = { 60, "ONE_MINUTE", "1m", SPOT_GRANULARITY_INVALID },
  [SPOT_GRANULARITY_FIVE_MINUTE] = { 300, "FIVE_MINUTE", "5m", SPOT_GRANULARITY_ONE_MINUTE },
  [SPOT_GRANULARITY_FIFTEEN_MINUTE]
  = { 900, "FIFTEEN_MINUTE", "15m", SPOT_GRANULARITY_FIVE_MINUTE },
  [SPOT_GRANULARITY_THIRTY_MINUTE]
  = { 1800, "THIRTY_MINUTE", "30m", SPOT_GRANULARITY_FIFTEEN_MINUTE },
  [SPOT_GRANULARITY_ONE_HOUR] = { 3600, "ONE_HOUR", "1h", SPOT_GRANULARITY_THIRTY_MINUTE },
  [SPOT_GRANULARITY_TWO_HOUR] = { 7200, "TWO_HOUR", "2h", SPOT_GRANULARITY_ONE_HOUR },
  [SPOT_GRANULARITY_FOUR_HOUR] = { 14400, "FOUR_HOUR", "4h", SPOT_GRANULARITY_TWO_HOUR },
  [SPOT_GRANULARITY_SIX_HOUR] = { 21600, "SIX_HOUR", "6h", SPOT_GRANULARITY_TWO_HOUR },
  [SPOT_GRANULARITY_ONE_DAY] = { 86400, "ONE_DAY", "1d", SPOT_GRANULARITY_SIX_HOUR },
};

#define ALLOWED_NAMES                                                                              \
  "ONE_MINUTE, FIVE_MINUTE, FIFTEEN_MINUTE, THIRTY_MINUTE, ONE_HOUR, TWO_HOUR, FOUR_HOUR, "        \
  "SIX_HOUR, ONE_DAY or 1m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 1d"

static inline gboolean
is_valid (SpotGranularity g)
{
  return g >= 0 && g < SPOT_GRANULARITY_COUNT;
}

gint64
spot_granularity_seconds (SpotGranularity g)
{
  g_return_val_if_fail (is_valid (g), 0);
  return infos[g].seconds;
}

const char *
spot_granularity_name (SpotGranularity g)
{
  g_return_val_if_fail (is_valid (g), NULL);
  return infos[g].name;
}

const char *
spot_granularity_short_name (SpotGranularity g)
{
  g_return_val_if_fail (is_valid (g), NULL);
  return infos[g].short_name;
}

static gboolean
text_equals (const char *text, gsize len, const char *name)
{
  return strlen (name) == len && memcmp (text, name, len) == 0;
}

gboolean
spot_granularity_parse (const char *text, gssize len, SpotGranularity *out, GError **error)
{
  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  gsize n = len < 0 ? strlen (text) : (gsize)len;

  for (int g = 0; g < SPOT_GRANULARITY_COUNT; g++)
    {
      if (text_equals (text, n, infos[g].name) || text_equals (text, n, infos[g].short_name))
        {
          *out = (SpotGranularity)g;
          return TRUE;
        }
    }
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
               "unknown granularity \"%.*s\"; allowed: " ALLOWED_NAMES, (int)MIN (n, 64), text);
  return FALSE;
}

gboolean
spot_granularity_set_parse (const char *text, SpotGranularitySet *out, GError **error)
{
  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  SpotGranularitySet set = 0;
  const char *p = text;

  if (*text == '\0')
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "empty granularity list; allowed: " ALLOWED_NAMES);
      return FALSE;
    }

  for (;;)
    {
      const char *comma = strchr (p, ',');
      gsize n = comma != NULL ? (gsize)(comma - p) : strlen (p);
      SpotGranularity g;

      if (n == 0)
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "empty item in granularity list \"%s\"",
                       text);
          return FALSE;
        }
      if (!spot_granularity_parse (p, (gssize)n, &g, error))
        return FALSE;
      set |= 1u << g;
      if (comma == NULL)
        break;
      p = comma + 1;
    }

  *out = set;
  return TRUE;
}

char *
spot_granularity_set_to_string (SpotGranularitySet set)
{
  GString *s = g_string_new (NULL);

  for (int g = 0; g < SPOT_GRANULARITY_COUNT; g++)
    {
      if ((set & (1u << g)) == 0)
        continue;
      if (s->len > 0)
        g_string_append_c (s, ',');
      g_string_append (s, infos[g].name);
    }
  return g_string_free (s, FALSE);
}

gint64
spot_granularity_align (SpotGranularity g, gint64 t)
{
  g_return_val_if_fail (is_valid (g), t);

  gint64 size = infos[g].seconds;
  gint64 r = t % size;

  /* C division truncates toward zero; floor for negative times. */
  if (r < 0)
    r += size;
  return t - r;
}

SpotGranularity
spot_granularity_child (SpotGranularity g)
{
  g_return_val_if_fail (is_valid (g), SPOT_GRANULARITY_INVALID);
  return infos[g].child;
}

guint
spot_granularity_parents (SpotGranularity g, SpotGranularity parents[2])
{
  g_return_val_if_fail (is_valid (g), 0);

  guint n = 0;
  for (int p = 0; p < SPOT_GRANULARITY_COUNT; p++)
    {
      if (infos[p].child == g)
        {
          g_assert (n < 2);
          parents[n++] = (SpotGranularity)p;
        }
    }
  return n;
}
