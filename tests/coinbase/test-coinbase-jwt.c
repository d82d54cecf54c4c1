/* test-coinbase-jwt.c: CDP keys in every accepted form, JWT round trips
 * (ES256 verified with libjwt, EdDSA with libcrypto), unusable keys refused. */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "coinbase/spot-coinbase-jwt.h"
#include "core/spot-error.h"

static char *
pem_private (EVP_PKEY *pkey, gboolean traditional)
{
  BIO *bio = BIO_new (BIO_s_mem ());
  if (traditional)
    g_assert_cmpint (PEM_write_bio_PrivateKey_traditional (bio, pkey, NULL, NULL, 0, NULL, NULL),
                     ==, 1);
  else
    g_assert_cmpint (PEM_write_bio_PrivateKey (bio, pkey, NULL, NULL, 0, NULL, NULL), ==, 1);
  char *data = NULL;
  long len = BIO_get_mem_data (bio, &data);
  char *out = g_strndup (data, (gsize)len);
  BIO_free (bio);
  return out;
}

static char *
pem_public (EVP_PKEY *pkey)
{
  BIO *bio = BIO_new (BIO_s_mem ());
  g_assert_cmpint (PEM_write_bio_PUBKEY (bio, pkey), ==, 1);
  char *data = NULL;
  long len = BIO_get_mem_data (bio, &data);
  char *out = g_strndup (data, (gsize)len);
  BIO_free (bio);
  return out;
}

static EVP_PKEY *
gen_ec (const char *curve)
{
  return EVP_PKEY_Q_keygen (NULL, NULL, "EC", curve);
}

static EVP_PKEY *
gen_ed25519 (void)
{
  return EVP_PKEY_Q_keygen (NULL, NULL, "ED25519");
}

static guchar *
b64url_decode (const char *s, gsize len, gsize *out_len)
{
  GString *t = g_string_new_len (s, (gssize)len);
  for (gsize i = 0; i < t->len; i++)
    t->str[i] = t->str[i] == '-' ? '+' : t->str[i] == '_' ? '/' : t->str[i];
  while (t->len % 4 != 0)
    g_string_append_c (t, '=');
  guchar *out = g_base64_decode (t->str, out_len);
  g_string_free (t, TRUE);
  return out;
}

/* Checks header and claims of @token; returns the header's alg. */
static char *
check_claims (const char *token, const char *name, gint64 now)
{
  g_auto (GStrv) parts = g_strsplit (token, ".", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 3);
  gsize hl = 0, cl = 0;
  g_autofree guchar *h = b64url_decode (parts[0], strlen (parts[0]), &hl);
  g_autofree guchar *c = b64url_decode (parts[1], strlen (parts[1]), &cl);
  g_autoptr (JsonParser) hp = json_parser_new ();
  g_autoptr (JsonParser) cp = json_parser_new ();
  g_assert_true (json_parser_load_from_data (hp, (const char *)h, (gssize)hl, NULL));
  g_assert_true (json_parser_load_from_data (cp, (const char *)c, (gssize)cl, NULL));
  JsonObject *ho = json_node_get_object (json_parser_get_root (hp));
  JsonObject *co = json_node_get_object (json_parser_get_root (cp));
  g_assert_cmpstr (json_object_get_string_member (ho, "kid"), ==, name);
  g_assert_cmpstr (json_object_get_string_member (ho, "typ"), ==, "JWT");
  const char *nonce = json_object_get_string_member (ho, "nonce");
  g_assert_cmpuint (strlen (nonce), ==, 32);
  g_assert_cmpstr (json_object_get_string_member (co, "sub"), ==, name);
  g_assert_cmpstr (json_object_get_string_member (co, "iss"), ==, "cdp");
  g_assert_cmpint (json_object_get_int_member (co, "nbf"), ==, now);
  g_assert_cmpint (json_object_get_int_member (co, "exp"), ==, now + 120);
  g_assert_false (json_object_has_member (co, "uri"));
  return g_strdup (json_object_get_string_member (ho, "alg"));
}

static char *
write_temp (const char *contents)
{
  g_autoptr (GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("spot-key-XXXXXX", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  return path;
}

static char *
coinbase_json (const char *name, const char *pem)
{
  /* Coinbase's download: newlines escaped inside the JSON string. */
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "privateKey");
  json_builder_add_string_value (b, pem);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, TRUE);
}

static void
verify_es256 (const char *token, EVP_PKEY *pkey)
{
  g_autofree char *pub = pem_public (pkey);
  jwt_t *jwt = NULL;
  g_assert_cmpint (jwt_decode (&jwt, token, (const unsigned char *)pub, (int)strlen (pub)), ==, 0);
  g_assert_cmpint (jwt_get_alg (jwt), ==, JWT_ALG_ES256);
  jwt_free (jwt);
  /* A flipped signature byte fails. */
  g_autofree char *bad = g_strdup (token);
  char *last = bad + strlen (bad) - 5;
  *last = *last == 'A' ? 'B' : 'A';
  jwt = NULL;
  g_assert_cmpint (jwt_decode (&jwt, bad, (const unsigned char *)pub, (int)strlen (pub)), !=, 0);
}

static gboolean
eddsa_valid (const char *token, EVP_PKEY *pkey)
{
  const char *dot = strrchr (token, '.');
  gsize sl = 0;
  g_autofree guchar *sig = b64url_decode (dot + 1, strlen (dot + 1), &sl);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  gboolean ok
      = EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, pkey) == 1
        && EVP_DigestVerify (ctx, sig, sl, (const guchar *)token, (gsize)(dot - token)) == 1;
  EVP_MD_CTX_free (ctx);
  return ok;
}

static void
test_es256_round_trip_from_coinbase_json_file (void)
{
  EVP_PKEY *pkey = gen_ec ("P-256");
  g_autofree char *pem = pem_private (pkey, TRUE); /* -----BEGIN EC PRIVATE KEY----- */
  g_assert_nonnull (strstr (pem, "BEGIN EC PRIVATE KEY"));
  g_autofree char *json = coinbase_json ("organizations/o/apiKeys/k1", pem);
  g_assert_nonnull (strstr (json, "\\n"));
  g_autofree char *path = write_temp (json);
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotCoinbaseKey) key = spot_coinbase_key_load (NULL, path, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (key);
  g_assert_cmpint (spot_coinbase_key_get_algorithm (key), ==, SPOT_COINBASE_KEY_ES256);
  g_assert_cmpstr (spot_coinbase_key_get_name (key), ==, "organizations/o/apiKeys/k1");
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *token = spot_coinbase_key_sign (key, now, &error);
  g_assert_no_error (error);
  g_autofree char *alg = check_claims (token, "organizations/o/apiKeys/k1", now);
  g_assert_cmpstr (alg, ==, "ES256");
  /* Raw r||s: 64 bytes. */
  gsize sl = 0;
  const char *dot = strrchr (token, '.');
  g_autofree guchar *sig = b64url_decode (dot + 1, strlen (dot + 1), &sl);
  g_assert_nonnull (sig);
  g_assert_cmpuint (sl, ==, 64);
  verify_es256 (token, pkey);
  /* A fresh nonce each time. */
  g_autofree char *token2 = spot_coinbase_key_sign (key, now, NULL);
  g_assert_cmpstr (token, !=, token2);
  g_unlink (path);
  EVP_PKEY_free (pkey);
}

static void
test_es256_from_pkcs8_pem_text_with_name (void)
{
  EVP_PKEY *pkey = gen_ec ("P-256");
  g_autofree char *pem = pem_private (pkey, FALSE); /* -----BEGIN PRIVATE KEY----- */
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotCoinbaseKey) key = spot_coinbase_key_load ("k2", NULL, pem, &error);
  g_assert_no_error (error);
  g_autofree char *token = spot_coinbase_key_sign (key, 1775521800, &error);
  g_autofree char *alg = check_claims (token, "k2", 1775521800);
  g_assert_cmpstr (alg, ==, "ES256");
  verify_es256 (token, pkey);
  EVP_PKEY_free (pkey);
}

static void
test_eddsa_round_trip_from_pem_and_base64 (void)
{
  EVP_PKEY *pkey = gen_ed25519 ();
  g_autofree char *pem = pem_private (pkey, FALSE);
  g_autofree char *path = write_temp (pem);
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotCoinbaseKey) k1 = spot_coinbase_key_load ("ed-key", path, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (spot_coinbase_key_get_algorithm (k1), ==, SPOT_COINBASE_KEY_EDDSA);
  g_autofree char *t1 = spot_coinbase_key_sign (k1, 1775521800, &error);
  g_autofree char *alg = check_claims (t1, "ed-key", 1775521800);
  g_assert_cmpstr (alg, ==, "EdDSA");
  g_assert_true (eddsa_valid (t1, pkey));

  /* Base64 of the 32-byte seed and of seed + public key (64 bytes). */
  guchar raw[64];
  size_t rl = 32, pl = 32;
  g_assert_cmpint (EVP_PKEY_get_raw_private_key (pkey, raw, &rl), ==, 1);
  g_assert_cmpint (EVP_PKEY_get_raw_public_key (pkey, raw + 32, &pl), ==, 1);
  for (guint n = 32; n <= 64; n += 32)
    {
      g_autofree char *b64 = g_base64_encode (raw, n);
      g_autofree char *json = coinbase_json ("ed-json", b64);
      g_autofree char *jpath = write_temp (json);
      g_autoptr (SpotCoinbaseKey) k = spot_coinbase_key_load (NULL, jpath, NULL, &error);
      g_assert_no_error (error);
      g_autofree char *t = spot_coinbase_key_sign (k, 1775521800, &error);
      g_assert_true (eddsa_valid (t, pkey));
      g_autoptr (SpotCoinbaseKey) kt = spot_coinbase_key_load ("ed-text", NULL, b64, &error);
      g_assert_no_error (error);
      g_autofree char *t2 = spot_coinbase_key_sign (kt, 1775521800, &error);
      g_assert_true (eddsa_valid (t2, pkey));
      g_unlink (jpath);
    }
  g_unlink (path);
  EVP_PKEY_free (pkey);
}

static void
test_no_key_configured_is_not_an_error (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (spot_coinbase_key_load (NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (spot_coinbase_key_load (NULL, "", "", &error));
  g_assert_no_error (error);
}

static void
expect_refused (const char *name, const char *file, const char *text, const char *secret_fragment)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (spot_coinbase_key_load (name, file, text, &error));
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
  g_assert_true (strstr (error->message, "COINBASE_KEY") != NULL);
  if (secret_fragment != NULL)
    g_assert_null (strstr (error->message, secret_fragment));
}

static void
test_unusable_keys_are_refused_without_revealing_them (void)
{
  EVP_PKEY *p384 = gen_ec ("P-384");
  g_autofree char *p384_pem = pem_private (p384, FALSE);
  EVP_PKEY *rsa = EVP_PKEY_Q_keygen (NULL, NULL, "RSA", (size_t)1024);
  g_autofree char *rsa_pem = pem_private (rsa, FALSE);
  expect_refused ("k", NULL, p384_pem, "MI");
  expect_refused ("k", NULL, rsa_pem, "MI");
  expect_refused ("k", NULL,
                  "-----BEGIN EC PRIVATE KEY-----\nnot base64\n-----END EC PRIVATE KEY-----\n",
                  "not base64");
  expect_refused ("k", NULL, "c2VjcmV0LXNlY3JldA==", "c2VjcmV0");
  expect_refused ("k", NULL, "{\"name\":\"x\"}", NULL);
  expect_refused ("k", "/nonexistent/key.json", NULL, NULL);
  expect_refused ("k", NULL, NULL, NULL);
  /* A PEM without a name anywhere. */
  EVP_PKEY *ec = gen_ec ("P-256");
  g_autofree char *ec_pem = pem_private (ec, FALSE);
  expect_refused (NULL, NULL, ec_pem, "MI");
  EVP_PKEY_free (ec);
  EVP_PKEY_free (p384);
  EVP_PKEY_free (rsa);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/coinbase/jwt/es256-round-trip-from-coinbase-json-file",
                   test_es256_round_trip_from_coinbase_json_file);
  g_test_add_func ("/coinbase/jwt/es256-from-pkcs8-pem-text-with-name",
                   test_es256_from_pkcs8_pem_text_with_name);
  g_test_add_func ("/coinbase/jwt/eddsa-round-trip-from-pem-and-base64",
                   test_eddsa_round_trip_from_pem_and_base64);
  g_test_add_func ("/coinbase/jwt/no-key-configured-is-not-an-error",
                   test_no_key_configured_is_not_an_error);
  g_test_add_func ("/coinbase/jwt/unusable-keys-are-refused-without-revealing-them",
                   test_unusable_keys_are_refused_without_revealing_them);
  return g_test_run ();
}
