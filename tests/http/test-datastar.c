/* test-datastar.c: the Datastar writer against the official SDK golden
 * cases (shared/conformance/datastar, compared as its README says) and the
 * 1.0.0-beta.11 dialect. */
#define G_LOG_DOMAIN "spot-test"

#include <json-glib/json-glib.h>
#include <string.h>

#include "config.h"
#include "http/spot-datastar.h"

/* ---- comparison as the golden README describes ------------------------ */

typedef struct
{
  char *name;
  char *value;
} Attr;

static int
attr_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Attr *)a)->name, ((const Attr *)b)->name);
}

/* Rewrites every start tag with its attributes sorted by name. */
static char *
html_sorted_attributes (const char *html)
{
  GString *out = g_string_new (NULL);
  const char *p = html;

  while (*p != '\0')
    {
      if (p[0] == '<' && g_ascii_isalpha (p[1]))
        {
          const char *q = p + 1;
          g_autoptr (GArray) attrs = g_array_new (FALSE, FALSE, sizeof (Attr));
          gboolean self_closing = FALSE;

          while (*q != '\0' && !g_ascii_isspace (*q) && *q != '>' && *q != '/')
            q++;
          g_string_append_len (out, p, q - p);
          for (;;)
            {
              const char *n;
              Attr a = { NULL, NULL };

              while (g_ascii_isspace (*q))
                q++;
              if (*q == '\0' || *q == '>')
                break;
              if (q[0] == '/' && q[1] == '>')
                {
                  self_closing = TRUE;
                  q++;
                  break;
                }
              n = q;
              while (*q != '\0' && !g_ascii_isspace (*q) && *q != '=' && *q != '>' && *q != '/')
                q++;
              a.name = g_strndup (n, q - n);
              if (*q == '=')
                {
                  q++;
                  if (*q == '"' || *q == '\'')
                    {
                      char quote = *q++;
                      const char *v = q;

                      while (*q != '\0' && *q != quote)
                        q++;
                      a.value = g_strndup (v, q - v);
                      if (*q == quote)
                        q++;
                    }
                  else
                    {
                      const char *v = q;

                      while (*q != '\0' && !g_ascii_isspace (*q) && *q != '>')
                        q++;
                      a.value = g_strndup (v, q - v);
                    }
                }
              g_array_append_val (attrs, a);
            }
          g_array_sort (attrs, attr_cmp);
          for (guint i = 0; i < attrs->len; i++)
            {
              Attr *a = &g_array_index (attrs, Attr, i);

              g_string_append_printf (out, " %s", a->name);
              if (a->value != NULL)
                g_string_append_printf (out, "=\"%s\"", a->value);
              g_free (a->name);
              g_free (a->value);
            }
          g_string_append (out, self_closing ? "/>" : ">");
          if (*q == '>')
            q++;
          p = q;
          continue;
        }
      g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

typedef struct
{
  GPtrArray *fields; /* "event: x", "id: y", "retry: z" in order */
  GHashTable *data;  /* key -> GPtrArray of trimmed values */
} Event;

static void
event_free (gpointer data)
{
  Event *e = data;

  g_ptr_array_unref (e->fields);
  g_hash_table_unref (e->data);
  g_free (e);
}

static GPtrArray *
parse_events (const char *text)
{
  GPtrArray *events = g_ptr_array_new_with_free_func (event_free);
  g_auto (GStrv) blocks = g_strsplit (text, "\n\n", -1);

  for (guint b = 0; blocks[b] != NULL; b++)
    {
      g_auto (GStrv) lines = NULL;
      Event *e;

      if (g_strstrip (blocks[b])[0] == '\0')
        continue;
      e = g_new0 (Event, 1);
      e->fields = g_ptr_array_new_with_free_func (g_free);
      e->data = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify)g_ptr_array_unref);
      lines = g_strsplit (blocks[b], "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          const char *line = lines[i];

          if (g_str_has_prefix (line, "data: "))
            {
              const char *rest = line + strlen ("data: ");
              const char *space = strchr (rest, ' ');
              g_autofree char *key
                  = space != NULL ? g_strndup (rest, space - rest) : g_strdup (rest);
              g_autofree char *value = g_strstrip (g_strdup (space != NULL ? space + 1 : ""));
              GPtrArray *values = g_hash_table_lookup (e->data, key);

              if (values == NULL)
                {
                  values = g_ptr_array_new_with_free_func (g_free);
                  g_hash_table_insert (e->data, g_strdup (key), values);
                }
              g_ptr_array_add (values, g_steal_pointer (&value));
            }
          else if (line[0] != '\0')
            g_ptr_array_add (e->fields, g_strdup (line));
        }
      g_ptr_array_add (events, e);
    }
  return events;
}

static char *
joined (GPtrArray *values)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; values != NULL && i < values->len; i++)
    {
      if (i > 0)
        g_string_append_c (s, '\n');
      g_string_append (s, g_ptr_array_index (values, i));
    }
  return g_string_free (s, FALSE);
}

static void
assert_sse_equivalent (const char *expected, const char *got)
{
  g_autoptr (GPtrArray) want = parse_events (expected);
  g_autoptr (GPtrArray) have = parse_events (got);

  g_assert_cmpuint (have->len, ==, want->len);
  for (guint i = 0; i < want->len; i++)
    {
      Event *w = g_ptr_array_index (want, i);
      Event *h = g_ptr_array_index (have, i);
      GHashTableIter iter;
      gpointer key, values;

      g_assert_cmpuint (h->fields->len, ==, w->fields->len);
      for (guint f = 0; f < w->fields->len; f++)
        g_assert_cmpstr (g_ptr_array_index (h->fields, f), ==, g_ptr_array_index (w->fields, f));
      g_assert_cmpuint (g_hash_table_size (h->data), ==, g_hash_table_size (w->data));
      g_hash_table_iter_init (&iter, w->data);
      while (g_hash_table_iter_next (&iter, &key, &values))
        {
          g_autofree char *wv = joined (values);
          g_autofree char *hv = joined (g_hash_table_lookup (h->data, key));

          if (g_str_equal (key, "elements"))
            {
              g_autofree char *ws = html_sorted_attributes (wv);
              g_autofree char *hs = html_sorted_attributes (hv);

              g_assert_cmpstr (hs, ==, ws);
            }
          else
            g_assert_cmpstr (hv, ==, wv);
        }
    }
}

/* ---- running a golden input ------------------------------------------- */

static const char *
member_string (JsonObject *o, const char *name)
{
  return json_object_has_member (o, name) && !json_object_get_null_member (o, name)
             ? json_object_get_string_member (o, name)
             : NULL;
}

static gboolean
member_bool (JsonObject *o, const char *name, gboolean fallback)
{
  return json_object_has_member (o, name) ? json_object_get_boolean_member (o, name) : fallback;
}

static void
write_event (GString *out, JsonObject *ev)
{
  const char *type = json_object_get_string_member (ev, "type");
  SpotDatastarEventOptions options = { 0 };

  options.event_id = member_string (ev, "eventId");
  if (json_object_has_member (ev, "retryDuration"))
    options.retry_ms = (guint)json_object_get_int_member (ev, "retryDuration");

  if (g_str_equal (type, "patchElements"))
    {
      SpotDatastarMode mode = SPOT_DATASTAR_MODE_OUTER;
      const char *mode_name = member_string (ev, "mode");

      if (mode_name != NULL)
        g_assert_true (spot_datastar_mode_parse (mode_name, &mode));
      spot_datastar_patch_elements (out, SPOT_DATASTAR_V1, member_string (ev, "elements"),
                                    member_string (ev, "selector"), mode,
                                    member_bool (ev, "useViewTransition", FALSE), &options);
    }
  else if (g_str_equal (type, "patchSignals"))
    {
      g_autofree char *signals = NULL;

      if (json_object_has_member (ev, "signals-raw"))
        signals = g_strdup (json_object_get_string_member (ev, "signals-raw"));
      else
        signals = json_to_string (json_object_get_member (ev, "signals"), FALSE);
      spot_datastar_patch_signals (out, SPOT_DATASTAR_V1, signals,
                                   member_bool (ev, "onlyIfMissing", FALSE), &options);
    }
  else if (g_str_equal (type, "executeScript"))
    {
      g_autoptr (GPtrArray) attrs = g_ptr_array_new ();

      if (json_object_has_member (ev, "attributes"))
        {
          JsonObject *a = json_object_get_object_member (ev, "attributes");
          g_autoptr (GList) names = json_object_get_members (a);

          for (GList *l = names; l != NULL; l = l->next)
            {
              g_ptr_array_add (attrs, l->data);
              g_ptr_array_add (attrs, (gpointer)json_object_get_string_member (a, l->data));
            }
        }
      g_ptr_array_add (attrs, NULL);
      spot_datastar_execute_script (
          out, SPOT_DATASTAR_V1, json_object_get_string_member (ev, "script"),
          member_bool (ev, "autoRemove", TRUE), (const char *const *)attrs->pdata, &options);
    }
  else
    g_assert_not_reached ();
}

static void
run_golden_case (gconstpointer data)
{
  const char *dir = data;
  g_autofree char *input_path = g_build_filename (dir, "input.json", NULL);
  g_autofree char *output_path = g_build_filename (dir, "output.txt", NULL);
  g_autofree char *expected = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  JsonArray *events;

  g_assert_true (g_file_get_contents (output_path, &expected, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (json_parser_load_from_file (parser, input_path, &error));
  g_assert_no_error (error);
  events = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                         "events");
  for (guint i = 0; i < json_array_get_length (events); i++)
    write_event (out, json_array_get_object_element (events, i));
  assert_sse_equivalent (expected, out->str);
}

/* ---- beta.11 dialect and edge cases ----------------------------------- */

static void
test_beta11_merges_fragments_with_morph_by_default (void)
{
  g_autoptr (GString) out = g_string_new (NULL);

  spot_datastar_patch_elements (out, SPOT_DATASTAR_BETA11,
                                "<div id=\"a\">1</div>\n<div id=\"b\">2</div>", NULL,
                                SPOT_DATASTAR_MODE_OUTER, FALSE, NULL);
  g_assert_cmpstr (out->str, ==,
                   "event: datastar-merge-fragments\n"
                   "data: fragments <div id=\"a\">1</div>\n"
                   "data: fragments <div id=\"b\">2</div>\n\n");
}

static void
test_beta11_maps_modes_and_options (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  SpotDatastarEventOptions options = { "e7", 2500 };

  spot_datastar_patch_elements (out, SPOT_DATASTAR_BETA11, "<p>x</p>", "#list",
                                SPOT_DATASTAR_MODE_REPLACE, TRUE, &options);
  g_assert_cmpstr (out->str, ==,
                   "event: datastar-merge-fragments\n"
                   "id: e7\n"
                   "retry: 2500\n"
                   "data: selector #list\n"
                   "data: mergeMode outer\n"
                   "data: useViewTransition true\n"
                   "data: fragments <p>x</p>\n\n");
  g_string_truncate (out, 0);
  spot_datastar_patch_elements (out, SPOT_DATASTAR_BETA11, NULL, "#gone", SPOT_DATASTAR_MODE_REMOVE,
                                FALSE, NULL);
  g_assert_cmpstr (out->str, ==, "event: datastar-remove-fragments\ndata: selector #gone\n\n");
  g_string_truncate (out, 0);
  spot_datastar_patch_elements (out, SPOT_DATASTAR_BETA11, "<li>a</li>", "ul",
                                SPOT_DATASTAR_MODE_APPEND, FALSE, NULL);
  g_assert_nonnull (strstr (out->str, "data: mergeMode append\n"));
}

static void
test_beta11_merges_signals (void)
{
  g_autoptr (GString) out = g_string_new (NULL);

  spot_datastar_patch_signals (out, SPOT_DATASTAR_BETA11, "{\"a\":1}", TRUE, NULL);
  g_assert_cmpstr (out->str, ==,
                   "event: datastar-merge-signals\n"
                   "data: onlyIfMissing true\n"
                   "data: signals {\"a\":1}\n\n");
}

static void
test_beta11_executes_script_with_attributes (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  const char *attrs[] = { "type", "text/javascript", NULL };

  spot_datastar_execute_script (out, SPOT_DATASTAR_BETA11, "a();\nb();", FALSE, attrs, NULL);
  g_assert_cmpstr (out->str, ==,
                   "event: datastar-execute-script\n"
                   "data: autoRemove false\n"
                   "data: attributes type text/javascript\n"
                   "data: script a();\n"
                   "data: script b();\n\n");
  g_string_truncate (out, 0);
  spot_datastar_execute_script (out, SPOT_DATASTAR_BETA11, "x()", TRUE, NULL, NULL);
  g_assert_cmpstr (out->str, ==, "event: datastar-execute-script\ndata: script x()\n\n");
}

static void
test_default_retry_and_unsafe_id_are_omitted (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  SpotDatastarEventOptions options = { "bad\nid", SPOT_DATASTAR_DEFAULT_RETRY_MS };

  spot_datastar_patch_elements (out, SPOT_DATASTAR_V1, "<i></i>", NULL, SPOT_DATASTAR_MODE_OUTER,
                                FALSE, &options);
  g_assert_cmpstr (out->str, ==, "event: datastar-patch-elements\ndata: elements <i></i>\n\n");
}

static void
test_crlf_lines_split_like_lf (void)
{
  g_autoptr (GString) out = g_string_new (NULL);

  spot_datastar_patch_elements (out, SPOT_DATASTAR_V1, "<a>\r\n</a>", NULL,
                                SPOT_DATASTAR_MODE_OUTER, FALSE, NULL);
  g_assert_cmpstr (out->str, ==,
                   "event: datastar-patch-elements\ndata: elements <a>\ndata: elements </a>\n\n");
}

static void
test_comment_is_one_line (void)
{
  g_autoptr (GString) out = g_string_new (NULL);

  spot_datastar_comment (out, "keep\nalive");
  g_assert_cmpstr (out->str, ==, ": keep alive\n\n");
}

static void
test_dialect_names_parse (void)
{
  SpotDatastarDialect d;

  g_assert_true (spot_datastar_dialect_parse ("beta11", &d));
  g_assert_cmpint (d, ==, SPOT_DATASTAR_BETA11);
  g_assert_true (spot_datastar_dialect_parse ("1.0.0-beta.11", &d));
  g_assert_cmpint (d, ==, SPOT_DATASTAR_BETA11);
  g_assert_true (spot_datastar_dialect_parse ("v1", &d));
  g_assert_cmpint (d, ==, SPOT_DATASTAR_V1);
  g_assert_false (spot_datastar_dialect_parse ("v2", &d));
  g_assert_false (spot_datastar_dialect_parse (NULL, &d));
}

static void
test_golden_cases_are_present (gconstpointer data)
{
  g_assert_cmpuint (GPOINTER_TO_UINT (data), >=, 19);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

int
main (int argc, char **argv)
{
  const char *shared = g_getenv ("SPOT_SHARED_DIR");
  g_autofree char *root = NULL;
  g_autoptr (GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
  const char *kinds[] = { "get", "post" };

  g_test_init (&argc, &argv, NULL);
  root = g_build_filename (shared != NULL ? shared : SPOT_SOURCE_ROOT "/../shared", "conformance",
                           "datastar", "golden", NULL);
  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      g_autofree char *kind_dir = g_build_filename (root, kinds[k], NULL);
      g_autoptr (GDir) dir = g_dir_open (kind_dir, 0, NULL);
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;

      if (dir == NULL)
        continue;
      while ((name = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (names, g_strdup (name));
      g_ptr_array_sort (names, compare_names);
      for (guint i = 0; i < names->len; i++)
        {
          const char *case_name = g_ptr_array_index (names, i);
          g_autofree char *path = g_strdup_printf ("/datastar/golden/%s/%s", kinds[k], case_name);
          char *case_dir = g_build_filename (kind_dir, case_name, NULL);

          g_ptr_array_add (dirs, case_dir);
          g_test_add_data_func (path, case_dir, run_golden_case);
        }
    }
  g_test_add_data_func ("/datastar/golden/all-cases-found", GUINT_TO_POINTER (dirs->len),
                        test_golden_cases_are_present);
  g_test_add_func ("/datastar/beta11/merges-fragments-with-morph-by-default",
                   test_beta11_merges_fragments_with_morph_by_default);
  g_test_add_func ("/datastar/beta11/maps-modes-and-options", test_beta11_maps_modes_and_options);
  g_test_add_func ("/datastar/beta11/merges-signals", test_beta11_merges_signals);
  g_test_add_func ("/datastar/beta11/executes-script-with-attributes",
                   test_beta11_executes_script_with_attributes);
  g_test_add_func ("/datastar/v1/default-retry-and-unsafe-id-are-omitted",
                   test_default_retry_and_unsafe_id_are_omitted);
  g_test_add_func ("/datastar/v1/crlf-lines-split-like-lf", test_crlf_lines_split_like_lf);
  g_test_add_func ("/datastar/comment-is-one-line", test_comment_is_one_line);
  g_test_add_func ("/datastar/dialect-names-parse", test_dialect_names_parse);
  return g_test_run ();
}
