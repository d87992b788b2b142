/* tests/tsan/c11threads.c - C11 threads over pthreads, for ThreadSanitizer runs.
 *
 * librdkafka creates its threads with C11 thrd_create and locks with mtx_*,
 * which glibc implements without going through the pthread entry points that
 * ThreadSanitizer intercepts (GCC 12, clang 14): TSan then meets threads it
 * never set up and crashes. Preloaded into clmd in the TSan test setup
 * (LD_PRELOAD), this library defines the C11 functions librdkafka uses in
 * terms of the intercepted pthread functions, so TSan sees every thread and
 * every lock. It is never part of a production build.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

typedef struct start {
    thrd_start_t fn;
    void *arg;
} start;

static void *trampoline(void *p)
{
    start s = *(start *)p;
    free(p);
    return (void *)(intptr_t)s.fn(s.arg);
}

static int map(int r)
{
    return r == 0 ? thrd_success : r == ENOMEM ? thrd_nomem : r == ETIMEDOUT ? thrd_timedout
                                                            : r == EBUSY ? thrd_busy : thrd_error;
}

int thrd_create(thrd_t *thr, thrd_start_t fn, void *arg)
{
    start *s = malloc(sizeof(*s));
    if (!s)
        return thrd_nomem;
    s->fn = fn;
    s->arg = arg;
    int r = pthread_create(thr, NULL, trampoline, s);
    if (r)
        free(s);
    return map(r);
}

int thrd_join(thrd_t thr, int *res)
{
    void *v;
    int r = pthread_join(thr, &v);
    if (r == 0 && res)
        *res = (int)(intptr_t)v;
    return map(r);
}

int thrd_detach(thrd_t thr)
{
    return map(pthread_detach(thr));
}

int mtx_init(mtx_t *m, int type)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    if (type & mtx_recursive)
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    int r = pthread_mutex_init((pthread_mutex_t *)m, &a);
    pthread_mutexattr_destroy(&a);
    return map(r);
}

int mtx_lock(mtx_t *m)
{
    return map(pthread_mutex_lock((pthread_mutex_t *)m));
}

int mtx_trylock(mtx_t *m)
{
    return map(pthread_mutex_trylock((pthread_mutex_t *)m));
}

int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts)
{
    return map(pthread_mutex_timedlock((pthread_mutex_t *)m, ts));
}

int mtx_unlock(mtx_t *m)
{
    return map(pthread_mutex_unlock((pthread_mutex_t *)m));
}

void mtx_destroy(mtx_t *m)
{
    pthread_mutex_destroy((pthread_mutex_t *)m);
}

int cnd_init(cnd_t *c)
{
    return map(pthread_cond_init((pthread_cond_t *)c, NULL));
}

int cnd_signal(cnd_t *c)
{
    return map(pthread_cond_signal((pthread_cond_t *)c));
}

int cnd_broadcast(cnd_t *c)
{
    return map(pthread_cond_broadcast((pthread_cond_t *)c));
}

int cnd_wait(cnd_t *c, mtx_t *m)
{
    return map(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict ts)
{
    return map(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, ts));
}

void cnd_destroy(cnd_t *c)
{
    pthread_cond_destroy((pthread_cond_t *)c);
}
