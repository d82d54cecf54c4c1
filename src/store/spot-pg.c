#define G_LOG_DOMAIN "spot-store"

#include "store/spot-pg.h"

#include <string.h>

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

PGconn *
spot_pg_connect (const char *conninfo, const char *application_name, GError **error)
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
  g_autoptr (PGconn) conn = PQconnectdbParams (keywords, values, 1);

  if (conn == NULL)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_DATABASE, "cannot allocate a libpq connection");
      return NULL;
    }
  if (PQstatus (conn) != CONNECTION_OK)
    {
      g_autofree char *where = spot_pg_describe_conninfo (conninfo);
      g_autofree char *msg = g_strdup (PQerrorMessage (conn));
      /* One log line: libpq splits its hints over several. */
      g_strdelimit (g_strstrip (msg), "\n\t", ' ');
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_DATABASE,
                   "cannot connect to PostgreSQL (%s): %s", where, msg);
      return NULL;
    }
  PQsetNoticeProcessor (conn, notice_to_debug, NULL);
  return g_steal_pointer (&conn);
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
