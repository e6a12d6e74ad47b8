/* thread: see thread.h. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>

#include "thread.h"

void qr_thread_name(pthread_t t, const char *base, int idx)
{
    char name[16]; /* TASK_COMM_LEN */

    if (idx < 0)
        snprintf(name, sizeof(name), "%s", base);
    else
        snprintf(name, sizeof(name), "%s-%d", base, idx);
    (void)pthread_setname_np(t, name);
}
