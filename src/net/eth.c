/*
 * eth.c — Ethernet in and out: a received frame goes to ARP or IPv4
 * (eth_input, from the receive pollers in iface.c and net_input); a frame
 * to send is queued on the calling core's transmit batch (eth_tx), which
 * the interfaces' pollers hand to the device at the end of every loop
 * turn (eth_tx_flush).
 *
 * 802.1Q: an interface with "vlan": VID accepts only frames tagged with
 * that VID (the tag is stripped on receipt) and tags all it sends; other
 * tags and untagged frames are counted and dropped. Without "vlan",
 * tagged frames are counted and dropped.
 *
 * Transmit: each core batches frames per interface and flushes them with
 * one tx_burst at the end of its loop turn. Core 0 owns no queue when
 * there are data cores: it hands its frames to the core owning pair 0.
 * eth_tx consumes the buffer whatever it returns; a full batch is
 * back-pressure (-ENOBUFS, counted), never a wait.
 *
 * Bad input is counted by reason and dropped; nothing here trusts a
 * length it read from a header without checking it against the frame.
 */
#include <errno.h>
#include <string.h>
#include "net/net_priv.h"
#include "sched/sched.h"

struct pktbuf *net_alloc(void)
{
	struct pktbuf *b = pktbuf_alloc(pktbuf_pool_of((uint16_t)core_self()->id));
	if (!b)
		NSTAT(drop_no_buffer);
	return b;
}

/* ---- transmit batching */
/* Hands the batch to the device. Frames the ring can't take yet stay at
 * the front of the batch for the next turn (the device drains its ring
 * meanwhile): a full ring is back-pressure, not loss. */
void eth_tx_flush(struct net_core *nc, int i)
{
	struct net_txq *t = &nc->txq[i];
	if (!t->n)
		return;
	uint32_t me = core_self()->id;
	struct net_if *ifc = &net_ifs[i];
	uint16_t q = 0;
	for (q = 0; q < ifc->nq; q++)
		if (netdev_queue_core(ifc->dev, q) == me)
			break;
	if (q == ifc->nq) {                     /* no queue here: nothing can go */
		for (uint16_t k = 0; k < t->n; k++) {
			NSTAT(tx_drop);
			pktbuf_free(t->pkts[k]);
		}
		t->n = 0;
		return;
	}
	uint16_t sent = netdev_tx_burst(ifc->dev, q, t->pkts, t->n);
	counter_add(&nc->ctr.tx_frames, sent);
	memmove(t->pkts, t->pkts + sent, (size_t)(t->n - sent) * sizeof t->pkts[0]);
	t->n = (uint16_t)(t->n - sent);
}

static void tx_remote(void *arg)
{
	struct pktbuf *b = arg;
	struct net_txq *t = &net_me()->txq[b->port];
	if (t->n == NET_TX_BATCH)
		eth_tx_flush(net_me(), b->port);
	if (t->n == NET_TX_BATCH) {
		NSTAT(tx_drop);
		pktbuf_free(b);
		return;
	}
	t->pkts[t->n++] = b;
}

/* Inserts the interface's 802.1Q tag after the MAC addresses, in the
 * buffer's headroom (the frame was padded to 60 bytes untagged, so it is
 * at least 64 now, as a tagged frame must be). */
static int vlan_tag(struct net_if *ifc, struct pktbuf *b)
{
	if (b->off < PKTBUF_HEADROOM / 2) {     /* leave room for the device's header */
		NSTAT(tx_drop);
		pktbuf_free(b);
		return -ENOBUFS;
	}
	uint8_t *p = pktbuf_data(b);
	memmove(p - 4, p, 2 * ETH_ALEN);
	uint16_t tag[2] = { htons(ETHERTYPE_VLAN), htons(ifc->vlan) };
	memcpy(p - 4 + 2 * ETH_ALEN, tag, sizeof tag);
	b->off -= 4;
	b->len += 4;
	return 0;
}

/* Queues a complete frame (Ethernet header included, untagged) on this
 * core. Consumes b. -ENOBUFS when the batch is still full after a flush
 * (the frame is dropped and counted; TCP takes it as a cue to wait). */
int eth_tx(struct net_if *ifc, struct pktbuf *b)
{
	if (ifc->vlan && vlan_tag(ifc, b))
		return -ENOBUFS;
	b->port = (uint16_t)ifc->index;
	uint32_t me = core_self()->id, owner = netdev_queue_core(ifc->dev, 0);
	int mine = 0;
	for (uint16_t q = 0; q < ifc->nq; q++)
		mine |= netdev_queue_core(ifc->dev, q) == me;
	if (!mine) {                    /* core 0 with data cores: hand it over */
		if (call_on(owner, tx_remote, b)) {
			NSTAT(tx_drop);
			pktbuf_free(b);
			return -ENOBUFS;
		}
		return 0;
	}
	struct net_txq *t = &net_me()->txq[ifc->index];
	if (t->n == NET_TX_BATCH)
		eth_tx_flush(net_me(), ifc->index);
	if (t->n == NET_TX_BATCH) {
		NSTAT(tx_drop);
		pktbuf_free(b);
		return -ENOBUFS;
	}
	t->pkts[t->n++] = b;
	return 0;
}

/* would a frame queued now wait behind a full batch? (TCP asks first) */
int net_tx_busy(const struct net_if *ifc)
{
	return net_me()->txq[ifc->index].n >= NET_TX_BATCH - 8;
}

/* ---- receive */
/* Strips the 802.1Q tag of a frame for ifc's VLAN, in place (the MAC
 * addresses move up over it). Anything else on a VLAN interface, and any
 * tagged frame elsewhere, is counted and dropped (b consumed): -1. */
static int vlan_untag(struct net_if *ifc, struct pktbuf *b)
{
	uint8_t *p = pktbuf_data(b);
	uint16_t type, tci;
	memcpy(&type, p + 2 * ETH_ALEN, 2);
	if (!ifc->vlan) {
		NSTAT(drop_vlan);               /* tagged, and no VLAN configured */
		goto drop;
	}
	if (ntohs(type) != ETHERTYPE_VLAN) {
		NSTAT(drop_vlan_untagged);
		goto drop;
	}
	if (b->len < ETH_HLEN + 4) {
		NSTAT(drop_short);
		goto drop;
	}
	memcpy(&tci, p + ETH_HLEN, 2);
	if ((ntohs(tci) & 0xfff) != ifc->vlan) {
		NSTAT(drop_vlan);               /* another VLAN */
		goto drop;
	}
	memmove(p + 4, p, 2 * ETH_ALEN);
	b->off += 4;
	b->len -= 4;
	return 0;
drop:
	pktbuf_free(b);
	return -1;
}

void eth_input(struct net_if *ifc, struct pktbuf *b)
{
	NSTAT(rx_frames);
	if (b->len < ETH_HLEN) {
		NSTAT(drop_short);
		pktbuf_free(b);
		return;
	}
	const struct eth_hdr *e = (const void *)pktbuf_data(b);
	uint16_t type = ntohs(e->type);
	if (type == ETHERTYPE_VLAN || ifc->vlan) {
		if (vlan_untag(ifc, b))
			return;
		e = (const void *)pktbuf_data(b);
		type = ntohs(e->type);
	}
	if (type == ETHERTYPE_IPV4)
		ip_input(ifc, b);
	else if (type == ETHERTYPE_ARP)
		arp_input(ifc, b);
	else {
		if (type == ETHERTYPE_VLAN)
			NSTAT(drop_vlan);
		else
			NSTAT(drop_not_ipv4);
		pktbuf_free(b);
	}
}

/* Feeds one received frame to the stack (tests call it directly). */
void net_input(int ifindex, struct pktbuf *b)
{
	eth_input(&net_ifs[ifindex], b);
}
