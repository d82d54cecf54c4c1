/* spot-coinbase-options.h: the settings of the Coinbase client, taken from
 * SpotConfig (DESIGN.md section 4) or set directly by tests and tools.
 *
 * Thread safety: plain data; copy it.
 */
#pragma once

#include <glib.h>

#include "config/spot-config.h"

G_BEGIN_DECLS

typedef struct
{
  char *ws_url;                  /* COINBASE_WS_URL */
  char *rest_url;                /* COINBASE_REST_URL */
  guint products_per_connection; /* PRODUCTS_PER_CONNECTION, 20 */
  guint inbox_size;              /* INBOX_SIZE, 100 messages */
  gsize inbox_bytes;             /* and up to this many bytes beyond it, 1 MiB */
  gsize inline_frame_bytes;      /* parsed on the main loop when the lane is idle, 16 KiB; 0 never */
  double connect_rate;           /* CONNECT_RATE, 1/s */
  double subscribe_rate;         /* SUBSCRIBE_RATE, 4/s */
  double rest_rate;              /* REST_RATE, 8/s */
  guint stall_timeout_ms;        /* STALL_TIMEOUT_S * 1000 */
  guint repair_delay_ms;         /* REPAIR_DELAY_S * 1000 */
  gint64 repair_horizon_s;       /* REPAIR_HORIZON_H * 3600 */
  gint64 backoff_base_ms;        /* 2000 */
  gint64 backoff_cap_ms;         /* 60000 */
  gint64 stable_after_ms;        /* a connection up this long resets backoff, 60000 */
  gint64 max_payload;            /* WebSocket incoming limit, 64 MiB */
  guint rest_retries;            /* attempts per REST request, 5 */
  gboolean subscribe_candles;    /* the 5-minute `candles` channel, TRUE */
} SpotCoinbaseOptions;

void spot_coinbase_options_init_defaults (SpotCoinbaseOptions *options);
void spot_coinbase_options_from_config (SpotCoinbaseOptions *options, const SpotConfig *config);
void spot_coinbase_options_copy (SpotCoinbaseOptions *dest, const SpotCoinbaseOptions *src);
void spot_coinbase_options_clear (SpotCoinbaseOptions *options);

G_END_DECLS
