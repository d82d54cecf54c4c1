/* spot-candle-element.c: the <spot-candle> element. */
#define G_LOG_DOMAIN "spot-http"

#include "http/spot-candle-element.h"

#include "http/spot-html.h"
#include "model/spot-time.h"

void
spot_candle_element_append_id (GString *out, const char *product_id, SpotGranularity g)
{
  g_string_append (out, "candle-");
  spot_html_escape_append (out, product_id, -1);
  g_string_append_c (out, '-');
  g_string_append (out, spot_granularity_name (g));
}

static void
append_attr (GString *out, const char *name, const char *value)
{
  g_string_append_c (out, ' ');
  g_string_append (out, name);
  g_string_append (out, "=\"");
  spot_html_escape_append (out, value, -1);
  g_string_append_c (out, '"');
}

static void
append_decimal_attr (GString *out, const char *name, const SpotDecimal *d)
{
  char buf[SPOT_DECIMAL_BUFSIZE];

  spot_decimal_format (d, buf, sizeof buf);
  append_attr (out, name, buf);
}

void
spot_candle_element_append (GString *out, const SpotCandle *candle)
{
  char buf[SPOT_TIME_BUFSIZE];
  const char *gname = spot_granularity_name (candle->granularity);

  g_string_append (out, "<spot-candle id=\"");
  spot_candle_element_append_id (out, candle->product_id, candle->granularity);
  g_string_append_c (out, '"');
  append_attr (out, "product", candle->product_id);
  append_attr (out, "granularity", gname != NULL ? gname : "");
  g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, candle->start);
  append_attr (out, "start", buf);
  append_decimal_attr (out, "open", &candle->open);
  append_decimal_attr (out, "high", &candle->high);
  append_decimal_attr (out, "low", &candle->low);
  append_decimal_attr (out, "close", &candle->close);
  append_decimal_attr (out, "volume", &candle->volume);
  if (candle->trades >= 0)
    g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, candle->trades);
  else
    buf[0] = '\0';
  append_attr (out, "trades", buf);
  append_attr (out, "complete", candle->complete ? "true" : "false");
  if (candle->ts_ns != SPOT_CANDLE_TS_UNKNOWN)
    spot_time_format_rfc3339 (candle->ts_ns, buf, sizeof buf);
  else
    buf[0] = '\0';
  append_attr (out, "ts", buf);
  g_string_append (out, "></spot-candle>");
}

void
spot_candle_element_append_placeholder (GString *out, const char *product_id, SpotGranularity g)
{
  g_string_append (out, "<spot-candle id=\"");
  spot_candle_element_append_id (out, product_id, g);
  g_string_append_c (out, '"');
  append_attr (out, "product", product_id);
  append_attr (out, "granularity", spot_granularity_name (g));
  g_string_append (out, "></spot-candle>");
}
