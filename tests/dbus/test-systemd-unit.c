/* test-systemd-unit.c: the systemd user unit and the D-Bus activation file.
 *
 * Usage: test-systemd-unit UNIT ACTIVATION_FILE. UNIT is a copy of
 * data/dbus/spot-canvas.service.in whose ExecStart points at the built
 * binary (systemd-analyze verify checks that it is executable).
 *
 * Exit codes: 0 pass, 1 fail, 77 skip (systemd-analyze missing).
 */
#define G_LOG_DOMAIN "spot-dbus-test"

#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
  G_STMT_START                                                                                     \
  {                                                                                                \
    if (!(cond))                                                                                   \
      {                                                                                            \
        g_printerr ("FAIL: " __VA_ARGS__);                                                         \
        g_printerr ("\n");                                                                         \
        failures++;                                                                                \
      }                                                                                            \
  }                                                                                                \
  G_STMT_END

static char *
get (GKeyFile *file, const char *group, const char *key)
{
  return g_key_file_get_value (file, group, key, NULL);
}

static void
check_key (GKeyFile *file, const char *group, const char *key, const char *expected)
{
  g_autofree char *value = get (file, group, key);

  CHECK (g_strcmp0 (value, expected) == 0, "[%s] %s=%s, expected %s", group, key,
         value != NULL ? value : "(missing)", expected);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GKeyFile) unit = g_key_file_new ();
  g_autoptr (GKeyFile) activation = g_key_file_new ();
  g_autofree char *analyze = g_find_program_in_path ("systemd-analyze");
  g_autofree char *runtime_dir = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *nofile = NULL;
  g_autofree char *exec_start = NULL;
  g_auto (GStrv) envp = NULL;
  int status = 0;

  if (argc != 3)
    {
      g_printerr ("usage: %s UNIT ACTIVATION_FILE\n", argv[0]);
      return 1;
    }

  /* Static checks first: these need nothing installed. */
  if (!g_key_file_load_from_file (unit, argv[1], G_KEY_FILE_NONE, &error))
    {
      g_printerr ("FAIL: %s: %s\n", argv[1], error->message);
      return 1;
    }
  if (!g_key_file_load_from_file (activation, argv[2], G_KEY_FILE_NONE, &error))
    {
      g_printerr ("FAIL: %s: %s\n", argv[2], error->message);
      return 1;
    }
  check_key (unit, "Service", "Type", "dbus");
  check_key (unit, "Service", "BusName", "org.spotcanvas.SpotCanvas1");
  check_key (unit, "Service", "Restart", "on-failure");
  check_key (unit, "Service", "StateDirectory", "spot-canvas");
  check_key (unit, "Service", "NoNewPrivileges", "yes");
  check_key (unit, "Install", "WantedBy", "default.target");
  nofile = get (unit, "Service", "LimitNOFILE");
  CHECK (nofile != NULL && g_ascii_strtoull (nofile, NULL, 10) > 1024,
         "LimitNOFILE=%s must be above the usual 1024", nofile != NULL ? nofile : "(missing)");
  check_key (activation, "D-BUS Service", "Name", "org.spotcanvas.SpotCanvas1");
  check_key (activation, "D-BUS Service", "SystemdService", "spot-canvas.service");
  exec_start = get (unit, "Service", "ExecStart");
  {
    g_autofree char *exec = get (activation, "D-BUS Service", "Exec");
    CHECK (g_strcmp0 (exec, exec_start) == 0, "activation Exec=%s differs from ExecStart=%s", exec,
           exec_start);
  }

  if (analyze == NULL)
    {
      g_print (
          "SKIP: systemd-analyze is not installed (Debian package systemd); static checks %s\n",
          failures == 0 ? "passed" : "failed");
      return failures == 0 ? 77 : 1;
    }

  /* A user manager's paths need a runtime directory; a private one keeps the
   * test independent of any session. */
  runtime_dir = g_dir_make_tmp ("spot-unit-test-XXXXXX", &error);
  g_assert_no_error (error);
  envp = g_environ_setenv (g_get_environ (), "XDG_RUNTIME_DIR", runtime_dir, TRUE);
  {
    const char *verify_argv[] = { analyze, "--user", "--man=no", "verify", argv[1], NULL };

    if (!g_spawn_sync (NULL, (char **)verify_argv, envp, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                       &status, &error))
      {
        g_printerr ("FAIL: cannot run systemd-analyze: %s\n", error->message);
        failures++;
      }
    else
      {
        g_print ("systemd-analyze --user verify %s: %s%s", argv[1], out, err);
        CHECK (g_spawn_check_wait_status (status, NULL), "systemd-analyze verify failed");
        /* verify exits 0 on unknown keys and bad values: its warnings are
         * failures too. */
        CHECK (strstr (err, "spot-canvas.service") == NULL, "systemd-analyze warned: %s", err);
      }
  }
  {
    /* systemd-analyze leaves its own files in the runtime directory. */
    const char *rm_argv[] = { "rm", "-rf", runtime_dir, NULL };

    if (!g_spawn_sync (NULL, (char **)rm_argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                       NULL, NULL))
      g_printerr ("cannot remove %s\n", runtime_dir);
  }
  g_print ("%s\n", failures == 0 ? "PASS" : "FAIL");
  return failures == 0 ? 0 : 1;
}
