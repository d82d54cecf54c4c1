/* spot-coinbase-jwt.h: CDP API keys and the JWT sent with each subscribe
 * (DESIGN.md section 3).
 *
 * A key is loaded once at start-up from (in this order) COINBASE_KEY (the
 * secret itself), COINBASE_KEY_FILE (Coinbase's downloaded JSON key file
 * {"name","privateKey"}, a PEM file, or a file holding base64 Ed25519), with
 * COINBASE_KEY_NAME naming it (taken from the JSON file when unset). EC keys
 * must be P-256 (ES256, signed by libjwt); Ed25519 keys (PEM, or base64 of a
 * 32-byte seed or 64-byte seed+public key) sign EdDSA with libcrypto. An
 * unusable key fails with SPOT_ERROR_INVALID_CONFIG naming the variable
 * (never the secret). The secret is wiped from memory when the key is freed
 * and never logged.
 *
 * Thread safety: load and free on one thread; spot_coinbase_key_sign() may
 * be called from any thread (it only reads the key).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  SPOT_COINBASE_KEY_ES256,
  SPOT_COINBASE_KEY_EDDSA,
} SpotCoinbaseKeyAlgorithm;

typedef struct _SpotCoinbaseKey SpotCoinbaseKey;

/* Returns NULL without an error when no key is configured (every argument
 * NULL or empty): market data needs no JWT. @key_text wins over @key_file. */
SpotCoinbaseKey *spot_coinbase_key_load (const char *key_name,
                                         const char *key_file,
                                         const char *key_text,
                                         GError **error);
void spot_coinbase_key_free (SpotCoinbaseKey *key);

const char *spot_coinbase_key_get_name (SpotCoinbaseKey *key);
SpotCoinbaseKeyAlgorithm spot_coinbase_key_get_algorithm (SpotCoinbaseKey *key);

/* A fresh JWT valid from @now_s to @now_s + 120 with a random nonce. */
char *spot_coinbase_key_sign (SpotCoinbaseKey *key, gint64 now_s, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotCoinbaseKey, spot_coinbase_key_free)

G_END_DECLS
