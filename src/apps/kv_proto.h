/*
 * kv_proto.h — the `kv` appliance's protocols: memcached 1.6's text, meta
 * and binary protocols turned into operations (struct kv_op) by a
 * per-connection parser, and an executor that runs one operation against
 * a shard (kv_store.h) and writes the bytes memcached would answer.
 *
 * The flow, for the appliance (kv.c):
 *   1. Feed the connection's received bytes to kv_parse(); it consumes
 *      what it can and stops at each event: KV_PARSE_OP (an op is ready),
 *      KV_PARSE_VALUE (a store op whose value comes next), KV_PARSE_MORE
 *      (everything consumed, nothing ready). After KV_PARSE_OP or
 *      KV_PARSE_VALUE call it again with the bytes left -- EVEN NONE
 *      (in may then be NULL, len 0) -- until it answers KV_PARSE_MORE:
 *      a multi-get line has consumed all its bytes when it gives its
 *      first key, the others come one call each after it.
 *      A request may be split anywhere across calls; bytes of an
 *      unfinished line are kept in the parser (at most KV_LINE_MAX).
 *   2. KV_PARSE_VALUE: *op is a store (set/add/replace/append/prepend/cas,
 *      ms, binary set...) with op->vlen value bytes. Give the parser a
 *      destination with room for vlen + 2 bytes with kv_parse_value_dst():
 *        - on the key's owner shard: kv_op_item_alloc() and
 *          kv_item_data(item) (the bytes land in the item; later set
 *          op->item), or
 *        - a staging buffer of the appliance's (later set op->value; the
 *          owner core allocates and copies in kv_exec), or
 *        - NULL: the bytes are swallowed (an allocation that failed; set
 *          op->store_err to its kv_status so kv_exec answers memcached's
 *          SERVER_ERROR, or one the appliance can't stage).
 *      Then go on calling kv_parse(); when the value (and, for text and
 *      meta, its "\r\n") is in, it answers KV_PARSE_OP with the same op
 *      again, op->bad_chunk set if the data block lied about its length.
 *      The appliance then fills op->item / op->value / op->store_err.
 *      A bad chunk is answered (CLIENT_ERROR bad data chunk) and, as in
 *      memcached, the connection reads on: what follows the vlen + 2
 *      bytes is the next command (test_kv_oracle checks it).
 *   3. Route the op (kv_op_route): KV_ROUTE_KEY ops run on the owner core
 *      of op->key (kv_shard_of); KV_ROUTE_LOCAL ops need no shard (run
 *      them where the connection is, shard NULL is fine); KV_ROUTE_ALL
 *      (flush_all, binary flush) runs on every shard, with a writer on one
 *      of them only (kv_exec with out == NULL writes nothing).
 *   4. kv_exec(shard, op, now, out) writes the op's whole answer through
 *      out->put. Answers are appended in the order ops were parsed: the
 *      appliance keeps that order per connection when ops cross cores.
 *      After an op with op->close set (quit, a line too long, a binary
 *      protocol error), send what was answered and close.
 *
 * A text multi-key get ("get a b c", gets, gat, gats) comes out of the
 * parser as one op per key, the first flagged KV_OPF_FIRST, the last
 * KV_OPF_LAST: each answers its own VALUE lines, the last adds "END".
 * The ops of one line may run on different cores; their answers must be
 * joined in order. A get line is not bounded by KV_LINE_MAX: its keys
 * stream out as they arrive.
 *
 * An op is self-contained (key and tokens copied in, no pointers into
 * the parser) so it can be copied over a channel to the owner core; only
 * op->item and op->value point elsewhere, set by the appliance.
 *
 * No heap, no syscall: the parser is a fixed struct per connection, and
 * kv_exec writes only through `out`. Nothing a peer sends can make the
 * parser hold more than KV_LINE_MAX bytes or fail an assertion; what is
 * malformed becomes an op of KV_CMD_ERROR that answers memcached's error
 * (and maybe closes).
 */
#ifndef POLLUX_APPS_KV_PROTO_H
#define POLLUX_APPS_KV_PROTO_H
#include <stddef.h>
#include <stdint.h>
#include "apps/kv_store.h"

#define KV_LINE_MAX 2048        /* a text line longer than this without "\n": closed */
#define KV_META_FLAGS_MAX 24    /* memcached's MAX_TOKENS bounds a meta command's flags */
#define KV_OPAQUE_MAX 32        /* meta O<token>, as memcached's */
#define KV_VERSION "1.6.18"     /* what `version` and `stats` say (clients parse it) */

enum kv_protocol {
	KV_PROTO_TEXT,
	KV_PROTO_META,
	KV_PROTO_BINARY,
};

enum kv_cmd {
	KV_CMD_NONE = 0,
	/* storage; text, binary (set/add/replace/append/prepend, cas via op->cas) */
	KV_CMD_SET, KV_CMD_ADD, KV_CMD_REPLACE, KV_CMD_APPEND, KV_CMD_PREPEND, KV_CMD_CAS,
	/* retrieval: one key per op; binary get/getk/getq/getkq and gat/gatq */
	KV_CMD_GET, KV_CMD_GETS, KV_CMD_GAT, KV_CMD_GATS,
	KV_CMD_DELETE, KV_CMD_INCR, KV_CMD_DECR, KV_CMD_TOUCH,
	/* no key */
	KV_CMD_FLUSH_ALL,       /* op->exptime: the delay as sent (0: now) */
	KV_CMD_VERSION,
	KV_CMD_VERBOSITY,
	KV_CMD_QUIT,
	KV_CMD_STATS,           /* op->stats: which group */
	KV_CMD_NOOP,            /* binary */
	/* meta */
	KV_CMD_MG, KV_CMD_MS, KV_CMD_MD, KV_CMD_MA, KV_CMD_MN, KV_CMD_ME,
	/* a malformed request: answers op->err (text/meta) or op->bin_status
	 * (binary), maybe closes */
	KV_CMD_ERROR,
};

enum kv_stats_group {
	KV_STATS_GENERAL, KV_STATS_SETTINGS, KV_STATS_ITEMS, KV_STATS_SLABS, KV_STATS_SIZES,
	KV_STATS_CONNS,
};

/* op->flags */
#define KV_OPF_NOREPLY  0x0001  /* text noreply, meta q, binary quiet opcodes */
#define KV_OPF_FIRST    0x0002  /* first op of a text multi-get line */
#define KV_OPF_LAST     0x0004  /* last op of a text multi-get line: answers END */
#define KV_OPF_RETKEY   0x0008  /* binary getk/getkq: the key in the answer */
#define KV_OPF_CLOSE    0x0010  /* close the connection once this op is answered */
#define KV_OPF_BASE64   0x0020  /* meta b: the key came base64-encoded (answer it so) */

/* meta ma modes (M token) and ms modes */
enum kv_meta_mode {
	KV_MMODE_NONE = 0,
	KV_MMODE_SET = 'S', KV_MMODE_ADD = 'E', KV_MMODE_APPEND = 'A', KV_MMODE_PREPEND = 'P',
	KV_MMODE_REPLACE = 'R', KV_MMODE_INCR = 'I', KV_MMODE_DECR = 'D',
};

struct kv_op {
	/* what the parser fills */
	uint8_t cmd;                    /* enum kv_cmd */
	uint8_t proto;                  /* enum kv_protocol */
	uint8_t stats;                  /* enum kv_stats_group, for KV_CMD_STATS */
	uint8_t mode;                   /* enum kv_meta_mode (ms M, ma M) */
	uint16_t flags;                 /* KV_OPF_* */
	uint8_t bad_chunk;              /* the data block did not end in "\r\n" */
	uint8_t klen;                   /* 1..KV_KEY_MAX; 0 for ops without a key */
	uint8_t key[KV_KEY_MAX];        /* decoded (meta b) */
	uint32_t client_flags;          /* set's flags, meta F */
	uint32_t vlen;                  /* value bytes of a store op (without "\r\n") */
	int64_t exptime;                /* as sent: set/touch/gat/flush delay, meta T, binary
					 * expiration; kv_exptime_rel turns it into store time */
	uint64_t cas;                   /* cas's unique, meta C, binary header cas */
	uint64_t cas_set;               /* meta E */
	uint64_t delta;                 /* incr/decr, meta ma D (default 1), binary delta */
	uint64_t initial;               /* binary incr initial, meta ma J */
	int64_t vivify;                 /* meta N<ttl> (autovivify), binary incr exptime
					 * (vivify unless 0xffffffff); < 0: none */
	int64_t recache;                /* meta mg R<ttl>; < 0: none */
	uint32_t verbosity;             /* verbosity level */
	/* meta: the flags as sent, in order (return flags answer in that
	 * order), and the opaque token */
	uint64_t mflags;                /* bit (c - 'A') for each flag letter c */
	uint8_t nmflags;
	char mflag[KV_META_FLAGS_MAX];
	uint8_t opaque_len;
	char opaque[KV_OPAQUE_MAX];     /* meta O<token>: the token, without the 'O' */
	/* binary */
	uint8_t bin_opcode;             /* the request's opcode, echoed */
	uint16_t bin_status;            /* KV_CMD_ERROR on binary: the status to answer */
	uint32_t bin_opaque;            /* echoed */
	/* KV_CMD_ERROR on text/meta: the whole line to answer, without "\r\n"
	 * (a static string) */
	const char *err;

	/* what the appliance fills before kv_exec, for a store op */
	struct kv_item *item;           /* from kv_op_item_alloc on the owner shard, filled:
					 * kv_exec links (or puts) it, consuming the reference */
	const uint8_t *value;           /* or: staged vlen bytes, kv_exec allocates and copies */
	uint8_t store_err;              /* or: the enum kv_status of a failed allocation */
};

/* whether a meta flag letter was sent */
static inline int kv_op_mflag(const struct kv_op *op, char c)
{
	return c >= 'A' && c <= 'z' && (op->mflags >> (c - 'A') & 1);
}

/* --- parsing ------------------------------------------------------ */

enum kv_parse_ev {
	KV_PARSE_MORE,          /* every byte consumed, no op ready */
	KV_PARSE_OP,            /* *op is ready: route it, kv_exec it */
	KV_PARSE_VALUE,         /* *op is a store whose value follows: kv_parse_value_dst first */
};

/* One connection's parser state: fixed size, no pointers out but `dst`.
 * The protocol is chosen by the first byte, as memcached does (0x80:
 * binary, anything else: text and meta), and kept. The fields are the
 * parser's own (kv_proto.c); the appliance only holds the struct. */
struct kv_parser {
	uint8_t state;
	uint8_t binary;                 /* the connection speaks the binary protocol */
	uint8_t get_cmd;                /* a multi-get line: its command */
	uint8_t get_first;              /* ...no key of it given out yet */
	uint8_t held;                   /* streaming get: a key waits in `pending` */
	uint8_t eol;                    /* streaming get: the line ended */
	uint16_t toklen;                /* streaming get: bytes in tok */
	int64_t get_exptime;            /* gat/gats */
	uint32_t len;                   /* bytes in buf */
	uint32_t scan;                  /* next byte of buf to look at */
	uint32_t need;                  /* value / swallow bytes still to come */
	uint32_t got;                   /* value bytes received */
	uint32_t total;                 /* bytes the value's destination takes */
	uint8_t *dst;                   /* the value's destination, NULL: swallow */
	struct kv_op pending;           /* the store op whose value is arriving; the
					 * held-back key of a streaming get */
	uint8_t hdr[24];                /* a binary request header */
	uint8_t tok[KV_KEY_MAX + 1];    /* a streaming get's unfinished key */
	uint8_t buf[KV_LINE_MAX + 1];   /* an unfinished line, a get line, a binary
					 * request's extras and key */
};

void kv_parser_init(struct kv_parser *p);

/* Consumes bytes of `in` (up to `len`) until an event; returns how many
 * it consumed and sets *ev. On KV_PARSE_OP / KV_PARSE_VALUE *op is filled
 * (the whole struct). Never fails: malformed input gives KV_CMD_ERROR
 * ops. After an op with KV_OPF_CLOSE, everything is consumed and ignored
 * (KV_PARSE_MORE). */
size_t kv_parse(struct kv_parser *p, const uint8_t *in, size_t len, struct kv_op *op,
		enum kv_parse_ev *ev);

/* After KV_PARSE_VALUE: where the op->vlen value bytes go. `dst` has room
 * for vlen + 2 bytes (the text "\r\n" is received and checked there) and
 * stays valid until kv_parse answers the op again; NULL swallows them. */
void kv_parse_value_dst(struct kv_parser *p, uint8_t *dst);

/* --- executing ---------------------------------------------------- */

enum kv_route {
	KV_ROUTE_LOCAL,         /* no shard needed */
	KV_ROUTE_KEY,           /* the owner shard of op->key */
	KV_ROUTE_ALL,           /* every shard (flush): kv_exec on each, one with a writer */
};
enum kv_route kv_op_route(const struct kv_op *op);

/* The reply writer: put appends n bytes to the connection's answer,
 * 0 or -ENOBUFS (then kv_exec stops and returns -ENOBUFS). room
 * (optional, NULL: unbounded) says whether n more bytes would fit (0, and
 * the puts of those n bytes then succeed) or not (-ENOBUFS): kv_exec asks
 * it before a read changes or counts anything (get, gat, binary get, mg),
 * so a read that answers -ENOBUFS left the shard as it was and may run
 * again where there is room, counted once (kv.c's messages do). */
struct kv_out {
	int (*put)(struct kv_out *o, const void *p, size_t n);
	void *arg;
	int (*room)(struct kv_out *o, size_t n);
};

/* The Unix time the appliance started (for kv_exptime_rel's absolute
 * times and flush_all's). Set once at boot, before any kv_exec. */
void kv_proto_setup(int64_t started);

/* For a store op on its owner shard, the item to receive the value into:
 * kv_item_alloc with the op's key, flags, exptime (converted) and vlen.
 * NULL with *st set (KV_TOO_LARGE, KV_NO_MEMORY). */
struct kv_item *kv_op_item_alloc(struct kv_shard *s, const struct kv_op *op, uint32_t now,
				 enum kv_status *st);

/* Runs one op and writes its whole answer through `out` (NULL: nothing,
 * e.g. flush on all shards but one). `s` is the key's owner shard for
 * KV_ROUTE_KEY ops, any shard for KV_ROUTE_ALL, may be NULL for
 * KV_ROUTE_LOCAL. A store op's op->item reference is consumed. Returns 0
 * or -ENOBUFS (out->put or out->room failed; with out->room, a read
 * failed before its first side effect). Owner core only; no heap, no
 * lock. */
int kv_exec(struct kv_shard *s, const struct kv_op *op, uint32_t now, struct kv_out *out);

/* --- what `stats` needs from the appliance (kv.c implements) --------- */

struct kv_settings_info {
	uint64_t maxbytes;              /* kv.memory_mb in bytes */
	uint32_t maxconns;              /* kv.max_conns */
	uint32_t tcpport;               /* kv.port */
	uint32_t item_size_max;
	uint32_t evictions;             /* kv.evict */
	uint32_t num_threads;           /* data cores */
	uint32_t chunk_size;            /* smallest chunk's payload, memcached's -n */
	double growth_factor;
};

/* appliance-wide sums, for `stats` (memcached's names in the comments) */
struct kv_stats_all {
	struct kv_shard_stats sum;      /* every shard's counters added */
	/* per slab class, added over the shards by class id (every shard has
	 * the same classes) */
	unsigned nclasses;
	struct kv_class_stats cls[KV_CLASSES_MAX];
	/* the appliance's own */
	uint32_t pid;                   /* pid (the hosted process's, else 1) */
	int64_t time;                   /* time: Unix time now */
	uint32_t uptime;                /* uptime, seconds */
	uint64_t rusage_user_us, rusage_system_us;      /* rusage_user/system */
	uint64_t curr_connections, total_connections, rejected_connections;
	uint64_t connection_structures;
	uint64_t bytes_read, bytes_written;
	uint64_t cmd_get, cmd_touch;    /* key lookups by get/gat, by touch/gat */
	uint64_t cross_core;            /* ops carried to another core (pollux's own) */
	uint32_t threads;               /* threads: data cores */
	struct kv_settings_info settings;
};
void kv_stats_collect(struct kv_stats_all *out);

/* `stats conns`: one entry per open connection */
struct kv_conn_info {
	uint32_t id;                    /* memcached's fd: a number unique among open conns */
	char addr[64];                  /* "tcp:198.18.0.1:40000" */
	char listen_addr[64];           /* "tcp:0.0.0.0:11211" */
	const char *state;              /* "conn_parse_cmd", "conn_nread", ... */
	uint32_t secs_since_last_cmd;
};
/* calls `each` for every open connection (stops when it returns nonzero) */
void kv_stats_conns(int (*each)(void *arg, const struct kv_conn_info *ci), void *arg);

#endif
