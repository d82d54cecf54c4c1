/* spot-nats-control.c: {"add":[...],"remove":[...]} on spot.control.products. */
#define G_LOG_DOMAIN "spot-nats"

#include "nats/spot-nats-control.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "core/spot-error.h"
#include "core/spot-log.h"
#include "model/spot-product.h"
#include "nats/spot-nats-subject.h"

static void
add_list (JsonBuilder *b, const char *name, const char *const *ids)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    json_builder_add_string_value (b, ids[i]);
  json_builder_end_array (b);
}

char *
spot_nats_control_to_json (const char *const *add, const char *const *remove)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  add_list (b, "add", add);
  add_list (b, "remove", remove);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

static char **
read_list (JsonObject *obj, const char *name, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  JsonNode *node = json_object_get_member (obj, name);
  JsonArray *array;

  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      if (!JSON_NODE_HOLDS_ARRAY (node))
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                       "product control field “%s” must be an array", name);
          return NULL;
        }
      array = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *item = json_array_get_element (array, i);
          const char *id;

          if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
            {
              g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                           "product control field “%s” item %u is not a string", name, i);
              return NULL;
            }
          id = json_node_get_string (item);
          if (!spot_product_id_validate (id, error))
            return NULL;
          for (guint j = 0; j < out->len; j++)
            if (strcmp (g_ptr_array_index (out, j), id) == 0)
              {
                g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                             "product control field “%s” lists %s twice", name, id);
                return NULL;
              }
          g_ptr_array_add (out, g_strdup (id));
        }
    }
  g_ptr_array_add (out, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

gboolean
spot_nats_control_parse (const char *json, gssize len, char ***add, char ***remove, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  g_auto (GStrv) a = NULL;
  g_auto (GStrv) r = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, json, len, &local))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE, "product control message is malformed: %s",
                   local->message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                   "product control message must be a JSON object");
      return FALSE;
    }
  a = read_list (json_node_get_object (root), "add", error);
  if (a == NULL)
    return FALSE;
  r = read_list (json_node_get_object (root), "remove", error);
  if (r == NULL)
    return FALSE;
  if (a[0] == NULL && r[0] == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "product control message adds and removes nothing");
      return FALSE;
    }
  *add = g_steal_pointer (&a);
  *remove = g_steal_pointer (&r);
  return TRUE;
}

gboolean
spot_nats_control_publish (natsConnection *nc,
                           const char *const *add,
                           const char *const *remove,
                           GError **error)
{
  g_autofree char *json = spot_nats_control_to_json (add, remove);
  natsStatus s = natsConnection_PublishString (nc, SPOT_NATS_CONTROL_SUBJECT, json);

  if (s != NATS_OK)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_NATS, "cannot publish on %s: %s",
                   SPOT_NATS_CONTROL_SUBJECT, natsStatus_GetText (s));
      return FALSE;
    }
  return TRUE;
}

/* Shared with the subscription thread; freed by the on-complete callback's
 * owner after it ran (the subscription is the last user). */
struct _SpotNatsControl
{
  GMainContext *context;
  natsSubscription *sub;
  SpotNatsControlFunc func;
  gpointer user_data;
  GMutex lock;
  GCond cond;
  gboolean complete;
  gint pending;   /* invocations queued on the context */
  gboolean freed; /* owner let go: queued invocations do nothing */
};

typedef struct
{
  SpotNatsControl *control;
  char **add;
  char **remove;
} Delivery;

static void
control_maybe_destroy (SpotNatsControl *control)
{
  g_main_context_unref (control->context);
  g_mutex_clear (&control->lock);
  g_cond_clear (&control->cond);
  g_free (control);
}

static gboolean
deliver (gpointer data)
{
  Delivery *d = data;
  SpotNatsControl *control = d->control;
  gboolean freed;
  gboolean last;

  g_mutex_lock (&control->lock);
  freed = control->freed;
  g_mutex_unlock (&control->lock);
  if (!freed)
    control->func ((const char *const *)d->add, (const char *const *)d->remove, control->user_data);
  g_mutex_lock (&control->lock);
  last = --control->pending == 0 && control->freed;
  g_mutex_unlock (&control->lock);
  if (last)
    control_maybe_destroy (control);
  g_strfreev (d->add);
  g_strfreev (d->remove);
  g_free (d);
  return G_SOURCE_REMOVE;
}

static void
on_control_message (natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
  SpotNatsControl *control = closure;
  g_autoptr (GError) error = NULL;
  Delivery *d = g_new0 (Delivery, 1);

  d->control = control;
  if (!spot_nats_control_parse (natsMsg_GetData (msg), natsMsg_GetDataLength (msg), &d->add,
                                &d->remove, &error))
    {
      spot_log_limited (10000, 3, G_LOG_LEVEL_WARNING, NULL, -1, -1, "ignoring message on %s: %s",
                        SPOT_NATS_CONTROL_SUBJECT, error->message);
      g_free (d);
      natsMsg_Destroy (msg);
      return;
    }
  natsMsg_Destroy (msg);
  g_mutex_lock (&control->lock);
  control->pending++;
  g_mutex_unlock (&control->lock);
  /* Control messages are rare: one invocation each is fine here. */
  g_main_context_invoke (control->context, deliver, d);
}

static void
on_control_complete (void *closure)
{
  SpotNatsControl *control = closure;

  g_mutex_lock (&control->lock);
  control->complete = TRUE;
  g_cond_broadcast (&control->cond);
  g_mutex_unlock (&control->lock);
}

SpotNatsControl *
spot_nats_control_subscribe (natsConnection *nc,
                             SpotNatsControlFunc func,
                             gpointer user_data,
                             GError **error)
{
  SpotNatsControl *control = g_new0 (SpotNatsControl, 1);
  natsStatus s;

  control->context = g_main_context_ref_thread_default ();
  control->func = func;
  control->user_data = user_data;
  g_mutex_init (&control->lock);
  g_cond_init (&control->cond);
  s = natsConnection_Subscribe (&control->sub, nc, SPOT_NATS_CONTROL_SUBJECT, on_control_message,
                                control);
  if (s == NATS_OK)
    s = natsSubscription_SetOnCompleteCB (control->sub, on_control_complete, control);
  if (s != NATS_OK)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_NATS, "cannot subscribe to %s: %s",
                   SPOT_NATS_CONTROL_SUBJECT, natsStatus_GetText (s));
      if (control->sub != NULL)
        natsSubscription_Destroy (control->sub);
      control_maybe_destroy (control);
      return NULL;
    }
  return control;
}

void
spot_nats_control_free (SpotNatsControl *control)
{
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  gboolean destroy;

  if (control == NULL)
    return;
  if (natsSubscription_Unsubscribe (control->sub) == NATS_OK)
    {
      g_mutex_lock (&control->lock);
      while (!control->complete)
        if (!g_cond_wait_until (&control->cond, &control->lock, deadline))
          break;
      g_mutex_unlock (&control->lock);
    }
  natsSubscription_Destroy (control->sub);
  g_mutex_lock (&control->lock);
  control->freed = TRUE;
  destroy = control->pending == 0;
  g_mutex_unlock (&control->lock);
  if (destroy)
    control_maybe_destroy (control);
}
