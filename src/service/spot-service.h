/* spot-service.h: one running spot-canvas instance.
 *
 * SpotService owns every component of the pipeline (DESIGN.md section 1) and
 * wires them: NATS (embedded or remote), PostgreSQL (embedded or remote,
 * migrated), the active products, the sharded candle engine with its sink
 * (publisher + batch writer + repair coordinator), the Coinbase client with
 * seeding, the live cache and candle hub, HTTP, and the D-Bus object, for
 * which it implements SpotController.
 *
 * State machine (docs/operations.md), shown on /health and D-Bus:
 *
 *   starting --(every component up)--> running <--> degraded
 *       |                                 |             |
 *       +------------ stop() ------------> stopping --> stopped
 *   starting --(a component failed)--> failed (exit code 1)
 *
 * degraded: a dependency went away after start-up (NATS not connected, the
 * database unreachable, or no exchange connection open while products are
 * owned); it recovers on its own, nothing crashes.
 *
 * Product control: AddProducts/RemoveProducts (D-Bus) persist in the
 * database, apply live (added products are seeded before anything is
 * written for them) and are announced on spot.control.products; every
 * instance applies its own share of such messages. SIGHUP re-reads the
 * database's active set.
 *
 * Thread safety: main thread only (the thread-default main context at
 * construction runs everything); signals are emitted there.
 */
#pragma once

#include <gio/gio.h>

#include "config/spot-config.h"

G_BEGIN_DECLS

typedef enum
{
  SPOT_SERVICE_STATE_STARTING,
  SPOT_SERVICE_STATE_RUNNING,
  SPOT_SERVICE_STATE_DEGRADED,
  SPOT_SERVICE_STATE_STOPPING,
  SPOT_SERVICE_STATE_STOPPED,
  SPOT_SERVICE_STATE_FAILED,
} SpotServiceState;

const char *spot_service_state_to_string (SpotServiceState state);

/* Exit codes of `spot-canvas run` (docs/operations.md). */
#define SPOT_EXIT_OK 0
#define SPOT_EXIT_RUNTIME 1          /* start-up failed, or stopped with rows left unwritten */
#define SPOT_EXIT_USAGE 2            /* bad configuration or usage */
#define SPOT_EXIT_SHUTDOWN_TIMEOUT 3 /* the ordered shutdown overran SHUTDOWN_TIMEOUT_S */

#define SPOT_TYPE_SERVICE (spot_service_get_type ())
G_DECLARE_FINAL_TYPE (SpotService, spot_service, SPOT, SERVICE, GObject)

/* @config must outlive the service. */
SpotService *spot_service_new (const SpotConfig *config);

/* Starts everything asynchronously; progress through ::notify::state. On a
 * start-up failure the state becomes FAILED (after stopping what had
 * started) and spot_service_get_error() says why. */
void spot_service_start (SpotService *self);

/* Ordered shutdown (stop intake, drain the shards, flush the publisher and
 * the batch writer, close NATS, stop HTTP, stop embedded children) within
 * SHUTDOWN_TIMEOUT_S. Ends in STOPPED (or FAILED when start-up had failed).
 * Idempotent. @reason is logged ("SIGTERM"). */
void spot_service_stop (SpotService *self, const char *reason);

/* SIGHUP: re-reads the database's active products and applies the
 * difference (this instance's share). */
void spot_service_reload_products (SpotService *self);

SpotServiceState spot_service_get_state (SpotService *self);
/* The start-up error when FAILED, else NULL. */
const GError *spot_service_get_error (SpotService *self);
/* TRUE once STOPPED or FAILED and everything is released. */
gboolean spot_service_is_finished (SpotService *self);
/* SPOT_EXIT_OK, or SPOT_EXIT_RUNTIME after a failed start or when complete
 * candles could not be written (journaled for the next start). */
int spot_service_get_exit_code (SpotService *self);
/* The bound HTTP port (0 before HTTP started). */
guint16 spot_service_get_http_port (SpotService *self);

G_END_DECLS
