#define G_LOG_DOMAIN "spot-aggregate"

#include "aggregate/spot-candle-clock.h"

#include "model/spot-time.h"

#define MAX_CONNECTIONS 64
#define WINDOW_NS (30 * G_GINT64_CONSTANT (1000000000))

/* Per connection: the minimum of the current and the previous 30 s window,
 * so the estimate covers the last 30 to 60 s without keeping samples. */
typedef struct
{
  gint64 window_start_ns;
  gint64 current_min;
  gint64 previous_min;
  gboolean used;
} OffsetWindow;

struct _SpotCandleClock
{
  gint ref_count;
  SpotClockNowFunc now_func;
  gpointer user_data;
  gint64 manual_ns; /* atomic; used when now_func is NULL */
  gint64 offset_ns; /* atomic */
  GMutex lock;      /* guards windows */
  OffsetWindow windows[MAX_CONNECTIONS];
};

static SpotCandleClock *
clock_new (SpotClockNowFunc now_func, gpointer user_data, gint64 manual_ns)
{
  SpotCandleClock *clock = g_new0 (SpotCandleClock, 1);

  clock->ref_count = 1;
  clock->now_func = now_func;
  clock->user_data = user_data;
  clock->manual_ns = manual_ns;
  g_mutex_init (&clock->lock);
  return clock;
}

static gint64
real_now (gpointer user_data)
{
  return spot_time_now_ns ();
}

SpotCandleClock *
spot_candle_clock_new (void)
{
  return clock_new (real_now, NULL, 0);
}

SpotCandleClock *
spot_candle_clock_new_custom (SpotClockNowFunc now_func, gpointer user_data)
{
  g_return_val_if_fail (now_func != NULL, NULL);
  return clock_new (now_func, user_data, 0);
}

SpotCandleClock *
spot_candle_clock_new_manual (gint64 start_ns)
{
  return clock_new (NULL, NULL, start_ns);
}

void
spot_candle_clock_set_manual (SpotCandleClock *clock, gint64 now_ns)
{
  g_return_if_fail (clock != NULL && clock->now_func == NULL);
  __atomic_store_n (&clock->manual_ns, now_ns, __ATOMIC_SEQ_CST);
}

void
spot_candle_clock_advance_manual (SpotCandleClock *clock, gint64 delta_ns)
{
  g_return_if_fail (clock != NULL && clock->now_func == NULL);
  __atomic_add_fetch (&clock->manual_ns, delta_ns, __ATOMIC_SEQ_CST);
}

SpotCandleClock *
spot_candle_clock_ref (SpotCandleClock *clock)
{
  g_return_val_if_fail (clock != NULL, NULL);
  g_atomic_int_inc (&clock->ref_count);
  return clock;
}

void
spot_candle_clock_unref (SpotCandleClock *clock)
{
  if (clock == NULL)
    return;
  if (!g_atomic_int_dec_and_test (&clock->ref_count))
    return;
  g_mutex_clear (&clock->lock);
  g_free (clock);
}

gint64
spot_candle_clock_local_ns (SpotCandleClock *clock)
{
  if (clock->now_func != NULL)
    return clock->now_func (clock->user_data);
  return __atomic_load_n (&clock->manual_ns, __ATOMIC_SEQ_CST);
}

gint64
spot_candle_clock_now_ns (SpotCandleClock *clock)
{
  return spot_candle_clock_local_ns (clock) - __atomic_load_n (&clock->offset_ns, __ATOMIC_RELAXED);
}

void
spot_candle_clock_set_offset_ns (SpotCandleClock *clock, gint64 offset_ns)
{
  g_return_if_fail (clock != NULL);

  g_mutex_lock (&clock->lock);
  for (guint i = 0; i < MAX_CONNECTIONS; i++)
    clock->windows[i].used = FALSE;
  __atomic_store_n (&clock->offset_ns, offset_ns, __ATOMIC_RELAXED);
  g_mutex_unlock (&clock->lock);
}

gint64
spot_candle_clock_get_offset_ns (SpotCandleClock *clock)
{
  return __atomic_load_n (&clock->offset_ns, __ATOMIC_RELAXED);
}

void
spot_candle_clock_observe (SpotCandleClock *clock,
                           guint connection,
                           gint64 receive_ns,
                           gint64 message_ns)
{
  g_return_if_fail (clock != NULL);

  if (receive_ns <= 0 || message_ns <= 0)
    return;

  OffsetWindow *w = &clock->windows[connection % MAX_CONNECTIONS];
  gint64 sample = receive_ns - message_ns;

  g_mutex_lock (&clock->lock);
  if (!w->used || receive_ns - w->window_start_ns >= 2 * WINDOW_NS)
    {
      w->used = TRUE;
      w->window_start_ns = receive_ns;
      w->current_min = sample;
      w->previous_min = G_MAXINT64;
    }
  else if (receive_ns - w->window_start_ns >= WINDOW_NS)
    {
      w->previous_min = w->current_min;
      w->current_min = sample;
      w->window_start_ns = receive_ns;
    }
  else if (sample < w->current_min)
    {
      w->current_min = sample;
    }

  /* Connections quiet for more than two windows no longer count. */
  gint64 best = G_MAXINT64;
  for (guint i = 0; i < MAX_CONNECTIONS; i++)
    {
      OffsetWindow *o = &clock->windows[i];
      if (!o->used)
        continue;
      if (receive_ns - o->window_start_ns >= 2 * WINDOW_NS)
        {
          o->used = FALSE;
          continue;
        }
      best = MIN (best, MIN (o->current_min, o->previous_min));
    }
  if (best != G_MAXINT64)
    __atomic_store_n (&clock->offset_ns, best, __ATOMIC_RELAXED);
  g_mutex_unlock (&clock->lock);
}
