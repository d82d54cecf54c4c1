/* spot-config.c: environment and command line to a validated SpotConfig. */
#define G_LOG_DOMAIN "spot-config"

#include "config.h"

#include "config/spot-config.h"
#include "config/spot-config-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <libpq-fe.h>

#include "core/spot-error.h"
#include "model/spot-product.h"

typedef enum {
  KIND_ADDR,
  KIND_STATE_DIR,
  KIND_NATS_URLS,
  KIND_DATABASE_URL,
  KIND_PRODUCTS,
  KIND_GRANULARITIES,
  KIND_UINT,
  KIND_WORKERS, /* KIND_UINT or "auto" */
  KIND_RATE,
  KIND_BYTES,
  KIND_BOOL,
  KIND_FILE,
  KIND_WS_URL,
  KIND_HTTP_URL,
  KIND_TEXT,
  KIND_SECRET_TEXT,
  KIND_KV_BUCKET,
  KIND_CORS,
  KIND_DBUS_BUS,
  KIND_KV_STORAGE,
  KIND_LOG_LEVEL,
} VarKind;

typedef struct {
  SpotConfigVarInfo info;
  VarKind kind;
  gsize offset; /* of the field in SpotConfig */
  guint64 min;  /* KIND_UINT, KIND_BYTES; KIND_RATE uses max only */
  guint64 max;
} VarSpec;

#define FIELD(f) G_STRUCT_OFFSET (SpotConfig, f)
#define KIB ((guint64) 1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

/* The order is that of .env.example; a test checks the two agree. */
static const VarSpec vars[] = {
  { { "HTTP_ADDR", "http-addr", "HOST:PORT", "127.0.0.1:8080",
      N_("HTTP listen address (IPv6 as [::1]:8080, :8080 for every interface)"), "HTTP", FALSE },
    KIND_ADDR, FIELD (http_addr), 0, 0 },
  { { "CORS_ORIGINS", "cors-origins", "ORIGINS", NULL,
      N_("Origins allowed to read the API and stream (comma-separated, or *)"), "HTTP", FALSE },
    KIND_CORS, FIELD (cors_origins), 0, 0 },
  { { "SSE_MAX_CLIENTS", "sse-max-clients", "N", "10000",
      N_("Most concurrent /stream clients"), "HTTP", FALSE },
    KIND_UINT, FIELD (sse_max_clients), 1, 1000000 },
  { { "SSE_MAX_PRODUCTS", "sse-max-products", "N", "200",
      N_("Most products one /stream client may select"), "HTTP", FALSE },
    KIND_UINT, FIELD (sse_max_products), 1, 100000 },
  { { "SSE_CLIENT_BUFFER", "sse-client-buffer", "SIZE", "1MiB",
      N_("Unsent bytes per /stream client before it is dropped (suffixes KiB, MiB, GiB)"), "HTTP",
      FALSE },
    KIND_BYTES, FIELD (sse_client_buffer), 4 * KIB, GIB },
  { { "SSE_KEEPALIVE_S", "sse-keepalive-s", "SECONDS", "15",
      N_("Seconds between keep-alive comments on an idle stream"), "HTTP", FALSE },
    KIND_UINT, FIELD (sse_keepalive_s), 1, 3600 },

  { { "STATE_DIRECTORY", "state-directory", "DIR", NULL,
      N_("Directory for the embedded NATS and PostgreSQL data and journals"), "State", FALSE },
    KIND_STATE_DIR, FIELD (state_directory), 0, 0 },

  { { "NATS_URL", "nats-url", "URLS", NULL,
      N_("NATS server URLs, comma-separated (unset: run an embedded nats-server)"), "NATS", TRUE },
    KIND_NATS_URLS, FIELD (nats_urls), 0, 0 },
  { { "NATS_CREDS", "nats-creds", "FILE", NULL,
      N_("NATS credentials file (user JWT and nkey seed)"), "NATS", FALSE },
    KIND_FILE, FIELD (nats_creds), 0, 0 },
  { { "NATS_TLS_CA", "nats-tls-ca", "FILE", NULL,
      N_("PEM file of the CA that signed the NATS server certificate"), "NATS", FALSE },
    KIND_FILE, FIELD (nats_tls_ca), 0, 0 },
  { { "NATS_TLS_CERT", "nats-tls-cert", "FILE", NULL,
      N_("PEM client certificate for NATS (with NATS_TLS_KEY)"), "NATS", FALSE },
    KIND_FILE, FIELD (nats_tls_cert), 0, 0 },
  { { "NATS_TLS_KEY", "nats-tls-key", "FILE", NULL,
      N_("PEM private key of the NATS client certificate"), "NATS", FALSE },
    KIND_FILE, FIELD (nats_tls_key), 0, 0 },
  { { "KV_BUCKET", "kv-bucket", "NAME", "live-candles",
      N_("JetStream key-value bucket holding the latest candle of each key"), "NATS", FALSE },
    KIND_KV_BUCKET, FIELD (kv_bucket), 0, 0 },
  { { "KV_TTL_S", "kv-ttl-s", "SECONDS", "0",
      N_("Seconds a KV value lives (0: forever)"), "NATS", FALSE },
    KIND_UINT, FIELD (kv_ttl_s), 0, 10 * 366 * 86400 },
  { { "KV_REPLICAS", "kv-replicas", "N", "1",
      N_("Replicas of the KV bucket when it is created (1 to 5)"), "NATS", FALSE },
    KIND_UINT, FIELD (kv_replicas), 1, 5 },
  { { "KV_STORAGE", "kv-storage", "STORAGE", "file",
      N_("Storage of the KV bucket when it is created: file, or memory (faster; emptied when "
         "nats-server restarts, then rewritten from the service's own state)"),
      "NATS", FALSE },
    KIND_KV_STORAGE, FIELD (kv_memory), 0, 0 },
  { { "KV_STALENESS_MS", "kv-staleness-ms", "MS", "250",
      N_("Longest a KV value may lag behind the latest update while writes are coalesced"), "NATS",
      FALSE },
    KIND_UINT, FIELD (kv_staleness_ms), 0, 60000 },
  { { "KV_ACK_GROUP", "kv-ack-group", "N", "16",
      N_("KV writes sharing one JetStream acknowledgement on a single-replica bucket (1: each "
         "write acknowledged)"),
      "NATS", FALSE },
    KIND_UINT, FIELD (kv_ack_group), 1, 256 },

  { { "DATABASE_URL", "database-url", "CONNINFO", NULL,
      N_("libpq connection string (unset: run an embedded PostgreSQL)"), "Database", TRUE },
    KIND_DATABASE_URL, FIELD (database_url), 0, 0 },
  { { "MIGRATE_ON_START", "migrate-on-start", "BOOL", "true",
      N_("Apply pending database migrations at start-up"), "Database", FALSE },
    KIND_BOOL, FIELD (migrate_on_start), 0, 0 },
  { { "BATCH_SIZE", "batch-size", "N", "1000",
      N_("Most candles written in one database batch"), "Database", FALSE },
    KIND_UINT, FIELD (batch_size), 1, 100000 },
  { { "FLUSH_INTERVAL_MS", "flush-interval-ms", "MS", "100",
      N_("Longest a candle waits before its batch is written"), "Database", FALSE },
    KIND_UINT, FIELD (flush_interval_ms), 1, 60000 },

  { { "PRODUCTS", "products", "IDS", NULL,
      N_("Products to follow: comma-separated ids or all (unset: the stored active set)"),
      "Products", FALSE },
    KIND_PRODUCTS, FIELD (products), 0, 0 },
  { { "GRANULARITIES", "granularities", "LIST",
      "ONE_MINUTE,FIVE_MINUTE,FIFTEEN_MINUTE,THIRTY_MINUTE,ONE_HOUR,TWO_HOUR,SIX_HOUR,ONE_DAY",
      N_("Granularities published and stored (names or 1m, 5m, ...; all)"), "Products", FALSE },
    KIND_GRANULARITIES, FIELD (granularities), 0, 0 },

  { { "SHARD_INDEX", "shard-index", "N", "0",
      N_("This instance's share of the products (0 to SHARD_COUNT-1)"), "Sharding", FALSE },
    KIND_UINT, FIELD (shard_index), 0, 1023 },
  { { "SHARD_COUNT", "shard-count", "N", "1",
      N_("Number of instances sharing the products"), "Sharding", FALSE },
    KIND_UINT, FIELD (shard_count), 1, 1024 },
  { { "SHARD_WORKERS", "shard-workers", "N", "auto",
      N_("Candle engine worker threads (auto: one per core, 2 to 16)"), "Sharding", FALSE },
    KIND_WORKERS, FIELD (shard_workers), 1, 256 },
  { { "SHARD_QUEUE", "shard-queue", "N", "256",
      N_("Batches queued per worker before input is dropped and repaired"), "Sharding", FALSE },
    KIND_UINT, FIELD (shard_queue), 1, 1000000 },

  { { "COINBASE_WS_URL", "coinbase-ws-url", "URL", "wss://advanced-trade-ws.coinbase.com",
      N_("Coinbase Advanced Trade WebSocket endpoint"), "Exchange", FALSE },
    KIND_WS_URL, FIELD (coinbase_ws_url), 0, 0 },
  { { "COINBASE_REST_URL", "coinbase-rest-url", "URL", "https://api.coinbase.com",
      N_("Coinbase REST endpoint"), "Exchange", FALSE },
    KIND_HTTP_URL, FIELD (coinbase_rest_url), 0, 0 },
  { { "COINBASE_KEY_NAME", "coinbase-key-name", "NAME", NULL,
      N_("CDP API key name (organizations/.../apiKeys/...)"), "Exchange", FALSE },
    KIND_TEXT, FIELD (coinbase_key_name), 0, 0 },
  { { "COINBASE_KEY_FILE", "coinbase-key-file", "FILE", NULL,
      N_("CDP API key file: Coinbase's JSON, a PEM EC key, or base64 Ed25519"), "Exchange", FALSE },
    KIND_FILE, FIELD (coinbase_key_file), 0, 0 },
  { { "COINBASE_KEY", "coinbase-key", "KEY", NULL,
      N_("CDP API key itself, instead of COINBASE_KEY_FILE (secret)"), "Exchange", TRUE },
    KIND_SECRET_TEXT, FIELD (coinbase_key), 0, 0 },
  { { "PRODUCTS_PER_CONNECTION", "products-per-connection", "N", "20",
      N_("Most products on one WebSocket connection"), "Exchange", FALSE },
    KIND_UINT, FIELD (products_per_connection), 1, 1000 },
  { { "INBOX_SIZE", "inbox-size", "N", "100",
      N_("Messages queued per connection before it counts as overloaded"), "Exchange", FALSE },
    KIND_UINT, FIELD (inbox_size), 1, 1000000 },
  { { "CONNECT_RATE", "connect-rate", "PER_S", "1",
      N_("WebSocket connection opens per second (may be fractional)"), "Exchange", FALSE },
    KIND_RATE, FIELD (connect_rate), 0, 1000 },
  { { "SUBSCRIBE_RATE", "subscribe-rate", "PER_S", "4",
      N_("Subscribe messages per second"), "Exchange", FALSE },
    KIND_RATE, FIELD (subscribe_rate), 0, 1000 },
  { { "REST_RATE", "rest-rate", "PER_S", "8",
      N_("REST requests per second"), "Exchange", FALSE },
    KIND_RATE, FIELD (rest_rate), 0, 1000 },
  { { "STALL_TIMEOUT_S", "stall-timeout-s", "SECONDS", "10",
      N_("Seconds without a message before a connection is replaced"), "Exchange", FALSE },
    KIND_UINT, FIELD (stall_timeout_s), 1, 3600 },

  { { "CANDLE_GRACE_MS", "candle-grace-ms", "MS", "2000",
      N_("Wait after a bucket's end before it completes"), "Candles", FALSE },
    KIND_UINT, FIELD (candle_grace_ms), 0, 60000 },
  { { "CORRECTION_WINDOW_S", "correction-window-s", "SECONDS", "120",
      N_("How long a completed bucket still accepts late trades"), "Candles", FALSE },
    KIND_UINT, FIELD (correction_window_s), 0, 86400 },
  { { "REPAIR_DELAY_S", "repair-delay-s", "SECONDS", "5",
      N_("Wait after a dirty minute closes before it is fetched from REST"), "Candles", FALSE },
    KIND_UINT, FIELD (repair_delay_s), 0, 3600 },
  { { "REPAIR_HORIZON_H", "repair-horizon-h", "HOURS", "25",
      N_("Repairs older than this are abandoned"), "Candles", FALSE },
    KIND_UINT, FIELD (repair_horizon_h), 1, 720 },
  { { "REPAIR_WAIT_MS", "repair-wait-ms", "MS", "10000",
      N_("Longest a completion waits for pending repairs of its minutes"), "Candles", FALSE },
    KIND_UINT, FIELD (repair_wait_ms), 0, 600000 },
  { { "SEED_HOLD_LIMIT", "seed-hold-limit", "N", "50000",
      N_("Live trades held per product while it is seeded; past it, minutes turn dirty"),
      "Candles", FALSE },
    KIND_UINT, FIELD (seed_hold_limit), 0, 10000000 },

  { { "SHUTDOWN_TIMEOUT_S", "shutdown-timeout-s", "SECONDS", "10",
      N_("Longest an orderly stop may take"), "Process", FALSE },
    KIND_UINT, FIELD (shutdown_timeout_s), 1, 3600 },
  { { "DBUS_BUS", "dbus-bus", "BUS", "session",
      N_("D-Bus bus to own org.spotcanvas.SpotCanvas1 on: session, system or none"), "Process",
      FALSE },
    KIND_DBUS_BUS, FIELD (dbus_bus), 0, 0 },
  { { "LOG_LEVEL", "log-level", "LEVEL", "message",
      N_("Most verbose messages logged: debug, info, message or warning"), "Process", FALSE },
    KIND_LOG_LEVEL, FIELD (log_level), 0, 0 },
};

#define N_VARS G_N_ELEMENTS (vars)

typedef enum {
  SOURCE_DEFAULT,
  SOURCE_ENV,
  SOURCE_OPTION,
} Source;

struct _SpotConfigArgs {
  char *values[N_VARS];
  gboolean system_bus; /* --system */
};

/* Where each value came from while loading, for error messages. */
typedef struct {
  Source source[N_VARS];
  const char *label[N_VARS]; /* "SHARD_INDEX" or "--shard-index" */
  char *option_labels[N_VARS];
} LoadState;

const SpotConfigVarInfo *
spot_config_vars (guint *n_vars)
{
  static SpotConfigVarInfo infos[N_VARS];
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      for (guint i = 0; i < N_VARS; i++)
        infos[i] = vars[i].info;
      g_once_init_leave (&initialized, 1);
    }
  if (n_vars != NULL)
    *n_vars = N_VARS;
  return infos;
}

static gint
var_index (const char *name)
{
  for (guint i = 0; i < N_VARS; i++)
    if (g_str_equal (vars[i].info.name, name))
      return (gint) i;
  g_assert_not_reached ();
  return -1;
}

#define FIELD_PTR(config, spec, type) ((type *) G_STRUCT_MEMBER_P ((config), (spec)->offset))

/* ----- redaction ----- */

/* Returns the part of @url before its authority ends, and where the
 * userinfo's '@' is (or -1). */
static gssize
find_userinfo_at (const char *url, gsize *authority_start)
{
  const char *scheme_end = strstr (url, "://");
  const char *authority;
  gsize len;
  gssize at = -1;

  if (scheme_end == NULL)
    return -1;
  authority = scheme_end + 3;
  *authority_start = (gsize) (authority - url);
  len = strcspn (authority, "/?#");
  for (gsize i = 0; i < len; i++)
    if (authority[i] == '@')
      at = (gssize) i; /* the last '@': a raw one in a password comes first */
  return at;
}

static char *
redact_uri (const char *url)
{
  GString *out = g_string_new (NULL);
  gsize authority_start = 0;
  gssize at = find_userinfo_at (url, &authority_start);
  const char *rest = url;
  const char *query;

  if (at >= 0)
    {
      const char *userinfo = url + authority_start;
      const char *colon = memchr (userinfo, ':', (gsize) at);
      gboolean nats = g_str_has_prefix (url, "nats://") || g_str_has_prefix (url, "tls://");

      g_string_append_len (out, url, (gssize) authority_start);
      if (colon != NULL)
        {
          g_string_append_len (out, userinfo, colon - userinfo);
          g_string_append (out, ":***");
        }
      else if (nats)
        g_string_append (out, "***"); /* nats://TOKEN@host */
      else
        g_string_append_len (out, userinfo, at);
      rest = userinfo + at;
    }

  /* libpq also takes password=... in the query string. */
  query = strchr (rest, '?');
  if (query == NULL)
    {
      g_string_append (out, rest);
      return g_string_free (out, FALSE);
    }
  g_string_append_len (out, rest, query - rest + 1);
  {
    g_auto (GStrv) params = g_strsplit (query + 1, "&", -1);
    for (guint i = 0; params[i] != NULL; i++)
      {
        if (i > 0)
          g_string_append_c (out, '&');
        if (g_ascii_strncasecmp (params[i], "password=", 9) == 0)
          g_string_append (out, "password=***");
        else
          g_string_append (out, params[i]);
      }
  }
  return g_string_free (out, FALSE);
}

static char *
redact_conninfo (const char *conninfo)
{
  static GRegex *regex = NULL;
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      /* A quoted value may hold spaces and escaped quotes. */
      regex = g_regex_new ("(^|\\s)password\\s*=\\s*('(?:[^'\\\\]|\\\\.)*'?|\\S*)",
                           G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
      g_once_init_leave (&initialized, 1);
    }
  return g_regex_replace (regex, conninfo, -1, 0, "\\1password=***", 0, NULL);
}

char *
spot_config_redact_url (const char *url)
{
  g_return_val_if_fail (url != NULL, NULL);

  if (strstr (url, "://") != NULL)
    return redact_uri (url);
  return redact_conninfo (url);
}

/* One item of NATS_URL. Unlike redact_uri() it also hides what comes before
 * an '@' in text that is not a URL at all ("nats//user:pw@host"), since an
 * invalid value is shown in the error message. */
static char *
redact_nats_item (const char *item)
{
  const char *at = strrchr (item, '@');

  if (strstr (item, "://") != NULL)
    return redact_uri (item);
  if (at == NULL)
    return g_strdup (item);
  return g_strconcat ("***", at, NULL);
}

static char *
redact_url_list (const char *urls)
{
  g_auto (GStrv) items = g_strsplit (urls, ",", -1);

  for (guint i = 0; items[i] != NULL; i++)
    {
      char *redacted = redact_nats_item (items[i]);
      g_free (items[i]);
      items[i] = redacted;
    }
  return g_strjoinv (",", items);
}

static char *
escape_controls (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return g_strescape (text, NULL);
  return g_strdup (text);
}

/* How a value appears in messages: secrets hidden, control characters
 * escaped so the message stays on one line. */
static char *
display_value (const VarSpec *spec, const char *text)
{
  g_autofree char *redacted = NULL;
  g_autofree char *lower = NULL;

  switch (spec->kind)
    {
    case KIND_SECRET_TEXT:
      return g_strdup ("***");
    case KIND_NATS_URLS:
      redacted = redact_url_list (text);
      return escape_controls (redacted);
    case KIND_DATABASE_URL:
      lower = g_ascii_strdown (text, -1);
      if (strstr (text, "://") != NULL)
        redacted = redact_uri (text);
      else if (strstr (lower, "password") != NULL)
        /* A malformed key=value string cannot be redacted reliably. */
        redacted = g_strdup ("***");
      else
        redacted = g_strdup (text);
      return escape_controls (redacted);
    default:
      return escape_controls (text);
    }
}

/* ----- value parsers ----- */

static gboolean
parse_uint64 (const char *text, guint64 *out)
{
  guint64 value = 0;

  if (*text == '\0')
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    {
      if (!g_ascii_isdigit (*p))
        return FALSE;
      if (value > (G_MAXUINT64 - 9) / 10)
        return FALSE;
      value = value * 10 + (guint64) (*p - '0');
    }
  *out = value;
  return TRUE;
}

static gboolean
parse_rate (const char *text, double *out)
{
  const char *p = text;
  gboolean digits = FALSE;
  char *end = NULL;

  /* Plain decimals only: no sign, exponent, hex, inf or nan. */
  while (g_ascii_isdigit (*p))
    p++, digits = TRUE;
  if (*p == '.')
    {
      p++;
      if (!g_ascii_isdigit (*p))
        return FALSE;
      while (g_ascii_isdigit (*p))
        p++, digits = TRUE;
    }
  if (!digits || *p != '\0')
    return FALSE;
  *out = g_ascii_strtod (text, &end);
  return end != NULL && *end == '\0';
}

static gboolean
parse_bytes (const char *text, guint64 *out)
{
  static const struct {
    const char *suffix;
    guint64 factor;
  } units[] = { { "GiB", GIB }, { "MiB", MIB }, { "KiB", KIB }, { "B", 1 }, { "", 1 } };
  gsize n = strspn (text, "0123456789");
  g_autofree char *number = g_strndup (text, n);
  const char *suffix = text + n;
  guint64 value;

  if (!parse_uint64 (number, &value))
    return FALSE;
  while (*suffix == ' ')
    suffix++;
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_str_equal (suffix, units[i].suffix))
      {
        if (value > G_MAXUINT64 / units[i].factor)
          return FALSE;
        *out = value * units[i].factor;
        return TRUE;
      }
  return FALSE;
}

static char *
format_bytes (guint64 bytes)
{
  if (bytes != 0 && bytes % GIB == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "GiB", bytes / GIB);
  if (bytes != 0 && bytes % MIB == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "MiB", bytes / MIB);
  if (bytes != 0 && bytes % KIB == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "KiB", bytes / KIB);
  return g_strdup_printf ("%" G_GUINT64_FORMAT, bytes);
}

static gboolean
parse_bool (const char *text, gboolean *out)
{
  static const char *const yes[] = { "true", "yes", "on", "1" };
  static const char *const no[] = { "false", "no", "off", "0" };

  for (guint i = 0; i < G_N_ELEMENTS (yes); i++)
    {
      if (g_ascii_strcasecmp (text, yes[i]) == 0)
        {
          *out = TRUE;
          return TRUE;
        }
      if (g_ascii_strcasecmp (text, no[i]) == 0)
        {
          *out = FALSE;
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
parse_port (const char *text, guint16 *out)
{
  guint64 port;

  if (strlen (text) > 5 || !parse_uint64 (text, &port) || port > 65535)
    return FALSE;
  *out = (guint16) port;
  return TRUE;
}

static gboolean
valid_hostname (const char *host)
{
  if (*host == '\0' || strlen (host) > 253)
    return FALSE;
  for (const char *p = host; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
parse_addr (const char *text, char **host_out, guint16 *port_out)
{
  g_autofree char *host = NULL;
  const char *port_text;

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');
      if (close == NULL || close[1] != ':')
        return FALSE;
      host = g_strndup (text + 1, close - text - 1);
      if (!g_hostname_is_ip_address (host) || strchr (host, ':') == NULL)
        return FALSE;
      port_text = close + 2;
    }
  else
    {
      const char *colon = strrchr (text, ':');
      if (colon == NULL || memchr (text, ':', colon - text) != NULL)
        return FALSE;
      host = g_strndup (text, colon - text);
      if (*host != '\0' && !valid_hostname (host))
        return FALSE;
      port_text = colon + 1;
    }
  if (!parse_port (port_text, port_out))
    return FALSE;
  *host_out = g_steal_pointer (&host);
  return TRUE;
}

/* TRUE when @text is a URL with one of @schemes and a host. */
static gboolean
valid_url (const char *text, const char *const *schemes, gboolean allow_path)
{
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  const char *host;

  if (uri == NULL || !g_strv_contains (schemes, g_uri_get_scheme (uri)))
    return FALSE;
  host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0')
    return FALSE;
  if (!allow_path && (*g_uri_get_path (uri) != '\0' || g_uri_get_query (uri) != NULL
                      || g_uri_get_fragment (uri) != NULL || g_uri_get_userinfo (uri) != NULL))
    return FALSE;
  return TRUE;
}

static char **
split_list (const char *text)
{
  g_auto (GStrv) items = g_strsplit (text, ",", -1);

  for (guint i = 0; items[i] != NULL; i++)
    g_strstrip (items[i]);
  return g_steal_pointer (&items);
}

static gboolean
parse_nats_urls (const char *text, char ***out)
{
  static const char *const schemes[] = { "nats", "tls", NULL };
  g_auto (GStrv) items = split_list (text);

  for (guint i = 0; items[i] != NULL; i++)
    if (!valid_url (items[i], schemes, TRUE))
      return FALSE;
  *out = g_steal_pointer (&items);
  return TRUE;
}

static gboolean
parse_cors (const char *text, char ***out)
{
  static const char *const schemes[] = { "http", "https", NULL };
  g_auto (GStrv) items = split_list (text);

  for (guint i = 0; items[i] != NULL; i++)
    {
      if (g_str_equal (items[i], "*"))
        {
          if (g_strv_length (items) != 1)
            return FALSE;
          continue;
        }
      /* An origin is scheme://host[:port], without a trailing slash. */
      if (!valid_url (items[i], schemes, FALSE) || g_str_has_suffix (items[i], "/"))
        return FALSE;
    }
  *out = g_steal_pointer (&items);
  return TRUE;
}

static gboolean
valid_kv_bucket (const char *text)
{
  gsize len = strlen (text);

  if (len == 0 || len > 64)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
valid_text (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return FALSE;
  return g_utf8_validate (text, -1, NULL);
}

static gboolean
valid_conninfo (const char *text)
{
  char *errmsg = NULL;
  PQconninfoOption *options = PQconninfoParse (text, &errmsg);

  /* libpq's message quotes the input, which may hold the password: drop it. */
  if (errmsg != NULL)
    PQfreemem (errmsg);
  if (options == NULL)
    return FALSE;
  PQconninfoFree (options);
  return TRUE;
}

static gboolean
set_invalid (GError **error, const char *label, const char *shown, const char *allowed)
{
  g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG, "%s=%s %s", label, shown, allowed);
  return FALSE;
}

static gboolean
parse_value (SpotConfig *config, const VarSpec *spec, const char *label, const char *text,
             GError **error)
{
  g_autofree char *shown = display_value (spec, text);

  switch (spec->kind)
    {
    case KIND_ADDR:
      if (!parse_addr (text, &config->http_host, &config->http_port))
        return set_invalid (error, label, shown,
                            _("must be host:port with a port from 0 to 65535 "
                              "(IPv6 as [::1]:8080, :8080 for every interface)"));
      config->http_addr = g_strdup (text);
      return TRUE;

    case KIND_STATE_DIR:
      if (!g_path_is_absolute (text))
        return set_invalid (error, label, shown, _("must be an absolute path"));
      config->state_directory = g_canonicalize_filename (text, NULL);
      return TRUE;

    case KIND_NATS_URLS:
      if (!parse_nats_urls (text, &config->nats_urls))
        return set_invalid (error, label, shown,
                            _("must be nats:// or tls:// URLs with a host, comma-separated"));
      return TRUE;

    case KIND_DATABASE_URL:
      if (!valid_conninfo (text))
        return set_invalid (error, label, shown,
                            _("must be a libpq connection string "
                              "(postgresql://user@host/db or key=value pairs)"));
      config->database_url = g_strdup (text);
      return TRUE;

    case KIND_PRODUCTS:
      if (g_ascii_strcasecmp (text, "all") == 0)
        {
          config->products_all = TRUE;
          return TRUE;
        }
      {
        g_autoptr (GError) local_error = NULL;
        config->products = spot_product_id_list_parse (text, &local_error);
        /* Blank text parses as an empty list, which is no useful setting. */
        if (config->products != NULL && config->products[0] == NULL)
          g_clear_pointer (&config->products, g_strfreev);
        if (config->products == NULL)
          return set_invalid (error, label, shown,
                              _("must be all or comma-separated product ids like BTC-USD,ETH-EUR"));
      }
      return TRUE;

    case KIND_GRANULARITIES:
      if (g_ascii_strcasecmp (text, "all") == 0)
        {
          config->granularities = SPOT_GRANULARITY_SET_ALL;
          return TRUE;
        }
      {
        g_autoptr (GError) local_error = NULL;
        if (!spot_granularity_set_parse (text, &config->granularities, &local_error))
          return set_invalid (error, label, shown,
                              _("must be all or comma-separated granularities: ONE_MINUTE, "
                                "FIVE_MINUTE, FIFTEEN_MINUTE, THIRTY_MINUTE, ONE_HOUR, TWO_HOUR, "
                                "FOUR_HOUR, SIX_HOUR, ONE_DAY (or 1m, 5m, 15m, 30m, 1h, 2h, 4h, "
                                "6h, 1d)"));
      }
      return TRUE;

    case KIND_WORKERS:
      if (g_ascii_strcasecmp (text, "auto") == 0)
        {
          /* Each worker wake-up is a context switch; on a small machine more
           * threads than cores only add switches (docs/configuration.md). */
          *FIELD_PTR (config, spec, guint) = (guint) CLAMP (g_get_num_processors (), 2, 16);
          return TRUE;
        }
      G_GNUC_FALLTHROUGH;
    case KIND_UINT:
      {
        guint64 value;
        if (!parse_uint64 (text, &value) || value < spec->min || value > spec->max)
          {
            /* Numbers go in as text: xgettext cannot expand G_GUINT64_FORMAT. */
            g_autofree char *min_text = g_strdup_printf ("%" G_GUINT64_FORMAT, (guint64) spec->min);
            g_autofree char *max_text = g_strdup_printf ("%" G_GUINT64_FORMAT, (guint64) spec->max);
            g_autofree char *allowed
                = g_strdup_printf (spec->kind == KIND_WORKERS
                                       ? _("must be auto or a whole number from %s to %s")
                                       : _("must be a whole number from %s to %s"),
                                   min_text, max_text);
            return set_invalid (error, label, shown, allowed);
          }
        *FIELD_PTR (config, spec, guint) = (guint) value;
        return TRUE;
      }

    case KIND_RATE:
      {
        double value;
        if (!parse_rate (text, &value) || !(value > 0.0) || value > (double) spec->max)
          {
            g_autofree char *max_text = g_strdup_printf ("%" G_GUINT64_FORMAT, (guint64) spec->max);
            g_autofree char *allowed = g_strdup_printf (
                _("must be a decimal number of events per second, above 0 and at most %s"), max_text);
            return set_invalid (error, label, shown, allowed);
          }
        *FIELD_PTR (config, spec, double) = value;
        return TRUE;
      }

    case KIND_BYTES:
      {
        guint64 value;
        if (!parse_bytes (text, &value) || value < spec->min || value > spec->max)
          {
            g_autofree char *min = format_bytes (spec->min);
            g_autofree char *max = format_bytes (spec->max);
            g_autofree char *allowed = g_strdup_printf (
              _("must be a size from %s to %s in bytes or with a suffix KiB, MiB or GiB"), min,
              max);
            return set_invalid (error, label, shown, allowed);
          }
        *FIELD_PTR (config, spec, guint64) = value;
        return TRUE;
      }

    case KIND_BOOL:
      if (!parse_bool (text, FIELD_PTR (config, spec, gboolean)))
        return set_invalid (error, label, shown,
                            _("must be true or false (also yes/no, on/off, 1/0)"));
      return TRUE;

    case KIND_FILE:
      if (!g_file_test (text, G_FILE_TEST_IS_REGULAR))
        return set_invalid (error, label, shown, _("must name an existing regular file"));
      if (access (text, R_OK) != 0)
        {
          g_autofree char *allowed =
            g_strdup_printf (_("cannot be read: %s"), g_strerror (errno));
          return set_invalid (error, label, shown, allowed);
        }
      *FIELD_PTR (config, spec, char *) = g_strdup (text);
      return TRUE;

    case KIND_WS_URL:
      {
        static const char *const schemes[] = { "ws", "wss", NULL };
        if (!valid_url (text, schemes, TRUE))
          return set_invalid (error, label, shown, _("must be a ws:// or wss:// URL with a host"));
        *FIELD_PTR (config, spec, char *) = g_strdup (text);
        return TRUE;
      }

    case KIND_HTTP_URL:
      {
        static const char *const schemes[] = { "http", "https", NULL };
        if (!valid_url (text, schemes, TRUE))
          return set_invalid (error, label, shown,
                              _("must be an http:// or https:// URL with a host"));
        *FIELD_PTR (config, spec, char *) = g_strdup (text);
        return TRUE;
      }

    case KIND_TEXT:
      if (!valid_text (text))
        return set_invalid (error, label, shown,
                            _("must be UTF-8 text without control characters"));
      *FIELD_PTR (config, spec, char *) = g_strdup (text);
      return TRUE;

    case KIND_SECRET_TEXT:
      *FIELD_PTR (config, spec, char *) = g_strdup (text);
      return TRUE;

    case KIND_KV_BUCKET:
      if (!valid_kv_bucket (text))
        return set_invalid (error, label, shown,
                            _("must be 1 to 64 letters, digits, '-' or '_'"));
      *FIELD_PTR (config, spec, char *) = g_strdup (text);
      return TRUE;

    case KIND_CORS:
      if (!parse_cors (text, &config->cors_origins))
        return set_invalid (error, label, shown,
                            _("must be * or comma-separated origins like https://example.com "
                              "(scheme://host[:port], no path)"));
      return TRUE;

    case KIND_KV_STORAGE:
      if (g_str_equal (text, "file"))
        config->kv_memory = FALSE;
      else if (g_str_equal (text, "memory"))
        config->kv_memory = TRUE;
      else
        return set_invalid (error, label, shown, _("must be file or memory"));
      return TRUE;

    case KIND_DBUS_BUS:
      if (g_str_equal (text, "session"))
        config->dbus_bus = SPOT_DBUS_BUS_SESSION;
      else if (g_str_equal (text, "system"))
        config->dbus_bus = SPOT_DBUS_BUS_SYSTEM;
      else if (g_str_equal (text, "none"))
        config->dbus_bus = SPOT_DBUS_BUS_NONE;
      else
        return set_invalid (error, label, shown, _("must be session, system or none"));
      return TRUE;

    case KIND_LOG_LEVEL:
      if (g_str_equal (text, "debug"))
        config->log_level = SPOT_LOG_LEVEL_DEBUG;
      else if (g_str_equal (text, "info"))
        config->log_level = SPOT_LOG_LEVEL_INFO;
      else if (g_str_equal (text, "message"))
        config->log_level = SPOT_LOG_LEVEL_MESSAGE;
      else if (g_str_equal (text, "warning"))
        config->log_level = SPOT_LOG_LEVEL_WARNING;
      else
        return set_invalid (error, label, shown, _("must be debug, info, message or warning"));
      return TRUE;
    }

  g_assert_not_reached ();
  return FALSE;
}

/* ----- state directory ----- */

char *
spot_config_default_state_directory (const char *const *envp, gboolean as_root)
{
  const char *xdg = g_environ_getenv ((char **) envp, "XDG_STATE_HOME");
  const char *home = g_environ_getenv ((char **) envp, "HOME");

  if (as_root)
    return g_strdup ("/var/lib/" PACKAGE_NAME);
  /* The XDG spec says relative values are to be ignored. */
  if (xdg != NULL && g_path_is_absolute (xdg))
    return g_build_filename (xdg, PACKAGE_NAME, NULL);
  if (home == NULL || !g_path_is_absolute (home))
    home = g_get_home_dir ();
  return g_build_filename (home, ".local", "state", PACKAGE_NAME, NULL);
}

/* ----- cross-field rules ----- */

static const char *
label_of (const LoadState *state, const char *name)
{
  return state->label[var_index (name)];
}

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG, message);
  return FALSE;
}

static gboolean
check_file_needs_nats (const SpotConfig *config, const LoadState *state, const char *name,
                       const char *path, GError **error)
{
  if (path != NULL && config->nats_urls == NULL)
    return invalid (error, _("%s=%s needs NATS_URL: the embedded nats-server takes no credentials or certificates"),
                    label_of (state, name), path);
  return TRUE;
}

static gboolean
check_cross_fields (const SpotConfig *config, const LoadState *state, GError **error)
{
  if (config->shard_index >= config->shard_count)
    return invalid (error, _("%s=%u must be smaller than %s=%u"), label_of (state, "SHARD_INDEX"),
                    config->shard_index, label_of (state, "SHARD_COUNT"), config->shard_count);
  if (config->shard_count > 1 && config->nats_urls == NULL)
    return invalid (error,
                    _("%s=%u needs NATS_URL: each instance would otherwise run its own embedded "
                      "nats-server"),
                    label_of (state, "SHARD_COUNT"), config->shard_count);
  if (config->shard_count > 1 && config->database_url == NULL)
    return invalid (error,
                    _("%s=%u needs DATABASE_URL: each instance would otherwise run its own "
                      "embedded PostgreSQL"),
                    label_of (state, "SHARD_COUNT"), config->shard_count);
  if (config->kv_replicas > 1 && config->nats_urls == NULL)
    return invalid (error,
                    _("%s=%u needs NATS_URL: the embedded nats-server is a single server"),
                    label_of (state, "KV_REPLICAS"), config->kv_replicas);
  if (!check_file_needs_nats (config, state, "NATS_CREDS", config->nats_creds, error)
      || !check_file_needs_nats (config, state, "NATS_TLS_CA", config->nats_tls_ca, error)
      || !check_file_needs_nats (config, state, "NATS_TLS_CERT", config->nats_tls_cert, error)
      || !check_file_needs_nats (config, state, "NATS_TLS_KEY", config->nats_tls_key, error))
    return FALSE;
  if (config->nats_tls_cert != NULL && config->nats_tls_key == NULL)
    return invalid (error, _("%s=%s needs NATS_TLS_KEY: a client certificate comes with its key"),
                    label_of (state, "NATS_TLS_CERT"), config->nats_tls_cert);
  if (config->nats_tls_key != NULL && config->nats_tls_cert == NULL)
    return invalid (error, _("%s=%s needs NATS_TLS_CERT: a client key comes with its certificate"),
                    label_of (state, "NATS_TLS_KEY"), config->nats_tls_key);
  if (config->coinbase_key != NULL && config->coinbase_key_file != NULL)
    return invalid (error, _("%s and %s=%s are both set: give the key one way"),
                    label_of (state, "COINBASE_KEY"), label_of (state, "COINBASE_KEY_FILE"),
                    config->coinbase_key_file);
  if (config->coinbase_key_name != NULL && config->coinbase_key == NULL
      && config->coinbase_key_file == NULL)
    return invalid (error, _("%s=%s needs COINBASE_KEY_FILE or COINBASE_KEY"),
                    label_of (state, "COINBASE_KEY_NAME"), config->coinbase_key_name);
  /* Only Coinbase's JSON form carries the key name with the key. */
  if (config->coinbase_key != NULL && config->coinbase_key_name == NULL
      && config->coinbase_key[strspn (config->coinbase_key, " \t\r\n")] != '{')
    return invalid (error, _("%s needs COINBASE_KEY_NAME unless it is Coinbase's JSON key"),
                    label_of (state, "COINBASE_KEY"));
  if ((guint64) config->correction_window_s > (guint64) config->repair_horizon_h * 3600)
    return invalid (error, _("%s=%u must not exceed %s=%u hours"),
                    label_of (state, "CORRECTION_WINDOW_S"), config->correction_window_s,
                    label_of (state, "REPAIR_HORIZON_H"), config->repair_horizon_h);
  return TRUE;
}

/* ----- loading ----- */

static void
load_state_clear (LoadState *state)
{
  for (guint i = 0; i < N_VARS; i++)
    g_free (state->option_labels[i]);
}

SpotConfigArgs *
spot_config_args_parse (int *argc,
                        char ***argv,
                        const GOptionEntry *extra_entries,
                        const char *parameter_string,
                        const char *summary,
                        GError **error)
{
  g_autoptr (SpotConfigArgs) args = g_new0 (SpotConfigArgs, 1);
  g_autoptr (GOptionContext) context = g_option_context_new (parameter_string);
  g_autofree GOptionEntry *entries = g_new0 (GOptionEntry, N_VARS + 2);
  g_autoptr (GError) local_error = NULL;
  guint n = 0;

  for (guint i = 0; i < N_VARS; i++)
    entries[n++] = (GOptionEntry) { vars[i].info.option, 0, 0, G_OPTION_ARG_STRING,
                                    &args->values[i], vars[i].info.help, vars[i].info.arg };
  entries[n++] = (GOptionEntry) { "system", 0, 0, G_OPTION_ARG_NONE, &args->system_bus,
                                  N_("Same as --dbus-bus=system"), NULL };

  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (extra_entries != NULL)
    g_option_context_add_main_entries (context, extra_entries, GETTEXT_PACKAGE);
  if (summary != NULL)
    g_option_context_set_summary (context, summary);
  g_option_context_set_description (context,
                                    _("Every option is also an environment variable of the "
                                      "same name in upper case (--shard-index: SHARD_INDEX); "
                                      "options win. See docs/configuration.md."));
  if (!g_option_context_parse (context, argc, argv, &local_error))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_INVALID_CONFIG, _("%s (see --help)"),
                   local_error->message);
      return NULL;
    }
  return g_steal_pointer (&args);
}

void
spot_config_args_free (SpotConfigArgs *args)
{
  if (args == NULL)
    return;
  for (guint i = 0; i < N_VARS; i++)
    {
      /* A secret given as an option should not linger in freed memory. */
      if (vars[i].info.secret && args->values[i] != NULL)
        memset (args->values[i], 0, strlen (args->values[i]));
      g_free (args->values[i]);
    }
  g_free (args);
}

SpotConfig *
spot_config_new (const SpotConfigArgs *args, const char *const *envp, GError **error)
{
  g_autoptr (SpotConfig) config = g_new0 (SpotConfig, 1);
  LoadState state = { 0 };
  gboolean ok = TRUE;

  for (guint i = 0; i < N_VARS && ok; i++)
    {
      const VarSpec *spec = &vars[i];
      const char *text = NULL;
      const char *env = g_environ_getenv ((char **) envp, spec->info.name);
      g_autofree char *first_dir = NULL;

      state.source[i] = SOURCE_DEFAULT;
      state.label[i] = spec->info.name;
      if (args != NULL && args->values[i] != NULL && args->values[i][0] != '\0')
        {
          text = args->values[i];
          state.source[i] = SOURCE_OPTION;
          state.option_labels[i] = g_strconcat ("--", spec->info.option, NULL);
          state.label[i] = state.option_labels[i];
        }
      else if (args != NULL && spec->kind == KIND_DBUS_BUS && args->system_bus)
        {
          text = "system";
          state.source[i] = SOURCE_OPTION;
          state.label[i] = "--system";
        }
      else if (env != NULL && env[0] != '\0')
        {
          text = env;
          state.source[i] = SOURCE_ENV;
          /* systemd joins several StateDirectory= entries with ':'. */
          if (spec->kind == KIND_STATE_DIR && strchr (env, ':') != NULL)
            text = first_dir = g_strndup (env, strcspn (env, ":"));
        }
      else
        text = spec->info.default_text;

      if (spec->kind == KIND_STATE_DIR && text == NULL)
        {
          config->state_directory =
            spot_config_default_state_directory (envp, geteuid () == 0);
          continue;
        }
      if (text == NULL)
        continue;
      ok = parse_value (config, spec, state.label[i], text, error);
    }

  if (ok)
    ok = check_cross_fields (config, &state, error);
  if (ok && config->cors_origins == NULL)
    config->cors_origins = g_new0 (char *, 1);
  load_state_clear (&state);
  if (!ok)
    return NULL;
  return g_steal_pointer (&config);
}

SpotConfig *
spot_config_load (int *argc, char ***argv, const char *const *envp, GError **error)
{
  g_autoptr (SpotConfigArgs) args = spot_config_args_parse (argc, argv, NULL, NULL, NULL, error);

  if (args == NULL)
    return NULL;
  return spot_config_new (args, envp, error);
}

/* ----- output ----- */

static char *
format_value (const SpotConfig *config, const VarSpec *spec, gboolean redact)
{
  switch (spec->kind)
    {
    case KIND_ADDR:
      return g_strdup (config->http_addr);
    case KIND_STATE_DIR:
      return g_strdup (config->state_directory);
    case KIND_NATS_URLS:
      {
        g_autofree char *joined = NULL;
        if (config->nats_urls == NULL)
          return g_strdup ("");
        joined = g_strjoinv (",", config->nats_urls);
        return redact ? redact_url_list (joined) : g_steal_pointer (&joined);
      }
    case KIND_DATABASE_URL:
      if (config->database_url == NULL)
        return g_strdup ("");
      return redact ? spot_config_redact_url (config->database_url)
                    : g_strdup (config->database_url);
    case KIND_PRODUCTS:
      if (config->products_all)
        return g_strdup ("all");
      return config->products != NULL ? g_strjoinv (",", config->products) : g_strdup ("");
    case KIND_GRANULARITIES:
      return spot_granularity_set_to_string (config->granularities);
    case KIND_UINT:
    case KIND_WORKERS:
      return g_strdup_printf ("%u", *FIELD_PTR (config, spec, guint));
    case KIND_RATE:
      {
        char buffer[G_ASCII_DTOSTR_BUF_SIZE];
        return g_strdup (g_ascii_dtostr (buffer, sizeof buffer, *FIELD_PTR (config, spec, double)));
      }
    case KIND_BYTES:
      return format_bytes (*FIELD_PTR (config, spec, guint64));
    case KIND_BOOL:
      return g_strdup (*FIELD_PTR (config, spec, gboolean) ? "true" : "false");
    case KIND_FILE:
    case KIND_WS_URL:
    case KIND_HTTP_URL:
    case KIND_TEXT:
    case KIND_KV_BUCKET:
      {
        const char *value = *FIELD_PTR (config, spec, char *);
        return g_strdup (value != NULL ? value : "");
      }
    case KIND_SECRET_TEXT:
      {
        const char *value = *FIELD_PTR (config, spec, char *);
        if (value == NULL)
          return g_strdup ("");
        return g_strdup (redact ? "***" : value);
      }
    case KIND_CORS:
      return config->cors_origins != NULL ? g_strjoinv (",", config->cors_origins) : g_strdup ("");
    case KIND_KV_STORAGE:
      return g_strdup (config->kv_memory ? "memory" : "file");
    case KIND_DBUS_BUS:
      return g_strdup (spot_dbus_bus_to_string (config->dbus_bus));
    case KIND_LOG_LEVEL:
      return g_strdup (spot_log_level_to_string (config->log_level));
    }
  g_assert_not_reached ();
  return NULL;
}

char *
spot_config_to_string (const SpotConfig *config, gboolean redact)
{
  GString *out = g_string_new (NULL);
  const char *group = NULL;

  g_return_val_if_fail (config != NULL, NULL);

  for (guint i = 0; i < N_VARS; i++)
    {
      g_autofree char *value = format_value (config, &vars[i], redact);

      if (group == NULL || !g_str_equal (group, vars[i].info.group))
        {
          group = vars[i].info.group;
          g_string_append_printf (out, "%s# %s\n", i > 0 ? "\n" : "", group);
        }
      g_string_append_printf (out, "%s=%s\n", vars[i].info.name, value);
    }
  return g_string_free (out, FALSE);
}

const char *
spot_dbus_bus_to_string (SpotDbusBus bus)
{
  switch (bus)
    {
    case SPOT_DBUS_BUS_SESSION: return "session";
    case SPOT_DBUS_BUS_SYSTEM: return "system";
    case SPOT_DBUS_BUS_NONE: return "none";
    }
  return "invalid";
}

const char *
spot_log_level_to_string (SpotLogLevel level)
{
  switch (level)
    {
    case SPOT_LOG_LEVEL_DEBUG: return "debug";
    case SPOT_LOG_LEVEL_INFO: return "info";
    case SPOT_LOG_LEVEL_MESSAGE: return "message";
    case SPOT_LOG_LEVEL_WARNING: return "warning";
    }
  return "invalid";
}

void
spot_config_free (SpotConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->http_addr);
  g_free (config->http_host);
  g_free (config->state_directory);
  g_strfreev (config->nats_urls);
  g_free (config->nats_creds);
  g_free (config->nats_tls_ca);
  g_free (config->nats_tls_cert);
  g_free (config->nats_tls_key);
  if (config->database_url != NULL)
    {
      /* Do not leave the password in freed memory. */
      memset (config->database_url, 0, strlen (config->database_url));
      g_free (config->database_url);
    }
  g_strfreev (config->products);
  g_free (config->kv_bucket);
  g_strfreev (config->cors_origins);
  g_free (config->coinbase_ws_url);
  g_free (config->coinbase_rest_url);
  g_free (config->coinbase_key_name);
  g_free (config->coinbase_key_file);
  if (config->coinbase_key != NULL)
    {
      memset (config->coinbase_key, 0, strlen (config->coinbase_key));
      g_free (config->coinbase_key);
    }
  g_free (config);
}
