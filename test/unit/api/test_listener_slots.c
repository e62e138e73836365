/*
 * test_listener_slots.c — the API listeners' slot table
 * (src/appliance/listener_slots.c, compiled in here: the API's unit
 * tests link no appliance file): admission up to the cap, the per-source
 * share refused before a full table, release and reuse, and the
 * handshake and silence deadlines at their exact edges.
 * test/fuzz/fuzz_api_slots.c drives the same table with event programs.
 */
#include <errno.h>
#include <criterion/criterion.h>
#include "appliance/listener_slots.c"

#define S_NS 1000000000ull
#define T0 (1000 * S_NS)
#define A 0x0a000002u
#define B 0x0a000003u

static struct listener_slots t;

Test(listener_slots, admits_up_to_the_cap_then_refuses_with_enospc)
{
	listener_slots_init(&t, 4, 4, 20 * S_NS, 60 * S_NS);
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(listener_slots_admit(&t, 0x0a000100u + i, T0), (int)i);
	cr_assert_eq(t.used, 4);
	cr_assert_eq(listener_slots_admit(&t, 0x0a0001ffu, T0), -ENOSPC);
	listener_slots_release(&t, 2);
	cr_assert_eq(t.used, 3);
	cr_assert_eq(listener_slots_admit(&t, 0x0a0001ffu, T0), 2, "the freed slot is reused");
}

Test(listener_slots, one_source_gets_its_share_and_no_more)
{
	listener_slots_init(&t, 64, 56, 20 * S_NS, 60 * S_NS);
	for (int i = 0; i < 56; i++)
		cr_assert_geq(listener_slots_admit(&t, A, T0), 0);
	cr_assert_eq(listener_slots_admit(&t, A, T0), -EDQUOT);
	cr_assert_eq(listener_slots_from(&t, A), 56);
	/* the 8 left are for everyone else */
	for (int i = 0; i < 8; i++)
		cr_assert_geq(listener_slots_admit(&t, B, T0), 0);
	cr_assert_eq(listener_slots_admit(&t, B, T0), -ENOSPC);
	/* full and over its share: the share is what is reported */
	cr_assert_eq(listener_slots_admit(&t, A, T0), -EDQUOT);
}

Test(listener_slots, init_clamps_the_cap_and_the_share)
{
	listener_slots_init(&t, 1000, 2000, S_NS, S_NS);
	cr_assert_eq(t.cap, LISTENER_SLOTS_MAX);
	cr_assert_eq(t.per_source, LISTENER_SLOTS_MAX);
}

Test(listener_slots, a_handshake_expires_after_its_deadline_not_at_it)
{
	listener_slots_init(&t, 4, 4, 20 * S_NS, 60 * S_NS);
	int i = listener_slots_admit(&t, A, T0);
	listener_slots_touch(&t, (uint32_t)i, T0 + 19 * S_NS);     /* bytes move, the handshake does not end */
	cr_assert_not(listener_slots_expired(&t, (uint32_t)i, T0 + 20 * S_NS, 1));
	cr_assert(listener_slots_expired(&t, (uint32_t)i, T0 + 20 * S_NS + 1, 1));
	cr_assert_not(listener_slots_expired(&t, (uint32_t)i, T0 + 20 * S_NS + 1, 0),
		      "a finished handshake is not charged its deadline");
}

Test(listener_slots, silence_counts_from_the_last_byte)
{
	listener_slots_init(&t, 4, 4, 20 * S_NS, 60 * S_NS);
	int i = listener_slots_admit(&t, A, T0);
	listener_slots_touch(&t, (uint32_t)i, T0 + 30 * S_NS);
	cr_assert_not(listener_slots_expired(&t, (uint32_t)i, T0 + 90 * S_NS, 0));
	cr_assert(listener_slots_expired(&t, (uint32_t)i, T0 + 90 * S_NS + 1, 0));
	listener_slots_release(&t, (uint32_t)i);
	cr_assert_not(listener_slots_expired(&t, (uint32_t)i, T0 + 999 * S_NS, 0), "a free slot never expires");
	cr_assert_eq(t.used, 0);
}
