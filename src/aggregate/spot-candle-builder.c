#define G_LOG_DOMAIN "spot-aggregate"

#include "aggregate/spot-candle-builder.h"

#include <stdlib.h>
#include <string.h>

#include "core/spot-log.h"
#include "aggregate/spot-candle-summary.h"
#include "aggregate/spot-divergence.h"

#define N_LEVELS SPOT_GRANULARITY_COUNT
#define NS G_GINT64_CONSTANT (1000000000)
#define NO_INDEX G_MAXUINT32

/* Slot flags. */
enum
{
  SLOT_COMPLETE = 1 << 0,  /* completed by the clock (or created after its due time) */
  SLOT_REST = 1 << 1,      /* a minute taken from REST: final, trades for it dropped */
  SLOT_HAD_DIRTY = 1 << 2, /* contained a dirty minute at some point (divergence skip) */
  SLOT_WAITED = 1 << 3,    /* completion is waiting for a repair (counted once) */
  SLOT_COMPARED = 1 << 4,  /* compared with the exchange's 5-minute candle */
};

/* One bucket of one level. Levels are direct-mapped rings: the bucket with
 * start s lives at index (s / size) % capacity, and capacities cover every
 * bucket that can be alive at once (see compute_capacities). */
typedef struct
{
  SpotCandleSummary sum;
  gint64 start; /* epoch seconds; 0: free */
  guint64 rev;
  gint64 completed_at_ns; /* when it completed (corrected clock) */
  guint32 touched_epoch;
  guint32 flags;
} Slot;

typedef enum
{
  PRODUCT_LIVE,
  PRODUCT_SEEDING,
  PRODUCT_REMOVED,
} ProductState;

typedef struct
{
  gint64 minute;
  gboolean reported;
} DirtyMinute;

typedef struct
{
  SpotTrade trade;
  gint64 message_ns;
} HeldTrade;

typedef struct
{
  char product_id[SPOT_PRODUCT_ID_SIZE];
  ProductState state;
  gboolean seeded_rest; /* REST minutes seeded: recompute ancestors at seed_end */
  guint64 hwm;
  gint64 next_event_ns; /* tick skips the product before this */
  guint32 live_epoch;
  guint32 live_idx[N_LEVELS];
  guint32 complete_epoch[N_LEVELS]; /* output epoch of the last complete-class update */
  gint64 released_before[N_LEVELS];
  Slot *hot[N_LEVELS];    /* the bucket of the latest trade, per level */
  Slot *levels[N_LEVELS]; /* into slots[] */
  GArray *dirty;          /* DirtyMinute sorted by minute, NULL when none */
  GArray *held;           /* HeldTrade while seeding */
  SpotDivergenceTracker *divergence;
  Slot slots[];
} Product;

typedef struct
{
  Product *product;
  Slot *slot;
  guint level;
} Touched;

struct _SpotCandleBuilder
{
  SpotEngineOptions options;
  SpotCandleClock *clock;
  gint64 grace_ns;
  gint64 window_ns;
  gint64 wait_ns;
  gint64 size[N_LEVELS];
  guint capacity[N_LEVELS];
  guint offset[N_LEVELS];
  guint total_slots;
  gsize product_bytes;

  GHashTable *products; /* product_id -> Product* (owned) */
  GPtrArray *order;     /* Product*, for ticks */
  Product *last;        /* lookup cache */

  SpotCandleOutput output;
  guint32 output_epoch;
  guint32 touch_epoch;
  GArray *touched; /* Touched */
  GArray *scratch; /* SpotTrade, for sorting unsorted batches */

  gint64 now_ns; /* cached per call; 0: not read yet */
  SpotEngineStats stats;
};

/* ---- levels ------------------------------------------------------------ */

static void
compute_capacities (SpotCandleBuilder *b)
{
  gint64 extra = b->grace_ns + b->wait_ns + b->window_ns;
  guint total = 0;

  for (guint l = 0; l < N_LEVELS; l++)
    b->size[l] = spot_granularity_seconds ((SpotGranularity)l);

  for (guint l = 0; l < N_LEVELS; l++)
    {
      SpotGranularity parents[2];
      guint n = spot_granularity_parents ((SpotGranularity)l, parents);
      guint64 cap = 0;

      if (n == 0)
        {
          /* A root: the open bucket plus those still inside their window. */
          gint64 size_ns = b->size[l] * NS;
          cap = 2 + (guint64)((extra + size_ns - 1) / size_ns);
        }
      for (guint i = 0; i < n; i++)
        {
          /* Children of every parent that can be alive at once: the open
           * parent, the ones inside their window, one spare. */
          gint64 psize_ns = b->size[parents[i]] * NS;
          guint64 alive = 2 + (guint64)((extra + psize_ns - 1) / psize_ns);
          guint64 c = alive * (guint64)(b->size[parents[i]] / b->size[l]);
          cap = MAX (cap, c);
        }
      b->capacity[l] = (guint)MIN (cap, 4096);
      b->offset[l] = total;
      total += b->capacity[l];
    }
  b->total_slots = total;
  b->product_bytes = sizeof (Product) + total * sizeof (Slot);
}

static inline gint64
align_down (gint64 t, gint64 size)
{
  gint64 q = t / size;
  if (t % size != 0 && t < 0)
    q--;
  return q * size;
}

static inline Slot *
slot_at (SpotCandleBuilder *b, Product *p, guint l, gint64 start)
{
  return &p->levels[l][(guint64)(start / b->size[l]) % b->capacity[l]];
}

static inline Slot *
find_slot (SpotCandleBuilder *b, Product *p, guint l, gint64 start)
{
  Slot *s = slot_at (b, p, l, start);
  return s->start == start ? s : NULL;
}

static inline gint64
due_ns (SpotCandleBuilder *b, guint l, gint64 start)
{
  return (start + b->size[l]) * NS + b->grace_ns;
}

static inline gint64
builder_now (SpotCandleBuilder *b)
{
  if (b->now_ns == 0)
    b->now_ns = spot_candle_clock_now_ns (b->clock);
  return b->now_ns;
}

static inline gboolean
slot_expired (SpotCandleBuilder *b, const Slot *s, gint64 now)
{
  return (s->flags & SLOT_COMPLETE) != 0 && now >= s->completed_at_ns + b->window_ns;
}

/* Whether the bucket still accepts changes: open, or completed less than a
 * correction window ago; for a bucket without a slot (no trade yet), whether
 * it would still be alive had it had one. */
static gboolean
bucket_live (SpotCandleBuilder *b, Product *p, guint l, gint64 start, gint64 now)
{
  Slot *s = find_slot (b, p, l, start);

  if (s != NULL)
    return !slot_expired (b, s, now);
  if (start < p->released_before[l])
    return FALSE;
  return now < due_ns (b, l, start) + b->wait_ns + b->window_ns;
}

static void
release_slot (SpotCandleBuilder *b, Product *p, guint l, Slot *s)
{
  if (p->hot[l] == s)
    p->hot[l] = NULL;
  p->released_before[l] = MAX (p->released_before[l], s->start + b->size[l]);
  memset (s, 0, sizeof *s);
}

static gboolean has_dirty_in (Product *p, gint64 start, gint64 size);
static void tick_product (SpotCandleBuilder *b, Product *p, gint64 now);

/* Creates the slot of a bucket; NULL when a newer alive bucket holds it
 * (cannot happen with the computed capacities; counted as late). */
static Slot *
create_slot (SpotCandleBuilder *b, Product *p, guint l, gint64 start)
{
  Slot *s = slot_at (b, p, l, start);

  if (s->start != 0 && s->start < start && p->state == PRODUCT_LIVE)
    {
      /* The caller has not ticked for a while: complete and release what
       * is due first, so nothing is lost. */
      tick_product (b, p, builder_now (b));
    }
  if (s->start != 0)
    {
      if (s->start > start)
        return NULL;
      spot_log_limited (60000, 3, G_LOG_LEVEL_WARNING, p->product_id, -1, -1,
                        "%s bucket %" G_GINT64_FORMAT " evicted early for %" G_GINT64_FORMAT,
                        spot_granularity_name ((SpotGranularity)l), s->start, start);
      release_slot (b, p, l, s);
    }
  memset (s, 0, sizeof *s);
  s->start = start;

  gint64 due = due_ns (b, l, start);
  gint64 now = builder_now (b);
  if (now >= due)
    {
      /* Created by a late trade or a repair after its due time: it is
       * complete at once (its updates are corrections), and its window
       * runs from its due time as if it had completed then. */
      s->flags |= SLOT_COMPLETE;
      s->completed_at_ns = due;
    }
  if (l == SPOT_GRANULARITY_FIVE_MINUTE && has_dirty_in (p, start, b->size[l]))
    s->flags |= SLOT_HAD_DIRTY;
  p->next_event_ns = MIN (p->next_event_ns, (s->flags & SLOT_COMPLETE) ? now : due);
  return s;
}

static Slot *
find_or_create (SpotCandleBuilder *b, Product *p, guint l, gint64 start)
{
  Slot *s = find_slot (b, p, l, start);
  return s != NULL ? s : create_slot (b, p, l, start);
}

/* ---- products ---------------------------------------------------------- */

static void
product_reset (SpotCandleBuilder *b, Product *p)
{
  memset (p->slots, 0, b->total_slots * sizeof (Slot));
  memset (p->hot, 0, sizeof p->hot);
  memset (p->released_before, 0, sizeof p->released_before);
  p->next_event_ns = 0;
  p->live_epoch = 0;
  p->seeded_rest = FALSE;
  if (p->dirty != NULL)
    {
      b->stats.dirty_pending -= p->dirty->len;
      g_clear_pointer (&p->dirty, g_array_unref);
    }
  g_clear_pointer (&p->held, g_array_unref);
  g_clear_pointer (&p->divergence, g_free);
}

static void
product_free (gpointer data)
{
  Product *p = data;

  if (p->dirty != NULL)
    g_array_unref (p->dirty);
  if (p->held != NULL)
    g_array_unref (p->held);
  g_free (p->divergence);
  g_free (p);
}

/* Start of the in-memory range of a fresh product: the buckets holding
 * "now" and later. Earlier ones were never seen (seeding lowers this for the
 * buckets it loads), so nothing is ever recomputed from children that were
 * never in memory. */
static void
product_init_range (SpotCandleBuilder *b, Product *p)
{
  gint64 now_s = align_down (builder_now (b), NS) / NS;

  for (guint l = 0; l < N_LEVELS; l++)
    p->released_before[l] = align_down (now_s, b->size[l]);
}

static Product *
product_lookup (SpotCandleBuilder *b, const char *product_id)
{
  if (b->last != NULL && strcmp (b->last->product_id, product_id) == 0)
    return b->last;
  Product *p = g_hash_table_lookup (b->products, product_id);
  if (p != NULL)
    b->last = p;
  return p;
}

static Product *
product_ensure (SpotCandleBuilder *b, const char *product_id)
{
  Product *p = product_lookup (b, product_id);

  if (p != NULL)
    return p;
  if (strlen (product_id) >= SPOT_PRODUCT_ID_SIZE)
    return NULL;
  p = g_malloc0 (b->product_bytes);
  g_strlcpy (p->product_id, product_id, sizeof p->product_id);
  for (guint l = 0; l < N_LEVELS; l++)
    p->levels[l] = &p->slots[b->offset[l]];
  p->state = PRODUCT_LIVE;
  product_init_range (b, p);
  g_hash_table_insert (b->products, p->product_id, p);
  g_ptr_array_add (b->order, p);
  b->stats.products++;
  b->last = p;
  return p;
}

/* ---- dirty minutes ----------------------------------------------------- */

/* Index of the first dirty minute >= @minute. */
static guint
dirty_lower_bound (GArray *dirty, gint64 minute)
{
  guint lo = 0, hi = dirty->len;

  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      if (g_array_index (dirty, DirtyMinute, mid).minute < minute)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

static gboolean
has_dirty_in (Product *p, gint64 start, gint64 size)
{
  if (p->dirty == NULL || p->dirty->len == 0)
    return FALSE;
  guint i = dirty_lower_bound (p->dirty, start);
  return i < p->dirty->len && g_array_index (p->dirty, DirtyMinute, i).minute < start + size;
}

static gboolean
dirty_remove (SpotCandleBuilder *b, Product *p, gint64 minute)
{
  if (p->dirty == NULL)
    return FALSE;
  guint i = dirty_lower_bound (p->dirty, minute);
  if (i >= p->dirty->len || g_array_index (p->dirty, DirtyMinute, i).minute != minute)
    return FALSE;
  g_array_remove_index (p->dirty, i);
  b->stats.dirty_pending--;
  return TRUE;
}

static void
mark_dirty_range (SpotCandleBuilder *b, Product *p, gint64 from, gint64 to, SpotDirtyReason reason)
{
  gint64 now_s = builder_now (b) / NS;
  gint64 horizon = align_down (now_s - b->options.repair_horizon_s, 60);
  guint added = 0;

  from = MAX (align_down (from, 60), horizon);
  to = align_down (to, 60);
  if (to < from)
    return;
  if (p->dirty == NULL)
    p->dirty = g_array_new (FALSE, FALSE, sizeof (DirtyMinute));

  for (gint64 m = from; m <= to; m += 60)
    {
      /* A minute taken from REST is final. */
      Slot *s = find_slot (b, p, 0, m);
      if (s != NULL && (s->flags & SLOT_REST))
        continue;
      guint i = dirty_lower_bound (p->dirty, m);
      if (i < p->dirty->len && g_array_index (p->dirty, DirtyMinute, i).minute == m)
        continue;
      DirtyMinute d = { m, FALSE };
      g_array_insert_val (p->dirty, i, d);
      added++;
      Slot *five = find_slot (b, p, SPOT_GRANULARITY_FIVE_MINUTE, align_down (m, 300));
      if (five != NULL)
        five->flags |= SLOT_HAD_DIRTY;
    }
  if (added > 0)
    {
      b->stats.dirty_minutes += added;
      b->stats.dirty_pending += added;
      spot_log (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN, p->product_id, -1, -1,
                "%u minutes dirty (%s) from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, added,
                spot_dirty_reason_to_string (reason), from, to);
      /* Closed ones are reported at the next tick. */
      p->next_event_ns = MIN (p->next_event_ns, (from + 60) * NS + b->grace_ns);
    }
}

/* ---- output ------------------------------------------------------------ */

static void
fill_candle (SpotCandleBuilder *b, Product *p, guint l, const Slot *s, SpotCandle *c)
{
  memcpy (c->product_id, p->product_id, sizeof c->product_id);
  c->granularity = (SpotGranularity)l;
  c->start = s->start;
  spot_candle_summary_to_candle (&s->sum, c);
  c->complete = (s->flags & SLOT_COMPLETE) != 0;
  c->rev = s->rev;
}

static void
count_kind (SpotCandleBuilder *b, SpotCandleUpdateKind kind)
{
  switch (kind)
    {
    case SPOT_CANDLE_UPDATE_LIVE:
      b->stats.updates_live++;
      break;
    case SPOT_CANDLE_UPDATE_COMPLETE:
      b->stats.updates_complete++;
      break;
    case SPOT_CANDLE_UPDATE_CORRECTION:
      b->stats.updates_correction++;
      break;
    case SPOT_CANDLE_UPDATE_REPAIR:
      b->stats.updates_repair++;
      break;
    case SPOT_CANDLE_UPDATE_SEED:
      b->stats.updates_seed++;
      break;
    default:
      break;
    }
}

/* A new revision of the bucket, emitted when its level is in the output. */
static void
emit (SpotCandleBuilder *b, Product *p, guint l, Slot *s, SpotCandleUpdateKind kind)
{
  s->rev++;
  if (!spot_granularity_set_contains (b->options.output, (SpotGranularity)l) || !s->sum.has_data)
    return;

  count_kind (b, kind);
  if (kind != SPOT_CANDLE_UPDATE_LIVE)
    p->complete_epoch[l] = b->output_epoch;
  /* Live entries are delivered before complete ones; a live change that
   * follows a complete-class one of the same key in this output goes after
   * it, in the complete array, so revisions stay in order. */
  if (kind != SPOT_CANDLE_UPDATE_LIVE || p->complete_epoch[l] == b->output_epoch)
    {
      SpotCandleUpdate *u;
      g_array_set_size (b->output.complete, b->output.complete->len + 1);
      u = &g_array_index (b->output.complete, SpotCandleUpdate, b->output.complete->len - 1);
      fill_candle (b, p, l, s, &u->candle);
      u->kind = kind;
      return;
    }

  if (p->live_epoch != b->output_epoch)
    {
      p->live_epoch = b->output_epoch;
      for (guint i = 0; i < N_LEVELS; i++)
        p->live_idx[i] = NO_INDEX;
    }
  guint idx = p->live_idx[l];
  if (idx == NO_INDEX)
    {
      idx = b->output.live->len;
      g_array_set_size (b->output.live, idx + 1);
      p->live_idx[l] = idx;
    }
  SpotCandleUpdate *u = &g_array_index (b->output.live, SpotCandleUpdate, idx);
  fill_candle (b, p, l, s, &u->candle);
  u->kind = SPOT_CANDLE_UPDATE_LIVE;
}

static inline void
touch (SpotCandleBuilder *b, Product *p, guint l, Slot *s)
{
  if (s->touched_epoch == b->touch_epoch)
    return;
  s->touched_epoch = b->touch_epoch;
  Touched t = { p, s, l };
  g_array_append_val (b->touched, t);
}

static void
emit_touched (SpotCandleBuilder *b)
{
  for (guint i = 0; i < b->touched->len; i++)
    {
      Touched *t = &g_array_index (b->touched, Touched, i);
      emit (b, t->product, t->level, t->slot,
            (t->slot->flags & SLOT_COMPLETE) ? SPOT_CANDLE_UPDATE_CORRECTION
                                             : SPOT_CANDLE_UPDATE_LIVE);
    }
  g_array_set_size (b->touched, 0);
  b->touch_epoch++;
  if (b->touch_epoch == 0)
    b->touch_epoch = 1;
}

SpotCandleOutput *
spot_candle_builder_get_output (SpotCandleBuilder *builder)
{
  return &builder->output;
}

void
spot_candle_builder_clear_output (SpotCandleBuilder *builder)
{
  g_array_set_size (builder->output.live, 0);
  g_array_set_size (builder->output.complete, 0);
  g_array_set_size (builder->output.dirty, 0);
  builder->output_epoch++;
  if (builder->output_epoch == 0)
    builder->output_epoch = 1;
}

/* ---- life cycle -------------------------------------------------------- */

SpotCandleBuilder *
spot_candle_builder_new (const SpotEngineOptions *options, SpotCandleClock *clock)
{
  g_return_val_if_fail (clock != NULL, NULL);

  SpotCandleBuilder *b = g_new0 (SpotCandleBuilder, 1);
  if (options != NULL)
    b->options = *options;
  else
    spot_engine_options_init_defaults (&b->options);
  b->clock = spot_candle_clock_ref (clock);
  b->grace_ns = b->options.grace_ms * G_GINT64_CONSTANT (1000000);
  b->window_ns = b->options.correction_window_s * NS;
  b->wait_ns = b->options.repair_wait_ms * G_GINT64_CONSTANT (1000000);
  compute_capacities (b);
  b->products = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, product_free);
  b->order = g_ptr_array_new ();
  b->output.live = g_array_new (FALSE, FALSE, sizeof (SpotCandleUpdate));
  b->output.complete = g_array_new (FALSE, FALSE, sizeof (SpotCandleUpdate));
  b->output.dirty = g_array_new (FALSE, FALSE, sizeof (SpotDirtyRange));
  b->output_epoch = 1;
  b->touch_epoch = 1;
  b->touched = g_array_new (FALSE, FALSE, sizeof (Touched));
  b->scratch = g_array_new (FALSE, FALSE, sizeof (SpotTrade));
  return b;
}

void
spot_candle_builder_free (SpotCandleBuilder *b)
{
  if (b == NULL)
    return;
  g_ptr_array_unref (b->order);
  g_hash_table_unref (b->products);
  g_array_unref (b->output.live);
  g_array_unref (b->output.complete);
  g_array_unref (b->output.dirty);
  g_array_unref (b->touched);
  g_array_unref (b->scratch);
  spot_candle_clock_unref (b->clock);
  g_free (b);
}

/* ---- trades ------------------------------------------------------------ */

/* Applies the summary @d of @count trades of minute @m to the minute and
 * every ancestor. */
static void
apply_delta (SpotCandleBuilder *b, Product *p, gint64 m, const SpotCandleSummary *d, guint count)
{
  Slot *s0 = p->hot[0];

  if (s0 == NULL || s0->start != m)
    s0 = find_slot (b, p, 0, m);
  if (s0 != NULL)
    {
      if (G_UNLIKELY (s0->flags & SLOT_REST))
        {
          b->stats.trades_rest_dropped += count;
          return;
        }
      if (G_UNLIKELY ((s0->flags & SLOT_COMPLETE) && slot_expired (b, s0, builder_now (b))))
        {
          b->stats.trades_late_dropped += count;
          return;
        }
    }
  else
    {
      if (!bucket_live (b, p, 0, m, builder_now (b)) || (s0 = create_slot (b, p, 0, m)) == NULL)
        {
          b->stats.trades_late_dropped += count;
          spot_log_limited (60000, 5, G_LOG_LEVEL_DEBUG, p->product_id, -1, -1,
                            "%u late trades for released minute %" G_GINT64_FORMAT " dropped",
                            count, m);
          return;
        }
    }

  if (G_UNLIKELY (!spot_candle_summary_merge (&s0->sum, d)))
    {
      spot_log_limited (60000, 3, G_LOG_LEVEL_WARNING, p->product_id, -1, -1,
                        "volume overflow in minute %" G_GINT64_FORMAT "; trades dropped", m);
      b->stats.trades_late_dropped += count;
      return;
    }
  if (s0->flags & SLOT_COMPLETE)
    b->stats.trades_corrected += count;
  b->stats.trades_accepted += count;
  touch (b, p, 0, s0);
  p->hot[0] = s0;

  for (guint l = 1; l < N_LEVELS; l++)
    {
      Slot *s = p->hot[l];
      if (s == NULL || m < s->start || m >= s->start + b->size[l])
        {
          gint64 start = align_down (m, b->size[l]);
          s = find_or_create (b, p, l, start);
          if (G_UNLIKELY (s == NULL))
            continue;
          p->hot[l] = s;
        }
      spot_candle_summary_merge (&s->sum, d);
      touch (b, p, l, s);
    }
}

static void
hold_trades (SpotCandleBuilder *b, Product *p, const SpotTrade *trades, guint n, gint64 message_ns)
{
  if (p->held == NULL)
    p->held = g_array_new (FALSE, FALSE, sizeof (HeldTrade));
  for (guint i = 0; i < n; i++)
    {
      if (p->held->len >= b->options.seed_hold_limit)
        {
          gint64 m = align_down (trades[i].time_ns / NS, 60);
          b->stats.trades_hold_overflow++;
          mark_dirty_range (b, p, m, m, SPOT_DIRTY_REASON_SEED_OVERFLOW);
          continue;
        }
      HeldTrade h = { trades[i], message_ns };
      g_array_append_val (p->held, h);
      b->stats.trades_held++;
    }
}

/* One product's trades, sorted by trade_id. */
static void
apply_run (SpotCandleBuilder *b, Product *p, const SpotTrade *t, guint n, gint64 message_ns)
{
  SpotCandleSummary d;
  gint64 m_start_ns = 0, m_end_ns = 0;
  guint count = 0;

  for (guint i = 0; i < n; i++)
    {
      if (t[i].trade_id <= p->hwm)
        {
          b->stats.trades_duplicate++;
          continue;
        }
      p->hwm = t[i].trade_id;

      gint64 tn = t[i].time_ns;
      if (count == 0 || tn < m_start_ns || tn >= m_end_ns)
        {
          if (count > 0)
            apply_delta (b, p, m_start_ns / NS, &d, count);
          m_start_ns = align_down (tn, 60 * NS);
          m_end_ns = m_start_ns + 60 * NS;
          d.has_data = FALSE;
          count = 0;
        }
      if (spot_candle_summary_add_trade (&d, &t[i], message_ns))
        count++;
    }
  if (count > 0)
    apply_delta (b, p, m_start_ns / NS, &d, count);
}

static int
compare_product_id (const void *a, const void *b)
{
  const SpotTrade *x = a, *y = b;
  int c = strcmp (x->product_id, y->product_id);

  if (c != 0)
    return c;
  return (x->trade_id > y->trade_id) - (x->trade_id < y->trade_id);
}

static void
add_trades_internal (SpotCandleBuilder *b, const SpotTrade *trades, guint n, gint64 message_ns)
{
  gboolean single = TRUE, sorted = TRUE;

  for (guint i = 1; i < n; i++)
    {
      if (trades[i].trade_id <= trades[i - 1].trade_id)
        sorted = FALSE;
      if (strcmp (trades[i].product_id, trades[0].product_id) != 0)
        single = FALSE;
    }
  if (!single)
    {
      sorted = TRUE;
      for (guint i = 1; i < n && sorted; i++)
        sorted = compare_product_id (&trades[i - 1], &trades[i]) < 0;
    }
  if (!sorted)
    {
      /* Rare: newest-first messages or interleaved products. */
      g_array_set_size (b->scratch, n);
      memcpy (b->scratch->data, trades, n * sizeof (SpotTrade));
      qsort (b->scratch->data, n, sizeof (SpotTrade), compare_product_id);
      trades = (const SpotTrade *)b->scratch->data;
    }

  for (guint i = 0; i < n;)
    {
      guint j = i + 1;
      if (!single)
        while (j < n && strcmp (trades[j].product_id, trades[i].product_id) == 0)
          j++;
      else
        j = n;

      Product *p = product_lookup (b, trades[i].product_id);
      if (p == NULL)
        p = product_ensure (b, trades[i].product_id);
      if (p == NULL || p->state == PRODUCT_REMOVED)
        b->stats.trades_unknown_product += j - i;
      else if (p->state == PRODUCT_SEEDING)
        hold_trades (b, p, trades + i, j - i, message_ns);
      else
        apply_run (b, p, trades + i, j - i, message_ns);
      i = j;
    }
}

void
spot_candle_builder_add_trades (SpotCandleBuilder *b,
                                const SpotTrade *trades,
                                guint n,
                                gint64 message_ns)
{
  g_return_if_fail (b != NULL);
  if (n == 0)
    return;
  b->now_ns = 0;
  add_trades_internal (b, trades, n, message_ns);
  emit_touched (b);
}

/* ---- recompute --------------------------------------------------------- */

static void
recompute_bucket (SpotCandleBuilder *b, Product *p, guint l, Slot *s)
{
  guint c = (guint)spot_granularity_child ((SpotGranularity)l);
  gint64 step = b->size[c];
  SpotCandleSummary sum;

  spot_candle_summary_clear (&sum);
  for (gint64 t = s->start; t < s->start + b->size[l]; t += step)
    {
      Slot *child = find_slot (b, p, c, t);
      if (child != NULL)
        spot_candle_summary_merge (&sum, &child->sum);
    }
  s->sum = sum;
}

/* Recomputes every ancestor of bucket (@l, @start) from its children and
 * emits each with @kind (when @kind is not LIVE-only seeding). */
static void
recompute_up (SpotCandleBuilder *b, Product *p, guint l, gint64 start, SpotCandleUpdateKind kind)
{
  SpotGranularity parents[2];
  guint n = spot_granularity_parents ((SpotGranularity)l, parents);

  for (guint i = 0; i < n; i++)
    {
      guint pl = (guint)parents[i];
      gint64 pstart = align_down (start, b->size[pl]);
      Slot *ps = find_or_create (b, p, pl, pstart);
      if (ps == NULL)
        continue;
      recompute_bucket (b, p, pl, ps);
      emit (b, p, pl, ps, kind);
      recompute_up (b, p, pl, pstart, kind);
    }
}

/* ---- completion -------------------------------------------------------- */

static void
compare_divergence (SpotCandleBuilder *b, Product *p, Slot *s)
{
  SpotCandle exchange, ours;
  const char *field = NULL;

  if (p->divergence == NULL || (s->flags & SLOT_COMPARED) || !s->sum.has_data)
    return;
  if (!spot_divergence_tracker_take (p->divergence, s->start, &exchange))
    return;
  s->flags |= SLOT_COMPARED;
  if ((s->flags & SLOT_HAD_DIRTY) || has_dirty_in (p, s->start, 300))
    {
      b->stats.divergence_skipped++;
      return;
    }
  fill_candle (b, p, SPOT_GRANULARITY_FIVE_MINUTE, s, &ours);
  b->stats.divergence_compared++;
  if (spot_divergence_differs (&ours, &exchange, &field))
    {
      b->stats.divergence_count++;
      /* Counted for metrics; a message, not a warning: the exchange's own
       * candle can lag its trades. */
      spot_log_limited (60000, 5, G_LOG_LEVEL_MESSAGE, p->product_id, -1, -1,
                        "FIVE_MINUTE %" G_GINT64_FORMAT " differs from the exchange's in %s",
                        s->start, field);
    }
}

static void
report_dirty (SpotCandleBuilder *b, Product *p, gint64 now, gint64 *next)
{
  if (p->dirty == NULL || p->dirty->len == 0)
    return;

  gint64 horizon = align_down (now / NS - b->options.repair_horizon_s, 60);
  guint keep = 0;
  SpotDirtyRange range = { { 0 }, 0, 0 };
  gboolean open_range = FALSE;

  for (guint i = 0; i < p->dirty->len; i++)
    {
      DirtyMinute *d = &g_array_index (p->dirty, DirtyMinute, i);
      if (d->minute < horizon)
        {
          b->stats.repairs_abandoned++;
          b->stats.dirty_pending--;
          continue;
        }
      g_array_index (p->dirty, DirtyMinute, keep++) = *d;
      d = &g_array_index (p->dirty, DirtyMinute, keep - 1);
      gint64 closes = (d->minute + 60) * NS + b->grace_ns;
      if (d->reported)
        continue;
      if (now < closes)
        {
          *next = MIN (*next, closes);
          continue;
        }
      d->reported = TRUE;
      if (open_range && d->minute == range.last_minute + 60)
        {
          range.last_minute = d->minute;
          continue;
        }
      if (open_range)
        g_array_append_val (b->output.dirty, range);
      memcpy (range.product_id, p->product_id, sizeof range.product_id);
      range.first_minute = range.last_minute = d->minute;
      open_range = TRUE;
    }
  g_array_set_size (p->dirty, keep);
  if (open_range)
    g_array_append_val (b->output.dirty, range);
}

static void
tick_product (SpotCandleBuilder *b, Product *p, gint64 now)
{
  gint64 next = G_MAXINT64;

  report_dirty (b, p, now, &next);

  /* Bottom-up so a minute completes before its ancestors. */
  for (guint l = 0; l < N_LEVELS; l++)
    {
      Slot *level = p->levels[l];
      for (guint i = 0; i < b->capacity[l]; i++)
        {
          Slot *s = &level[i];
          if (s->start == 0 || (s->flags & SLOT_COMPLETE))
            continue;
          gint64 due = due_ns (b, l, s->start);
          if (now < due)
            {
              next = MIN (next, due);
              continue;
            }
          if (has_dirty_in (p, s->start, b->size[l]))
            {
              if (!(s->flags & SLOT_WAITED))
                {
                  s->flags |= SLOT_WAITED;
                  b->stats.completions_waited++;
                }
              if (now < due + b->wait_ns)
                {
                  next = MIN (next, due + b->wait_ns);
                  continue;
                }
              b->stats.completions_timed_out++;
            }
          /* The correction window runs from the due time (a late tick
           * does not stretch it), or from now after waiting for repairs. */
          s->flags |= SLOT_COMPLETE;
          s->completed_at_ns = (s->flags & SLOT_WAITED) ? now : due;
          emit (b, p, l, s, SPOT_CANDLE_UPDATE_COMPLETE);
          if (l == SPOT_GRANULARITY_FIVE_MINUTE)
            compare_divergence (b, p, s);
        }
    }

  /* Top-down: a bucket is released once its window has passed and no
   * parent that may still be recomputed needs it as a child. */
  for (guint l = N_LEVELS; l-- > 0;)
    {
      SpotGranularity parents[2];
      guint n = spot_granularity_parents ((SpotGranularity)l, parents);
      Slot *level = p->levels[l];
      for (guint i = 0; i < b->capacity[l]; i++)
        {
          Slot *s = &level[i];
          if (s->start == 0 || !(s->flags & SLOT_COMPLETE))
            continue;
          if (!slot_expired (b, s, now))
            {
              next = MIN (next, s->completed_at_ns + b->window_ns);
              continue;
            }
          gboolean needed = FALSE;
          for (guint k = 0; k < n && !needed; k++)
            {
              gint64 pstart = align_down (s->start, b->size[parents[k]]);
              Slot *ps = find_slot (b, p, parents[k], pstart);
              if (ps != NULL && !slot_expired (b, ps, now))
                needed = TRUE;
              else if (ps == NULL && bucket_live (b, p, parents[k], pstart, now))
                needed = TRUE;
            }
          if (!needed)
            release_slot (b, p, l, s);
        }
    }
  p->next_event_ns = next;
}

void
spot_candle_builder_tick (SpotCandleBuilder *b)
{
  g_return_if_fail (b != NULL);

  b->now_ns = 0;
  gint64 now = builder_now (b);
  for (guint i = 0; i < b->order->len; i++)
    {
      Product *p = g_ptr_array_index (b->order, i);
      /* A seeding product emits nothing before seed_end. */
      if (p->state != PRODUCT_LIVE || now < p->next_event_ns)
        continue;
      tick_product (b, p, now);
    }
}

/* ---- products API ------------------------------------------------------ */

void
spot_candle_builder_add_product (SpotCandleBuilder *b, const char *product_id, gboolean seeding)
{
  g_return_if_fail (b != NULL && product_id != NULL);

  b->now_ns = 0;
  Product *p = product_ensure (b, product_id);
  if (p == NULL)
    return;
  if (p->state == PRODUCT_REMOVED)
    {
      product_reset (b, p);
      product_init_range (b, p);
      b->stats.products++;
    }
  p->state = seeding ? PRODUCT_SEEDING : PRODUCT_LIVE;
}

void
spot_candle_builder_remove_product (SpotCandleBuilder *b, const char *product_id)
{
  g_return_if_fail (b != NULL && product_id != NULL);

  Product *p = product_lookup (b, product_id);
  if (p == NULL || p->state == PRODUCT_REMOVED)
    return;
  product_reset (b, p);
  p->state = PRODUCT_REMOVED;
  b->stats.products--;
}

gboolean
spot_candle_builder_has_product (SpotCandleBuilder *b, const char *product_id)
{
  Product *p = product_lookup (b, product_id);
  return p != NULL && p->state != PRODUCT_REMOVED;
}

void
spot_candle_builder_set_high_water_mark (SpotCandleBuilder *b,
                                         const char *product_id,
                                         guint64 trade_id)
{
  b->now_ns = 0;
  Product *p = product_ensure (b, product_id);
  if (p != NULL)
    p->hwm = MAX (p->hwm, trade_id);
}

guint64
spot_candle_builder_get_high_water_mark (SpotCandleBuilder *b, const char *product_id)
{
  Product *p = product_lookup (b, product_id);
  return p != NULL ? p->hwm : 0;
}

static gboolean
bucket_wanted (SpotCandleBuilder *b, Product *p, guint l, gint64 start, gint64 now)
{
  SpotGranularity parents[2];
  guint n = spot_granularity_parents ((SpotGranularity)l, parents);

  if (now < due_ns (b, l, start) + b->wait_ns + b->window_ns)
    return TRUE;
  for (guint i = 0; i < n; i++)
    if (now < due_ns (b, parents[i], align_down (start, b->size[parents[i]])) + b->wait_ns
                  + b->window_ns)
      return TRUE;
  return FALSE;
}

void
spot_candle_builder_seed (SpotCandleBuilder *b,
                          const char *product_id,
                          const SpotCandle *candles,
                          guint n,
                          guint64 high_water_mark)
{
  g_return_if_fail (b != NULL && product_id != NULL);

  b->now_ns = 0;
  Product *p = product_ensure (b, product_id);
  if (p == NULL)
    return;
  if (p->state == PRODUCT_REMOVED)
    spot_candle_builder_add_product (b, product_id, TRUE);
  p->hwm = MAX (p->hwm, high_water_mark);

  gint64 now = builder_now (b);
  for (guint i = 0; i < n; i++)
    {
      const SpotCandle *c = &candles[i];
      if (c->granularity < 0 || c->granularity >= N_LEVELS)
        continue;
      guint l = (guint)c->granularity;
      if (c->start <= 0 || c->start % b->size[l] != 0 || !bucket_wanted (b, p, l, c->start, now))
        continue;
      p->released_before[l] = MIN (p->released_before[l], c->start);

      Slot *s = find_or_create (b, p, l, c->start);
      if (s == NULL)
        continue;
      spot_candle_summary_from_candle (&s->sum, c);
      s->rev = MAX (s->rev, c->rev);
      gint64 due = due_ns (b, l, c->start);
      /* A closed incomplete row completes at the next tick (after waiting
       * for repairs of its dirty minutes). */
      s->flags &= ~(guint32)SLOT_COMPLETE;
      if (c->complete)
        {
          s->flags |= SLOT_COMPLETE;
          s->completed_at_ns = MIN (now, due);
        }
      if (l == 0 && c->trades == SPOT_CANDLE_TRADES_UNKNOWN)
        {
          s->flags |= SLOT_REST;
          dirty_remove (b, p, c->start);
          p->seeded_rest = TRUE;
          if (now >= due && !(s->flags & SLOT_COMPLETE))
            {
              s->flags |= SLOT_COMPLETE;
              s->completed_at_ns = now;
            }
        }
      else if (l == 0 && !c->complete && now >= due)
        {
          /* Stored while open, never completed: trades may be missing. */
          mark_dirty_range (b, p, c->start, c->start, SPOT_DIRTY_REASON_STORED_INCOMPLETE);
        }
      if (c->last_trade_id != SPOT_CANDLE_TRADE_ID_UNKNOWN)
        p->hwm = MAX (p->hwm, c->last_trade_id);
    }
  p->next_event_ns = 0;
}

void
spot_candle_builder_seed_end (SpotCandleBuilder *b, const char *product_id)
{
  g_return_if_fail (b != NULL && product_id != NULL);

  b->now_ns = 0;
  Product *p = product_lookup (b, product_id);
  if (p == NULL || p->state == PRODUCT_REMOVED)
    return;
  p->state = PRODUCT_LIVE;
  p->next_event_ns = 0;

  if (p->seeded_rest)
    {
      /* Closed REST minutes fill gaps the stored ancestors do not know:
       * recompute those ancestors and emit them (and the minutes) so the
       * database learns them too. */
      p->seeded_rest = FALSE;
      Slot *minutes = p->levels[0];
      for (guint i = 0; i < b->capacity[0]; i++)
        if (minutes[i].start != 0 && (minutes[i].flags & SLOT_REST))
          {
            emit (b, p, 0, &minutes[i], SPOT_CANDLE_UPDATE_SEED);
            recompute_up (b, p, 0, minutes[i].start, SPOT_CANDLE_UPDATE_SEED);
          }
    }

  if (p->held != NULL)
    {
      g_autoptr (GArray) held = g_steal_pointer (&p->held);
      for (guint i = 0; i < held->len; i++)
        {
          HeldTrade *h = &g_array_index (held, HeldTrade, i);
          guint j = i + 1;
          while (j < held->len && g_array_index (held, HeldTrade, j).message_ns == h->message_ns)
            j++;
          /* One message at a time, sorted as a batch would be. */
          g_array_set_size (b->scratch, j - i);
          for (guint k = i; k < j; k++)
            g_array_index (b->scratch, SpotTrade, k - i) = g_array_index (held, HeldTrade, k).trade;
          qsort (b->scratch->data, j - i, sizeof (SpotTrade), compare_product_id);
          apply_run (b, p, (const SpotTrade *)b->scratch->data, j - i, h->message_ns);
          i = j - 1;
        }
    }
  emit_touched (b);
}

/* ---- dirty / repair API ------------------------------------------------ */

void
spot_candle_builder_mark_dirty (SpotCandleBuilder *b,
                                const char *product_id,
                                gint64 from_minute,
                                gint64 to_minute,
                                SpotDirtyReason reason)
{
  g_return_if_fail (b != NULL && product_id != NULL);

  b->now_ns = 0;
  Product *p = product_ensure (b, product_id);
  if (p == NULL || p->state == PRODUCT_REMOVED)
    return;
  mark_dirty_range (b, p, from_minute, to_minute, reason);
}

void
spot_candle_builder_list_closed_dirty (SpotCandleBuilder *b, const char *product_id, GArray *out)
{
  g_return_if_fail (b != NULL && product_id != NULL && out != NULL);

  b->now_ns = 0;
  Product *p = product_lookup (b, product_id);
  if (p == NULL || p->dirty == NULL)
    return;
  gint64 now = builder_now (b);
  gboolean open_range = FALSE;
  SpotDirtyRange range = { { 0 }, 0, 0 };
  for (guint i = 0; i < p->dirty->len; i++)
    {
      gint64 m = g_array_index (p->dirty, DirtyMinute, i).minute;
      if (now < (m + 60) * NS + b->grace_ns)
        break;
      if (open_range && m == range.last_minute + 60)
        {
          range.last_minute = m;
          continue;
        }
      if (open_range)
        g_array_append_val (out, range);
      memcpy (range.product_id, p->product_id, sizeof range.product_id);
      range.first_minute = range.last_minute = m;
      open_range = TRUE;
    }
  if (open_range)
    g_array_append_val (out, range);
}

void
spot_candle_builder_report_closed_dirty (SpotCandleBuilder *b)
{
  g_return_if_fail (b != NULL);

  for (guint i = 0; i < b->order->len; i++)
    {
      Product *p = g_ptr_array_index (b->order, i);
      if (p->state != PRODUCT_REMOVED && p->dirty != NULL && p->dirty->len > 0)
        spot_candle_builder_list_closed_dirty (b, p->product_id, b->output.dirty);
    }
}

gboolean
spot_candle_builder_is_dirty (SpotCandleBuilder *b, const char *product_id, gint64 minute)
{
  Product *p = product_lookup (b, product_id);
  return p != NULL && has_dirty_in (p, align_down (minute, 60), 60);
}

void
spot_candle_builder_clear_dirty (SpotCandleBuilder *b, const char *product_id, gint64 minute)
{
  Product *p = product_lookup (b, product_id);
  if (p != NULL && dirty_remove (b, p, align_down (minute, 60)))
    p->next_event_ns = 0;
}

static SpotGranularity
lowest_live_level (SpotCandleBuilder *b, Product *p, gint64 minute, gint64 now)
{
  for (guint l = 1; l < N_LEVELS; l++)
    if (bucket_live (b, p, l, align_down (minute, b->size[l]), now))
      return (SpotGranularity)l;
  return SPOT_GRANULARITY_INVALID;
}

SpotRepairResult
spot_candle_builder_repair (SpotCandleBuilder *b,
                            const SpotCandle *rest,
                            SpotGranularity *memory_level)
{
  g_return_val_if_fail (b != NULL && rest != NULL, SPOT_REPAIR_INVALID);

  b->now_ns = 0;
  if (memory_level != NULL)
    *memory_level = SPOT_GRANULARITY_INVALID;
  Product *p = product_lookup (b, rest->product_id);
  if (p == NULL || p->state == PRODUCT_REMOVED || rest->granularity != SPOT_GRANULARITY_ONE_MINUTE
      || rest->start <= 0 || rest->start % 60 != 0)
    return SPOT_REPAIR_INVALID;

  gint64 now = builder_now (b);
  gint64 m = rest->start;
  if (now < due_ns (b, 0, m))
    {
      b->stats.repairs_rejected_open++;
      return SPOT_REPAIR_REJECTED_OPEN;
    }
  if (m < now / NS - b->options.repair_horizon_s)
    {
      dirty_remove (b, p, m);
      b->stats.repairs_abandoned++;
      return SPOT_REPAIR_ABANDONED;
    }

  gint64 five = align_down (m, 300);
  if (!bucket_live (b, p, SPOT_GRANULARITY_FIVE_MINUTE, five, now))
    {
      dirty_remove (b, p, m);
      if (memory_level != NULL)
        *memory_level = lowest_live_level (b, p, m, now);
      b->stats.repairs_database++;
      return SPOT_REPAIR_NEEDS_DATABASE;
    }

  Slot *s = find_or_create (b, p, 0, m);
  if (s == NULL)
    {
      b->stats.repairs_database++;
      return SPOT_REPAIR_NEEDS_DATABASE;
    }
  SpotCandle c = *rest;
  c.trades = SPOT_CANDLE_TRADES_UNKNOWN;
  c.last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  c.ts_ns = SPOT_CANDLE_TS_UNKNOWN;
  spot_candle_summary_from_candle (&s->sum, &c);
  s->flags |= SLOT_REST;
  if (!(s->flags & SLOT_COMPLETE))
    {
      s->flags |= SLOT_COMPLETE;
      s->completed_at_ns = now;
    }
  dirty_remove (b, p, m);
  Slot *fs = find_slot (b, p, SPOT_GRANULARITY_FIVE_MINUTE, five);
  if (fs != NULL)
    fs->flags |= SLOT_HAD_DIRTY;

  emit (b, p, 0, s, SPOT_CANDLE_UPDATE_REPAIR);
  recompute_up (b, p, 0, m, SPOT_CANDLE_UPDATE_REPAIR);
  fs = find_slot (b, p, SPOT_GRANULARITY_FIVE_MINUTE, five);
  if (fs != NULL)
    fs->flags |= SLOT_HAD_DIRTY;
  b->stats.repairs_applied++;
  p->next_event_ns = 0; /* waiting completions may go now */
  return SPOT_REPAIR_APPLIED;
}

SpotRepairResult
spot_candle_builder_replace (SpotCandleBuilder *b, const SpotCandle *child)
{
  g_return_val_if_fail (b != NULL && child != NULL, SPOT_REPAIR_INVALID);

  b->now_ns = 0;
  Product *p = product_lookup (b, child->product_id);
  if (p == NULL || p->state == PRODUCT_REMOVED || child->granularity < 0
      || child->granularity >= N_LEVELS || child->start <= 0
      || child->start % b->size[child->granularity] != 0)
    return SPOT_REPAIR_INVALID;
  if (child->granularity == SPOT_GRANULARITY_ONE_MINUTE)
    return spot_candle_builder_repair (b, child, NULL);

  guint l = (guint)child->granularity;
  gint64 now = builder_now (b);
  SpotGranularity parents[2];
  guint n = spot_granularity_parents ((SpotGranularity)l, parents);
  gboolean live = FALSE;
  for (guint i = 0; i < n; i++)
    live |= bucket_live (b, p, parents[i], align_down (child->start, b->size[parents[i]]), now);
  if (!live)
    {
      b->stats.repairs_database++;
      return SPOT_REPAIR_NEEDS_DATABASE;
    }

  Slot *s = find_or_create (b, p, l, child->start);
  if (s == NULL)
    return SPOT_REPAIR_NEEDS_DATABASE;
  spot_candle_summary_from_candle (&s->sum, child);
  s->rev = MAX (s->rev, child->rev);
  if (!(s->flags & SLOT_COMPLETE))
    {
      s->flags |= SLOT_COMPLETE;
      s->completed_at_ns = now;
    }
  recompute_up (b, p, l, child->start, SPOT_CANDLE_UPDATE_REPAIR);
  b->stats.repairs_applied++;
  return SPOT_REPAIR_APPLIED;
}

void
spot_candle_builder_add_exchange_candle (SpotCandleBuilder *b, const SpotCandle *candle)
{
  g_return_if_fail (b != NULL && candle != NULL);

  if (candle->granularity != SPOT_GRANULARITY_FIVE_MINUTE)
    return;
  b->now_ns = 0;
  Product *p = product_lookup (b, candle->product_id);
  if (p == NULL || p->state == PRODUCT_REMOVED)
    return;
  if (p->divergence == NULL)
    {
      p->divergence = g_new0 (SpotDivergenceTracker, 1);
      spot_divergence_tracker_init (p->divergence);
    }
  spot_divergence_tracker_offer (p->divergence, candle);

  /* Ours completed before the exchange's last update came: compare now. */
  Slot *s = find_slot (b, p, SPOT_GRANULARITY_FIVE_MINUTE, candle->start);
  if (s != NULL && (s->flags & SLOT_COMPLETE))
    compare_divergence (b, p, s);
}

gboolean
spot_candle_builder_get_candle (SpotCandleBuilder *b,
                                const char *product_id,
                                SpotGranularity granularity,
                                gint64 t,
                                SpotCandle *out)
{
  g_return_val_if_fail (b != NULL && product_id != NULL && out != NULL, FALSE);

  Product *p = product_lookup (b, product_id);
  if (p == NULL || granularity < 0 || granularity >= N_LEVELS)
    return FALSE;
  guint l = (guint)granularity;
  Slot *s = find_slot (b, p, l, align_down (t, b->size[l]));
  if (s == NULL || !s->sum.has_data)
    return FALSE;
  memset (out, 0, sizeof *out);
  fill_candle (b, p, l, s, out);
  return TRUE;
}

void
spot_candle_builder_get_stats (SpotCandleBuilder *b, SpotEngineStats *out)
{
  g_return_if_fail (b != NULL && out != NULL);
  *out = b->stats;
  out->state_bytes = b->stats.products * b->product_bytes;
}

gsize
spot_candle_builder_bytes_per_product (SpotCandleBuilder *b)
{
  return b->product_bytes;
}
