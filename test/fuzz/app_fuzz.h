/*
 * app_fuzz.h — the engine under the appliance fuzz targets (fuzz_app_web,
 * fuzz_app_echo, fuzz_app_proxy, fuzz_app_iperf): one appliance of
 * src/apps/ on the net unit harness (test/unit/net/harness.h), its own
 * protocol driven by scripted peers over real TCP connections (and UDP
 * where the appliance has it), segment by segment as the input says.
 *
 * A target fills a struct app_fuzz (its port, its init) and calls
 * app_fuzz_one from LLVMFuzzerTestOneInput. Per input the engine makes a
 * fresh world (h_init), starts the appliance (its per-core free lists
 * live in the harness's frame memory, which h_fini retires, so init runs
 * again each time; a listener that outlived the last world answers
 * -EADDRINUSE with the same handlers, which is taken as success), plays
 * the records, then tears down and checks:
 *   - nothing crashed (ASan, UBSan, the stack's ASSERTs, the harness's
 *     API checks);
 *   - once every peer has reset its connections and every timeout has
 *     run, no connection slot is held (net_tcp_conns(0) == 0) and every
 *     packet buffer is back in its pool (h_pool_full);
 *   - libFuzzer's leak check covers what an appliance mallocs (iperf).
 *
 * The input format (all integers little-endian; short reads are zeros):
 *   set-up byte: bit 0 the peers do not ACK by themselves (only the ACK
 *     record does), bit 1 no timestamps/window scale in the peers' SYNs,
 *     bit 2 the peers advertise a 2 KiB window instead of 64 KiB.
 *   then records until the input ends (at most APP_FUZZ_RECORDS):
 *   op byte: op = b & 15, flow = (b >> 4) & 7, v = b >> 7; flows 0-3 are
 *   clients (connections to the appliance), 4-7 the connections the
 *   appliance opens (the proxy's backends), in the order it opens them.
 *     0 connect: a client flow's handshake (a fresh source port each
 *       time); v: the peer offers MSS 536
 *     1 data: len16 (at most 1460), bytes; v: with FIN
 *     2 out of order: gap8, len16, bytes at seq + gap + 1 (v: seq - gap -
 *       1, an old duplicate); the peer's seq does not move
 *     3 FIN (half-close; the peer still reads)
 *     4 RST at the exact next seq (v: at seq + 1, a challenge ACK's case)
 *     5 ACK of what the peer has read, window16 (v: window 0)
 *     6 time: ms16 (15 min per input at most)
 *     7 answer a connection the appliance opened: SYN-ACK (v: RST)
 *     8 auto-ACK for this flow on/off (v: on)
 *     9 UDP to the appliance's port: sport16, len16, bytes
 *    10 bulk: n8, len16: n segments of len bytes of a pattern, the peers
 *       reading after each (v: with PSH)
 *   others: nothing.
 * After each record the peers read what the stack sent (in-order data
 * moves their ACK point; with auto-ACK they acknowledge it, a few rounds).
 */
#ifndef POLLUX_TEST_APP_FUZZ_H
#define POLLUX_TEST_APP_FUZZ_H
#include <stddef.h>
#include <stdint.h>

#define APP_FUZZ_RECORDS 512
#define APP_FUZZ_IDLE_S 30              /* the appliance's idle_timeout_s */

struct app_fuzz {
	const char *name;               /* for messages */
	uint16_t port;                  /* where the clients connect (and UDP goes) */
	uint16_t backend_port;          /* the port the appliance connects out to (0: none) */
	/* starts the appliance in the fresh world: 0, -EADDRINUSE, or -errno
	 * with err */
	int (*init)(char *err, size_t errlen);
	/* optional: before the first world (e.g. to own a UDP port the
	 * harness would take) */
	void (*first)(void);
};

int app_fuzz_one(const struct app_fuzz *t, const uint8_t *data, size_t size);
#endif
