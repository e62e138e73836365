/*
 * listener_slots.h — the API listeners' connection slots, with no socket,
 * stack or TLS in them: which slot a new connection gets, whether its
 * source already holds its share, and when a slot's time is up. Both
 * listeners (stack_listener.c on the image, hosted_listener.c) keep their
 * transport state (the tcp_conn or fd, the TLS connection) in an array
 * indexed like these slots and ask this module; test/fuzz/fuzz_api_slots.c
 * drives it with programs of connects, bytes, silences and closes.
 *
 * Rules for callers: one owner (core 0), no locking. A slot is taken by
 * listener_slots_admit and given back by listener_slots_release exactly
 * once, whatever ends the connection (its close, an abort, a deadline).
 * The request deadlines (API_HEADER_TIMEOUT_NS, API_REQUEST_TIMEOUT_NS)
 * stay with the connection (api_tls_conn_overdue): the sweep asks
 * listener_slots_expired first, then the connection.
 */
#ifndef POLLUX_APPLIANCE_LISTENER_SLOTS_H
#define POLLUX_APPLIANCE_LISTENER_SLOTS_H
#include <stdint.h>

#define LISTENER_SLOTS_MAX 256

struct listener_slot {
	uint8_t used;
	uint32_t peer;                  /* its source address (compared only) */
	uint64_t since, last;           /* admitted, last byte moved (ns) */
};

struct listener_slots {
	/* immutable after listener_slots_init */
	uint32_t cap;                   /* slots in use at most (<= LISTENER_SLOTS_MAX) */
	uint32_t per_source;            /* slots one source may hold at most */
	uint64_t handshake_ns;          /* a handshake must end this long after admission */
	uint64_t idle_ns;               /* a slot that moves no byte this long is up */
	/* the owner's */
	uint32_t used;
	struct listener_slot slot[LISTENER_SLOTS_MAX];
};

/* Every slot free. cap is clamped to LISTENER_SLOTS_MAX, per_source to
 * cap. */
void listener_slots_init(struct listener_slots *t, uint32_t cap, uint32_t per_source,
			 uint64_t handshake_ns, uint64_t idle_ns);

/* A connection from peer at now: the index of the slot it gets (its
 * `since` and `last` are now), or -EDQUOT when peer holds per_source
 * slots already (checked first: a full table still says who is
 * flooding), or -ENOSPC when all cap slots are in use. */
int listener_slots_admit(struct listener_slots *t, uint32_t peer, uint64_t now);

/* Gives slot i back (it must be in use). */
void listener_slots_release(struct listener_slots *t, uint32_t i);

/* Slot i moved a byte (either way) at now. */
void listener_slots_touch(struct listener_slots *t, uint32_t i, uint64_t now);

/* 1 when slot i's time is up at now: still handshaking more than
 * handshake_ns after admission, or no byte moved for more than idle_ns.
 * The caller then ends the connection (timed_out) and releases the slot. */
int listener_slots_expired(const struct listener_slots *t, uint32_t i, uint64_t now, int handshaking);

/* Slots in use by peer. */
uint32_t listener_slots_from(const struct listener_slots *t, uint32_t peer);
#endif
