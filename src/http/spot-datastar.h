/* spot-datastar.h: Datastar server-sent events, written into a GString.
 *
 * Two dialects (docs/http.md, "Datastar dialects"):
 *  - SPOT_DATASTAR_V1, Datastar 1.0: datastar-patch-elements and
 *    datastar-patch-signals; executeScript is a patch-elements appending a
 *    <script> to body. Passes the official SDK golden cases
 *    (shared/conformance/datastar).
 *  - SPOT_DATASTAR_BETA11, what the npm client @starfederation/datastar
 *    1.0.0-beta.11 understands: datastar-merge-fragments (mergeMode),
 *    datastar-merge-signals, datastar-remove-fragments and
 *    datastar-execute-script. A 1.0 mode is mapped to its beta equivalent
 *    (outer -> morph, replace -> outer, remove -> remove-fragments).
 *
 * Multi-line values become one `data: <key> LINE` per line. Defaults are
 * omitted as the protocol says (retry 1000, mode outer/morph, flags false).
 * Nothing here does I/O.
 *
 * Thread safety: pure functions; call from any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  SPOT_DATASTAR_V1,
  SPOT_DATASTAR_BETA11,
} SpotDatastarDialect;

/* Datastar 1.0 patch modes; OUTER is the default. */
typedef enum
{
  SPOT_DATASTAR_MODE_OUTER,
  SPOT_DATASTAR_MODE_INNER,
  SPOT_DATASTAR_MODE_REPLACE,
  SPOT_DATASTAR_MODE_PREPEND,
  SPOT_DATASTAR_MODE_APPEND,
  SPOT_DATASTAR_MODE_BEFORE,
  SPOT_DATASTAR_MODE_AFTER,
  SPOT_DATASTAR_MODE_REMOVE,
} SpotDatastarMode;

#define SPOT_DATASTAR_DEFAULT_RETRY_MS 1000

/* Fields every event may carry. A zeroed struct means "all defaults". */
typedef struct
{
  const char *event_id; /* NULL: no id line */
  guint retry_ms;       /* 0 or 1000: no retry line */
} SpotDatastarEventOptions;

/* "v1" / "1" / "1.0" and "beta11" / "beta" / "1.0.0-beta.11"; FALSE otherwise. */
gboolean spot_datastar_dialect_parse (const char *text, SpotDatastarDialect *out);
const char *spot_datastar_dialect_to_string (SpotDatastarDialect dialect);

/* "outer", "inner", "replace", "prepend", "append", "before", "after", "remove". */
gboolean spot_datastar_mode_parse (const char *text, SpotDatastarMode *out);

/* Patch (or, with SPOT_DATASTAR_MODE_REMOVE, remove) elements. @elements may
 * be NULL or "" (removal by @selector); @selector may be NULL (the elements'
 * ids select their targets). */
void spot_datastar_patch_elements (GString *out,
                                   SpotDatastarDialect dialect,
                                   const char *elements,
                                   const char *selector,
                                   SpotDatastarMode mode,
                                   gboolean use_view_transition,
                                   const SpotDatastarEventOptions *options);

/* Patch signals: @signals is JSON text written as given, line by line. */
void spot_datastar_patch_signals (GString *out,
                                  SpotDatastarDialect dialect,
                                  const char *signals,
                                  gboolean only_if_missing,
                                  const SpotDatastarEventOptions *options);

/* Runs @script in the browser. @attributes: NULL or a NULL-terminated list of
 * name, value pairs for the <script> element (values escaped). */
void spot_datastar_execute_script (GString *out,
                                   SpotDatastarDialect dialect,
                                   const char *script,
                                   gboolean auto_remove,
                                   const char *const *attributes,
                                   const SpotDatastarEventOptions *options);

/* An SSE comment line (": text\n\n"), ignored by clients: the keep-alive. */
void spot_datastar_comment (GString *out, const char *text);

G_END_DECLS
