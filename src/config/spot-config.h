/* spot-config.h: the effective configuration of one spot-canvas instance.
 *
 * Every setting is an environment variable (DESIGN.md section 4, all listed in
 * .env.example and docs/configuration.md) and also a command-line option of
 * the same name in lower case with dashes (SHARD_INDEX -> --shard-index).
 * Options win over the environment, the environment over the defaults. An
 * empty value is the same as an unset one.
 *
 * Loading validates everything, including cross-field rules (SHARD_INDEX <
 * SHARD_COUNT, no embedded servers with SHARD_COUNT > 1, ...). A bad value
 * fails with SPOT_ERROR_INVALID_CONFIG and a one-line message naming the
 * variable (or the option, when the value came from one), the value and what
 * is allowed, e.g. "SHARD_INDEX=7 must be smaller than SHARD_COUNT=4". Secret
 * values (COINBASE_KEY, passwords and tokens inside DATABASE_URL and NATS_URL)
 * never appear in error messages, logs or redacted output.
 *
 * Thread safety: load on the main thread at start-up. A loaded SpotConfig is
 * never modified afterwards, so any thread may read it (fields and functions)
 * as long as the owner keeps it alive; free it on the thread that loaded it,
 * after every reader has stopped.
 */
#pragma once

#include <glib.h>

#include "model/spot-granularity.h"

G_BEGIN_DECLS

typedef enum {
  SPOT_DBUS_BUS_SESSION,
  SPOT_DBUS_BUS_SYSTEM,
  SPOT_DBUS_BUS_NONE,
} SpotDbusBus;

/* The most verbose level logged: DEBUG logs everything, WARNING only
 * warnings and criticals. */
typedef enum {
  SPOT_LOG_LEVEL_DEBUG,
  SPOT_LOG_LEVEL_INFO,
  SPOT_LOG_LEVEL_MESSAGE,
  SPOT_LOG_LEVEL_WARNING,
} SpotLogLevel;

typedef struct {
  /* HTTP_ADDR "host:port"; http_host is "" for every interface (":8080"),
   * without brackets for IPv6 ("::1"). */
  char *http_addr;
  char *http_host;
  guint16 http_port;

  /* Absolute path; created by `run`, not by loading. */
  char *state_directory;

  /* NATS_URL split at commas; NULL = embedded nats-server. Contains secrets
   * (user:password@ or token@): never log it, use spot_config_to_string(). */
  char **nats_urls;
  char *nats_creds;    /* credentials file (JWT + nkey seed) or NULL */
  char *nats_tls_ca;   /* PEM file or NULL */
  char *nats_tls_cert; /* PEM file or NULL; set together with nats_tls_key */
  char *nats_tls_key;

  /* libpq connection string (URI or key=value); NULL = embedded PostgreSQL.
   * May contain a password: never log it. */
  char *database_url;
  gboolean migrate_on_start;

  /* PRODUCTS: products_all for `all`; else products is a NULL-terminated
   * list of validated ids, or NULL when unset (the database's active set). */
  gboolean products_all;
  char **products;
  SpotGranularitySet granularities;

  guint shard_index;
  guint shard_count;
  guint shard_workers;
  guint shard_queue; /* batches per worker queue */

  guint products_per_connection;
  guint inbox_size; /* messages per connection inbox */
  double connect_rate;   /* connection opens per second */
  double subscribe_rate; /* subscribe messages per second */
  double rest_rate;      /* REST requests per second */
  guint stall_timeout_s;

  guint candle_grace_ms;
  guint correction_window_s;
  guint repair_delay_s;
  guint repair_horizon_h;
  guint repair_wait_ms;  /* how long a completion waits for pending repairs */
  guint seed_hold_limit; /* live trades held per product while seeding */

  guint batch_size;
  guint flush_interval_ms;

  char *kv_bucket;
  guint kv_ttl_s; /* 0 = values never expire */
  guint kv_replicas;
  gboolean kv_memory; /* KV_STORAGE=memory */
  guint kv_staleness_ms;
  guint kv_ack_group;

  guint sse_max_clients;
  guint sse_max_products;
  guint64 sse_client_buffer; /* bytes */
  guint sse_keepalive_s;
  /* NULL-terminated, empty when CORS_ORIGINS is unset; "*" alone allows any. */
  char **cors_origins;

  char *coinbase_ws_url;
  char *coinbase_rest_url;
  char *coinbase_key_name; /* NULL when unset */
  char *coinbase_key_file; /* NULL when unset; its contents are a secret */
  char *coinbase_key;      /* NULL when unset; a secret */

  guint shutdown_timeout_s;
  SpotDbusBus dbus_bus;
  SpotLogLevel log_level;
} SpotConfig;

/* The command line as parsed, before the environment is looked at. */
typedef struct _SpotConfigArgs SpotConfigArgs;

/**
 * spot_config_args_parse:
 * @argc: (inout): argument count
 * @argv: (inout): arguments; options are removed, positional ones stay
 * @extra_entries: (nullable): more entries for the main group (the caller's
 *   own flags such as --version), NULL-terminated
 * @parameter_string: (nullable): shown after the program name in --help
 * @summary: (nullable): text shown before the options in --help
 *
 * Parses every configuration option without validating values (so `version`
 * works with a broken environment). --help prints and exits 0. An unknown
 * option or a missing argument fails with SPOT_ERROR_INVALID_CONFIG.
 */
SpotConfigArgs *spot_config_args_parse (int *argc,
                                        char ***argv,
                                        const GOptionEntry *extra_entries,
                                        const char *parameter_string,
                                        const char *summary,
                                        GError **error);
void spot_config_args_free (SpotConfigArgs *args);

/* Resolves options over @envp (a g_get_environ()-style array; NULL is an
 * empty environment) over the defaults and validates the result. @args may
 * be NULL (environment only). */
SpotConfig *spot_config_new (const SpotConfigArgs *args, const char *const *envp, GError **error);

/* spot_config_args_parse() with no extra entries, then spot_config_new(). */
SpotConfig *spot_config_load (int *argc, char ***argv, const char *const *envp, GError **error);

/* One "NAME=value" line per variable in the order of .env.example, the
 * effective values in canonical form, unset ones empty (so the text can be
 * read back as an environment file). With @redact, secrets become "***". */
char *spot_config_to_string (const SpotConfig *config, gboolean redact);

/* @url with the password (or a NATS token) replaced by "***"; works on URIs
 * and libpq key=value strings. For logs and error messages. */
char *spot_config_redact_url (const char *url);

const char *spot_dbus_bus_to_string (SpotDbusBus bus);
const char *spot_log_level_to_string (SpotLogLevel level);

void spot_config_free (SpotConfig *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotConfig, spot_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotConfigArgs, spot_config_args_free)

G_END_DECLS
