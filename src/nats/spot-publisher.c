/* spot-publisher.c: core NATS publishes of every update, throttled KV writes. */
#define G_LOG_DOMAIN "spot-nats"

#include "nats/spot-publisher.h"

#include <stdatomic.h>
#include <string.h>

#include "core/spot-error.h"
#include "core/spot-log.h"
#include "model/spot-candle-json.h"
#include "nats/spot-candle-coalescer.h"
#include "nats/spot-nats-kv.h"
#include "nats/spot-nats-subject.h"

/* A key is IDLE (clean, not queued), READY (dirty, waiting for a write slot)
 * or COOLING (written recently; a change now waits for the interval). */
typedef enum
{
  KV_IDLE,
  KV_READY,
  KV_COOLING,
} KvState;

typedef struct
{
  char subject[SPOT_NATS_SUBJECT_SIZE]; /* $KV.<bucket>.<key> */
  SpotCandle candle;
  gboolean have;
  gboolean dirty;
  KvState state;
  gint64 dirty_since_us;
  gint64 written_us;
  GList link; /* in ready or cooling */
} KvEntry;

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
  atomic_uint kv_dirty;
  atomic_uint kv_keys;
  atomic_bool kv_ready;
  atomic_int_fast64_t staleness_cur_us;
  atomic_int_fast64_t staleness_prev_us;

  /* Filled by the ack callback (a library thread), taken by our thread. */
  GMutex failed_lock;
  GPtrArray *failed; /* char* KV subject */

  /* Publisher thread only. */
  jsCtx *js;
  kvStore *kv;
  jsPubOptions pub_options;
  GHashTable *entries; /* char* key -> KvEntry* */
  GQueue ready;
  GQueue cooling;
  gsize kv_prefix_len;
  gint64 next_bind_us;
  gint64 bind_backoff_us;
  /* Binding is a blocking JetStream request: it runs on a short-lived thread
   * so core publishing never waits for it. */
  GThread *bind_thread;
  atomic_bool bind_done;
  kvStore *bind_result;
  char *bind_error;
  gint64 window_start_us;
  GString *json;
};

G_DEFINE_TYPE (SpotPublisher, spot_publisher, G_TYPE_OBJECT)

void
spot_publisher_options_init (SpotPublisherOptions *options)
{
  memset (options, 0, sizeof *options);
  options->kv_bucket = SPOT_NATS_KV_BUCKET_DEFAULT;
  options->kv_enabled = TRUE;
  options->kv_replicas = 1;
  options->kv_staleness_ms = 250;
  options->kv_max_inflight = 2048;
  options->kv_stall_wait_ms = 5;
  options->kv_ack_wait_ms = 2000;
  options->max_pending_updates = SPOT_CANDLE_COALESCER_DEFAULT_MAX_PENDING;
}

static void
spot_publisher_init (SpotPublisher *self)
{
  g_mutex_init (&self->failed_lock);
  self->failed = g_ptr_array_new_with_free_func (g_free);
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&self->ready);
  g_queue_init (&self->cooling);
  self->json = g_string_sized_new (512);
  self->bind_backoff_us = BIND_BACKOFF_MIN_US;
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
  g_ptr_array_unref (self->failed);
  g_mutex_clear (&self->failed_lock);
  g_hash_table_unref (self->entries);
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
  if (self->options.kv_write_interval_ms == 0
      || self->options.kv_write_interval_ms > self->options.kv_staleness_ms)
    self->options.kv_write_interval_ms = MAX (self->options.kv_staleness_ms * 3 / 5, 1);
  if (self->options.kv_max_inflight == 0)
    self->options.kv_max_inflight = 1;
  self->queue = spot_candle_coalescer_new (options->max_pending_updates);
  /* "$KV." + bucket + "." */
  self->kv_prefix_len = 4 + strlen (self->bucket) + 1;
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

/* Runs on a nats.c thread for every asynchronous KV publish. */
static void
on_kv_ack (jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
  SpotPublisher *self = closure;

  atomic_fetch_sub (&self->kv_inflight, 1);
  if (pa != NULL)
    atomic_fetch_add (&self->kv_acked, 1);
  else
    {
      atomic_fetch_add (&self->kv_errors, 1);
      spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, NULL, -1, -1,
                        "KV write to %s failed: %s; retrying", natsMsg_GetSubject (msg),
                        pae != NULL
                            ? (pae->ErrText != NULL ? pae->ErrText : natsStatus_GetText (pae->Err))
                            : "?");
      g_mutex_lock (&self->failed_lock);
      g_ptr_array_add (self->failed, g_strdup (natsMsg_GetSubject (msg)));
      g_mutex_unlock (&self->failed_lock);
    }
  natsMsg_Destroy (msg);
}

/* The connection carrying KV writes. */
static gboolean
is_connected (SpotPublisher *self)
{
  return natsConnection_Status (self->js_nc) == NATS_CONN_STATUS_CONNECTED;
}

static void
kv_mark_dirty (SpotPublisher *self, KvEntry *e, gint64 now)
{
  if (e->dirty)
    return;
  e->dirty = TRUE;
  e->dirty_since_us = now;
  atomic_fetch_add (&self->kv_dirty, 1);
  if (e->state == KV_IDLE)
    {
      e->state = KV_READY;
      g_queue_push_tail_link (&self->ready, &e->link);
    }
}

static void
kv_track (SpotPublisher *self, const SpotCandle *candle, gint64 now)
{
  char key[SPOT_NATS_KEY_SIZE];
  KvEntry *e;

  if (spot_nats_key_format (candle->product_id, candle->granularity, key, sizeof key) == 0)
    return;
  e = g_hash_table_lookup (self->entries, key);
  if (e == NULL)
    {
      e = g_new0 (KvEntry, 1);
      e->link.data = e;
      spot_nats_kv_subject_format (self->bucket, candle->product_id, candle->granularity,
                                   e->subject, sizeof e->subject);
      g_hash_table_insert (self->entries, g_strdup (key), e);
      atomic_fetch_add (&self->kv_keys, 1);
    }
  else if (e->have
           && (candle->start < e->candle.start
               || (candle->start == e->candle.start && candle->rev < e->candle.rev)))
    {
      /* The per-key view keeps the greatest start (DESIGN.md section 2). */
      atomic_fetch_add (&self->kv_older_skipped, 1);
      return;
    }
  e->candle = *candle;
  e->have = TRUE;
  kv_mark_dirty (self, e, now);
}

static void
kv_take_failed (SpotPublisher *self, gint64 now)
{
  g_autoptr (GPtrArray) failed = NULL;

  g_mutex_lock (&self->failed_lock);
  if (self->failed->len > 0)
    {
      failed = self->failed;
      self->failed = g_ptr_array_new_with_free_func (g_free);
    }
  g_mutex_unlock (&self->failed_lock);
  if (failed == NULL)
    return;
  for (guint i = 0; i < failed->len; i++)
    {
      const char *subject = g_ptr_array_index (failed, i);
      KvEntry *e;

      if (strlen (subject) <= self->kv_prefix_len)
        continue;
      e = g_hash_table_lookup (self->entries, subject + self->kv_prefix_len);
      if (e != NULL)
        kv_mark_dirty (self, e, now);
    }
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

/* Writes due keys. @force ignores the per-key interval (shutdown). Returns
 * FALSE when writes are held back (not connected, bucket not bound, too many
 * in flight, the library refusing). */
static gboolean
kv_flush (SpotPublisher *self, gint64 now, gboolean force)
{
  gint64 interval_us = (gint64)self->options.kv_write_interval_ms * 1000;
  GList *l;

  while ((l = self->cooling.head) != NULL)
    {
      KvEntry *e = l->data;

      if (!force && e->written_us + interval_us > now)
        break;
      g_queue_unlink (&self->cooling, l);
      if (e->dirty)
        {
          e->state = KV_READY;
          g_queue_push_tail_link (&self->ready, l);
        }
      else
        e->state = KV_IDLE;
    }

  if (self->ready.length == 0)
    return TRUE;
  if (self->kv == NULL || !is_connected (self))
    return FALSE;

  while ((l = self->ready.head) != NULL)
    {
      KvEntry *e = l->data;
      natsStatus s;

      if (atomic_load (&self->kv_inflight) >= self->options.kv_max_inflight)
        return FALSE;
      g_string_truncate (self->json, 0);
      spot_candle_json_append (self->json, &e->candle);
      atomic_fetch_add (&self->kv_inflight, 1);
      s = js_PublishAsync (self->js, e->subject, self->json->str, (int)self->json->len,
                           &self->pub_options);
      if (s != NATS_OK)
        {
          atomic_fetch_sub (&self->kv_inflight, 1);
          atomic_fetch_add (&self->kv_errors, 1);
          spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, NULL, -1, -1,
                            "KV write to %s refused: %s", e->subject, natsStatus_GetText (s));
          return FALSE;
        }
      atomic_fetch_add (&self->kv_writes, 1);
      g_queue_unlink (&self->ready, l);
      record_staleness (self, now - e->dirty_since_us, now);
      e->dirty = FALSE;
      atomic_fetch_sub (&self->kv_dirty, 1);
      e->state = KV_COOLING;
      e->written_us = now;
      g_queue_push_tail_link (&self->cooling, l);
    }
  return TRUE;
}

static void
publish_batch (SpotPublisher *self, GArray *batch, gint64 now)
{
  char subject[SPOT_NATS_SUBJECT_SIZE];

  for (guint i = 0; i < batch->len; i++)
    {
      const SpotCandleUpdate *u = &g_array_index (batch, SpotCandleUpdate, i);
      natsStatus s;

      if (spot_nats_subject_format (u->candle.product_id, u->candle.granularity, subject,
                                    sizeof subject)
          == 0)
        {
          atomic_fetch_add (&self->publish_errors, 1);
          continue;
        }
      g_string_truncate (self->json, 0);
      spot_candle_json_append (self->json, &u->candle);
      s = natsConnection_Publish (self->nc, subject, self->json->str, (int)self->json->len);
      if (s == NATS_OK)
        atomic_fetch_add (&self->published, 1);
      else
        {
          atomic_fetch_add (&self->publish_errors, 1);
          spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, u->candle.product_id, -1, -1,
                            "publish on %s failed: %s", subject, natsStatus_GetText (s));
        }
      if (self->latency_func != NULL && u->kind == SPOT_CANDLE_UPDATE_LIVE
          && u->candle.ts_ns != SPOT_CANDLE_TS_UNKNOWN)
        self->latency_func (&u->candle, g_get_real_time () * 1000, self->latency_data);
      if (self->options.kv_enabled)
        {
          kv_track (self, &u->candle, now);
          /* A large batch can take tens of ms when the server reads slowly;
           * keep the KV pipeline fed meanwhile instead of only between
           * batches. */
          if (i % 128 == 127)
            kv_flush (self, g_get_monotonic_time (), FALSE);
        }
    }
}

/* How long the thread may sleep before KV work is due. */
static gint64
next_wait_us (SpotPublisher *self, gboolean flushed_all, gint64 now)
{
  gint64 interval_us = (gint64)self->options.kv_write_interval_ms * 1000;

  if (!self->options.kv_enabled)
    return 250 * 1000;
  if (self->ready.length > 0)
    {
      if (self->kv == NULL || !is_connected (self))
        return 50 * 1000;
      /* Waiting for acks to free write slots. */
      return flushed_all ? 0 : 1000;
    }
  if (self->cooling.length > 0)
    {
      KvEntry *head = self->cooling.head->data;

      return CLAMP (head->written_us + interval_us - now, 0, 250 * 1000);
    }
  return 250 * 1000;
}

static void
final_pass (SpotPublisher *self, GArray **batch, gint64 deadline_us)
{
  while (spot_candle_coalescer_drain (self->queue, batch))
    publish_batch (self, *batch, g_get_monotonic_time ());
  if (!self->options.kv_enabled || self->js == NULL)
    return;
  while (g_get_monotonic_time () < deadline_us)
    {
      kv_take_failed (self, g_get_monotonic_time ());
      kv_flush (self, g_get_monotonic_time (), TRUE);
      if (self->ready.length == 0 && atomic_load (&self->kv_inflight) == 0)
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
  gint64 deadline_us;

  self->window_start_us = g_get_monotonic_time ();
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
          kv_take_failed (self, now);
        }
      if (spot_candle_coalescer_drain (self->queue, &batch))
        publish_batch (self, batch, now);
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
  final_pass (self, &batch, deadline_us);
  if (self->js != NULL)
    {
      jsPubOptions wait;
      gint64 left_ms = MAX ((deadline_us - g_get_monotonic_time ()) / 1000, 1);

      jsPubOptions_Init (&wait);
      wait.MaxWait = left_ms;
      if (atomic_load (&self->kv_inflight) > 0 && is_connected (self))
        js_PublishAsyncComplete (self->js, &wait);
    }
  if (natsConnection_Status (self->nc) == NATS_CONN_STATUS_CONNECTED)
    natsConnection_FlushTimeout (self->nc, 500);
  g_array_unref (batch);
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
          && atomic_load (&self->kv_inflight) == 0)
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
}
