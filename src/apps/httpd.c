/*
 * httpd.c — the static web server appliance (docs/httpd.md, "Appliance"):
 * GET and HEAD of the files of a site (a tar archive indexed by
 * httpd_site.c), with the HTTP semantics of httpd_http.h (preconditions,
 * ranges, multipart/byteranges, response heads).
 *
 *   "app": "httpd", "httpd": { "port": 80, "default_type": "application/octet-stream",
 *                              "server": "pollux", "max_conns": 1024,
 *                              "idle_timeout_s": 60, "keepalive_requests": 1000 }
 *
 * The site comes from the boot module (a tar archive holding pollux.json,
 * make site), indexed once at start-up into an immutable object
 * published with sched_publish; a data core takes it with sched_deref
 * when a request starts. File bytes go by reference (tcp_send_ref,
 * zero-copy): a response holds a reference on the site it read (a count
 * in the site object) until its last byte is queued or the connection
 * goes, and the stack holds its own until those bytes are acknowledged
 * or the connection goes, so a replaced site (httpd_site_replace) is
 * freed, on the control core, only when nothing points into it.
 *
 * Connections: on the flow's owner core, no allocation after start-up:
 * each data core has max_conns / data cores contexts; a connection that
 * finds none is refused (reset, counted). Requests are parsed by Debian's
 * http-parser; one answer is in progress at a time: while it goes out the
 * parser is paused, recv_space is 0 (the stack holds the client's further
 * requests) and what was delivered already waits in a bounded input
 * buffer (more than HTTPD_IN_MAX bytes resets the connection, counted).
 * Answers go out as send room comes back (`writable`): the head and part
 * heads from the connection's small buffer, file bytes straight from the
 * site through httpd_send_body, so a slow reader holds only its send
 * buffer. Once the answer that closes is queued the connection reads on
 * and drops what comes, its window open, so the client's FIN can arrive.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <http_parser.h>
#include "apps/apps.h"
#include "apps/httpd.h"
#include "apps/httpd_http.h"
#include "apps/httpd_site.h"
#include "core/core.h"
#include "core/schema.h"
#include "net/net.h"
#include "pkt/pktbuf.h"
#include "sched/sched.h"

#define HTTPD_TARGET_MAX 2048           /* request-target bytes: more is 414 */
#define HTTPD_HEAD_MAX 8192             /* request line and headers: more is 431 */
#define HTTPD_VALS_MAX 2048             /* the header values httpd reads, joined */
#define HTTPD_IN_MAX 4096               /* delivered while an answer goes out */
#define HTTPD_OUT_MAX 1536              /* a response head, a part head, an error body */
#define HTTPD_FIELD_MAX 24              /* longer header names are none httpd reads */
#define HTTPD_LOG_N 64                  /* access-log lines kept per core */
#define HTTPD_LOG_LINE 320
_Static_assert(HTTPD_LOG_N * HTTPD_LOG_LINE <= HTTPD_ACCESS_LOG_BYTES, "httpd.h's bound");

/* ---------------------------------------------------------------- the site */

/* The published site: the index and who still holds it.
 *
 * Lifetime: one count, `ref` (pkt/pktbuf.h: struct pktbuf_ref), whose
 * holders are the publication (dropped by httpd_site_replace once every
 * core has passed a quiescent point after the new site's publication),
 * each response sending from it (taken when the answer starts, dropped
 * when its last byte is queued or the connection goes) and the stack
 * (one per queued extent and per frame fragment of its bytes, dropped
 * when they are acknowledged and the frame reclaimed, or when the
 * connection goes: net.h, tcp_send_ref). The stack may drop the last one
 * on any core (the driver's reclaim, a reset), so `release` frees
 * nothing itself: it pushes the site on `site_dead` and asks the control
 * core (call_on) to free what is there.
 *
 * Ordering contract: a response's get is relaxed (pktbuf_ref_get): it
 * runs on a data core inside a loop turn that took the site with
 * sched_deref, so the publication's reference is still held (it is
 * dropped only after every core passed a quiescent point). The puts are
 * acq_rel (pktbuf_ref_put), so the put that reaches zero comes after
 * every holder's last read of the site. `site_dead` is a lock-free stack:
 * a push is a CAS with release (after the last put, on the releasing
 * core), the control core takes the whole list with an exchange with
 * acquire, so the free comes after the push and hence after every read;
 * taking the whole list at once leaves no ABA. If call_on finds the
 * channel full the site waits on the list for the next drain (the next
 * release or replacement), never freed early. */
struct hsite {
	struct httpd_site *s;
	struct pktbuf_ref ref;
	struct hsite *dead_next;                /* on site_dead */
};

static void *_Atomic site_pub;
static struct hsite *_Atomic site_dead;

/* control core: frees every site whose last reference went */
static void hsite_drain(void *arg)
{
	(void)arg;
	struct hsite *h = atomic_exchange_explicit(&site_dead, NULL, memory_order_acquire);
	while (h) {
		struct hsite *next = h->dead_next;
		httpd_site_free(h->s);
		free(h);
		h = next;
	}
}

/* any core: the last reference went */
static void hsite_release(struct pktbuf_ref *r)
{
	struct hsite *h = r->arg;
	struct hsite *top = atomic_load_explicit(&site_dead, memory_order_relaxed);
	do
		h->dead_next = top;
	while (!atomic_compare_exchange_weak_explicit(&site_dead, &top, h, memory_order_release,
						      memory_order_relaxed));
	call_on(0, hsite_drain, NULL);          /* full: the next drain takes it */
}

static void hsite_pin(struct hsite *h) { pktbuf_ref_get(&h->ref); }
static void hsite_unpin(struct hsite *h) { pktbuf_ref_put(&h->ref); }

/* ---------------------------------------------------------------- connections */

enum { HDR_CONNECTION, HDR_IF_MATCH, HDR_IF_NONE_MATCH, HDR_IF_MODIFIED_SINCE,
       HDR_IF_UNMODIFIED_SINCE, HDR_IF_RANGE, HDR_RANGE, HDR_REFERER, HDR_USER_AGENT, HDR_N };
static const char *const hdr_names[HDR_N] = {
	"connection", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
	"if-range", "range", "referer", "user-agent",
};

struct hconn {
	struct hconn *next;             /* free list */
	struct tcp_conn *c;
	struct apps_idle idle;
	http_parser p;
	uint32_t peer;                  /* address, host order (access log) */
	uint32_t nreq;                  /* requests on this connection */
	/* the request being read */
	uint32_t head_bytes;            /* target and headers so far */
	int err;                        /* 414 or 431: stop reading */
	uint32_t url_len;
	char url[HTTPD_TARGET_MAX + 1];
	char field[HTTPD_FIELD_MAX];
	uint32_t field_len;
	int field_long, in_value, cur;  /* cur: the header whose value is read (-1: none) */
	uint32_t hoff[HDR_N], hlen[HDR_N];
	uint8_t have[HDR_N];
	uint32_t vals_len;
	char vals[HTTPD_VALS_MAX];
	/* the answer going out */
	int busy;                       /* an answer is in progress: reading stops */
	int closing;                    /* the answer that closes is queued */
	int close_after, peer_fin;
	int status;
	uint32_t out_len, out_sent;
	char out[HTTPD_OUT_MAX];
	struct hsite *pin;              /* the site file bytes come from (pinned) */
	const uint8_t *data;            /* the file's bytes (in the pinned site) */
	uint64_t off, end;              /* the file bytes left of this range */
	uint64_t body_sent;             /* body bytes taken (access log) */
	int multipart, trailer_done;
	unsigned part;
	struct httpd_head h;
	struct httpd_rep rep;
	struct httpd_ranges rg;
	char boundary[HTTPD_BOUNDARY_LEN + 1];
	int64_t req_time;
	/* delivered, not yet parsed */
	uint32_t in_len;
	char in[HTTPD_IN_MAX];
};

struct log_ent {
	_Atomic uint32_t seq;           /* odd: being written */
	uint32_t len;
	char line[HTTPD_LOG_LINE];
};

struct httpd_core {
	struct hconn *free;
	uint32_t slots;
	int data;
	uint64_t boundary_ctr;
	/* owner writes, any core reads */
	counter_t requests, status[6], bytes_out, body_bytes;
	counter_t curr_conns, accepted, refused, idle_resets, input_resets, log_lines, free_n, pinned;
	_Atomic uint64_t log_head;
	struct log_ent log[HTTPD_LOG_N];
} __attribute__((aligned(CACHE_LINE)));

static struct httpd_core cores[POLLUX_MAX_CORES];
static struct httpd_config cfgh;
static int running;
static uint64_t boundary_key;
static http_parser_settings settings;

static struct httpd_core *me(void) { return &cores[core_self()->id]; }

static int64_t now_unix(void)
{
	struct timespec ts;
	return clock_gettime(CLOCK_REALTIME, &ts) ? 0 : (int64_t)ts.tv_sec;
}

static struct httpd_str hdr(const struct hconn *w, int i)
{
	struct httpd_str s = { NULL, 0 };
	if (w->have[i]) {
		s.p = w->vals + w->hoff[i];
		s.n = w->hlen[i];
	}
	return s;
}

/* ---------------------------------------------------------------- access log */

static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* a header's value for the log: printable ASCII, '"' and '\' escaped */
static size_t log_str(char *o, size_t cap, const char *s, size_t n)
{
	size_t k = 0;
	if (!s) {
		if (cap > 1)
			o[k++] = '-';
		return k;
	}
	for (size_t i = 0; i < n && k + 4 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\' || ch < 0x20 || ch > 0x7e)
			k += (size_t)snprintf(o + k, cap - k, "\\x%02X", ch);
		else
			o[k++] = (char)ch;
	}
	return k;
}

/* Combined Log Format: host - - [date] "request line" status bytes "referer" "user-agent" */
static void log_write(struct hconn *w)
{
	struct httpd_core *k = me();
	char line[HTTPD_LOG_LINE];
	int64_t t = w->req_time;
	int64_t days = t / 86400, sec = t % 86400;
	/* civil from days (Howard Hinnant's algorithm) */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	size_t n = (size_t)snprintf(line, sizeof line, "%u.%u.%u.%u - - [%02u/%s/%04lld:%02u:%02u:%02u +0000] \"",
				    w->peer >> 24, (w->peer >> 16) & 255, (w->peer >> 8) & 255, w->peer & 255,
				    d, months[m - 1], (long long)y, (unsigned)(sec / 3600),
				    (unsigned)(sec / 60 % 60), (unsigned)(sec % 60));
	char rl[HTTPD_LOG_LINE];
	int rn = snprintf(rl, sizeof rl, "%s %.*s HTTP/%u.%u", http_method_str(w->p.method),
			  (int)(w->url_len < 128 ? w->url_len : 128), w->url, w->p.http_major, w->p.http_minor);
	n += log_str(line + n, sizeof line - n, rl, rn > 0 ? (size_t)rn : 0);
	n += (size_t)snprintf(line + n, sizeof line - n, "\" %d ", w->status);
	if (n < sizeof line) {
		if (w->body_sent)
			n += (size_t)snprintf(line + n, sizeof line - n, "%llu \"", (unsigned long long)w->body_sent);
		else
			n += (size_t)snprintf(line + n, sizeof line - n, "- \"");
	}
	struct httpd_str ref = hdr(w, HDR_REFERER), ua = hdr(w, HDR_USER_AGENT);
	if (n < sizeof line)
		n += log_str(line + n, sizeof line - n, ref.p, ref.n);
	if (n < sizeof line)
		n += (size_t)snprintf(line + n, sizeof line - n, "\" \"");
	if (n < sizeof line)
		n += log_str(line + n, sizeof line - n, ua.p, ua.n);
	if (n + 2 > sizeof line)
		n = sizeof line - 2;
	line[n++] = '"';
	line[n++] = '\n';
	/* the seqlock (httpd.h) */
	uint64_t hd = atomic_load_explicit(&k->log_head, memory_order_relaxed);
	struct log_ent *e = &k->log[hd % HTTPD_LOG_N];
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);
	atomic_store_explicit(&e->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(e->line, line, n);
	e->len = (uint32_t)n;
	atomic_store_explicit(&e->seq, s + 2, memory_order_release);
	atomic_store_explicit(&k->log_head, hd + 1, memory_order_release);
	counter_add(&k->log_lines, 1);
}

size_t httpd_access_log(uint32_t core, char *out, size_t cap)
{
	size_t n = 0;
	if (cap)
		out[0] = 0;
	if (core >= POLLUX_MAX_CORES || !cap)
		return 0;
	struct httpd_core *k = &cores[core];
	uint64_t hd = atomic_load_explicit(&k->log_head, memory_order_acquire);
	for (uint64_t i = hd > HTTPD_LOG_N ? hd - HTTPD_LOG_N : 0; i < hd; i++) {
		struct log_ent *e = &k->log[i % HTTPD_LOG_N];
		char line[HTTPD_LOG_LINE];
		uint32_t s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
		uint32_t len = e->len;
		if ((s1 & 1) || len > HTTPD_LOG_LINE)
			continue;
		memcpy(line, e->line, len);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&e->seq, memory_order_relaxed) != s1)
			continue;
		if (n + len + 1 > cap)
			break;
		memcpy(out + n, line, len);
		n += len;
		out[n] = 0;
	}
	return n;
}

/* ---------------------------------------------------------------- answers */

/* The one place body bytes go to the stack: by reference (zero-copy),
 * the site's count taken per extent by the stack, so the site lives until
 * they are acknowledged or the connection goes, whatever this response
 * does after; in order with the heads tcp_send copied. Site bytes the
 * device cannot see (hosted: the boot archive is not in the DMA memfd)
 * the stack copies instead, counted (tcp_ref_copy_fallback). */
static size_t httpd_send_body(struct hconn *w, const uint8_t *p, size_t n)
{
	return tcp_send_ref(w->c, p, n, &w->pin->ref);
}

/* Sends what it can of the answer. 1 when all of it is out (the pin
 * dropped), 0 when it waits for send room (`writable`). */
static int pump(struct hconn *w)
{
	struct httpd_core *k = me();
	for (;;) {
		if (w->out_sent < w->out_len) {
			size_t n = tcp_send(w->c, w->out + w->out_sent, w->out_len - w->out_sent);
			w->out_sent += (uint32_t)n;
			counter_add(&k->bytes_out, n);
			if (w->part || w->trailer_done)        /* a part head or the last boundary */
				w->body_sent += n;
			if (w->out_sent < w->out_len)
				return 0;
		}
		if (w->off < w->end) {
			uint64_t left = w->end - w->off;
			size_t n = httpd_send_body(w, w->data + w->off, left > (1u << 30) ? 1u << 30 : (size_t)left);
			w->off += n;
			w->body_sent += n;
			counter_add(&k->bytes_out, n);
			counter_add(&k->body_bytes, n);
			if (w->off < w->end)
				return 0;
		}
		if (w->multipart && w->part < w->rg.n) {
			int n = httpd_part_head(&w->h, w->part, w->out, sizeof w->out);
			if (n < 0)
				return -1;
			w->out_len = (uint32_t)n;
			w->out_sent = 0;
			w->off = w->rg.r[w->part].first;
			w->end = w->rg.r[w->part].last + 1;
			w->part++;
			continue;
		}
		if (w->multipart && !w->trailer_done) {
			int n = httpd_part_trailer(&w->h, w->out, sizeof w->out);
			if (n < 0)
				return -1;
			w->out_len = (uint32_t)n;
			w->out_sent = 0;
			w->trailer_done = 1;
			continue;
		}
		break;
	}
	if (w->pin) {
		hsite_unpin(w->pin);
		counter_add(&k->pinned, (uint64_t)-1);
		w->pin = NULL;
	}
	return 1;
}

/* The answer is out: counted, logged; the connection closes or reads on. */
static void answer_done(struct hconn *w)
{
	struct httpd_core *k = me();
	counter_add(&k->requests, 1);
	counter_add(&k->status[w->status / 100 % 6], 1);
	log_write(w);
	w->busy = 0;
	if (w->close_after) {
		w->close_after = 0;
		w->closing = 1;
		tcp_close(w->c);
	}
}

/* Starts the answer whose head is in w->h (and body state set); returns
 * 1 if it is all out already, 0 if it waits for send room, -1 on an
 * internal error (the connection was reset). */
static int answer_start(struct hconn *w, int with_body_fixed)
{
	int n = httpd_head_build(&w->h, w->out, sizeof w->out);
	if (n < 0) {
		/* cannot happen for the statuses httpd answers: a bug, never a wrong answer */
		klog("httpd: response head for status %d: %s", w->status, strerror(-n));
		if (w->pin) {
			hsite_unpin(w->pin);
			counter_add(&me()->pinned, (uint64_t)-1);
			w->pin = NULL;
		}
		tcp_abort(w->c);
		return -1;
	}
	w->out_len = (uint32_t)n;
	w->out_sent = 0;
	if (with_body_fixed) {
		size_t blen;
		const char *b = httpd_status_body(w->status, &blen);
		if (b && blen <= sizeof w->out - w->out_len) {
			memcpy(w->out + w->out_len, b, blen);
			w->out_len += (uint32_t)blen;
			w->body_sent = blen;
		}
	}
	if (!w->h.keep)
		w->close_after = 1;
	w->busy = 1;
	int rc = pump(w);
	if (rc < 0) {
		tcp_abort(w->c);
		return -1;
	}
	if (rc)
		answer_done(w);
	return rc;
}

static void head_init(struct hconn *w, int status, int minor, int keep)
{
	memset(&w->h, 0, sizeof w->h);
	w->status = status;
	w->h.status = status;
	w->h.minor = minor;
	w->h.keep = keep;
	w->h.date = w->req_time;
	w->h.server = cfgh.server && cfgh.server[0] ? cfgh.server : NULL;
	w->data = NULL;
	w->off = w->end = 0;
	w->body_sent = 0;
	w->multipart = w->trailer_done = 0;
	w->part = 0;
}

/* an error answer (fixed body but for HEAD) */
static int answer_error(struct hconn *w, int status, int minor, int keep, int head_only)
{
	if (httpd_status_closes(status))
		keep = 0;
	head_init(w, status, minor, keep);
	return answer_start(w, !head_only);
}

/* The request is whole: decide and start the answer. */
static int handle(struct hconn *w)
{
	w->nreq++;
	w->req_time = now_unix();
	const char *ms = http_method_str(w->p.method);
	enum httpd_method m = httpd_method_parse(ms, strlen(ms));
	char vs[16];
	int minor = 1;
	int vn = snprintf(vs, sizeof vs, "HTTP/%u.%u", w->p.http_major, w->p.http_minor);
	int vrc = httpd_version_parse(vs, (size_t)vn, &minor);
	if (vrc)
		return answer_error(w, vrc, 1, 0, 0);
	int keep = httpd_keep_alive(minor, hdr(w, HDR_CONNECTION)) && !w->peer_fin && !w->p.upgrade &&
		   (!cfgh.keepalive_requests || w->nreq < cfgh.keepalive_requests);
	if (m == HTTPD_BAD)
		return answer_error(w, 400, minor, 0, 0);
	if (m == HTTPD_OTHER)
		return answer_error(w, 405, minor, keep, 0);
	int head_only = m == HTTPD_HEAD;
	char path[HTTPD_TARGET_MAX + 2];
	struct httpd_target t;
	int rc = httpd_target_normalize(w->url, w->url_len, HTTPD_TARGET_MAX, path, sizeof path, &t);
	if (rc)
		return answer_error(w, rc, minor, keep, head_only);
	struct hsite *hs = sched_deref(&site_pub);
	size_t plen = t.len - 1;                /* without the leading '/' */
	if (t.slash && plen)
		plen--;                         /* nor the trailing one */
	const struct httpd_site_file *f = hs ? httpd_site_lookup(hs->s, path + 1, plen) : NULL;
	if (f && f->kind == HTTPD_SITE_DIR) {
		if (!t.slash) {
			char loc[HTTPD_TARGET_MAX * 3 + 8];
			int ln = httpd_location_build(path, t.len, t.query, loc, sizeof loc);
			if (ln < 0 || (size_t)ln > sizeof w->vals - w->vals_len)
				return answer_error(w, 414, minor, 0, head_only);
			/* the Location lives in vals, after the request's values */
			memcpy(w->vals + w->vals_len, loc, (size_t)ln);
			head_init(w, 301, minor, keep);
			w->h.location.p = w->vals + w->vals_len;
			w->h.location.n = (size_t)ln;
			return answer_start(w, !head_only);
		}
		f = f->index;
	} else if (f && t.slash) {
		f = NULL;                       /* "/file/" names no directory */
	}
	if (!f)
		return answer_error(w, 404, minor, keep, head_only);
	struct httpd_cond cond = {
		.if_match = hdr(w, HDR_IF_MATCH), .if_unmodified_since = hdr(w, HDR_IF_UNMODIFIED_SINCE),
		.if_none_match = hdr(w, HDR_IF_NONE_MATCH), .if_modified_since = hdr(w, HDR_IF_MODIFIED_SINCE),
		.if_range = hdr(w, HDR_IF_RANGE), .range = hdr(w, HDR_RANGE),
	};
	w->rep.etag.p = f->etag;
	w->rep.etag.n = strlen(f->etag);
	w->rep.has_mtime = 1;
	w->rep.mtime = f->mtime;
	w->rep.len = f->size;
	int st = httpd_evaluate(m, &cond, &w->rep, w->req_time, &w->rg);
	head_init(w, st, minor, keep);
	w->h.rep = &w->rep;
	if (st == 412)
		return answer_start(w, !head_only);
	if (st == 200 || st == 206 || st == 304)
		w->h.content_type = f->type;
	if (st == 206) {
		w->h.ranges = &w->rg;
		if (w->rg.n > 1) {
			struct httpd_core *k = me();
			httpd_boundary_make(boundary_key ^ (k->boundary_ctr++ * 0x9e3779b97f4a7c15ull) ^
					    ((uint64_t)core_self()->id << 56), w->boundary);
			w->h.boundary = w->boundary;
		}
	}
	if (!head_only && (st == 200 || st == 206) && f->size) {
		w->pin = hs;
		hsite_pin(hs);
		counter_add(&me()->pinned, 1);
		w->data = f->data;
		if (st == 200) {
			w->off = 0;
			w->end = f->size;
		} else if (w->rg.n == 1) {
			w->off = w->rg.r[0].first;
			w->end = w->rg.r[0].last + 1;
		} else {
			w->multipart = 1;
		}
	}
	return answer_start(w, st == 416 && !head_only);
}

/* ---------------------------------------------------------------- parsing */

static int on_message_begin(http_parser *p)
{
	struct hconn *w = p->data;
	w->head_bytes = 0;
	w->err = 0;
	w->url_len = 0;
	w->field_len = 0;
	w->field_long = 0;
	w->in_value = 0;
	w->cur = -1;
	w->vals_len = 0;
	memset(w->have, 0, sizeof w->have);
	return 0;
}

static int over_head(struct hconn *w, size_t len)
{
	w->head_bytes += (uint32_t)(len < HTTPD_HEAD_MAX ? len : HTTPD_HEAD_MAX);
	if (w->head_bytes > HTTPD_HEAD_MAX) {
		w->err = 431;
		return 1;
	}
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct hconn *w = p->data;
	if (len > HTTPD_TARGET_MAX - w->url_len) {
		w->err = 414;
		return 1;
	}
	memcpy(w->url + w->url_len, at, len);
	w->url_len += (uint32_t)len;
	return over_head(w, len);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct hconn *w = p->data;
	if (w->in_value) {                      /* a new header */
		w->in_value = 0;
		w->field_len = 0;
		w->field_long = 0;
	}
	if (len > HTTPD_FIELD_MAX - w->field_len)
		w->field_long = 1;
	else {
		memcpy(w->field + w->field_len, at, len);
		w->field_len += (uint32_t)len;
	}
	return over_head(w, len);
}

static int vals_put(struct hconn *w, const char *s, size_t n)
{
	if (n > HTTPD_VALS_MAX - w->vals_len) {
		w->err = 431;
		return 1;
	}
	memmove(w->vals + w->vals_len, s, n);
	w->vals_len += (uint32_t)n;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct hconn *w = p->data;
	if (over_head(w, len))
		return 1;
	if (!w->in_value) {                     /* the first piece of this value */
		w->in_value = 1;
		w->cur = -1;
		for (int i = 0; i < HDR_N && !w->field_long; i++)
			if (strlen(hdr_names[i]) == w->field_len &&
			    !strncasecmp(hdr_names[i], w->field, w->field_len)) {
				w->cur = i;
				break;
			}
		if (w->cur < 0)
			return 0;
		int i = w->cur;
		if (w->have[i]) {
			/* a second line of the header: joined with ", " (RFC 9110
			 * §5.3); the first value moves to the end so it stays whole */
			uint32_t o = w->hoff[i], n = w->hlen[i];
			if (n + 2 > HTTPD_VALS_MAX - w->vals_len) {
				w->err = 431;
				return 1;
			}
			uint32_t at2 = w->vals_len;
			memmove(w->vals + at2, w->vals + o, n);
			w->vals_len += n;
			w->hoff[i] = at2;
			if (vals_put(w, ", ", 2))
				return 1;
			w->hlen[i] = n + 2;
		} else {
			w->have[i] = 1;
			w->hoff[i] = w->vals_len;
			w->hlen[i] = 0;
		}
	}
	if (w->cur < 0)
		return 0;
	/* only the value just being read can grow: it is at the end of vals */
	if (w->hoff[w->cur] + w->hlen[w->cur] != w->vals_len) {
		uint32_t o = w->hoff[w->cur], n = w->hlen[w->cur];
		if (n > HTTPD_VALS_MAX - w->vals_len) {
			w->err = 431;
			return 1;
		}
		memmove(w->vals + w->vals_len, w->vals + o, n);
		w->hoff[w->cur] = w->vals_len;
		w->vals_len += n;
	}
	if (vals_put(w, at, len))
		return 1;
	w->hlen[w->cur] += (uint32_t)len;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	/* a GET's or HEAD's body (Content-Length, chunked) is read and
	 * dropped by the parser; the answer does not wait for it */
	(void)p;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct hconn *w = p->data;
	int rc = handle(w);
	/* one answer at a time: the next request waits until this one is
	 * out; after an answer that closes, nothing more is parsed */
	if (rc < 0 || w->closing || w->close_after || w->busy)
		http_parser_pause(p, 1);
	return 0;
}

/* Parses what arrived; 0, or -1 when the connection was reset */
static int parse(struct hconn *w, const char *data, size_t len)
{
	size_t done = http_parser_execute(&w->p, &settings, data, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&w->p);
	if (e == HPE_PAUSED) {
		http_parser_pause(&w->p, 0);
		if (!w->c)
			return -1;
		if (done < len && !w->closing && !w->close_after) {     /* pipelined: keep it */
			if (len - done > HTTPD_IN_MAX - w->in_len) {
				counter_add(&me()->input_resets, 1);
				tcp_abort(w->c);
				return -1;
			}
			memmove(w->in + w->in_len, data + done, len - done);
			w->in_len += (uint32_t)(len - done);
		}
		return 0;
	}
	if (e == HPE_OK && done == len)
		return 0;
	/* the request is refused; the connection closes after the answer */
	int st = w->err ? w->err : e == HPE_HEADER_OVERFLOW ? 431 : 400;
	if (e == HPE_INVALID_VERSION)
		st = 505;
	int rc = answer_error(w, st, w->p.http_major == 1 && w->p.http_minor == 0 ? 0 : 1, 0, 0);
	return rc < 0 ? -1 : 0;
}

/* The window follows the input buffer: while no answer is in progress
 * the client may have at most HTTPD_IN_MAX bytes in flight, so what
 * arrives after an answer starts (within the window already advertised)
 * always fits the buffer; while one is in progress, 0. A connection we
 * are closing takes everything (and drops it), so the peer's FIN can
 * come (web.c says why). */
static size_t httpd_recv_space(struct tcp_conn *c, void *ctx)
{
	struct hconn *w = ctx;
	if (w->closing || w->close_after)
		return 1u << 30;
	return w->busy ? 0 : HTTPD_IN_MAX - w->in_len;
}

static void httpd_recv(struct tcp_conn *c, void *ctx, const uint8_t *data, size_t len)
{
	struct hconn *w = ctx;
	apps_idle_touch(&w->idle);
	if (w->closing || w->close_after)
		return;                         /* after the last answer: dropped */
	if (w->busy || w->in_len) {             /* delivered before recv_space said 0 */
		if (len > HTTPD_IN_MAX - w->in_len) {
			counter_add(&me()->input_resets, 1);
			tcp_abort(c);
			return;
		}
		memcpy(w->in + w->in_len, data, len);
		w->in_len += (uint32_t)len;
		return;
	}
	parse(w, (const char *)data, len);
}

/* the answer is out (or none is in progress): the requests that waited */
static void resume(struct hconn *w)
{
	while (!w->busy && !w->closing && !w->close_after && w->in_len) {
		char tmp[HTTPD_IN_MAX];
		size_t n = w->in_len;
		memcpy(tmp, w->in, n);
		w->in_len = 0;
		if (parse(w, tmp, n))
			return;
	}
	if (w->c && !w->busy && !w->closing)
		tcp_recv_update(w->c);
}

static void httpd_writable(struct tcp_conn *c, void *ctx)
{
	struct hconn *w = ctx;
	apps_idle_touch(&w->idle);
	if (!w->busy)
		return;
	int rc = pump(w);
	if (rc < 0) {
		tcp_abort(c);
		return;
	}
	if (!rc)
		return;
	answer_done(w);
	if (w->peer_fin && !w->closing) {
		w->closing = 1;
		tcp_close(c);
		return;
	}
	resume(w);
}

static void httpd_peer_closed(struct tcp_conn *c, void *ctx)
{
	struct hconn *w = ctx;
	w->peer_fin = 1;
	if (w->busy) {
		w->close_after = 1;             /* after the answer */
		return;
	}
	if (w->in_len && !w->closing) {         /* requests that waited: answered first */
		resume(w);
		if (w->busy) {
			w->close_after = 1;
			return;
		}
	}
	if (!w->closing) {
		w->closing = 1;
		tcp_close(c);
	}
}

static void httpd_gone(struct tcp_conn *c, void *ctx, int reason)
{
	struct hconn *w = ctx;
	struct httpd_core *k = me();
	apps_idle_stop(&w->idle);
	if (w->busy)
		log_write(w);                   /* what went of the answer */
	if (w->pin) {
		hsite_unpin(w->pin);
		counter_add(&k->pinned, (uint64_t)-1);
		w->pin = NULL;
	}
	w->c = NULL;
	counter_add(&k->curr_conns, (uint64_t)-1);
	counter_add(&k->free_n, 1);
	apps_give((void **)&k->free, w);
}

static void httpd_idle_expired(struct apps_idle *i)
{
	struct hconn *w = (struct hconn *)((char *)i - offsetof(struct hconn, idle));
	counter_add(&me()->idle_resets, 1);
	tcp_abort_idle(w->c);                   /* httpd_gone gives w back */
}

static void *httpd_accept(struct tcp_conn *c, void *arg)
{
	struct httpd_core *k = me();
	struct hconn *w = apps_take((void **)&k->free);
	if (!w) {
		counter_add(&k->refused, 1);
		return NULL;
	}
	counter_add(&k->free_n, (uint64_t)-1);
	counter_add(&k->curr_conns, 1);
	counter_add(&k->accepted, 1);
	memset(w, 0, offsetof(struct hconn, url));
	w->busy = w->closing = w->close_after = w->peer_fin = 0;
	w->out_len = w->out_sent = 0;
	w->pin = NULL;
	w->in_len = 0;
	w->c = c;
	uint16_t port;
	tcp_conn_peer(c, &w->peer, &port);
	apps_idle_start(&w->idle, cfgh.idle_timeout_s, httpd_idle_expired);
	http_parser_init(&w->p, HTTP_REQUEST);
	w->p.data = w;
	return w;
}

static const struct tcp_ops httpd_ops = {
	.recv = httpd_recv, .writable = httpd_writable, .peer_closed = httpd_peer_closed,
	.gone = httpd_gone, .recv_space = httpd_recv_space,
};

/* ---------------------------------------------------------------- the site, replaced */

/* an archive of nothing (the end-of-archive marker): the site of a boot
 * module that is plain JSON */
static const uint8_t empty_archive[1024];

int httpd_site_replace(const void *archive, size_t len, void (*archive_free)(const void *, void *),
		       void *ctx, char *err, size_t errlen)
{
	struct httpd_site_opts o = { .default_type = cfgh.default_type, .archive_free = archive_free,
				     .archive_ctx = ctx };
	struct httpd_site *s;
	struct hsite *h = calloc(1, sizeof *h);
	if (!h) {
		snprintf(err, errlen, "httpd: no memory for a site");
		return -ENOMEM;
	}
	int rc = httpd_site_build(archive, len, &o, &s, err, errlen);
	if (rc) {
		free(h);
		return rc;
	}
	h->s = s;
	pktbuf_ref_init(&h->ref, hsite_release, h);     /* the publication's */
	struct hsite *old = sched_publish(&site_pub, h);
	const struct httpd_site_stats *st = httpd_site_stats(s);
	klog("httpd: site of %u files, %u directories, %llu bytes (%u links, %u skipped)", st->files,
	     st->dirs, (unsigned long long)st->bytes, st->links, st->links_skipped + st->other_skipped);
	if (!old)
		return 0;
	if (sched_quiesce_wait(1000000000ull)) {
		/* a core may still hold the old site from before: never freed */
		klog("httpd: a core did not pass a quiescent point in 1 s: the old site is kept");
		return 0;
	}
	/* no request starts from it now: the publication's reference goes;
	 * freed here if none other is held, else by the last release */
	hsite_unpin(old);
	hsite_drain(NULL);
	return 0;
}

/* ---------------------------------------------------------------- counters */

int httpd_running(void) { return running; }

void httpd_core_stats(uint32_t core, struct httpd_core_stats *o)
{
	memset(o, 0, sizeof *o);
	if (core >= POLLUX_MAX_CORES || !running || !cores[core].data)
		return;
	struct httpd_core *k = &cores[core];
	o->data = 1;
	o->requests = counter_get(&k->requests);
	for (int i = 1; i < 6; i++)
		o->status[i] = counter_get(&k->status[i]);
	o->bytes_out = counter_get(&k->bytes_out);
	o->body_bytes = counter_get(&k->body_bytes);
	o->curr_conns = counter_get(&k->curr_conns);
	o->accepted = counter_get(&k->accepted);
	o->refused = counter_get(&k->refused);
	o->idle_resets = counter_get(&k->idle_resets);
	o->input_resets = counter_get(&k->input_resets);
	o->log_lines = counter_get(&k->log_lines);
	o->conn_slots = k->slots;
	o->conn_slots_free = (uint32_t)counter_get(&k->free_n);
	o->sites_pinned = (uint32_t)counter_get(&k->pinned);
}

/* ---------------------------------------------------------------- settings */
#define F(x) .off = offsetof(struct httpd_config, x)
static const struct schema_node fields[] = {
	{ .key = "port", .kind = SK_INTEGER, .min = 1, .max = 65535, .type = ST_U16, F(port), .def = 80,
	  .doc = "TCP port httpd serves on (default 80)." },
	{ .key = "default_type", .kind = SK_STRING, .min = 1, .max = 100, .type = ST_STR, F(default_type),
	  .def_str = "application/octet-stream",
	  .doc = "Content-Type of a file whose extension /etc/mime.types does not know "
		 "(default application/octet-stream)." },
	{ .key = "server", .kind = SK_STRING, .min = 0, .max = 64, .type = ST_STR, F(server),
	  .def_str = "pollux",
	  .doc = "The Server header's value; \"\": no Server header (default \"pollux\")." },
	{ .key = "max_conns", .kind = SK_INTEGER, .min = 1, .max = 65536, .type = ST_U32, F(max_conns),
	  .def = 1024,
	  .doc = "Client connections of the whole appliance, split evenly over the data cores "
		 "(about 12 KiB each); one more on a full core is refused, counted (default 1024)." },
	APPS_IDLE_TIMEOUT_ROW(offsetof(struct httpd_config, idle_timeout_s), 60, "a connection"),
	{ .key = "keepalive_requests", .kind = SK_INTEGER, .min = 0, .max = 1000000, .type = ST_U32,
	  F(keepalive_requests), .def = 1000,
	  .doc = "Requests one connection may make; the last is answered with Connection: close "
		 "(nginx's keepalive_requests; 0: no limit; default 1000)." },
	{ .kind = SK_END }
};
#undef F

const struct schema_node httpd_schema = {
	.key = "httpd", .kind = SK_OBJECT, .sub = fields, .off = offsetof(struct apps_config, httpd),
	.doc = "The httpd appliance: a static web server for the site in the boot module."
};

/* ---------------------------------------------------------------- start-up */
int httpd_init(const struct apps_config *cfg, char *err, size_t errlen)
{
	cfgh = cfg->httpd;
	if (!cfgh.default_type)
		cfgh.default_type = "application/octet-stream";
	if (!cfgh.server)
		cfgh.server = "pollux";
	if (!cfgh.max_conns)
		cfgh.max_conns = 1024;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	boundary_key = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ time_ns();
	memset(&settings, 0, sizeof settings);
	settings.on_message_begin = on_message_begin;
	settings.on_url = on_url;
	settings.on_header_field = on_header_field;
	settings.on_header_value = on_header_value;
	settings.on_headers_complete = on_headers_complete;
	settings.on_message_complete = on_message_complete;
	/* the site: from the boot module, or none (every path 404) */
	const void *ar = cfgh.archive;
	size_t arlen = cfgh.archive_len;
	if (!ar) {
		klog("httpd: the boot module is plain JSON: an empty site (make site DIR=... CONFIG=...)");
		ar = empty_archive;
		arlen = sizeof empty_archive;
	}
	if (!sched_deref(&site_pub) || cfgh.archive) {
		int rc = httpd_site_replace(ar, arlen, NULL, NULL, err, errlen);
		if (rc)
			return rc;
	}
	uint32_t n = cores_count(), ndata = n > 1 ? n - 1 : 1;
	uint32_t per = cfgh.max_conns / ndata ? cfgh.max_conns / ndata : 1;
	/* connections live on the data cores (core 0 too on a 1-core machine) */
	for (uint32_t c = 0; c < n; c++) {
		struct httpd_core *k = &cores[c];
		k->data = n == 1 || c > 0;
		k->free = NULL;
		k->slots = 0;
		atomic_store(&k->free_n, 0);
		if (!k->data)
			continue;
		if (!(k->free = apps_free_list(sizeof(struct hconn), per))) {
			snprintf(err, errlen, "httpd.max_conns: no memory for %u connections on core %u", per, c);
			return -ENOMEM;
		}
		k->slots = per;
		atomic_store(&k->free_n, per);
	}
	running = 1;
	int rc = tcp_listen(cfgh.port, &httpd_ops, httpd_accept, NULL);
	if (rc) {
		snprintf(err, errlen, "httpd.port: %u: %s", cfgh.port, strerror(-rc));
		return rc;
	}
	klog("httpd: HTTP/1.1 on TCP port %u, %u connections on each of %u data core(s), %zu bytes each",
	     cfgh.port, per, ndata, sizeof(struct hconn));
	return 0;
}
