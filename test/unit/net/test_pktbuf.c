/*
 * test_pktbuf.c — the per-core packet pool: an exhausted pool returns
 * NULL and counts, never crashes, and recovers when buffers come back;
 * a double free is our own bug and stops the core (the harness's panic
 * aborts); bulk allocation takes what there is. (One core here: remote frees are covered by the VM and hosted
 * l2fwd tests, where buffers cross cores.)
 */
#include <signal.h>
#include "check.h"

TestSuite(pktbuf, .init = h_setup, .fini = h_teardown);

Test(pktbuf, exhaustion_counts_and_recovers)
{
	struct pktbuf_pool *p = pktbuf_pool_of(0);
	uint32_t start = pktbuf_pool_avail(p);
	struct pktbuf *all[H_POOL + 8];
	uint32_t n = 0;
	while (n < H_POOL + 8) {
		struct pktbuf *b = pktbuf_alloc(p);
		if (!b)
			break;
		cr_assert_eq(b->off, PKTBUF_HEADROOM);
		cr_assert_eq(b->home, 0);
		all[n++] = b;
	}
	cr_expect_eq(n, start, "got %u of %u", n, start);
	uint64_t fails = p->alloc_fail;
	cr_expect_null(pktbuf_alloc(p), "an empty pool gives NULL");
	cr_expect_eq(p->alloc_fail, fails + 1, "and counts it");
	struct pktbuf *few[4];
	cr_expect_eq(pktbuf_alloc_bulk(p, few, 4), 0, "bulk takes what there is: nothing");
	/* the stack under exhaustion: a frame for it is dropped and counted */
	for (uint32_t i = 0; i < n; i++)
		pktbuf_free(all[i]);
	cr_expect_eq(pktbuf_pool_avail(p), start, "every buffer back: the pool recovered");
	struct pktbuf *b = pktbuf_alloc(p);
	cr_expect_not_null(b);
	pktbuf_free(b);
}

Test(pktbuf, double_free_stops_the_core, .signal = SIGABRT)
{
	struct pktbuf_pool *p = pktbuf_pool_of(0);
	struct pktbuf *b = pktbuf_alloc(p);
	cr_assert_not_null(b);
	pktbuf_free(b);
	pktbuf_free(b);                         /* again: an assertion, never counted and ignored */
	cr_assert_fail("a double free came back");
}

Test(pktbuf, a_freed_chain_buffer_freed_again_stops_the_core, .signal = SIGABRT)
{
	struct pktbuf_pool *p = pktbuf_pool_of(0);
	struct pktbuf *head = pktbuf_alloc(p), *frag = pktbuf_alloc(p);
	cr_assert(head && frag);
	head->frag = frag;
	pktbuf_free(head);                      /* the head owns the chain: both go */
	pktbuf_free(frag);
	cr_assert_fail("a double free came back");
}

Test(pktbuf, bulk_takes_what_fits)
{
	struct pktbuf_pool *p = pktbuf_pool_of(0);
	uint32_t start = pktbuf_pool_avail(p);
	struct pktbuf *v[H_POOL + 16];
	unsigned got = pktbuf_alloc_bulk(p, v, H_POOL + 16);
	cr_expect_eq(got, start);
	cr_expect_eq(pktbuf_pool_avail(p), 0);
	for (unsigned i = 0; i < got; i++)
		pktbuf_free(v[i]);
	cr_expect_eq(pktbuf_pool_avail(p), start);
}
