/* spot-product.h: a tradable product ("BTC-USD") and its identifier rules.
 *
 * Product ids are [A-Z0-9]{1,16}-[A-Z0-9]{1,16}; they are used verbatim in
 * NATS subjects, KV keys, element ids and SQL parameters, so nothing else is
 * ever accepted.
 *
 * Thread safety: a SpotProduct is a plain value; functions are pure.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Longest valid id (16 + 1 + 16) plus the NUL. */
#define SPOT_PRODUCT_ID_SIZE 34

/* TRUE when @id is a valid product id; otherwise sets SPOT_ERROR_INVALID_ARGUMENT
 * with a message naming @id and the allowed form. */
gboolean spot_product_id_validate (const char *id, GError **error);

/* FNV-1a 32-bit hash of the id, the routing hash of DESIGN.md section 1. */
guint32 spot_product_id_hash (const char *id);

/* Parses a comma-separated list of ids (spaces around items allowed),
 * validating each and removing duplicates while keeping the first order.
 * Returns a NULL-terminated array; blank text gives an empty array. Empty
 * items ("A,,B", "A,") and invalid ids fail with SPOT_ERROR_INVALID_ARGUMENT
 * naming the item. */
char **spot_product_id_list_parse (const char *text, GError **error);

typedef struct {
  char *product_id;
  char *base;   /* base currency, "BTC" */
  char *quote;  /* quote currency, "USD" */
  char *status; /* exchange status, "online" */
  gboolean active;
} SpotProduct;

SpotProduct *spot_product_new (const char *product_id,
                               const char *base,
                               const char *quote,
                               const char *status,
                               gboolean active);
SpotProduct *spot_product_copy (const SpotProduct *product);
void spot_product_free (SpotProduct *product);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotProduct, spot_product_free)

G_END_DECLS
