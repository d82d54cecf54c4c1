/* test-exchange-sim.c: the built spot-exchange-sim, seen from a Coinbase
 * client (libsoup WebSocket, json-glib, REST). */
#define G_LOG_DOMAIN "spot-test"

#include <string.h>

#include "sim-client.h"

/* ---- small helpers ------------------------------------------------------ */

static JsonArray *
event_trades (SimMsg *m)
{
  return json_object_get_array_member (sim_msg_event (m, 0), "trades");
}

static gint64
trade_id (JsonObject *t)
{
  return g_ascii_strtoll (json_object_get_string_member (t, "trade_id"), NULL, 10);
}

/* Decimal string without trailing zeros (and point). */
static char *
normalize (const char *s)
{
  char *r = g_strdup (s);
  if (strchr (r, '.') != NULL)
    {
      gsize n = strlen (r);
      while (n > 0 && r[n - 1] == '0')
        r[--n] = '\0';
      if (n > 0 && r[n - 1] == '.')
        r[--n] = '\0';
    }
  return r;
}

/* "12.3400" -> 123400 with 4 decimals. */
static gint64
mantissa (const char *s, gint *decimals)
{
  const char *dot = strchr (s, '.');
  *decimals = dot != NULL ? (gint)strlen (dot + 1) : 0;
  g_autofree char *digits = g_strdup (s);
  char *d = strchr (digits, '.');
  if (d != NULL)
    memmove (d, d + 1, strlen (d));
  return g_ascii_strtoll (digits, NULL, 10);
}

static char *
format_mantissa (gint64 v, gint decimals)
{
  g_autofree char *digits = g_strdup_printf ("%0*" G_GINT64_FORMAT, decimals + 1, v);
  gsize n = strlen (digits);
  g_autofree char *with_point
      = decimals > 0
            ? g_strdup_printf ("%.*s.%s", (int)(n - (gsize)decimals), digits, digits + n - decimals)
            : g_strdup (digits);
  return normalize (with_point);
}

/* Numeric comparison of two decimal strings through their normal form. */
static int
decimal_cmp (const char *a, const char *b)
{
  gint da, db;
  gint64 ma = mantissa (a, &da), mb = mantissa (b, &db);
  while (da < db)
    {
      ma *= 10;
      da++;
    }
  while (db < da)
    {
      mb *= 10;
      db++;
    }
  return ma < mb ? -1 : ma > mb ? 1 : 0;
}

static void
assert_sequence_consecutive (SimClient *c, guint from)
{
  gint64 prev = -1;
  for (guint i = from; i < c->msgs->len; i++)
    {
      SimMsg *m = g_ptr_array_index (c->msgs, i);
      if (g_strcmp0 (sim_msg_channel (m), "error") == 0)
        continue;
      gint64 seq = sim_msg_seq (m);
      if (prev >= 0)
        g_assert_cmpint (seq, ==, prev + 1);
      prev = seq;
    }
}

static void
subscribe (SimClient *c, const char *channel, const char *products)
{
  g_autofree char *req
      = products != NULL ? g_strdup_printf (
            "{\"type\":\"subscribe\",\"product_ids\":[%s],\"channel\":\"%s\"}", products, channel)
                         : g_strdup_printf ("{\"type\":\"subscribe\",\"channel\":\"%s\"}", channel);
  sim_client_send (c, req);
}

/* ---- WebSocket protocol ------------------------------------------------- */

static void
test_subscribe_is_acknowledged_then_snapshot_then_updates (void)
{
  const char *args[] = { "--products=5", "--trades-per-second=20", "--history-minutes=2", NULL };
  Sim *sim = sim_start (args);
  g_autoptr (SimClient) c = sim_client_connect (sim);
  subscribe (c, "market_trades", "\"BTC-USD\",\"SHIB-USD\"");

  gint ack = sim_client_wait_channel (c, 0, "subscriptions", 3000);
  g_assert_cmpint (ack, >=, 0);
  JsonObject *subs = json_object_get_object_member (
      sim_msg_event (g_ptr_array_index (c->msgs, ack), 0), "subscriptions");
  JsonArray *mt = json_object_get_array_member (subs, "market_trades");
  g_assert_cmpuint (json_array_get_length (mt), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (mt, 0), ==, "BTC-USD");
  g_assert_cmpstr (json_array_get_string_element (mt, 1), ==, "SHIB-USD");

  gint snap = sim_client_wait_channel (c, 0, "market_trades", 3000);
  g_assert_cmpint (snap, >=, 0);
  SimMsg *sm = g_ptr_array_index (c->msgs, snap);
  g_assert_cmpstr (json_object_get_string_member (sim_msg_event (sm, 0), "type"), ==, "snapshot");
  /* Snapshot: recent trades, newest first per product. */
  GHashTable *last_id = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  JsonArray *st = event_trades (sm);
  g_assert_cmpuint (json_array_get_length (st), ==, 100);
  for (guint i = 0; i < json_array_get_length (st); i++)
    {
      JsonObject *t = json_array_get_object_element (st, i);
      const char *pid = json_object_get_string_member (t, "product_id");
      gint64 id = trade_id (t);
      gpointer prev = NULL;
      if (g_hash_table_lookup_extended (last_id, pid, NULL, &prev))
        g_assert_cmpint (id, ==, (gint64)GPOINTER_TO_SIZE (prev) - 1);
      g_hash_table_insert (last_id, g_strdup (pid), GSIZE_TO_POINTER ((gsize)id));
      /* Exchange-like text forms. */
      g_assert_true (g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z$",
                                           json_object_get_string_member (t, "time"), 0, 0));
      const char *side = json_object_get_string_member (t, "side");
      g_assert_true (g_str_equal (side, "BUY") || g_str_equal (side, "SELL"));
      if (g_str_equal (pid, "SHIB-USD"))
        {
          g_assert_true (g_regex_match_simple ("^0\\.\\d{8}$",
                                               json_object_get_string_member (t, "price"), 0, 0));
          g_assert_true (
              g_regex_match_simple ("^\\d+$", json_object_get_string_member (t, "size"), 0, 0));
        }
      else
        g_assert_true (g_regex_match_simple ("^\\d+\\.\\d{8}$",
                                             json_object_get_string_member (t, "size"), 0, 0));
    }
  /* Newest snapshot trade per product is what updates continue from. */
  g_hash_table_remove_all (last_id);
  for (guint i = 0; i < json_array_get_length (st); i++)
    {
      JsonObject *t = json_array_get_object_element (st, i);
      const char *pid = json_object_get_string_member (t, "product_id");
      if (!g_hash_table_contains (last_id, pid))
        g_hash_table_insert (last_id, g_strdup (pid), GSIZE_TO_POINTER ((gsize)trade_id (t)));
    }

  sim_sleep (1600);
  guint updates = 0;
  for (guint i = (guint)snap + 1; i < c->msgs->len; i++)
    {
      SimMsg *m = g_ptr_array_index (c->msgs, i);
      if (g_strcmp0 (sim_msg_channel (m), "market_trades") != 0)
        continue;
      g_assert_cmpstr (json_object_get_string_member (sim_msg_event (m, 0), "type"), ==, "update");
      JsonArray *ut = event_trades (m);
      for (guint k = 0; k < json_array_get_length (ut); k++)
        {
          JsonObject *t = json_array_get_object_element (ut, k);
          const char *pid = json_object_get_string_member (t, "product_id");
          gint64 prev = (gint64)GPOINTER_TO_SIZE (g_hash_table_lookup (last_id, pid));
          /* Ids increase by one: nothing lost between snapshot and updates. */
          g_assert_cmpint (trade_id (t), ==, prev + 1);
          g_hash_table_insert (last_id, g_strdup (pid), GSIZE_TO_POINTER ((gsize)trade_id (t)));
          updates++;
        }
    }
  /* 2 products x 20/s for 1.6 s: about 64. */
  g_assert_cmpuint (updates, >, 20);
  assert_sequence_consecutive (c, 0);
  g_hash_table_unref (last_id);
  g_clear_pointer (&c, sim_client_free);
  sim_stop (sim);
}

/* Update timestamps (us) of market_trades updates, and checks that trade
 * ids continue by one from the snapshot on. */
static GArray *
update_times_contiguous (SimClient *c)
{
  GArray *times = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 last = -1;
  for (guint i = 0; i < c->msgs->len; i++)
    {
      SimMsg *m = g_ptr_array_index (c->msgs, i);
      if (g_strcmp0 (sim_msg_channel (m), "market_trades") != 0)
        continue;
      JsonObject *ev = sim_msg_event (m, 0);
      gboolean snapshot = g_str_equal (json_object_get_string_member (ev, "type"), "snapshot");
      JsonArray *tr = event_trades (m);
      for (guint k = 0; k < json_array_get_length (tr); k++)
        {
          gint64 id = trade_id (json_array_get_object_element (tr, k));
          if (snapshot)
            last = MAX (last, id);
          else
            {
              g_assert_cmpint (id, ==, last + 1);
              last = id;
            }
        }
      if (!snapshot)
        {
          gint64 t = sim_parse_time_us (
              json_object_get_string_member (json_node_get_object (m->root), "timestamp"));
          g_array_append_val (times, t);
        }
    }
  return times;
}

static int
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

/* The batch phase (us into the 250 ms interval, exchange clock) the
 * simulator reports for connection @id. */
static gint64
batch_phase_of (Sim *sim, gint64 id)
{
  guint status = 0;
  g_autoptr (JsonNode) stats = sim_http_json (sim, "/_sim/stats", &status);
  g_assert_cmpuint (status, ==, 200);
  JsonArray *list
      = json_object_get_array_member (json_node_get_object (stats), "connection_list");
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonObject *c = json_array_get_object_element (list, i);
      if (json_object_get_int_member (c, "id") == id)
        return json_object_get_int_member (c, "batch_phase_us");
    }
  g_assert_not_reached ();
}

/* Circular distance of two phases within a 250 ms interval. */
static gint64
phase_distance (gint64 a, gint64 b)
{
  gint64 d = ((a - b) % 250000 + 250000) % 250000;
  return MIN (d, 250000 - d);
}

/* The median lateness of @times behind the grid @phase + k * 250 ms. */
static gint64
median_lateness (GArray *times, gint64 phase)
{
  g_autoptr (GArray) late = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < times->len; i++)
    {
      gint64 l = ((g_array_index (times, gint64, i) - phase) % 250000 + 250000) % 250000;
      g_array_append_val (late, l);
    }
  g_array_sort (late, cmp_i64);
  return g_array_index (late, gint64, late->len / 2);
}

static void
test_connections_batch_at_their_own_phase (void)
{
  /* Every 250 ms batch has trades. Each connection's batches follow its own
   * grid (its open time + k * 250 ms); the second connection is reopened
   * until its phase is at least 60 ms away from the first one's. */
  const char *args[] = { "--products=2", "--trades-per-second=200", "--history-minutes=1", NULL };
  Sim *sim = sim_start (args);
  g_autoptr (SimClient) a = sim_client_connect (sim);
  subscribe (a, "market_trades", "\"BTC-USD\"");
  gint64 phase_a = batch_phase_of (sim, 1);
  g_autoptr (SimClient) b = NULL;
  gint64 phase_b = 0;
  for (gint64 id = 2; id < 12; id++)
    {
      g_clear_pointer (&b, sim_client_free);
      sim_sleep (40);
      b = sim_client_connect (sim);
      phase_b = batch_phase_of (sim, id);
      if (phase_distance (phase_a, phase_b) >= 60000)
        break;
    }
  g_assert_cmpint (phase_distance (phase_a, phase_b), >=, 60000);
  subscribe (b, "market_trades", "\"BTC-USD\"");
  sim_sleep (2600);
  g_autoptr (GArray) ta = update_times_contiguous (a);
  g_autoptr (GArray) tb = update_times_contiguous (b);
  g_assert_cmpuint (ta->len, >=, 6);
  g_assert_cmpuint (tb->len, >=, 6);
  gint64 late_a = median_lateness (ta, phase_a), late_b = median_lateness (tb, phase_b);
  g_test_message ("phases %.1f and %.1f ms; %u and %u batches, median %.1f and %.1f ms behind "
                  "their own grid",
                  phase_a / 1000.0, phase_b / 1000.0, ta->len, tb->len, late_a / 1000.0,
                  late_b / 1000.0);
  /* Each on its own grid (a timer fires a little late, never early); with
   * one shared tick one of them would be at least 60 ms off. */
  g_assert_cmpint (late_a, <, 45000);
  g_assert_cmpint (late_b, <, 45000);
  assert_sequence_consecutive (a, 0);
  assert_sequence_consecutive (b, 0);
  g_clear_pointer (&a, sim_client_free);
  g_clear_pointer (&b, sim_client_free);
  sim_stop (sim);
}

static void
test_heartbeats_every_second_with_consecutive_sequence (void)
{
  Sim *sim = sim_start ((const char *[]){ "--products=2", NULL });
  g_autoptr (SimClient) c = sim_client_connect (sim);
  sim_client_send (c, "{\"type\":\"subscribe\",\"product_ids\":[],\"channel\":\"heartbeats\"}");
  sim_sleep (3500);
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 prev_counter = -1;
  for (guint i = 0; i < c->msgs->len; i++)
    {
      SimMsg *m = g_ptr_array_index (c->msgs, i);
      if (g_strcmp0 (sim_msg_channel (m), "heartbeats") != 0)
        continue;
      JsonObject *ev = sim_msg_event (m, 0);
      gint64 counter = json_object_get_int_member (ev, "heartbeat_counter");
      if (prev_counter >= 0)
        g_assert_cmpint (counter, ==, prev_counter + 1);
      prev_counter = counter;
      g_assert_true (g_regex_match_simple (
          "^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{9} \\+0000 UTC m=\\+\\d+\\.\\d{9}$",
          json_object_get_string_member (ev, "current_time"), 0, 0));
      const char *ts = json_object_get_string_member (json_node_get_object (m->root), "timestamp");
      g_assert_true (
          g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z$", ts, 0, 0));
      /* timestamp is the send time. */
      g_assert_cmpint (ABS (m->recv_us - sim_parse_time_us (ts)), <, 200000);
      g_array_append_val (times, m->recv_us);
    }
  g_assert_cmpuint (times->len, >=, 3);
  for (guint i = 1; i < times->len; i++)
    {
      gint64 gap = g_array_index (times, gint64, i) - g_array_index (times, gint64, i - 1);
      g_assert_cmpint (gap, >, 700000);
      g_assert_cmpint (gap, <, 1300000);
    }
  /* The first message is the subscriptions ack, sequence 0. */
  g_assert_cmpint (sim_msg_seq (g_ptr_array_index (c->msgs, 0)), ==, 0);
  assert_sequence_consecutive (c, 0);
  g_clear_pointer (&c, sim_client_free);
  sim_stop (sim);
}

static void
test_errors_for_unknown_channel_and_bad_json (void)
{
  Sim *sim = sim_start ((const char *[]){ "--products=2", NULL });
  g_autoptr (SimClient) c = sim_client_connect (sim);
  sim_client_send (
      c, "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\"],\"channel\":\"market_trade\"}");
  gint e = sim_client_wait_channel (c, 0, "error", 3000);
  g_assert_cmpint (e, >=, 0);
  g_assert_cmpstr (
      json_object_get_string_member (
          json_node_get_object (((SimMsg *)g_ptr_array_index (c->msgs, e))->root), "message"),
      ==, "authentication failure");
  sim_client_send (c, "{\"type\":\"subscribe\",");
  gint e2 = sim_client_wait_channel (c, (guint)e + 1, "error", 3000);
  g_assert_cmpint (e2, >, e);
  sim_client_send (
      c, "{\"type\":\"subscribe\",\"product_ids\":[\"NOPE-USD\"],\"channel\":\"market_trades\"}");
  gint e3 = sim_client_wait_channel (c, (guint)e2 + 1, "error", 3000);
  g_assert_cmpint (e3, >, e2);
  /* The connection stays usable. */
  subscribe (c, "heartbeats", NULL);
  g_assert_cmpint (sim_client_wait_channel (c, 0, "subscriptions", 3000), >=, 0);
  g_assert_false (c->closed);
  g_clear_pointer (&c, sim_client_free);
  sim_stop (sim);
}

static void
test_websocket_served_on_any_path (void)
{
  Sim *sim = sim_start ((const char *[]){ "--products=2", NULL });
  g_free (sim->ws_url);
  sim->ws_url = g_strdup_printf ("ws://127.0.0.1:%u/ws/v1?x=1", sim->port);
  g_autoptr (SimClient) c = sim_client_connect (sim);
  subscribe (c, "heartbeats", NULL);
  g_assert_cmpint (sim_client_wait_channel (c, 0, "subscriptions", 3000), >=, 0);
  g_clear_pointer (&c, sim_client_free);
  sim_stop (sim);
}

static gboolean
client_closed (gpointer data)
{
  return ((SimClient *)data)->closed;
}

static void
test_idle_connection_closed_after_five_seconds (void)
{
  Sim *sim = sim_start ((const char *[]){ "--products=2", NULL });
  g_autoptr (SimClient) idle = sim_client_connect (sim);
  g_autoptr (SimClient) busy = sim_client_connect (sim);
  gint64 t0 = g_get_monotonic_time ();
  subscribe (busy, "heartbeats", NULL);
  g_assert_true (sim_wait (client_closed, idle, 8000));
  gint64 elapsed = idle->closed_us - t0;
  g_assert_cmpint (elapsed, >, 4500000);
  g_assert_cmpint (elapsed, <, 7000000);
  g_assert_cmpuint (idle->msgs->len, ==, 0);
  g_assert_false (busy->closed);
  g_clear_pointer (&idle, sim_client_free);
  g_clear_pointer (&busy, sim_client_free);
  sim_stop (sim);
}

static void
test_candles_channel_snapshot_then_updates (void)
{
  Sim *sim = sim_start (
      (const char *[]){ "--products=3", "--trades-per-second=10", "--history-minutes=20", NULL });
  g_autoptr (SimClient) c = sim_client_connect (sim);
  subscribe (c, "candles", "\"ETH-USD\"");
  gint snap = sim_client_wait_channel (c, 0, "candles", 3000);
  g_assert_cmpint (snap, >=, 0);
  JsonObject *ev = sim_msg_event (g_ptr_array_index (c->msgs, snap), 0);
  g_assert_cmpstr (json_object_get_string_member (ev, "type"), ==, "snapshot");
  JsonArray *cs = json_object_get_array_member (ev, "candles");
  g_assert_cmpuint (json_array_get_length (cs), >=, 4);
  for (guint i = 0; i < json_array_get_length (cs); i++)
    {
      JsonObject *k = json_array_get_object_element (cs, i);
      g_assert_cmpstr (json_object_get_string_member (k, "product_id"), ==, "ETH-USD");
      gint64 start = g_ascii_strtoll (json_object_get_string_member (k, "start"), NULL, 10);
      g_assert_cmpint (start % 300, ==, 0);
      g_assert_cmpint (decimal_cmp (json_object_get_string_member (k, "low"),
                                    json_object_get_string_member (k, "high")),
                       <=, 0);
    }
  gint upd = sim_client_wait_channel (c, (guint)snap + 1, "candles", 2500);
  g_assert_cmpint (upd, >, snap);
  ev = sim_msg_event (g_ptr_array_index (c->msgs, upd), 0);
  g_assert_cmpstr (json_object_get_string_member (ev, "type"), ==, "update");
  g_clear_pointer (&c, sim_client_free);
  sim_stop (sim);
}

/* ---- REST --------------------------------------------------------------- */

static void
test_rest_products_list_and_single (void)
{
  Sim *sim = sim_start ((const char *[]){ "--products=30", "--seed=7", NULL });
  guint status = 0;
  g_autoptr (JsonNode) list = sim_http_json (sim, "/api/v3/brokerage/market/products", &status);
  g_assert_cmpuint (status, ==, 200);
  JsonObject *o = json_node_get_object (list);
  g_assert_cmpint (json_object_get_int_member (o, "num_products"), ==, 30);
  JsonArray *products = json_object_get_array_member (o, "products");
  g_assert_cmpuint (json_array_get_length (products), ==, 30);
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean sub_cent = FALSE;
  for (guint i = 0; i < 30; i++)
    {
      JsonObject *p = json_array_get_object_element (products, i);
      const char *id = json_object_get_string_member (p, "product_id");
      g_assert_true (g_regex_match_simple ("^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$", id, 0, 0));
      g_assert_false (g_hash_table_contains (ids, id));
      g_hash_table_add (ids, (gpointer)id);
      g_assert_cmpstr (json_object_get_string_member (p, "status"), ==, "online");
      g_assert_cmpstr (json_object_get_string_member (p, "product_type"), ==, "SPOT");
      g_assert_false (json_object_get_boolean_member (p, "trading_disabled"));
      g_assert_false (json_object_get_boolean_member (p, "is_disabled"));
      g_autofree char *expect
          = g_strdup_printf ("%s-%s", json_object_get_string_member (p, "base_currency_id"),
                             json_object_get_string_member (p, "quote_currency_id"));
      g_assert_cmpstr (expect, ==, id);
      g_assert_true (g_regex_match_simple (
          "^(1|0\\.0*1)$", json_object_get_string_member (p, "quote_increment"), 0, 0));
      g_assert_true (g_regex_match_simple (
          "^(1|0\\.0*1)$", json_object_get_string_member (p, "base_increment"), 0, 0));
      if (strlen (json_object_get_string_member (p, "quote_increment")) >= 10)
        sub_cent = TRUE;
    }
  g_assert_true (sub_cent);
  g_assert_true (g_hash_table_contains (ids, "BTC-USD"));
  g_assert_true (g_hash_table_contains (ids, "SHIB-USD"));

  /* Repeated and comma-separated product_ids filter the list. */
  g_autoptr (JsonNode) some = sim_http_json (
      sim, "/api/v3/brokerage/market/products?product_ids=BTC-USD&product_ids=SOL-USD,ETH-USD",
      &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (some), "num_products"), ==, 3);

  g_autoptr (JsonNode) one
      = sim_http_json (sim, "/api/v3/brokerage/market/products/DOGE-USD", &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (one), "product_id"), ==,
                   "DOGE-USD");
  g_autoptr (JsonNode) missing
      = sim_http_json (sim, "/api/v3/brokerage/market/products/NOPE-USD", &status);
  g_assert_cmpuint (status, ==, 404);
  sim_stop (sim);
}

static void
test_rest_candles_reject_more_than_350_and_bad_params (void)
{
  Sim *sim = sim_start ((const char *[]){ "--products=2", "--history-minutes=30", NULL });
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  guint status = 0;
  g_autofree char *too_many = g_strdup_printf (
      "/api/v3/brokerage/market/products/BTC-USD/"
      "candles?granularity=ONE_MINUTE&start=%" G_GINT64_FORMAT "&end=%" G_GINT64_FORMAT,
      now - 351 * 60, now);
  g_autoptr (JsonNode) err = sim_http_json (sim, too_many, &status);
  g_assert_cmpuint (status, ==, 400);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (err), "error"), ==,
                   "INVALID_ARGUMENT");
  g_assert_nonnull (
      strstr (json_object_get_string_member (json_node_get_object (err), "message"), "350"));

  g_autofree char *ok350 = g_strdup_printf ("/api/v3/brokerage/market/products/BTC-USD/"
                                            "candles?granularity=ONE_MINUTE&start=%" G_GINT64_FORMAT
                                            "&end=%" G_GINT64_FORMAT,
                                            now - 350 * 60, now);
  g_autoptr (JsonNode) fine = sim_http_json (sim, ok350, &status);
  g_assert_cmpuint (status, ==, 200);
  JsonArray *cs = json_object_get_array_member (json_node_get_object (fine), "candles");
  /* 30 minutes of history plus the open one; only buckets with trades. */
  g_assert_cmpuint (json_array_get_length (cs), >=, 30);
  g_assert_cmpuint (json_array_get_length (cs), <=, 32);
  gint64 prev = G_MAXINT64;
  for (guint i = 0; i < json_array_get_length (cs); i++)
    {
      JsonObject *k = json_array_get_object_element (cs, i);
      gint64 start = g_ascii_strtoll (json_object_get_string_member (k, "start"), NULL, 10);
      g_assert_cmpint (start, <, prev); /* newest first */
      prev = start;
      g_assert_false (json_object_has_member (k, "product_id"));
      const char *vals[] = { "open", "high", "low", "close", "volume" };
      for (guint v = 0; v < G_N_ELEMENTS (vals); v++)
        {
          const char *s = json_object_get_string_member (k, vals[v]);
          g_autofree char *n = normalize (s);
          g_assert_cmpstr (s, ==, n); /* no trailing zeros */
        }
    }

  g_autofree char *limited = g_strdup_printf ("%s&limit=2", ok350);
  g_autoptr (JsonNode) two = sim_http_json (sim, limited, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpuint (
      json_array_get_length (json_object_get_array_member (json_node_get_object (two), "candles")),
      ==, 2);

  const char *bad[] = { "&limit=351", "&limit=0", "&granularity=TEN_MINUTE", "&start=abc" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *path = g_strdup_printf ("%s%s", ok350, bad[i]);
      g_autoptr (JsonNode) e = sim_http_json (sim, path, &status);
      g_assert_cmpuint (status, ==, 400);
      g_assert_cmpstr (json_object_get_string_member (json_node_get_object (e), "error"), ==,
                       "INVALID_ARGUMENT");
    }
  sim_stop (sim);
}

typedef struct
{
  gint64 start;
  char *open, *high, *low, *close;
  gint64 volume;
  gint decimals;
  gint64 open_key[2], close_key[2]; /* (time_us, trade_id) */
} Bucket;

static void
bucket_free (gpointer data)
{
  Bucket *b = data;
  g_free (b->open);
  g_free (b->high);
  g_free (b->low);
  g_free (b->close);
  g_free (b);
}

static gboolean
key_less (const gint64 a[2], const gint64 b[2])
{
  return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1]);
}

static void
bucket_add (GHashTable *buckets,
            gint64 start,
            const char *price,
            const char *size,
            gint64 time_us,
            gint64 id)
{
  Bucket *b = g_hash_table_lookup (buckets, &start);
  gint64 key[2] = { time_us, id };
  gint dec = 0;
  gint64 sz = mantissa (size, &dec);
  if (b == NULL)
    {
      b = g_new0 (Bucket, 1);
      b->start = start;
      b->open = g_strdup (price);
      b->high = g_strdup (price);
      b->low = g_strdup (price);
      b->close = g_strdup (price);
      b->decimals = dec;
      memcpy (b->open_key, key, sizeof key);
      memcpy (b->close_key, key, sizeof key);
      g_hash_table_insert (buckets, &b->start, b);
    }
  else
    {
      if (key_less (key, b->open_key))
        {
          g_free (b->open);
          b->open = g_strdup (price);
          memcpy (b->open_key, key, sizeof key);
        }
      if (!key_less (key, b->close_key))
        {
          g_free (b->close);
          b->close = g_strdup (price);
          memcpy (b->close_key, key, sizeof key);
        }
      if (decimal_cmp (price, b->high) > 0)
        {
          g_free (b->high);
          b->high = g_strdup (price);
        }
      if (decimal_cmp (price, b->low) < 0)
        {
          g_free (b->low);
          b->low = g_strdup (price);
        }
    }
  g_assert_cmpint (dec, ==, b->decimals);
  b->volume += sz;
}

static void
assert_candle_equals_bucket (JsonObject *k, Bucket *b)
{
  g_autofree char *o = normalize (b->open), *h = normalize (b->high), *l = normalize (b->low),
                  *c = normalize (b->close);
  g_autofree char *v = format_mantissa (b->volume, b->decimals);
  g_assert_cmpstr (json_object_get_string_member (k, "open"), ==, o);
  g_assert_cmpstr (json_object_get_string_member (k, "high"), ==, h);
  g_assert_cmpstr (json_object_get_string_member (k, "low"), ==, l);
  g_assert_cmpstr (json_object_get_string_member (k, "close"), ==, c);
  g_assert_cmpstr (json_object_get_string_member (k, "volume"), ==, v);
}

static JsonArray *
rest_candles (Sim *sim,
              JsonNode **holder,
              const char *product,
              const char *granularity,
              gint64 start,
              gint64 end)
{
  g_autofree char *path = g_strdup_printf (
      "/api/v3/brokerage/market/products/%s/candles?granularity=%s&start=%" G_GINT64_FORMAT
      "&end=%" G_GINT64_FORMAT,
      product, granularity, start, end);
  guint status = 0;
  *holder = sim_http_json (sim, path, &status);
  g_assert_cmpuint (status, ==, 200);
  return json_object_get_array_member (json_node_get_object (*holder), "candles");
}

static void
test_rest_candles_equal_the_trades_sent (void)
{
  /* The snapshot holds all trades of the last 12 minutes, so closed minutes
   * and one closed five-minute bucket are fully known to the client. */
  Sim *sim = sim_start ((const char *[]){ "--product-ids=BTC-USD,SHIB-USD,DOGE-USD",
                                          "--trades-per-second=4", "--history-minutes=12",
                                          "--snapshot-trades=5000", "--seed=42", NULL });
  g_autoptr (SimClient) c = sim_client_connect (sim);
  subscribe (c, "market_trades", "\"BTC-USD\",\"SHIB-USD\",\"DOGE-USD\"");
  g_assert_cmpint (sim_client_wait_channel (c, 0, "market_trades", 5000), >=, 0);
  sim_sleep (1200);

  const char *products[] = { "BTC-USD", "SHIB-USD", "DOGE-USD" };
  for (guint pi = 0; pi < G_N_ELEMENTS (products); pi++)
    {
      g_autoptr (GHashTable) minutes
          = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, bucket_free);
      g_autoptr (GHashTable) fives
          = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, bucket_free);
      g_autoptr (GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      gint64 oldest = G_MAXINT64, newest = 0;
      for (guint i = 0; i < c->msgs->len; i++)
        {
          SimMsg *m = g_ptr_array_index (c->msgs, i);
          if (g_strcmp0 (sim_msg_channel (m), "market_trades") != 0)
            continue;
          JsonArray *ts = event_trades (m);
          for (guint k = 0; k < json_array_get_length (ts); k++)
            {
              JsonObject *t = json_array_get_object_element (ts, k);
              if (g_strcmp0 (json_object_get_string_member (t, "product_id"), products[pi]) != 0)
                continue;
              gint64 id = trade_id (t);
              g_array_append_val (ids, id);
              gint64 us = sim_parse_time_us (json_object_get_string_member (t, "time"));
              oldest = MIN (oldest, us);
              newest = MAX (newest, us);
              const char *price = json_object_get_string_member (t, "price");
              const char *size = json_object_get_string_member (t, "size");
              gint64 sec = us / G_USEC_PER_SEC;
              bucket_add (minutes, sec - sec % 60, price, size, us, id);
              bucket_add (fives, sec - sec % 300, price, size, us, id);
            }
        }
      g_assert_cmpuint (ids->len, >, 2000);
      /* No trade id twice, none missing. */
      for (guint i = 0; i < ids->len; i++)
        {
          gint64 *id = &g_array_index (ids, gint64, i);
          g_assert_false (g_hash_table_contains (seen, id));
          g_hash_table_add (seen, id);
        }

      gint64 first_full = (oldest / G_USEC_PER_SEC / 60 + 1) * 60;
      gint64 last_closed = (newest / G_USEC_PER_SEC / 60 - 1) * 60;
      g_assert_cmpint (last_closed - first_full, >=, 9 * 60);
      g_autoptr (JsonNode) h1 = NULL;
      JsonArray *rest1
          = rest_candles (sim, &h1, products[pi], "ONE_MINUTE", first_full, last_closed);
      g_assert_cmpuint (json_array_get_length (rest1), ==, (last_closed - first_full) / 60 + 1);
      for (guint i = 0; i < json_array_get_length (rest1); i++)
        {
          JsonObject *k = json_array_get_object_element (rest1, i);
          gint64 start = g_ascii_strtoll (json_object_get_string_member (k, "start"), NULL, 10);
          Bucket *b = g_hash_table_lookup (minutes, &start);
          g_assert_nonnull (b);
          assert_candle_equals_bucket (k, b);
        }

      /* Five-minute buckets fully inside the known range. */
      gint64 f0 = (first_full + 299) / 300 * 300;
      guint checked = 0;
      for (gint64 f = f0; f + 300 <= last_closed + 60; f += 300)
        {
          g_autoptr (JsonNode) h5 = NULL;
          JsonArray *rest5 = rest_candles (sim, &h5, products[pi], "FIVE_MINUTE", f, f);
          g_assert_cmpuint (json_array_get_length (rest5), ==, 1);
          JsonObject *k5 = json_array_get_object_element (rest5, 0);
          assert_candle_equals_bucket (k5, g_hash_table_lookup (fives, &f));
          /* And the aggregate of its five REST minutes. */
          g_autoptr (JsonNode) hm = NULL;
          JsonArray *mins = rest_candles (sim, &hm, products[pi], "ONE_MINUTE", f, f + 240);
          g_assert_cmpuint (json_array_get_length (mins), ==, 5);
          JsonObject *newest_m = json_array_get_object_element (mins, 0);
          JsonObject *oldest_m = json_array_get_object_element (mins, 4);
          g_assert_cmpstr (json_object_get_string_member (k5, "open"), ==,
                           json_object_get_string_member (oldest_m, "open"));
          g_assert_cmpstr (json_object_get_string_member (k5, "close"), ==,
                           json_object_get_string_member (newest_m, "close"));
          const char *hi = json_object_get_string_member (newest_m, "high");
          const char *lo = json_object_get_string_member (newest_m, "low");
          gint64 vol = 0;
          gint vdec = 0;
          /* Volumes without trailing zeros: bring them to one scale. */
          for (guint i = 0; i < 5; i++)
            {
              JsonObject *m1 = json_array_get_object_element (mins, i);
              if (decimal_cmp (json_object_get_string_member (m1, "high"), hi) > 0)
                hi = json_object_get_string_member (m1, "high");
              if (decimal_cmp (json_object_get_string_member (m1, "low"), lo) < 0)
                lo = json_object_get_string_member (m1, "low");
              gint d = 0;
              mantissa (json_object_get_string_member (m1, "volume"), &d);
              vdec = MAX (vdec, d);
            }
          for (guint i = 0; i < 5; i++)
            {
              gint d = 0;
              gint64 v = mantissa (
                  json_object_get_string_member (json_array_get_object_element (mins, i), "volume"),
                  &d);
              for (; d < vdec; d++)
                v *= 10;
              vol += v;
            }
          g_autofree char *vs = format_mantissa (vol, vdec);
          g_assert_cmpstr (json_object_get_string_member (k5, "high"), ==, hi);
          g_assert_cmpstr (json_object_get_string_member (k5, "low"), ==, lo);
          g_assert_cmpstr (json_object_get_string_member (k5, "volume"), ==, vs);
          checked++;
        }
      g_assert_cmpuint (checked, >=, 1);

      /* The open minute is served with its running values. */
      g_autoptr (JsonNode) ho = NULL;
      gint64 now = g_get_real_time () / G_USEC_PER_SEC;
      JsonArray *open = rest_candles (sim, &ho, products[pi], "ONE_MINUTE", now - now % 60, now);
      g_assert_cmpuint (json_array_get_length (open), <=, 1);
    }
  g_clear_pointer (&c, sim_client_free);
  sim_stop (sim);
}

/* ---- faults ------------------------------------------------------------- */

static Sim *fault_sim;

static SimClient *
fault_client (const char *channel, const char *products)
{
  SimClient *c = sim_client_connect (fault_sim);
  subscribe (c, channel, products);
  g_assert_cmpint (sim_client_wait_channel (c, 0, "subscriptions", 3000), >=, 0);
  return c;
}

static void
test_fault_close_1001 (void)
{
  g_autoptr (SimClient) c = fault_client ("heartbeats", NULL);
  sim_fault (fault_sim, "close1001", NULL);
  g_assert_true (sim_wait (client_closed, c, 3000));
  g_assert_cmpuint (c->close_code, ==, 1001);
}

static void
test_fault_drop_without_close_frame (void)
{
  g_autoptr (SimClient) c = fault_client ("heartbeats", NULL);
  sim_fault (fault_sim, "drop", NULL);
  g_assert_true (sim_wait (client_closed, c, 3000));
  /* No close frame: no code from the server (libsoup reports 0 or 1006). */
  g_assert_true (c->close_code == 0 || c->close_code == 1006);
}

static void
test_fault_stall_sends_nothing_but_keeps_socket (void)
{
  g_autoptr (SimClient) c = fault_client ("heartbeats", NULL);
  sim_sleep (1200);
  sim_fault (fault_sim, "stall", "2");
  guint before = c->msgs->len;
  gint64 t0 = g_get_real_time ();
  sim_sleep (1700);
  g_assert_cmpuint (c->msgs->len, ==, before);
  g_assert_false (c->closed);
  gint next = sim_client_wait_channel (c, before, "heartbeats", 2500);
  g_assert_cmpint (next, >=, 0);
  SimMsg *m = g_ptr_array_index (c->msgs, next);
  g_assert_cmpint (m->recv_us - t0, >=, 1800000);
  /* Frames lost in the stall show as a sequence gap. */
  g_assert_cmpint (sim_msg_seq (m), >, sim_msg_seq (g_ptr_array_index (c->msgs, before - 1)) + 1);
}

static void
test_fault_skip_sequence (void)
{
  g_autoptr (SimClient) c = fault_client ("heartbeats", NULL);
  guint before = c->msgs->len;
  sim_fault (fault_sim, "skip-sequence", "3");
  gint next = sim_client_wait_channel (c, before, "heartbeats", 2500);
  g_assert_cmpint (next, >=, 0);
  g_assert_cmpint (sim_msg_seq (g_ptr_array_index (c->msgs, next)), ==,
                   sim_msg_seq (g_ptr_array_index (c->msgs, next - 1)) + 4);
}

static void
test_fault_newest_first_batches (void)
{
  g_autoptr (SimClient) c = fault_client ("market_trades", "\"BTC-USD\"");
  sim_fault (fault_sim, "newest-first", NULL);
  sim_sleep (300);
  guint from = c->msgs->len;
  sim_sleep (1500);
  guint multi = 0;
  for (guint i = from; i < c->msgs->len; i++)
    {
      SimMsg *m = g_ptr_array_index (c->msgs, i);
      if (g_strcmp0 (sim_msg_channel (m), "market_trades") != 0)
        continue;
      JsonArray *ts = event_trades (m);
      for (guint k = 1; k < json_array_get_length (ts); k++)
        g_assert_cmpint (trade_id (json_array_get_object_element (ts, k)), ==,
                         trade_id (json_array_get_object_element (ts, k - 1)) - 1);
      if (json_array_get_length (ts) > 1)
        multi++;
    }
  g_assert_cmpuint (multi, >, 0);
}

static void
test_fault_duplicate_snapshot_on_resubscribe (void)
{
  g_autoptr (SimClient) c = fault_client ("market_trades", "\"ETH-USD\"");
  sim_fault (fault_sim, "dup-snapshot", NULL);
  sim_sleep (600);
  g_autoptr (GHashTable) ids = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr (GArray) store = g_array_sized_new (FALSE, FALSE, sizeof (gint64), 10000);
  for (guint i = 0; i < c->msgs->len; i++)
    {
      SimMsg *m = g_ptr_array_index (c->msgs, i);
      if (g_strcmp0 (sim_msg_channel (m), "market_trades") != 0)
        continue;
      JsonArray *ts = event_trades (m);
      for (guint k = 0; k < json_array_get_length (ts); k++)
        {
          gint64 id = trade_id (json_array_get_object_element (ts, k));
          g_array_append_val (store, id);
        }
    }
  for (guint i = 0; i < store->len; i++)
    g_hash_table_add (ids, &g_array_index (store, gint64, i));
  guint from = c->msgs->len;
  subscribe (c, "market_trades", "\"ETH-USD\"");
  sim_sleep (500);
  guint snapshots = 0, replayed = 0;
  for (guint i = from; i < c->msgs->len; i++)
    {
      SimMsg *m = g_ptr_array_index (c->msgs, i);
      if (g_strcmp0 (sim_msg_channel (m), "market_trades") != 0
          || g_strcmp0 (json_object_get_string_member (sim_msg_event (m, 0), "type"), "snapshot")
                 != 0)
        continue;
      snapshots++;
      JsonArray *ts = event_trades (m);
      for (guint k = 0; k < json_array_get_length (ts); k++)
        {
          gint64 id = trade_id (json_array_get_object_element (ts, k));
          if (g_hash_table_contains (ids, &id))
            replayed++;
        }
    }
  g_assert_cmpuint (snapshots, ==, 2);
  g_assert_cmpuint (replayed, >, 10);
  g_assert_cmpint (store->len, >, 0);
  sim_fault (fault_sim, "dup-snapshot", "0");
}

static void
test_fault_oversized_frame (void)
{
  g_autoptr (SimClient) c = fault_client ("market_trades", "\"BTC-USD\"");
  guint before = c->msgs->len;
  sim_fault (fault_sim, "oversized", "3000000");
  sim_sleep (800);
  gboolean big = FALSE;
  for (guint i = before; i < c->msgs->len; i++)
    {
      SimMsg *m = g_ptr_array_index (c->msgs, i);
      if (m->len >= 3000000 && m->root != NULL)
        big = TRUE;
    }
  g_assert_true (big);
  g_assert_false (c->closed);
}

static void
test_fault_malformed_message (void)
{
  g_autoptr (SimClient) c = fault_client ("market_trades", "\"BTC-USD\"");
  guint before = c->msgs->len;
  sim_fault (fault_sim, "malformed", NULL);
  sim_sleep (500);
  gboolean bad = FALSE;
  for (guint i = before; i < c->msgs->len; i++)
    if (((SimMsg *)g_ptr_array_index (c->msgs, i))->root == NULL)
      bad = TRUE;
  g_assert_true (bad);
}

static void
test_fault_wrongly_typed_messages (void)
{
  g_autoptr (SimClient) c = fault_client ("market_trades", "\"BTC-USD\"");
  guint before = c->msgs->len;
  sim_fault (fault_sim, "wrong-type", "0");
  sim_fault (fault_sim, "wrong-type", "1");
  sim_sleep (500);
  gboolean number_price = FALSE, object_trades = FALSE;
  for (guint i = before; i < c->msgs->len; i++)
    {
      SimMsg *m = g_ptr_array_index (c->msgs, i);
      if (g_strcmp0 (sim_msg_channel (m), "market_trades") != 0)
        continue;
      JsonNode *tn = json_object_get_member (sim_msg_event (m, 0), "trades");
      if (JSON_NODE_HOLDS_OBJECT (tn))
        object_trades = TRUE;
      else if (json_array_get_length (json_node_get_array (tn)) > 0)
        {
          JsonNode *price = json_object_get_member (
              json_array_get_object_element (json_node_get_array (tn), 0), "price");
          if (json_node_get_value_type (price) != G_TYPE_STRING)
            number_price = TRUE;
        }
    }
  g_assert_true (number_price);
  g_assert_true (object_trades);
}

static void
test_fault_delay (void)
{
  g_autoptr (SimClient) c = fault_client ("heartbeats", NULL);
  sim_fault (fault_sim, "delay", "800");
  guint before = c->msgs->len;
  gint next = sim_client_wait_channel (c, before, "heartbeats", 3500);
  g_assert_cmpint (next, >=, 0);
  SimMsg *m = g_ptr_array_index (c->msgs, next);
  gint64 ts = sim_parse_time_us (
      json_object_get_string_member (json_node_get_object (m->root), "timestamp"));
  g_assert_cmpint (m->recv_us - ts, >=, 700000);
  g_assert_cmpint (m->recv_us - ts, <, 1500000);
  sim_fault (fault_sim, "delay", "0");
}

static void
test_fault_clock_skew (void)
{
  g_autoptr (SimClient) c = fault_client ("market_trades", "\"SOL-USD\"");
  sim_fault (fault_sim, "skew", "30000");
  sim_sleep (300);
  guint before = c->msgs->len;
  gint next = sim_client_wait_channel (c, before, "market_trades", 3000);
  g_assert_cmpint (next, >=, 0);
  SimMsg *m = g_ptr_array_index (c->msgs, next);
  /* Message and trade timestamps run 30 s ahead of the local clock. */
  gint64 ts = sim_parse_time_us (
      json_object_get_string_member (json_node_get_object (m->root), "timestamp"));
  g_assert_cmpint (ABS (m->recv_us + 30000000 - ts), <, 1000000);
  JsonArray *trades = event_trades (m);
  gint64 t_last = sim_parse_time_us (json_object_get_string_member (
      json_array_get_object_element (trades, json_array_get_length (trades) - 1), "time"));
  g_assert_cmpint (ABS (m->recv_us + 30000000 - t_last), <, 1000000);
  /* Back to the local clock: trades pause until it passes the last one
   * (trade times never go back), messages follow it at once. */
  guint status = 0;
  g_autofree char *r
      = sim_http (fault_sim, "POST", "/_sim/fault?kind=skew&value=0&connection=all", &status);
  g_assert_cmpuint (status, ==, 200);
}

static void
test_fault_heartbeat_counter_alternates_string_and_number (void)
{
  g_autoptr (SimClient) c = fault_client ("heartbeats", NULL);
  sim_fault (fault_sim, "heartbeat-string", NULL);
  guint before = c->msgs->len;
  sim_sleep (2600);
  gboolean str = FALSE, num = FALSE;
  for (guint i = before; i < c->msgs->len; i++)
    {
      SimMsg *m = g_ptr_array_index (c->msgs, i);
      if (g_strcmp0 (sim_msg_channel (m), "heartbeats") != 0)
        continue;
      GType t = json_node_get_value_type (
          json_object_get_member (sim_msg_event (m, 0), "heartbeat_counter"));
      str |= t == G_TYPE_STRING;
      num |= t == G_TYPE_INT64;
    }
  g_assert_true (str);
  g_assert_true (num);
}

static void
test_faults_leave_rest_candles_truthful (void)
{
  /* After all the faults above, the log still counts every trade once:
   * REST minute volumes add up to the per-product total in stats. */
  guint status = 0;
  g_autoptr (JsonNode) stats = sim_http_json (fault_sim, "/_sim/stats", &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (stats), "trades_generated"), >,
                   0);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr (JsonNode) h = NULL;
  JsonArray *mins = rest_candles (fault_sim, &h, "BTC-USD", "ONE_MINUTE", now - 3600, now);
  for (guint i = 1; i < json_array_get_length (mins); i++)
    g_assert_cmpint (g_ascii_strtoll (json_object_get_string_member (
                                          json_array_get_object_element (mins, i), "start"),
                                      NULL, 10),
                     <,
                     g_ascii_strtoll (json_object_get_string_member (
                                          json_array_get_object_element (mins, i - 1), "start"),
                                      NULL, 10));
}

static void
test_fault_rest_candles_refused_by_granularity (void)
{
  const char *args[] = { "--products=1", "--trades-per-second=2", "--history-minutes=30", NULL };
  Sim *sim = sim_start (args);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *one = g_strdup_printf (
      "/api/v3/brokerage/market/products/BTC-USD/candles?start=%" G_GINT64_FORMAT
      "&end=%" G_GINT64_FORMAT "&granularity=ONE_MINUTE", now - 600, now);
  g_autofree char *five = g_strdup_printf (
      "/api/v3/brokerage/market/products/BTC-USD/candles?start=%" G_GINT64_FORMAT
      "&end=%" G_GINT64_FORMAT "&granularity=FIVE_MINUTE", now - 1200, now);
  guint status = 0;
  g_autofree char *body = sim_http (sim, "POST", "/_sim/fault?kind=rest-candles&value=300", &status);
  g_assert_cmpuint (status, ==, 200);
  g_free (sim_http (sim, "GET", one, &status));
  g_assert_cmpuint (status, ==, 200);
  g_autofree char *refused = sim_http (sim, "GET", five, &status);
  g_assert_cmpuint (status, ==, 503);
  g_assert_nonnull (strstr (refused, "UNAVAILABLE"));
  g_autoptr (JsonNode) stats = sim_http_json (sim, "/_sim/stats", &status);
  g_assert_cmpint (
      json_object_get_int_member (json_node_get_object (stats), "rest_candles_refused"), ==, 1);
  /* clear ends it. */
  g_free (sim_http (sim, "POST", "/_sim/fault?kind=clear", &status));
  g_free (sim_http (sim, "GET", five, &status));
  g_assert_cmpuint (status, ==, 200);
  sim_stop (sim);
}

static void
test_faults_from_command_line_hit_every_connection (void)
{
  Sim *sim = sim_start ((const char *[]){ "--products=2", "--trades-per-second=40",
                                          "--fault=newest-first", "--fault=close1001",
                                          "--fault-after=1", NULL });
  g_autoptr (SimClient) c = sim_client_connect (sim);
  subscribe (c, "market_trades", "\"BTC-USD\"");
  g_assert_true (sim_wait (client_closed, c, 4000));
  g_assert_cmpuint (c->close_code, ==, 1001);
  guint multi = 0;
  for (guint i = 0; i < c->msgs->len; i++)
    {
      SimMsg *m = g_ptr_array_index (c->msgs, i);
      if (g_strcmp0 (sim_msg_channel (m), "market_trades") != 0
          || g_strcmp0 (json_object_get_string_member (sim_msg_event (m, 0), "type"), "update")
                 != 0)
        continue;
      JsonArray *ts = event_trades (m);
      if (json_array_get_length (ts) > 1
          && trade_id (json_array_get_object_element (ts, 0))
                 > trade_id (json_array_get_object_element (ts, 1)))
        multi++;
    }
  g_assert_cmpuint (multi, >, 0);
  g_clear_pointer (&c, sim_client_free);
  sim_stop (sim);
}

static void
test_slow_consumer_dropped (void)
{
  const char *args[] = { "--products=20", "--trades-per-second=1000", "--history-minutes=0",
                         "--max-backlog-mb=1", NULL };
  Sim *sim = sim_start (args);
  g_autoptr (SimClient) c = sim_client_connect (sim);
  subscribe (
      c, "market_trades",
      "\"BTC-USD\",\"ETH-USD\",\"SOL-USD\",\"DOGE-USD\",\"SHIB-USD\",\"XRP-USD\",\"ADA-USD\","
      "\"AVAX-USD\",\"LINK-USD\",\"LTC-USD\"");
  g_assert_cmpint (sim_client_wait_channel (c, 0, "market_trades", 3000), >=, 0);
  /* Stop reading: the socket buffers fill, then the sim's queue grows. */
  g_usleep (7 * G_USEC_PER_SEC);
  g_assert_true (sim_wait (client_closed, c, 8000));
  guint status = 0;
  g_autoptr (JsonNode) stats = sim_http_json (sim, "/_sim/stats", &status);
  g_assert_cmpint (
      json_object_get_int_member (json_node_get_object (stats), "slow_consumers_dropped"), >=, 1);
  g_clear_pointer (&c, sim_client_free);
  sim_stop (sim);
}

/* ---- JWT ---------------------------------------------------------------- */

static char *
run_openssl (const char *const *argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv (
      argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error (error);
  char *out = NULL;
  g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (p));
  return out;
}

static char *
b64url (const guchar *data, gsize len)
{
  char *s = g_base64_encode (data, len);
  for (char *q = s; *q != '\0'; q++)
    if (*q == '+')
      *q = '-';
    else if (*q == '/')
      *q = '_';
  char *eq = strchr (s, '=');
  if (eq != NULL)
    *eq = '\0';
  return s;
}

/* header.payload signed with `openssl pkeyutl` (Ed25519) or `openssl dgst`
 * (ES256, DER converted to raw r||s by hand). */
static char *
make_jwt (const char *dir,
          const char *alg,
          const char *key_pem,
          const char *kid,
          const char *sub,
          gint64 nbf,
          gint64 exp)
{
  g_autofree char *h = g_strdup_printf (
      "{\"alg\":\"%s\",\"kid\":\"%s\",\"nonce\":\"%016" G_GINT64_MODIFIER "x\",\"typ\":\"JWT\"}",
      alg, kid, g_get_real_time ());
  g_autofree char *p = g_strdup_printf ("{\"sub\":\"%s\",\"iss\":\"cdp\",\"nbf\":%" G_GINT64_FORMAT
                                        ",\"exp\":%" G_GINT64_FORMAT "}",
                                        sub, nbf, exp);
  g_autofree char *hb = b64url ((const guchar *)h, strlen (h));
  g_autofree char *pb = b64url ((const guchar *)p, strlen (p));
  g_autofree char *signing = g_strdup_printf ("%s.%s", hb, pb);
  g_autofree char *in = g_build_filename (dir, "signing-input", NULL);
  g_autofree char *sig_file = g_build_filename (dir, "sig", NULL);
  g_assert_true (g_file_set_contents (in, signing, -1, NULL));
  if (g_str_equal (alg, "EdDSA"))
    {
      const char *argv[] = { "openssl", "pkeyutl", "-sign", "-rawin", "-inkey", key_pem,
                             "-in",     in,        "-out",  sig_file, NULL };
      g_free (run_openssl (argv));
    }
  else
    {
      const char *argv[]
          = { "openssl", "dgst", "-sha256", "-sign", key_pem, "-out", sig_file, in, NULL };
      g_free (run_openssl (argv));
    }
  g_autofree guchar *sig = NULL;
  gsize sig_len = 0;
  g_assert_true (g_file_get_contents (sig_file, (char **)&sig, &sig_len, NULL));
  guchar raw[64];
  const guchar *sig_out = sig;
  gsize out_len = sig_len;
  if (!g_str_equal (alg, "EdDSA"))
    {
      /* DER SEQUENCE { INTEGER r, INTEGER s } -> 32-byte r || 32-byte s. */
      gsize pos = 2;
      g_assert_cmpuint (sig[0], ==, 0x30);
      for (guint part = 0; part < 2; part++)
        {
          g_assert_cmpuint (sig[pos], ==, 0x02);
          gsize n = sig[pos + 1];
          const guchar *v = sig + pos + 2;
          while (n > 32)
            {
              v++;
              n--;
            }
          memset (raw + part * 32, 0, 32);
          memcpy (raw + part * 32 + (32 - n), v, n);
          pos += 2 + sig[pos + 1];
        }
      sig_out = raw;
      out_len = 64;
    }
  g_autofree char *sb = b64url (sig_out, out_len);
  g_unlink (in);
  g_unlink (sig_file);
  return g_strdup_printf ("%s.%s", signing, sb);
}

static void
send_with_jwt (SimClient *c, const char *jwt)
{
  g_autofree char *req
      = jwt != NULL ? g_strdup_printf ("{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\"],"
                                       "\"channel\":\"market_trades\",\"jwt\":\"%s\"}",
                                       jwt)
                    : g_strdup ("{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\"],\"channel\":"
                                "\"market_trades\"}");
  sim_client_send (c, req);
}

/* Returns "subscriptions" or "error" for the reply to one subscribe. */
static const char *
reply_to (SimClient *c, const char *jwt)
{
  guint from = c->msgs->len;
  send_with_jwt (c, jwt);
  gint64 end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end)
    {
      for (guint i = from; i < c->msgs->len; i++)
        {
          const char *ch = sim_msg_channel (g_ptr_array_index (c->msgs, i));
          if (g_strcmp0 (ch, "subscriptions") == 0)
            return "subscriptions";
          if (g_strcmp0 (ch, "error") == 0)
            {
              JsonObject *o
                  = json_node_get_object (((SimMsg *)g_ptr_array_index (c->msgs, i))->root);
              g_assert_cmpstr (json_object_get_string_member (o, "message"), ==,
                               "authentication failure");
              return "error";
            }
        }
      sim_sleep (20);
    }
  return "timeout";
}

static void
test_jwt_es256_and_ed25519_accepted_bad_refused (void)
{
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  if (openssl == NULL)
    {
      g_test_skip ("openssl command not found");
      return;
    }
  g_autofree char *dir = g_dir_make_tmp ("spot-sim-jwt-XXXXXX", NULL);
  g_autofree char *ec = g_build_filename (dir, "ec.pem", NULL);
  g_autofree char *ec_pub = g_build_filename (dir, "ec.pub", NULL);
  g_autofree char *ed = g_build_filename (dir, "ed.pem", NULL);
  g_autofree char *ed_pub = g_build_filename (dir, "ed.pub", NULL);
  g_autofree char *other = g_build_filename (dir, "other.pem", NULL);
  g_free (run_openssl ((const char *[]){ "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                                         "ec_paramgen_curve:P-256", "-out", ec, NULL }));
  g_free (run_openssl (
      (const char *[]){ "openssl", "pkey", "-in", ec, "-pubout", "-out", ec_pub, NULL }));
  g_free (run_openssl (
      (const char *[]){ "openssl", "genpkey", "-algorithm", "ED25519", "-out", ed, NULL }));
  g_free (run_openssl (
      (const char *[]){ "openssl", "pkey", "-in", ed, "-pubout", "-out", ed_pub, NULL }));
  g_free (run_openssl (
      (const char *[]){ "openssl", "genpkey", "-algorithm", "ED25519", "-out", other, NULL }));

  g_autofree char *k1 = g_strdup_printf ("--jwt-public-key=%s", ec_pub);
  g_autofree char *k2 = g_strdup_printf ("--jwt-public-key=%s", ed_pub);
  Sim *sim = sim_start ((const char *[]){ "--products=2", "--require-auth", k1, k2, NULL });
  g_autoptr (SimClient) c = sim_client_connect (sim);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *kid = "organizations/x/apiKeys/y";

  g_assert_cmpstr (reply_to (c, NULL), ==, "error");
  g_autofree char *good_es = make_jwt (dir, "ES256", ec, kid, kid, now, now + 120);
  g_assert_cmpstr (reply_to (c, good_es), ==, "subscriptions");
  g_autofree char *good_ed = make_jwt (dir, "EdDSA", ed, kid, kid, now, now + 120);
  g_assert_cmpstr (reply_to (c, good_ed), ==, "subscriptions");

  g_autofree char *wrong_key = make_jwt (dir, "EdDSA", other, kid, kid, now, now + 120);
  g_assert_cmpstr (reply_to (c, wrong_key), ==, "error");
  g_autofree char *expired = make_jwt (dir, "ES256", ec, kid, kid, now - 300, now - 180);
  g_assert_cmpstr (reply_to (c, expired), ==, "error");
  g_autofree char *sub_mismatch = make_jwt (dir, "EdDSA", ed, kid, "someone-else", now, now + 120);
  g_assert_cmpstr (reply_to (c, sub_mismatch), ==, "error");
  /* A flipped signature byte. */
  g_autofree char *tampered = g_strdup (good_es);
  gsize n = strlen (tampered);
  tampered[n - 5] = tampered[n - 5] == 'A' ? 'B' : 'A';
  g_assert_cmpstr (reply_to (c, tampered), ==, "error");

  g_clear_pointer (&c, sim_client_free);
  sim_stop (sim);
  const char *files[] = { ec, ec_pub, ed, ed_pub, other };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    g_unlink (files[i]);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/exchange-sim/subscribe-acknowledged-then-snapshot-then-updates",
                   test_subscribe_is_acknowledged_then_snapshot_then_updates);
  g_test_add_func ("/exchange-sim/connections-batch-at-their-own-phase",
                   test_connections_batch_at_their_own_phase);
  g_test_add_func ("/exchange-sim/fault/rest-candles-refused-by-granularity",
                   test_fault_rest_candles_refused_by_granularity);
  g_test_add_func ("/exchange-sim/heartbeats-every-second-with-consecutive-sequence",
                   test_heartbeats_every_second_with_consecutive_sequence);
  g_test_add_func ("/exchange-sim/errors-for-unknown-channel-and-bad-json",
                   test_errors_for_unknown_channel_and_bad_json);
  g_test_add_func ("/exchange-sim/websocket-served-on-any-path", test_websocket_served_on_any_path);
  g_test_add_func ("/exchange-sim/idle-connection-closed-after-five-seconds",
                   test_idle_connection_closed_after_five_seconds);
  g_test_add_func ("/exchange-sim/candles-channel-snapshot-then-updates",
                   test_candles_channel_snapshot_then_updates);
  g_test_add_func ("/exchange-sim/rest-products-list-and-single",
                   test_rest_products_list_and_single);
  g_test_add_func ("/exchange-sim/rest-candles-reject-more-than-350-and-bad-params",
                   test_rest_candles_reject_more_than_350_and_bad_params);
  g_test_add_func ("/exchange-sim/rest-candles-equal-the-trades-sent",
                   test_rest_candles_equal_the_trades_sent);
  g_test_add_func ("/exchange-sim/fault/close-1001", test_fault_close_1001);
  g_test_add_func ("/exchange-sim/fault/drop-without-close-frame",
                   test_fault_drop_without_close_frame);
  g_test_add_func ("/exchange-sim/fault/stall-sends-nothing-but-keeps-socket",
                   test_fault_stall_sends_nothing_but_keeps_socket);
  g_test_add_func ("/exchange-sim/fault/skip-sequence", test_fault_skip_sequence);
  g_test_add_func ("/exchange-sim/fault/newest-first-batches", test_fault_newest_first_batches);
  g_test_add_func ("/exchange-sim/fault/duplicate-snapshot-on-resubscribe",
                   test_fault_duplicate_snapshot_on_resubscribe);
  g_test_add_func ("/exchange-sim/fault/oversized-frame", test_fault_oversized_frame);
  g_test_add_func ("/exchange-sim/fault/malformed-message", test_fault_malformed_message);
  g_test_add_func ("/exchange-sim/fault/wrongly-typed-messages", test_fault_wrongly_typed_messages);
  g_test_add_func ("/exchange-sim/fault/delay", test_fault_delay);
  g_test_add_func ("/exchange-sim/fault/heartbeat-counter-alternates-string-and-number",
                   test_fault_heartbeat_counter_alternates_string_and_number);
  g_test_add_func ("/exchange-sim/fault/clock-skew", test_fault_clock_skew);
  g_test_add_func ("/exchange-sim/fault/rest-candles-stay-truthful",
                   test_faults_leave_rest_candles_truthful);
  g_test_add_func ("/exchange-sim/fault/from-command-line-hit-every-connection",
                   test_faults_from_command_line_hit_every_connection);
  g_test_add_func ("/exchange-sim/slow-consumer-dropped", test_slow_consumer_dropped);
  g_test_add_func ("/exchange-sim/jwt-es256-and-ed25519-accepted-bad-refused",
                   test_jwt_es256_and_ed25519_accepted_bad_refused);

  fault_sim = sim_start (
      (const char *[]){ "--products=6", "--trades-per-second=20", "--history-minutes=5", NULL });
  int rc = g_test_run ();
  sim_stop (fault_sim);
  return rc;
}
