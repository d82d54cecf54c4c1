/* spot-sim-jwt.h: checks the JWTs a Coinbase client puts in its subscribes.
 *
 * ES256 (EC P-256, raw r||s signature) is verified with libjwt 1.10; EdDSA
 * (Ed25519), which libjwt 1.10 lacks, is verified here with OpenSSL's
 * EVP_DigestVerify over "header.payload". The claims must be those of a CDP
 * key: iss "cdp", nbf <= now < exp, sub equal to the header's kid.
 *
 * Thread safety: a SpotSimJwtVerifier is immutable once loaded; verify from
 * any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SpotSimJwtVerifier SpotSimJwtVerifier;

SpotSimJwtVerifier *spot_sim_jwt_verifier_new (void);
void spot_sim_jwt_verifier_free (SpotSimJwtVerifier *verifier);

/* Adds a PEM public key (EC P-256 or Ed25519) read from @path.
 * SPOT_ERROR_IO when it cannot be read, SPOT_ERROR_PARSE when it is not one
 * of those keys. */
gboolean
spot_sim_jwt_verifier_add_key_file (SpotSimJwtVerifier *verifier, const char *path, GError **error);
guint spot_sim_jwt_verifier_n_keys (SpotSimJwtVerifier *verifier);

/* TRUE when @token is signed by one of the keys and its claims hold at
 * @now_s (epoch seconds, leeway @leeway_s). Otherwise FALSE with
 * SPOT_ERROR_INVALID_ARGUMENT naming what failed. */
gboolean spot_sim_jwt_verify (
    SpotSimJwtVerifier *verifier, const char *token, gint64 now_s, gint64 leeway_s, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotSimJwtVerifier, spot_sim_jwt_verifier_free)

G_END_DECLS
