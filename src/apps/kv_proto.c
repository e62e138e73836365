/*
 * kv_proto.c — the `kv` appliance's request parser: memcached 1.6's text,
 * meta and binary protocols, byte by byte as they arrive, into struct
 * kv_op (kv_proto.h). Answers are kv_exec's (kv_exec.c).
 *
 * Where memcached's behaviour is odd we copy it, because clients and
 * tests were written against it: a line is tokenized on ' ' only (a tab
 * is part of a token, and a number's token may end in white space and
 * garbage), an embedded NUL ends the line, numbers go through strtol and
 * friends with memcached's checks and its truncation to 32 bits, text
 * errors obey noreply while meta errors never do, a binary request with
 * more body than its opcode uses leaves the rest to be read as the next
 * header, and an unknown binary opcode swallows its whole body length
 * after its extras and key.
 *
 * Differences, all from the bounded buffer: a line longer than
 * KV_LINE_MAX closes the connection (memcached: when more than 2048 bytes
 * came without a newline) unless it is a get/gets, whose keys then stream
 * out as they arrive; in such a streamed line a key over 250 bytes answers
 * CLIENT_ERROR after the VALUEs already given (memcached drops those).
 * A binary key over 250 bytes is refused as soon as its header is in.
 *
 * Pure logic: no allocation, no syscall, any core.
 */
#include <stdbool.h>
#include <string.h>
#include "apps/kv_proto.h"

enum {
	ST_START,               /* no byte yet: the protocol is not known */
	ST_LINE,                /* reading a text line */
	ST_GETLINE,             /* giving out the keys of a multi-get line in buf */
	ST_GETSTREAM,           /* a get line longer than buf: keys as they come */
	ST_SKIPLINE,            /* dropping the rest of a line */
	ST_VALUE_WAIT,          /* KV_PARSE_VALUE given, no destination yet */
	ST_DATA,                /* receiving a value */
	ST_SWALLOW,             /* dropping `need` bytes */
	ST_BIN_HDR,             /* reading a binary header into hdr */
	ST_BIN_BODY,            /* reading its extras and key into buf */
	ST_CLOSED,              /* a closing op went out: ignore everything */
};

#define MAX_TOKENS 24           /* memcached's: at most 23 tokens, the rest unsplit */
#define MFLAG_MAX_OPT_LENGTH 20 /* memcached's bound on a meta command's tokens */
#define INT32_MAX_VLEN (0x7fffffff - 2)

#define E_ERROR "ERROR"
#define E_FORMAT "CLIENT_ERROR bad command line format"
#define E_EXPTIME "CLIENT_ERROR invalid exptime argument"
#define E_DELTA "CLIENT_ERROR invalid numeric delta argument"

/* binary protocol opcodes and statuses (memcached's protocol_binary.h) */
enum {
	BIN_GET = 0x00, BIN_SET = 0x01, BIN_ADD = 0x02, BIN_REPLACE = 0x03, BIN_DELETE = 0x04,
	BIN_INCR = 0x05, BIN_DECR = 0x06, BIN_QUIT = 0x07, BIN_FLUSH = 0x08, BIN_GETQ = 0x09,
	BIN_NOOP = 0x0a, BIN_VERSION = 0x0b, BIN_GETK = 0x0c, BIN_GETKQ = 0x0d,
	BIN_APPEND = 0x0e, BIN_PREPEND = 0x0f, BIN_STAT = 0x10, BIN_SETQ = 0x11,
	BIN_ADDQ = 0x12, BIN_REPLACEQ = 0x13, BIN_DELETEQ = 0x14, BIN_INCRQ = 0x15,
	BIN_DECRQ = 0x16, BIN_QUITQ = 0x17, BIN_FLUSHQ = 0x18, BIN_APPENDQ = 0x19,
	BIN_PREPENDQ = 0x1a, BIN_TOUCH = 0x1c, BIN_GAT = 0x1d, BIN_GATQ = 0x1e,
	BIN_SASL_LIST = 0x20, BIN_SASL_AUTH = 0x21, BIN_SASL_STEP = 0x22,
	BIN_GATK = 0x23, BIN_GATKQ = 0x24,
};
#define BIN_EINVAL 0x04
#define BIN_UNKNOWN 0x81

struct tok {
	const uint8_t *s;       /* NULL: the terminal token of a line split whole */
	uint32_t n;
};

static void op_init(struct kv_op *op, uint8_t proto, uint8_t cmd)
{
	memset(op, 0, sizeof(*op));
	op->proto = proto;
	op->cmd = cmd;
	op->vivify = -1;
	op->recache = -1;
}

/* an answer-only op: `err` (a text/meta line) unless noreply */
static enum kv_parse_ev op_error(struct kv_op *op, uint8_t proto, const char *err, int noreply)
{
	op_init(op, proto, KV_CMD_ERROR);
	op->err = err;
	if (noreply)
		op->flags |= KV_OPF_NOREPLY;
	return KV_PARSE_OP;
}

static bool is_space(uint8_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* --- memcached's safe_strto* over a token (not NUL-terminated): white
 * space, a sign, digits, then the token's end or white space (anything
 * after that is ignored, as strtol stops there). */
static bool num_scan(const struct tok *t, uint64_t *mag, bool *neg, bool *range)
{
	size_t i = 0, n = t->s ? t->n : 0, d0;
	uint64_t v = 0;

	*neg = false;
	*range = false;
	while (i < n && is_space(t->s[i]))
		i++;
	if (i < n && (t->s[i] == '+' || t->s[i] == '-'))
		*neg = t->s[i++] == '-';
	for (d0 = i; i < n && t->s[i] >= '0' && t->s[i] <= '9'; i++) {
		unsigned d = t->s[i] - '0';
		if (v > (UINT64_MAX - d) / 10)
			*range = true;
		else
			v = v * 10 + d;
	}
	if (i == d0 || (i < n && !is_space(t->s[i])))
		return false;
	*mag = v;
	return true;
}

static bool safe_strtoull(const struct tok *t, uint64_t *out)
{
	uint64_t m, v;
	bool neg, range;

	if (!num_scan(t, &m, &neg, &range) || range)
		return false;
	v = neg ? 0 - m : m;
	if ((int64_t)v < 0 && neg)
		return false;
	*out = v;
	return true;
}

static bool safe_strtoul(const struct tok *t, uint32_t *out)
{
	uint64_t v;

	if (!safe_strtoull(t, &v))
		return false;
	*out = (uint32_t)v;             /* memcached's unsigned long -> uint32_t */
	return true;
}

static bool safe_strtol(const struct tok *t, int32_t *out)
{
	uint64_t m;
	bool neg, range;

	if (!num_scan(t, &m, &neg, &range) || range)
		return false;
	if (neg ? m > (uint64_t)INT64_MAX + 1 : m > (uint64_t)INT64_MAX)
		return false;           /* ERANGE of strtol */
	*out = (int32_t)(uint32_t)(neg ? 0 - m : m);    /* memcached's long -> int32_t */
	return true;
}

static bool tok_is(const struct tok *t, const char *s)
{
	size_t n = strlen(s);
	return t->s && t->n == n && memcmp(t->s, s, n) == 0;
}

/* memcached's tokenize_command: split on ' ', at most max - 1 tokens;
 * t[ntokens - 1] is the terminal one (s: the unsplit rest, or NULL) */
static size_t tokenize(const uint8_t *line, size_t n, struct tok *t, size_t max)
{
	size_t nt = 0, s = 0, e = 0;

	for (; e < n; e++) {
		if (line[e] != ' ')
			continue;
		if (s != e) {
			t[nt].s = line + s;
			t[nt].n = e - s;
			if (++nt == max - 1) {
				s = ++e;
				break;
			}
		}
		s = e + 1;
	}
	if (s != e) {
		t[nt].s = line + s;
		t[nt].n = e - s;
		nt++;
	}
	t[nt].s = e < n ? line + e : NULL;
	t[nt].n = 0;
	return nt + 1;
}

/* the next ' '-separated token of line[*pos..n); false at the end */
static bool next_tok(const uint8_t *line, size_t n, size_t *pos, struct tok *t)
{
	size_t i = *pos;

	while (i < n && line[i] == ' ')
		i++;
	if (i == n) {
		*pos = i;
		return false;
	}
	t->s = line + i;
	while (i < n && line[i] != ' ')
		i++;
	t->n = line + i - t->s;
	*pos = i;
	return true;
}

/* --- base64 (meta b), memcached's: padded, strict. */
static int b64_val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* decodes n bytes of `in` into out (room for n * 3 / 4); 0: not base64 */
static size_t b64_decode(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t o = 0;

	if (n == 0 || n % 4)
		return 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;
		for (int j = 0; j < 4; j++) {
			if (in[i + j] == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pad++;
			} else {
				if (pad)
					return 0;
				v[j] = b64_val(in[i + j]);
				if (v[j] < 0)
					return 0;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		out[o++] = w >> 16;
		if (pad < 2)
			out[o++] = w >> 8 & 0xff;
		if (pad < 1)
			out[o++] = w & 0xff;
	}
	return o;
}

static void set_key(struct kv_op *op, const uint8_t *k, size_t n)
{
	memcpy(op->key, k, n);
	op->klen = (uint8_t)n;
}

/* --- text commands ------------------------------------------------ */

static bool noreply_maybe(const struct tok *t, size_t ntok)
{
	return tok_is(&t[ntok - 2], "noreply");
}

/* set add replace append prepend cas */
static enum kv_parse_ev text_update(struct kv_op *op, const struct tok *t, size_t ntok, uint8_t cmd)
{
	bool noreply = noreply_maybe(t, ntok);
	uint32_t flags;
	int32_t exptime, vlen;
	uint64_t cas = 0;

	if (t[1].n > KV_KEY_MAX)
		return op_error(op, KV_PROTO_TEXT, E_FORMAT, noreply);
	if (!(safe_strtoul(&t[2], &flags) && safe_strtol(&t[3], &exptime) &&
	      safe_strtol(&t[4], &vlen)))
		return op_error(op, KV_PROTO_TEXT, E_FORMAT, noreply);
	if (cmd == KV_CMD_CAS && !safe_strtoull(&t[5], &cas))
		return op_error(op, KV_PROTO_TEXT, E_FORMAT, noreply);
	if (vlen < 0 || vlen > INT32_MAX_VLEN)
		return op_error(op, KV_PROTO_TEXT, E_FORMAT, noreply);
	op_init(op, KV_PROTO_TEXT, cmd);
	set_key(op, t[1].s, t[1].n);
	op->client_flags = flags;
	op->exptime = exptime;
	op->vlen = (uint32_t)vlen;
	op->cas = cas;
	if (noreply)
		op->flags |= KV_OPF_NOREPLY;
	return KV_PARSE_VALUE;
}

static enum kv_parse_ev text_arith(struct kv_op *op, const struct tok *t, size_t ntok, uint8_t cmd)
{
	bool noreply = noreply_maybe(t, ntok);
	uint64_t delta;

	if (t[1].n > KV_KEY_MAX)
		return op_error(op, KV_PROTO_TEXT, E_FORMAT, noreply);
	if (!safe_strtoull(&t[2], &delta))
		return op_error(op, KV_PROTO_TEXT, E_DELTA, noreply);
	op_init(op, KV_PROTO_TEXT, cmd);
	set_key(op, t[1].s, t[1].n);
	op->delta = delta;
	if (noreply)
		op->flags |= KV_OPF_NOREPLY;
	return KV_PARSE_OP;
}

static enum kv_parse_ev text_delete(struct kv_op *op, const struct tok *t, size_t ntok)
{
	bool noreply = false;

	if (ntok > 3) {
		bool hold_is_zero = tok_is(&t[2], "0");
		bool valid;
		noreply = noreply_maybe(t, ntok);
		valid = (ntok == 4 && (hold_is_zero || noreply)) ||
			(ntok == 5 && hold_is_zero && noreply);
		if (!valid)
			return op_error(op, KV_PROTO_TEXT,
					"CLIENT_ERROR bad command line format.  "
					"Usage: delete <key> [noreply]", noreply);
	}
	if (t[1].n > KV_KEY_MAX)
		return op_error(op, KV_PROTO_TEXT, E_FORMAT, noreply);
	op_init(op, KV_PROTO_TEXT, KV_CMD_DELETE);
	set_key(op, t[1].s, t[1].n);
	if (noreply)
		op->flags |= KV_OPF_NOREPLY;
	return KV_PARSE_OP;
}

static enum kv_parse_ev text_touch(struct kv_op *op, const struct tok *t, size_t ntok)
{
	bool noreply = noreply_maybe(t, ntok);
	int32_t exptime;

	if (t[1].n > KV_KEY_MAX)
		return op_error(op, KV_PROTO_TEXT, E_FORMAT, noreply);
	if (!safe_strtol(&t[2], &exptime))
		return op_error(op, KV_PROTO_TEXT, E_EXPTIME, noreply);
	op_init(op, KV_PROTO_TEXT, KV_CMD_TOUCH);
	set_key(op, t[1].s, t[1].n);
	op->exptime = exptime;
	if (noreply)
		op->flags |= KV_OPF_NOREPLY;
	return KV_PARSE_OP;
}

static enum kv_parse_ev text_flush(struct kv_op *op, const struct tok *t, size_t ntok)
{
	bool noreply = noreply_maybe(t, ntok);
	int32_t delay = 0;

	if (ntok != (noreply ? 3u : 2u) && !safe_strtol(&t[1], &delay))
		return op_error(op, KV_PROTO_TEXT, E_EXPTIME, noreply);
	op_init(op, KV_PROTO_TEXT, KV_CMD_FLUSH_ALL);
	op->exptime = delay;
	if (noreply)
		op->flags |= KV_OPF_NOREPLY;
	return KV_PARSE_OP;
}

static enum kv_parse_ev text_verbosity(struct kv_op *op, const struct tok *t, size_t ntok)
{
	bool noreply = noreply_maybe(t, ntok);
	uint32_t level;

	if (!safe_strtoul(&t[1], &level))
		return op_error(op, KV_PROTO_TEXT, E_FORMAT, noreply);
	op_init(op, KV_PROTO_TEXT, KV_CMD_VERBOSITY);
	op->verbosity = level;
	if (noreply)
		op->flags |= KV_OPF_NOREPLY;
	return KV_PARSE_OP;
}

static enum kv_parse_ev text_stats(struct kv_op *op, const struct tok *t, size_t ntok)
{
	static const char *const groups[] = {
		[KV_STATS_SETTINGS] = "settings", [KV_STATS_ITEMS] = "items",
		[KV_STATS_SLABS] = "slabs", [KV_STATS_SIZES] = "sizes", [KV_STATS_CONNS] = "conns",
	};

	op_init(op, KV_PROTO_TEXT, KV_CMD_STATS);
	if (ntok == 2)
		return KV_PARSE_OP;
	for (unsigned g = KV_STATS_SETTINGS; g <= KV_STATS_CONNS; g++) {
		if (tok_is(&t[1], groups[g])) {
			op->stats = (uint8_t)g;
			return KV_PARSE_OP;
		}
	}
	/* reset, detail, cachedump and the rest are not kept */
	return op_error(op, KV_PROTO_TEXT, E_ERROR, false);
}

/* the key of a get line at *pos into op, flagged first/last */
static void get_emit(struct kv_parser *p, struct kv_op *op, const struct tok *k, bool last)
{
	op_init(op, KV_PROTO_TEXT, p->get_cmd);
	set_key(op, k->s, k->n);
	op->exptime = p->get_exptime;
	if (p->get_first)
		op->flags |= KV_OPF_FIRST;
	if (last)
		op->flags |= KV_OPF_LAST;
	p->get_first = 0;
}

/* get gets gat gats bget: a line of at most KV_LINE_MAX bytes */
static enum kv_parse_ev text_get(struct kv_parser *p, struct kv_op *op, const uint8_t *line,
				 size_t n, const struct tok *t, uint8_t cmd)
{
	size_t pos, nkeys = 0;
	struct tok k, k1 = { 0 };

	p->get_exptime = 0;
	if (cmd == KV_CMD_GAT || cmd == KV_CMD_GATS) {
		int32_t exptime;
		if (!safe_strtol(&t[1], &exptime))
			return op_error(op, KV_PROTO_TEXT, E_EXPTIME, false);
		p->get_exptime = exptime;
		pos = t[1].s + t[1].n - line;
	} else {
		pos = t[0].s + t[0].n - line;
	}
	/* every key is checked first: one too long answers only the error */
	while (next_tok(line, n, &pos, &k)) {
		if (k.n > KV_KEY_MAX)
			return op_error(op, KV_PROTO_TEXT, E_FORMAT, false);
		if (nkeys++ == 0)
			k1 = k;
	}
	p->get_cmd = cmd;
	p->get_first = 1;
	if (nkeys == 0) {               /* "gat 10": just END */
		op_init(op, KV_PROTO_TEXT, cmd);
		op->exptime = p->get_exptime;
		op->flags = KV_OPF_FIRST | KV_OPF_LAST;
		return KV_PARSE_OP;
	}
	if (nkeys == 1) {
		get_emit(p, op, &k1, true);
		return KV_PARSE_OP;
	}
	/* several: the line goes to buf and its keys out one per call */
	if (line != p->buf)
		memcpy(p->buf, line, n);
	p->len = (uint32_t)n;
	p->scan = (uint32_t)(k1.s - line + k1.n);
	get_emit(p, op, &k1, false);
	p->state = ST_GETLINE;
	return KV_PARSE_OP;
}

static enum kv_parse_ev getline_next(struct kv_parser *p, struct kv_op *op)
{
	size_t pos = p->scan, rest;
	struct tok k, more;
	bool last;

	if (!next_tok(p->buf, p->len, &pos, &k)) {     /* not reached: keys were counted */
		p->state = ST_LINE;
		p->len = 0;
		return op_error(op, KV_PROTO_TEXT, E_ERROR, false);
	}
	rest = pos;
	last = !next_tok(p->buf, p->len, &rest, &more);
	get_emit(p, op, &k, last);
	p->scan = (uint32_t)pos;
	if (last) {
		p->state = ST_LINE;
		p->len = 0;
	}
	return KV_PARSE_OP;
}

/* --- meta commands ------------------------------------------------ */

struct meta_parse {
	const char *err;        /* the last error found */
	bool fatal;             /* a duplicate or unknown flag: stop there */
};

/* memcached's _meta_flag_preparse over t[start..]: the flags into op */
static bool meta_flags(struct kv_op *op, const struct tok *t, size_t ntok, size_t start,
		       struct tok *key, const char **err)
{
	uint8_t seen[128] = { 0 };
	bool bad = false;

	for (size_t i = start; i < ntok - 1 && t[i].n; i++) {
		uint8_t o = t[i].s[0];
		struct tok v = { t[i].s + 1, t[i].n - 1 };
		int32_t i32;

		if (o >= 127 || seen[o]) {
			*err = "CLIENT_ERROR duplicate flag";
			return false;
		}
		seen[o] = 1;
		switch (o) {
		case 'b': {
			uint8_t dec[KV_KEY_MAX];
			size_t n = b64_decode(key->s, key->n, dec);
			if (n == 0) {
				*err = "CLIENT_ERROR error decoding key";
				bad = true;
			}
			set_key(op, dec, n);
			key->n = 0;     /* the key is op's now */
			op->flags |= KV_OPF_BASE64;
			break;
		}
		case 'N':
		case 'T':
		case 'R':
			if (!safe_strtol(&v, &i32)) {
				*err = "CLIENT_ERROR bad token in command line format";
				bad = true;
			} else if (o == 'N') {
				op->vivify = i32;
			} else if (o == 'T') {
				op->exptime = i32;
			} else {
				op->recache = i32;
			}
			break;
		case 'O':
			if (t[i].n > KV_OPAQUE_MAX) {
				*err = "CLIENT_ERROR opaque token too long";
				bad = true;
			} else {
				memcpy(op->opaque, v.s, v.n);
				op->opaque_len = (uint8_t)v.n;
			}
			break;
		case 'P': case 'L': case 'l': case 'k': case 's': case 't': case 'c': case 'f':
		case 'v': case 'h': case 'u': case 'q': case 'I':
			break;
		case 'F':
			if (!safe_strtoul(&v, &op->client_flags)) {
				*err = "CLIENT_ERROR bad token in command line format";
				bad = true;
			}
			break;
		case 'C':
		case 'E':
			if (!safe_strtoull(&v, o == 'C' ? &op->cas : &op->cas_set)) {
				*err = "CLIENT_ERROR bad token in command line format";
				bad = true;
			}
			break;
		case 'M':
			if (t[i].n != 2) {
				*err = "CLIENT_ERROR incorrect length for M token";
				bad = true;
			} else {
				op->mode = t[i].s[1];
			}
			break;
		case 'J':
			if (!safe_strtoull(&v, &op->initial)) {
				*err = "CLIENT_ERROR invalid numeric initial value";
				bad = true;
			}
			break;
		case 'D':
			if (!safe_strtoull(&v, &op->delta)) {
				*err = "CLIENT_ERROR invalid numeric delta value";
				bad = true;
			}
			break;
		default:
			*err = "CLIENT_ERROR invalid flag";
			return false;
		}
		if (o >= 'A' && o <= 'z')
			op->mflags |= 1ull << (o - 'A');
		if (op->nmflags < KV_META_FLAGS_MAX)
			op->mflag[op->nmflags++] = (char)o;
	}
	return !bad;
}

/* a meta error: never hidden by q */
static enum kv_parse_ev meta_error(struct kv_op *op, const char *err)
{
	return op_error(op, KV_PROTO_META, err, false);
}

static enum kv_parse_ev meta_cmd(struct kv_parser *p, struct kv_op *op, const struct tok *t,
				 size_t ntok, uint8_t cmd)
{
	struct tok key;
	const char *err = E_FORMAT;
	size_t start = 2;
	int32_t vlen = 0;

	if (cmd == KV_CMD_MN) {
		op_init(op, KV_PROTO_META, KV_CMD_MN);
		return KV_PARSE_OP;
	}
	if (ntok < 3)
		return op_error(op, KV_PROTO_META, cmd == KV_CMD_ME ? E_FORMAT : E_ERROR, false);
	if (t[1].n > KV_KEY_MAX)
		return meta_error(op, E_FORMAT);
	key = t[1];
	if (cmd == KV_CMD_ME) {
		op_init(op, KV_PROTO_META, KV_CMD_ME);
		if (ntok >= 4 && tok_is(&t[2], "b")) {
			uint8_t dec[KV_KEY_MAX];
			size_t n = b64_decode(key.s, key.n, dec);
			if (n == 0)
				return meta_error(op, E_FORMAT);
			set_key(op, dec, n);
			op->flags |= KV_OPF_BASE64;
		} else {
			set_key(op, key.s, key.n);
		}
		return KV_PARSE_OP;
	}
	if (cmd == KV_CMD_MS) {
		if (ntok == 3)
			return meta_error(op, E_FORMAT);
		if (ntok > MFLAG_MAX_OPT_LENGTH)
			return meta_error(op, "CLIENT_ERROR options flags too long");
		if (!safe_strtol(&t[2], &vlen) || vlen < 0 || vlen > INT32_MAX_VLEN)
			return meta_error(op, E_FORMAT);
		start = 3;
	} else if (ntok > MFLAG_MAX_OPT_LENGTH) {
		return meta_error(op, cmd == KV_CMD_MG ? "CLIENT_ERROR options flags are too long"
				  : "CLIENT_ERROR options flags too long");
	}
	op_init(op, KV_PROTO_META, cmd);
	if (cmd == KV_CMD_MA)
		op->delta = 1;
	if (!meta_flags(op, t, ntok, start, &key, &err)) {
		if (cmd == KV_CMD_MD || cmd == KV_CMD_MA)
			err = "CLIENT_ERROR invalid or duplicate flag";
		meta_error(op, err);
		if (cmd == KV_CMD_MS) {         /* the data block is swallowed */
			p->need = (uint32_t)vlen + 2;
			p->state = ST_SWALLOW;
		}
		return KV_PARSE_OP;
	}
	if (key.n)
		set_key(op, key.s, key.n);
	if (kv_op_mflag(op, 'q'))
		op->flags |= KV_OPF_NOREPLY;
	if (cmd == KV_CMD_MS) {
		switch (op->mode) {
		case 0: case 'E': case 'A': case 'P': case 'R': case 'S':
			break;
		default:
			meta_error(op, "CLIENT_ERROR invalid mode for ms M token");
			p->need = (uint32_t)vlen + 2;
			p->state = ST_SWALLOW;
			return KV_PARSE_OP;
		}
		op->vlen = (uint32_t)vlen;
		return KV_PARSE_VALUE;
	}
	if (cmd == KV_CMD_MA) {
		switch (op->mode) {
		case 0: case 'I': case 'D':
			break;
		case '+':
			op->mode = 'I';
			break;
		case '-':
			op->mode = 'D';
			break;
		default:
			return meta_error(op, "CLIENT_ERROR invalid mode for ma M token");
		}
	}
	return KV_PARSE_OP;
}

/* one whole text line (without "\r\n") */
static enum kv_parse_ev text_line(struct kv_parser *p, struct kv_op *op, const uint8_t *line,
				  size_t n)
{
	struct tok t[MAX_TOKENS];
	const uint8_t *nul = memchr(line, 0, n);
	size_t ntok;
	const struct tok *c = &t[0];

	if (nul)                        /* memcached's strlen */
		n = nul - line;
	ntok = tokenize(line, n, t, MAX_TOKENS);
	if (ntok < 2 || c->n < 2)
		return op_error(op, KV_PROTO_TEXT, E_ERROR, false);
	if (c->s[0] == 'm' && c->n == 2) {
		switch (c->s[1]) {
		case 'g': return meta_cmd(p, op, t, ntok, KV_CMD_MG);
		case 's': return meta_cmd(p, op, t, ntok, KV_CMD_MS);
		case 'd': return meta_cmd(p, op, t, ntok, KV_CMD_MD);
		case 'n': return meta_cmd(p, op, t, ntok, KV_CMD_MN);
		case 'a': return meta_cmd(p, op, t, ntok, KV_CMD_MA);
		case 'e': return meta_cmd(p, op, t, ntok, KV_CMD_ME);
		default: return op_error(op, KV_PROTO_TEXT, E_ERROR, false);
		}
	}
	if (c->s[0] == 'g') {
		if (ntok < 3)
			return op_error(op, KV_PROTO_TEXT, E_ERROR, false);
		if (tok_is(c, "get"))
			return text_get(p, op, line, n, t, KV_CMD_GET);
		if (tok_is(c, "gets"))
			return text_get(p, op, line, n, t, KV_CMD_GETS);
		if (tok_is(c, "gat"))
			return text_get(p, op, line, n, t, KV_CMD_GAT);
		if (tok_is(c, "gats"))
			return text_get(p, op, line, n, t, KV_CMD_GATS);
		return op_error(op, KV_PROTO_TEXT, E_ERROR, false);
	}
#define WANT_OR(a, b) if (ntok != (a) && ntok != (b)) return op_error(op, KV_PROTO_TEXT, E_ERROR, false)
	if (tok_is(c, "set")) {
		WANT_OR(6, 7);
		return text_update(op, t, ntok, KV_CMD_SET);
	}
	if (tok_is(c, "add")) {
		WANT_OR(6, 7);
		return text_update(op, t, ntok, KV_CMD_ADD);
	}
	if (tok_is(c, "append")) {
		WANT_OR(6, 7);
		return text_update(op, t, ntok, KV_CMD_APPEND);
	}
	if (tok_is(c, "replace")) {
		WANT_OR(6, 7);
		return text_update(op, t, ntok, KV_CMD_REPLACE);
	}
	if (tok_is(c, "prepend")) {
		WANT_OR(6, 7);
		return text_update(op, t, ntok, KV_CMD_PREPEND);
	}
	if (tok_is(c, "cas")) {
		WANT_OR(7, 8);
		return text_update(op, t, ntok, KV_CMD_CAS);
	}
	if (tok_is(c, "incr")) {
		WANT_OR(4, 5);
		return text_arith(op, t, ntok, KV_CMD_INCR);
	}
	if (tok_is(c, "decr")) {
		WANT_OR(4, 5);
		return text_arith(op, t, ntok, KV_CMD_DECR);
	}
	if (tok_is(c, "delete")) {
		if (ntok < 3 || ntok > 5)
			return op_error(op, KV_PROTO_TEXT, E_ERROR, false);
		return text_delete(op, t, ntok);
	}
	if (tok_is(c, "touch")) {
		WANT_OR(4, 5);
		return text_touch(op, t, ntok);
	}
	if (tok_is(c, "stats"))
		return text_stats(op, t, ntok);
	if (tok_is(c, "bget")) {        /* memcached keeps this ancient alias */
		if (ntok < 3)
			return op_error(op, KV_PROTO_TEXT, E_ERROR, false);
		return text_get(p, op, line, n, t, KV_CMD_GET);
	}
	if (tok_is(c, "flush_all")) {
		if (ntok > 4)
			return op_error(op, KV_PROTO_TEXT, E_ERROR, false);
		return text_flush(op, t, ntok);
	}
	if (tok_is(c, "version")) {
		op_init(op, KV_PROTO_TEXT, KV_CMD_VERSION);
		return KV_PARSE_OP;
	}
	if (tok_is(c, "quit")) {
		op_init(op, KV_PROTO_TEXT, KV_CMD_QUIT);
		op->flags |= KV_OPF_CLOSE;
		p->state = ST_CLOSED;
		return KV_PARSE_OP;
	}
	if (tok_is(c, "verbosity")) {
		WANT_OR(3, 4);
		return text_verbosity(op, t, ntok);
	}
#undef WANT_OR
	if (tok_is(c, "shutdown"))
		return op_error(op, KV_PROTO_TEXT, "ERROR: shutdown not enabled", false);
	/* the rest of memcached's commands under these letters: ERROR */
	if (strchr("gsacidt", c->s[0]))
		return op_error(op, KV_PROTO_TEXT, E_ERROR, false);
	/* memcached drops a connection that speaks HTTP to it */
	if (t[ntok - 2].n >= 5 && memcmp(t[ntok - 2].s, "HTTP/", 5) == 0) {
		op_error(op, KV_PROTO_TEXT, NULL, false);
		op->flags |= KV_OPF_CLOSE;
		p->state = ST_CLOSED;
		return KV_PARSE_OP;
	}
	return op_error(op, KV_PROTO_TEXT, E_ERROR, false);
}

/* --- a get line longer than buf ----------------------------------- */

/* after a key of the line is complete (tok): give out the one held, if
 * any, and hold this one. 1: op filled. */
static int stream_key(struct kv_parser *p, struct kv_op *op)
{
	int out = 0;

	if (p->held) {
		struct tok k = { p->pending.key, p->pending.klen };
		get_emit(p, op, &k, false);
		out = 1;
	}
	set_key(&p->pending, p->tok, p->toklen);
	p->held = 1;
	p->toklen = 0;
	return out;
}

/* one byte of a streamed get line; 1: op filled */
static int stream_byte(struct kv_parser *p, struct kv_op *op, uint8_t c)
{
	if (c == '\n') {
		if (p->toklen && p->tok[p->toklen - 1] == '\r')
			p->toklen--;
		p->eol = 1;
		if (p->toklen > KV_KEY_MAX) {
			p->held = 0;
			p->eol = 0;
			p->state = ST_LINE;
			return op_error(op, KV_PROTO_TEXT, E_FORMAT, false), 1;
		}
		return p->toklen ? stream_key(p, op) : 0;
	}
	if (c == ' ') {
		if (p->toklen == 0)
			return 0;
		if (p->toklen > KV_KEY_MAX)
			goto too_long;
		return stream_key(p, op);
	}
	if (p->toklen > KV_KEY_MAX)     /* room for one more: a '\r' before '\n' */
		goto too_long;
	p->tok[p->toklen++] = c;
	return 0;
too_long:
	p->held = 0;
	p->state = ST_SKIPLINE;
	op_error(op, KV_PROTO_TEXT, E_FORMAT, false);
	return 1;
}

/* buf holds KV_LINE_MAX + 1 bytes of a line with no end in sight: a
 * get/gets streams, anything else closes (as memcached) */
static enum kv_parse_ev line_overflow(struct kv_parser *p, struct kv_op *op)
{
	size_t i = 0;

	while (i < p->len && p->buf[i] == ' ')
		i++;
	if (i <= 100 && p->len - i > 5 && memcmp(p->buf + i, "get ", 4) == 0) {
		p->get_cmd = KV_CMD_GET;
		i += 4;
	} else if (i <= 100 && p->len - i > 5 && memcmp(p->buf + i, "gets ", 5) == 0) {
		p->get_cmd = KV_CMD_GETS;
		i += 5;
	} else {
		op_error(op, KV_PROTO_TEXT, NULL, false);
		op->flags |= KV_OPF_CLOSE;
		p->state = ST_CLOSED;
		return KV_PARSE_OP;
	}
	p->state = ST_GETSTREAM;
	p->scan = (uint32_t)i;
	p->get_first = 1;
	p->get_exptime = 0;
	p->held = 0;
	p->eol = 0;
	p->toklen = 0;
	return KV_PARSE_MORE;
}

/* --- binary ------------------------------------------------------- */

static uint16_t be16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static uint64_t be64(const uint8_t *b) { return (uint64_t)be32(b) << 32 | be32(b + 4); }

static enum kv_parse_ev bin_error(struct kv_parser *p, struct kv_op *op, uint16_t status,
				  bool close, uint32_t swallow)
{
	op_init(op, KV_PROTO_BINARY, KV_CMD_ERROR);
	op->bin_opcode = p->hdr[1];
	op->bin_opaque = be32(p->hdr + 12);
	op->bin_status = status;
	if (close) {
		op->flags |= KV_OPF_CLOSE;
		p->state = ST_CLOSED;
	} else if (swallow) {
		p->need = swallow;
		p->state = ST_SWALLOW;
	} else {
		p->state = ST_BIN_HDR;
	}
	p->len = 0;
	return KV_PARSE_OP;
}

/* the header is in hdr, its extras and key in buf: what memcached's
 * dispatch_bin_command does with them */
static enum kv_parse_ev bin_dispatch(struct kv_parser *p, struct kv_op *op)
{
	uint8_t opcode = p->hdr[1];
	uint16_t keylen = be16(p->hdr + 2);
	uint8_t extlen = p->hdr[4];
	uint32_t bodylen = be32(p->hdr + 8);
	const uint8_t *ext = p->buf, *key = p->buf + extlen;
	uint8_t cmd = KV_CMD_NONE;
	uint16_t flags = 0;
	bool ok = false;

	switch (opcode) {
	case BIN_SETQ: case BIN_ADDQ: case BIN_REPLACEQ: case BIN_DELETEQ: case BIN_INCRQ:
	case BIN_DECRQ: case BIN_QUITQ: case BIN_FLUSHQ: case BIN_APPENDQ: case BIN_PREPENDQ:
	case BIN_GETQ: case BIN_GETKQ: case BIN_GATQ: case BIN_GATKQ:
		flags |= KV_OPF_NOREPLY;
		break;
	}
	switch (opcode) {
	case BIN_GETK: case BIN_GETKQ: case BIN_GATK: case BIN_GATKQ:
		flags |= KV_OPF_RETKEY;
		break;
	}
	switch (opcode) {
	case BIN_VERSION:
	case BIN_NOOP:
	case BIN_QUIT: case BIN_QUITQ:
		ok = extlen == 0 && keylen == 0 && bodylen == 0;
		cmd = opcode == BIN_VERSION ? KV_CMD_VERSION : opcode == BIN_NOOP ? KV_CMD_NOOP
		      : KV_CMD_QUIT;
		break;
	case BIN_FLUSH: case BIN_FLUSHQ:
		ok = keylen == 0 && bodylen == extlen && (extlen == 0 || extlen == 4);
		cmd = KV_CMD_FLUSH_ALL;
		break;
	case BIN_SET: case BIN_SETQ: case BIN_ADD: case BIN_ADDQ: case BIN_REPLACE:
	case BIN_REPLACEQ:
		ok = extlen == 8 && keylen != 0 && bodylen >= keylen + 8u;
		cmd = (opcode == BIN_SET || opcode == BIN_SETQ) ? KV_CMD_SET
		      : (opcode == BIN_ADD || opcode == BIN_ADDQ) ? KV_CMD_ADD : KV_CMD_REPLACE;
		break;
	case BIN_GET: case BIN_GETQ: case BIN_GETK: case BIN_GETKQ:
		ok = extlen == 0 && bodylen == keylen && keylen > 0;
		cmd = KV_CMD_GET;
		break;
	case BIN_DELETE: case BIN_DELETEQ:
		ok = keylen > 0 && extlen == 0 && bodylen == keylen;
		cmd = KV_CMD_DELETE;
		break;
	case BIN_INCR: case BIN_INCRQ: case BIN_DECR: case BIN_DECRQ:
		ok = keylen > 0 && extlen == 20 && bodylen == keylen + 20u;
		cmd = (opcode == BIN_INCR || opcode == BIN_INCRQ) ? KV_CMD_INCR : KV_CMD_DECR;
		break;
	case BIN_APPEND: case BIN_APPENDQ: case BIN_PREPEND: case BIN_PREPENDQ:
		ok = keylen > 0 && extlen == 0;
		cmd = (opcode == BIN_APPEND || opcode == BIN_APPENDQ) ? KV_CMD_APPEND
		      : KV_CMD_PREPEND;
		break;
	case BIN_STAT:
		ok = extlen == 0;
		cmd = KV_CMD_STATS;
		break;
	case BIN_TOUCH: case BIN_GAT: case BIN_GATQ: case BIN_GATK: case BIN_GATKQ:
		ok = extlen == 4 && keylen != 0;
		cmd = opcode == BIN_TOUCH ? KV_CMD_TOUCH : KV_CMD_GAT;
		break;
	case BIN_SASL_LIST:
		/* no SASL: memcached without it answers "unknown command" */
		if (!(extlen == 0 && keylen == 0 && bodylen == 0))
			return bin_error(p, op, BIN_EINVAL, true, 0);
		return bin_error(p, op, BIN_UNKNOWN, false, 0);
	case BIN_SASL_AUTH: case BIN_SASL_STEP:
		if (!(extlen == 0 && keylen != 0))
			return bin_error(p, op, BIN_EINVAL, true, 0);
		return bin_error(p, op, BIN_UNKNOWN, false, bodylen - keylen);
	default:
		/* memcached swallows the whole body length, after extras and key */
		return bin_error(p, op, BIN_UNKNOWN, false, bodylen);
	}
	if (!ok)
		return bin_error(p, op, BIN_EINVAL, true, 0);

	op_init(op, KV_PROTO_BINARY, cmd);
	op->flags = flags;
	op->bin_opcode = opcode;
	op->bin_opaque = be32(p->hdr + 12);
	op->cas = be64(p->hdr + 16);
	p->len = 0;
	p->state = ST_BIN_HDR;
	switch (opcode) {
	case BIN_STAT:
		/* the key names the group (memcached: a prefix for "settings") */
		if (keylen == 0)
			op->stats = KV_STATS_GENERAL;
		else if (keylen >= 8 && memcmp(key, "settings", 8) == 0)
			op->stats = KV_STATS_SETTINGS;
		else if (keylen == 5 && memcmp(key, "items", 5) == 0)
			op->stats = KV_STATS_ITEMS;
		else if (keylen == 5 && memcmp(key, "slabs", 5) == 0)
			op->stats = KV_STATS_SLABS;
		else if (keylen == 5 && memcmp(key, "sizes", 5) == 0)
			op->stats = KV_STATS_SIZES;
		else
			return bin_error(p, op, 0x01, false, 0);  /* KEY_ENOENT */
		return KV_PARSE_OP;
	case BIN_QUIT: case BIN_QUITQ:
		op->flags |= KV_OPF_CLOSE;
		p->state = ST_CLOSED;
		return KV_PARSE_OP;
	case BIN_FLUSH: case BIN_FLUSHQ:
		op->exptime = extlen == 4 ? be32(ext) : 0;
		return KV_PARSE_OP;
	case BIN_VERSION: case BIN_NOOP:
		return KV_PARSE_OP;
	}
	set_key(op, key, keylen);
	switch (cmd) {
	case KV_CMD_SET: case KV_CMD_ADD: case KV_CMD_REPLACE:
		op->client_flags = be32(ext);
		op->exptime = be32(ext + 4);
		op->vlen = bodylen - keylen - extlen;
		return KV_PARSE_VALUE;
	case KV_CMD_APPEND: case KV_CMD_PREPEND:
		op->vlen = bodylen - keylen;
		return KV_PARSE_VALUE;
	case KV_CMD_INCR: case KV_CMD_DECR: {
		uint32_t exp = be32(ext + 16);
		op->delta = be64(ext);
		op->initial = be64(ext + 8);
		op->vivify = exp == 0xffffffffu ? -1 : (int64_t)exp;
		op->exptime = exp;
		return KV_PARSE_OP;
	}
	case KV_CMD_TOUCH: case KV_CMD_GAT:
		op->exptime = be32(ext);
		return KV_PARSE_OP;
	}
	return KV_PARSE_OP;
}

/* --- the byte pump ------------------------------------------------ */

void kv_parser_init(struct kv_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = ST_START;
}

void kv_parse_value_dst(struct kv_parser *p, uint8_t *dst)
{
	if (p->state != ST_VALUE_WAIT)
		return;
	p->dst = dst;
	p->got = 0;
	p->state = ST_DATA;
}

/* the store op's value is in (or swallowed): hand the op out again */
static enum kv_parse_ev value_done(struct kv_parser *p, struct kv_op *op)
{
	*op = p->pending;
	if (!p->binary && p->dst &&
	    (p->dst[op->vlen] != '\r' || p->dst[op->vlen + 1] != '\n'))
		op->bad_chunk = 1;
	if (op->bad_chunk && op->proto == KV_PROTO_META)
		op->flags &= ~KV_OPF_NOREPLY;   /* ms always answers a bad chunk */
	p->dst = NULL;
	p->state = p->binary ? ST_BIN_HDR : ST_LINE;
	p->len = 0;
	return KV_PARSE_OP;
}

size_t kv_parse(struct kv_parser *p, const uint8_t *in, size_t len, struct kv_op *op,
		enum kv_parse_ev *ev)
{
	size_t off = 0;

	for (;;) {
		switch (p->state) {
		case ST_CLOSED:
			*ev = KV_PARSE_MORE;
			return len;
		case ST_START:
			if (off == len) {
				*ev = KV_PARSE_MORE;
				return off;
			}
			p->binary = in[off] == 0x80;
			p->state = p->binary ? ST_BIN_HDR : ST_LINE;
			p->len = 0;
			continue;
		case ST_LINE: {
			if (off == len) {
				*ev = KV_PARSE_MORE;
				return off;
			}
			const uint8_t *nl = memchr(in + off, '\n', len - off);
			size_t take = nl ? (size_t)(nl - (in + off)) : len - off;
			const uint8_t *line;
			size_t n;

			if (nl) {
				size_t raw = p->len + take;
				uint8_t last = take ? in[off + take - 1] : p->len ? p->buf[p->len - 1] : 0;
				if (raw - (raw > 1 && last == '\r') > KV_LINE_MAX)
					nl = NULL;      /* too long: through buf to line_overflow */
			}
			if (!nl) {
				size_t room = KV_LINE_MAX + 1 - p->len;
				if (take > room)
					take = room;
				memcpy(p->buf + p->len, in + off, take);
				p->len += take;
				off += take;
				if (p->len < KV_LINE_MAX + 1 || off == len) {
					*ev = KV_PARSE_MORE;
					return off;
				}
				if (in[off] != '\n' || p->buf[KV_LINE_MAX] != '\r') {
					*ev = line_overflow(p, op);
					if (*ev != KV_PARSE_MORE)
						return len;
					continue;
				}
				nl = in + off;
				take = 0;
			}
			if (p->len == 0) {
				line = in + off;
				n = take;
			} else {
				memcpy(p->buf + p->len, in + off, take);
				p->len += take;
				line = p->buf;
				n = p->len;
			}
			off = nl - in + 1;
			if (n > 1 && line[n - 1] == '\r')
				n--;
			p->len = 0;
			*ev = text_line(p, op, line, n);
			if (*ev == KV_PARSE_VALUE) {
				p->pending = *op;
				p->need = op->vlen + 2;
				p->total = op->vlen + 2;
				p->state = ST_VALUE_WAIT;
			}
			return p->state == ST_CLOSED ? len : off;
		}
		case ST_GETLINE:
			*ev = getline_next(p, op);
			return off;
		case ST_GETSTREAM:
			if (p->eol) {
				p->eol = 0;
				p->state = ST_LINE;
				p->len = 0;
				if (p->held) {
					struct tok k = { p->pending.key, p->pending.klen };
					p->held = 0;
					get_emit(p, op, &k, true);
					*ev = KV_PARSE_OP;
					return off;
				}
				if (p->get_first) {     /* "get" and spaces only */
					*ev = op_error(op, KV_PROTO_TEXT, E_ERROR, false);
					return off;
				}
				continue;
			}
			for (;;) {
				uint8_t c;
				if (p->scan < p->len)
					c = p->buf[p->scan++];
				else if (off < len)
					c = in[off++];
				else {
					*ev = KV_PARSE_MORE;
					return off;
				}
				if (stream_byte(p, op, c)) {
					*ev = KV_PARSE_OP;
					if (p->state == ST_SKIPLINE && c == '\n')
						p->state = ST_LINE;
					if (p->state != ST_GETSTREAM)
						p->len = 0;
					return off;
				}
				if (p->eol)
					break;
			}
			continue;
		case ST_SKIPLINE: {
			const uint8_t *nl = off < len ? memchr(in + off, '\n', len - off) : NULL;
			if (!nl) {
				*ev = KV_PARSE_MORE;
				return len;
			}
			off = nl - in + 1;
			p->state = ST_LINE;
			p->len = 0;
			continue;
		}
		case ST_VALUE_WAIT:
			/* the appliance gave no destination: swallow */
			kv_parse_value_dst(p, NULL);
			continue;
		case ST_DATA: {
			size_t n = len - off < p->need ? len - off : p->need;
			if (p->dst && n)
				memcpy(p->dst + p->got, in + off, n);
			p->got += n;
			p->need -= n;
			off += n;
			if (p->need) {
				*ev = KV_PARSE_MORE;
				return off;
			}
			*ev = value_done(p, op);
			return off;
		}
		case ST_SWALLOW: {
			size_t n = len - off < p->need ? len - off : p->need;
			p->need -= n;
			off += n;
			if (p->need) {
				*ev = KV_PARSE_MORE;
				return off;
			}
			p->state = p->binary ? ST_BIN_HDR : ST_LINE;
			p->len = 0;
			continue;
		}
		case ST_BIN_HDR: {
			size_t n = 24 - p->len;
			if (n > len - off)
				n = len - off;
			if (n)
				memcpy(p->hdr + p->len, in + off, n);
			p->len += n;
			off += n;
			if (p->len < 24) {
				*ev = KV_PARSE_MORE;
				return off;
			}
			p->len = 0;
			if (p->hdr[0] != 0x80) {        /* bad magic: memcached just closes */
				op_error(op, KV_PROTO_BINARY, NULL, false);
				op->flags |= KV_OPF_CLOSE;
				p->state = ST_CLOSED;
				*ev = KV_PARSE_OP;
				return len;
			}
			uint16_t keylen = be16(p->hdr + 2);
			uint8_t extlen = p->hdr[4];
			uint32_t bodylen = be32(p->hdr + 8);
			if (keylen > bodylen || keylen + extlen > bodylen) {
				*ev = bin_error(p, op, BIN_UNKNOWN, true, 0);
				return len;
			}
			if (keylen > KV_KEY_MAX) {
				*ev = bin_error(p, op, BIN_EINVAL, true, 0);
				return len;
			}
			p->need = extlen + keylen;
			p->state = ST_BIN_BODY;
			continue;
		}
		case ST_BIN_BODY: {
			size_t n = len - off < p->need ? len - off : p->need;
			if (n)
				memcpy(p->buf + p->len, in + off, n);
			p->len += n;
			p->need -= n;
			off += n;
			if (p->need) {
				*ev = KV_PARSE_MORE;
				return off;
			}
			*ev = bin_dispatch(p, op);
			if (*ev == KV_PARSE_VALUE) {
				p->pending = *op;
				p->need = op->vlen;
				p->total = op->vlen;
				p->state = ST_VALUE_WAIT;
			}
			return p->state == ST_CLOSED ? len : off;
		}
		default:
			p->state = ST_CLOSED;
			continue;
		}
	}
}

enum kv_route kv_op_route(const struct kv_op *op)
{
	switch (op->cmd) {
	case KV_CMD_SET: case KV_CMD_ADD: case KV_CMD_REPLACE: case KV_CMD_APPEND:
	case KV_CMD_PREPEND: case KV_CMD_CAS: case KV_CMD_DELETE: case KV_CMD_INCR:
	case KV_CMD_DECR: case KV_CMD_TOUCH: case KV_CMD_MG: case KV_CMD_MS: case KV_CMD_MD:
	case KV_CMD_MA: case KV_CMD_ME:
		return KV_ROUTE_KEY;
	case KV_CMD_GET: case KV_CMD_GETS: case KV_CMD_GAT: case KV_CMD_GATS:
		return op->klen ? KV_ROUTE_KEY : KV_ROUTE_LOCAL;
	case KV_CMD_FLUSH_ALL:
		return KV_ROUTE_ALL;
	default:
		return KV_ROUTE_LOCAL;
	}
}
