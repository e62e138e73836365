/*
 * ringbench.c — Pollux's channel rings against DPDK's rte_ring, in the same
 * process, on the same two pinned CPUs, with the same element (a pointer)
 * and the same burst sizes. A producer thread enqueues N objects in bursts,
 * a consumer thread dequeues them; messages/s = N / wall time of the pair.
 *
 *   ringbench [N] [RUNS]   prints one JSON object per measurement
 *
 * Modes: spsc (ring_sp_enqueue_burst / ring_sc_dequeue_burst vs
 * rte_ring_sp_enqueue_burst / rte_ring_sc_dequeue_burst) and mpsc
 * (ring_mp_enqueue_burst vs rte_ring_mp_enqueue_burst, one producer thread:
 * the cost of the multi-producer protocol itself). Both rings hold 1024
 * slots. The consumer checks the sequence, so a broken ring can't win.
 */

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <rte_ring.h>
#include "sched/ring.h"

#define SLOTS 1024

enum impl { POLLUX, DPDK };
struct job {
	enum impl impl;
	int mp;
	unsigned burst;
	uint64_t n;
	struct ring *pr;
	struct rte_ring *dr;
	_Atomic int go;
	uint64_t bad;
};

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *producer(void *arg)
{
	struct job *j = arg;
	pin(1);
	void *objs[64];
	while (!atomic_load(&j->go))
		;
	for (uint64_t sent = 0; sent < j->n;) {
		unsigned b = j->burst;
		if (j->n - sent < b)
			b = (unsigned)(j->n - sent);
		for (unsigned k = 0; k < b; k++)
			objs[k] = (void *)(uintptr_t)(sent + k + 1);
		unsigned done;
		if (j->impl == POLLUX)
			done = j->mp ? ring_mp_enqueue_burst(j->pr, objs, b) : ring_sp_enqueue_burst(j->pr, objs, b);
		else
			done = j->mp ? rte_ring_mp_enqueue_burst(j->dr, objs, b, NULL)
				     : rte_ring_sp_enqueue_burst(j->dr, objs, b, NULL);
		sent += done;
		if (!done)
			__builtin_ia32_pause();
	}
	return NULL;
}

static double run(struct job *j)
{
	pthread_t p;
	void *objs[64];
	uint64_t expect = 1;
	j->bad = 0;
	atomic_store(&j->go, 0);
	pthread_create(&p, NULL, producer, j);
	pin(0);
	double t0 = now();
	atomic_store(&j->go, 1);
	while (expect <= j->n) {
		unsigned got = j->impl == POLLUX ? ring_sc_dequeue_burst(j->pr, objs, j->burst)
						 : rte_ring_sc_dequeue_burst(j->dr, objs, j->burst, NULL);
		for (unsigned k = 0; k < got; k++)
			j->bad += (uintptr_t)objs[k] != expect++;
		if (!got)
			__builtin_ia32_pause();
	}
	double t = now() - t0;
	pthread_join(p, NULL);
	return t;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	struct ring *pr = aligned_alloc(RING_ALIGN, ring_memsize(SLOTS));
	ssize_t dsz = rte_ring_get_memsize(SLOTS);
	struct rte_ring *dsp = aligned_alloc(128, (size_t)dsz), *dmp = aligned_alloc(128, (size_t)dsz);
	if (!pr || dsz < 0 || !dsp || !dmp)
		return 1;
	static const unsigned bursts[] = { 1, 8, 32 };
	for (int r = 0; r < runs; r++)
		for (int mp = 0; mp < 2; mp++)
			for (unsigned bi = 0; bi < 3; bi++)
				for (int impl = 0; impl < 2; impl++) {
					struct job j = { .impl = impl, .mp = mp, .burst = bursts[bi], .n = n };
					ring_init(pr, SLOTS);
					rte_ring_init(dsp, "sp", SLOTS, RING_F_SP_ENQ | RING_F_SC_DEQ);
					rte_ring_init(dmp, "mp", SLOTS, RING_F_SC_DEQ);
					j.pr = pr;
					j.dr = mp ? dmp : dsp;
					double t = run(&j);
					printf("{\"run\": %d, \"mode\": \"%s\", \"impl\": \"%s\", \"burst\": %u, "
					       "\"n\": %llu, \"seconds\": %.6f, \"mpps\": %.3f, \"bad\": %llu}\n",
					       r, mp ? "mpsc" : "spsc", impl == POLLUX ? "pollux" : "rte_ring",
					       bursts[bi], (unsigned long long)n, t, n / t / 1e6,
					       (unsigned long long)j.bad);
					fflush(stdout);
					if (j.bad)
						return 2;
				}
	return 0;
}
