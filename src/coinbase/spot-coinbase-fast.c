/* spot-coinbase-fast.c: strict single-pass parser for market_trades messages. */
#define G_LOG_DOMAIN "spot-coinbase"

#include "coinbase/spot-coinbase-fast.h"

#include <string.h>

#include "model/spot-product.h"
#include "model/spot-time.h"
#include "model/spot-trade.h"

#define MAX_DEPTH 32

typedef struct
{
  const char *p;
  const char *end;
} Lex;

static inline void
ws (Lex *l)
{
  while (l->p < l->end && (*l->p == ' ' || *l->p == '\n' || *l->p == '\r' || *l->p == '\t'))
    l->p++;
}

static inline gboolean
eat (Lex *l, char c)
{
  ws (l);
  if (l->p < l->end && *l->p == c)
    {
      l->p++;
      return TRUE;
    }
  return FALSE;
}

/* A string without escapes, control characters or non-ASCII bytes. */
static inline gboolean
str (Lex *l, const char **s, gsize *len)
{
  ws (l);
  if (l->p >= l->end || *l->p != '"')
    return FALSE;
  const char *start = ++l->p;
  while (l->p < l->end)
    {
      unsigned char c = (unsigned char)*l->p;
      if (c == '"')
        {
          *s = start;
          *len = (gsize)(l->p - start);
          l->p++;
          return TRUE;
        }
      if (c == '\\' || c < 0x20 || c >= 0x80)
        return FALSE;
      l->p++;
    }
  return FALSE;
}

static inline gboolean
is_digit (char c)
{
  return c >= '0' && c <= '9';
}

/* Strict JSON number, limited to what any parser reads the same way: at
 * most 15 digits, no exponent. */
static gboolean
number (Lex *l, gboolean *is_integer, gint64 *value)
{
  ws (l);
  const char *p = l->p;
  gboolean neg = FALSE;
  if (p < l->end && *p == '-')
    neg = TRUE, p++;
  if (p >= l->end || !is_digit (*p))
    return FALSE;
  guint digits = 0;
  gint64 v = 0;
  if (*p == '0')
    p++, digits++;
  else
    while (p < l->end && is_digit (*p))
      v = v * 10 + (*p++ - '0'), digits++;
  gboolean integer = TRUE;
  if (p < l->end && *p == '.')
    {
      integer = FALSE;
      p++;
      if (p >= l->end || !is_digit (*p))
        return FALSE;
      while (p < l->end && is_digit (*p))
        p++, digits++;
    }
  if (p < l->end && (*p == 'e' || *p == 'E'))
    return FALSE;
  if (digits > 15)
    return FALSE;
  /* The next byte must end the number. */
  if (p < l->end
      && !(*p == ',' || *p == '}' || *p == ']' || *p == ' ' || *p == '\n' || *p == '\r'
           || *p == '\t'))
    return FALSE;
  l->p = p;
  if (is_integer != NULL)
    *is_integer = integer && !neg;
  if (value != NULL)
    *value = v;
  return TRUE;
}

static gboolean
literal (Lex *l, const char *word)
{
  gsize n = strlen (word);
  if ((gsize)(l->end - l->p) < n || memcmp (l->p, word, n) != 0)
    return FALSE;
  l->p += n;
  return TRUE;
}

static gboolean skip_value (Lex *l, guint depth);

static gboolean
skip_container (Lex *l, guint depth, char close, gboolean object)
{
  if (depth > MAX_DEPTH)
    return FALSE;
  if (eat (l, close))
    return TRUE;
  for (;;)
    {
      if (object)
        {
          const char *k;
          gsize kl;
          if (!str (l, &k, &kl) || !eat (l, ':'))
            return FALSE;
        }
      if (!skip_value (l, depth + 1))
        return FALSE;
      if (eat (l, close))
        return TRUE;
      if (!eat (l, ','))
        return FALSE;
    }
}

static gboolean
skip_value (Lex *l, guint depth)
{
  ws (l);
  if (l->p >= l->end)
    return FALSE;
  const char *s;
  gsize n;
  switch (*l->p)
    {
    case '"':
      return str (l, &s, &n);
    case '{':
      l->p++;
      return skip_container (l, depth, '}', TRUE);
    case '[':
      l->p++;
      return skip_container (l, depth, ']', FALSE);
    case 't':
      return literal (l, "true");
    case 'f':
      return literal (l, "false");
    case 'n':
      return literal (l, "null");
    default:
      return number (l, NULL, NULL);
    }
}

static inline gboolean
key_is (const char *k, gsize kl, const char *name, gsize nl)
{
  return kl == nl && memcmp (k, name, nl) == 0;
}
#define KEY(name) key_is (k, kl, name, sizeof name - 1)

/* One trade object; FALSE on anything the json-glib path would treat
 * differently from a clean accept. */
static gboolean
trade (Lex *l, SpotCoinbaseMessage *out)
{
  if (!eat (l, '{'))
    return FALSE;
  const char *pid = NULL, *tid = NULL, *price = NULL, *size = NULL, *side = NULL, *time = NULL;
  gsize pid_l = 0, tid_l = 0, price_l = 0, size_l = 0, side_l = 0, time_l = 0;
  if (!eat (l, '}'))
    for (;;)
      {
        const char *k;
        gsize kl;
        if (!str (l, &k, &kl) || !eat (l, ':'))
          return FALSE;
        const char **dst = NULL;
        gsize *dl = NULL;
        if (KEY ("product_id"))
          dst = &pid, dl = &pid_l;
        else if (KEY ("trade_id"))
          dst = &tid, dl = &tid_l;
        else if (KEY ("price"))
          dst = &price, dl = &price_l;
        else if (KEY ("size"))
          dst = &size, dl = &size_l;
        else if (KEY ("side"))
          dst = &side, dl = &side_l;
        else if (KEY ("time"))
          dst = &time, dl = &time_l;
        if (dst != NULL)
          {
            if (*dst != NULL || !str (l, dst, dl))
              return FALSE;
          }
        else if (!skip_value (l, 4))
          return FALSE;
        if (eat (l, '}'))
          break;
        if (!eat (l, ','))
          return FALSE;
      }
  if (pid == NULL || tid == NULL || price == NULL || size == NULL || time == NULL)
    return FALSE;

  SpotTrade *t = spot_trade_batch_add (out->trades);
  if (pid_l >= SPOT_PRODUCT_ID_SIZE)
    return FALSE;
  memcpy (t->product_id, pid, pid_l);
  t->product_id[pid_l] = '\0';
  if (!spot_product_id_validate (t->product_id, NULL)
      || !spot_time_parse_rfc3339 (time, (gssize)time_l, &t->time_ns, NULL)
      || t->time_ns < SPOT_COINBASE_MIN_TIME_NS
      || t->time_ns > out->timestamp_ns + SPOT_COINBASE_MAX_FUTURE_NS
      || !spot_trade_id_parse (tid, (gssize)tid_l, &t->trade_id, NULL) || t->trade_id == 0
      || !spot_coinbase_parse_amount (price, price_l, FALSE, &t->price, NULL)
      || !spot_coinbase_parse_amount (size, size_l, FALSE, &t->size, NULL))
    return FALSE;
  if (side != NULL && side_l == 3 && memcmp (side, "BUY", 3) == 0)
    t->side = SPOT_TRADE_SIDE_BUY;
  else if (side != NULL && side_l == 4 && memcmp (side, "SELL", 4) == 0)
    t->side = SPOT_TRADE_SIDE_SELL;
  else
    t->side = SPOT_TRADE_SIDE_UNKNOWN;
  t->message_ns = out->timestamp_ns;
  return TRUE;
}

static gboolean
event (Lex *l, SpotCoinbaseMessage *out)
{
  if (!eat (l, '{'))
    return FALSE;
  gboolean have_type = FALSE, have_trades = FALSE;
  guint first = out->trades->n_trades;
  if (!eat (l, '}'))
    for (;;)
      {
        const char *k;
        gsize kl;
        if (!str (l, &k, &kl) || !eat (l, ':'))
          return FALSE;
        if (KEY ("type"))
          {
            const char *v;
            gsize vl;
            if (have_type || !str (l, &v, &vl))
              return FALSE;
            have_type = TRUE;
            if (key_is (v, vl, "snapshot", 8))
              out->snapshot = TRUE;
            else if (!key_is (v, vl, "update", 6))
              return FALSE;
          }
        else if (KEY ("trades"))
          {
            if (have_trades || !eat (l, '['))
              return FALSE;
            have_trades = TRUE;
            if (!eat (l, ']'))
              for (;;)
                {
                  if (!trade (l, out))
                    return FALSE;
                  if (eat (l, ']'))
                    break;
                  if (!eat (l, ','))
                    return FALSE;
                }
          }
        else if (!skip_value (l, 2))
          return FALSE;
        if (eat (l, '}'))
          break;
        if (!eat (l, ','))
          return FALSE;
      }
  (void)first;
  return have_type && have_trades;
}

static gboolean
parse (const char *data, gsize len, SpotCoinbaseMessage *out)
{
  Lex lex = { data, data + len };
  Lex *l = &lex;
  if (!eat (l, '{'))
    return FALSE;
  gboolean have_channel = FALSE, have_events = FALSE, have_seq = FALSE;
  if (eat (l, '}'))
    return FALSE;
  for (;;)
    {
      const char *k;
      gsize kl;
      if (!str (l, &k, &kl) || !eat (l, ':'))
        return FALSE;
      if (KEY ("channel"))
        {
          const char *v;
          gsize vl;
          if (have_channel || !str (l, &v, &vl) || !key_is (v, vl, "market_trades", 13))
            return FALSE;
          have_channel = TRUE;
        }
      else if (KEY ("timestamp"))
        {
          const char *v;
          gsize vl;
          if (out->timestamp_ns != 0 || !str (l, &v, &vl)
              || !spot_time_parse_rfc3339 (v, (gssize)vl, &out->timestamp_ns, NULL)
              || out->timestamp_ns == 0)
            return FALSE;
        }
      else if (KEY ("sequence_num"))
        {
          gboolean integer = FALSE;
          gint64 v = 0;
          if (have_seq || !number (l, &integer, &v) || !integer)
            return FALSE;
          have_seq = TRUE;
          out->sequence_num = v;
        }
      else if (KEY ("events"))
        {
          /* Trades need the timestamp (and the channel) first. */
          if (have_events || !have_channel || out->timestamp_ns == 0 || !eat (l, '['))
            return FALSE;
          have_events = TRUE;
          if (!eat (l, ']'))
            for (;;)
              {
                if (!event (l, out))
                  return FALSE;
                if (eat (l, ']'))
                  break;
                if (!eat (l, ','))
                  return FALSE;
              }
        }
      else if (KEY ("type"))
        return FALSE; /* rare; leave the precedence rules to the full path */
      else if (!skip_value (l, 1))
        return FALSE;
      if (eat (l, '}'))
        break;
      if (!eat (l, ','))
        return FALSE;
    }
  ws (l);
  return l->p == l->end && have_channel && have_events;
}

gboolean
spot_coinbase_fast_parse_trades (
    const char *data, gsize len, gint64 receive_ns, gint connection_id, SpotCoinbaseMessage *out)
{
  out->kind = SPOT_COINBASE_MESSAGE_MARKET_TRADES;
  out->trades = spot_trade_batch_new (32);
  out->trades->receive_ns = receive_ns;
  out->trades->connection_id = connection_id;
  if (!parse (data, len, out))
    {
      spot_coinbase_message_clear (out);
      return FALSE;
    }
  out->trades->message_ns = out->timestamp_ns;
  return TRUE;
}
