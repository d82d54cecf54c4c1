/* spot-health.h: the component checks behind GET /health.
 *
 * The orchestration registers one check per component (NATS, database,
 * exchange connections, shards, backpressure, ...). A check adds members to
 * the component's JSON object and returns whether the component is healthy;
 * the report adds "healthy" to each component. The service is healthy when
 * every critical check is (non-critical ones are reported only). The body:
 *
 *   {"status":"ok"|"unhealthy","uptime_s":N,"version":"0.1.0",
 *    "components":{"nats":{"healthy":true,...},"database":{...},...}}
 *
 * Ready-made checks for the parts that exist are in spot-health-checks.h.
 *
 * Thread safety: main thread only (checks run on the main loop and must not
 * block: read cached state, never ask a server).
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Adds members to the open object of the component (never "healthy"). */
typedef gboolean (*SpotHealthCheckFunc) (JsonBuilder *builder, gpointer user_data);

typedef struct _SpotHealth SpotHealth;

SpotHealth *spot_health_new (void);
SpotHealth *spot_health_ref (SpotHealth *health);
void spot_health_unref (SpotHealth *health);

/* @name: unique member name in "components"; a second check with the same
 * name replaces the first. @critical: whether it decides the overall status. */
void spot_health_add_check (SpotHealth *health,
                            const char *name,
                            gboolean critical,
                            SpotHealthCheckFunc func,
                            gpointer user_data,
                            GDestroyNotify destroy);
void spot_health_remove_check (SpotHealth *health, const char *name);

/* Runs every check; returns the JSON text and sets *@healthy. @extra (may be
 * NULL) adds top-level members (the HTTP server adds its SSE summary). */
char *spot_health_report (SpotHealth *health,
                          gint64 uptime_s,
                          SpotHealthCheckFunc extra,
                          gpointer extra_data,
                          gboolean *healthy);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotHealth, spot_health_unref)

G_END_DECLS
