/* spot-product.c: product ids and descriptions. */
#define G_LOG_DOMAIN "spot-model"

#include "model/spot-product.h"

#include <string.h>

#include "core/spot-error.h"

#define ID_PART_MAX 16

static inline gboolean
is_id_char (char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static gboolean
id_is_valid (const char *id)
{
  const char *p = id;
  int base = 0, quote = 0;

  while (is_id_char (*p))
    {
      p++;
      base++;
    }
  if (base < 1 || base > ID_PART_MAX || *p != '-')
    return FALSE;
  p++;
  while (is_id_char (*p))
    {
      p++;
      quote++;
    }
  return quote >= 1 && quote <= ID_PART_MAX && *p == '\0';
}

gboolean
spot_product_id_validate (const char *id, GError **error)
{
  if (id == NULL)
    {
      g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                           "missing product id; expected BASE-QUOTE of [A-Z0-9]{1,16} each");
      return FALSE;
    }
  if (!id_is_valid (id))
    {
      g_autofree char *shown = g_strescape (id, NULL);
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "invalid product id \"%.64s\"; expected BASE-QUOTE of [A-Z0-9]{1,16} each, "
                   "such as BTC-USD",
                   shown);
      return FALSE;
    }
  return TRUE;
}

guint32
spot_product_id_hash (const char *id)
{
  guint32 h = 0x811c9dc5u;

  g_return_val_if_fail (id != NULL, h);
  for (const guchar *p = (const guchar *)id; *p != '\0'; p++)
    {
      h ^= *p;
      h *= 0x01000193u;
    }
  return h;
}

char **
spot_product_id_list_parse (const char *text, GError **error)
{
  g_return_val_if_fail (text != NULL, NULL);

  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_auto (GStrv) items = NULL;

  /* Blank text is the empty list. */
  g_autofree char *whole = g_strstrip (g_strdup (text));
  if (*whole != '\0')
    {
      items = g_strsplit (whole, ",", -1);
      for (char **item = items; *item != NULL; item++)
        {
          char *id = g_strstrip (*item);

          if (*id == '\0')
            {
              g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                           "empty item in product list \"%.128s\"", text);
              return NULL;
            }
          if (!spot_product_id_validate (id, error))
            return NULL;
          if (g_hash_table_contains (seen, id))
            continue;
          g_hash_table_add (seen, id);
          g_ptr_array_add (ids, g_strdup (id));
        }
    }
  g_ptr_array_add (ids, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&ids), FALSE);
}

SpotProduct *
spot_product_new (const char *product_id,
                  const char *base,
                  const char *quote,
                  const char *status,
                  gboolean active)
{
  SpotProduct *product = g_new0 (SpotProduct, 1);

  product->product_id = g_strdup (product_id);
  product->base = g_strdup (base);
  product->quote = g_strdup (quote);
  product->status = g_strdup (status);
  product->active = active;
  return product;
}

SpotProduct *
spot_product_copy (const SpotProduct *product)
{
  g_return_val_if_fail (product != NULL, NULL);
  return spot_product_new (product->product_id, product->base, product->quote, product->status,
                           product->active);
}

void
spot_product_free (SpotProduct *product)
{
  if (product == NULL)
    return;
  g_free (product->product_id);
  g_free (product->base);
  g_free (product->quote);
  g_free (product->status);
  g_free (product);
}
