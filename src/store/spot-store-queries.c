#define G_LOG_DOMAIN "spot-store"

#include "store/spot-store-queries.h"

#include <stdlib.h>
#include <string.h>

#include "core/spot-error.h"
#include "store/spot-pg.h"

#define UPSERT_ONE_NAME "spot_upsert_candle"
/* Bound on parameters of one statement (libpq/protocol limit is 65535). */
#define VALUES_MAX_ROWS (65535 / SPOT_STORE_CANDLE_COLUMNS)

gboolean
spot_store_upsert_candle (PGconn *conn, const SpotCandle *candle, gboolean *applied, GError **error)
{
  SpotStoreCandleParams p;
  g_autoptr (PGresult) res = NULL;

  if (!spot_store_candle_check (candle, error))
    return FALSE;
  spot_store_candle_params (candle, &p);
  if (PQtransactionStatus (conn) != PQTRANS_IDLE)
    /* Inside a transaction a failed lookup of the prepared statement would
     * abort it: send the text (one round trip all the same). */
    res = PQexecParams (conn, spot_store_upsert_one_sql (), SPOT_STORE_CANDLE_COLUMNS, NULL,
                        p.values, NULL, NULL, 0);
  else
    res = PQexecPrepared (conn, UPSERT_ONE_NAME, SPOT_STORE_CANDLE_COLUMNS, p.values, NULL, NULL, 0);
  if (PQresultStatus (res) == PGRES_FATAL_ERROR
      && g_strcmp0 (PQresultErrorField (res, PG_DIAG_SQLSTATE), "26000") == 0)
    {
      /* First use on this connection: prepare, then run again. */
      g_autoptr (PGresult) prep = PQprepare (conn, UPSERT_ONE_NAME, spot_store_upsert_one_sql (),
                                             SPOT_STORE_CANDLE_COLUMNS, NULL);
      if (PQresultStatus (prep) != PGRES_COMMAND_OK)
        {
          spot_pg_set_error (error, conn, prep, "cannot prepare the candle upsert");
          return FALSE;
        }
      PQclear (res);
      res = PQexecPrepared (conn, UPSERT_ONE_NAME, SPOT_STORE_CANDLE_COLUMNS, p.values, NULL,
                            NULL, 0);
    }
  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    {
      g_autofree char *what = g_strdup_printf ("upsert of candle %s %s %" G_GINT64_FORMAT " failed",
                                               candle->product_id,
                                               spot_granularity_name (candle->granularity),
                                               candle->start);
      spot_pg_set_error (error, conn, res, what);
      return FALSE;
    }
  if (applied != NULL)
    *applied = PQntuples (res) > 0;
  return TRUE;
}

static int
candle_key_cmp (gconstpointer a, gconstpointer b)
{
  return spot_store_candle_key_compare (a, b);
}

/* Sorted by key with one winner per key: ON CONFLICT cannot touch a row twice
 * in one statement, and a fixed order avoids lock-order deadlocks. */
static GArray *
reduce_batch (const SpotCandle *candles, guint n)
{
  GArray *out = g_array_sized_new (FALSE, FALSE, sizeof (SpotCandle), n);
  guint w = 0;

  g_array_append_vals (out, candles, n);
  g_array_sort (out, candle_key_cmp);
  for (guint r = 0; r < out->len; r++)
    {
      SpotCandle *c = &g_array_index (out, SpotCandle, r);
      if (w > 0)
        {
          SpotCandle *last = &g_array_index (out, SpotCandle, w - 1);
          if (spot_store_candle_key_compare (last, c) == 0)
            {
              if (spot_store_candle_supersedes (c, last))
                *last = *c;
              continue;
            }
        }
      if (w != r)
        g_array_index (out, SpotCandle, w) = *c;
      w++;
    }
  g_array_set_size (out, w);
  return out;
}

static guint
affected_rows (PGresult *res)
{
  const char *t = PQcmdTuples (res);
  return t != NULL && t[0] != '\0' ? (guint) strtoul (t, NULL, 10) : 0;
}

static gboolean
upsert_values (PGconn *conn, const SpotCandle *c, guint n, guint *applied, GError **error)
{
  for (guint off = 0; off < n; off += VALUES_MAX_ROWS)
    {
      guint m = MIN (n - off, VALUES_MAX_ROWS);
      g_autofree char *sql = spot_store_build_values_sql (m);
      g_autofree SpotStoreCandleParams *p = g_new (SpotStoreCandleParams, m);
      g_autofree const char **values = g_new (const char *, (gsize) m * SPOT_STORE_CANDLE_COLUMNS);
      g_autoptr (PGresult) res = NULL;

      for (guint i = 0; i < m; i++)
        {
          spot_store_candle_params (&c[off + i], &p[i]);
          memcpy (&values[i * SPOT_STORE_CANDLE_COLUMNS], p[i].values, sizeof p[i].values);
        }
      res = spot_pg_exec_params (conn, sql, (int) (m * SPOT_STORE_CANDLE_COLUMNS), values, error);
      if (res == NULL)
        return FALSE;
      *applied += affected_rows (res);
    }
  return TRUE;
}

static gboolean
upsert_unnest (PGconn *conn, const SpotCandle *c, guint n, guint *applied, GError **error)
{
  GString *arrays[SPOT_STORE_CANDLE_COLUMNS];
  const char *values[SPOT_STORE_CANDLE_COLUMNS];
  g_autoptr (PGresult) res = NULL;

  for (guint i = 0; i < SPOT_STORE_CANDLE_COLUMNS; i++)
    arrays[i] = g_string_sized_new (n * 12 + 2);
  for (guint r = 0; r < n; r++)
    {
      SpotStoreCandleParams p;
      spot_store_candle_params (&c[r], &p);
      spot_store_unnest_append (arrays, &p);
    }
  spot_store_unnest_finish (arrays);
  for (guint i = 0; i < SPOT_STORE_CANDLE_COLUMNS; i++)
    values[i] = arrays[i]->str;
  res = spot_pg_exec_params (conn, spot_store_upsert_unnest_sql (), SPOT_STORE_CANDLE_COLUMNS,
                             values, error);
  for (guint i = 0; i < SPOT_STORE_CANDLE_COLUMNS; i++)
    g_string_free (arrays[i], TRUE);
  if (res == NULL)
    return FALSE;
  *applied += affected_rows (res);
  return TRUE;
}

static void
rollback_quietly (PGconn *conn)
{
  if (PQstatus (conn) == CONNECTION_OK && PQtransactionStatus (conn) != PQTRANS_IDLE)
    {
      PGresult *r = PQexec (conn, "ROLLBACK");
      PQclear (r);
    }
}

static gboolean
upsert_copy (PGconn *conn, const SpotCandle *c, guint n, guint *applied, GError **error)
{
  g_autoptr (GString) buf = g_string_sized_new (n * 120);
  g_autofree char *start_sql = g_strdup_printf ("BEGIN; %s; %s", spot_store_stage_create_sql (),
                                                spot_store_stage_copy_sql ());
  g_autofree char *merge_sql = g_strdup_printf ("%s; COMMIT", spot_store_stage_merge_sql ());
  g_autoptr (PGresult) res = NULL;
  PGresult *r;
  guint merged = 0;
  gboolean ok = TRUE;

  for (guint i = 0; i < n; i++)
    {
      SpotStoreCandleParams p;
      spot_store_candle_params (&c[i], &p);
      spot_store_copy_append (buf, &p);
    }
  res = PQexec (conn, start_sql);
  if (PQresultStatus (res) != PGRES_COPY_IN)
    {
      spot_pg_set_error (error, conn, res, "cannot start COPY into the staging table");
      rollback_quietly (conn);
      return FALSE;
    }
  if (PQputCopyData (conn, buf->str, (int) buf->len) != 1 || PQputCopyEnd (conn, NULL) != 1)
    {
      spot_pg_set_error (error, conn, NULL, "COPY into the staging table failed");
      return FALSE;
    }
  while ((r = PQgetResult (conn)) != NULL)
    {
      if (ok && PQresultStatus (r) != PGRES_COMMAND_OK)
        {
          spot_pg_set_error (error, conn, r, "COPY into the staging table failed");
          ok = FALSE;
        }
      PQclear (r);
    }
  if (!ok)
    {
      rollback_quietly (conn);
      return FALSE;
    }
  /* PQexec returns the last result (COMMIT); the merge's count comes first. */
  if (!PQsendQuery (conn, merge_sql))
    {
      spot_pg_set_error (error, conn, NULL, "cannot send the staging merge");
      rollback_quietly (conn);
      return FALSE;
    }
  while ((r = PQgetResult (conn)) != NULL)
    {
      if (ok && PQresultStatus (r) != PGRES_COMMAND_OK)
        {
          spot_pg_set_error (error, conn, r, "merge of the staging table failed");
          ok = FALSE;
        }
      else if (ok && g_str_has_prefix (PQcmdStatus (r), "INSERT"))
        merged = affected_rows (r);
      PQclear (r);
    }
  if (!ok)
    {
      rollback_quietly (conn);
      return FALSE;
    }
  *applied += merged;
  return TRUE;
}

gboolean
spot_store_upsert_candles (PGconn *conn,
                           SpotStoreStrategy strategy,
                           const SpotCandle *candles,
                           guint n,
                           guint *n_applied,
                           GError **error)
{
  g_autoptr (GArray) batch = NULL;
  guint applied = 0;
  gboolean ok = FALSE;

  if (n_applied != NULL)
    *n_applied = 0;
  for (guint i = 0; i < n; i++)
    if (!spot_store_candle_check (&candles[i], error))
      return FALSE;
  if (n == 0)
    return TRUE;
  batch = reduce_batch (candles, n);
  switch (strategy)
    {
    case SPOT_STORE_STRATEGY_VALUES:
      ok = upsert_values (conn, (SpotCandle *) batch->data, batch->len, &applied, error);
      break;
    case SPOT_STORE_STRATEGY_UNNEST:
      ok = upsert_unnest (conn, (SpotCandle *) batch->data, batch->len, &applied, error);
      break;
    case SPOT_STORE_STRATEGY_COPY:
      ok = upsert_copy (conn, (SpotCandle *) batch->data, batch->len, &applied, error);
      break;
    default:
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT, "unknown upsert strategy %d",
                   (int) strategy);
      return FALSE;
    }
  if (ok && n_applied != NULL)
    *n_applied = applied;
  return ok;
}

/* Products */

static SpotProduct *
product_from_row (PGresult *res, int row)
{
  return spot_product_new (PQgetvalue (res, row, 0), PQgetvalue (res, row, 1),
                           PQgetvalue (res, row, 2), PQgetvalue (res, row, 3),
                           PQgetvalue (res, row, 4)[0] == 't');
}

GPtrArray *
spot_store_get_products (PGconn *conn, gboolean active_only, GError **error)
{
  g_autoptr (PGresult) res = spot_pg_exec_params (
      conn,
      active_only ? "SELECT product_id, base, quote, status, active FROM products WHERE active "
                    "ORDER BY product_id"
                  : "SELECT product_id, base, quote, status, active FROM products "
                    "ORDER BY product_id",
      0, NULL, error);
  GPtrArray *out;

  if (res == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) spot_product_free);
  for (int r = 0; r < PQntuples (res); r++)
    g_ptr_array_add (out, product_from_row (res, r));
  return out;
}

static gboolean
check_product (const SpotProduct *product, GError **error)
{
  if (product == NULL || !spot_product_id_validate (product->product_id, error))
    {
      if (product == NULL)
        g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT, "no product given");
      return FALSE;
    }
  return TRUE;
}

gboolean
spot_store_put_product (PGconn *conn, const SpotProduct *product, GError **error)
{
  const char *values[5];
  g_autoptr (PGresult) res = NULL;

  if (!check_product (product, error))
    return FALSE;
  values[0] = product->product_id;
  values[1] = product->base != NULL ? product->base : "";
  values[2] = product->quote != NULL ? product->quote : "";
  values[3] = product->status != NULL ? product->status : "online";
  values[4] = product->active ? "t" : "f";
  res = spot_pg_exec_params (conn,
                             "INSERT INTO products (product_id, base, quote, status, active) "
                             "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (product_id) DO UPDATE SET "
                             "base = EXCLUDED.base, quote = EXCLUDED.quote, "
                             "status = EXCLUDED.status, updated_at = now()",
                             5, values, error);
  return res != NULL;
}

gboolean
spot_store_update_product (PGconn *conn, const SpotProduct *product, GError **error)
{
  const char *values[4];
  g_autoptr (PGresult) res = NULL;

  if (!check_product (product, error))
    return FALSE;
  values[0] = product->product_id;
  values[1] = product->base != NULL ? product->base : "";
  values[2] = product->quote != NULL ? product->quote : "";
  values[3] = product->status != NULL ? product->status : "online";
  res = spot_pg_exec_params (conn,
                             "UPDATE products SET base = $2, quote = $3, status = $4, "
                             "updated_at = now() WHERE product_id = $1",
                             4, values, error);
  if (res == NULL)
    return FALSE;
  if (affected_rows (res) == 0)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND, "product %s is not stored",
                   product->product_id);
      return FALSE;
    }
  return TRUE;
}

gboolean
spot_store_set_product_active (PGconn *conn, const char *product_id, gboolean active, GError **error)
{
  const char *values[2] = { product_id, active ? "t" : "f" };
  g_autoptr (PGresult) res = NULL;

  if (!spot_product_id_validate (product_id, error))
    return FALSE;
  res = spot_pg_exec_params (conn,
                             "UPDATE products SET active = $2, updated_at = now() "
                             "WHERE product_id = $1",
                             2, values, error);
  if (res == NULL)
    return FALSE;
  if (affected_rows (res) == 0)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_NOT_FOUND, "product %s is not stored", product_id);
      return FALSE;
    }
  return TRUE;
}

gboolean
spot_store_replace_active_products (PGconn *conn, const char *const *ids, GError **error)
{
  g_autoptr (GString) list = g_string_new ("{");
  const char *values[1];
  g_autoptr (PGresult) res = NULL;

  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    {
      if (!spot_product_id_validate (ids[i], error))
        return FALSE;
      g_string_append_printf (list, "%s%s", i > 0 ? "," : "", ids[i]);
    }
  g_string_append_c (list, '}');
  values[0] = list->str;
  /* One statement is one transaction: data-modifying CTEs see the same
   * snapshot, and the insert's conflict update activates existing rows. */
  res = spot_pg_exec_params (
      conn,
      "WITH wanted AS (SELECT unnest($1::text[]) AS id), "
      "off AS (UPDATE products SET active = false, updated_at = now() "
      "        WHERE active AND product_id NOT IN (SELECT id FROM wanted)) "
      "INSERT INTO products (product_id, base, quote, status, active) "
      "SELECT id, split_part(id, '-', 1), split_part(id, '-', 2), 'online', true FROM wanted "
      "ON CONFLICT (product_id) DO UPDATE SET active = true, updated_at = now() "
      "WHERE NOT products.active",
      1, values, error);
  return res != NULL;
}

/* Seeding */

void
spot_store_seed_clear (SpotStoreSeed *seed)
{
  g_clear_pointer (&seed->candles, g_array_unref);
  seed->last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
}

static GArray *
candles_from_result (PGresult *res, GError **error)
{
  g_autoptr (GArray) out = g_array_sized_new (FALSE, FALSE, sizeof (SpotCandle),
                                              (guint) PQntuples (res));
  for (int r = 0; r < PQntuples (res); r++)
    {
      SpotCandle c;
      if (!spot_store_candle_from_row (res, r, 0, &c, error))
        return NULL;
      g_array_append_val (out, c);
    }
  return g_steal_pointer (&out);
}

gboolean
spot_store_load_seed (PGconn *conn,
                      const char *product_id,
                      gint64 now_s,
                      gint64 horizon_s,
                      SpotStoreSeed *out,
                      GError **error)
{
  char since[SPOT_GRANULARITY_COUNT][24];
  char horizon[24];
  /* $1 product, $2 horizon, then per granularity: name, first start. */
  const char *values[2 + 2 * SPOT_GRANULARITY_COUNT];
  g_autoptr (GString) sql = g_string_new (NULL);
  g_autoptr (PGresult) res = NULL;
  g_autoptr (PGresult) last = NULL;
  const char *last_values[2];

  out->candles = NULL;
  out->last_trade_id = SPOT_CANDLE_TRADE_ID_UNKNOWN;
  if (!spot_product_id_validate (product_id, error))
    return FALSE;
  g_snprintf (horizon, sizeof horizon, "%" G_GINT64_FORMAT, horizon_s);
  values[0] = product_id;
  values[1] = horizon;
  for (int g = 0; g < SPOT_GRANULARITY_COUNT; g++)
    {
      SpotGranularity parents[2];
      guint np = spot_granularity_parents ((SpotGranularity) g, parents);
      gint64 from = spot_granularity_align ((SpotGranularity) g, now_s);
      /* The open bucket itself and the closed children of each open parent. */
      for (guint i = 0; i < np; i++)
        from = MIN (from, spot_granularity_align (parents[i], now_s));
      g_snprintf (since[g], sizeof since[g], "%" G_GINT64_FORMAT, from);
      values[2 + 2 * g] = spot_granularity_name ((SpotGranularity) g);
      values[3 + 2 * g] = since[g];
      g_string_append_printf (sql,
                              "%sSELECT " SPOT_STORE_SELECT_COLUMNS ", %d AS g, start AS s "
                              "FROM candles WHERE product_id = $1 AND granularity = $%d "
                              "AND start >= to_timestamp($%d::bigint)",
                              g == 0 ? "" : " UNION ", g, 3 + 2 * g, 4 + 2 * g);
    }
  g_string_append (sql,
                   " UNION SELECT " SPOT_STORE_SELECT_COLUMNS ", CASE granularity"
                   " WHEN 'ONE_MINUTE' THEN 0 WHEN 'FIVE_MINUTE' THEN 1"
                   " WHEN 'FIFTEEN_MINUTE' THEN 2 WHEN 'THIRTY_MINUTE' THEN 3"
                   " WHEN 'ONE_HOUR' THEN 4 WHEN 'TWO_HOUR' THEN 5 WHEN 'FOUR_HOUR' THEN 6"
                   " WHEN 'SIX_HOUR' THEN 7 ELSE 8 END AS g, start AS s"
                   " FROM candles WHERE product_id = $1 AND NOT complete"
                   " AND start >= to_timestamp($2::bigint) ORDER BY g, s");
  res = spot_pg_exec_params (conn, sql->str, G_N_ELEMENTS (values), values, error);
  if (res == NULL)
    {
      g_prefix_error (error, "cannot load the stored candles of %s: ", product_id);
      return FALSE;
    }
  last_values[0] = product_id;
  last_values[1] = horizon;
  /* Trade ids grow with time: the recent minutes hold the highest, and an
   * index scan backwards finds it when they are all REST candles. */
  last = spot_pg_exec_params (
      conn,
      "SELECT COALESCE((SELECT max(last_trade_id) FROM candles WHERE product_id = $1 "
      "AND granularity = 'ONE_MINUTE' AND start >= to_timestamp($2::bigint)), "
      "(SELECT last_trade_id FROM candles WHERE product_id = $1 AND granularity = 'ONE_MINUTE' "
      "AND last_trade_id IS NOT NULL ORDER BY start DESC LIMIT 1))",
      2, last_values, error);
  if (last == NULL)
    {
      g_prefix_error (error, "cannot load the last trade id of %s: ", product_id);
      return FALSE;
    }
  out->candles = candles_from_result (res, error);
  if (out->candles == NULL)
    return FALSE;
  if (PQntuples (last) > 0 && !PQgetisnull (last, 0, 0))
    out->last_trade_id = g_ascii_strtoull (PQgetvalue (last, 0, 0), NULL, 10);
  return TRUE;
}

/* Late repairs */

GArray *
spot_store_apply_repair (PGconn *conn,
                         const char *product_id,
                         gint64 minute_start,
                         const SpotCandle *minute,
                         GError **error)
{
  g_autoptr (GArray) written = g_array_new (FALSE, FALSE, sizeof (SpotCandle));

  if (!spot_product_id_validate (product_id, error))
    return NULL;
  if (minute != NULL
      && (minute->granularity != SPOT_GRANULARITY_ONE_MINUTE || minute->start != minute_start
          || strcmp (minute->product_id, product_id) != 0))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "repair of %s %" G_GINT64_FORMAT " was given a different candle (%s %s %" G_GINT64_FORMAT ")",
                   product_id, minute_start, minute->product_id,
                   spot_granularity_name (minute->granularity), minute->start);
      return NULL;
    }
  if (minute != NULL && !spot_store_candle_check (minute, error))
    return NULL;
  if (!spot_pg_exec (conn, "BEGIN", error))
    return NULL;
  if (minute != NULL)
    {
      /* The ordinary upsert would keep a stored live minute (rev >= 1) over
       * the REST one (rev 0): a repair replaces it as a new revision. */
      SpotCandle final = *minute;
      SpotStoreCandleParams p;
      g_autoptr (PGresult) res = NULL;

      final.complete = TRUE;
      spot_store_candle_params (&final, &p);
      res = PQexecParams (conn, spot_store_upsert_repair_sql (), SPOT_STORE_CANDLE_COLUMNS, NULL,
                          p.values, NULL, NULL, 0);
      if (PQresultStatus (res) != PGRES_TUPLES_OK)
        {
          g_autofree char *what = g_strdup_printf ("repair of %s ONE_MINUTE %" G_GINT64_FORMAT
                                                   " failed", product_id, minute_start);
          spot_pg_set_error (error, conn, res, what);
          rollback_quietly (conn);
          return NULL;
        }
      if (PQntuples (res) > 0)
        {
          final.rev = g_ascii_strtoull (PQgetvalue (res, 0, 0), NULL, 10);
          g_array_append_val (written, final);
        }
    }
  /* Enum order is tree order: each level is computed after its children. */
  for (int g = SPOT_GRANULARITY_FIVE_MINUTE; g < SPOT_GRANULARITY_COUNT; g++)
    {
      SpotGranularity child = spot_granularity_child ((SpotGranularity) g);
      char bucket[24], size[24];
      const char *values[5];
      g_autoptr (PGresult) res = NULL;
      g_autoptr (GArray) rows = NULL;

      g_snprintf (bucket, sizeof bucket, "%" G_GINT64_FORMAT,
                  spot_granularity_align ((SpotGranularity) g, minute_start));
      g_snprintf (size, sizeof size, "%" G_GINT64_FORMAT,
                  spot_granularity_seconds ((SpotGranularity) g));
      values[0] = product_id;
      values[1] = spot_granularity_name (child);
      values[2] = spot_granularity_name ((SpotGranularity) g);
      values[3] = bucket;
      values[4] = size;
      res = spot_pg_exec_params (
          conn,
          "WITH agg AS ("
          " SELECT (array_agg(open ORDER BY start))[1] AS a_open, max(high) AS a_high,"
          " min(low) AS a_low, (array_agg(close ORDER BY start DESC))[1] AS a_close,"
          " sum(volume) AS a_volume,"
          " CASE WHEN count(trades) = count(*) THEN sum(trades) END AS a_trades,"
          " max(last_trade_id) AS a_last_trade_id, max(ts) AS a_ts, count(*) AS a_n"
          " FROM candles WHERE product_id = $1 AND granularity = $2"
          " AND start >= to_timestamp($4::bigint)"
          " AND start < to_timestamp($4::bigint + $5::bigint))"
          " UPDATE candles SET open = a_open, high = a_high, low = a_low, close = a_close,"
          " volume = a_volume, trades = a_trades, last_trade_id = a_last_trade_id, ts = a_ts,"
          " rev = rev + 1, complete = true, updated_at = now()"
          " FROM agg WHERE product_id = $1 AND granularity = $3"
          " AND start = to_timestamp($4::bigint) AND complete AND a_n > 0"
          " AND (open, high, low, close, volume, trades, last_trade_id)"
          "     IS DISTINCT FROM (a_open, a_high, a_low, a_close, a_volume, a_trades, a_last_trade_id)"
          " RETURNING " SPOT_STORE_SELECT_COLUMNS,
          5, values, error);
      if (res == NULL || (rows = candles_from_result (res, error)) == NULL)
        {
          g_prefix_error (error, "cannot recompute %s %s at %s: ", product_id,
                          spot_granularity_name ((SpotGranularity) g), bucket);
          rollback_quietly (conn);
          return NULL;
        }
      g_array_append_vals (written, rows->data, rows->len);
    }
  if (!spot_pg_exec (conn, "COMMIT", error))
    {
      rollback_quietly (conn);
      return NULL;
    }
  return g_steal_pointer (&written);
}

GArray *
spot_store_query_history (PGconn *conn,
                          const char *product_id,
                          SpotGranularity granularity,
                          gint64 start_s,
                          gint64 end_s,
                          guint limit,
                          GError **error)
{
  char s[24], e[24], l[16];
  const char *values[5];
  g_autoptr (PGresult) res = NULL;

  if (!spot_product_id_validate (product_id, error))
    return NULL;
  if (granularity < 0 || granularity >= SPOT_GRANULARITY_COUNT)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT, "granularity %d is not valid",
                   (int) granularity);
      return NULL;
    }
  if (start_s > end_s)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "start=%" G_GINT64_FORMAT " is after end=%" G_GINT64_FORMAT, start_s, end_s);
      return NULL;
    }
  if (limit == 0 || limit > SPOT_STORE_HISTORY_MAX_LIMIT)
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_ARGUMENT,
                   "limit=%u must be between 1 and %d", limit, SPOT_STORE_HISTORY_MAX_LIMIT);
      return NULL;
    }
  g_snprintf (s, sizeof s, "%" G_GINT64_FORMAT, start_s);
  g_snprintf (e, sizeof e, "%" G_GINT64_FORMAT, end_s);
  g_snprintf (l, sizeof l, "%u", limit);
  values[0] = product_id;
  values[1] = spot_granularity_name (granularity);
  values[2] = s;
  values[3] = e;
  values[4] = l;
  res = spot_pg_exec_params (conn,
                             "SELECT " SPOT_STORE_SELECT_COLUMNS " FROM ("
                             " SELECT * FROM candles WHERE product_id = $1 AND granularity = $2"
                             " AND start >= to_timestamp($3::bigint)"
                             " AND start <= to_timestamp($4::bigint)"
                             " ORDER BY start DESC LIMIT $5::int) newest ORDER BY start",
                             5, values, error);
  if (res == NULL)
    return NULL;
  return candles_from_result (res, error);
}
