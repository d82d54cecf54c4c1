/* spot-sim-jwt.c: ES256 through libjwt, EdDSA through OpenSSL. */
#define G_LOG_DOMAIN "spot-exchange-sim"

#include "spot-sim-jwt.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/spot-error.h"

typedef struct
{
  gboolean ed25519;
  char *pem;      /* for libjwt (EC keys) */
  EVP_PKEY *pkey; /* for OpenSSL (Ed25519 keys) */
} Key;

struct _SpotSimJwtVerifier
{
  GPtrArray *keys;
};

static void
key_free (gpointer data)
{
  Key *key = data;
  g_free (key->pem);
  EVP_PKEY_free (key->pkey);
  g_free (key);
}

SpotSimJwtVerifier *
spot_sim_jwt_verifier_new (void)
{
  SpotSimJwtVerifier *v = g_new0 (SpotSimJwtVerifier, 1);
  v->keys = g_ptr_array_new_with_free_func (key_free);
  return v;
}

void
spot_sim_jwt_verifier_free (SpotSimJwtVerifier *verifier)
{
  if (verifier == NULL)
    return;
  g_ptr_array_unref (verifier->keys);
  g_free (verifier);
}

guint
spot_sim_jwt_verifier_n_keys (SpotSimJwtVerifier *verifier)
{
  return verifier->keys->len;
}

gboolean
spot_sim_jwt_verifier_add_key_file (SpotSimJwtVerifier *verifier, const char *path, GError **error)
{
  g_autofree char *pem = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &pem, &len, &local))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "JWT public key %s: %s", path, local->message);
      return FALSE;
    }
  BIO *bio = BIO_new_mem_buf (pem, (int)len);
  EVP_PKEY *pkey = PEM_read_bio_PUBKEY (bio, NULL, NULL, NULL);
  BIO_free (bio);
  if (pkey == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "JWT public key %s is not a PEM public key",
                   path);
      return FALSE;
    }
  Key *key = g_new0 (Key, 1);
  if (EVP_PKEY_get_base_id (pkey) == EVP_PKEY_ED25519)
    {
      key->ed25519 = TRUE;
      key->pkey = pkey;
    }
  else if (EVP_PKEY_get_base_id (pkey) == EVP_PKEY_EC && EVP_PKEY_get_bits (pkey) == 256)
    {
      key->pem = g_steal_pointer (&pem);
      EVP_PKEY_free (pkey);
    }
  else
    {
      EVP_PKEY_free (pkey);
      g_free (key);
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "JWT public key %s is neither EC P-256 nor Ed25519", path);
      return FALSE;
    }
  g_ptr_array_add (verifier->keys, key);
  return TRUE;
}

static GBytes *
base64url_decode (const char *text, gsize len)
{
  GString *s = g_string_sized_new (len + 4);
  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];
      if (c == '-')
        c = '+';
      else if (c == '_')
        c = '/';
      else if (!g_ascii_isalnum (c))
        {
          g_string_free (s, TRUE);
          return NULL;
        }
      g_string_append_c (s, c);
    }
  while (s->len % 4 != 0)
    g_string_append_c (s, '=');
  gsize out_len = 0;
  guchar *out = g_base64_decode (s->str, &out_len);
  g_string_free (s, TRUE);
  return g_bytes_new_take (out, out_len);
}

static JsonObject *
parse_object (const char *text, gsize len)
{
  g_autoptr (GBytes) bytes = base64url_decode (text, len);
  if (bytes == NULL)
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize n = 0;
  const char *data = g_bytes_get_data (bytes, &n);
  if (data == NULL || !json_parser_load_from_data (parser, data, (gssize)n, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return json_object_ref (json_node_get_object (root));
}

static gboolean
member_int (JsonObject *o, const char *name, gint64 *out)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (n);
  return TRUE;
}

static gboolean
verify_ed25519 (EVP_PKEY *pkey, const char *token, gsize signed_len, const char *sig_b64)
{
  g_autoptr (GBytes) sig = base64url_decode (sig_b64, strlen (sig_b64));
  if (sig == NULL)
    return FALSE;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  gsize sig_len = 0;
  const guchar *sig_data = g_bytes_get_data (sig, &sig_len);
  gboolean ok
      = EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, pkey) == 1
        && EVP_DigestVerify (ctx, sig_data, sig_len, (const guchar *)token, signed_len) == 1;
  EVP_MD_CTX_free (ctx);
  return ok;
}

gboolean
spot_sim_jwt_verify (
    SpotSimJwtVerifier *verifier, const char *token, gint64 now_s, gint64 leeway_s, GError **error)
{
  const char *dot1 = token != NULL ? strchr (token, '.') : NULL;
  const char *dot2 = dot1 != NULL ? strchr (dot1 + 1, '.') : NULL;
  if (dot1 == NULL || dot2 == NULL || strchr (dot2 + 1, '.') != NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "jwt is not header.payload.signature");
      return FALSE;
    }
  g_autoptr (JsonObject) header = parse_object (token, (gsize)(dot1 - token));
  g_autoptr (JsonObject) claims = parse_object (dot1 + 1, (gsize)(dot2 - dot1 - 1));
  if (header == NULL || claims == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "jwt header or payload is not base64url JSON");
      return FALSE;
    }
  const char *alg = json_object_get_string_member_with_default (header, "alg", "");
  const char *kid = json_object_get_string_member_with_default (header, "kid", NULL);
  gboolean ed = g_str_equal (alg, "EdDSA");
  if (!ed && !g_str_equal (alg, "ES256"))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "jwt alg \"%s\" is neither ES256 nor EdDSA", alg);
      return FALSE;
    }

  gboolean verified = FALSE;
  for (guint i = 0; i < verifier->keys->len && !verified; i++)
    {
      Key *key = g_ptr_array_index (verifier->keys, i);
      if (key->ed25519 != ed)
        continue;
      if (ed)
        verified = verify_ed25519 (key->pkey, token, (gsize)(dot2 - token), dot2 + 1);
      else
        {
          jwt_t *jwt = NULL;
          verified
              = jwt_decode (&jwt, token, (const unsigned char *)key->pem, (int)strlen (key->pem))
                    == 0
                && jwt_get_alg (jwt) == JWT_ALG_ES256;
          jwt_free (jwt);
        }
    }
  if (!verified)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "jwt signature (%s) does not verify", alg);
      return FALSE;
    }

  const char *iss = json_object_get_string_member_with_default (claims, "iss", "");
  const char *sub = json_object_get_string_member_with_default (claims, "sub", NULL);
  gint64 nbf = 0, exp = 0;
  if (!g_str_equal (iss, "cdp"))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT, "jwt iss \"%s\" is not \"cdp\"",
                   iss);
      return FALSE;
    }
  if (kid == NULL || sub == NULL || !g_str_equal (kid, sub))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "jwt sub and kid differ or are missing");
      return FALSE;
    }
  if (!member_int (claims, "nbf", &nbf) || !member_int (claims, "exp", &exp))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT, "jwt nbf or exp is missing");
      return FALSE;
    }
  if (now_s + leeway_s < nbf || now_s - leeway_s >= exp)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "jwt is outside its validity window (nbf %" G_GINT64_FORMAT
                   ", exp %" G_GINT64_FORMAT ", now %" G_GINT64_FORMAT ")",
                   nbf, exp, now_s);
      return FALSE;
    }
  return TRUE;
}
