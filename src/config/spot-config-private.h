/* spot-config-private.h: the variable table and helpers, for the tests of
 * src/config and for the code that generates documentation checks. Not for
 * other areas: they read SpotConfig fields.
 *
 * Thread safety: pure functions and constant data; any thread.
 */
#pragma once

#include "config/spot-config.h"

G_BEGIN_DECLS

typedef struct {
  const char *name;         /* "SHARD_INDEX" */
  const char *option;       /* "shard-index" (used as --shard-index) */
  const char *arg;          /* "N" in --help */
  const char *default_text; /* the default as text, NULL when unset */
  const char *help;         /* one line, untranslated (N_) */
  const char *group;        /* heading in .env.example and --print-config */
  gboolean secret;
} SpotConfigVarInfo;

/* Every variable in .env.example order. */
const SpotConfigVarInfo *spot_config_vars (guint *n_vars);

/* The STATE_DIRECTORY default when neither the variable nor the option is
 * given: /var/lib/spot-canvas when @as_root, else $XDG_STATE_HOME/spot-canvas
 * (when absolute, per the XDG spec), else $HOME/.local/state/spot-canvas.
 * Variables are read from @envp only (HOME falls back to g_get_home_dir()). */
char *spot_config_default_state_directory (const char *const *envp, gboolean as_root);

G_END_DECLS
