/* spot-publisher.c: core NATS publishes of every update, throttled KV writes. */
#define G_LOG_DOMAIN "spot-nats"

#include "nats/spot-publisher.h"

#include <stdatomic.h>
#include <string.h>

#include "core/spot-error.h"
#include "core/spot-log.h"
#include "core/spot-thread.h"
#include "model/spot-candle-json.h"
#include "nats/spot-candle-coalescer.h"
#include "nats/spot-nats-kv.h"
#include "nats/spot-nats-subject.h"

/* A key's place in the KV schedule:
 *  IDLE     clean, or dirty with a write in flight and not yet due;
 *  WAITING  dirty, in the waiting queue until dirty_since + the write budget;
 *  READY    due, in the ready queue for a write slot;
 *  AFTER_ACK due while its previous write is in flight: written when that
 *           write is acknowledged (one write per key in flight keeps the
 *           server from storing values that are overwritten at once). */
typedef enum
{
  KV_IDLE,
  KV_WAITING,
  KV_READY,
  KV_AFTER_ACK,
} KvState;

typedef struct
{
  char subject[SPOT_NATS_SUBJECT_SIZE];    /* candles.<PRODUCT>.<GRANULARITY> */
  char kv_subject[SPOT_NATS_SUBJECT_SIZE]; /* $KV.<bucket>.<key> */
  GString *json;                           /* the KV's next value, encoded */
  gint64 start;
  guint64 rev;
  gboolean have;
  gboolean dirty;
  gboolean inflight;
  KvState state;
  gint64 dirty_since_us;      /* submit time of the oldest change not written */
  gint64 sent_us;             /* of the write in flight, or the last one */
  gint64 late_us;             /* how late this thread noticed that the key's
                                 write was due (scheduling delays) */
  gint64 ready_us;            /* when the key entered the ready queue */
  gint64 slot_wait_us;        /* how long the write in flight waited there */
  gint64 sent_dirty_since_us; /* dirty_since of the write in flight */
  GPtrArray *group;           /* KvEntry*: the writes sent without an
                                 acknowledgement that this write's confirms */
  GList link;                 /* in waiting or ready */
} KvEntry;

/* What the bucket held for a key when we bound it. */
typedef struct
{
  gint64 start;
  guint64 rev;
} KvFloor;

/* An acknowledgement (or failure) handed from the library's thread to ours. */
typedef struct
{
  natsMsg *msg;
  gboolean ok;
  gboolean no_stream; /* nothing stores the bucket's subjects */
  gint64 at_us;       /* when the library delivered it */
} KvAck;

#define BIND_BACKOFF_MIN_US (G_USEC_PER_SEC / 2)
#define BIND_BACKOFF_MAX_US (30 * G_USEC_PER_SEC)

struct _SpotPublisher
{
  GObject parent_instance;

  natsConnection *nc;
  natsConnection *js_nc; /* KV writes; nc when not set */
  SpotPublisherOptions options;
  char *bucket;
  SpotCandleCoalescer *queue;
  GThread *thread;
  SpotPublisherLatencyFunc latency_func;
  gpointer latency_data;
  atomic_bool stopping;
  atomic_bool busy;
  guint stop_deadline_ms;

  atomic_uint_fast64_t published;
  atomic_uint_fast64_t publish_errors;
  atomic_uint_fast64_t kv_writes;
  atomic_uint_fast64_t kv_acked;
  atomic_uint_fast64_t kv_errors;
  atomic_uint_fast64_t kv_older_skipped;
  atomic_uint kv_inflight;
  atomic_uint kv_acks_pending; /* delivered, not yet taken by our thread */
  atomic_uint kv_dirty;
  atomic_uint kv_keys;
  atomic_bool kv_ready;
  atomic_int_fast64_t staleness_cur_us;
  atomic_int_fast64_t staleness_prev_us;
  atomic_int_fast64_t ack_latency_us;
  atomic_int_fast64_t write_budget_us;
  atomic_uint kv_ack_group; /* ack_group for readers; 0 before bind */

  /* Filled by the ack callback (a library thread), taken by our thread. */
  GMutex ack_lock;
  GArray *acks;       /* KvAck */
  GArray *acks_spare; /* KvAck */

  /* Publisher thread only. */
  jsCtx *js;
  kvStore *kv;
  jsPubOptions pub_options;
  GPtrArray *all;         /* KvEntry*, owns them */
  GPtrArray *by_id;       /* coalescer key id -> KvEntry* (or NULL) */
  GHashTable *by_key;     /* "<PRODUCT>.<GRANULARITY>" -> KvEntry*, every entry */
  GHashTable *floors;     /* key -> KvFloor*: the bucket's values at bind, for keys
                             not seen yet */
  GHashTable *by_subject; /* kv_subject -> KvEntry* (acks) */
  GQueue waiting;         /* by dirty_since */
  GQueue ready;
  GPtrArray *sending; /* KvEntry*: kv_flush's writes of one pass */
  guint ack_group;    /* writes per acknowledgement for the bound bucket */
  gint64 srtt_us; /* acknowledgement latency estimate (RFC 6298 style) */
  gint64 rttvar_us;
  gint64 budget_us; /* current per-key write budget */
  gint64 next_bind_us;
  gint64 bind_backoff_us;
  /* Binding is a blocking JetStream request: it runs on a short-lived thread
   * so core publishing never waits for it. */
  GThread *bind_thread;
  atomic_bool bind_done;
  kvStore *bind_result;
  gint64 bind_replicas;
  GHashTable *bind_floors; /* key -> KvFloor*, read by the bind thread */
  char *bind_error;
  gint64 window_start_us;
  GString *json;
  natsStatistics *js_stats;
  guint64 js_reconnects;
  gint64 next_reconnect_check_us;
};

G_DEFINE_TYPE (SpotPublisher, spot_publisher, G_TYPE_OBJECT)

static gint64 budget_max_us (SpotPublisher *self);

void
spot_publisher_options_init (SpotPublisherOptions *options)
{
  memset (options, 0, sizeof *options);
  options->kv_bucket = SPOT_NATS_KV_BUCKET_DEFAULT;
  options->kv_enabled = TRUE;
  options->kv_replicas = 1;
  options->kv_staleness_ms = 250;
  options->kv_max_inflight = SPOT_PUBLISHER_KV_MAX_INFLIGHT_DEFAULT;
  options->kv_stall_wait_ms = 5;
  options->kv_ack_wait_ms = 2000;
  options->kv_ack_group = SPOT_PUBLISHER_KV_ACK_GROUP_DEFAULT;
  options->max_pending_updates = SPOT_CANDLE_COALESCER_DEFAULT_MAX_PENDING;
}

static void
kv_entry_free (gpointer data)
{
  KvEntry *e = data;

  g_string_free (e->json, TRUE);
  g_clear_pointer (&e->group, g_ptr_array_unref);
  g_free (e);
}

static void
spot_publisher_init (SpotPublisher *self)
{
  g_mutex_init (&self->ack_lock);
  self->acks = g_array_new (FALSE, FALSE, sizeof (KvAck));
  self->acks_spare = g_array_new (FALSE, FALSE, sizeof (KvAck));
  self->all = g_ptr_array_new_with_free_func (kv_entry_free);
  self->by_id = g_ptr_array_new ();
  self->by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->by_subject = g_hash_table_new (g_str_hash, g_str_equal);
  self->floors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&self->waiting);
  g_queue_init (&self->ready);
  self->sending = g_ptr_array_new ();
  self->ack_group = 1;
  self->json = g_string_sized_new (512);
  self->bind_backoff_us = BIND_BACKOFF_MIN_US;
}

static void
acks_destroy (GArray *acks)
{
  for (guint i = 0; i < acks->len; i++)
    natsMsg_Destroy (g_array_index (acks, KvAck, i).msg);
  g_array_unref (acks);
}

static void
spot_publisher_dispose (GObject *object)
{
  spot_publisher_stop (SPOT_PUBLISHER (object), 2000);
  G_OBJECT_CLASS (spot_publisher_parent_class)->dispose (object);
}

static void
spot_publisher_finalize (GObject *object)
{
  SpotPublisher *self = SPOT_PUBLISHER (object);

  spot_candle_coalescer_free (self->queue);
  acks_destroy (self->acks);
  acks_destroy (self->acks_spare);
  g_mutex_clear (&self->ack_lock);
  g_hash_table_unref (self->by_subject);
  g_hash_table_unref (self->floors);
  g_clear_pointer (&self->bind_floors, g_hash_table_unref);
  g_hash_table_unref (self->by_key);
  g_ptr_array_unref (self->by_id);
  g_ptr_array_unref (self->all);
  g_ptr_array_unref (self->sending);
  g_clear_pointer (&self->js_stats, natsStatistics_Destroy);
  g_string_free (self->json, TRUE);
  g_free (self->bucket);
  G_OBJECT_CLASS (spot_publisher_parent_class)->finalize (object);
}

static void
spot_publisher_class_init (SpotPublisherClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = spot_publisher_dispose;
  object_class->finalize = spot_publisher_finalize;
}

SpotPublisher *
spot_publisher_new (natsConnection *nc, const SpotPublisherOptions *options, GError **error)
{
  SpotPublisherOptions defaults;
  SpotPublisher *self;

  g_return_val_if_fail (nc != NULL, NULL);

  if (options == NULL)
    {
      spot_publisher_options_init (&defaults);
      options = &defaults;
    }
  if (options->kv_enabled && !spot_nats_bucket_name_validate (options->kv_bucket, error))
    return NULL;

  self = g_object_new (SPOT_TYPE_PUBLISHER, NULL);
  self->nc = nc;
  self->js_nc = nc;
  self->options = *options;
  self->bucket
      = g_strdup (options->kv_bucket != NULL ? options->kv_bucket : SPOT_NATS_KV_BUCKET_DEFAULT);
  self->options.kv_bucket = self->bucket;
  if (self->options.kv_staleness_ms == 0)
    self->options.kv_staleness_ms = 1;
  if (self->options.kv_write_interval_ms > self->options.kv_staleness_ms)
    self->options.kv_write_interval_ms = self->options.kv_staleness_ms;
  if (self->options.kv_max_inflight == 0)
    self->options.kv_max_inflight = 1;
  self->options.kv_ack_group = CLAMP (self->options.kv_ack_group, 1, 256);
  self->queue = spot_candle_coalescer_new (options->max_pending_updates);
  self->budget_us = budget_max_us (self);
  atomic_store (&self->write_budget_us, self->budget_us);
  return self;
}

void
spot_publisher_set_js_connection (SpotPublisher *self, natsConnection *js_nc)
{
  g_return_if_fail (self->thread == NULL);
  self->js_nc = js_nc != NULL ? js_nc : self->nc;
}

void
spot_publisher_set_latency_func (SpotPublisher *self,
                                 SpotPublisherLatencyFunc func,
                                 gpointer user_data)
{
  g_return_if_fail (self->thread == NULL);
  self->latency_func = func;
  self->latency_data = user_data;
}

void
spot_publisher_submit (SpotPublisher *self, const SpotCandleUpdate *updates, guint n)
{
  spot_candle_coalescer_submit (self->queue, updates, n);
}

/* Runs on a nats.c thread for every asynchronous KV publish: only hands the
 * message over; our thread does the bookkeeping. */
static void
on_kv_ack (jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
  SpotPublisher *self = closure;
  KvAck ack = { msg, pa != NULL, pae != NULL && pae->Err == NATS_NO_RESPONDERS,
                g_get_monotonic_time () };

  if (pa == NULL)
    spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, NULL, -1, -1,
                      "KV write to %s failed: %s; retrying", natsMsg_GetSubject (msg),
                      pae != NULL
                          ? (pae->ErrText != NULL ? pae->ErrText : natsStatus_GetText (pae->Err))
                          : "?");
  /* The write slot frees now, even while our thread is busy publishing. */
  atomic_fetch_add (&self->kv_acks_pending, 1);
  atomic_fetch_sub (&self->kv_inflight, 1);
  if (pa != NULL)
    atomic_fetch_add (&self->kv_acked, 1);
  else
    atomic_fetch_add (&self->kv_errors, 1);
  g_mutex_lock (&self->ack_lock);
  g_array_append_val (self->acks, ack);
  g_mutex_unlock (&self->ack_lock);
}

/* The connection carrying KV writes. */
static gboolean
is_connected (SpotPublisher *self)
{
  return natsConnection_Status (self->js_nc) == NATS_CONN_STATUS_CONNECTED;
}

/* The part of the bound kept for what follows the acknowledgement (the
 * watchers' delivery). 10 % left the benchmark's p99 a few ms over the bound
 * with a memory bucket (docs/nats.md). */
static gint64
budget_margin_us (SpotPublisher *self)
{
  return MAX ((gint64)self->options.kv_staleness_ms * 1000 * 3 / 20, 5000);
}

static gint64
budget_max_us (SpotPublisher *self)
{
  if (self->options.kv_write_interval_ms > 0)
    return (gint64)self->options.kv_write_interval_ms * 1000;
  return MAX ((gint64)self->options.kv_staleness_ms * 1000 - budget_margin_us (self), 1000);
}

/* The write budget: how long a key's first unwritten change may wait before
 * its write is sent, so that the write is acknowledged within the bound:
 * bound - margin - (smoothed acknowledgement latency + 4 deviations). Never
 * below 2/5 of the bound: when JetStream falls behind, writing more often
 * would only deepen its queue. A fixed kv_write_interval_ms replaces it. */
static void
budget_update (SpotPublisher *self)
{
  gint64 max_us = budget_max_us (self);
  gint64 min_us = MIN ((gint64)self->options.kv_staleness_ms * 1000 * 2 / 5, max_us);

  if (self->options.kv_write_interval_ms > 0)
    self->budget_us = max_us;
  else
    self->budget_us = CLAMP (max_us - (self->srtt_us + 4 * self->rttvar_us), min_us, max_us);
  atomic_store (&self->write_budget_us, self->budget_us);
}

static void
ack_latency_sample (SpotPublisher *self, gint64 latency_us)
{
  if (self->srtt_us == 0 && self->rttvar_us == 0)
    {
      self->srtt_us = latency_us;
      self->rttvar_us = latency_us / 2;
    }
  else
    {
      self->rttvar_us += (ABS (self->srtt_us - latency_us) - self->rttvar_us) / 4;
      self->srtt_us += (latency_us - self->srtt_us) / 8;
    }
  atomic_store (&self->ack_latency_us, self->srtt_us);
}

static void
record_staleness (SpotPublisher *self, gint64 staleness_us, gint64 now)
{
  if (now - self->window_start_us >= G_USEC_PER_SEC)
    {
      atomic_store (&self->staleness_prev_us, atomic_load (&self->staleness_cur_us));
      atomic_store (&self->staleness_cur_us, 0);
      self->window_start_us = now;
    }
  if (staleness_us > atomic_load (&self->staleness_cur_us))
    atomic_store (&self->staleness_cur_us, staleness_us);
}

static void
queue_remove (SpotPublisher *self, KvEntry *e)
{
  if (e->state == KV_WAITING)
    g_queue_unlink (&self->waiting, &e->link);
  else if (e->state == KV_READY)
    g_queue_unlink (&self->ready, &e->link);
  e->state = KV_IDLE;
}

/* Puts @e (in no queue) in the ready queue at @now, first in line when
 * @first; @late_us: how late this thread noticed that its write was due. */
static void
ready_push (SpotPublisher *self, KvEntry *e, gint64 now, gint64 late_us, gboolean first)
{
  e->late_us = late_us;
  e->ready_us = now;
  e->state = KV_READY;
  if (first)
    g_queue_push_head_link (&self->ready, &e->link);
  else
    g_queue_push_tail_link (&self->ready, &e->link);
}

/* Puts a dirty key where it belongs after a change (@now: current time). */
static void
kv_schedule (SpotPublisher *self, KvEntry *e, gint64 now)
{
  if (e->state != KV_IDLE)
    return;
  if (!e->inflight && now - e->sent_us >= self->budget_us)
    {
      /* Quiet for a while: written at once. */
      ready_push (self, e, now, 0, FALSE);
    }
  else
    {
      /* Changes arrive in submit order, so the queue stays sorted by
       * dirty_since. */
      e->state = KV_WAITING;
      g_queue_push_tail_link (&self->waiting, &e->link);
    }
}

static KvEntry *
entry_new (SpotPublisher *self, const SpotCandle *candle, const char *key)
{
  KvEntry *e = g_new0 (KvEntry, 1);
  KvFloor *floor;

  e->link.data = e;
  e->json = g_string_sized_new (320);
  e->sent_us = G_MININT64 / 2;
  if (spot_nats_subject_format (candle->product_id, candle->granularity, e->subject,
                                sizeof e->subject)
          == 0
      || spot_nats_kv_subject_format (self->bucket, candle->product_id, candle->granularity,
                                      e->kv_subject, sizeof e->kv_subject)
             == 0)
    {
      kv_entry_free (e);
      return NULL;
    }
  /* The bucket already holds a value from before we started (another run
   * of the service): nothing older than it may replace it. */
  if ((floor = g_hash_table_lookup (self->floors, key)) != NULL)
    {
      e->have = TRUE;
      e->start = floor->start;
      e->rev = floor->rev;
      g_hash_table_remove (self->floors, key);
    }
  g_ptr_array_add (self->all, e);
  g_hash_table_insert (self->by_subject, e->kv_subject, e);
  g_hash_table_insert (self->by_key, g_strdup (key), e);
  atomic_fetch_add (&self->kv_keys, 1);
  return e;
}

/* The key's entry, made on first sight; NULL for an invalid key. @id (the
 * coalescer's key id) makes the lookup an array index. */
static KvEntry *
entry_get (SpotPublisher *self, const SpotCandle *candle, guint32 id)
{
  char key[SPOT_NATS_KEY_SIZE];
  KvEntry *e;

  if (id != SPOT_CANDLE_COALESCER_NO_KEY && id < self->by_id->len
      && (e = g_ptr_array_index (self->by_id, id)) != NULL)
    return e;
  if (spot_nats_key_format (candle->product_id, candle->granularity, key, sizeof key) == 0)
    return NULL;
  e = g_hash_table_lookup (self->by_key, key);
  if (e == NULL && (e = entry_new (self, candle, key)) == NULL)
    return NULL;
  if (id != SPOT_CANDLE_COALESCER_NO_KEY)
    {
      if (id >= self->by_id->len)
        g_ptr_array_set_size (self->by_id, (gint)id + 1);
      g_ptr_array_index (self->by_id, id) = e;
    }
  return e;
}

/* Takes the bucket's values read at bind: a key we already track keeps our
 * value only when it is not older; otherwise the pending older value is
 * dropped from the KV schedule (it reached the subject already). */
static void
kv_apply_floors (SpotPublisher *self, GHashTable *floors)
{
  GHashTableIter iter;
  gpointer k, v;

  g_hash_table_iter_init (&iter, floors);
  while (g_hash_table_iter_next (&iter, &k, &v))
    {
      KvFloor *floor = v;
      KvEntry *e = g_hash_table_lookup (self->by_key, k);

      if (e == NULL)
        {
          g_hash_table_iter_steal (&iter);
          g_hash_table_replace (self->floors, k, v);
          continue;
        }
      if (e->have
          && (e->start > floor->start || (e->start == floor->start && e->rev >= floor->rev)))
        continue;
      e->have = TRUE;
      e->start = floor->start;
      e->rev = floor->rev;
      if (e->dirty)
        {
          e->dirty = FALSE;
          atomic_fetch_sub (&self->kv_dirty, 1);
          atomic_fetch_add (&self->kv_older_skipped, 1);
          queue_remove (self, e);
        }
    }
}

/* Records a published update for the KV; @json is its encoded form. */
static void
kv_track (SpotPublisher *self,
          KvEntry *e,
          const SpotCandle *candle,
          const GString *json,
          gint64 submit_us,
          gint64 now)
{
  if (e->have && (candle->start < e->start || (candle->start == e->start && candle->rev < e->rev)))
    {
      /* The per-key view keeps the greatest start (DESIGN.md section 2). */
      atomic_fetch_add (&self->kv_older_skipped, 1);
      return;
    }
  e->start = candle->start;
  e->rev = candle->rev;
  e->have = TRUE;
  g_string_truncate (e->json, 0);
  g_string_append_len (e->json, json->str, (gssize)json->len);
  if (!e->dirty)
    {
      e->dirty = TRUE;
      e->dirty_since_us = submit_us;
      atomic_fetch_add (&self->kv_dirty, 1);
    }
  kv_schedule (self, e, now);
}

/* A write of @e was acknowledged: @e may be written again. */
static void
kv_written (SpotPublisher *self, KvEntry *e, gint64 at_us, gint64 now)
{
  e->inflight = FALSE;
  record_staleness (self, at_us - e->sent_dirty_since_us, now);
  if (e->state == KV_AFTER_ACK)
    ready_push (self, e, now, 0, TRUE);
}

/* A write of @e failed or timed out: its value is still unwritten since
 * then; the key is overdue, so it goes first. */
static void
kv_unwritten (SpotPublisher *self, KvEntry *e)
{
  e->inflight = FALSE;
  if (!e->dirty)
    {
      e->dirty = TRUE;
      e->dirty_since_us = e->sent_dirty_since_us;
      atomic_fetch_add (&self->kv_dirty, 1);
    }
  else
    e->dirty_since_us = MIN (e->dirty_since_us, e->sent_dirty_since_us);
  queue_remove (self, e);
  ready_push (self, e, g_get_monotonic_time (), 0, TRUE);
}

/* The writes @e's acknowledgement confirmed (@ok) or failed along with it. */
static void
kv_settle_group (SpotPublisher *self, KvEntry *e, gboolean ok, gint64 at_us, gint64 now)
{
  guint n;

  if (e->group == NULL || e->group->len == 0)
    return;
  n = e->group->len;
  for (guint i = 0; i < n; i++)
    {
      KvEntry *member = g_ptr_array_index (e->group, i);

      if (ok)
        kv_written (self, member, at_us, now);
      else
        kv_unwritten (self, member);
    }
  g_ptr_array_set_size (e->group, 0);
  atomic_fetch_add (ok ? &self->kv_acked : &self->kv_errors, n);
  atomic_fetch_sub (&self->kv_inflight, n);
}

/* The bucket's stream is gone (a memory bucket after nats-server restarted,
 * or deleted): bind again, which creates it; writes wait meanwhile. */
static void
kv_lost_bucket (SpotPublisher *self, gint64 now)
{
  if (self->kv == NULL)
    return;
  g_warning ("KV bucket %s no longer exists; creating it again", self->bucket);
  g_clear_pointer (&self->kv, kvStore_Destroy);
  atomic_store (&self->kv_ready, FALSE);
  self->next_bind_us = now;
}

/* Takes the acknowledgements the library handed over: frees write slots,
 * feeds the latency estimate, re-marks failed keys dirty. */
static void
kv_take_acks (SpotPublisher *self, gint64 now)
{
  GArray *acks;

  g_mutex_lock (&self->ack_lock);
  acks = self->acks;
  self->acks = self->acks_spare;
  self->acks_spare = acks;
  g_mutex_unlock (&self->ack_lock);
  if (acks->len == 0)
    return;
  for (guint i = 0; i < acks->len; i++)
    {
      KvAck *ack = &g_array_index (acks, KvAck, i);
      KvEntry *e = g_hash_table_lookup (self->by_subject, natsMsg_GetSubject (ack->msg));

      natsMsg_Destroy (ack->msg);
      if (e == NULL || !e->inflight)
        continue;
      if (ack->no_stream)
        kv_lost_bucket (self, now);
      kv_settle_group (self, e, ack->ok, ack->at_us, now);
      if (ack->ok)
        {
          /* The thread's own lateness counts against the bound too, and
           * so does the wait for a write slot while it comes from bursts;
           * not while keys queue for slots all the time: JetStream is at
           * capacity then, and a smaller budget would only add writes. */
          ack_latency_sample (self, ack->at_us - e->sent_us + e->late_us
                                        + (self->ready.length == 0 ? e->slot_wait_us : 0));
          kv_written (self, e, ack->at_us, now);
        }
      else
        kv_unwritten (self, e);
    }
  atomic_fetch_sub (&self->kv_acks_pending, acks->len);
  g_array_set_size (acks, 0);
  budget_update (self);
}

/* The start and rev of every candle the bucket holds now (blocking: bind
 * thread only). A failure leaves what was read so far, with a warning: the
 * writer then knows less, as it did before it read anything. */
static GHashTable *
kv_read_floors (kvStore *kv)
{
  GHashTable *floors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  kvWatcher *watcher = NULL;
  kvWatchOptions wo;
  natsStatus s;

  kvWatchOptions_Init (&wo);
  wo.IgnoreDeletes = true;
  s = kvStore_WatchAll (&watcher, kv, &wo);
  while (s == NATS_OK)
    {
      kvEntry *entry = NULL;
      SpotCandle candle;

      s = kvWatcher_Next (&entry, watcher, 5000);
      if (s != NATS_OK || entry == NULL)
        break; /* NULL: the initial values are all delivered */
      if (kvEntry_Operation (entry) == kvOp_Put
          && spot_candle_from_json (kvEntry_Value (entry), (gssize)kvEntry_ValueLen (entry),
                                    &candle, NULL))
        {
          KvFloor *floor = g_new (KvFloor, 1);

          floor->start = candle.start;
          floor->rev = candle.rev;
          g_hash_table_replace (floors, g_strdup (kvEntry_Key (entry)), floor);
        }
      kvEntry_Destroy (entry);
    }
  if (s != NATS_OK)
    g_warning ("reading the KV bucket's current values stopped after %u keys: %s",
               g_hash_table_size (floors), natsStatus_GetText (s));
  if (watcher != NULL)
    kvWatcher_Destroy (watcher);
  return floors;
}

static gpointer
bind_thread_func (gpointer user_data)
{
  SpotPublisher *self = user_data;
  g_autoptr (GError) error = NULL;
  SpotNatsKvConfig config;

  spot_nats_kv_config_init (&config);
  config.bucket = self->bucket;
  config.ttl_ms = self->options.kv_ttl_ms;
  config.replicas = self->options.kv_replicas;
  config.memory = self->options.kv_memory;
  self->bind_result = spot_nats_kv_open (self->js, &config, TRUE, &error);
  if (self->bind_result == NULL)
    self->bind_error = g_strdup (error->message);
  else
    {
      kvStatus *status = NULL;

      /* The bucket may exist already, with other settings than ours. */
      self->bind_replicas = 0;
      if (kvStore_Status (&status, self->bind_result) == NATS_OK)
        {
          self->bind_replicas = kvStatus_Replicas (status);
          kvStatus_Destroy (status);
        }
      self->bind_floors = kv_read_floors (self->bind_result);
    }
  nats_ReleaseThreadMemory ();
  atomic_store (&self->bind_done, TRUE);
  return NULL;
}

/* Collects a finished bind attempt; with @wait, waits for a running one. */
static void
kv_collect_bind (SpotPublisher *self, gboolean wait)
{
  if (self->bind_thread == NULL || (!wait && !atomic_load (&self->bind_done)))
    return;
  g_thread_join (self->bind_thread);
  self->bind_thread = NULL;
  if (self->bind_result == NULL)
    {
      spot_log_limited (30000, 2, G_LOG_LEVEL_WARNING, NULL, -1, -1,
                        "KV bucket not available yet: %s", self->bind_error);
      g_clear_pointer (&self->bind_error, g_free);
      self->next_bind_us = g_get_monotonic_time () + self->bind_backoff_us;
      self->bind_backoff_us = MIN (self->bind_backoff_us * 2, BIND_BACKOFF_MAX_US);
      return;
    }
  self->kv = g_steal_pointer (&self->bind_result);
  /* Unknown replicas (0) count as replicated. */
  self->ack_group = self->bind_replicas == 1 ? self->options.kv_ack_group : 1;
  atomic_store (&self->kv_ack_group, self->ack_group);
  if (self->bind_floors != NULL)
    {
      g_debug ("KV bucket %s holds %u keys", self->bucket, g_hash_table_size (self->bind_floors));
      kv_apply_floors (self, self->bind_floors);
      g_clear_pointer (&self->bind_floors, g_hash_table_unref);
    }
  self->bind_backoff_us = BIND_BACKOFF_MIN_US;
  atomic_store (&self->kv_ready, TRUE);
  g_debug ("KV bucket %s bound", self->bucket);
}

static void
kv_try_bind (SpotPublisher *self, gint64 now)
{
  kv_collect_bind (self, FALSE);
  if (self->kv != NULL || self->bind_thread != NULL || now < self->next_bind_us
      || !is_connected (self))
    return;
  atomic_store (&self->bind_done, FALSE);
  self->bind_thread = g_thread_new ("spot-kv-bind", bind_thread_func, self);
}

/* Sends due writes. @force writes every dirty key now (shutdown). Returns
 * FALSE when writes are held back (not connected, bucket not bound, too many
 * in flight, the library refusing). */
static gboolean
kv_flush (SpotPublisher *self, gint64 now, gboolean force)
{
  guint group_first = 0;
  guint slots;
  GList *l;

  while ((l = self->waiting.head) != NULL)
    {
      KvEntry *e = l->data;

      if (!force && e->dirty_since_us + self->budget_us > now)
        break;
      g_queue_unlink (&self->waiting, l);
      ready_push (self, e, now, MAX (now - (e->dirty_since_us + self->budget_us), 0), FALSE);
    }

  if (self->ready.length == 0)
    return TRUE;
  if (self->kv == NULL || !is_connected (self))
    return FALSE;

  /* The keys to write now: as many as there are free write slots. */
  slots = self->options.kv_max_inflight - MIN (atomic_load (&self->kv_inflight),
                                               self->options.kv_max_inflight);
  g_ptr_array_set_size (self->sending, 0);
  while ((l = self->ready.head) != NULL && self->sending->len < slots)
    {
      KvEntry *e = l->data;

      g_queue_unlink (&self->ready, l);
      if (e->inflight)
        {
          e->state = KV_AFTER_ACK;
          continue;
        }
      e->state = KV_IDLE;
      g_ptr_array_add (self->sending, e);
    }

  for (guint i = 0; i < self->sending->len; i++)
    {
      KvEntry *e = g_ptr_array_index (self->sending, i);
      /* The last of each group, and of the pass, asks for the acknowledgement. */
      gboolean acked = (i - group_first + 1) >= self->ack_group || i + 1 == self->sending->len;
      natsStatus s;

      atomic_fetch_add (&self->kv_inflight, 1);
      if (acked)
        s = js_PublishAsync (self->js, e->kv_subject, e->json->str, (int)e->json->len,
                             &self->pub_options);
      else
        s = natsConnection_Publish (self->js_nc, e->kv_subject, e->json->str, (int)e->json->len);
      if (s != NATS_OK)
        {
          atomic_fetch_sub (&self->kv_inflight, 1);
          atomic_fetch_add (&self->kv_errors, 1);
          spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, NULL, -1, -1,
                            "KV write to %s refused: %s", e->kv_subject, natsStatus_GetText (s));
          /* The group's earlier writes have no acknowledgement coming, and
           * this and the later keys were not written: all back to ready, in
           * their order. */
          for (guint j = self->sending->len; j > group_first; j--)
            {
              KvEntry *back = g_ptr_array_index (self->sending, j - 1);

              if (j - 1 < i)
                {
                  atomic_fetch_sub (&self->kv_inflight, 1);
                  kv_unwritten (self, back);
                }
              else
                {
                  back->state = KV_READY;
                  g_queue_push_head_link (&self->ready, &back->link);
                }
            }
          g_ptr_array_set_size (self->sending, 0);
          return FALSE;
        }
      atomic_fetch_add (&self->kv_writes, 1);
      e->dirty = FALSE;
      atomic_fetch_sub (&self->kv_dirty, 1);
      e->inflight = TRUE;
      e->sent_us = now;
      e->slot_wait_us = MAX (now - e->ready_us, 0);
      e->sent_dirty_since_us = e->dirty_since_us;
      if (acked)
        {
          if (i > group_first)
            {
              if (e->group == NULL)
                e->group = g_ptr_array_sized_new (self->ack_group);
              for (guint j = group_first; j < i; j++)
                g_ptr_array_add (e->group, g_ptr_array_index (self->sending, j));
            }
          group_first = i + 1;
        }
    }
  g_ptr_array_set_size (self->sending, 0);
  return self->ready.length == 0;
}

/* A bucket with memory storage is empty after nats-server restarts: once the
 * KV connection has reconnected, every key this publisher holds a value for
 * is written again (an unchanged value in a bucket that survived costs one
 * write per key). */
static void
kv_rewrite_after_reconnect (SpotPublisher *self, gint64 now)
{
  guint64 reconnects = 0;
  guint n = 0;

  if (!self->options.kv_memory || self->kv == NULL || now < self->next_reconnect_check_us)
    return;
  self->next_reconnect_check_us = now + 100 * 1000;
  if ((self->js_stats == NULL && natsStatistics_Create (&self->js_stats) != NATS_OK)
      || natsConnection_GetStats (self->js_nc, self->js_stats) != NATS_OK
      || natsStatistics_GetCounts (self->js_stats, NULL, NULL, NULL, NULL, &reconnects) != NATS_OK
      || reconnects == self->js_reconnects || !is_connected (self))
    return;
  self->js_reconnects = reconnects;
  for (guint i = 0; i < self->all->len; i++)
    {
      KvEntry *e = g_ptr_array_index (self->all, i);

      if (e->json->len == 0 || e->dirty)
        continue;
      e->dirty = TRUE;
      e->dirty_since_us = now;
      atomic_fetch_add (&self->kv_dirty, 1);
      if (e->state == KV_IDLE && !e->inflight)
        ready_push (self, e, now, 0, FALSE);
      else
        kv_schedule (self, e, now);
      n++;
    }
  if (n > 0)
    g_message ("NATS reconnected: rewriting %u keys of the memory-storage KV bucket %s", n,
               self->bucket);
}

static void
publish_batch (SpotPublisher *self, GArray *batch, GArray *meta)
{
  /* One clock read per 128 updates: the time only decides whether a key
   * was quiet for a whole budget. */
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < batch->len; i++)
    {
      const SpotCandleUpdate *u = &g_array_index (batch, SpotCandleUpdate, i);
      const SpotCandleCoalescerMeta *m = &g_array_index (meta, SpotCandleCoalescerMeta, i);
      KvEntry *e = entry_get (self, &u->candle, m->key);
      natsStatus s;

      if (e == NULL)
        {
          atomic_fetch_add (&self->publish_errors, 1);
          continue;
        }
      /* Encoded once: the subject's payload and, if it is the key's newest,
       * the KV value. */
      g_string_truncate (self->json, 0);
      spot_candle_json_append (self->json, &u->candle);
      s = natsConnection_Publish (self->nc, e->subject, self->json->str, (int)self->json->len);
      if (s == NATS_OK)
        atomic_fetch_add (&self->published, 1);
      else
        {
          atomic_fetch_add (&self->publish_errors, 1);
          spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, u->candle.product_id, -1, -1,
                            "publish on %s failed: %s", e->subject, natsStatus_GetText (s));
        }
      if (self->latency_func != NULL && u->kind == SPOT_CANDLE_UPDATE_LIVE
          && u->candle.ts_ns != SPOT_CANDLE_TS_UNKNOWN)
        self->latency_func (&u->candle, g_get_real_time () * 1000, self->latency_data);
      if (self->options.kv_enabled)
        {
          kv_track (self, e, &u->candle, self->json, m->submit_us, now);
          /* A large batch can take tens of ms when the server reads slowly;
           * keep the KV pipeline fed meanwhile instead of only between
           * batches. */
          if (i % 128 == 127)
            {
              now = g_get_monotonic_time ();
              kv_take_acks (self, now);
              kv_flush (self, now, FALSE);
            }
        }
    }
}

/* How long the thread may sleep before KV work is due. */
static gint64
next_wait_us (SpotPublisher *self, gboolean flushed_all, gint64 now)
{
  gint64 wait = 250 * 1000;

  if (!self->options.kv_enabled)
    return wait;
  if (self->ready.length > 0)
    {
      if (self->kv == NULL || !is_connected (self))
        return 50 * 1000;
      /* Waiting for acks to free write slots. */
      return flushed_all ? 0 : 1000;
    }
  /* Acknowledgements are collected by polling while writes are in flight:
   * one wake-up takes many of them. */
  if (atomic_load (&self->kv_inflight) > 0 || atomic_load (&self->kv_acks_pending) > 0)
    wait = 1000;
  if (self->waiting.length > 0)
    {
      KvEntry *head = self->waiting.head->data;

      wait = MIN (wait, head->dirty_since_us + self->budget_us - now);
    }
  return CLAMP (wait, 0, 250 * 1000);
}

static void
final_pass (SpotPublisher *self, GArray **batch, GArray **meta, gint64 deadline_us)
{
  while (spot_candle_coalescer_drain_meta (self->queue, batch, meta))
    publish_batch (self, *batch, *meta);
  if (!self->options.kv_enabled || self->js == NULL)
    return;
  while (g_get_monotonic_time () < deadline_us)
    {
      kv_take_acks (self, g_get_monotonic_time ());
      kv_flush (self, g_get_monotonic_time (), TRUE);
      if (self->ready.length == 0 && self->waiting.length == 0
          && atomic_load (&self->kv_inflight) == 0 && atomic_load (&self->kv_acks_pending) == 0)
        break;
      if (self->kv == NULL || !is_connected (self))
        break;
      g_usleep (1000);
    }
}

static gpointer
publisher_thread (gpointer user_data)
{
  SpotPublisher *self = user_data;
  GArray *batch = spot_candle_update_array_new (4096);
  GArray *meta = spot_candle_coalescer_meta_array_new (4096);
  gint64 deadline_us;

  self->window_start_us = g_get_monotonic_time ();
  spot_thread_set_background (SPOT_THREAD_BACKGROUND_NICE);
  for (;;)
    {
      gboolean stopping = atomic_load (&self->stopping);
      gboolean flushed_all = TRUE;
      gint64 now;

      atomic_store (&self->busy, TRUE);
      now = g_get_monotonic_time ();
      if (self->options.kv_enabled)
        {
          kv_try_bind (self, now);
          kv_take_acks (self, now);
          kv_rewrite_after_reconnect (self, now);
        }
      if (spot_candle_coalescer_drain_meta (self->queue, &batch, &meta))
        publish_batch (self, batch, meta);
      if (self->options.kv_enabled)
        flushed_all = kv_flush (self, g_get_monotonic_time (), FALSE);
      atomic_store (&self->busy, FALSE);
      if (stopping)
        break;
      spot_candle_coalescer_wait (self->queue,
                                  next_wait_us (self, flushed_all, g_get_monotonic_time ()));
    }

  deadline_us = g_get_monotonic_time () + (gint64)self->stop_deadline_ms * 1000;
  /* Bounded by the JetStream request timeout (2 s). */
  kv_collect_bind (self, TRUE);
  final_pass (self, &batch, &meta, deadline_us);
  if (self->js != NULL)
    {
      jsPubOptions wait;
      gint64 left_ms = MAX ((deadline_us - g_get_monotonic_time ()) / 1000, 1);

      jsPubOptions_Init (&wait);
      wait.MaxWait = left_ms;
      if (atomic_load (&self->kv_inflight) > 0 && is_connected (self))
        js_PublishAsyncComplete (self->js, &wait);
      kv_take_acks (self, g_get_monotonic_time ());
    }
  if (natsConnection_Status (self->nc) == NATS_CONN_STATUS_CONNECTED)
    natsConnection_FlushTimeout (self->nc, 500);
  g_array_unref (batch);
  g_array_unref (meta);
  nats_ReleaseThreadMemory ();
  return NULL;
}

gboolean
spot_publisher_start (SpotPublisher *self, GError **error)
{
  jsOptions jo;
  natsStatus s;

  g_return_val_if_fail (self->thread == NULL, FALSE);

  if (self->options.kv_enabled)
    {
      jsOptions_Init (&jo);
      jo.Wait = 2000;
      /* Our own bound (kv_max_inflight) stays below the library's, so
       * js_PublishAsync() does not stall on it. */
      jo.PublishAsync.MaxPending = (int64_t)self->options.kv_max_inflight + 256;
      jo.PublishAsync.StallWait = self->options.kv_stall_wait_ms;
      jo.PublishAsync.AckHandler = on_kv_ack;
      jo.PublishAsync.AckHandlerClosure = self;
      s = natsConnection_JetStream (&self->js, self->js_nc, &jo);
      if (s != NATS_OK)
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_NATS, "cannot create a JetStream context: %s",
                       natsStatus_GetText (s));
          return FALSE;
        }
      jsPubOptions_Init (&self->pub_options);
      self->pub_options.MaxWait = self->options.kv_ack_wait_ms;
    }
  self->thread = g_thread_new ("spot-publisher", publisher_thread, self);
  return TRUE;
}

gboolean
spot_publisher_flush (SpotPublisher *self, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  for (;;)
    {
      SpotCandleCoalescerStats qs;

      /* Order matters: the thread marks itself busy before it drains. */
      spot_candle_coalescer_get_stats (self->queue, &qs);
      if (qs.pending == 0 && !atomic_load (&self->busy) && atomic_load (&self->kv_dirty) == 0
          && atomic_load (&self->kv_inflight) == 0 && atomic_load (&self->kv_acks_pending) == 0)
        break;
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      g_usleep (2000);
    }
  if (natsConnection_Status (self->nc) != NATS_CONN_STATUS_CONNECTED)
    return FALSE;
  return natsConnection_FlushTimeout (self->nc,
                                      MAX ((deadline - g_get_monotonic_time ()) / 1000, 1))
         == NATS_OK;
}

void
spot_publisher_stop (SpotPublisher *self, guint deadline_ms)
{
  if (self->thread == NULL)
    return;
  self->stop_deadline_ms = deadline_ms;
  atomic_store (&self->stopping, TRUE);
  spot_candle_coalescer_close (self->queue);
  g_thread_join (self->thread);
  self->thread = NULL;
  if (self->kv != NULL)
    {
      kvStore_Destroy (self->kv);
      self->kv = NULL;
    }
  if (self->js != NULL)
    {
      jsCtx_Destroy (self->js);
      self->js = NULL;
    }
  atomic_store (&self->kv_ready, FALSE);
}

void
spot_publisher_get_stats (SpotPublisher *self, SpotPublisherStats *out)
{
  SpotCandleCoalescerStats qs;

  memset (out, 0, sizeof *out);
  spot_candle_coalescer_get_stats (self->queue, &qs);
  out->submitted = qs.submitted;
  out->coalesced = qs.coalesced;
  out->publish_errors = atomic_load (&self->publish_errors);
  out->dropped = qs.dropped + qs.dropped_ordered + out->publish_errors;
  out->published = atomic_load (&self->published);
  out->kv_writes = atomic_load (&self->kv_writes);
  out->kv_acked = atomic_load (&self->kv_acked);
  out->kv_errors = atomic_load (&self->kv_errors);
  out->kv_older_skipped = atomic_load (&self->kv_older_skipped);
  out->kv_inflight = atomic_load (&self->kv_inflight);
  out->kv_dirty = atomic_load (&self->kv_dirty);
  out->kv_keys = atomic_load (&self->kv_keys);
  out->queue_pending = qs.pending;
  out->kv_ready = atomic_load (&self->kv_ready);
  out->kv_staleness_max_us
      = MAX (atomic_load (&self->staleness_cur_us), atomic_load (&self->staleness_prev_us));
  out->kv_ack_latency_us = atomic_load (&self->ack_latency_us);
  out->kv_write_budget_us = atomic_load (&self->write_budget_us);
  out->kv_ack_group = atomic_load (&self->kv_ack_group);
}
