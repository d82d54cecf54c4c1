/* nats-embedded-helper.c: a stand-in service for test-nats-embedded.
 *
 * Starts the embedded nats-server in the state directory given as argument,
 * prints "PID <nats-server pid>" once connected, then runs until killed. The
 * test SIGKILLs it and checks that nats-server does not outlive it.
 */
#define G_LOG_DOMAIN "spot-test"

#include <stdio.h>

#include "nats/spot-nats-connection.h"
#include "supervisor/spot-embedded-nats.h"

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SpotNatsConnection) conn = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  SpotNatsConfig config;

  if (argc != 2)
    {
      fprintf (stderr, "usage: %s STATE_DIR\n", argv[0]);
      return 2;
    }
  spot_nats_config_init (&config);
  config.state_dir = g_strdup (argv[1]);
  conn = spot_nats_connection_new (&config, &error);
  spot_nats_config_clear (&config);
  if (conn == NULL || !spot_nats_connection_start_sync (conn, 20000, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  printf ("PID %d\n", (int)spot_embedded_nats_get_pid (
                          SPOT_EMBEDDED_NATS (spot_nats_connection_get_embedded (conn))));
  fflush (stdout);
  loop = g_main_loop_new (NULL, FALSE);
  g_main_loop_run (loop);
  return 0;
}
