/* spot-error.h: the project's single error domain.
 *
 * Thread safety: everything here may be called from any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SPOT_ERROR (spot_error_quark ())

/**
 * SpotError:
 * @SPOT_ERROR_FAILED: anything not covered below
 * @SPOT_ERROR_INVALID_ARGUMENT: a caller passed a value outside its contract
 * @SPOT_ERROR_INVALID_CONFIG: a configuration value is unusable (exit code 2)
 * @SPOT_ERROR_PARSE: input text could not be parsed (JSON, decimal, time, ...)
 * @SPOT_ERROR_OVERFLOW: a value does not fit the representation
 * @SPOT_ERROR_NOT_FOUND: a named thing does not exist
 * @SPOT_ERROR_IO: file, socket or process failure
 * @SPOT_ERROR_TIMEOUT: a deadline passed
 * @SPOT_ERROR_DATABASE: PostgreSQL reported an error
 * @SPOT_ERROR_NATS: NATS reported an error
 * @SPOT_ERROR_EXCHANGE: the exchange answered something unusable
 * @SPOT_ERROR_BUSY: a bounded resource is full; retry later
 * @SPOT_ERROR_CLOSED: the object was stopped or closed
 * @SPOT_ERROR_CANCELLED: the operation was cancelled
 */
typedef enum {
  SPOT_ERROR_FAILED,
  SPOT_ERROR_INVALID_ARGUMENT,
  SPOT_ERROR_INVALID_CONFIG,
  SPOT_ERROR_PARSE,
  SPOT_ERROR_OVERFLOW,
  SPOT_ERROR_NOT_FOUND,
  SPOT_ERROR_IO,
  SPOT_ERROR_TIMEOUT,
  SPOT_ERROR_DATABASE,
  SPOT_ERROR_NATS,
  SPOT_ERROR_EXCHANGE,
  SPOT_ERROR_BUSY,
  SPOT_ERROR_CLOSED,
  SPOT_ERROR_CANCELLED,
} SpotError;

GQuark spot_error_quark (void);

/* The name of @code ("invalid-argument", ...), for logs and D-Bus error names. */
const char *spot_error_code_to_string (SpotError code);

G_END_DECLS
