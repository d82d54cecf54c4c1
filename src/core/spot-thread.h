/* spot-thread.h: scheduling of the service's own threads. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Lowers the calling thread's scheduling weight by @nice steps (Linux keeps a
 * nice value per thread). For threads whose work can wait a few ms (the KV
 * writer, the database writer, the KV watcher, housekeeping) so that on a
 * busy machine the threads on the live path (main loop, shard workers,
 * exchange lanes) are scheduled first. A failure is logged at debug level and
 * otherwise ignored: the thread simply keeps its priority. The environment
 * variable SPOT_BACKGROUND_NICE (0 to 19) overrides @nice; 0 disables it. */
void spot_thread_set_background (int nice);

/* The nice steps background threads use by default. */
#define SPOT_THREAD_BACKGROUND_NICE 5

/* The steps for background work: SPOT_BACKGROUND_NICE when set to 0-19,
 * otherwise SPOT_THREAD_BACKGROUND_NICE. Also used for the embedded
 * PostgreSQL, which only stores history. */
int spot_thread_background_nice (void);

G_END_DECLS
