/* spot-nats-control.h: cross-instance product control on NATS.
 *
 * Subject spot.control.products (SPOT_NATS_CONTROL_SUBJECT), JSON
 * {"add":["BTC-USD",...],"remove":[...]} (either list may be missing or
 * empty, not both). Every instance receives every message and applies its own
 * share (h % SHARD_COUNT == SHARD_INDEX); this module only carries the
 * message.
 *
 * Thread safety: spot_nats_control_parse/to_json are pure. publish: any
 * thread (a core publish, never blocks beyond a socket write). A
 * SpotNatsControl is created, used and freed on one thread, whose
 * thread-default context receives the callbacks.
 */
#pragma once

#include <glib.h>
#include <nats/nats.h>

G_BEGIN_DECLS

/* Newly allocated JSON; NULL lists are written as empty. */
char *spot_nats_control_to_json (const char *const *add, const char *const *remove);

/* Parses and validates (product id rules, no duplicates within a list).
 * Errors (SPOT_ERROR_PARSE or SPOT_ERROR_INVALID_ARGUMENT) name the value at
 * fault. *add and *remove are NULL-terminated (possibly empty) arrays. */
gboolean
spot_nats_control_parse (const char *json, gssize len, char ***add, char ***remove, GError **error);

gboolean spot_nats_control_publish (natsConnection *nc,
                                    const char *const *add,
                                    const char *const *remove,
                                    GError **error);

typedef struct _SpotNatsControl SpotNatsControl;

/* Called on the subscriber's context for each valid message; invalid ones
 * are logged (rate limited) and skipped. */
typedef void (*SpotNatsControlFunc) (const char *const *add,
                                     const char *const *remove,
                                     gpointer user_data);

SpotNatsControl *spot_nats_control_subscribe (natsConnection *nc,
                                              SpotNatsControlFunc func,
                                              gpointer user_data,
                                              GError **error);
/* Unsubscribes; no callback runs afterwards. */
void spot_nats_control_free (SpotNatsControl *control);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotNatsControl, spot_nats_control_free)

G_END_DECLS
