/* test-main.c: the built spot-canvas binary's command line, exit codes and
 * signal handling, run as a child process. */
#define G_LOG_DOMAIN "spot-test"

#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "config/spot-config-private.h"

typedef struct
{
  int exit_status; /* -1 when killed by a signal */
  char *out;
  char *err;
} Result;

static void
result_clear (Result *result)
{
  g_free (result->out);
  g_free (result->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Result, result_clear)

static char *
binary_path (void)
{
  const char *build_root = g_getenv ("SPOT_BUILD_ROOT");
  return g_build_filename (build_root != NULL ? build_root : SPOT_BUILD_ROOT, "src", "spot-canvas",
                           NULL);
}

/* The test's environment without any spot-canvas variable, plus @extra. */
static GStrv
child_environment (const char *const *extra)
{
  char **env = g_get_environ ();
  guint n_vars;
  const SpotConfigVarInfo *infos = spot_config_vars (&n_vars);

  for (guint i = 0; i < n_vars; i++)
    env = g_environ_unsetenv (env, infos[i].name);
  env = g_environ_unsetenv (env, "STATE_DIRECTORY");
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    {
      const char *eq = strchr (extra[i], '=');
      g_autofree char *name = g_strndup (extra[i], eq - extra[i]);
      env = g_environ_setenv (env, name, eq + 1, TRUE);
    }
  return env;
}

/* Runs in the child between fork and exec: only async-signal-safe calls. */
static void
lower_open_file_limit (gpointer user_data)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_max > 256)
    {
      limit.rlim_cur = 256;
      setrlimit (RLIMIT_NOFILE, &limit);
    }
}

static GSubprocess *
spawn_full (const char *const *env,
            const char *const *args,
            gboolean low_file_limit,
            GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) environment = child_environment (env);

  g_ptr_array_add (argv, binary_path ());
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_environ (launcher, environment);
  if (low_file_limit)
    g_subprocess_launcher_set_child_setup (launcher, lower_open_file_limit, NULL, NULL);
  return g_subprocess_launcher_spawnv (launcher, (const char *const *)argv->pdata, error);
}

static GSubprocess *
spawn (const char *const *env, const char *const *args, GError **error)
{
  return spawn_full (env, args, FALSE, error);
}

/* The soft and hard "Max open files" limits of process @pid, from /proc
 * (under valgrind the test itself sees a lower hard limit than its child). */
static void
open_file_limits (const char *pid, guint64 *soft, guint64 *hard)
{
  g_autofree char *path = g_build_filename ("/proc", pid, "limits", NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  const char *line;
  char *end = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  line = strstr (text, "Max open files");
  g_assert_nonnull (line);
  *soft = g_ascii_strtoull (line + strlen ("Max open files"), &end, 10);
  *hard = g_ascii_strtoull (end, NULL, 10);
}

static void
run_binary (const char *const *env, const char *const *args, Result *result)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = spawn (env, args, &error);

  g_assert_no_error (error);
  g_assert_true (
      g_subprocess_communicate_utf8 (process, NULL, NULL, &result->out, &result->err, &error));
  g_assert_no_error (error);
  result->exit_status
      = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
}

typedef struct
{
  const char *env[4];
  const char *args[3];
  const char *line; /* the whole of stderr */
} BadRun;

static const BadRun bad_runs[] = {
  { { "SHARD_INDEX=7", "SHARD_COUNT=4", "NATS_URL=nats://n:4222", "DATABASE_URL=host=db" },
    { NULL },
    "spot-canvas: SHARD_INDEX=7 must be smaller than SHARD_COUNT=4\n" },
  { { "HTTP_ADDR=nope" },
    { "run" },
    "spot-canvas: HTTP_ADDR=nope must be host:port with a port from 0 to 65535 (IPv6 as "
    "[::1]:8080, :8080 for every interface)\n" },
  { { NULL },
    { "--shard-count=3" },
    "spot-canvas: --shard-count=3 needs NATS_URL: each instance would otherwise run its own "
    "embedded nats-server\n" },
  { { "DATABASE_URL=host=db password=s3cret oops" },
    { NULL },
    "spot-canvas: DATABASE_URL=*** must be a libpq connection string (postgresql://user@host/db "
    "or key=value pairs)\n" },
  { { "NATS_URL=http://u:s3cret@h" },
    { "--print-config" },
    "spot-canvas: NATS_URL=http://u:***@h must be nats:// or tls:// URLs with a host, "
    "comma-separated\n" },
  { { NULL },
    { "frobnicate" },
    "spot-canvas: unknown command “frobnicate” (commands: run, version, migrate)\n" },
  { { NULL }, { "run", "now" }, "spot-canvas: “run” takes no arguments; got “now”\n" },
  { { NULL },
    { "migrate" },
    "spot-canvas: “migrate” needs an action: up [N], down [N] or status\n" },
  { { NULL },
    { "--no-such-option" },
    "spot-canvas: Unknown option --no-such-option (see --help)\n" },
};

static void
test_bad_configuration_exits_2_with_one_line (gconstpointer data)
{
  const BadRun *bad = data;
  g_auto (Result) result = { 0 };

  run_binary (bad->env, bad->args, &result);
  g_assert_cmpint (result.exit_status, ==, 2);
  g_assert_cmpstr (result.err, ==, bad->line);
  g_assert_cmpstr (result.out, ==, "");
}

static void
test_version_prints_version (void)
{
  const char *const forms[][2] = { { "--version", NULL }, { "version", NULL } };
  /* An invalid configuration does not stop `version`. */
  const char *env[] = { "SHARD_COUNT=zero", NULL };

  for (guint i = 0; i < G_N_ELEMENTS (forms); i++)
    {
      g_auto (Result) result = { 0 };
      run_binary (env, forms[i], &result);
      g_assert_cmpint (result.exit_status, ==, 0);
      g_assert_cmpstr (result.out, ==, PACKAGE_NAME " " PACKAGE_VERSION "\n");
      g_assert_cmpstr (result.err, ==, "");
    }
}

static void
test_help_lists_commands_and_options (void)
{
  const char *args[] = { "--help", NULL };
  g_auto (Result) result = { 0 };

  run_binary (NULL, args, &result);
  g_assert_cmpint (result.exit_status, ==, 0);
  g_assert_nonnull (strstr (result.out, "run "));
  g_assert_nonnull (strstr (result.out, "version "));
  g_assert_nonnull (strstr (result.out, "--print-config"));
  g_assert_nonnull (strstr (result.out, "--http-addr=HOST:PORT"));
  g_assert_nonnull (strstr (result.out, "--shard-index=N"));
}

static void
test_print_config_redacts_secrets (void)
{
  const char *env[] = { "NATS_URL=nats://alice:s3cret@n:4222",
                        "DATABASE_URL=postgresql://bob:s3cret@db/spot", NULL };
  const char *args[] = { "--print-config", "--coinbase-key-name=k", "--coinbase-key=s3cret", NULL };
  g_auto (Result) result = { 0 };

  run_binary (env, args, &result);
  g_assert_cmpint (result.exit_status, ==, 0);
  g_assert_cmpstr (result.err, ==, "");
  g_assert_null (strstr (result.out, "s3cret"));
  g_assert_nonnull (strstr (result.out, "\nNATS_URL=nats://alice:***@n:4222\n"));
  g_assert_nonnull (strstr (result.out, "\nDATABASE_URL=postgresql://bob:***@db/spot\n"));
  g_assert_nonnull (strstr (result.out, "\nCOINBASE_KEY=***\n"));
  g_assert_nonnull (strstr (result.out, "\nHTTP_ADDR=127.0.0.1:8080\n"));
}

static char *
read_line (GDataInputStream *stream)
{
  g_autoptr (GError) error = NULL;
  char *line = g_data_input_stream_read_line_utf8 (stream, NULL, NULL, &error);

  g_assert_no_error (error);
  return line;
}

static void
remove_tree (const char *path)
{
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
test_run_stops_in_order_on_sigterm (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("spot-main-XXXXXX", &error);
  g_autofree char *state = g_build_filename (tmp, "nested", "state", NULL);
  g_autofree char *state_var = g_strconcat ("STATE_DIRECTORY=", state, NULL);
  /* A database that accepts the connection and never answers keeps the
   * service in "starting" until the signal, however slowly it runs (under
   * valgrind an unresolvable host failed start-up before SIGTERM came). The
   * kernel completes the TCP handshake from the backlog; nothing accepts. */
  g_autoptr (GSocket) silent_db = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree char *secret_var = NULL;
  const char *env[] = { NULL, NULL, "HTTP_ADDR=127.0.0.1:0", NULL };

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (silent_db, any_port, TRUE, &error));
  g_assert_true (g_socket_listen (silent_db, &error));
  bound = g_socket_get_local_address (silent_db, &error);
  g_assert_no_error (error);
  secret_var = g_strdup_printf ("DATABASE_URL=postgresql://bob:s3cret@127.0.0.1:%u/spot",
                                g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  env[0] = state_var;
  env[1] = secret_var;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GDataInputStream) err = NULL;
  g_autoptr (GString) log = g_string_new (NULL);
  gboolean started = FALSE;
  GStatBuf st;
  struct rlimit limit;

  g_assert_no_error (error);
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  process = spawn_full (env, NULL, TRUE, &error);
  g_assert_no_error (error);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (process));

  /* The start message comes after the signal handlers are installed. */
  while (!started)
    {
      g_autofree char *line = read_line (err);
      g_assert_nonnull (line); /* EOF before the start message: it died */
      g_string_append_printf (log, "%s\n", line);
      started = strstr (line, "starting") != NULL;
    }
  g_assert_cmpint (g_stat (state, &st), ==, 0);
  g_assert_true (S_ISDIR (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  /* Started with a soft limit of 256, it raised it to the hard limit. */
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max > 256)
    {
      guint64 soft, hard;
      open_file_limits (g_subprocess_get_identifier (process), &soft, &hard);
      g_assert_cmpuint (soft, >, 256);
      g_assert_cmpuint (soft, ==, hard);
    }

  g_subprocess_send_signal (process, SIGTERM);
  for (;;)
    {
      g_autofree char *line = read_line (err);
      if (line == NULL)
        break;
      g_string_append_printf (log, "%s\n", line);
    }
  g_assert_true (g_subprocess_wait (process, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  g_assert_nonnull (strstr (log->str, "Stopping on SIGTERM"));
  g_assert_nonnull (strstr (log->str, "Stopped"));
  g_assert_null (strstr (log->str, "s3cret"));

  /* The embedded nats-server left its store in the state directory. */
  remove_tree (tmp);
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
}

static void
test_run_fails_with_1_when_state_directory_is_a_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("spot-main-XXXXXX", &error);
  g_autofree char *file = g_build_filename (tmp, "file", NULL);
  g_autofree char *state_var = g_strconcat ("STATE_DIRECTORY=", file, NULL);
  const char *env[] = { state_var, NULL };
  g_auto (Result) result = { 0 };

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (file, "", 0, &error));
  run_binary (env, NULL, &result);
  g_assert_cmpint (result.exit_status, ==, 1);
  g_assert_nonnull (strstr (result.err, file));
  g_assert_cmpint (g_unlink (file), ==, 0);
  g_assert_cmpint (g_rmdir (tmp), ==, 0);
}

int
main (int argc, char **argv)
{
  g_autofree char *binary = NULL;

  g_test_init (&argc, &argv, NULL);

  binary = binary_path ();
  if (!g_file_test (binary, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_printerr ("%s not built; skipping\n", binary);
      return 77;
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad_runs); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/main/bad-configuration-exits-2-with-one-line/%02u", i);
      g_test_add_data_func (path, &bad_runs[i], test_bad_configuration_exits_2_with_one_line);
    }
  g_test_add_func ("/main/version-prints-version", test_version_prints_version);
  g_test_add_func ("/main/help-lists-commands-and-options", test_help_lists_commands_and_options);
  g_test_add_func ("/main/print-config-redacts-secrets", test_print_config_redacts_secrets);
  g_test_add_func ("/main/run-stops-in-order-on-sigterm", test_run_stops_in_order_on_sigterm);
  g_test_add_func ("/main/run-fails-with-1-when-state-directory-is-a-file",
                   test_run_fails_with_1_when_state_directory_is_a_file);

  return g_test_run ();
}
