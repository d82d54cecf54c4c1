/* spot-coinbase-options.c: defaults and the mapping from SpotConfig. */
#define G_LOG_DOMAIN "spot-coinbase"

#include "coinbase/spot-coinbase-options.h"

#include <string.h>

void
spot_coinbase_options_init_defaults (SpotCoinbaseOptions *o)
{
  memset (o, 0, sizeof *o);
  o->ws_url = g_strdup ("wss://advanced-trade-ws.coinbase.com");
  o->rest_url = g_strdup ("https://api.coinbase.com");
  o->products_per_connection = 20;
  o->inbox_size = 100;
  o->inbox_bytes = 1024 * 1024;
  o->inline_frame_bytes = 16 * 1024;
  o->connect_rate = 1.0;
  o->subscribe_rate = 4.0;
  o->rest_rate = 8.0;
  o->stall_timeout_ms = 10000;
  o->repair_delay_ms = 5000;
  o->repair_horizon_s = 25 * 3600;
  o->backoff_base_ms = 2000;
  o->backoff_cap_ms = 60000;
  o->stable_after_ms = 60000;
  o->max_payload = 64 * 1024 * 1024;
  o->rest_retries = 5;
  o->subscribe_candles = TRUE;
}

void
spot_coinbase_options_from_config (SpotCoinbaseOptions *o, const SpotConfig *c)
{
  spot_coinbase_options_init_defaults (o);
  if (c->coinbase_ws_url != NULL)
    {
      g_free (o->ws_url);
      o->ws_url = g_strdup (c->coinbase_ws_url);
    }
  if (c->coinbase_rest_url != NULL)
    {
      g_free (o->rest_url);
      o->rest_url = g_strdup (c->coinbase_rest_url);
    }
  o->products_per_connection = MAX (1u, c->products_per_connection);
  o->inbox_size = MAX (1u, c->inbox_size);
  o->connect_rate = c->connect_rate;
  o->subscribe_rate = c->subscribe_rate;
  o->rest_rate = c->rest_rate;
  o->stall_timeout_ms = c->stall_timeout_s * 1000;
  o->repair_delay_ms = c->repair_delay_s * 1000;
  o->repair_horizon_s = (gint64)c->repair_horizon_h * 3600;
}

void
spot_coinbase_options_copy (SpotCoinbaseOptions *dest, const SpotCoinbaseOptions *src)
{
  *dest = *src;
  dest->ws_url = g_strdup (src->ws_url);
  dest->rest_url = g_strdup (src->rest_url);
}

void
spot_coinbase_options_clear (SpotCoinbaseOptions *o)
{
  g_clear_pointer (&o->ws_url, g_free);
  g_clear_pointer (&o->rest_url, g_free);
}
