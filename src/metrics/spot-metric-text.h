/* spot-metric-text.h: pieces of the Prometheus text exposition format 0.0.4.
 *
 * Pure functions (no I/O, no state); call from any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends a sample value as Prometheus parses it, always reading back as
 * exactly @value, independent of the locale: "NaN", "+Inf", "-Inf";
 * integers without exponent or fraction (up to 2^53); values with up to 17
 * decimals and fewer than 16 significant digits in plain decimal notation
 * with the fewest decimals ("0.1", "0.00001", "1000.37"); anything else with
 * the shorter of %.15g / %.17g that reads back exactly ("1e+300",
 * "0.30000000000000004"). */
void spot_metric_text_append_double (GString *out, double value);

/* Decimal integers without printf (it dominates rendering otherwise). */
void spot_metric_text_append_uint64 (GString *out, guint64 value);
void spot_metric_text_append_int64 (GString *out, gint64 value);

/* Label value escaping: backslash, double quote and newline. */
void spot_metric_text_append_label_value (GString *out, const char *value);

/* HELP text escaping: backslash and newline. */
void spot_metric_text_append_help (GString *out, const char *help);

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
gboolean spot_metric_text_name_is_valid (const char *name);
/* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved). */
gboolean spot_metric_text_label_name_is_valid (const char *name);

G_END_DECLS
