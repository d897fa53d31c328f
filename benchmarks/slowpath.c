/*
 * A slow path for one fio worker, for benchmarks/distribution_data.py.
 *
 * Preloaded (LD_PRELOAD) into every local fio server of the recording. A process whose
 * working directory holds ".fioloadgen-slowpath" ("EVERY DELAY_US") when it first reads
 * makes every EVERY-th pread() return DELAY_US late: the read itself is done first, so
 * the I/O is real and fio's completion latency includes the delay. Without the file (the
 * undisturbed runs) every read passes straight through. fio forks its job processes for
 * each run, so the file is read again in each of them (and their count starts at zero).
 *
 * Build: cc -O2 -shared -fPIC -o slowpath.so slowpath.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define CONTROL_FILE ".fioloadgen-slowpath"

typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);

static pread_fn real_pread64;
static int loaded;
static long every;
static long delay_us;
static long calls;

static void forget(void) {
    loaded = 0;
}

__attribute__((constructor)) static void init(void) {
    real_pread64 = (pread_fn)dlsym(RTLD_NEXT, "pread64");
    /* A forked job process reads the control file afresh, with its own count. */
    pthread_atfork(NULL, NULL, forget);
}

static void load(void) {
    FILE *control = fopen(CONTROL_FILE, "r");
    loaded = 1;
    every = 0;
    delay_us = 0;
    calls = 0;
    if (control == NULL)
        return;
    if (fscanf(control, "%ld %ld", &every, &delay_us) != 2 || every < 1 || delay_us < 1)
        every = 0;
    fclose(control);
    /* Sleep for the delay asked, not up to 50 us more (the default timer slack). */
    if (every > 0)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
}

ssize_t pread64(int fd, void *buffer, size_t count, off_t offset) {
    ssize_t done = real_pread64(fd, buffer, count, offset);
    if (!loaded)
        load();
    if (every > 0 && ++calls % every == 0) {
        int saved = errno;
        struct timespec pause = {delay_us / 1000000, (delay_us % 1000000) * 1000};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
        }
        errno = saved;
    }
    return done;
}

ssize_t pread(int fd, void *buffer, size_t count, off_t offset) {
    return pread64(fd, buffer, count, offset);
}
