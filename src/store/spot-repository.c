#define G_LOG_DOMAIN "spot-store"

#include "store/spot-repository.h"

#include <string.h>

#include "core/spot-error.h"
#include "core/spot-thread.h"
#include "store/spot-migrations.h"
#include "store/spot-pg.h"

typedef struct {
  GMutex lock;
  GCond cond;
  gboolean done;
  gpointer result;
  GError *error;
} SyncWait;

typedef struct {
  SpotRepositoryFunc func; /* NULL: stop the thread */
  gpointer data;
  GDestroyNotify data_free;
  GDestroyNotify result_free;
  GTask *task;    /* async */
  SyncWait *wait; /* sync */
} Job;

/* Shared by the object and its thread, so that the last reference to the
 * object may even be dropped on the database thread (a finished GTask). */
typedef struct {
  gint ref;
  char *conninfo;
  GAsyncQueue *jobs;
  gint connected; /* atomic */
  GMutex error_lock;
  char *last_error;
  SpotPgInterrupt *interrupt; /* triggered by close: connects give up */
  gint closed;                /* atomic: no new jobs are queued */
  PGconn *conn; /* database thread only */
} State;

struct _SpotRepository {
  GObject parent_instance;
  State *state;
  GThread *thread; /* NULL once closed and joined */
};

static State *
state_ref (State *st)
{
  g_atomic_int_inc (&st->ref);
  return st;
}

static void
state_unref (State *st)
{
  if (!g_atomic_int_dec_and_test (&st->ref))
    return;
  g_clear_pointer (&st->conn, PQfinish);
  g_clear_pointer (&st->interrupt, spot_pg_interrupt_free);
  g_async_queue_unref (st->jobs);
  g_mutex_clear (&st->error_lock);
  g_free (st->last_error);
  g_free (st->conninfo);
  g_free (st);
}

G_DEFINE_FINAL_TYPE (SpotRepository, spot_repository, G_TYPE_OBJECT)

static void
set_status (State *self, const GError *error)
{
  g_atomic_int_set (&self->connected, error == NULL);
  g_mutex_lock (&self->error_lock);
  g_free (self->last_error);
  self->last_error = error != NULL ? g_strdup (error->message) : NULL;
  g_mutex_unlock (&self->error_lock);
}

static gboolean
ensure_connection (State *self, GError **error)
{
  if (self->conn != NULL && PQstatus (self->conn) == CONNECTION_OK)
    return TRUE;
  g_clear_pointer (&self->conn, PQfinish);
  self->conn = spot_pg_connect_interruptible (self->conninfo, "spot-canvas", self->interrupt, error);
  if (self->conn == NULL)
    {
      set_status (self, *error);
      return FALSE;
    }
  return TRUE;
}

static void
job_finish (Job *job, gpointer result, GError *error)
{
  if (job->task != NULL)
    {
      if (error != NULL)
        g_task_return_error (job->task, error);
      else
        g_task_return_pointer (job->task, result, job->result_free);
      g_object_unref (job->task);
    }
  else
    {
      g_mutex_lock (&job->wait->lock);
      job->wait->result = result;
      job->wait->error = error;
      job->wait->done = TRUE;
      g_cond_signal (&job->wait->cond);
      g_mutex_unlock (&job->wait->lock);
    }
  if (job->data_free != NULL)
    job->data_free (job->data);
  g_free (job);
}

static gpointer
repository_thread (gpointer data)
{
  State *self = data;
  g_autoptr (GError) first = NULL;

  spot_thread_set_background (SPOT_THREAD_BACKGROUND_NICE);
  if (ensure_connection (self, &first))
    set_status (self, NULL);
  for (;;)
    {
      Job *job = g_async_queue_pop (self->jobs);
      GError *error = NULL;
      gpointer result = NULL;

      if (job->func == NULL)
        {
          g_free (job);
          break;
        }
      if (g_atomic_int_get (&self->closed))
        {
          /* Closing: nothing more reaches the server. */
          job_finish (job, NULL,
                      g_error_new_literal (SPOT_ERROR, SPOT_ERROR_CLOSED, "the repository is closed"));
          continue;
        }
      if (job->task != NULL && g_task_return_error_if_cancelled (job->task))
        {
          g_object_unref (job->task);
          job->task = NULL;
          if (job->data_free != NULL)
            job->data_free (job->data);
          g_free (job);
          continue;
        }
      for (int attempt = 0; attempt < 2; attempt++)
        {
          g_clear_error (&error);
          if (!ensure_connection (self, &error))
            break;
          result = job->func (self->conn, job->data, &error);
          if (error == NULL)
            {
              set_status (self, NULL);
              break;
            }
          if (PQstatus (self->conn) == CONNECTION_OK)
            break; /* the statement failed, not the connection */
          set_status (self, error);
          g_debug ("database connection lost, retrying once: %s", error->message);
        }
      job_finish (job, result, error);
    }
  g_clear_pointer (&self->conn, PQfinish);
  state_unref (self);
  return NULL;
}

static void
spot_repository_finalize (GObject *object)
{
  SpotRepository *self = SPOT_REPOSITORY (object);

  if (self->thread != NULL)
    {
      /* No job can remain (each holds a task holding a reference to us):
       * the stop job is the last one. */
      g_atomic_int_set (&self->state->closed, 1);
      g_async_queue_push (self->state->jobs, g_new0 (Job, 1));
      if (g_thread_self () == self->thread)
        g_thread_unref (self->thread);
      else
        g_thread_join (self->thread);
    }
  state_unref (self->state);
  G_OBJECT_CLASS (spot_repository_parent_class)->finalize (object);
}

void
spot_repository_close (SpotRepository *self)
{
  g_return_if_fail (SPOT_IS_REPOSITORY (self));
  if (self->thread == NULL)
    return;
  g_return_if_fail (g_thread_self () != self->thread);
  /* Jobs queued before the stop job fail at once (no connection can be
   * made any more); a connect in progress gives up now. A statement the
   * server is executing still runs to its end. */
  g_atomic_int_set (&self->state->closed, 1);
  spot_pg_interrupt_trigger (self->state->interrupt);
  g_async_queue_push (self->state->jobs, g_new0 (Job, 1));
  g_thread_join (self->thread);
  self->thread = NULL;
}

static void
spot_repository_class_init (SpotRepositoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = spot_repository_finalize;
}

static void
spot_repository_init (SpotRepository *self)
{
  self->state = g_new0 (State, 1);
  self->state->ref = 1;
  g_mutex_init (&self->state->error_lock);
  self->state->jobs = g_async_queue_new ();
  /* Only fails when the process is out of file descriptors. */
  self->state->interrupt = spot_pg_interrupt_new (NULL);
}

SpotRepository *
spot_repository_new (const char *conninfo)
{
  SpotRepository *self = g_object_new (SPOT_TYPE_REPOSITORY, NULL);
  self->state->conninfo = g_strdup (conninfo);
  self->thread = g_thread_new ("spot-db", repository_thread, state_ref (self->state));
  return self;
}

gboolean
spot_repository_is_connected (SpotRepository *self)
{
  return g_atomic_int_get (&self->state->connected) != 0;
}

char *
spot_repository_dup_last_error (SpotRepository *self)
{
  char *out;
  g_mutex_lock (&self->state->error_lock);
  out = g_strdup (self->state->last_error);
  g_mutex_unlock (&self->state->error_lock);
  return out;
}

void
spot_repository_run_async (SpotRepository *self,
                           SpotRepositoryFunc func,
                           gpointer data,
                           GDestroyNotify data_free,
                           GDestroyNotify result_free,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data)
{
  Job *job = g_new0 (Job, 1);

  g_return_if_fail (SPOT_IS_REPOSITORY (self) && func != NULL);
  job->func = func;
  job->data = data;
  job->data_free = data_free;
  job->result_free = result_free;
  job->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (job->task, spot_repository_run_async);
  if (g_atomic_int_get (&self->state->closed))
    {
      job_finish (job, NULL,
                  g_error_new_literal (SPOT_ERROR, SPOT_ERROR_CLOSED, "the repository is closed"));
      return;
    }
  g_async_queue_push (self->state->jobs, job);
}

gpointer
spot_repository_run_finish (SpotRepository *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

gpointer
spot_repository_run_sync (SpotRepository *self, SpotRepositoryFunc func, gpointer data, GError **error)
{
  SyncWait wait = { 0 };
  Job *job;
  gpointer result;

  if (g_atomic_int_get (&self->state->closed))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_CLOSED, "the repository is closed");
      return NULL;
    }
  job = g_new0 (Job, 1);
  g_mutex_init (&wait.lock);
  g_cond_init (&wait.cond);
  job->func = func;
  job->data = data;
  job->wait = &wait;
  g_async_queue_push (self->state->jobs, job);
  g_mutex_lock (&wait.lock);
  while (!wait.done)
    g_cond_wait (&wait.cond, &wait.lock);
  g_mutex_unlock (&wait.lock);
  g_mutex_clear (&wait.lock);
  g_cond_clear (&wait.cond);
  result = wait.result;
  if (wait.error != NULL)
    g_propagate_error (error, wait.error);
  return result;
}

/* ---- typed requests ---- */

#define DONE GINT_TO_POINTER (1)

static gpointer
do_migrate (PGconn *conn, gpointer data, GError **error)
{
  g_autoptr (GPtrArray) migrations = spot_migrations_load_builtin (error);
  guint n = 0;
  if (migrations == NULL || !spot_migrations_up (conn, migrations, 0, &n, error))
    return NULL;
  if (n > 0)
    g_message ("applied %u database migration%s", n, n == 1 ? "" : "s");
  return DONE;
}

void
spot_repository_migrate_async (SpotRepository *self,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  spot_repository_run_async (self, do_migrate, NULL, NULL, NULL, cancellable, callback, user_data);
}

gboolean
spot_repository_migrate_finish (SpotRepository *self, GAsyncResult *result, GError **error)
{
  return spot_repository_run_finish (self, result, error) != NULL;
}

gboolean
spot_repository_migrate_sync (SpotRepository *self, GError **error)
{
  return spot_repository_run_sync (self, do_migrate, NULL, error) != NULL;
}

static gpointer
do_get_active (PGconn *conn, gpointer data, GError **error)
{
  return spot_store_get_products (conn, TRUE, error);
}

void
spot_repository_get_active_products_async (SpotRepository *self,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data)
{
  spot_repository_run_async (self, do_get_active, NULL, NULL, (GDestroyNotify) g_ptr_array_unref,
                             cancellable, callback, user_data);
}

GPtrArray *
spot_repository_get_active_products_finish (SpotRepository *self, GAsyncResult *result, GError **error)
{
  return spot_repository_run_finish (self, result, error);
}

static gpointer
do_put_product (PGconn *conn, gpointer data, GError **error)
{
  return spot_store_put_product (conn, data, error) ? DONE : NULL;
}

void
spot_repository_put_product_async (SpotRepository *self,
                                   const SpotProduct *product,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  spot_repository_run_async (self, do_put_product, spot_product_copy (product),
                             (GDestroyNotify) spot_product_free, NULL, cancellable, callback,
                             user_data);
}

gboolean
spot_repository_put_product_finish (SpotRepository *self, GAsyncResult *result, GError **error)
{
  return spot_repository_run_finish (self, result, error) != NULL;
}

typedef struct {
  char *product_id;
  gboolean active;
} ActiveArgs;

static void
active_args_free (ActiveArgs *a)
{
  g_free (a->product_id);
  g_free (a);
}

static gpointer
do_set_active (PGconn *conn, gpointer data, GError **error)
{
  ActiveArgs *a = data;
  return spot_store_set_product_active (conn, a->product_id, a->active, error) ? DONE : NULL;
}

void
spot_repository_set_product_active_async (SpotRepository *self,
                                          const char *product_id,
                                          gboolean active,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data)
{
  ActiveArgs *a = g_new0 (ActiveArgs, 1);
  a->product_id = g_strdup (product_id);
  a->active = active;
  spot_repository_run_async (self, do_set_active, a, (GDestroyNotify) active_args_free, NULL,
                             cancellable, callback, user_data);
}

gboolean
spot_repository_set_product_active_finish (SpotRepository *self, GAsyncResult *result, GError **error)
{
  return spot_repository_run_finish (self, result, error) != NULL;
}

static gpointer
do_replace_active (PGconn *conn, gpointer data, GError **error)
{
  return spot_store_replace_active_products (conn, (const char *const *) data, error) ? DONE : NULL;
}

void
spot_repository_replace_active_products_async (SpotRepository *self,
                                               const char *const *product_ids,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer user_data)
{
  spot_repository_run_async (self, do_replace_active, g_strdupv ((char **) product_ids),
                             (GDestroyNotify) g_strfreev, NULL, cancellable, callback, user_data);
}

gboolean
spot_repository_replace_active_products_finish (SpotRepository *self,
                                                GAsyncResult *result,
                                                GError **error)
{
  return spot_repository_run_finish (self, result, error) != NULL;
}

void
spot_store_seed_free (SpotStoreSeed *seed)
{
  if (seed == NULL)
    return;
  spot_store_seed_clear (seed);
  g_free (seed);
}

typedef struct {
  char *product_id;
  gint64 a;
  gint64 b;
  gint64 c;
  guint limit;
  SpotGranularity granularity;
  gboolean has_minute;
  SpotCandle minute;
} QueryArgs;

static void
query_args_free (QueryArgs *q)
{
  g_free (q->product_id);
  g_free (q);
}

static gpointer
do_load_seed (PGconn *conn, gpointer data, GError **error)
{
  QueryArgs *q = data;
  g_autoptr (SpotStoreSeed) seed = g_new0 (SpotStoreSeed, 1);
  if (!spot_store_load_seed (conn, q->product_id, q->a, q->b, seed, error))
    return NULL;
  return g_steal_pointer (&seed);
}

void
spot_repository_load_seed_async (SpotRepository *self,
                                 const char *product_id,
                                 gint64 now_s,
                                 gint64 horizon_s,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  QueryArgs *q = g_new0 (QueryArgs, 1);
  q->product_id = g_strdup (product_id);
  q->a = now_s;
  q->b = horizon_s;
  spot_repository_run_async (self, do_load_seed, q, (GDestroyNotify) query_args_free,
                             (GDestroyNotify) spot_store_seed_free, cancellable, callback, user_data);
}

SpotStoreSeed *
spot_repository_load_seed_finish (SpotRepository *self, GAsyncResult *result, GError **error)
{
  return spot_repository_run_finish (self, result, error);
}

static gpointer
do_apply_repair (PGconn *conn, gpointer data, GError **error)
{
  QueryArgs *q = data;
  return spot_store_apply_repair (conn, q->product_id, q->a, q->has_minute ? &q->minute : NULL,
                                  error);
}

void
spot_repository_apply_repair_async (SpotRepository *self,
                                    const char *product_id,
                                    gint64 minute_start,
                                    const SpotCandle *minute,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  QueryArgs *q = g_new0 (QueryArgs, 1);
  q->product_id = g_strdup (product_id);
  q->a = minute_start;
  q->has_minute = minute != NULL;
  if (minute != NULL)
    q->minute = *minute;
  spot_repository_run_async (self, do_apply_repair, q, (GDestroyNotify) query_args_free,
                             (GDestroyNotify) g_array_unref, cancellable, callback, user_data);
}

GArray *
spot_repository_apply_repair_finish (SpotRepository *self, GAsyncResult *result, GError **error)
{
  return spot_repository_run_finish (self, result, error);
}

static gpointer
do_query_history (PGconn *conn, gpointer data, GError **error)
{
  QueryArgs *q = data;
  return spot_store_query_history (conn, q->product_id, q->granularity, q->a, q->b, q->limit, error);
}

void
spot_repository_query_history_async (SpotRepository *self,
                                     const char *product_id,
                                     SpotGranularity granularity,
                                     gint64 start_s,
                                     gint64 end_s,
                                     guint limit,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  QueryArgs *q = g_new0 (QueryArgs, 1);
  q->product_id = g_strdup (product_id);
  q->granularity = granularity;
  q->a = start_s;
  q->b = end_s;
  q->limit = limit;
  spot_repository_run_async (self, do_query_history, q, (GDestroyNotify) query_args_free,
                             (GDestroyNotify) g_array_unref, cancellable, callback, user_data);
}

GArray *
spot_repository_query_history_finish (SpotRepository *self, GAsyncResult *result, GError **error)
{
  return spot_repository_run_finish (self, result, error);
}

static gpointer
do_upsert (PGconn *conn, gpointer data, GError **error)
{
  GArray *rows = data;
  guint n = 0;
  if (!spot_store_upsert_candles (conn, SPOT_STORE_STRATEGY_DEFAULT, (SpotCandle *) rows->data,
                                  rows->len, &n, error))
    return NULL;
  return GUINT_TO_POINTER (n + 1); /* never NULL on success */
}

void
spot_repository_upsert_candles_async (SpotRepository *self,
                                     const SpotCandle *candles,
                                     guint n,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  GArray *rows = g_array_sized_new (FALSE, FALSE, sizeof (SpotCandle), n);
  g_array_append_vals (rows, candles, n);
  spot_repository_run_async (self, do_upsert, rows, (GDestroyNotify) g_array_unref, NULL,
                             cancellable, callback, user_data);
}

gboolean
spot_repository_upsert_candles_finish (SpotRepository *self,
                                      GAsyncResult *result,
                                      guint *n_applied,
                                      GError **error)
{
  gpointer r = spot_repository_run_finish (self, result, error);
  if (r == NULL)
    return FALSE;
  if (n_applied != NULL)
    *n_applied = GPOINTER_TO_UINT (r) - 1;
  return TRUE;
}
