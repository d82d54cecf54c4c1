/* spot-html.c: HTML escaping. */
#define G_LOG_DOMAIN "spot-http"

#include "http/spot-html.h"

#include <string.h>

void
spot_html_escape_append (GString *out, const char *text, gssize len)
{
  const char *p, *end, *run;

  if (text == NULL)
    return;
  if (len < 0)
    len = strlen (text);
  end = text + len;
  run = text;
  for (p = text; p < end; p++)
    {
      const char *rep;

      switch (*p)
        {
        case '&':
          rep = "&amp;";
          break;
        case '<':
          rep = "&lt;";
          break;
        case '>':
          rep = "&gt;";
          break;
        case '"':
          rep = "&quot;";
          break;
        case '\'':
          rep = "&#39;";
          break;
        default:
          continue;
        }
      g_string_append_len (out, run, p - run);
      g_string_append (out, rep);
      run = p + 1;
    }
  g_string_append_len (out, run, end - run);
}

char *
spot_html_escape (const char *text)
{
  GString *out = g_string_sized_new (text != NULL ? strlen (text) + 16 : 1);

  spot_html_escape_append (out, text, -1);
  return g_string_free (out, FALSE);
}
