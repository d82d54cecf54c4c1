/* spot-stream-selection.c: parsing and validating a /stream request. */
#define G_LOG_DOMAIN "spot-http"

#include "http/spot-stream-selection.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "core/spot-error.h"
#include "model/spot-product.h"

/* Reads a signal that may be "A,B" or ["A","B"] into a comma-separated
 * string. Absent: NULL and TRUE. */
static gboolean
signal_as_list (JsonObject *signals, const char *name, char **out, GError **error)
{
  JsonNode *node = json_object_get_member (signals, name);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      *out = g_strdup (json_node_get_string (node));
      return TRUE;
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      g_autoptr (GString) joined = g_string_new (NULL);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *item = json_array_get_element (array, i);

          if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
            {
              g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                           "malformed signals: %s[%u] is not a string", name, i);
              return FALSE;
            }
          if (i > 0)
            g_string_append_c (joined, ',');
          g_string_append (joined, json_node_get_string (item));
        }
      *out = g_string_free (g_steal_pointer (&joined), FALSE);
      return TRUE;
    }
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
               "malformed signals: %s must be a string or an array of strings", name);
  return FALSE;
}

static JsonObject *
parse_signals (const char *text, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, text, -1, &local))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "malformed signals: datastar is not JSON (%s)", local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                           "malformed signals: datastar must be a JSON object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

static void
replace_str (char **slot, const char *value)
{
  g_free (*slot);
  *slot = g_strdup (value);
}

/* One line: GError messages from lower layers never contain a newline today,
 * but a reason header must not be split. */
static void
set_error (GError **error, const char *prefix, GError *cause)
{
  g_autofree char *msg = g_strdup_printf ("%s%s", prefix, cause->message);

  g_strdelimit (msg, "\r\n", ' ');
  g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT, msg);
}

gboolean
spot_stream_selection_parse (GHashTable *query,
                             guint max_products,
                             SpotGranularitySet default_granularities,
                             SpotStreamSelection *out,
                             GError **error)
{
  g_autoptr (JsonObject) signals = NULL;
  g_autofree char *products_text = NULL;
  g_autofree char *granularities_text = NULL;
  g_autofree char *dialect_text = NULL;
  g_autoptr (GError) local = NULL;
  g_auto (GStrv) products = NULL;
  const char *datastar = query != NULL ? g_hash_table_lookup (query, "datastar") : NULL;
  const char *value;

  memset (out, 0, sizeof *out);

  if (datastar != NULL)
    {
      signals = parse_signals (datastar, error);
      if (signals == NULL)
        return FALSE;
      if (!signal_as_list (signals, "products", &products_text, error)
          || !signal_as_list (signals, "granularities", &granularities_text, error)
          || !signal_as_list (signals, "dialect", &dialect_text, error))
        return FALSE;
    }
  if (query != NULL && (value = g_hash_table_lookup (query, "products")) != NULL)
    replace_str (&products_text, value);
  if (query != NULL && (value = g_hash_table_lookup (query, "granularities")) != NULL)
    replace_str (&granularities_text, value);
  if (query != NULL && (value = g_hash_table_lookup (query, "dialect")) != NULL)
    replace_str (&dialect_text, value);

  if (products_text == NULL || g_strstrip (products_text)[0] == '\0')
    {
      g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                           "empty selection: name at least one product in products=");
      return FALSE;
    }
  products = spot_product_id_list_parse (products_text, &local);
  if (products == NULL)
    {
      set_error (error, "bad product id: ", local);
      return FALSE;
    }
  if (products[0] == NULL)
    {
      g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                           "empty selection: name at least one product in products=");
      return FALSE;
    }
  if (g_strv_length (products) > max_products)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "too many products: %u given, at most %u per stream", g_strv_length (products),
                   max_products);
      return FALSE;
    }

  out->granularities = default_granularities;
  if (granularities_text != NULL)
    {
      if (g_strstrip (granularities_text)[0] == '\0')
        {
          g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                               "empty selection: granularities= names no granularity");
          return FALSE;
        }
      if (!spot_granularity_set_parse (granularities_text, &out->granularities, &local))
        {
          set_error (error, "", local);
          return FALSE;
        }
    }
  if (out->granularities == 0)
    {
      g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                           "empty selection: no granularity selected");
      return FALSE;
    }

  out->dialect = SPOT_DATASTAR_V1;
  if (dialect_text != NULL && !spot_datastar_dialect_parse (dialect_text, &out->dialect))
    {
      g_autofree char *shown = g_strndup (dialect_text, 64);

      g_strdelimit (shown, "\r\n", ' ');
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "unknown dialect \"%s\": use v1 or beta11", shown);
      return FALSE;
    }

  out->n_products = g_strv_length (products);
  out->products = g_steal_pointer (&products);
  return TRUE;
}

void
spot_stream_selection_clear (SpotStreamSelection *selection)
{
  g_clear_pointer (&selection->products, g_strfreev);
  selection->n_products = 0;
}
