/* spot-health-checks.h: /health checks for the components that exist.
 *
 * Each function registers a check on @health that holds a reference to the
 * component and reads only cached state (never a network round trip):
 *   nats          state, embedded, server, disconnects/reconnects, last error
 *   database      connected, last error
 *   live_cache    keys, synced, updates (non-critical)
 *   candle_hub    attached, clients, dropped (non-critical)
 *   backpressure  max utilisation of the last sample and the queues summary;
 *                 unhealthy at or above @max_utilisation (non-critical)
 * Exchange connections and shards are registered by the orchestration with
 * spot_health_add_check() and its own callbacks.
 *
 * Thread safety: main thread.
 */
#pragma once

#include "http/spot-health.h"
#include "metrics/spot-backpressure-monitor.h"
#include "nats/spot-candle-hub.h"
#include "nats/spot-live-cache.h"
#include "nats/spot-nats-connection.h"
#include "store/spot-repository.h"

G_BEGIN_DECLS

void spot_health_add_nats (SpotHealth *health, SpotNatsConnection *connection);
void spot_health_add_repository (SpotHealth *health, SpotRepository *repository);
void spot_health_add_live_cache (SpotHealth *health, SpotLiveCache *cache);
void spot_health_add_candle_hub (SpotHealth *health, SpotCandleHub *hub);
void spot_health_add_backpressure (SpotHealth *health,
                                   SpotBackpressureMonitor *monitor,
                                   double max_utilisation);

G_END_DECLS
