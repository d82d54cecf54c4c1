/* nats-test-util.h: candles for the NATS tests. */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

/* A valid candle: OHLC all @price (a decimal string), volume 1, given start
 * (aligned by the caller), rev and exchange timestamp. */
SpotCandle nats_test_candle (
    const char *product_id, SpotGranularity g, gint64 start, guint64 rev, const char *price);

SpotCandleUpdate nats_test_update (const char *product_id,
                                   SpotGranularity g,
                                   gint64 start,
                                   guint64 rev,
                                   SpotCandleUpdateKind kind);

/* Iterates the default main context until @done is TRUE or @timeout_ms. */
gboolean nats_test_wait_until (gboolean (*done) (gpointer), gpointer data, guint timeout_ms);

G_END_DECLS

#include "nats/spot-nats-connection.h"

G_BEGIN_DECLS

/* Connects to @urls (a NATS_URL value), asserting success, and waits until
 * connected. */
SpotNatsConnection *nats_test_connect (const char *urls);

/* Iterates the default context until the connection's state is @state. */
gboolean nats_test_wait_state (SpotNatsConnection *conn, SpotNatsState state, guint timeout_ms);

/* TRUE when the process exists (and is not a zombie). */
gboolean nats_test_pid_alive (GPid pid);

G_END_DECLS

G_BEGIN_DECLS

/* Removes a directory tree (test temporary directories). */
void nats_test_remove_tree (const char *path);

G_END_DECLS

G_BEGIN_DECLS

/* Iterates the default context until the connection is connected after at
 * least @reconnects reconnects. */
gboolean
nats_test_wait_reconnected (SpotNatsConnection *conn, guint64 reconnects, guint timeout_ms);

G_END_DECLS
