/* spot-coinbase-rest.c: paced, retried REST requests with libsoup. */
#define G_LOG_DOMAIN "spot-coinbase"

#include "coinbase/spot-coinbase-rest.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "coinbase/spot-coinbase-message.h"
#include "coinbase/spot-coinbase-pacer.h"
#include "core/spot-error.h"
#include "core/spot-log.h"

typedef enum
{
  REQUEST_PRODUCTS,
  REQUEST_CANDLES,
} RequestKind;

typedef struct
{
  SpotCoinbaseRest *rest;
  GTask *task;
  RequestKind kind;
  char *url;
  char product_id[SPOT_PRODUCT_ID_SIZE];
  SpotGranularity granularity;
  guint attempts;
  guint retry_source;
} Request;

struct _SpotCoinbaseRest
{
  SpotCoinbaseOptions options;
  SoupSession *session;
  SpotCoinbasePacer pacer;
  GQueue queue;   /* Request* waiting for a slot */
  GList *running; /* Request* sent or waiting for a retry */
  guint pump_source;
  guint64 requests;
  GCancellable *cancellable; /* cancels everything on free */
};

void
spot_coinbase_product_info_free (SpotCoinbaseProductInfo *info)
{
  if (info == NULL)
    return;
  spot_product_free (info->product);
  g_free (info->product_type);
  g_free (info);
}

gboolean
spot_coinbase_product_info_is_tradable (const SpotCoinbaseProductInfo *info)
{
  return g_strcmp0 (info->product->status, "online") == 0
         && (info->product_type == NULL || g_ascii_strcasecmp (info->product_type, "SPOT") == 0)
         && !info->trading_disabled && !info->is_disabled;
}

static void
request_free (Request *r)
{
  g_clear_handle_id (&r->retry_source, g_source_remove);
  g_clear_object (&r->task);
  g_free (r->url);
  g_free (r);
}

SpotCoinbaseRest *
spot_coinbase_rest_new (const SpotCoinbaseOptions *options)
{
  SpotCoinbaseRest *rest = g_new0 (SpotCoinbaseRest, 1);
  spot_coinbase_options_copy (&rest->options, options);
  rest->session = soup_session_new_with_options ("timeout", 30, "user-agent", "spot-canvas", NULL);
  spot_coinbase_pacer_init (&rest->pacer, options->rest_rate);
  g_queue_init (&rest->queue);
  rest->cancellable = g_cancellable_new ();
  return rest;
}

static void
fail_request (Request *r, GError *error)
{
  r->rest->running = g_list_remove (r->rest->running, r);
  g_task_return_error (r->task, error);
  request_free (r);
}

void
spot_coinbase_rest_cancel_all (SpotCoinbaseRest *rest)
{
  g_cancellable_cancel (rest->cancellable);
  Request *r;
  while ((r = g_queue_pop_head (&rest->queue)) != NULL)
    {
      rest->running = g_list_prepend (rest->running, r);
      fail_request (r, g_error_new (SPOT_ERROR, SPOT_ERROR_CANCELLED, "REST request cancelled"));
    }
  /* Requests waiting for a retry have no soup call in flight. */
  GList *l = rest->running;
  while (l != NULL)
    {
      GList *next = l->next;
      Request *w = l->data;
      if (w->retry_source != 0)
        fail_request (w, g_error_new (SPOT_ERROR, SPOT_ERROR_CANCELLED, "REST request cancelled"));
      l = next;
    }
  g_clear_handle_id (&rest->pump_source, g_source_remove);
}

void
spot_coinbase_rest_free (SpotCoinbaseRest *rest)
{
  if (rest == NULL)
    return;
  spot_coinbase_rest_cancel_all (rest);
  /* Requests still in soup complete later with CANCELLED and find no rest:
   * they hold a reference to the session only through their task. */
  for (GList *l = rest->running; l != NULL; l = l->next)
    ((Request *)l->data)->rest = NULL;
  g_list_free (rest->running);
  g_clear_object (&rest->session);
  g_clear_object (&rest->cancellable);
  spot_coinbase_options_clear (&rest->options);
  g_free (rest);
}

guint64
spot_coinbase_rest_get_requests (SpotCoinbaseRest *rest)
{
  return rest->requests;
}

static void schedule_pump (SpotCoinbaseRest *rest);
static void send_request (Request *r);

static gboolean
retry_cb (gpointer data)
{
  Request *r = data;
  r->retry_source = 0;
  r->rest->running = g_list_remove (r->rest->running, r);
  g_queue_push_head (&r->rest->queue, r);
  schedule_pump (r->rest);
  return G_SOURCE_REMOVE;
}

static void
retry_or_fail (Request *r, GError *error)
{
  SpotCoinbaseRest *rest = r->rest;
  if (r->attempts >= rest->options.rest_retries || g_cancellable_is_cancelled (rest->cancellable))
    {
      g_prefix_error (&error, "after %u attempts: ", r->attempts);
      fail_request (r, error);
      return;
    }
  gint64 delay_us
      = 500000 + spot_coinbase_backoff_us (r->attempts, 1000000, 30000000, g_random_double ());
  spot_log_limited (10000, 5, G_LOG_LEVEL_INFO, r->product_id[0] != '\0' ? r->product_id : NULL, -1,
                    -1, "REST request failed (%s), retrying in %.1f s", error->message,
                    delay_us / 1e6);
  g_error_free (error);
  r->retry_source = g_timeout_add ((guint)(delay_us / 1000), retry_cb, r);
}

static void
response_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Request *r = data;
  GError *error = NULL;
  g_autoptr (GBytes) body
      = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  if (r->rest == NULL)
    {
      /* The client was freed while the request was in flight. */
      g_task_return_new_error (r->task, SPOT_ERROR, SPOT_ERROR_CANCELLED, "REST client closed");
      g_clear_error (&error);
      request_free (r);
      return;
    }
  SoupMessage *msg = g_object_get_data (G_OBJECT (r->task), "message");
  if (body == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_clear_error (&error);
          fail_request (r,
                        g_error_new (SPOT_ERROR, SPOT_ERROR_CANCELLED, "REST request cancelled"));
          return;
        }
      GError *e
          = g_error_new (SPOT_ERROR, SPOT_ERROR_EXCHANGE, "GET %s: %s", r->url, error->message);
      g_clear_error (&error);
      retry_or_fail (r, e);
      return;
    }
  guint status = soup_message_get_status (msg);
  gsize len = 0;
  const char *text = g_bytes_get_data (body, &len);
  if (status == 429 || status >= 500)
    {
      retry_or_fail (
          r, g_error_new (SPOT_ERROR, SPOT_ERROR_EXCHANGE, "GET %s: HTTP %u", r->url, status));
      return;
    }
  if (status != 200)
    {
      fail_request (r, g_error_new (SPOT_ERROR, SPOT_ERROR_EXCHANGE, "GET %s: HTTP %u: %.*s",
                                    r->url, status, (int)MIN (len, 200), text != NULL ? text : ""));
      return;
    }
  if (r->kind == REQUEST_PRODUCTS)
    {
      GPtrArray *products = spot_coinbase_rest_parse_products (text, len, &error);
      r->rest->running = g_list_remove (r->rest->running, r);
      if (products == NULL)
        g_task_return_error (r->task, error);
      else
        g_task_return_pointer (r->task, products, (GDestroyNotify)g_ptr_array_unref);
    }
  else
    {
      GArray *candles
          = spot_coinbase_rest_parse_candles (text, len, r->product_id, r->granularity, &error);
      r->rest->running = g_list_remove (r->rest->running, r);
      if (candles == NULL)
        g_task_return_error (r->task, error);
      else
        g_task_return_pointer (r->task, candles, (GDestroyNotify)g_array_unref);
    }
  request_free (r);
}

static void
send_request (Request *r)
{
  SpotCoinbaseRest *rest = r->rest;
  r->attempts++;
  rest->requests++;
  rest->running = g_list_prepend (rest->running, r);
  SoupMessage *msg = soup_message_new ("GET", r->url);
  if (msg == NULL)
    {
      fail_request (r, g_error_new (SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                                    "COINBASE_REST_URL gives an invalid URL %s", r->url));
      return;
    }
  g_object_set_data_full (G_OBJECT (r->task), "message", msg, g_object_unref);
  soup_session_send_and_read_async (rest->session, msg, G_PRIORITY_DEFAULT, rest->cancellable,
                                    response_cb, r);
}

static gboolean
pump_cb (gpointer data)
{
  SpotCoinbaseRest *rest = data;
  rest->pump_source = 0;
  Request *r = g_queue_pop_head (&rest->queue);
  if (r != NULL)
    {
      GCancellable *c = g_task_get_cancellable (r->task);
      if (c != NULL && g_cancellable_is_cancelled (c))
        {
          rest->running = g_list_prepend (rest->running, r);
          fail_request (r,
                        g_error_new (SPOT_ERROR, SPOT_ERROR_CANCELLED, "REST request cancelled"));
        }
      else
        send_request (r);
    }
  schedule_pump (rest);
  return G_SOURCE_REMOVE;
}

static void
schedule_pump (SpotCoinbaseRest *rest)
{
  if (rest->pump_source != 0 || g_queue_is_empty (&rest->queue))
    return;
  gint64 delay_us = spot_coinbase_pacer_reserve (&rest->pacer, g_get_monotonic_time ());
  /* Round up so the spacing never falls under the interval. */
  rest->pump_source = g_timeout_add ((guint)((delay_us + 999) / 1000), pump_cb, rest);
}

static void
enqueue (SpotCoinbaseRest *rest, Request *r)
{
  r->rest = rest;
  g_queue_push_tail (&rest->queue, r);
  schedule_pump (rest);
}

void
spot_coinbase_rest_list_products_async (SpotCoinbaseRest *rest,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data)
{
  Request *r = g_new0 (Request, 1);
  r->task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (r->task, spot_coinbase_rest_list_products_async);
  r->kind = REQUEST_PRODUCTS;
  r->url = g_strdup_printf ("%s/api/v3/brokerage/market/products?product_type=SPOT",
                            rest->options.rest_url);
  enqueue (rest, r);
}

GPtrArray *
spot_coinbase_rest_list_products_finish (SpotCoinbaseRest *rest,
                                         GAsyncResult *result,
                                         GError **error)
{
  (void)rest;
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
spot_coinbase_rest_get_candles_async (SpotCoinbaseRest *rest,
                                      const char *product_id,
                                      SpotGranularity granularity,
                                      gint64 start,
                                      gint64 end,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  Request *r = g_new0 (Request, 1);
  r->task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (r->task, spot_coinbase_rest_get_candles_async);
  r->kind = REQUEST_CANDLES;
  g_strlcpy (r->product_id, product_id, sizeof r->product_id);
  r->granularity = granularity;
  gint64 g = spot_granularity_seconds (granularity);
  if (!spot_product_id_validate (product_id, NULL) || start > end
      || (end - start) / g >= SPOT_COINBASE_REST_MAX_CANDLES)
    {
      g_task_return_new_error (r->task, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                               "candles request for %s [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                               "] is invalid or spans more than %d buckets",
                               product_id, start, end, SPOT_COINBASE_REST_MAX_CANDLES);
      request_free (r);
      return;
    }
  r->url = g_strdup_printf ("%s/api/v3/brokerage/market/products/%s/candles?start=%" G_GINT64_FORMAT
                            "&end=%" G_GINT64_FORMAT "&granularity=%s&limit=%d",
                            rest->options.rest_url, product_id, start, end,
                            spot_granularity_name (granularity), SPOT_COINBASE_REST_MAX_CANDLES);
  enqueue (rest, r);
}

GArray *
spot_coinbase_rest_get_candles_finish (SpotCoinbaseRest *rest, GAsyncResult *result, GError **error)
{
  (void)rest;
  return g_task_propagate_pointer (G_TASK (result), error);
}

static const char *
member_string (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || JSON_NODE_TYPE (n) != JSON_NODE_VALUE
      || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static gboolean
member_bool (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);
  return n != NULL && JSON_NODE_TYPE (n) == JSON_NODE_VALUE
         && json_node_get_value_type (n) == G_TYPE_BOOLEAN && json_node_get_boolean (n);
}

static gint
candle_cmp (gconstpointer a, gconstpointer b)
{
  const SpotCandle *x = a, *y = b;
  return (x->start > y->start) - (x->start < y->start);
}

GArray *
spot_coinbase_rest_parse_candles (const char *body,
                                  gsize len,
                                  const char *product_id,
                                  SpotGranularity granularity,
                                  GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  if (len > G_MAXSSIZE || !json_parser_load_from_data (parser, body, (gssize)len, NULL))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "candles of %s: the response is not JSON",
                   product_id);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  JsonNode *list = root != NULL && JSON_NODE_HOLDS_OBJECT (root)
                       ? json_object_get_member (json_node_get_object (root), "candles")
                       : NULL;
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "candles of %s: no \"candles\" array in the response", product_id);
      return NULL;
    }
  JsonArray *arr = json_node_get_array (list);
  gint64 g = spot_granularity_seconds (granularity);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *e = json_array_get_element (arr, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e) : NULL;
      SpotCandle c;
      memset (&c, 0, sizeof c);
      const char *start_s = o != NULL ? member_string (o, "start") : NULL;
      gint64 start = 0;
      if (start_s == NULL
          || !g_ascii_string_to_signed (start_s, 10, 0, G_GINT64_CONSTANT (4102444800), &start,
                                        NULL)
          || start % g != 0)
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                       "candles of %s: candle %u has no valid start", product_id, i);
          return NULL;
        }
      struct
      {
        const char *name;
        SpotDecimal *dest;
        gboolean zero_ok;
      } fields[] = {
        { "open", &c.open, FALSE },   { "high", &c.high, FALSE },    { "low", &c.low, FALSE },
        { "close", &c.close, FALSE }, { "volume", &c.volume, TRUE },
      };
      for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
        {
          const char *v = member_string (o, fields[f].name);
          if (v == NULL
              || !spot_coinbase_parse_amount (v, strlen (v), fields[f].zero_ok, fields[f].dest,
                                              NULL))
            {
              g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                           "candles of %s: candle at %" G_GINT64_FORMAT
                           " has a missing or invalid %s",
                           product_id, start, fields[f].name);
              return NULL;
            }
        }
      g_strlcpy (c.product_id, product_id, sizeof c.product_id);
      c.granularity = granularity;
      c.start = start;
      c.trades = SPOT_CANDLE_TRADES_UNKNOWN;
      c.last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
      c.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
      c.complete = TRUE;
      GError *local = NULL;
      if (!spot_candle_validate (&c, &local))
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "candles of %s: %s", product_id,
                       local->message);
          g_error_free (local);
          return NULL;
        }
      g_array_append_val (out, c);
    }
  g_array_sort (out, candle_cmp);
  return g_steal_pointer (&out);
}

GPtrArray *
spot_coinbase_rest_parse_products (const char *body, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  if (len > G_MAXSSIZE || !json_parser_load_from_data (parser, body, (gssize)len, NULL))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "products: the response is not JSON");
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  JsonNode *list = root != NULL && JSON_NODE_HOLDS_OBJECT (root)
                       ? json_object_get_member (json_node_get_object (root), "products")
                       : NULL;
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "products: no \"products\" array in the response");
      return NULL;
    }
  JsonArray *arr = json_node_get_array (list);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify)spot_coinbase_product_info_free);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *e = json_array_get_element (arr, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e) : NULL;
      const char *id = o != NULL ? member_string (o, "product_id") : NULL;
      if (id == NULL || !spot_product_id_validate (id, NULL))
        continue; /* an id the service cannot carry: skipped */
      const char *base = member_string (o, "base_currency_id");
      const char *quote = member_string (o, "quote_currency_id");
      const char *status = member_string (o, "status");
      SpotCoinbaseProductInfo *info = g_new0 (SpotCoinbaseProductInfo, 1);
      info->product_type = g_strdup (member_string (o, "product_type"));
      info->trading_disabled = member_bool (o, "trading_disabled");
      info->is_disabled = member_bool (o, "is_disabled");
      g_auto (GStrv) parts = g_strsplit (id, "-", 2);
      info->product = spot_product_new (id, base != NULL ? base : parts[0],
                                        quote != NULL ? quote : (parts[1] != NULL ? parts[1] : ""),
                                        status != NULL ? status : "unknown", FALSE);
      info->product->active = spot_coinbase_product_info_is_tradable (info);
      g_ptr_array_add (out, info);
    }
  return out;
}
