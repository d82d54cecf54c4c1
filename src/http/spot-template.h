/* spot-template.h: the small escaping renderer for HTML pages.
 *
 * Templates live in data/templates and are compiled into GResources.
 * `{{name}}` is replaced by the value of `name`, HTML-escaped; `{{{name}}}`
 * inserts it unescaped (only for HTML the service rendered itself, such as
 * a list of <spot-candle> elements). Spaces inside the braces are allowed.
 * Names are [A-Za-z0-9_]+. An unknown name fails with SPOT_ERROR_NOT_FOUND,
 * an unterminated or malformed tag with SPOT_ERROR_PARSE, each naming the
 * tag and its byte offset: a broken template fails loudly in the tests
 * rather than rendering half a page.
 *
 * Thread safety: pure functions; call from any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @vars: NULL-terminated list of name, value pairs (a NULL value renders as
 * ""). Returns the page, or NULL with @error. */
char *spot_template_render (const char *tmpl, gssize len, const char *const *vars, GError **error);

G_END_DECLS
