/* spot-template.c: {{escaped}} and {{{raw}}} substitution. */
#define G_LOG_DOMAIN "spot-http"

#include "http/spot-template.h"

#include <string.h>

#include "core/spot-error.h"
#include "http/spot-html.h"

static gboolean
lookup (const char *const *vars, const char *name, gsize name_len, const char **value)
{
  for (guint i = 0; vars != NULL && vars[i] != NULL; i += 2)
    if (strlen (vars[i]) == name_len && memcmp (vars[i], name, name_len) == 0)
      {
        *value = vars[i + 1] != NULL ? vars[i + 1] : "";
        return TRUE;
      }
  return FALSE;
}

char *
spot_template_render (const char *tmpl, gssize len, const char *const *vars, GError **error)
{
  g_autoptr (GString) out = NULL;
  const char *p, *end;

  g_return_val_if_fail (tmpl != NULL, NULL);
  if (len < 0)
    len = strlen (tmpl);
  end = tmpl + len;
  out = g_string_sized_new (len + 256);
  p = tmpl;
  while (p < end)
    {
      const char *open = g_strstr_len (p, end - p, "{{");
      const char *name, *name_end, *close;
      const char *value = NULL;
      gboolean raw;
      gsize offset;

      if (open == NULL)
        {
          g_string_append_len (out, p, end - p);
          break;
        }
      g_string_append_len (out, p, open - p);
      offset = open - tmpl;
      raw = open + 2 < end && open[2] == '{';
      name = open + (raw ? 3 : 2);
      while (name < end && *name == ' ')
        name++;
      name_end = name;
      while (name_end < end && (g_ascii_isalnum (*name_end) || *name_end == '_'))
        name_end++;
      close = name_end;
      while (close < end && *close == ' ')
        close++;
      if (name_end == name || (gsize)(end - close) < (raw ? 3u : 2u)
          || strncmp (close, raw ? "}}}" : "}}", raw ? 3 : 2) != 0)
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_PARSE,
                       "template tag at byte %" G_GSIZE_FORMAT " is malformed or unterminated: "
                       "expected {{name}} or {{{name}}}",
                       offset);
          return NULL;
        }
      if (!lookup (vars, name, name_end - name, &value))
        {
          g_set_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND,
                       "template variable \"%.*s\" at byte %" G_GSIZE_FORMAT " has no value",
                       (int)(name_end - name), name, offset);
          return NULL;
        }
      if (raw)
        g_string_append (out, value);
      else
        spot_html_escape_append (out, value, -1);
      p = close + (raw ? 3 : 2);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}
