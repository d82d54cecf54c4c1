/* spot-health.c: component checks and the /health report. */
#define G_LOG_DOMAIN "spot-http"

#include "http/spot-health.h"

#include "config.h"

typedef struct
{
  char *name;
  gboolean critical;
  SpotHealthCheckFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} Check;

struct _SpotHealth
{
  gatomicrefcount ref;
  GPtrArray *checks; /* Check*, in registration order */
};

static void
check_free (gpointer data)
{
  Check *check = data;

  if (check->destroy != NULL)
    check->destroy (check->user_data);
  g_free (check->name);
  g_free (check);
}

SpotHealth *
spot_health_new (void)
{
  SpotHealth *health = g_new0 (SpotHealth, 1);

  g_atomic_ref_count_init (&health->ref);
  health->checks = g_ptr_array_new_with_free_func (check_free);
  return health;
}

SpotHealth *
spot_health_ref (SpotHealth *health)
{
  g_atomic_ref_count_inc (&health->ref);
  return health;
}

void
spot_health_unref (SpotHealth *health)
{
  if (health == NULL || !g_atomic_ref_count_dec (&health->ref))
    return;
  g_ptr_array_unref (health->checks);
  g_free (health);
}

void
spot_health_remove_check (SpotHealth *health, const char *name)
{
  for (guint i = 0; i < health->checks->len; i++)
    {
      Check *check = g_ptr_array_index (health->checks, i);

      if (g_str_equal (check->name, name))
        {
          g_ptr_array_remove_index (health->checks, i);
          return;
        }
    }
}

void
spot_health_add_check (SpotHealth *health,
                       const char *name,
                       gboolean critical,
                       SpotHealthCheckFunc func,
                       gpointer user_data,
                       GDestroyNotify destroy)
{
  Check *check = g_new0 (Check, 1);

  g_return_if_fail (name != NULL && func != NULL);
  spot_health_remove_check (health, name);
  check->name = g_strdup (name);
  check->critical = critical;
  check->func = func;
  check->user_data = user_data;
  check->destroy = destroy;
  g_ptr_array_add (health->checks, check);
}

char *
spot_health_report (SpotHealth *health,
                    gint64 uptime_s,
                    SpotHealthCheckFunc extra,
                    gpointer extra_data,
                    gboolean *healthy)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonBuilder) components = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  gboolean all_ok = TRUE;

  /* Components first, so the overall status is known for the top level. */
  json_builder_begin_object (components);
  for (guint i = 0; health != NULL && i < health->checks->len; i++)
    {
      Check *check = g_ptr_array_index (health->checks, i);
      gboolean ok;

      json_builder_set_member_name (components, check->name);
      json_builder_begin_object (components);
      ok = check->func (components, check->user_data);
      json_builder_set_member_name (components, "healthy");
      json_builder_add_boolean_value (components, ok);
      json_builder_set_member_name (components, "critical");
      json_builder_add_boolean_value (components, check->critical);
      json_builder_end_object (components);
      if (check->critical && !ok)
        all_ok = FALSE;
    }
  json_builder_end_object (components);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "status");
  json_builder_add_string_value (builder, all_ok ? "ok" : "unhealthy");
  json_builder_set_member_name (builder, "uptime_s");
  json_builder_add_int_value (builder, uptime_s);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, PACKAGE_VERSION);
  if (extra != NULL)
    extra (builder, extra_data);
  json_builder_set_member_name (builder, "components");
  json_builder_add_value (builder, json_builder_get_root (components));
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (gen, root);
  *healthy = all_ok;
  return json_generator_to_data (gen, NULL);
}
