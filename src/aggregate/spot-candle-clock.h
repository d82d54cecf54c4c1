/* spot-candle-clock.h: the injected clock of candle completion.
 *
 * Completion happens by the service's clock corrected by the exchange clock
 * offset: exchange_now = now() - offset, where offset is the minimum over the
 * last minute of (receive time - exchange message timestamp), observed per
 * connection; the clock keeps the smallest of all connections' minima, which
 * is the most conservative estimate of the exchange's "now" (it lags by the
 * fastest observed network delay).
 *
 * Tests inject a manual clock (spot_candle_clock_new_manual) and move it.
 *
 * Thread safety: all functions may be called from any thread (the offset and
 * the manual time are atomics; observations take a short mutex).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SpotCandleClock SpotCandleClock;

/* Returns wall-clock nanoseconds since the epoch (UTC). */
typedef gint64 (*SpotClockNowFunc) (gpointer user_data);

/* The real clock: spot_time_now_ns(). */
SpotCandleClock *spot_candle_clock_new (void);
/* A clock that reads @now_func (a test double or a simulated clock). */
SpotCandleClock *spot_candle_clock_new_custom (SpotClockNowFunc now_func, gpointer user_data);
/* A manual clock starting at @start_ns; move it with spot_candle_clock_set_manual(). */
SpotCandleClock *spot_candle_clock_new_manual (gint64 start_ns);
void spot_candle_clock_set_manual (SpotCandleClock *clock, gint64 now_ns);
void spot_candle_clock_advance_manual (SpotCandleClock *clock, gint64 delta_ns);

SpotCandleClock *spot_candle_clock_ref (SpotCandleClock *clock);
void spot_candle_clock_unref (SpotCandleClock *clock);

/* Uncorrected local time. */
gint64 spot_candle_clock_local_ns (SpotCandleClock *clock);
/* The exchange's time as estimated: local - offset. */
gint64 spot_candle_clock_now_ns (SpotCandleClock *clock);

/* Sets the offset directly (nanoseconds; positive when the local clock reads
 * later than the exchange's message timestamps). Clears observations. */
void spot_candle_clock_set_offset_ns (SpotCandleClock *clock, gint64 offset_ns);
gint64 spot_candle_clock_get_offset_ns (SpotCandleClock *clock);

/* Feeds one observation of connection @connection (0..63): a message with
 * exchange timestamp @message_ns received at local @receive_ns. The offset
 * becomes the minimum over the last minute (two 30 s windows) per connection,
 * then the minimum over connections seen in the last two minutes. */
void spot_candle_clock_observe (SpotCandleClock *clock,
                                guint connection,
                                gint64 receive_ns,
                                gint64 message_ns);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotCandleClock, spot_candle_clock_unref)

G_END_DECLS
