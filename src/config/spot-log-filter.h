/* spot-log-filter.h: applies LOG_LEVEL to GLib's log writer.
 *
 * Messages more verbose than the level are dropped; at debug and info the
 * debug/info messages GLib normally hides are shown. G_MESSAGES_DEBUG keeps
 * working for debug and info output above the level. Everything goes to
 * stderr (or the journal), keeping stdout for command output such as
 * --print-config.
 *
 * Thread safety: call spot_log_filter_install() once, from the main thread,
 * before other threads start; the installed writer runs on any thread.
 */
#pragma once

#include "config/spot-config.h"

G_BEGIN_DECLS

void spot_log_filter_install (SpotLogLevel level);

/* TRUE when a message at @log_level is dropped at @level. Pure. */
gboolean spot_log_filter_drops (SpotLogLevel level, GLogLevelFlags log_level);

G_END_DECLS
