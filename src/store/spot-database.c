#define G_LOG_DOMAIN "spot-store"

#include "store/spot-database.h"

#include "core/spot-async.h"
#include "core/spot-error.h"
#include "store/spot-pg.h"
#ifdef SPOT_HAVE_SUPERVISOR
#include "supervisor/spot-embedded-postgres.h"
#endif

struct _SpotDatabase {
  GObject parent_instance;
  char *database_url;
  char *state_dir;
  gboolean migrate;
  char *conninfo;
  GMutex lock; /* guards `repository` for is_connected() from other threads */
  SpotRepository *repository;
#ifdef SPOT_HAVE_SUPERVISOR
  SpotEmbeddedPostgres *embedded;
#endif
};

G_DEFINE_FINAL_TYPE (SpotDatabase, spot_database, G_TYPE_OBJECT)

gboolean
spot_database_check_embedded (const char *database_url, guint shard_count, GError **error)
{
  if ((database_url == NULL || database_url[0] == '\0') && shard_count > 1)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "SHARD_COUNT=%u needs DATABASE_URL: with the embedded PostgreSQL every shard "
                   "would write to its own private database",
                   shard_count);
      return FALSE;
    }
  return TRUE;
}

static void
spot_database_dispose (GObject *object)
{
  SpotDatabase *self = SPOT_DATABASE (object);
  spot_database_stop (self, 10000);
  G_OBJECT_CLASS (spot_database_parent_class)->dispose (object);
}

static void
spot_database_finalize (GObject *object)
{
  SpotDatabase *self = SPOT_DATABASE (object);
  g_free (self->database_url);
  g_free (self->state_dir);
  g_free (self->conninfo);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (spot_database_parent_class)->finalize (object);
}

static void
spot_database_class_init (SpotDatabaseClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = spot_database_dispose;
  G_OBJECT_CLASS (klass)->finalize = spot_database_finalize;
}

static void
spot_database_init (SpotDatabase *self)
{
  g_mutex_init (&self->lock);
}

SpotDatabase *
spot_database_new (const char *database_url, const char *state_dir, gboolean migrate)
{
  SpotDatabase *self = g_object_new (SPOT_TYPE_DATABASE, NULL);
  if (database_url != NULL && database_url[0] != '\0')
    self->database_url = g_strdup (database_url);
  self->state_dir = g_strdup (state_dir);
  self->migrate = migrate;
  return self;
}

gboolean
spot_database_is_embedded (SpotDatabase *self)
{
  return self->database_url == NULL;
}

const char *
spot_database_get_conninfo (SpotDatabase *self)
{
  return self->conninfo;
}

SpotRepository *
spot_database_get_repository (SpotDatabase *self)
{
  return self->repository;
}

gboolean
spot_database_is_connected (SpotDatabase *self)
{
  gboolean connected;
  g_mutex_lock (&self->lock);
  connected = self->repository != NULL && spot_repository_is_connected (self->repository);
  g_mutex_unlock (&self->lock);
  return connected;
}

static void
migrated_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!spot_repository_migrate_finish (SPOT_REPOSITORY (source), result, &error))
    {
      g_prefix_error (&error, "cannot migrate the database: ");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
open_repository (GTask *task)
{
  SpotDatabase *self = g_task_get_source_object (task);
  g_autofree char *where = spot_pg_describe_conninfo (self->conninfo);

  g_message ("using %s PostgreSQL (%s)", self->database_url == NULL ? "the embedded" : "external",
             where);
  {
    SpotRepository *old;
    g_mutex_lock (&self->lock);
    old = g_steal_pointer (&self->repository);
    self->repository = spot_repository_new (self->conninfo);
    g_mutex_unlock (&self->lock);
    if (old != NULL)
      spot_repository_close (old);
    g_clear_object (&old);
  }
  if (!self->migrate)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  spot_repository_migrate_async (self->repository, g_task_get_cancellable (task), migrated_cb, task);
}

#ifdef SPOT_HAVE_SUPERVISOR
static void
embedded_started_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  SpotDatabase *self = g_task_get_source_object (task);
  g_autoptr (GError) error = NULL;

  if (!spot_embedded_postgres_start_finish (SPOT_EMBEDDED_POSTGRES (source), result, &error))
    {
      g_prefix_error (&error, "cannot start the embedded PostgreSQL in %s: ", self->state_dir);
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  g_free (self->conninfo);
  self->conninfo = g_strdup (spot_embedded_postgres_get_conninfo (self->embedded));
  open_repository (task);
}
#endif

void
spot_database_start_async (SpotDatabase *self,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, spot_database_start_async);
  if (self->database_url != NULL)
    {
      g_free (self->conninfo);
      self->conninfo = g_strdup (self->database_url);
      open_repository (task);
      return;
    }
#ifdef SPOT_HAVE_SUPERVISOR
  if (self->state_dir == NULL)
    {
      g_task_return_new_error (task, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                               "DATABASE_URL is not set and there is no STATE_DIRECTORY for the "
                               "embedded PostgreSQL");
      g_object_unref (task);
      return;
    }
  if (self->embedded == NULL)
    self->embedded = spot_embedded_postgres_new (self->state_dir);
  spot_embedded_postgres_start_async (self->embedded, cancellable, embedded_started_cb, task);
#else
  g_task_return_new_error (task, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                           "DATABASE_URL is not set and this build has no embedded PostgreSQL");
  g_object_unref (task);
#endif
}

gboolean
spot_database_start_finish (SpotDatabase *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
spot_database_start_sync (SpotDatabase *self, guint timeout_ms, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *where = NULL;
  gboolean timed_out = FALSE;

  /* On the thread-default context: the supervisor keeps watching the
   * embedded server through it after the start. */
  result = spot_async_run_sync (self, (SpotAsyncStartFunc)spot_database_start_async, timeout_ms,
                                &timed_out);
  if (spot_database_start_finish (self, result, &local_error))
    return TRUE;
  /* Cut short by the deadline, whatever step it was in: say what it is. */
  if (!spot_async_cut_short (local_error, timed_out))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
#ifdef SPOT_HAVE_SUPERVISOR
  if (self->embedded != NULL)
    {
      g_autofree char *output = spot_supervisor_dup_recent_output (
          spot_embedded_postgres_get_supervisor (self->embedded));
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT,
                   "the embedded PostgreSQL in %s was not started and migrated within %u ms; "
                   "its last output:\n%s",
                   self->state_dir, timeout_ms, output);
      return FALSE;
    }
#endif
  where = spot_pg_describe_conninfo (self->database_url != NULL ? self->database_url : "");
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_TIMEOUT,
               "PostgreSQL (%s) was not connected and migrated within %u ms", where, timeout_ms);
  return FALSE;
}

void
spot_database_stop (SpotDatabase *self, guint deadline_ms)
{
  SpotRepository *repo;

  g_mutex_lock (&self->lock);
  repo = g_steal_pointer (&self->repository);
  g_mutex_unlock (&self->lock);
  /* Joined now even while requests in flight keep the object alive. */
  if (repo != NULL)
    spot_repository_close (repo);
  g_clear_object (&repo);
#ifdef SPOT_HAVE_SUPERVISOR
  if (self->embedded != NULL)
    {
      spot_embedded_postgres_stop (self->embedded, deadline_ms);
      g_clear_object (&self->embedded);
    }
#endif
}
