/* spot-coinbase-repairer.c: REST repairs of dirty minutes and product seeding. */
#define G_LOG_DOMAIN "spot-coinbase"

#include "coinbase/spot-coinbase-repairer.h"

#include <stdatomic.h>
#include <string.h>

#include "coinbase/spot-coinbase-metrics.h"
#include "core/spot-error.h"
#include "core/spot-log.h"
#include "model/spot-time.h"
#ifdef SPOT_COINBASE_HAVE_STORE
#include "store/spot-repository.h"
#endif

#define TICK_MS 500
#define MAX_IN_FLIGHT_REQUESTS 32
#define RETRY_FAILED_US (10 * G_USEC_PER_SEC)
#define RETRY_OPEN_US (2 * G_USEC_PER_SEC)
/* Every so often the engine reports all closed dirty minutes again: nothing
 * stays dirty because a report was lost (known minutes are not refetched). */
#define REREPORT_US (120 * G_USEC_PER_SEC)

typedef struct
{
  gint64 not_before_us; /* monotonic */
  gboolean in_flight;
} MinuteState;

typedef enum
{
  EV_DIRTY,
  EV_OUTCOME,
} EventKind;

typedef struct
{
  EventKind kind;
  SpotDirtyRange range;
  SpotRepairOutcome outcome;
  gboolean is_replace;
} Event;

struct _SpotCoinbaseRepairer
{
  gint refs;
  gboolean dead;
  SpotCoinbaseOptions options;
  SpotCoinbaseRest *rest;
  SpotShardedAggregator *agg;
  gpointer repository;
  gpointer metrics;
  GMainContext *context;
  GCancellable *cancellable;

  GMutex lock;
  GQueue incoming; /* Event* */
  gboolean wake_scheduled;

  GHashTable *pending; /* product -> GHashTable (gint64* minute -> MinuteState*) */
  guint in_flight_requests;
  guint tick_source;
  gint64 last_rereport_us;

  struct
  {
    _Atomic guint64 minutes_queued, rest_requests, rest_failures, applied, via_database, cleared,
        retried_open, abandoned, failed, products_seeded, seeding;
  } s;
};

static SpotCoinbaseRepairer *
repairer_ref (SpotCoinbaseRepairer *r)
{
  g_atomic_int_inc (&r->refs);
  return r;
}

static void
repairer_unref (SpotCoinbaseRepairer *r)
{
  if (!g_atomic_int_dec_and_test (&r->refs))
    return;
  g_queue_clear_full (&r->incoming, g_free);
  g_mutex_clear (&r->lock);
  g_hash_table_unref (r->pending);
  g_clear_object (&r->cancellable);
  g_main_context_unref (r->context);
  spot_coinbase_options_clear (&r->options);
  g_free (r);
}

static gboolean tick_cb (gpointer data);

SpotCoinbaseRepairer *
spot_coinbase_repairer_new (const SpotCoinbaseOptions *options,
                            SpotCoinbaseRest *rest,
                            SpotShardedAggregator *aggregator,
                            gpointer repository,
                            gpointer metrics)
{
  SpotCoinbaseRepairer *r = g_new0 (SpotCoinbaseRepairer, 1);
  r->refs = 1;
  spot_coinbase_options_copy (&r->options, options);
  r->rest = rest;
  r->agg = aggregator;
  r->repository = repository;
  r->metrics = metrics;
  r->context = g_main_context_ref_thread_default ();
  r->cancellable = g_cancellable_new ();
  g_mutex_init (&r->lock);
  g_queue_init (&r->incoming);
  r->pending
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
  r->tick_source = g_timeout_add (TICK_MS, tick_cb, r);
  return r;
}

void
spot_coinbase_repairer_free (SpotCoinbaseRepairer *r)
{
  if (r == NULL)
    return;
  r->dead = TRUE;
  g_cancellable_cancel (r->cancellable);
  g_clear_handle_id (&r->tick_source, g_source_remove);
  repairer_unref (r);
}

/* ---- main-thread hand-off ------------------------------------------------ */

static void handle_event (SpotCoinbaseRepairer *r, Event *ev);

static gboolean
drain_cb (gpointer data)
{
  SpotCoinbaseRepairer *r = data;
  GQueue items = G_QUEUE_INIT;
  g_mutex_lock (&r->lock);
  items = r->incoming;
  g_queue_init (&r->incoming);
  r->wake_scheduled = FALSE;
  g_mutex_unlock (&r->lock);
  Event *ev;
  while ((ev = g_queue_pop_head (&items)) != NULL)
    {
      if (!r->dead)
        handle_event (r, ev);
      if (ev->kind == EV_OUTCOME)
        repairer_unref (r); /* the reference of the repair call */
      g_free (ev);
    }
  return G_SOURCE_REMOVE;
}

/* Any thread: one wake-up for many events. */
static void
post (SpotCoinbaseRepairer *r, Event *ev)
{
  g_mutex_lock (&r->lock);
  g_queue_push_tail (&r->incoming, ev);
  gboolean wake = !r->wake_scheduled;
  r->wake_scheduled = TRUE;
  g_mutex_unlock (&r->lock);
  if (wake)
    {
      GSource *src = g_idle_source_new ();
      g_source_set_callback (src, drain_cb, repairer_ref (r), (GDestroyNotify)repairer_unref);
      g_source_attach (src, r->context);
      g_source_unref (src);
    }
}

void
spot_coinbase_repairer_queue_dirty (SpotCoinbaseRepairer *r, const SpotDirtyRange *ranges, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      Event *ev = g_new0 (Event, 1);
      ev->kind = EV_DIRTY;
      ev->range = ranges[i];
      post (r, ev);
    }
}

typedef struct
{
  SpotCoinbaseRepairer *r;
  gboolean is_replace;
} RepairCall;

/* Shard worker thread. */
static void
repair_done_cb (const SpotRepairOutcome *outcome, gpointer data)
{
  RepairCall *call = data;
  Event *ev = g_new0 (Event, 1);
  ev->kind = EV_OUTCOME;
  ev->outcome = *outcome;
  ev->is_replace = call->is_replace;
  /* The call's reference moves to the event. */
  post (call->r, ev);
  g_free (call);
}

static RepairCall *
repair_call (SpotCoinbaseRepairer *r, gboolean is_replace)
{
  RepairCall *call = g_new0 (RepairCall, 1);
  call->r = repairer_ref (r);
  call->is_replace = is_replace;
  return call;
}

/* ---- pending minutes ------------------------------------------------------ */

static GHashTable *
product_minutes (SpotCoinbaseRepairer *r, const char *product, gboolean create)
{
  GHashTable *m = g_hash_table_lookup (r->pending, product);
  if (m == NULL && create)
    {
      m = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
      g_hash_table_insert (r->pending, g_strdup (product), m);
    }
  return m;
}

static void
minute_done (SpotCoinbaseRepairer *r, const char *product, gint64 minute)
{
  GHashTable *m = product_minutes (r, product, FALSE);
  if (m == NULL)
    return;
  g_hash_table_remove (m, &minute);
  if (g_hash_table_size (m) == 0)
    g_hash_table_remove (r->pending, product);
}

static void
minute_retry (SpotCoinbaseRepairer *r, const char *product, gint64 minute, gint64 delay_us)
{
  GHashTable *m = product_minutes (r, product, FALSE);
  MinuteState *st = m != NULL ? g_hash_table_lookup (m, &minute) : NULL;
  if (st == NULL)
    return;
  st->in_flight = FALSE;
  st->not_before_us = g_get_monotonic_time () + delay_us;
}

#ifdef SPOT_COINBASE_HAVE_STORE
typedef struct
{
  SpotCoinbaseRepairer *r;
  SpotRepairOutcome outcome;
} DbRepair;

static void
db_repair_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  DbRepair *job = data;
  SpotCoinbaseRepairer *r = job->r;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) rows
      = spot_repository_apply_repair_finish (SPOT_REPOSITORY (source), result, &error);
  const SpotCandle *c = &job->outcome.candle;
  if (!r->dead)
    {
      if (rows == NULL)
        {
          atomic_fetch_add (&r->s.failed, 1);
          spot_coinbase_metrics_rest_repair (r->metrics, SPOT_COINBASE_REST_REPAIR_FAILED);
          spot_log_limited (10000, 5, G_LOG_LEVEL_WARNING, c->product_id, -1, -1,
                            "repair of minute %" G_GINT64_FORMAT " through the database failed: %s",
                            c->start, error->message);
          minute_retry (r, c->product_id, c->start, RETRY_FAILED_US);
        }
      else
        {
          atomic_fetch_add (&r->s.via_database, 1);
          spot_coinbase_metrics_rest_repair (r->metrics, SPOT_COINBASE_REST_REPAIR_APPLIED);
          minute_done (r, c->product_id, c->start);
          SpotGranularity level = job->outcome.memory_level;
          SpotGranularity child = level != SPOT_GRANULARITY_INVALID ? spot_granularity_child (level)
                                                                    : SPOT_GRANULARITY_INVALID;
          for (guint i = 0; child != SPOT_GRANULARITY_INVALID && i < rows->len; i++)
            {
              const SpotCandle *row = &g_array_index (rows, SpotCandle, i);
              if (row->granularity == child)
                {
                  /* Memory still holds the parent: hand back the recomputed child. */
                  spot_sharded_aggregator_replace (r->agg, row, repair_done_cb,
                                                   repair_call (r, TRUE));
                  break;
                }
            }
        }
    }
  repairer_unref (r);
  g_free (job);
}
#endif

static void
needs_database (SpotCoinbaseRepairer *r, const SpotRepairOutcome *o)
{
#ifdef SPOT_COINBASE_HAVE_STORE
  if (r->repository != NULL)
    {
      DbRepair *job = g_new0 (DbRepair, 1);
      job->r = repairer_ref (r);
      job->outcome = *o;
      spot_repository_apply_repair_async (r->repository, o->candle.product_id, o->candle.start,
                                          &o->candle, r->cancellable, db_repair_done_cb, job);
      return;
    }
#endif
  atomic_fetch_add (&r->s.failed, 1);
  spot_coinbase_metrics_rest_repair (r->metrics, SPOT_COINBASE_REST_REPAIR_FAILED);
  spot_log_limited (60000, 3, G_LOG_LEVEL_WARNING, o->candle.product_id, -1, -1,
                    "minute %" G_GINT64_FORMAT
                    " left memory and there is no database: repair dropped",
                    o->candle.start);
  minute_done (r, o->candle.product_id, o->candle.start);
}

static void
handle_event (SpotCoinbaseRepairer *r, Event *ev)
{
  if (ev->kind == EV_DIRTY)
    {
      GHashTable *m = product_minutes (r, ev->range.product_id, TRUE);
      for (gint64 t = ev->range.first_minute; t <= ev->range.last_minute; t += 60)
        {
          if (g_hash_table_contains (m, &t))
            continue;
          gint64 *key = g_new (gint64, 1);
          *key = t;
          g_hash_table_insert (m, key, g_new0 (MinuteState, 1));
          atomic_fetch_add (&r->s.minutes_queued, 1);
        }
      return;
    }

  const SpotRepairOutcome *o = &ev->outcome;
  const char *product = o->candle.product_id;
  if (ev->is_replace)
    {
      if (o->result != SPOT_REPAIR_APPLIED)
        g_debug ("replace of %s %s at %" G_GINT64_FORMAT ": %s", product,
                 spot_granularity_name (o->candle.granularity), o->candle.start,
                 spot_repair_result_to_string (o->result));
      return;
    }
  switch (o->result)
    {
    case SPOT_REPAIR_APPLIED:
      atomic_fetch_add (&r->s.applied, 1);
      spot_coinbase_metrics_rest_repair (r->metrics, SPOT_COINBASE_REST_REPAIR_APPLIED);
      minute_done (r, product, o->candle.start);
      break;
    case SPOT_REPAIR_NEEDS_DATABASE:
      needs_database (r, o);
      break;
    case SPOT_REPAIR_REJECTED_OPEN:
      atomic_fetch_add (&r->s.retried_open, 1);
      minute_retry (r, product, o->candle.start, RETRY_OPEN_US);
      break;
    case SPOT_REPAIR_ABANDONED:
      atomic_fetch_add (&r->s.abandoned, 1);
      spot_coinbase_metrics_rest_repair (r->metrics, SPOT_COINBASE_REST_REPAIR_ABANDONED);
      minute_done (r, product, o->candle.start);
      break;
    case SPOT_REPAIR_INVALID:
    default:
      atomic_fetch_add (&r->s.failed, 1);
      spot_coinbase_metrics_rest_repair (r->metrics, SPOT_COINBASE_REST_REPAIR_FAILED);
      minute_done (r, product, o->candle.start);
      break;
    }
}

/* ---- REST fetches --------------------------------------------------------- */

typedef struct
{
  SpotCoinbaseRepairer *r;
  char product[SPOT_PRODUCT_ID_SIZE];
  gint64 first;
  gint64 last;
} Fetch;

static void
fetched_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Fetch *f = data;
  SpotCoinbaseRepairer *r = f->r;
  (void)source;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) candles = spot_coinbase_rest_get_candles_finish (r->rest, result, &error);
  if (!r->dead)
    {
      r->in_flight_requests--;
      GHashTable *m = product_minutes (r, f->product, FALSE);
      if (candles == NULL)
        {
          atomic_fetch_add (&r->s.rest_failures, 1);
          spot_coinbase_metrics_rest_repair (r->metrics, SPOT_COINBASE_REST_REPAIR_FAILED);
          spot_log_limited (10000, 5, G_LOG_LEVEL_WARNING, f->product, -1, -1,
                            "REST candles for a repair failed: %s", error->message);
          for (gint64 t = f->first; t <= f->last; t += 60)
            minute_retry (r, f->product, t, RETRY_FAILED_US);
        }
      else
        {
          guint k = 0;
          for (gint64 t = f->first; t <= f->last; t += 60)
            {
              MinuteState *st = m != NULL ? g_hash_table_lookup (m, &t) : NULL;
              while (k < candles->len && g_array_index (candles, SpotCandle, k).start < t)
                k++;
              const SpotCandle *c
                  = k < candles->len && g_array_index (candles, SpotCandle, k).start == t
                        ? &g_array_index (candles, SpotCandle, k)
                        : NULL;
              if (st == NULL)
                continue; /* product removed meanwhile */
              if (c != NULL)
                spot_sharded_aggregator_repair (r->agg, c, repair_done_cb, repair_call (r, FALSE));
              else
                {
                  /* No candle: the exchange had no trade in that minute. */
                  spot_sharded_aggregator_clear_dirty (r->agg, f->product, t);
                  atomic_fetch_add (&r->s.cleared, 1);
                  minute_done (r, f->product, t);
                  m = product_minutes (r, f->product, FALSE);
                }
            }
        }
    }
  repairer_unref (r);
  g_free (f);
}

static gint
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return (x > y) - (x < y);
}

static void
fetch (SpotCoinbaseRepairer *r, const char *product, gint64 first, gint64 last)
{
  Fetch *f = g_new0 (Fetch, 1);
  f->r = repairer_ref (r);
  g_strlcpy (f->product, product, sizeof f->product);
  f->first = first;
  f->last = last;
  r->in_flight_requests++;
  atomic_fetch_add (&r->s.rest_requests, 1);
  spot_coinbase_rest_get_candles_async (r->rest, product, SPOT_GRANULARITY_ONE_MINUTE, first, last,
                                        r->cancellable, fetched_cb, f);
}

static gboolean
tick_cb (gpointer data)
{
  SpotCoinbaseRepairer *r = data;
  gint64 now_s
      = spot_candle_clock_now_ns (spot_sharded_aggregator_get_clock (r->agg)) / SPOT_NS_PER_SECOND;
  gint64 mono = g_get_monotonic_time ();
  gint64 delay_s = (r->options.repair_delay_ms + 999) / 1000;
  if (r->last_rereport_us == 0)
    r->last_rereport_us = mono;
  else if (mono - r->last_rereport_us >= REREPORT_US)
    {
      r->last_rereport_us = mono;
      spot_sharded_aggregator_report_dirty (r->agg);
    }
  GHashTableIter it;
  gpointer key, value;
  g_autoptr (GPtrArray) empty = g_ptr_array_new_with_free_func (g_free);
  g_hash_table_iter_init (&it, r->pending);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      const char *product = key;
      GHashTable *m = value;
      g_autoptr (GArray) ready = g_array_new (FALSE, FALSE, sizeof (gint64));
      GHashTableIter mi;
      gpointer mk, mv;
      g_hash_table_iter_init (&mi, m);
      while (g_hash_table_iter_next (&mi, &mk, &mv))
        {
          gint64 t = *(gint64 *)mk;
          MinuteState *st = mv;
          if (st->in_flight)
            continue;
          if (t < now_s - r->options.repair_horizon_s)
            {
              atomic_fetch_add (&r->s.abandoned, 1);
              spot_coinbase_metrics_rest_repair (r->metrics, SPOT_COINBASE_REST_REPAIR_ABANDONED);
              g_hash_table_iter_remove (&mi);
              continue;
            }
          if (t + 60 + delay_s <= now_s && st->not_before_us <= mono)
            g_array_append_val (ready, t);
        }
      if (g_hash_table_size (m) == 0)
        {
          g_ptr_array_add (empty, g_strdup (product));
          continue;
        }
      g_array_sort (ready, cmp_i64);
      for (guint i = 0; i < ready->len && r->in_flight_requests < MAX_IN_FLIGHT_REQUESTS;)
        {
          gint64 first = g_array_index (ready, gint64, i);
          guint j = i + 1;
          while (j < ready->len
                 && g_array_index (ready, gint64, j) == g_array_index (ready, gint64, j - 1) + 60
                 && j - i < SPOT_COINBASE_REST_MAX_CANDLES)
            j++;
          gint64 last = g_array_index (ready, gint64, j - 1);
          for (guint k = i; k < j; k++)
            {
              gint64 t = g_array_index (ready, gint64, k);
              ((MinuteState *)g_hash_table_lookup (m, &t))->in_flight = TRUE;
            }
          fetch (r, product, first, last);
          i = j;
        }
    }
  for (guint i = 0; i < empty->len; i++)
    g_hash_table_remove (r->pending, g_ptr_array_index (empty, i));
  return G_SOURCE_CONTINUE;
}

guint
spot_coinbase_repairer_get_pending (SpotCoinbaseRepairer *r)
{
  guint n = 0;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, r->pending);
  while (g_hash_table_iter_next (&it, NULL, &value))
    n += g_hash_table_size (value);
  return n;
}

void
spot_coinbase_repairer_remove_products (SpotCoinbaseRepairer *r, const char *const *product_ids)
{
  for (guint i = 0; product_ids != NULL && product_ids[i] != NULL; i++)
    g_hash_table_remove (r->pending, product_ids[i]);
}

void
spot_coinbase_repairer_get_stats (SpotCoinbaseRepairer *r, SpotCoinbaseRepairerStats *out)
{
  out->minutes_queued = atomic_load (&r->s.minutes_queued);
  out->rest_requests = atomic_load (&r->s.rest_requests);
  out->rest_failures = atomic_load (&r->s.rest_failures);
  out->applied = atomic_load (&r->s.applied);
  out->via_database = atomic_load (&r->s.via_database);
  out->cleared = atomic_load (&r->s.cleared);
  out->retried_open = atomic_load (&r->s.retried_open);
  out->abandoned = atomic_load (&r->s.abandoned);
  out->failed = atomic_load (&r->s.failed);
  out->products_seeded = atomic_load (&r->s.products_seeded);
  out->seeding = atomic_load (&r->s.seeding);
}

/* ---- seeding --------------------------------------------------------------- */

typedef struct
{
  SpotCoinbaseRepairer *r;
  char product[SPOT_PRODUCT_ID_SIZE];
  gint64 now_s;
  GArray *candles; /* SpotCandle: stored, then REST */
  GArray *fetched; /* SpotCandle: the REST ones (closed buckets the database lacks) */
  guint64 hwm;
  guint waiting; /* REST requests outstanding */
} SeedJob;

static void
seed_job_free (SeedJob *job)
{
  g_array_unref (job->candles);
  g_array_unref (job->fetched);
  repairer_unref (job->r);
  g_free (job);
}

#ifdef SPOT_COINBASE_HAVE_STORE
static void
seed_stored_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autofree char *product = data;
  g_autoptr (GError) error = NULL;
  if (!spot_repository_upsert_candles_finish (SPOT_REPOSITORY (source), result, NULL, &error)
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    spot_log (G_LOG_LEVEL_WARNING, G_LOG_DOMAIN, product, -1, -1,
              "seeding: storing the REST candles failed: %s; a restart fetches them again",
              error->message);
}
#endif

static void
seed_finish (SeedJob *job)
{
  SpotCoinbaseRepairer *r = job->r;
#ifdef SPOT_COINBASE_HAVE_STORE
  /* The engine never emits the closed buckets it is seeded with: store the
   * ones that came from REST, so a restart finds the open buckets' closed
   * children in the database (and needs no REST for them). */
  if (!r->dead && r->repository != NULL && job->fetched->len > 0)
    spot_repository_upsert_candles_async (r->repository, (const SpotCandle *)job->fetched->data,
                                          job->fetched->len, r->cancellable, seed_stored_cb,
                                          g_strdup (job->product));
#endif
  if (!r->dead)
    {
      gint64 newest_minute = 0;
      for (guint i = 0; i < job->candles->len; i++)
        {
          const SpotCandle *c = &g_array_index (job->candles, SpotCandle, i);
          if (c->granularity == SPOT_GRANULARITY_ONE_MINUTE
              && c->trades != SPOT_CANDLE_TRADES_UNKNOWN)
            newest_minute = MAX (newest_minute, c->start);
        }
      spot_sharded_aggregator_seed (r->agg, job->product, (const SpotCandle *)job->candles->data,
                                    job->candles->len, job->hwm);
      if (newest_minute > 0)
        {
          /* Trades between the last stored one and now may be missing. */
          gint64 now_minute = job->now_s - job->now_s % 60;
          spot_sharded_aggregator_mark_dirty (r->agg, job->product, newest_minute, now_minute,
                                              SPOT_DIRTY_REASON_STARTUP);
        }
      spot_sharded_aggregator_seed_end (r->agg, job->product);
      atomic_fetch_add (&r->s.products_seeded, 1);
      spot_log (G_LOG_LEVEL_INFO, G_LOG_DOMAIN, job->product, -1, -1,
                "seeded with %u candles, high-water mark %" G_GUINT64_FORMAT, job->candles->len,
                job->hwm);
    }
  atomic_fetch_sub (&r->s.seeding, 1);
  seed_job_free (job);
}

typedef struct
{
  SeedJob *job;
  SpotGranularity level;
  gint64 first;
  gint64 last;
} SeedFetch;

static gboolean
have_candle (GArray *candles, guint n_stored, SpotGranularity g, gint64 start)
{
  for (guint i = 0; i < n_stored; i++)
    {
      const SpotCandle *c = &g_array_index (candles, SpotCandle, i);
      if (c->granularity == g && c->start == start)
        return TRUE;
    }
  return FALSE;
}

static void
seed_fetched_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  SeedFetch *sf = data;
  SeedJob *job = sf->job;
  (void)source;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) candles = spot_coinbase_rest_get_candles_finish (job->r->rest, result, &error);
  if (candles == NULL)
    {
      if (!job->r->dead)
        spot_log (G_LOG_LEVEL_WARNING, G_LOG_DOMAIN, job->product, -1, -1,
                  "seeding: REST %s candles failed: %s; those buckets start empty",
                  spot_granularity_name (sf->level), error->message);
    }
  else
    {
      for (guint i = 0; i < candles->len; i++)
        g_array_append_val (job->candles, g_array_index (candles, SpotCandle, i));
      g_array_append_vals (job->fetched, candles->data, candles->len);
    }
  g_free (sf);
  if (--job->waiting == 0)
    seed_finish (job);
}

static void
seed_fetch_missing (SeedJob *job)
{
  SpotCoinbaseRepairer *r = job->r;
  guint n_stored = job->candles->len;
  job->waiting = 1; /* held until every request is issued */
  for (gint l = SPOT_GRANULARITY_ONE_MINUTE; l < SPOT_GRANULARITY_COUNT; l++)
    {
      SpotGranularity g = (SpotGranularity)l;
      SpotGranularity parents[2];
      guint np = spot_granularity_parents (g, parents);
      if (np == 0)
        continue;
      gint64 size = spot_granularity_seconds (g);
      gint64 end = spot_granularity_align (g, job->now_s) - size; /* last closed bucket */
      gint64 begin = end + size;
      for (guint k = 0; k < np; k++)
        begin = MIN (begin, spot_granularity_align (parents[k], job->now_s));
      /* Closed buckets of this level inside an open parent, missing in the database. */
      gint64 first = 0, last = 0;
      for (gint64 t = begin; t <= end; t += size)
        if (!have_candle (job->candles, n_stored, g, t))
          {
            if (first == 0)
              first = t;
            last = t;
          }
      if (first == 0)
        continue;
      SeedFetch *sf = g_new0 (SeedFetch, 1);
      sf->job = job;
      sf->level = g;
      sf->first = first;
      sf->last = last;
      job->waiting++;
      spot_coinbase_rest_get_candles_async (r->rest, job->product, g, first, last, r->cancellable,
                                            seed_fetched_cb, sf);
    }
  if (--job->waiting == 0)
    seed_finish (job);
}

#ifdef SPOT_COINBASE_HAVE_STORE
static void
seed_loaded_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  SeedJob *job = data;
  g_autoptr (GError) error = NULL;
  SpotStoreSeed *seed = spot_repository_load_seed_finish (SPOT_REPOSITORY (source), result, &error);
  if (seed == NULL)
    spot_log (G_LOG_LEVEL_WARNING, G_LOG_DOMAIN, job->product, -1, -1,
              "seeding: stored candles could not be loaded: %s; seeding from REST only",
              error->message);
  else
    {
      if (seed->candles != NULL)
        g_array_append_vals (job->candles, seed->candles->data, seed->candles->len);
      if (seed->last_trade_id != SPOT_CANDLE_TRADE_ID_UNKNOWN)
        job->hwm = seed->last_trade_id;
      spot_store_seed_free (seed);
    }
  if (job->r->dead)
    {
      atomic_fetch_sub (&job->r->s.seeding, 1);
      seed_job_free (job);
      return;
    }
  seed_fetch_missing (job);
}
#endif

void
spot_coinbase_repairer_seed_products (SpotCoinbaseRepairer *r, const char *const *product_ids)
{
  for (guint i = 0; product_ids != NULL && product_ids[i] != NULL; i++)
    {
      SeedJob *job = g_new0 (SeedJob, 1);
      job->r = repairer_ref (r);
      g_strlcpy (job->product, product_ids[i], sizeof job->product);
      job->now_s = spot_candle_clock_now_ns (spot_sharded_aggregator_get_clock (r->agg))
                   / SPOT_NS_PER_SECOND;
      job->candles = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
      job->fetched = g_array_new (FALSE, FALSE, sizeof (SpotCandle));
      atomic_fetch_add (&r->s.seeding, 1);
      spot_sharded_aggregator_add_product (r->agg, job->product, TRUE);
#ifdef SPOT_COINBASE_HAVE_STORE
      if (r->repository != NULL)
        {
          spot_repository_load_seed_async (r->repository, job->product, job->now_s,
                                           job->now_s - r->options.repair_horizon_s, r->cancellable,
                                           seed_loaded_cb, job);
          continue;
        }
#endif
      seed_fetch_missing (job);
    }
}
