/* spot-coinbase-jwt.c: CDP key loading, ES256 through libjwt, EdDSA through libcrypto. */
#define G_LOG_DOMAIN "spot-coinbase"

#include "coinbase/spot-coinbase-jwt.h"

#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "core/spot-error.h"

#define JWT_LIFETIME_S 120

struct _SpotCoinbaseKey
{
  SpotCoinbaseKeyAlgorithm algorithm;
  char *name;
  char *pem; /* ES256: the private key PEM for libjwt (a secret) */
  gsize pem_len;
  EVP_PKEY *pkey; /* EdDSA */
};

static void
secret_free (char *s, gsize len)
{
  if (s == NULL)
    return;
  OPENSSL_cleanse (s, len);
  g_free (s);
}

void
spot_coinbase_key_free (SpotCoinbaseKey *key)
{
  if (key == NULL)
    return;
  g_free (key->name);
  secret_free (key->pem, key->pem_len);
  if (key->pkey != NULL)
    EVP_PKEY_free (key->pkey);
  g_free (key);
}

const char *
spot_coinbase_key_get_name (SpotCoinbaseKey *key)
{
  return key->name;
}

SpotCoinbaseKeyAlgorithm
spot_coinbase_key_get_algorithm (SpotCoinbaseKey *key)
{
  return key->algorithm;
}

/* Ed25519 from base64 of a 32-byte seed or 64 bytes (seed + public key). */
static EVP_PKEY *
ed25519_from_base64 (const char *text)
{
  g_autofree char *copy = g_strstrip (g_strdup (text));
  gsize len = 0;
  for (const char *p = copy; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=')
      {
        OPENSSL_cleanse (copy, strlen (copy));
        return NULL;
      }
  guchar *raw = g_base64_decode (copy, &len);
  OPENSSL_cleanse (copy, strlen (copy));
  EVP_PKEY *pkey = NULL;
  if (raw != NULL && (len == 32 || len == 64))
    pkey = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, raw, 32);
  if (raw != NULL)
    {
      OPENSSL_cleanse (raw, len);
      g_free (raw);
    }
  return pkey;
}

static gboolean
load_secret (SpotCoinbaseKey *key, const char *secret, const char *source, GError **error)
{
  if (strstr (secret, "-----BEGIN") != NULL)
    {
      BIO *bio = BIO_new_mem_buf (secret, -1);
      EVP_PKEY *pkey = PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL);
      BIO_free (bio);
      if (pkey == NULL)
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                       "%s holds a PEM block that is not a readable unencrypted private key",
                       source);
          return FALSE;
        }
      int type = EVP_PKEY_get_base_id (pkey);
      if (type == EVP_PKEY_ED25519)
        {
          key->algorithm = SPOT_COINBASE_KEY_EDDSA;
          key->pkey = pkey;
          return TRUE;
        }
      char curve[64] = "";
      if (type != EVP_PKEY_EC
          || !EVP_PKEY_get_utf8_string_param (pkey, "group", curve, sizeof curve, NULL)
          || (strcmp (curve, "prime256v1") != 0 && strcmp (curve, "P-256") != 0))
        {
          EVP_PKEY_free (pkey);
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                       "%s is neither an EC P-256 nor an Ed25519 private key (%s%s%s)", source,
                       type == EVP_PKEY_EC ? "EC curve " : "key type ",
                       type == EVP_PKEY_EC ? curve : OBJ_nid2sn (type), "");
          return FALSE;
        }
      EVP_PKEY_free (pkey);
      key->algorithm = SPOT_COINBASE_KEY_ES256;
      key->pem_len = strlen (secret) + 1;
      key->pem = g_strdup (secret);
      return TRUE;
    }
  EVP_PKEY *ed = ed25519_from_base64 (secret);
  if (ed == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "%s is not a PEM private key nor base64 of a 32- or 64-byte Ed25519 secret",
                   source);
      return FALSE;
    }
  key->algorithm = SPOT_COINBASE_KEY_EDDSA;
  key->pkey = ed;
  return TRUE;
}

SpotCoinbaseKey *
spot_coinbase_key_load (const char *key_name,
                        const char *key_file,
                        const char *key_text,
                        GError **error)
{
  gboolean have_text = key_text != NULL && *key_text != '\0';
  gboolean have_file = key_file != NULL && *key_file != '\0';
  if (!have_text && !have_file)
    {
      if (key_name != NULL && *key_name != '\0')
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                       "COINBASE_KEY_NAME is set but neither COINBASE_KEY nor COINBASE_KEY_FILE");
          return NULL;
        }
      return NULL;
    }

  g_autoptr (SpotCoinbaseKey) key = g_new0 (SpotCoinbaseKey, 1);
  char *contents = NULL;
  gsize contents_len = 0;
  const char *source = have_text ? "COINBASE_KEY" : "COINBASE_KEY_FILE";
  if (have_text)
    {
      contents = g_strdup (key_text);
      contents_len = strlen (contents);
    }
  else
    {
      g_autoptr (GError) local = NULL;
      if (!g_file_get_contents (key_file, &contents, &contents_len, &local))
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                       "COINBASE_KEY_FILE=%s cannot be read: %s", key_file, local->message);
          return NULL;
        }
    }

  g_autofree char *json_name = NULL;
  char *secret = NULL; /* points into contents or a parsed copy */
  char *json_secret = NULL;
  gsize json_secret_len = 0;
  const char *p = contents;
  while (g_ascii_isspace (*p))
    p++;
  if (*p == '{')
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonNode *root = NULL;
      if (json_parser_load_from_data (parser, contents, (gssize)contents_len, NULL))
        root = json_parser_get_root (parser);
      JsonObject *obj
          = root != NULL && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
      const char *pk = obj != NULL
                           ? json_object_get_string_member_with_default (obj, "privateKey", NULL)
                           : NULL;
      if (pk == NULL)
        {
          secret_free (contents, contents_len);
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                       "%s is JSON without a string \"privateKey\" (expected Coinbase's key file)",
                       source);
          return NULL;
        }
      json_secret = g_strdup (pk);
      json_secret_len = strlen (pk);
      /* The parser's copy of the secret cannot be wiped; it is freed here. */
      json_name = g_strdup (json_object_get_string_member_with_default (obj, "name", NULL));
      secret = json_secret;
    }
  else
    secret = contents;

  gboolean ok = load_secret (key, secret, source, error);
  secret_free (json_secret, json_secret_len);
  secret_free (contents, contents_len);
  if (!ok)
    return NULL;

  const char *name = key_name != NULL && *key_name != '\0' ? key_name : json_name;
  if (name == NULL || *name == '\0')
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "COINBASE_KEY_NAME is required with %s (the key file does not name the key)",
                   source);
      return NULL;
    }
  key->name = g_strdup (name);
  /* Prove the key signs now rather than at the first subscribe. */
  g_autofree char *probe = spot_coinbase_key_sign (key, g_get_real_time () / G_USEC_PER_SEC, error);
  if (probe == NULL)
    {
      g_prefix_error (error, "%s: ", source);
      if (error != NULL && *error != NULL)
        (*error)->code = SPOT_ERROR_INVALID_CONFIG;
      return NULL;
    }
  return g_steal_pointer (&key);
}

static char *
random_nonce (void)
{
  guchar raw[16];
  if (RAND_bytes (raw, sizeof raw) != 1)
    for (guint i = 0; i < sizeof raw; i++)
      raw[i] = (guchar)g_random_int_range (0, 256);
  GString *s = g_string_sized_new (33);
  for (guint i = 0; i < sizeof raw; i++)
    g_string_append_printf (s, "%02x", raw[i]);
  return g_string_free (s, FALSE);
}

static char *
base64url (const guchar *data, gsize len)
{
  char *s = g_base64_encode (data, len);
  gsize n = strlen (s);
  while (n > 0 && s[n - 1] == '=')
    s[--n] = '\0';
  for (char *c = s; *c != '\0'; c++)
    if (*c == '+')
      *c = '-';
    else if (*c == '/')
      *c = '_';
  return s;
}

static char *
sign_es256 (SpotCoinbaseKey *key, gint64 now_s, const char *nonce, GError **error)
{
  jwt_t *jwt = NULL;
  if (jwt_new (&jwt) != 0)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_FAILED, "libjwt: out of memory");
      return NULL;
    }
  int rc = jwt_add_header (jwt, "kid", key->name);
  rc = rc != 0 ? rc : jwt_add_header (jwt, "nonce", nonce);
  rc = rc != 0 ? rc : jwt_add_grant (jwt, "sub", key->name);
  rc = rc != 0 ? rc : jwt_add_grant (jwt, "iss", "cdp");
  rc = rc != 0 ? rc : jwt_add_grant_int (jwt, "nbf", (long)now_s);
  rc = rc != 0 ? rc : jwt_add_grant_int (jwt, "exp", (long)(now_s + JWT_LIFETIME_S));
  rc = rc != 0 ? rc
               : jwt_set_alg (jwt, JWT_ALG_ES256, (const unsigned char *)key->pem,
                              (int)key->pem_len - 1);
  char *token = rc == 0 ? jwt_encode_str (jwt) : NULL;
  jwt_free (jwt);
  if (token == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_FAILED, "ES256 signing with key %s failed",
                   key->name);
      return NULL;
    }
  char *out = g_strdup (token);
  free (token); /* libjwt 1.10 allocates with malloc */
  return out;
}

static char *
sign_eddsa (SpotCoinbaseKey *key, gint64 now_s, const char *nonce, GError **error)
{
  g_autoptr (JsonBuilder) hb = json_builder_new ();
  json_builder_begin_object (hb);
  json_builder_set_member_name (hb, "alg");
  json_builder_add_string_value (hb, "EdDSA");
  json_builder_set_member_name (hb, "kid");
  json_builder_add_string_value (hb, key->name);
  json_builder_set_member_name (hb, "nonce");
  json_builder_add_string_value (hb, nonce);
  json_builder_set_member_name (hb, "typ");
  json_builder_add_string_value (hb, "JWT");
  json_builder_end_object (hb);
  g_autoptr (JsonBuilder) cb = json_builder_new ();
  json_builder_begin_object (cb);
  json_builder_set_member_name (cb, "sub");
  json_builder_add_string_value (cb, key->name);
  json_builder_set_member_name (cb, "iss");
  json_builder_add_string_value (cb, "cdp");
  json_builder_set_member_name (cb, "nbf");
  json_builder_add_int_value (cb, now_s);
  json_builder_set_member_name (cb, "exp");
  json_builder_add_int_value (cb, now_s + JWT_LIFETIME_S);
  json_builder_end_object (cb);
  g_autoptr (JsonNode) hn = json_builder_get_root (hb);
  g_autoptr (JsonNode) cn = json_builder_get_root (cb);
  g_autofree char *hjson = json_to_string (hn, FALSE);
  g_autofree char *cjson = json_to_string (cn, FALSE);
  g_autofree char *h64 = base64url ((const guchar *)hjson, strlen (hjson));
  g_autofree char *c64 = base64url ((const guchar *)cjson, strlen (cjson));
  g_autofree char *input = g_strconcat (h64, ".", c64, NULL);

  guchar sig[64];
  size_t sig_len = sizeof sig;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  gboolean ok = ctx != NULL && EVP_DigestSignInit (ctx, NULL, NULL, NULL, key->pkey) == 1
                && EVP_DigestSign (ctx, sig, &sig_len, (const guchar *)input, strlen (input)) == 1;
  EVP_MD_CTX_free (ctx);
  if (!ok)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_FAILED, "EdDSA signing with key %s failed",
                   key->name);
      return NULL;
    }
  g_autofree char *s64 = base64url (sig, sig_len);
  return g_strconcat (input, ".", s64, NULL);
}

char *
spot_coinbase_key_sign (SpotCoinbaseKey *key, gint64 now_s, GError **error)
{
  g_return_val_if_fail (key != NULL, NULL);
  g_autofree char *nonce = random_nonce ();
  if (key->algorithm == SPOT_COINBASE_KEY_ES256)
    return sign_es256 (key, now_s, nonce, error);
  return sign_eddsa (key, now_s, nonce, error);
}
