/* spot-html.h: HTML escaping for text and attribute values.
 *
 * Escapes & < > " ' so the result is safe both as element text and inside a
 * double- or single-quoted attribute value.
 *
 * Thread safety: pure functions; call from any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends @text (@len bytes, or NUL-terminated when -1) escaped. */
void spot_html_escape_append (GString *out, const char *text, gssize len);

/* Newly allocated escaped copy. */
char *spot_html_escape (const char *text);

G_END_DECLS
