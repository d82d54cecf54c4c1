/* spot-thread.c: scheduling of the service's own threads. */
#define G_LOG_DOMAIN "spot-core"

#include "core/spot-thread.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int
background_nice (int fallback)
{
  const char *text = g_getenv ("SPOT_BACKGROUND_NICE");
  guint64 value;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 0, 19, &value, NULL))
    return fallback;
  return (int)value;
}

int
spot_thread_background_nice (void)
{
  return background_nice (SPOT_THREAD_BACKGROUND_NICE);
}

void
spot_thread_set_background (int nice)
{
  pid_t tid = (pid_t)syscall (SYS_gettid);
  int steps = background_nice (nice);
  int current;

  if (steps <= 0)
    return;
  errno = 0;
  current = getpriority (PRIO_PROCESS, (id_t)tid);
  if (current == -1 && errno != 0)
    current = 0;
  if (setpriority (PRIO_PROCESS, (id_t)tid, MIN (current + steps, 19)) != 0)
    g_debug ("thread %d keeps its priority: %s", (int)tid, g_strerror (errno));
}
