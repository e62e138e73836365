/*
 * listener_slots.c — the API listeners' slot table (listener_slots.h):
 * admission with a per-source share, release, and the handshake and
 * silence deadlines. Pure: no clock of its own (the caller passes now),
 * no allocation, so it runs the same on the image, hosted and under the
 * fuzzer. The tables are small (64 slots on the image, 256 hosted), so
 * admission counts a source's slots by a scan instead of keeping a
 * hashed count an attacker could aim at.
 */
#include <errno.h>
#include <string.h>
#include "appliance/listener_slots.h"
#include "core/core.h"

void listener_slots_init(struct listener_slots *t, uint32_t cap, uint32_t per_source,
			 uint64_t handshake_ns, uint64_t idle_ns)
{
	memset(t, 0, sizeof *t);
	t->cap = cap < LISTENER_SLOTS_MAX ? cap : LISTENER_SLOTS_MAX;
	t->per_source = per_source < t->cap ? per_source : t->cap;
	t->handshake_ns = handshake_ns;
	t->idle_ns = idle_ns;
}

int listener_slots_admit(struct listener_slots *t, uint32_t peer, uint64_t now)
{
	uint32_t free_i = t->cap, from_peer = 0;
	for (uint32_t i = 0; i < t->cap; i++) {
		if (!t->slot[i].used) {
			if (free_i == t->cap)
				free_i = i;
		} else if (t->slot[i].peer == peer) {
			from_peer++;
		}
	}
	if (from_peer >= t->per_source)
		return -EDQUOT;
	if (free_i == t->cap)
		return -ENOSPC;
	t->slot[free_i] = (struct listener_slot){ .used = 1, .peer = peer, .since = now, .last = now };
	t->used++;
	return (int)free_i;
}

void listener_slots_release(struct listener_slots *t, uint32_t i)
{
	ASSERT(i < t->cap && t->slot[i].used);  /* once per admission */
	t->slot[i].used = 0;
	t->used--;
}

void listener_slots_touch(struct listener_slots *t, uint32_t i, uint64_t now)
{
	t->slot[i].last = now;
}

int listener_slots_expired(const struct listener_slots *t, uint32_t i, uint64_t now, int handshaking)
{
	const struct listener_slot *s = &t->slot[i];
	return s->used && ((handshaking && now - s->since > t->handshake_ns) || now - s->last > t->idle_ns);
}

uint32_t listener_slots_from(const struct listener_slots *t, uint32_t peer)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < t->cap; i++)
		n += t->slot[i].used && t->slot[i].peer == peer;
	return n;
}
