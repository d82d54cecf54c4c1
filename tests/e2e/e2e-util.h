/* e2e-util.h: the whole service as a user runs it, for end-to-end tests.
 *
 * Starts the exchange simulator and the built spot-canvas binary
 * (SPOT_BUILD_ROOT) as child processes on free loopback ports, against the
 * harness's real nats-server and PostgreSQL; reads /health, /metrics and
 * the simulator's REST candles over HTTP; follows /stream like a browser
 * (an SSE reader thread keeping the last <spot-candle> of every element)
 * and reads the database with libpq.
 *
 * Thread safety: test thread, except where noted (the SSE reader runs its
 * own thread; its snapshot function may be called from the test thread).
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "model/spot-candle.h"

G_BEGIN_DECLS

/* g_test_init() for an end-to-end test program: also skips the program
 * unless nats-server and postgres are installed. Test programs only (it
 * needs the test harness, E2E_WITH_HARNESS). */
void e2e_test_init (int *argc, char ***argv);

/* ---- the exchange simulator ---- */

typedef struct
{
  GSubprocess *process;
  char *dir;
  char *ws_url;
  char *rest_url;
  char *control_url;
} E2eSim;

/* @extra_args: NULL-terminated extra options (--products, --trades-per-second, ...). */
E2eSim *e2e_sim_start (const char *const *extra_args, GError **error);
void e2e_sim_free (E2eSim *sim);
/* POST /_sim/fault?kind=..&value=.. (value may be NULL). */
gboolean e2e_sim_fault (E2eSim *sim, const char *kind, const char *value, GError **error);
/* The simulator's REST candles of one product and granularity with start
 * in [start, end] (GArray of SpotCandle, newest first as the exchange). */
GArray *e2e_sim_candles (E2eSim *sim,
                         const char *product_id,
                         SpotGranularity granularity,
                         gint64 start,
                         gint64 end,
                         GError **error);
/* The simulator's product ids (its REST products list), NULL-terminated. */
char **e2e_sim_products (E2eSim *sim, GError **error);
/* e2e_sim_fault() as a test step: logs it with g_test_message() and
 * asserts it succeeded. */
void e2e_sim_fault_assert (E2eSim *sim, const char *kind, const char *value);
/* Products subscribed to market_trades over every connection of the
 * simulator (its /_sim/stats; asserts it answers). */
guint e2e_sim_subscriptions (E2eSim *sim);
/* Polls e2e_sim_subscriptions() until it is @want; FALSE after @timeout_ms. */
gboolean e2e_sim_wait_subscriptions (E2eSim *sim, guint want, guint timeout_ms);

/* ---- the service ---- */

typedef struct
{
  GSubprocess *process;
  char *state_dir;
  guint16 http_port;
  char *base_url; /* http://127.0.0.1:PORT */
  GString *log;   /* stderr so far (a reader thread appends) */
  GMutex log_lock;
  GThread *log_thread;
} E2eService;

/* A free loopback TCP port (bind, read, close). */
guint16 e2e_free_port (void);

/* Starts SPOT_BUILD_ROOT/src/spot-canvas run with @env_extra ("NAME=value",
 * NULL-terminated) over a clean environment with DBUS_BUS=none and the
 * given NATS/DATABASE/Coinbase settings; waits until /health reports the
 * state "running" (up to @timeout_s). */
E2eService *e2e_service_start (const char *nats_url,
                               const char *database_url,
                               E2eSim *sim,
                               const char *const *env_extra,
                               guint timeout_s,
                               GError **error);
/* The same without waiting: the process is started (its /health may not
 * answer yet). */
E2eService *e2e_service_spawn (const char *nats_url,
                               const char *database_url,
                               E2eSim *sim,
                               const char *const *env_extra,
                               GError **error);
/* TRUE when /health answers (any HTTP status) with the service state
 * @state ("starting", "running", "stopping", ...). */
gboolean e2e_service_health_is (E2eService *service, const char *state);
/* Polls /health every 100 ms until it shows @state (FALSE with @error after
 * @timeout_s or when the process exited). */
gboolean
e2e_service_wait_state (E2eService *service, const char *state, guint timeout_s, GError **error);
/* Sends @signum and waits for the exit (up to @timeout_s); returns the exit
 * status, or -1 (killed by a signal / timed out). */
int e2e_service_stop (E2eService *service, int signum, guint timeout_s);
void e2e_service_free (E2eService *service);
/* The usual end of a test: SIGTERM, asserts a clean exit (status 0 within
 * 30 s; the log is dumped first otherwise), then frees @service and @sim
 * (@sim may be NULL). */
void e2e_finish (E2eService *service, E2eSim *sim);
/* A copy of its stderr so far. */
char *e2e_service_dup_log (E2eService *service);
/* Prints the log (on failure, to understand it). */
void e2e_service_dump_log (E2eService *service, const char *name);

/* GET @url; returns the body (NULL with @error on a transport error);
 * *@status gets the HTTP status. */
char *e2e_http_get (const char *url, guint *status, GError **error);
/* GET @url and parse it as a JSON object held by @parser; asserts the
 * request and the parse succeed. */
JsonObject *e2e_http_get_json (JsonParser *parser, const char *url);
/* One sample of a series from the Prometheus text (a name with labels as
 * printed, e.g. "spot_trades_received_total"); -1 when absent. */
double e2e_metric_value (const char *metrics_text, const char *series);
/* The service's /metrics text, NULL when it does not answer. */
char *e2e_service_metrics (E2eService *service);
/* One series from the service's /metrics; -1 when absent or unreachable. */
double e2e_service_metric (E2eService *service, const char *series);
/* A member of components.service in /health ("active_products",
 * "owned_products", ...); asserts /health answers JSON. */
gint64 e2e_service_health_member (E2eService *service, const char *member);
/* e2e_wait_until() predicates on an E2eService: spot_repairs_pending is 0;
 * spot_trades_received_total is above 0. */
gboolean e2e_service_repairs_settled (gpointer service);
gboolean e2e_service_trades_flowing (gpointer service);
/* Waits until the minute after @since (seconds) has closed, plus 6 s, then
 * until no repair is pending (up to 60 s; on a timeout dumps the service
 * log and fails the test). */
void e2e_service_assert_repairs_done (E2eService *service, gint64 since);

/* ---- the whole stack (test programs only: needs the test harness) ---- */

typedef struct _SpotTestNats SpotTestNats;
typedef struct _SpotTestPostgres SpotTestPostgres;

typedef struct
{
  SpotTestNats *nats;
  SpotTestPostgres *pg;
  E2eSim *sim;
  char **products; /* the simulator's product ids */
} E2eStack;

/* Starts the harness's nats-server and PostgreSQL and a simulator with
 * @sim_args and reads its products; asserts each step succeeds. */
E2eStack *e2e_stack_start (const char *const *sim_args);
/* e2e_service_start() against the stack; asserts it runs. */
E2eService *
e2e_stack_service_start (E2eStack *stack, const char *const *env_extra, guint timeout_s);
/* Frees the simulator, then PostgreSQL and nats-server. */
void e2e_stack_free (E2eStack *stack);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (E2eStack, e2e_stack_free)

/* ---- /stream, as a browser follows it ---- */

typedef struct _E2eStream E2eStream;

/* Opens @url (a /stream URL) and keeps reading on its own thread. */
E2eStream *e2e_stream_open (const char *url, GError **error);
/* Called on the reader thread for every element read, with the element's
 * exchange timestamp (ts attribute, 0 when none) and the read time (ns). */
typedef void (*E2eStreamFunc) (const SpotCandle *candle,
                               gint64 ts_ns,
                               gint64 read_ns,
                               gpointer user_data);
E2eStream *
e2e_stream_open_full (const char *url, E2eStreamFunc func, gpointer user_data, GError **error);
/* The last candle shown for each element id ("candle-BTC-USD-ONE_MINUTE"):
 * a hash table id -> SpotCandle* (copies). */
GHashTable *e2e_stream_snapshot (E2eStream *stream);
guint64 e2e_stream_events (E2eStream *stream);
/* Polls the snapshot until it holds an element of @granularity for every
 * product of @products (NULL-terminated); FALSE after @timeout_ms. */
gboolean e2e_stream_wait_shows (E2eStream *stream,
                                const char *const *products,
                                const char *granularity,
                                guint timeout_ms);
void e2e_stream_close (E2eStream *stream);

/* ---- PostgreSQL ---- */

PGconn *e2e_db_connect (const char *conninfo);
/* The stored candles of one product and granularity with start >= @from
 * (GArray of SpotCandle, by start). */
GArray *
e2e_db_candles (PGconn *conn, const char *product_id, SpotGranularity granularity, gint64 from);

/* Numeric equality of OHLCV and start (volumes and prices parsed with
 * spot_decimal_parse on both sides); on a difference, @why says which. */
gboolean e2e_candles_equal (const SpotCandle *a, const SpotCandle *b, char **why);

/* Compares, at every granularity, the simulator's REST candles of @product
 * with start since the bucket holding @since (up to @now) with the stored
 * ones: every stored row is the exchange's candle, numerically, and every
 * exchange candle is stored. With @shown (an e2e_stream_snapshot()), the
 * last element shown for each granularity is also the exchange's newest
 * bucket. Each difference is a line appended to @problems; returns the
 * number of candles compared. */
guint e2e_compare_product (PGconn *db,
                           E2eSim *sim,
                           GHashTable *shown,
                           const char *product,
                           gint64 since,
                           gint64 now,
                           GString *problems);
/* e2e_compare_product() for every product of @products over a fresh
 * connection to @conninfo; on any difference dumps @service's log and the
 * differences and fails the test. Returns the number of candles compared. */
guint e2e_assert_candles_match_exchange (E2eService *service,
                                         const char *conninfo,
                                         E2eSim *sim,
                                         char **products,
                                         GHashTable *shown,
                                         gint64 since,
                                         gint64 now);

/* Waits while @func returns FALSE, iterating nothing, sleeping 100 ms steps. */
gboolean e2e_wait_until (gboolean (*func) (gpointer), gpointer data, guint timeout_ms);

G_END_DECLS
