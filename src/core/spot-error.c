/* spot-error.c: the SPOT_ERROR domain. */
#include "spot-error.h"

G_DEFINE_QUARK (spot-error-quark, spot_error)

const char *
spot_error_code_to_string (SpotError code)
{
  switch (code)
    {
    case SPOT_ERROR_FAILED: return "failed";
    case SPOT_ERROR_INVALID_ARGUMENT: return "invalid-argument";
    case SPOT_ERROR_INVALID_CONFIG: return "invalid-config";
    case SPOT_ERROR_PARSE: return "parse";
    case SPOT_ERROR_OVERFLOW: return "overflow";
    case SPOT_ERROR_NOT_FOUND: return "not-found";
    case SPOT_ERROR_IO: return "io";
    case SPOT_ERROR_TIMEOUT: return "timeout";
    case SPOT_ERROR_DATABASE: return "database";
    case SPOT_ERROR_NATS: return "nats";
    case SPOT_ERROR_EXCHANGE: return "exchange";
    case SPOT_ERROR_BUSY: return "busy";
    case SPOT_ERROR_CLOSED: return "closed";
    case SPOT_ERROR_CANCELLED: return "cancelled";
    default: return "unknown";
    }
}
