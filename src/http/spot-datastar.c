/* spot-datastar.c: Datastar 1.0 and 1.0.0-beta.11 SSE events. */
#define G_LOG_DOMAIN "spot-http"

#include "http/spot-datastar.h"

#include <string.h>

#include "http/spot-html.h"

static const char *const mode_names[] = {
  [SPOT_DATASTAR_MODE_OUTER] = "outer",     [SPOT_DATASTAR_MODE_INNER] = "inner",
  [SPOT_DATASTAR_MODE_REPLACE] = "replace", [SPOT_DATASTAR_MODE_PREPEND] = "prepend",
  [SPOT_DATASTAR_MODE_APPEND] = "append",   [SPOT_DATASTAR_MODE_BEFORE] = "before",
  [SPOT_DATASTAR_MODE_AFTER] = "after",     [SPOT_DATASTAR_MODE_REMOVE] = "remove",
};

/* beta.11 mergeMode for each 1.0 mode; NULL is the default (morph). The 1.0
 * "outer" morphs the element, beta.11's "outer" replaces it. */
static const char *const beta_merge_modes[] = {
  [SPOT_DATASTAR_MODE_OUTER] = NULL,      [SPOT_DATASTAR_MODE_INNER] = "inner",
  [SPOT_DATASTAR_MODE_REPLACE] = "outer", [SPOT_DATASTAR_MODE_PREPEND] = "prepend",
  [SPOT_DATASTAR_MODE_APPEND] = "append", [SPOT_DATASTAR_MODE_BEFORE] = "before",
  [SPOT_DATASTAR_MODE_AFTER] = "after",   [SPOT_DATASTAR_MODE_REMOVE] = NULL,
};

gboolean
spot_datastar_dialect_parse (const char *text, SpotDatastarDialect *out)
{
  if (text == NULL)
    return FALSE;
  if (g_str_equal (text, "v1") || g_str_equal (text, "1") || g_str_equal (text, "1.0"))
    {
      *out = SPOT_DATASTAR_V1;
      return TRUE;
    }
  if (g_str_equal (text, "beta11") || g_str_equal (text, "beta")
      || g_str_equal (text, "1.0.0-beta.11"))
    {
      *out = SPOT_DATASTAR_BETA11;
      return TRUE;
    }
  return FALSE;
}

const char *
spot_datastar_dialect_to_string (SpotDatastarDialect dialect)
{
  return dialect == SPOT_DATASTAR_BETA11 ? "beta11" : "v1";
}

gboolean
spot_datastar_mode_parse (const char *text, SpotDatastarMode *out)
{
  if (text == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (mode_names); i++)
    if (g_str_equal (text, mode_names[i]))
      {
        *out = (SpotDatastarMode)i;
        return TRUE;
      }
  return FALSE;
}

static void
append_header (GString *out, const char *event, const SpotDatastarEventOptions *options)
{
  g_string_append (out, "event: ");
  g_string_append (out, event);
  g_string_append_c (out, '\n');
  if (options == NULL)
    return;
  /* An id or a value with a line break would end the field early. */
  if (options->event_id != NULL && options->event_id[0] != '\0'
      && strpbrk (options->event_id, "\r\n") == NULL)
    {
      g_string_append (out, "id: ");
      g_string_append (out, options->event_id);
      g_string_append_c (out, '\n');
    }
  if (options->retry_ms != 0 && options->retry_ms != SPOT_DATASTAR_DEFAULT_RETRY_MS)
    g_string_append_printf (out, "retry: %u\n", options->retry_ms);
}

static void
append_data (GString *out, const char *key, const char *value)
{
  g_string_append (out, "data: ");
  g_string_append (out, key);
  g_string_append_c (out, ' ');
  g_string_append (out, value);
  g_string_append_c (out, '\n');
}

/* One "data: key LINE" per line of @text; "\r\n" and "\r" count as breaks. */
static void
append_data_lines (GString *out, const char *key, const char *text)
{
  const char *p = text;

  for (;;)
    {
      gsize n = strcspn (p, "\r\n");

      g_string_append (out, "data: ");
      g_string_append (out, key);
      g_string_append_c (out, ' ');
      g_string_append_len (out, p, n);
      g_string_append_c (out, '\n');
      p += n;
      if (*p == '\0')
        break;
      if (p[0] == '\r' && p[1] == '\n')
        p++;
      p++;
    }
}

void
spot_datastar_patch_elements (GString *out,
                              SpotDatastarDialect dialect,
                              const char *elements,
                              const char *selector,
                              SpotDatastarMode mode,
                              gboolean use_view_transition,
                              const SpotDatastarEventOptions *options)
{
  gboolean has_elements = elements != NULL && elements[0] != '\0';
  gboolean has_selector = selector != NULL && selector[0] != '\0';

  if ((guint)mode >= G_N_ELEMENTS (mode_names))
    mode = SPOT_DATASTAR_MODE_OUTER;

  if (dialect == SPOT_DATASTAR_BETA11)
    {
      if (mode == SPOT_DATASTAR_MODE_REMOVE)
        {
          append_header (out, "datastar-remove-fragments", options);
          if (has_selector)
            append_data (out, "selector", selector);
          if (use_view_transition)
            append_data (out, "useViewTransition", "true");
          g_string_append_c (out, '\n');
          return;
        }
      append_header (out, "datastar-merge-fragments", options);
      if (has_selector)
        append_data (out, "selector", selector);
      if (beta_merge_modes[mode] != NULL)
        append_data (out, "mergeMode", beta_merge_modes[mode]);
      if (use_view_transition)
        append_data (out, "useViewTransition", "true");
      if (has_elements)
        append_data_lines (out, "fragments", elements);
      g_string_append_c (out, '\n');
      return;
    }

  append_header (out, "datastar-patch-elements", options);
  if (has_selector)
    append_data (out, "selector", selector);
  if (mode != SPOT_DATASTAR_MODE_OUTER)
    append_data (out, "mode", mode_names[mode]);
  if (use_view_transition)
    append_data (out, "useViewTransition", "true");
  if (has_elements)
    append_data_lines (out, "elements", elements);
  g_string_append_c (out, '\n');
}

void
spot_datastar_patch_signals (GString *out,
                             SpotDatastarDialect dialect,
                             const char *signals,
                             gboolean only_if_missing,
                             const SpotDatastarEventOptions *options)
{
  append_header (
      out, dialect == SPOT_DATASTAR_BETA11 ? "datastar-merge-signals" : "datastar-patch-signals",
      options);
  if (only_if_missing)
    append_data (out, "onlyIfMissing", "true");
  append_data_lines (out, "signals", signals != NULL && signals[0] != '\0' ? signals : "{}");
  g_string_append_c (out, '\n');
}

void
spot_datastar_execute_script (GString *out,
                              SpotDatastarDialect dialect,
                              const char *script,
                              gboolean auto_remove,
                              const char *const *attributes,
                              const SpotDatastarEventOptions *options)
{
  if (script == NULL)
    script = "";

  if (dialect == SPOT_DATASTAR_BETA11)
    {
      append_header (out, "datastar-execute-script", options);
      if (!auto_remove)
        append_data (out, "autoRemove", "false");
      for (guint i = 0; attributes != NULL && attributes[i] != NULL && attributes[i + 1] != NULL;
           i += 2)
        {
          g_autoptr (GString) attr = g_string_new (attributes[i]);

          /* beta.11 reads "name value" per line; a break would split it. */
          g_string_append_c (attr, ' ');
          g_string_append (attr, attributes[i + 1]);
          g_strdelimit (attr->str, "\r\n", ' ');
          append_data (out, "attributes", attr->str);
        }
      append_data_lines (out, "script", script);
      g_string_append_c (out, '\n');
      return;
    }

  g_autoptr (GString) element = g_string_new ("<script");
  for (guint i = 0; attributes != NULL && attributes[i] != NULL && attributes[i + 1] != NULL;
       i += 2)
    {
      g_string_append_c (element, ' ');
      spot_html_escape_append (element, attributes[i], -1);
      g_string_append (element, "=\"");
      spot_html_escape_append (element, attributes[i + 1], -1);
      g_string_append_c (element, '"');
    }
  if (auto_remove)
    g_string_append (element, " data-effect=\"el.remove()\"");
  g_string_append_c (element, '>');
  g_string_append (element, script);
  g_string_append (element, "</script>");

  append_header (out, "datastar-patch-elements", options);
  append_data (out, "mode", "append");
  append_data (out, "selector", "body");
  append_data_lines (out, "elements", element->str);
  g_string_append_c (out, '\n');
}

void
spot_datastar_comment (GString *out, const char *text)
{
  g_string_append (out, ": ");
  if (text != NULL)
    {
      gsize start = out->len;

      g_string_append (out, text);
      g_strdelimit (out->str + start, "\r\n", ' ');
    }
  g_string_append (out, "\n\n");
}
