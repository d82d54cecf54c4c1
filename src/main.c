/* main.c: command line, configuration and the command dispatch table.
 *
 * Exit codes: 0 success, 1 runtime failure (start-up failed, or complete
 * candles left in the journal at stop), 2 bad configuration or usage, 3 the
 * ordered shutdown overran SHUTDOWN_TIMEOUT_S (docs/operations.md).
 */
#define G_LOG_DOMAIN "spot-canvas"

#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <glib.h>
#include <glib/gi18n.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "config/spot-config.h"
#include "config/spot-log-filter.h"
#include "core/spot-error.h"
#include "service/spot-service.h"
#include "store/spot-migrations.h"

enum
{
  EXIT_OK = 0,
  EXIT_RUNTIME = 1,
  EXIT_USAGE = 2,
};

typedef struct
{
  const char *name;
  const char *synopsis;  /* arguments after the name, for --help */
  const char *summary;   /* translatable (N_) */
  gboolean needs_config; /* FALSE: runs even with an invalid configuration */
  /* @argv holds the command's own arguments (argv[0] is the command name). */
  int (*run) (const SpotConfig *config, int argc, char **argv);
} SpotCommand;

static int command_run (const SpotConfig *config, int argc, char **argv);
static int command_version (const SpotConfig *config, int argc, char **argv);
static int command_migrate (const SpotConfig *config, int argc, char **argv);

/* New commands (migrate up|down [N]|status, ...) go here. The first entry is
 * the default when no command is given. */
static const SpotCommand commands[] = {
  { "run", "", N_ ("Run the service until SIGINT or SIGTERM (the default)"), TRUE, command_run },
  { "version", "", N_ ("Print the version and exit"), FALSE, command_version },
  { "migrate", "up [N]|down [N]|status", N_ ("Apply, revert or list the database migrations"), TRUE,
    command_migrate },
};

static int usage_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

static int
usage_error (const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("%s: %s\n", PACKAGE_NAME, message);
  return EXIT_USAGE;
}

static int
command_version (const SpotConfig *config, int argc, char **argv)
{
  if (argc > 1)
    return usage_error (_ ("“version” takes no arguments"));
  g_print ("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
  return EXIT_OK;
}

/* The defaults allow 1,024 files; a thousand SSE clients need more. */
static void
raise_open_file_limit (void)
{
  struct rlimit limit;
  rlim_t wanted;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    {
      g_warning ("getrlimit(RLIMIT_NOFILE) failed: %s", g_strerror (errno));
      return;
    }
  /* An unlimited hard limit cannot be the soft one for files; use the
   * kernel's usual nr_open. */
  wanted = limit.rlim_max == RLIM_INFINITY ? 1048576 : limit.rlim_max;
  if (limit.rlim_cur >= wanted)
    return;
  limit.rlim_cur = wanted;
  if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
    {
      g_warning ("Cannot raise the open-file limit to %lu: %s", (unsigned long)wanted,
                 g_strerror (errno));
      return;
    }
  g_debug ("Open-file limit raised to %lu", (unsigned long)wanted);
}

/* glibc gives every thread that meets a locked arena a new one, up to eight
 * per core. The service has about 60 threads (shard workers, parse lanes,
 * publisher, database and libnats threads); with 16 arenas on two cores
 * the freed memory of each arena stays mapped and RSS grew to 70-100 MB at
 * 500 products x 20 trades/s (docs/operations.md, "Memory"). One arena per
 * core, at least two, keeps it under 64 MB: only as many threads as cores
 * allocate at the same moment, so contention stays low. glibc's own
 * MALLOC_ARENA_MAX, when set, wins (it is read at the first allocation). */
static void
limit_malloc_arenas (void)
{
  const char *env = g_getenv ("MALLOC_ARENA_MAX");
  int arenas;

  if (env != NULL && env[0] != '\0')
    return;
  arenas = MAX (2, (int)g_get_num_processors ());
  if (mallopt (M_ARENA_MAX, arenas) != 1)
    g_debug ("mallopt(M_ARENA_MAX, %d) refused", arenas);
}

static gboolean
prepare_state_directory (const char *path, GError **error)
{
  if (g_mkdir_with_parents (path, 0700) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, _ ("Cannot create state directory %s: %s"),
                   path, g_strerror (saved_errno));
      return FALSE;
    }
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, SPOT_ERROR, SPOT_ERROR_IO, _ ("State directory %s is not a directory"),
                   path);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  GMainLoop *loop;
  SpotService *service;
} RunState;

static gboolean
on_sigint (gpointer user_data)
{
  RunState *state = user_data;

  spot_service_stop (state->service, "SIGINT");
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sigterm (gpointer user_data)
{
  RunState *state = user_data;

  spot_service_stop (state->service, "SIGTERM");
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sighup (gpointer user_data)
{
  RunState *state = user_data;

  g_message ("SIGHUP: reloading the product list");
  spot_service_reload_products (state->service);
  return G_SOURCE_CONTINUE;
}

static void
on_state_changed (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  RunState *state = user_data;

  (void)object;
  (void)pspec;
  if (spot_service_is_finished (state->service))
    g_main_loop_quit (state->loop);
}

static int
command_run (const SpotConfig *config, int argc, char **argv)
{
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotService) service = NULL;
  RunState state = { 0 };
  guint sigint_id;
  guint sigterm_id;
  guint sighup_id;
  int status;

  if (argc > 1)
    return usage_error (_ ("“run” takes no arguments; got “%s”"), argv[1]);

  raise_open_file_limit ();
  limit_malloc_arenas ();
  if (!prepare_state_directory (config->state_directory, &error))
    {
      g_printerr ("%s: %s\n", PACKAGE_NAME, error->message);
      return EXIT_RUNTIME;
    }

  loop = g_main_loop_new (NULL, FALSE);
  service = spot_service_new (config);
  state.loop = loop;
  state.service = service;
  sigint_id = g_unix_signal_add (SIGINT, on_sigint, &state);
  sigterm_id = g_unix_signal_add (SIGTERM, on_sigterm, &state);
  sighup_id = g_unix_signal_add (SIGHUP, on_sighup, &state);
  g_signal_connect (service, "notify::state", G_CALLBACK (on_state_changed), &state);

  g_message ("%s %s starting: HTTP_ADDR=%s, STATE_DIRECTORY=%s, shard %u of %u, NATS %s, "
             "database %s",
             PACKAGE_NAME, PACKAGE_VERSION, config->http_addr, config->state_directory,
             config->shard_index, config->shard_count,
             config->nats_urls != NULL ? "external" : "embedded",
             config->database_url != NULL ? "external" : "embedded");

  spot_service_start (service);
  if (!spot_service_is_finished (service))
    g_main_loop_run (loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_source_remove (sighup_id);
  status = spot_service_get_exit_code (service);
  if (spot_service_get_error (service) != NULL)
    g_printerr ("%s: %s\n", PACKAGE_NAME, spot_service_get_error (service)->message);
  g_signal_handlers_disconnect_by_data (service, &state);
  g_clear_object (&service);
  return status;
}

static int
command_migrate (const SpotConfig *config, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  if (argc < 2)
    return usage_error (_ ("“migrate” needs an action: up [N], down [N] or status"));
  if (config->database_url == NULL && !prepare_state_directory (config->state_directory, &error))
    {
      g_printerr ("%s: %s\n", PACKAGE_NAME, error->message);
      return EXIT_RUNTIME;
    }
  return spot_migrate_main (config->database_url, config->state_directory, argc - 1, argv + 1);
}

static const SpotCommand *
find_command (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, name))
      return &commands[i];
  return NULL;
}

static char *
commands_summary (void)
{
  GString *text = g_string_new (_ ("Commands:"));

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *usage = g_strconcat (
          commands[i].name, *commands[i].synopsis != '\0' ? " " : "", commands[i].synopsis, NULL);
      g_string_append_printf (text, "\n  %-22s %s", usage, _ (commands[i].summary));
    }
  return g_string_free (text, FALSE);
}

static char *
command_names (void)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (text, "%s%s", i > 0 ? ", " : "", commands[i].name);
  return g_string_free (text, FALSE);
}

int
main (int argc, char **argv)
{
  gboolean show_version = FALSE;
  gboolean print_config = FALSE;
  const GOptionEntry main_entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, &show_version, N_ ("Print the version and exit"), NULL },
    { "print-config", 0, 0, G_OPTION_ARG_NONE, &print_config,
      N_ ("Print the effective configuration (secrets redacted) and exit"), NULL },
    { NULL },
  };
  g_autofree char *summary = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotConfigArgs) args = NULL;
  g_autoptr (SpotConfig) config = NULL;
  g_auto (GStrv) envp = NULL;
  const SpotCommand *command;
  int command_argc;
  char **command_argv;
  char *default_argv[] = { (char *)commands[0].name, NULL };

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname (PACKAGE_NAME);

  summary = commands_summary ();
  args = spot_config_args_parse (&argc, &argv, main_entries, _ ("[COMMAND [ARGUMENT…]]"), summary,
                                 &error);
  if (args == NULL)
    return usage_error ("%s", error->message);

  if (show_version)
    return command_version (NULL, 1, default_argv);

  if (argc > 1)
    {
      command = find_command (argv[1]);
      if (command == NULL)
        {
          g_autofree char *names = command_names ();
          return usage_error (_ ("unknown command “%s” (commands: %s)"), argv[1], names);
        }
      command_argc = argc - 1;
      command_argv = argv + 1;
    }
  else
    {
      command = &commands[0];
      command_argc = 1;
      command_argv = default_argv;
    }

  if (command->needs_config || print_config)
    {
      envp = g_get_environ ();
      config = spot_config_new (args, (const char *const *)envp, &error);
      if (config == NULL)
        return usage_error ("%s", error->message);
    }

  if (print_config)
    {
      g_autofree char *text = spot_config_to_string (config, TRUE);
      g_print ("%s", text);
      return EXIT_OK;
    }

  if (config != NULL)
    spot_log_filter_install (config->log_level);
  return command->run (config, command_argc, command_argv);
}
