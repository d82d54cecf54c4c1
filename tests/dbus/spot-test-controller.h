/* spot-test-controller.h: an in-memory SpotController for the D-Bus tests.
 *
 * Products live in a sorted set, candles in a table keyed by product and
 * granularity; add/remove complete from an idle like a real asynchronous
 * controller would. Not a mock of anything external: it stands in for the
 * orchestration so the D-Bus object, real clients and the monitor can be
 * tested on a private bus.
 *
 * Thread safety: main thread only.
 */
#pragma once

#include "core/spot-error.h"
#include "dbus/spot-controller.h"

G_BEGIN_DECLS

#define SPOT_TYPE_TEST_CONTROLLER (spot_test_controller_get_type ())
G_DECLARE_FINAL_TYPE (SpotTestController, spot_test_controller, SPOT, TEST_CONTROLLER, GObject)

/* @products: NULL-terminated initial active set (may be NULL). */
SpotTestController *spot_test_controller_new (const char *const *products);

/* Makes GetCandle find @candle (copied). */
void spot_test_controller_put_candle (SpotTestController *self, const SpotCandle *candle);

/* The next add or remove fails with @code and @message. */
void spot_test_controller_fail_next (SpotTestController *self, SpotError code, const char *message);

guint spot_test_controller_reconnects (SpotTestController *self);
gboolean spot_test_controller_has_product (SpotTestController *self, const char *product_id);

/* A candle for tests: BTC-USD ONE_MINUTE-style values at @start. */
void spot_test_candle_init (SpotCandle *candle,
                            const char *product_id,
                            SpotGranularity granularity,
                            gint64 start);

G_END_DECLS
