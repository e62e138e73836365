/*
 * check.h — what every host network test shares on top of harness.h:
 * a fresh world per test (Criterion runs each test in its own process,
 * so the stack's globals start at zero) and the leak check at its end.
 * Use: TestSuite(name, .init = h_setup, .fini = h_teardown), and
 * h_assert_clean() where a test wants the check before it ends.
 */
#ifndef POLLUX_TEST_NET_CHECK_H
#define POLLUX_TEST_NET_CHECK_H
#include <criterion/criterion.h>
#include "harness.h"

static inline void h_setup(void)
{
	cr_assert_eq(h_init(NULL), 0, "h_init failed");
}

/* nothing left captured, every buffer home, none freed twice */
static inline void h_assert_clean(void)
{
	h_tx_drop_all();
	cr_assert(h_pool_full(), "pktbuf pool: %u of %u buffers home (or a double free)",
		  h_pool_avail(), H_POOL);
}

static inline void h_teardown(void)
{
	h_assert_clean();
	h_fini();
}

#define H_STAT(f) (h_stats().f)
#endif
