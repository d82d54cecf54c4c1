/* test-config.c: parsing, validation and redaction of SpotConfig on given
 * environments and command lines. */
#define G_LOG_DOMAIN "spot-test"

#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "config/spot-config.h"
#include "config/spot-config-private.h"
#include "config/spot-log-filter.h"
#include "core/spot-error.h"

/* Loads from a NULL-terminated list of "NAME=value" and an argv tail. */
static SpotConfig *
load (const char *const *env, const char *const *options, GError **error)
{
  g_autoptr (GPtrArray) argv_array = g_ptr_array_new_with_free_func (g_free);
  char **argv;
  int argc;
  SpotConfig *config;
  g_autoptr (SpotConfigArgs) args = NULL;

  g_ptr_array_add (argv_array, g_strdup ("spot-canvas"));
  for (guint i = 0; options != NULL && options[i] != NULL; i++)
    g_ptr_array_add (argv_array, g_strdup (options[i]));
  g_ptr_array_add (argv_array, NULL);
  argc = (int) argv_array->len - 1;
  /* GOption rearranges argv; keep the array owning the strings. */
  argv = g_memdup2 (argv_array->pdata, sizeof (char *) * argv_array->len);
  args = spot_config_args_parse (&argc, &argv, NULL, NULL, NULL, error);
  g_free (argv);
  if (args == NULL)
    return NULL;
  config = spot_config_new (args, env, error);
  return config;
}

static void
test_defaults_match_design (void)
{
  const char *env[] = { "HOME=/home/someone", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfig) config = load (env, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (config);
  g_assert_cmpstr (config->http_addr, ==, "127.0.0.1:8080");
  g_assert_cmpstr (config->http_host, ==, "127.0.0.1");
  g_assert_cmpuint (config->http_port, ==, 8080);
  if (geteuid () == 0)
    g_assert_cmpstr (config->state_directory, ==, "/var/lib/spot-canvas");
  else
    g_assert_cmpstr (config->state_directory, ==, "/home/someone/.local/state/spot-canvas");
  g_assert_null (config->nats_urls);
  g_assert_null (config->database_url);
  g_assert_null (config->products);
  g_assert_false (config->products_all);
  g_assert_cmpuint (config->granularities, ==, SPOT_GRANULARITY_SET_DEFAULT);
  g_assert_cmpuint (config->shard_index, ==, 0);
  g_assert_cmpuint (config->shard_count, ==, 1);
  /* auto: one per core, 2 to 16. */
  g_assert_cmpuint (config->shard_workers, ==, CLAMP (g_get_num_processors (), 2, 16));
  g_assert_cmpuint (config->shard_queue, ==, 256);
  g_assert_cmpuint (config->products_per_connection, ==, 20);
  g_assert_cmpuint (config->inbox_size, ==, 100);
  g_assert_cmpfloat (config->connect_rate, ==, 1.0);
  g_assert_cmpfloat (config->subscribe_rate, ==, 4.0);
  g_assert_cmpfloat (config->rest_rate, ==, 8.0);
  g_assert_cmpuint (config->stall_timeout_s, ==, 10);
  g_assert_cmpuint (config->candle_grace_ms, ==, 2000);
  g_assert_cmpuint (config->correction_window_s, ==, 120);
  g_assert_cmpuint (config->repair_delay_s, ==, 5);
  g_assert_cmpuint (config->repair_horizon_h, ==, 25);
  g_assert_cmpuint (config->repair_wait_ms, ==, 10000);
  g_assert_cmpuint (config->seed_hold_limit, ==, 50000);
  g_assert_cmpuint (config->batch_size, ==, 1000);
  g_assert_cmpuint (config->flush_interval_ms, ==, 100);
  g_assert_cmpuint (config->kv_staleness_ms, ==, 250);
  g_assert_cmpstr (config->kv_bucket, ==, "live-candles");
  g_assert_cmpuint (config->kv_ttl_s, ==, 0);
  g_assert_cmpuint (config->kv_replicas, ==, 1);
  g_assert_true (config->migrate_on_start);
  g_assert_cmpuint (config->sse_max_clients, ==, 10000);
  g_assert_cmpuint (config->sse_max_products, ==, 200);
  g_assert_cmpuint (config->sse_client_buffer, ==, 1024 * 1024);
  g_assert_cmpuint (config->sse_keepalive_s, ==, 15);
  g_assert_nonnull (config->cors_origins);
  g_assert_null (config->cors_origins[0]);
  g_assert_cmpstr (config->coinbase_ws_url, ==, "wss://advanced-trade-ws.coinbase.com");
  g_assert_cmpstr (config->coinbase_rest_url, ==, "https://api.coinbase.com");
  g_assert_null (config->coinbase_key_name);
  g_assert_null (config->coinbase_key_file);
  g_assert_null (config->coinbase_key);
  g_assert_null (config->nats_creds);
  g_assert_null (config->nats_tls_ca);
  g_assert_null (config->nats_tls_cert);
  g_assert_null (config->nats_tls_key);
  g_assert_cmpuint (config->shutdown_timeout_s, ==, 10);
  g_assert_cmpint (config->dbus_bus, ==, SPOT_DBUS_BUS_SESSION);
  g_assert_cmpint (config->log_level, ==, SPOT_LOG_LEVEL_MESSAGE);
  g_assert_false (config->kv_memory);
  g_assert_cmpuint (config->kv_ack_group, ==, 16);
}

static void
test_null_environment_is_empty (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfig) config = spot_config_new (NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (config->shard_count, ==, 1);
  g_assert_true (g_path_is_absolute (config->state_directory));
}

static void
test_empty_value_means_unset (void)
{
  const char *env[] = { "HTTP_ADDR=", "NATS_URL=", "SHARD_COUNT=", "PRODUCTS=", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfig) config = load (env, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->http_addr, ==, "127.0.0.1:8080");
  g_assert_null (config->nats_urls);
  g_assert_cmpuint (config->shard_count, ==, 1);
  g_assert_null (config->products);
}

static void
test_environment_values_parse (void)
{
  const char *env[] = {
    "HTTP_ADDR=[::1]:0",
    "NATS_URL=nats://a:4222, tls://b:4223",
    "DATABASE_URL=postgresql://spot@db.example/spot",
    "PRODUCTS=BTC-USD, ETH-EUR,BTC-USD",
    "GRANULARITIES=1m,ONE_HOUR",
    "SHARD_INDEX=2",
    "SHARD_COUNT=3",
    "CONNECT_RATE=0.5",
    "SUBSCRIBE_RATE=.25",
    "REST_RATE=10",
    "SSE_CLIENT_BUFFER=64KiB",
    "MIGRATE_ON_START=No",
    "CORS_ORIGINS=https://a.example, http://localhost:3000",
    "KV_BUCKET=my_bucket-2",
    "KV_REPLICAS=3",
    "KV_TTL_S=86400",
    "KV_STORAGE=memory",
    "KV_ACK_GROUP=1",
    "DBUS_BUS=none",
    "LOG_LEVEL=debug",
    "COINBASE_KEY_NAME=organizations/o/apiKeys/k",
    "COINBASE_KEY=bm90IGEgcmVhbCBrZXk=",
    NULL,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfig) config = load (env, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->http_host, ==, "::1");
  g_assert_cmpuint (config->http_port, ==, 0);
  g_assert_cmpuint (g_strv_length (config->nats_urls), ==, 2);
  g_assert_cmpstr (config->nats_urls[0], ==, "nats://a:4222");
  g_assert_cmpstr (config->nats_urls[1], ==, "tls://b:4223");
  g_assert_cmpstr (config->database_url, ==, "postgresql://spot@db.example/spot");
  g_assert_cmpuint (g_strv_length (config->products), ==, 2);
  g_assert_cmpstr (config->products[0], ==, "BTC-USD");
  g_assert_cmpstr (config->products[1], ==, "ETH-EUR");
  g_assert_cmpuint (config->granularities, ==,
                    (1u << SPOT_GRANULARITY_ONE_MINUTE) | (1u << SPOT_GRANULARITY_ONE_HOUR));
  g_assert_cmpuint (config->shard_index, ==, 2);
  g_assert_cmpfloat (config->connect_rate, ==, 0.5);
  g_assert_cmpfloat (config->subscribe_rate, ==, 0.25);
  g_assert_cmpfloat (config->rest_rate, ==, 10.0);
  g_assert_cmpuint (config->sse_client_buffer, ==, 65536);
  g_assert_false (config->migrate_on_start);
  g_assert_cmpuint (g_strv_length (config->cors_origins), ==, 2);
  g_assert_cmpstr (config->cors_origins[1], ==, "http://localhost:3000");
  g_assert_cmpstr (config->kv_bucket, ==, "my_bucket-2");
  g_assert_cmpuint (config->kv_replicas, ==, 3);
  g_assert_cmpuint (config->kv_ttl_s, ==, 86400);
  g_assert_true (config->kv_memory);
  g_assert_cmpuint (config->kv_ack_group, ==, 1);
  g_assert_cmpint (config->dbus_bus, ==, SPOT_DBUS_BUS_NONE);
  g_assert_cmpint (config->log_level, ==, SPOT_LOG_LEVEL_DEBUG);
  g_assert_cmpstr (config->coinbase_key, ==, "bm90IGEgcmVhbCBrZXk=");
}

static void
test_all_keywords (void)
{
  const char *env[] = { "PRODUCTS=all", "GRANULARITIES=all", "CORS_ORIGINS=*",
                        "HTTP_ADDR=:9000", "SSE_CLIENT_BUFFER=2 MiB", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfig) config = load (env, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (config->products_all);
  g_assert_null (config->products);
  g_assert_cmpuint (config->granularities, ==, SPOT_GRANULARITY_SET_ALL);
  g_assert_cmpstr (config->cors_origins[0], ==, "*");
  g_assert_cmpstr (config->http_host, ==, "");
  g_assert_cmpuint (config->http_port, ==, 9000);
  g_assert_cmpuint (config->sse_client_buffer, ==, 2 * 1024 * 1024);
}

static void
test_options_win_over_environment (void)
{
  const char *env[] = { "HTTP_ADDR=10.0.0.1:1", "SHARD_WORKERS=4", "DBUS_BUS=session",
                        "LOG_LEVEL=warning", NULL };
  const char *options[] = { "--http-addr=localhost:9090", "--shard-workers", "8", "--system",
                            "--log-level=info", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfig) config = load (env, options, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->http_host, ==, "localhost");
  g_assert_cmpuint (config->http_port, ==, 9090);
  g_assert_cmpuint (config->shard_workers, ==, 8);
  g_assert_cmpint (config->dbus_bus, ==, SPOT_DBUS_BUS_SYSTEM);
  g_assert_cmpint (config->log_level, ==, SPOT_LOG_LEVEL_INFO);
}

static void
test_dbus_bus_option_wins_over_system_flag (void)
{
  const char *options[] = { "--system", "--dbus-bus=none", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfig) config = load (NULL, options, &error);

  g_assert_no_error (error);
  g_assert_cmpint (config->dbus_bus, ==, SPOT_DBUS_BUS_NONE);
}

static void
test_unknown_option_is_a_config_error (void)
{
  const char *options[] = { "--shard-indx=1", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfig) config = load (NULL, options, &error);

  g_assert_null (config);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
  g_assert_cmpstr (error->message, ==, "Unknown option --shard-indx=1 (see --help)");
}

static void
test_positional_arguments_stay (void)
{
  char *storage[] = { "spot-canvas", "--shard-workers=2", "migrate", "down", "3", NULL };
  char **argv = g_memdup2 (storage, sizeof storage);
  int argc = 5;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfigArgs) args = spot_config_args_parse (&argc, &argv, NULL, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (argc, ==, 4);
  g_assert_cmpstr (argv[1], ==, "migrate");
  g_assert_cmpstr (argv[2], ==, "down");
  g_assert_cmpstr (argv[3], ==, "3");
  g_free (argv);
}

typedef struct {
  const char *env[6];
  const char *options[3];
  const char *message;
} BadCase;

/* Each case: the exact one-line message. Secrets must not appear in it. */
static const BadCase bad_cases[] = {
  { { "HTTP_ADDR=localhost" }, { NULL },
    "HTTP_ADDR=localhost must be host:port with a port from 0 to 65535 (IPv6 as [::1]:8080, "
    ":8080 for every interface)" },
  { { "HTTP_ADDR=127.0.0.1:65536" }, { NULL },
    "HTTP_ADDR=127.0.0.1:65536 must be host:port with a port from 0 to 65535 (IPv6 as "
    "[::1]:8080, :8080 for every interface)" },
  { { "HTTP_ADDR=127.0.0.1:80x" }, { NULL },
    "HTTP_ADDR=127.0.0.1:80x must be host:port with a port from 0 to 65535 (IPv6 as "
    "[::1]:8080, :8080 for every interface)" },
  { { "HTTP_ADDR=::1:8080" }, { NULL },
    "HTTP_ADDR=::1:8080 must be host:port with a port from 0 to 65535 (IPv6 as [::1]:8080, "
    ":8080 for every interface)" },
  { { NULL }, { "--http-addr=127.0.0.1:-1" },
    "--http-addr=127.0.0.1:-1 must be host:port with a port from 0 to 65535 (IPv6 as "
    "[::1]:8080, :8080 for every interface)" },
  { { "STATE_DIRECTORY=state" }, { NULL }, "STATE_DIRECTORY=state must be an absolute path" },
  { { "NATS_URL=http://localhost:4222" }, { NULL },
    "NATS_URL=http://localhost:4222 must be nats:// or tls:// URLs with a host, comma-separated" },
  { { "NATS_URL=nats://a:4222,,nats://b:4222" }, { NULL },
    "NATS_URL=nats://a:4222,,nats://b:4222 must be nats:// or tls:// URLs with a host, "
    "comma-separated" },
  { { "NATS_URL=ftp://alice:s3cret@host:4222" }, { NULL },
    "NATS_URL=ftp://alice:***@host:4222 must be nats:// or tls:// URLs with a host, "
    "comma-separated" },
  { { "NATS_URL=nats//alice:s3cret@host" }, { NULL },
    "NATS_URL=***@host must be nats:// or tls:// URLs with a host, comma-separated" },
  { { "DATABASE_URL=host=db password=s3cret nonsense" }, { NULL },
    "DATABASE_URL=*** must be a libpq connection string (postgresql://user@host/db or key=value "
    "pairs)" },
  { { "DATABASE_URL=postgresql://bob:s3cret@db/x?bogus_param=1" }, { NULL },
    "DATABASE_URL=postgresql://bob:***@db/x?bogus_param=1 must be a libpq connection string "
    "(postgresql://user@host/db or key=value pairs)" },
  { { "PRODUCTS=btc-usd" }, { NULL },
    "PRODUCTS=btc-usd must be all or comma-separated product ids like BTC-USD,ETH-EUR" },
  { { "PRODUCTS=BTC-USD,,ETH-USD" }, { NULL },
    "PRODUCTS=BTC-USD,,ETH-USD must be all or comma-separated product ids like BTC-USD,ETH-EUR" },
  { { "PRODUCTS= , " }, { NULL },
    "PRODUCTS= ,  must be all or comma-separated product ids like BTC-USD,ETH-EUR" },
  { { "GRANULARITIES=ONE_WEEK" }, { NULL },
    "GRANULARITIES=ONE_WEEK must be all or comma-separated granularities: ONE_MINUTE, "
    "FIVE_MINUTE, FIFTEEN_MINUTE, THIRTY_MINUTE, ONE_HOUR, TWO_HOUR, FOUR_HOUR, SIX_HOUR, "
    "ONE_DAY (or 1m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 1d)" },
  { { "SHARD_COUNT=0" }, { NULL }, "SHARD_COUNT=0 must be a whole number from 1 to 1024" },
  { { "SHARD_COUNT=-1" }, { NULL }, "SHARD_COUNT=-1 must be a whole number from 1 to 1024" },
  { { "SHARD_COUNT=2x" }, { NULL }, "SHARD_COUNT=2x must be a whole number from 1 to 1024" },
  { { "SHARD_COUNT= 2" }, { NULL }, "SHARD_COUNT= 2 must be a whole number from 1 to 1024" },
  { { "SHARD_COUNT=+2" }, { NULL }, "SHARD_COUNT=+2 must be a whole number from 1 to 1024" },
  { { "SHARD_WORKERS=99999999999999999999999" }, { NULL },
    "SHARD_WORKERS=99999999999999999999999 must be auto or a whole number from 1 to 256" },
  { { "SHARD_WORKERS=0" }, { NULL }, "SHARD_WORKERS=0 must be auto or a whole number from 1 to 256" },
  { { "BATCH_SIZE=1.5" }, { NULL }, "BATCH_SIZE=1.5 must be a whole number from 1 to 100000" },
  { { "KV_REPLICAS=6" }, { NULL }, "KV_REPLICAS=6 must be a whole number from 1 to 5" },
  { { "KV_ACK_GROUP=0" }, { NULL }, "KV_ACK_GROUP=0 must be a whole number from 1 to 256" },
  { { NULL }, { "--stall-timeout-s=0" },
    "--stall-timeout-s=0 must be a whole number from 1 to 3600" },
  { { "CONNECT_RATE=0" }, { NULL },
    "CONNECT_RATE=0 must be a decimal number of events per second, above 0 and at most 1000" },
  { { "CONNECT_RATE=-1" }, { NULL },
    "CONNECT_RATE=-1 must be a decimal number of events per second, above 0 and at most 1000" },
  { { "SUBSCRIBE_RATE=1e3" }, { NULL },
    "SUBSCRIBE_RATE=1e3 must be a decimal number of events per second, above 0 and at most "
    "1000" },
  { { "REST_RATE=nan" }, { NULL },
    "REST_RATE=nan must be a decimal number of events per second, above 0 and at most 1000" },
  { { "REST_RATE=1.5x" }, { NULL },
    "REST_RATE=1.5x must be a decimal number of events per second, above 0 and at most 1000" },
  { { "REST_RATE=1." }, { NULL },
    "REST_RATE=1. must be a decimal number of events per second, above 0 and at most 1000" },
  { { "SSE_CLIENT_BUFFER=1MB" }, { NULL },
    "SSE_CLIENT_BUFFER=1MB must be a size from 4KiB to 1GiB in bytes or with a suffix KiB, MiB "
    "or GiB" },
  { { "SSE_CLIENT_BUFFER=1KiB" }, { NULL },
    "SSE_CLIENT_BUFFER=1KiB must be a size from 4KiB to 1GiB in bytes or with a suffix KiB, "
    "MiB or GiB" },
  { { "SSE_CLIENT_BUFFER=MiB" }, { NULL },
    "SSE_CLIENT_BUFFER=MiB must be a size from 4KiB to 1GiB in bytes or with a suffix KiB, MiB "
    "or GiB" },
  { { "MIGRATE_ON_START=maybe" }, { NULL },
    "MIGRATE_ON_START=maybe must be true or false (also yes/no, on/off, 1/0)" },
  { { "COINBASE_WS_URL=https://advanced-trade-ws.coinbase.com" }, { NULL },
    "COINBASE_WS_URL=https://advanced-trade-ws.coinbase.com must be a ws:// or wss:// URL with "
    "a host" },
  { { "COINBASE_REST_URL=ws://api.coinbase.com" }, { NULL },
    "COINBASE_REST_URL=ws://api.coinbase.com must be an http:// or https:// URL with a host" },
  { { "COINBASE_REST_URL=https://" }, { NULL },
    "COINBASE_REST_URL=https:// must be an http:// or https:// URL with a host" },
  { { "KV_BUCKET=live.candles" }, { NULL },
    "KV_BUCKET=live.candles must be 1 to 64 letters, digits, '-' or '_'" },
  { { "CORS_ORIGINS=https://a.example/path" }, { NULL },
    "CORS_ORIGINS=https://a.example/path must be * or comma-separated origins like "
    "https://example.com (scheme://host[:port], no path)" },
  { { "CORS_ORIGINS=*,https://a.example" }, { NULL },
    "CORS_ORIGINS=*,https://a.example must be * or comma-separated origins like "
    "https://example.com (scheme://host[:port], no path)" },
  { { "DBUS_BUS=user" }, { NULL }, "DBUS_BUS=user must be session, system or none" },
  { { "KV_STORAGE=disk" }, { NULL }, "KV_STORAGE=disk must be file or memory" },
  { { "LOG_LEVEL=verbose" }, { NULL },
    "LOG_LEVEL=verbose must be debug, info, message or warning" },
  { { "NATS_URL=nats://n:4222", "NATS_CREDS=/nonexistent/user.creds" }, { NULL },
    "NATS_CREDS=/nonexistent/user.creds must name an existing regular file" },
  { { "COINBASE_KEY_NAME=line\nbreak" }, { NULL },
    "COINBASE_KEY_NAME=line\\nbreak must be UTF-8 text without control characters" },

  /* Cross-field rules. */
  { { "SHARD_INDEX=7", "SHARD_COUNT=4", "NATS_URL=nats://n:4222", "DATABASE_URL=host=db" },
    { NULL }, "SHARD_INDEX=7 must be smaller than SHARD_COUNT=4" },
  { { "SHARD_COUNT=4", "NATS_URL=nats://n:4222", "DATABASE_URL=host=db" }, { "--shard-index=4" },
    "--shard-index=4 must be smaller than SHARD_COUNT=4" },
  { { "SHARD_INDEX=1" }, { NULL }, "SHARD_INDEX=1 must be smaller than SHARD_COUNT=1" },
  { { "SHARD_COUNT=3", "SHARD_INDEX=1" }, { NULL },
    "SHARD_COUNT=3 needs NATS_URL: each instance would otherwise run its own embedded "
    "nats-server" },
  { { "SHARD_COUNT=3", "NATS_URL=nats://n:4222" }, { NULL },
    "SHARD_COUNT=3 needs DATABASE_URL: each instance would otherwise run its own embedded "
    "PostgreSQL" },
  { { "KV_REPLICAS=3" }, { NULL },
    "KV_REPLICAS=3 needs NATS_URL: the embedded nats-server is a single server" },
  { { "CORRECTION_WINDOW_S=7200", "REPAIR_HORIZON_H=1" }, { NULL },
    "CORRECTION_WINDOW_S=7200 must not exceed REPAIR_HORIZON_H=1 hours" },
  { { "COINBASE_KEY_NAME=organizations/o/apiKeys/k" }, { NULL },
    "COINBASE_KEY_NAME=organizations/o/apiKeys/k needs COINBASE_KEY_FILE or COINBASE_KEY" },
  { { "COINBASE_KEY=s3cret-key-material" }, { NULL },
    "COINBASE_KEY needs COINBASE_KEY_NAME unless it is Coinbase's JSON key" },
};

static void
test_bad_value_fails_with_one_line (gconstpointer data)
{
  const BadCase *bad = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfig) config = load (bad->env, bad->options, &error);

  g_assert_null (config);
  g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
  g_assert_cmpstr (error->message, ==, bad->message);
  g_assert_null (strchr (error->message, '\n'));
  g_assert_null (strstr (error->message, "s3cret"));
}

/* Cases that need real files in a temporary directory. */
static void
test_file_rules (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("spot-config-XXXXXX", &error);
  g_autofree char *file = g_build_filename (dir, "user.creds", NULL);
  g_autofree char *creds = g_strconcat ("NATS_CREDS=", file, NULL);
  g_autofree char *tls_cert = g_strconcat ("NATS_TLS_CERT=", file, NULL);
  g_autofree char *key_file = g_strconcat ("COINBASE_KEY_FILE=", file, NULL);
  g_autofree char *dir_as_file = g_strconcat ("NATS_TLS_CA=", dir, NULL);
  g_autofree char *expected = NULL;

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (file, "secret file contents", -1, &error));

  {
    const char *env[] = { creds, NULL };
    g_autoptr (SpotConfig) config = load (env, NULL, &error);
    g_assert_null (config);
    expected = g_strdup_printf ("NATS_CREDS=%s needs NATS_URL: the embedded nats-server takes "
                                "no credentials or certificates", file);
    g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
    g_assert_cmpstr (error->message, ==, expected);
    g_clear_error (&error);
    g_clear_pointer (&expected, g_free);
  }
  {
    const char *env[] = { "NATS_URL=nats://n:4222", creds, NULL };
    g_autoptr (SpotConfig) config = load (env, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (config->nats_creds, ==, file);
  }
  {
    const char *env[] = { "NATS_URL=nats://n:4222", tls_cert, NULL };
    g_autoptr (SpotConfig) config = load (env, NULL, &error);
    g_assert_null (config);
    expected = g_strdup_printf ("NATS_TLS_CERT=%s needs NATS_TLS_KEY: a client certificate "
                                "comes with its key", file);
    g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
    g_assert_cmpstr (error->message, ==, expected);
    g_clear_error (&error);
    g_clear_pointer (&expected, g_free);
  }
  {
    const char *env[] = { "NATS_URL=nats://n:4222", dir_as_file, NULL };
    g_autoptr (SpotConfig) config = load (env, NULL, &error);
    g_assert_null (config);
    expected = g_strdup_printf ("NATS_TLS_CA=%s must name an existing regular file", dir);
    g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
    g_assert_cmpstr (error->message, ==, expected);
    g_clear_error (&error);
    g_clear_pointer (&expected, g_free);
  }
  {
    const char *env[] = { "COINBASE_KEY=s3cret", key_file, "COINBASE_KEY_NAME=k", NULL };
    g_autoptr (SpotConfig) config = load (env, NULL, &error);
    g_assert_null (config);
    expected = g_strdup_printf ("COINBASE_KEY and COINBASE_KEY_FILE=%s are both set: give the "
                                "key one way", file);
    g_assert_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG);
    g_assert_cmpstr (error->message, ==, expected);
    g_assert_null (strstr (error->message, "s3cret"));
    g_clear_error (&error);
  }
  {
    /* Coinbase's JSON key carries its name. */
    const char *env[] = { "COINBASE_KEY= {\"name\":\"k\",\"privateKey\":\"x\"}", NULL };
    g_autoptr (SpotConfig) config = load (env, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (config->coinbase_key);
  }

  g_assert_cmpint (g_unlink (file), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_state_directory_rules (void)
{
  const char *xdg_env[] = { "XDG_STATE_HOME=/srv/state", "HOME=/home/u", NULL };
  const char *relative_xdg_env[] = { "XDG_STATE_HOME=state", "HOME=/home/u", NULL };
  const char *home_env[] = { "HOME=/home/u", NULL };
  g_autofree char *root = spot_config_default_state_directory (xdg_env, TRUE);
  g_autofree char *xdg = spot_config_default_state_directory (xdg_env, FALSE);
  g_autofree char *relative = spot_config_default_state_directory (relative_xdg_env, FALSE);
  g_autofree char *home = spot_config_default_state_directory (home_env, FALSE);

  g_assert_cmpstr (root, ==, "/var/lib/spot-canvas");
  g_assert_cmpstr (xdg, ==, "/srv/state/spot-canvas");
  g_assert_cmpstr (relative, ==, "/home/u/.local/state/spot-canvas");
  g_assert_cmpstr (home, ==, "/home/u/.local/state/spot-canvas");

  {
    /* systemd's variable wins over XDG and root, first of a ':' list. */
    const char *env[] = { "STATE_DIRECTORY=/var/lib/spot-canvas-a/:/var/lib/other",
                          "XDG_STATE_HOME=/srv/state", NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (SpotConfig) config = load (env, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (config->state_directory, ==, "/var/lib/spot-canvas-a");
  }
  {
    const char *env[] = { "STATE_DIRECTORY=/var/lib/a", NULL };
    const char *options[] = { "--state-directory=/tmp/b/../c", NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (SpotConfig) config = load (env, options, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (config->state_directory, ==, "/tmp/c");
  }
}

static void
test_redact_url (void)
{
  static const struct {
    const char *in;
    const char *out;
  } cases[] = {
    { "nats://alice:s3cret@h:4222", "nats://alice:***@h:4222" },
    { "nats://s3cret@h:4222", "nats://***@h:4222" },
    { "tls://h:4222", "tls://h:4222" },
    { "postgresql://bob@db/x", "postgresql://bob@db/x" },
    { "postgresql://bob:s3cret@db1,db2/x?sslmode=require&password=s3cret",
      "postgresql://bob:***@db1,db2/x?sslmode=require&password=***" },
    { "postgres://bob:p@ss:word@db/x", "postgres://bob:***@db/x" },
    { "host=db password=s3cret user=u", "host=db password=*** user=u" },
    { "password = 's3 cret\\' x' host=db", "password=*** host=db" },
    { "host=db PASSWORD=s3cret", "host=db password=***" },
    { "host=db", "host=db" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = spot_config_redact_url (cases[i].in);
      g_assert_cmpstr (out, ==, cases[i].out);
    }
}

static void
test_to_string_redacts_secrets (void)
{
  const char *env[] = {
    "NATS_URL=nats://alice:s3cret1@n1:4222,nats://s3cret2@n2:4222",
    "DATABASE_URL=postgresql://bob:s3cret3@db/spot?password=s3cret4",
    "COINBASE_KEY_NAME=organizations/o/apiKeys/k",
    "COINBASE_KEY=s3cret5",
    "SHARD_COUNT=2",
    NULL,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfig) config = load (env, NULL, &error);
  g_autofree char *redacted = NULL;
  g_autofree char *plain = NULL;

  g_assert_no_error (error);
  redacted = spot_config_to_string (config, TRUE);
  plain = spot_config_to_string (config, FALSE);
  g_assert_null (strstr (redacted, "s3cret"));
  g_assert_nonnull (strstr (redacted, "\nNATS_URL=nats://alice:***@n1:4222,nats://***@n2:4222\n"));
  g_assert_nonnull (strstr (redacted, "\nDATABASE_URL=postgresql://bob:***@db/spot?password=***\n"));
  g_assert_nonnull (strstr (redacted, "\nCOINBASE_KEY=***\n"));
  g_assert_nonnull (strstr (redacted, "\nCOINBASE_KEY_NAME=organizations/o/apiKeys/k\n"));
  g_assert_nonnull (strstr (redacted, "\nSHARD_COUNT=2\n"));
  for (guint i = 1; i <= 5; i++)
    {
      g_autofree char *secret = g_strdup_printf ("s3cret%u", i);
      g_assert_nonnull (strstr (plain, secret));
    }
}

/* The printed configuration, read back as an environment, gives the same
 * configuration. */
static void
test_to_string_round_trips (void)
{
  const char *env[] = { "HTTP_ADDR=[::1]:9000", "PRODUCTS=BTC-USD,ETH-USD",
                        "GRANULARITIES=1m,1d", "SSE_CLIENT_BUFFER=65536", "CONNECT_RATE=0.5",
                        "STATE_DIRECTORY=/tmp/spot", "CORS_ORIGINS=*", "LOG_LEVEL=warning",
                        NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfig) config = load (env, NULL, &error);
  g_autoptr (SpotConfig) again = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_again = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GPtrArray) env_again = g_ptr_array_new ();

  g_assert_no_error (error);
  text = spot_config_to_string (config, FALSE);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '#' && lines[i][0] != '\0')
      g_ptr_array_add (env_again, lines[i]);
  g_ptr_array_add (env_again, NULL);
  again = spot_config_new (NULL, (const char *const *) env_again->pdata, &error);
  g_assert_no_error (error);
  text_again = spot_config_to_string (again, FALSE);
  g_assert_cmpstr (text, ==, text_again);
  g_assert_nonnull (strstr (text, "\nSSE_CLIENT_BUFFER=64KiB\n"));
  g_assert_nonnull (strstr (text, "\nCONNECT_RATE=0.5\n"));
  g_assert_nonnull (strstr (text, "\nGRANULARITIES=ONE_MINUTE,ONE_DAY\n"));
}

static char *
read_source_file (const char *relative)
{
  const char *root = g_getenv ("SPOT_SOURCE_ROOT");
  g_autofree char *path = g_build_filename (root != NULL ? root : SPOT_SOURCE_ROOT, relative, NULL);
  g_autoptr (GError) error = NULL;
  char *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  g_assert_no_error (error);
  return contents;
}

/* .env.example lists every variable, in table order, with its default (unset
 * ones commented out), and as an environment it gives the defaults. */
static void
test_env_example_lists_every_variable (void)
{
  g_autofree char *text = read_source_file (".env.example");
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GPtrArray) env = g_ptr_array_new ();
  guint n_vars;
  const SpotConfigVarInfo *infos = spot_config_vars (&n_vars);
  guint next = 0;

  for (guint l = 0; lines[l] != NULL; l++)
    {
      const char *line = lines[l];
      gboolean commented = g_str_has_prefix (line, "# ");
      const char *assignment = commented ? line + 2 : line;
      const char *eq = strchr (assignment, '=');
      g_autofree char *name = NULL;

      if (eq == NULL || (commented && !g_ascii_isupper (assignment[0])))
        continue;
      name = g_strndup (assignment, eq - assignment);
      if (strspn (name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != strlen (name))
        continue;
      g_assert_cmpuint (next, <, n_vars);
      g_assert_cmpstr (name, ==, infos[next].name);
      if (infos[next].default_text != NULL)
        {
          g_assert_false (commented);
          g_assert_cmpstr (eq + 1, ==, infos[next].default_text);
          g_ptr_array_add (env, (gpointer) line);
        }
      else
        g_assert_true (commented);
      next++;
    }
  g_assert_cmpuint (next, ==, n_vars);

  g_ptr_array_add (env, NULL);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (SpotConfig) from_file = spot_config_new (NULL, (const char *const *) env->pdata, &error);
    g_autoptr (SpotConfig) defaults = spot_config_new (NULL, NULL, &error);
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;

    g_assert_no_error (error);
    a = spot_config_to_string (from_file, FALSE);
    b = spot_config_to_string (defaults, FALSE);
    g_assert_cmpstr (a, ==, b);
  }
}

static void
test_reference_documents_every_variable (void)
{
  g_autofree char *text = read_source_file ("docs/configuration.md");
  guint n_vars;
  const SpotConfigVarInfo *infos = spot_config_vars (&n_vars);

  for (guint i = 0; i < n_vars; i++)
    {
      g_autofree char *name = g_strdup_printf ("`%s`", infos[i].name);
      g_autofree char *option = g_strdup_printf ("`--%s=", infos[i].option);
      if (strstr (text, name) == NULL)
        g_error ("docs/configuration.md does not mention %s", name);
      if (strstr (text, option) == NULL)
        g_error ("docs/configuration.md does not mention %s", option);
    }
}

static void
test_log_filter_levels (void)
{
  g_assert_false (spot_log_filter_drops (SPOT_LOG_LEVEL_DEBUG, G_LOG_LEVEL_DEBUG));
  g_assert_true (spot_log_filter_drops (SPOT_LOG_LEVEL_INFO, G_LOG_LEVEL_DEBUG));
  g_assert_false (spot_log_filter_drops (SPOT_LOG_LEVEL_INFO, G_LOG_LEVEL_INFO));
  g_assert_true (spot_log_filter_drops (SPOT_LOG_LEVEL_MESSAGE, G_LOG_LEVEL_INFO));
  g_assert_false (spot_log_filter_drops (SPOT_LOG_LEVEL_MESSAGE, G_LOG_LEVEL_MESSAGE));
  g_assert_true (spot_log_filter_drops (SPOT_LOG_LEVEL_WARNING, G_LOG_LEVEL_MESSAGE));
  g_assert_false (spot_log_filter_drops (SPOT_LOG_LEVEL_WARNING, G_LOG_LEVEL_WARNING));
  g_assert_false (spot_log_filter_drops (SPOT_LOG_LEVEL_WARNING, G_LOG_LEVEL_CRITICAL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/defaults-match-design", test_defaults_match_design);
  g_test_add_func ("/config/null-environment-is-empty", test_null_environment_is_empty);
  g_test_add_func ("/config/empty-value-means-unset", test_empty_value_means_unset);
  g_test_add_func ("/config/environment-values-parse", test_environment_values_parse);
  g_test_add_func ("/config/all-keywords", test_all_keywords);
  g_test_add_func ("/config/options-win-over-environment", test_options_win_over_environment);
  g_test_add_func ("/config/dbus-bus-option-wins-over-system-flag",
                   test_dbus_bus_option_wins_over_system_flag);
  g_test_add_func ("/config/unknown-option-is-a-config-error",
                   test_unknown_option_is_a_config_error);
  g_test_add_func ("/config/positional-arguments-stay", test_positional_arguments_stay);
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/config/bad-value-fails-with-one-line/%02u", i);
      g_test_add_data_func (path, &bad_cases[i], test_bad_value_fails_with_one_line);
    }
  g_test_add_func ("/config/file-rules", test_file_rules);
  g_test_add_func ("/config/state-directory-rules", test_state_directory_rules);
  g_test_add_func ("/config/redact-url", test_redact_url);
  g_test_add_func ("/config/to-string-redacts-secrets", test_to_string_redacts_secrets);
  g_test_add_func ("/config/to-string-round-trips", test_to_string_round_trips);
  g_test_add_func ("/config/env-example-lists-every-variable",
                   test_env_example_lists_every_variable);
  g_test_add_func ("/config/reference-documents-every-variable",
                   test_reference_documents_every_variable);
  g_test_add_func ("/config/log-filter-levels", test_log_filter_levels);

  return g_test_run ();
}
