/*
 * sched.h — the per-core loop. Every core ends in sched_loop_run() and
 * never leaves it. (This is the first cut: the mailbox below serves boot
 * and tests; pollers, timers and channels follow.)
 */
#ifndef POLLUX_SCHED_H
#define POLLUX_SCHED_H
#include "core/core.h"

_Noreturn void sched_loop_run(struct core *c);
/* Runs fn(arg) on core `id`'s loop and waits up to timeout_ns for it to
 * finish; fn runs on the caller when id is the calling core. Returns 0,
 * -EBUSY (another call is pending there) or -ETIMEDOUT. Core 0 only. */
int sched_call_sync(uint32_t id, void (*fn)(void *), void *arg, uint64_t timeout_ns);
#endif
