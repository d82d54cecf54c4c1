#define G_LOG_DOMAIN "spot-aggregate"

#include "aggregate/spot-candle-repair.h"

const char *
spot_dirty_reason_to_string (SpotDirtyReason reason)
{
  switch (reason)
    {
    case SPOT_DIRTY_REASON_UNSUBSCRIBED:
      return "unsubscribed";
    case SPOT_DIRTY_REASON_DISCONNECT:
      return "disconnect";
    case SPOT_DIRTY_REASON_SEQUENCE_GAP:
      return "sequence-gap";
    case SPOT_DIRTY_REASON_QUEUE_FULL:
      return "queue-full";
    case SPOT_DIRTY_REASON_STARTUP:
      return "startup";
    case SPOT_DIRTY_REASON_SEED_OVERFLOW:
      return "seed-overflow";
    case SPOT_DIRTY_REASON_STORED_INCOMPLETE:
      return "stored-incomplete";
    default:
      return "unknown";
    }
}

const char *
spot_repair_result_to_string (SpotRepairResult result)
{
  switch (result)
    {
    case SPOT_REPAIR_APPLIED:
      return "applied";
    case SPOT_REPAIR_NEEDS_DATABASE:
      return "needs-database";
    case SPOT_REPAIR_REJECTED_OPEN:
      return "rejected-open";
    case SPOT_REPAIR_ABANDONED:
      return "abandoned";
    case SPOT_REPAIR_INVALID:
      return "invalid";
    default:
      return "unknown";
    }
}
