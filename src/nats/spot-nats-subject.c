/* spot-nats-subject.c: NATS subjects and KV keys for candles. */
#define G_LOG_DOMAIN "spot-nats"

#include "nats/spot-nats-subject.h"

#include <string.h>

#include "core/spot-error.h"

static gsize
join_tokens (char *buf, gsize size, const char *const *tokens, guint n)
{
  gsize len = 0;

  for (guint i = 0; i < n; i++)
    {
      gsize tlen = strlen (tokens[i]);

      if (len + tlen + (i > 0 ? 1 : 0) + 1 > size)
        {
          if (size > 0)
            buf[0] = '\0';
          return 0;
        }
      if (i > 0)
        buf[len++] = '.';
      memcpy (buf + len, tokens[i], tlen);
      len += tlen;
    }
  buf[len] = '\0';
  return len;
}

gsize
spot_nats_key_format (const char *product_id, SpotGranularity g, char *buf, gsize size)
{
  const char *tokens[2];

  if (g < 0 || g >= SPOT_GRANULARITY_COUNT)
    {
      if (size > 0)
        buf[0] = '\0';
      return 0;
    }
  tokens[0] = product_id;
  tokens[1] = spot_granularity_name (g);
  return join_tokens (buf, size, tokens, 2);
}

gsize
spot_nats_subject_format (const char *product_id, SpotGranularity g, char *buf, gsize size)
{
  const char *tokens[3];

  if (g < 0 || g >= SPOT_GRANULARITY_COUNT)
    {
      if (size > 0)
        buf[0] = '\0';
      return 0;
    }
  tokens[0] = SPOT_NATS_SUBJECT_PREFIX;
  tokens[1] = product_id;
  tokens[2] = spot_granularity_name (g);
  return join_tokens (buf, size, tokens, 3);
}

gsize
spot_nats_kv_subject_format (
    const char *bucket, const char *product_id, SpotGranularity g, char *buf, gsize size)
{
  const char *tokens[4];

  if (g < 0 || g >= SPOT_GRANULARITY_COUNT)
    {
      if (size > 0)
        buf[0] = '\0';
      return 0;
    }
  tokens[0] = "$KV";
  tokens[1] = bucket;
  tokens[2] = product_id;
  tokens[3] = spot_granularity_name (g);
  return join_tokens (buf, size, tokens, 4);
}

gboolean
spot_nats_key_parse (const char *key,
                     gssize len,
                     char product_id[SPOT_PRODUCT_ID_SIZE],
                     SpotGranularity *granularity,
                     GError **error)
{
  const char *dot;
  gsize plen;
  char pbuf[SPOT_PRODUCT_ID_SIZE];
  g_autoptr (GError) local_error = NULL;

  if (len < 0)
    len = (gssize)strlen (key);
  dot = memchr (key, '.', (gsize)len);
  if (dot == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "NATS key “%.*s” is not <PRODUCT>.<GRANULARITY>", (int)len, key);
      return FALSE;
    }
  plen = (gsize)(dot - key);
  if (plen == 0 || plen >= SPOT_PRODUCT_ID_SIZE)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "NATS key “%.*s” has no valid product id",
                   (int)len, key);
      return FALSE;
    }
  memcpy (pbuf, key, plen);
  pbuf[plen] = '\0';
  if (!spot_product_id_validate (pbuf, &local_error))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "NATS key “%.*s”: %s", (int)len, key,
                   local_error->message);
      return FALSE;
    }
  g_clear_error (&local_error);
  if (!spot_granularity_parse (dot + 1, len - (gssize)plen - 1, granularity, &local_error))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "NATS key “%.*s”: %s", (int)len, key,
                   local_error->message);
      return FALSE;
    }
  memcpy (product_id, pbuf, plen + 1);
  return TRUE;
}

gboolean
spot_nats_subject_parse (const char *subject,
                         char product_id[SPOT_PRODUCT_ID_SIZE],
                         SpotGranularity *granularity,
                         GError **error)
{
  static const char prefix[] = SPOT_NATS_SUBJECT_PREFIX ".";

  if (!g_str_has_prefix (subject, prefix))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "NATS subject “%s” does not start with “%s”", subject, prefix);
      return FALSE;
    }
  return spot_nats_key_parse (subject + sizeof prefix - 1, -1, product_id, granularity, error);
}

gboolean
spot_nats_bucket_name_validate (const char *bucket, GError **error)
{
  gsize len = bucket != NULL ? strlen (bucket) : 0;

  if (len == 0 || len > 64)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "KV bucket name “%s” must have 1 to 64 characters",
                   bucket != NULL ? bucket : "");
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    {
      char c = bucket[i];

      if (!g_ascii_isalnum (c) && c != '_' && c != '-')
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                       "KV bucket name “%s” may only hold A-Z, a-z, 0-9, “_” and “-”", bucket);
          return FALSE;
        }
    }
  return TRUE;
}
