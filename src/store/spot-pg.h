/* spot-pg.h: small helpers around a libpq connection.
 *
 * Every call here blocks on the network: use them only on a thread that owns
 * the connection (the repository's or the batch writer's database thread, the
 * `migrate` command, tests). Never on the main loop.
 *
 * Thread safety: a PGconn belongs to one thread at a time; the helpers keep no
 * global state and may be called from any thread for its own connection.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PGresult, PQclear)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PGconn, PQfinish)

/* Default connect timeout in seconds when @conninfo does not set one. */
#define SPOT_PG_CONNECT_TIMEOUT_S 10

/* A one-way stop switch for a database thread's connects: once triggered
 * (from any thread), a connect in progress with it returns at once and
 * every later one fails immediately with SPOT_ERROR_CANCELLED. An eventfd
 * the connect polls beside the server's socket, so a thread waiting for an
 * unresponsive server can be stopped and joined.
 *
 * Thread safety: new/free by the owner; trigger and is_triggered from any
 * thread. */
typedef struct _SpotPgInterrupt SpotPgInterrupt;

SpotPgInterrupt *spot_pg_interrupt_new (GError **error);
void spot_pg_interrupt_trigger (SpotPgInterrupt *interrupt);
gboolean spot_pg_interrupt_is_triggered (SpotPgInterrupt *interrupt);
void spot_pg_interrupt_free (SpotPgInterrupt *interrupt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotPgInterrupt, spot_pg_interrupt_free)

/* Opens a connection for @conninfo (a key=value string or a postgres:// URI,
 * anything libpq accepts: TCP, TLS, unix sockets). Sets application_name and a
 * connect timeout unless @conninfo sets them. Fails with SPOT_ERROR_DATABASE
 * and libpq's reason; the message never contains the password.
 *
 * The connect is non-blocking (PQconnectStartParams/PQconnectPoll with
 * poll()); connect_timeout bounds the wait on each server address (an
 * address that fails at once moves on to the next, as in libpq; one that
 * times out ends the connect). With @interrupt (may be NULL) it ends within milliseconds of
 * spot_pg_interrupt_trigger(), failing with SPOT_ERROR_CANCELLED. Host name
 * resolution (getaddrinfo) alone cannot be interrupted. */
PGconn *spot_pg_connect_interruptible (const char *conninfo,
                                       const char *application_name,
                                       SpotPgInterrupt *interrupt,
                                       GError **error);
/* spot_pg_connect_interruptible() without an interrupt. */
PGconn *spot_pg_connect (const char *conninfo, const char *application_name, GError **error);

/* Runs @sql (simple protocol, may hold several statements) and checks that it
 * succeeded. */
gboolean spot_pg_exec (PGconn *conn, const char *sql, GError **error);

/* Runs @sql with text parameters (NULL entries are SQL NULL) and returns the
 * result when it is PGRES_COMMAND_OK or PGRES_TUPLES_OK. */
PGresult *spot_pg_exec_params (PGconn *conn,
                               const char *sql,
                               int n_params,
                               const char *const *values,
                               GError **error);

/* Sets @error from a failed @result (or from the connection when @result is
 * NULL): SPOT_ERROR_DATABASE, "<what>: <message> (SQLSTATE xxxxx)". */
void spot_pg_set_error (GError **error, PGconn *conn, const PGresult *result, const char *what);

/* TRUE when the last failure on @conn means the server is unreachable or went
 * away (retry later) rather than a rejected statement (retrying is useless). */
gboolean spot_pg_connection_lost (PGconn *conn, const PGresult *result);

/* TRUE when @error (set by these helpers or the store) means the server
 * refused the statement for its content (a constraint, a bad value: retrying
 * the same rows is useless) rather than the server being unreachable,
 * shutting down or overloaded (SQLSTATE classes 08, 53, 57P, 40001, 40P01,
 * 55P03, or no SQLSTATE at all: retry later). */
gboolean spot_pg_error_is_refusal (const GError *error);

/* A conninfo with any password removed, for logs. */
char *spot_pg_describe_conninfo (const char *conninfo);

G_END_DECLS
