/*
 * test_pktbuf_ref.c — the reference count of zero-copy memory
 * (pkt/pktbuf.h: pktbuf_ref) under concurrent holders, built plain, with
 * ASan/UBSan and with ThreadSanitizer (UNIT_TSAN).
 *
 * The ordering claim checked: `release` runs once, after every holder's
 * last read of the memory. Each thread reads the block (plain loads)
 * between its get and put, many times over; `release` then overwrites
 * the block with plain stores. Without the acq_rel put, TSan reports the
 * release's stores racing with a holder's loads, and a holder could see
 * the poison; with it, neither happens and release runs exactly once.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "pkt/pktbuf.h"

#ifdef PKTBUF_REF_ALONE
/* the TSan build links nothing else; Criterion's runner cannot start
 * under TSan, so the sched tests' stubs bring their own (and panic) */
#include "../sched/stubs.h"
#endif

#define THREADS 4
#define ROUNDS 20000
#define BLOCK 256

static uint8_t block[BLOCK];
static struct pktbuf_ref ref;
static _Atomic int releases;

static _Atomic int wrong;

/* on whichever thread dropped the last reference: no Criterion assert */
static void on_release(struct pktbuf_ref *r)
{
	if (r != &ref)
		atomic_fetch_add(&wrong, 1);
	memset(block, 0xee, sizeof block);      /* the "free": plain stores */
	atomic_fetch_add_explicit(&releases, 1, memory_order_relaxed);
}

static void *holder(void *arg)
{
	(void)arg;
	unsigned bad = 0;
	for (int i = 0; i < ROUNDS; i++) {
		pktbuf_ref_get(&ref);           /* this thread's standing reference keeps it alive */
		for (int j = 0; j < BLOCK; j += 32)
			bad += block[j] != (uint8_t)j;
		pktbuf_ref_put(&ref);
	}
	for (int j = 0; j < BLOCK; j++)
		bad += block[j] != (uint8_t)j;
	pktbuf_ref_put(&ref);                   /* its standing one: the last may release */
	return (void *)(uintptr_t)bad;
}

Test(pktbuf_ref, release_once_after_every_holders_reads)
{
	for (int j = 0; j < BLOCK; j++)
		block[j] = (uint8_t)j;
	pktbuf_ref_init(&ref, on_release, NULL);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		pktbuf_ref_get(&ref);           /* one standing reference per thread */
		cr_assert_eq(pthread_create(&t[i], NULL, holder, NULL), 0);
	}
	pktbuf_ref_put(&ref);                   /* the owner's own, while they run */
	uintptr_t bad = 0;
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (uintptr_t)r;
	}
	cr_assert_eq(bad, 0, "a holder read the memory after its release");
	cr_assert_eq(atomic_load(&releases), 1);
	cr_assert_eq(atomic_load(&wrong), 0);
	cr_assert_eq(pktbuf_ref_count(&ref), 0);
	cr_assert_eq(block[1], 0xee);
}

Test(pktbuf_ref, owner_alone_releases_at_its_put)
{
	pktbuf_ref_init(&ref, on_release, NULL);
	atomic_store(&releases, 0);
	pktbuf_ref_get(&ref);
	pktbuf_ref_put(&ref);
	cr_assert_eq(atomic_load(&releases), 0);
	pktbuf_ref_put(&ref);
	cr_assert_eq(atomic_load(&releases), 1);
}
