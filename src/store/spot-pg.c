#define G_LOG_DOMAIN "spot-store"

#include "store/spot-pg.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/spot-error.h"

/* 08: connection exception; 57P0x: shutdown / cannot connect now;
 * 53: insufficient resources; 40001/40P01: serialization failure / deadlock;
 * 55P03: lock not available. All worth retrying later. */
static gboolean
sqlstate_is_transient (const char *state)
{
  return g_str_has_prefix (state, "08") || g_str_has_prefix (state, "57P")
         || g_str_has_prefix (state, "53") || strncmp (state, "40001", 5) == 0
         || strncmp (state, "40P01", 5) == 0 || strncmp (state, "55P03", 5) == 0;
}

/* NOTICEs (IF NOT EXISTS skips, the migration's TimescaleDB note) go to the
 * debug log instead of libpq's default, stderr. */
static void
notice_to_debug (void *arg, const char *message)
{
  g_autofree char *text = g_strdup (message);
  g_debug ("PostgreSQL: %s", g_strstrip (text));
}

struct _SpotPgInterrupt
{
  int fd; /* eventfd, never read: once written it stays readable */
  gint triggered;
};

SpotPgInterrupt *
spot_pg_interrupt_new (GError **error)
{
  SpotPgInterrupt *interrupt;
  int fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);

  if (fd < 0)
    {
      int saved_errno = errno;
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, "cannot create an eventfd: %s",
                   g_strerror (saved_errno));
      return NULL;
    }
  interrupt = g_new0 (SpotPgInterrupt, 1);
  interrupt->fd = fd;
  return interrupt;
}

void
spot_pg_interrupt_trigger (SpotPgInterrupt *interrupt)
{
  guint64 one = 1;

  if (interrupt == NULL)
    return;
  if (!g_atomic_int_compare_and_exchange (&interrupt->triggered, 0, 1))
    return;
  /* Cannot fail short of a counter overflow: written once. */
  if (write (interrupt->fd, &one, sizeof one) != sizeof one)
    g_warning ("cannot signal the database interrupt: %s", g_strerror (errno));
}

gboolean
spot_pg_interrupt_is_triggered (SpotPgInterrupt *interrupt)
{
  return interrupt != NULL && g_atomic_int_get (&interrupt->triggered) != 0;
}

void
spot_pg_interrupt_free (SpotPgInterrupt *interrupt)
{
  if (interrupt == NULL)
    return;
  close (interrupt->fd);
  g_free (interrupt);
}

/* libpq's connect_timeout of @conn in seconds (0: none); as libpq, values
 * 1 are raised to 2. */
static int
effective_connect_timeout (PGconn *conn)
{
  PQconninfoOption *opts = PQconninfo (conn);
  int seconds = 0;

  if (opts == NULL)
    return SPOT_PG_CONNECT_TIMEOUT_S;
  for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
    if (strcmp (o->keyword, "connect_timeout") == 0 && o->val != NULL)
      seconds = atoi (o->val);
  PQconninfoFree (opts);
  if (seconds < 0)
    seconds = 0;
  if (seconds == 1)
    seconds = 2;
  return seconds;
}

static void
set_connect_error (GError **error, const char *conninfo, int code, const char *reason)
{
  g_autofree char *where = spot_pg_describe_conninfo (conninfo);
  g_autofree char *msg = g_strdup (reason);

  /* One log line: libpq splits its hints over several. */
  g_strdelimit (g_strstrip (msg), "\n\t", ' ');
  g_set_error (error, SPOT_ERROR, code, "cannot connect to PostgreSQL (%s): %s", where, msg);
}

/* Drives PQconnectPoll until the connection is made, fails, times out or is
 * interrupted. */
static gboolean
connect_poll (PGconn *conn, const char *conninfo, SpotPgInterrupt *interrupt, GError **error)
{
  PostgresPollingStatusType status = PGRES_POLLING_WRITING; /* as libpq asks to start */
  int timeout_s = effective_connect_timeout (conn);
  int socket_fd = -1;
  gint64 deadline = 0;

  for (;;)
    {
      struct pollfd fds[2];
      int n_fds = 0;
      int wait_ms = -1;
      int rc;

      if (status == PGRES_POLLING_OK)
        return TRUE;
      if (status == PGRES_POLLING_FAILED)
        {
          set_connect_error (error, conninfo, SPOT_ERROR_DATABASE, PQerrorMessage (conn));
          return FALSE;
        }
      /* A new socket is a new address or host: its own timeout, as libpq. */
      if (PQsocket (conn) != socket_fd)
        {
          socket_fd = PQsocket (conn);
          deadline = timeout_s > 0 ? g_get_monotonic_time () + (gint64)timeout_s * G_USEC_PER_SEC
                                   : 0;
        }
      if (socket_fd < 0)
        {
          set_connect_error (error, conninfo, SPOT_ERROR_DATABASE, PQerrorMessage (conn));
          return FALSE;
        }
      fds[n_fds].fd = socket_fd;
      fds[n_fds].events = status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
      fds[n_fds++].revents = 0;
      if (interrupt != NULL)
        {
          fds[n_fds].fd = interrupt->fd;
          fds[n_fds].events = POLLIN;
          fds[n_fds++].revents = 0;
        }
      if (deadline > 0)
        {
          gint64 left = deadline - g_get_monotonic_time ();
          wait_ms = left > 0 ? (int)((left + 999) / 1000) : 0;
        }
      rc = poll (fds, n_fds, wait_ms);
      if (rc < 0 && errno == EINTR)
        continue;
      if (rc < 0)
        {
          set_connect_error (error, conninfo, SPOT_ERROR_IO, g_strerror (errno));
          return FALSE;
        }
      if (spot_pg_interrupt_is_triggered (interrupt))
        {
          set_connect_error (error, conninfo, SPOT_ERROR_CANCELLED, "stopped while connecting");
          return FALSE;
        }
      if (rc == 0)
        {
          /* libpq would try the next address or host here; with one
           * server (the usual case) this is the end. */
          set_connect_error (error, conninfo, SPOT_ERROR_DATABASE, "timeout expired");
          return FALSE;
        }
      status = PQconnectPoll (conn);
    }
}

PGconn *
spot_pg_connect_interruptible (const char *conninfo,
                               const char *application_name,
                               SpotPgInterrupt *interrupt,
                               GError **error)
{
  g_autofree char *timeout = g_strdup_printf ("%d", SPOT_PG_CONNECT_TIMEOUT_S);
  /* With expand_dbname the "dbname" entry is parsed as a full conninfo and its
   * settings override the earlier entries, so the caller's wins. */
  /* Over TCP, a server that vanished without closing the connection is
   * noticed within about 30 s instead of the kernel's minutes (ignored for
   * unix sockets). */
  /* GSSAPI encryption is off unless the connection string asks for it: with
   * libpq's default ("prefer") every connect goes through Kerberos, whose
   * thread-specific state aborts the process ("krb5int_getspecific:
   * Assertion ... failed") when the service exits while a database thread
   * is still connecting to an unresponsive server. */
  const char *keywords[] = { "connect_timeout", "application_name", "keepalives_idle",
                             "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                             "gssencmode", "dbname", NULL };
  const char *values[] = { timeout,
                           application_name != NULL ? application_name : "spot-canvas",
                           "10", "5", "3", "30000", "disable",
                           conninfo != NULL ? conninfo : "", NULL };
  g_autoptr (PGconn) conn = NULL;

  if (spot_pg_interrupt_is_triggered (interrupt))
    {
      set_connect_error (error, conninfo, SPOT_ERROR_CANCELLED, "stopped before connecting");
      return NULL;
    }
  conn = PQconnectStartParams (keywords, values, 1);
  if (conn == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_DATABASE, "cannot allocate a libpq connection");
      return NULL;
    }
  if (PQstatus (conn) == CONNECTION_BAD)
    {
      set_connect_error (error, conninfo, SPOT_ERROR_DATABASE, PQerrorMessage (conn));
      return NULL;
    }
  if (!connect_poll (conn, conninfo, interrupt, error))
    return NULL;
  PQsetNoticeProcessor (conn, notice_to_debug, NULL);
  return g_steal_pointer (&conn);
}

PGconn *
spot_pg_connect (const char *conninfo, const char *application_name, GError **error)
{
  return spot_pg_connect_interruptible (conninfo, application_name, NULL, error);
}

void
spot_pg_set_error (GError **error, PGconn *conn, const PGresult *result, const char *what)
{
  g_autofree char *msg = NULL;
  const char *state = NULL;

  if (result != NULL && PQresultErrorMessage (result)[0] != '\0')
    msg = g_strdup (PQresultErrorMessage (result));
  else if (conn != NULL)
    msg = g_strdup (PQerrorMessage (conn));
  else
    msg = g_strdup ("no connection");
  g_strstrip (msg);
  /* Keep the first line: the rest repeats the statement. */
  char *nl = strchr (msg, '\n');
  if (nl != NULL)
    *nl = '\0';
  if (g_str_has_prefix (msg, "ERROR:  "))
    memmove (msg, msg + 8, strlen (msg + 8) + 1);
  if (result != NULL)
    state = PQresultErrorField (result, PG_DIAG_SQLSTATE);
  if (state != NULL)
    g_set_error (error, SPOT_ERROR, SPOT_ERROR_DATABASE, "%s: %s (SQLSTATE %s)", what, msg, state);
  else
    g_set_error (error, SPOT_ERROR, SPOT_ERROR_DATABASE, "%s: %s", what, msg);
}

gboolean
spot_pg_exec (PGconn *conn, const char *sql, GError **error)
{
  g_autoptr (PGresult) res = PQexec (conn, sql);
  ExecStatusType st = res != NULL ? PQresultStatus (res) : PGRES_FATAL_ERROR;

  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    {
      g_autofree char *what = g_strdup_printf ("statement \"%.60s\" failed", sql);
      spot_pg_set_error (error, conn, res, what);
      return FALSE;
    }
  return TRUE;
}

PGresult *
spot_pg_exec_params (PGconn *conn,
                     const char *sql,
                     int n_params,
                     const char *const *values,
                     GError **error)
{
  g_autoptr (PGresult) res = PQexecParams (conn, sql, n_params, NULL, values, NULL, NULL, 0);
  ExecStatusType st = res != NULL ? PQresultStatus (res) : PGRES_FATAL_ERROR;

  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    {
      g_autofree char *what = g_strdup_printf ("statement \"%.60s\" failed", sql);
      spot_pg_set_error (error, conn, res, what);
      return NULL;
    }
  return g_steal_pointer (&res);
}

gboolean
spot_pg_connection_lost (PGconn *conn, const PGresult *result)
{
  const char *state;

  if (conn == NULL || PQstatus (conn) != CONNECTION_OK)
    return TRUE;
  if (result == NULL)
    return TRUE;
  state = PQresultErrorField (result, PG_DIAG_SQLSTATE);
  if (state == NULL)
    return TRUE; /* client-side failure: the socket broke */
  return sqlstate_is_transient (state);
}

gboolean
spot_pg_error_is_refusal (const GError *error)
{
  const char *tag;

  if (error == NULL || error->domain != SPOT_ERROR)
    return FALSE;
  if (error->code == SPOT_ERROR_INVALID_ARGUMENT)
    return TRUE;
  if (error->code != SPOT_ERROR_DATABASE)
    return FALSE;
  /* spot_pg_set_error() ends the message with the server's SQLSTATE. */
  tag = g_strrstr (error->message, "(SQLSTATE ");
  if (tag == NULL || strlen (tag) < strlen ("(SQLSTATE xxxxx)"))
    return FALSE;
  return !sqlstate_is_transient (tag + strlen ("(SQLSTATE "));
}

char *
spot_pg_describe_conninfo (const char *conninfo)
{
  PQconninfoOption *opts;
  g_autoptr (GString) out = g_string_new (NULL);

  if (conninfo == NULL || conninfo[0] == '\0')
    return g_strdup ("libpq defaults");
  opts = PQconninfoParse (conninfo, NULL);
  if (opts == NULL)
    return g_strdup ("unparsable conninfo");
  for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
    {
      if (o->val == NULL || o->val[0] == '\0')
        continue;
      if (strcmp (o->keyword, "host") != 0 && strcmp (o->keyword, "hostaddr") != 0
          && strcmp (o->keyword, "port") != 0 && strcmp (o->keyword, "dbname") != 0
          && strcmp (o->keyword, "user") != 0)
        continue;
      g_string_append_printf (out, "%s%s=%s", out->len > 0 ? " " : "", o->keyword, o->val);
    }
  PQconninfoFree (opts);
  if (out->len == 0)
    g_string_append (out, "libpq defaults");
  return g_string_free (g_steal_pointer (&out), FALSE);
}
