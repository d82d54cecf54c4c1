/* nats-test-util.h: candles for the NATS tests. */
#pragma once

#include <glib.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

/* A valid candle: OHLC all @price (a decimal string), volume 1, given start
 * (aligned by the caller), rev and exchange timestamp. */
SpotCandle nats_test_candle (const char *product_id,
                             SpotGranularity g,
                             gint64 start,
                             guint64 rev,
                             const char *price);

SpotCandleUpdate nats_test_update (const char *product_id,
                                   SpotGranularity g,
                                   gint64 start,
                                   guint64 rev,
                                   SpotCandleUpdateKind kind);

/* Iterates the default main context until @done is TRUE or @timeout_ms. */
gboolean nats_test_wait_until (gboolean (*done) (gpointer), gpointer data, guint timeout_ms);

G_END_DECLS
