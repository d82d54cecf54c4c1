#define G_LOG_DOMAIN "spot-aggregate"

#include "aggregate/spot-engine-options.h"

#include "core/spot-error.h"

void
spot_engine_options_init_defaults (SpotEngineOptions *options)
{
  g_return_if_fail (options != NULL);

  *options = (SpotEngineOptions){
    .grace_ms = 2000,
    .correction_window_s = 120,
    .repair_wait_ms = 30000,
    .repair_horizon_s = 25 * 3600,
    .output = SPOT_GRANULARITY_SET_DEFAULT,
    .seed_hold_limit = 10000,
    .workers = 16,
    .queue_size = 256,
    .shard_index = 0,
    .shard_count = 1,
    .tick_interval_ms = 250,
  };
}

gboolean
spot_engine_options_validate (const SpotEngineOptions *options, GError **error)
{
  g_return_val_if_fail (options != NULL, FALSE);

  if (options->workers < 1 || options->workers > 256)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "SHARD_WORKERS=%u must be between 1 and 256", options->workers);
      return FALSE;
    }
  if (options->queue_size < 1 || options->queue_size > 1000000)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "SHARD_QUEUE=%u must be between 1 and 1000000", options->queue_size);
      return FALSE;
    }
  if (options->shard_count < 1 || options->shard_index >= options->shard_count)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "SHARD_INDEX=%u must be smaller than SHARD_COUNT=%u", options->shard_index,
                   options->shard_count);
      return FALSE;
    }
  if (options->grace_ms < 0 || options->grace_ms > 3600 * 1000)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "CANDLE_GRACE_MS=%" G_GINT64_FORMAT " must be between 0 and 3600000",
                   options->grace_ms);
      return FALSE;
    }
  if (options->correction_window_s < 0 || options->correction_window_s > 24 * 3600)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "CORRECTION_WINDOW_S=%" G_GINT64_FORMAT " must be between 0 and 86400",
                   options->correction_window_s);
      return FALSE;
    }
  if (options->repair_wait_ms < 0 || options->repair_wait_ms > 3600 * 1000)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "repair wait %" G_GINT64_FORMAT " ms must be between 0 and 3600000",
                   options->repair_wait_ms);
      return FALSE;
    }
  if (options->repair_horizon_s < 60)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "REPAIR_HORIZON_H (%" G_GINT64_FORMAT " s) must be at least a minute",
                   options->repair_horizon_s);
      return FALSE;
    }
  if ((options->output & SPOT_GRANULARITY_SET_ALL) == 0)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "GRANULARITIES must name at least one granularity");
      return FALSE;
    }
  if (options->tick_interval_ms < 1 || options->tick_interval_ms > 60000)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG,
                   "engine tick interval %" G_GINT64_FORMAT " ms must be between 1 and 60000",
                   options->tick_interval_ms);
      return FALSE;
    }
  return TRUE;
}
