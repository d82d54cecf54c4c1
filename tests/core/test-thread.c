/* test-thread.c: background threads get a lower scheduling priority. */
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/spot-thread.h"

typedef struct
{
  int nice;
  int before;
  int after;
} Probe;

static int
own_nice (void)
{
  errno = 0;
  return getpriority (PRIO_PROCESS, (id_t)syscall (SYS_gettid));
}

static gpointer
probe_thread (gpointer data)
{
  Probe *p = data;

  p->before = own_nice ();
  spot_thread_set_background (p->nice);
  p->after = own_nice ();
  return NULL;
}

static Probe
probe (int nice)
{
  Probe p = { nice, 0, 0 };

  g_thread_join (g_thread_new ("probe", probe_thread, &p));
  return p;
}

static void
test_lowers_only_the_calling_thread (void)
{
  int main_before = own_nice ();
  Probe p;

  g_unsetenv ("SPOT_BACKGROUND_NICE");
  p = probe (3);
  g_assert_cmpint (p.after, ==, MIN (p.before + 3, 19));
  g_assert_cmpint (own_nice (), ==, main_before);
}

static void
test_environment_overrides_and_zero_disables (void)
{
  Probe p;

  g_setenv ("SPOT_BACKGROUND_NICE", "0", TRUE);
  p = probe (5);
  g_assert_cmpint (p.after, ==, p.before);

  g_setenv ("SPOT_BACKGROUND_NICE", "2", TRUE);
  p = probe (5);
  g_assert_cmpint (p.after, ==, MIN (p.before + 2, 19));

  /* Not a number in range: the caller's value stands. */
  g_setenv ("SPOT_BACKGROUND_NICE", "lots", TRUE);
  p = probe (4);
  g_assert_cmpint (p.after, ==, MIN (p.before + 4, 19));
  g_unsetenv ("SPOT_BACKGROUND_NICE");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/thread/background/calling-thread-only", test_lowers_only_the_calling_thread);
  g_test_add_func ("/thread/background/environment", test_environment_overrides_and_zero_disables);
  return g_test_run ();
}
