/*
 * httpd_site.c — the site index (httpd_site.h): two passes over the
 * archive. The first checks every name and bound and sizes the block,
 * allocating nothing, so a refused archive costs no memory; the second
 * fills a temporary array of entries (plus the directories the names
 * imply), sorts it, refuses duplicates, hashes each file's bytes for its
 * ETag, resolves links, and lays the result out in the site's one block:
 *
 *   [struct httpd_site][entries, sorted by path][hash slots][path bytes]
 *
 * ETag: "<size hex>-<SipHash-2-4 of the bytes, hex>". A hash of the
 * content, not of mtime: a strong validator must change whenever the
 * bytes do (RFC 9110 §8.8.1), which tar's one-second mtime cannot promise,
 * and the same bytes keep the same tag when the archive is rebuilt
 * elsewhere (a git checkout resets mtimes) or served by several VMs
 * behind one balancer. So the key is a fixed constant, not a boot
 * secret: the tag is a fingerprint, not a defence, and it must be the
 * same on every boot. Cost: one pass over the site's bytes at build.
 *
 * The lookup table hashes paths with a fixed key too: its keys are the
 * site owner's paths, fixed at build; requests only probe it and cannot
 * lengthen a chain, and a probe stops after the longest chain the build
 * measured.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/siphash.h"
#include "core/tar.h"
#include "apps/httpd_site.h"
#include "httpd_mime.h"

#define MAX_LINK_HOPS 8                 /* links followed to reach a file, at most */

static const struct siphash_key etag_key = { 0x706f6c6c75782d65ull, 0x7461672d76310a00ull };
static const struct siphash_key path_key = { 0x706f6c6c75782d70ull, 0x6174682d76310a00ull };

struct httpd_site {
	/* immutable after httpd_site_build; read by every core */
	struct httpd_site_file *files;
	size_t n;
	uint32_t *slots;                /* entry index + 1; 0: empty */
	uint32_t mask, max_probe;
	struct httpd_site_stats stats;
	/* the owner's (the core that frees the site) */
	const void *archive;
	void (*archive_free)(const void *archive, void *ctx);
	void *archive_ctx;
};

/* ---- media types */
static int ext_cmp(const char *a, const char *b)
{
	return strcmp(a, b);
}

static const char *mime_find(const char *ext)
{
	size_t lo = 0, hi = HTTPD_MIME_ROWS;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = ext_cmp(ext, httpd_mime_rows[mid].ext);
		if (!c)
			return httpd_mime_rows[mid].type;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *httpd_mime_type(const char *name, size_t len, const char *dflt)
{
	size_t start = len;
	while (start && name[start - 1] != '/')
		start--;
	/* the longest suffix first: "a.tm.json" tries "tm.json", then "json";
	 * a leading dot (".profile") starts no extension */
	for (size_t i = start + 1; i < len; i++) {
		if (name[i - 1] != '.' || i - 1 == start)
			continue;
		char ext[32];
		size_t n = len - i;
		if (n >= sizeof ext)
			continue;
		for (size_t k = 0; k < n; k++) {
			char c = name[i + k];
			ext[k] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		ext[n] = 0;
		const char *t = mime_find(ext);
		if (t)
			return t;
	}
	return dflt;
}

/* ---- names */

/* Normalises a name from the archive: "." and empty segments dropped,
 * no leading or trailing '/'. NULL, or why the name is refused. */
static const char *name_normalise(const char *s, size_t n, char *out, size_t cap, size_t *outlen)
{
	size_t o = 0;
	if (memchr(s, 0, n))
		return "name holds a NUL byte";
	if (n && s[0] == '/')
		return "absolute name";
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '/')
			j++;
		size_t seg = j - i;
		if (seg == 2 && s[i] == '.' && s[i + 1] == '.')
			return "name has a '..' component";
		if (seg && !(seg == 1 && s[i] == '.')) {
			if (o + (o ? 1 : 0) + seg >= cap)
				return "name longer than the site's max_path";
			if (o)
				out[o++] = '/';
			memcpy(out + o, s + i, seg);
			o += seg;
		}
		i = j + 1;
	}
	out[o] = 0;
	*outlen = o;
	return NULL;
}

/* A link's target as a site path: relative to base (the link's
 * directory; "" for hard links, whose targets are archive names). -1 when
 * it leaves the root, is absolute, or is too long. */
static int link_target(const char *base, size_t blen, const char *t, size_t tn, char *out, size_t cap,
		       size_t *outlen)
{
	if (!tn || t[0] == '/' || memchr(t, 0, tn) || blen >= cap)
		return -1;
	size_t o = blen;
	memcpy(out, base, blen);
	size_t i = 0;
	while (i < tn) {
		size_t j = i;
		while (j < tn && t[j] != '/')
			j++;
		size_t seg = j - i;
		if (seg == 2 && t[i] == '.' && t[i + 1] == '.') {
			if (!o)
				return -1;              /* above the root */
			while (o && out[o - 1] != '/')
				o--;
			if (o)
				o--;
		} else if (seg && !(seg == 1 && t[i] == '.')) {
			if (o + (o ? 1 : 0) + seg >= cap)
				return -1;
			if (o)
				out[o++] = '/';
			memcpy(out + o, t + i, seg);
			o += seg;
		}
		i = j + 1;
	}
	out[o] = 0;
	*outlen = o;
	return 0;
}

/* ---- the build */

enum raw_kind { RAW_FILE, RAW_DIR, RAW_IMPLIED_DIR, RAW_SYMLINK, RAW_HARDLINK };
enum raw_state { ST_NEW, ST_VISITING, ST_OK, ST_SKIP };

struct raw {
	struct httpd_site_file f;
	const char *link;               /* raw target, in the archive */
	size_t link_len;
	uint64_t off;
	uint8_t kind, state;
	uint8_t depth;                  /* links followed to reach the file */
};

struct build {
	const struct httpd_site_opts *o;
	struct raw *r;
	size_t n;
	char *strings;                  /* bump area in the block */
	size_t str_used, str_cap;
	char *tmp;                      /* max_path + 1 */
	char *err;
	size_t errlen;
	struct httpd_site_stats st;
};

static int refuse(struct build *b, int rc, const char *why, const char *name, size_t nlen, uint64_t off)
{
	char esc[160];
	snprintf(b->err, b->errlen, "site: %s: '%s' at offset %llu", why, tar_escape(name, nlen, esc, sizeof esc),
		 (unsigned long long)off);
	return rc;
}

static int tar_failed(struct build *b, const struct tar_iter *it, int rc)
{
	char m[240];
	snprintf(b->err, b->errlen, "site: %s", tar_error_format(it, m, sizeof m));
	return rc == -EPIPE ? -EINVAL : rc;
}

static const char *intern(struct build *b, const char *s, size_t n)
{
	/* sized exactly by the first pass */
	char *p = b->strings + b->str_used;
	memcpy(p, s, n);
	p[n] = 0;
	b->str_used += n + 1;
	return p;
}

static int is_config(const char *p, size_t n)
{
	return n == 11 && !memcmp(p, "pollux.json", 11);
}

static int raw_cmp(const void *a, const void *b)
{
	const struct httpd_site_file *x = &((const struct raw *)a)->f, *y = &((const struct raw *)b)->f;
	size_t n = x->path_len < y->path_len ? x->path_len : y->path_len;
	int c = memcmp(x->path, y->path, n);
	if (c)
		return c;
	return x->path_len < y->path_len ? -1 : x->path_len > y->path_len;
}

static struct raw *raw_find(struct build *b, const char *p, size_t n)
{
	struct raw key = { .f = { .path = p, .path_len = (uint32_t)n } };
	return bsearch(&key, b->r, b->n, sizeof *b->r, raw_cmp);
}

static void set_etag(struct httpd_site_file *f)
{
	uint64_t h = siphash24(&etag_key, f->data, (size_t)f->size);
	snprintf(f->etag, sizeof f->etag, "\"%llx-%016llx\"", (unsigned long long)f->size,
		 (unsigned long long)h);
}

/* Resolves link r (and the links it points through) to a file. */
static int link_resolve(struct build *b, struct raw *r, int hops)
{
	if (r->state == ST_OK)
		return 0;
	if (r->state == ST_SKIP || r->state == ST_VISITING || hops > MAX_LINK_HOPS)
		return -1;
	r->state = ST_VISITING;
	size_t blen = 0, tl;
	if (r->kind == RAW_SYMLINK) {
		const char *slash = memrchr(r->f.path, '/', r->f.path_len);
		blen = slash ? (size_t)(slash - r->f.path) : 0;
	}
	struct raw *t = NULL;
	char *tmp = b->tmp + (size_t)hops * (b->o->max_path + 1);  /* one per hop: the chain's names */
	if (!link_target(r->f.path, blen, r->link, r->link_len, tmp, b->o->max_path + 1, &tl))
		t = raw_find(b, tmp, tl);
	if (!t || t == r || t->kind == RAW_DIR || t->kind == RAW_IMPLIED_DIR ||
	    ((t->kind == RAW_SYMLINK || t->kind == RAW_HARDLINK) && link_resolve(b, t, hops + 1)) ||
	    t->state == ST_SKIP || t->depth >= MAX_LINK_HOPS) {
		r->state = ST_SKIP;
		return -1;
	}
	r->f.data = t->f.data;
	r->f.size = t->f.size;
	r->f.mtime = t->f.mtime;
	memcpy(r->f.etag, t->f.etag, sizeof r->f.etag);
	r->f.via_link = 1;
	r->depth = (uint8_t)(t->depth + 1);
	r->state = ST_OK;
	return 0;
}

int httpd_site_build(const void *archive, size_t len, const struct httpd_site_opts *opts,
		     struct httpd_site **out, char *err, size_t errlen)
{
	struct httpd_site_opts o = opts ? *opts : (struct httpd_site_opts){ 0 };
	if (!o.max_files)
		o.max_files = HTTPD_SITE_MAX_FILES;
	if (!o.max_path)
		o.max_path = HTTPD_SITE_MAX_PATH;
	if (!o.default_type)
		o.default_type = "application/octet-stream";
	struct build b = { .o = &o, .err = err, .errlen = errlen };
	if (o.max_path > HTTPD_SITE_PATH_LIMIT || o.max_files > (1u << 24)) {
		snprintf(err, errlen, "site: max_path over %u or max_files over %u", HTTPD_SITE_PATH_LIMIT, 1u << 24);
		return -EINVAL;
	}
	char name[HTTPD_SITE_PATH_LIMIT + 1];
	struct tar_iter it;
	struct tar_entry e;
	int rc;

	/* pass 1: every name checked, the block sized */
	size_t entries = 0, raws = 1, bytes = 1;    /* the root */
	tar_iter_init(&it, archive, len);
	while ((rc = tar_next(&it, &e)) > 0) {
		size_t nl;
		const char *why = name_normalise(e.name, e.name_len, name, o.max_path + 1, &nl);
		if (why)
			return refuse(&b, strstr(why, "longer") ? -E2BIG : -EINVAL, why, e.name, e.name_len,
				      e.offset);
		if (e.type == TAR_OTHER || (is_config(name, nl)))
			continue;
		if (!nl && e.type != TAR_DIR)
			return refuse(&b, -EINVAL, "a file named as the root", e.name, e.name_len, e.offset);
		if (++entries > o.max_files)
			return refuse(&b, -E2BIG, "more entries than the site's max_files", e.name, e.name_len,
				      e.offset);
		raws++;
		bytes += nl + 1;
		for (size_t i = 0; i < nl; i++)         /* the directories it implies */
			if (name[i] == '/') {
				raws++;
				bytes += i + 1;
			}
	}
	if (rc < 0)
		return tar_failed(&b, &it, rc);

	size_t cap = 16;
	while (cap < 2 * raws)
		cap <<= 1;
	size_t block = sizeof(struct httpd_site) + raws * sizeof(struct httpd_site_file) + cap * sizeof(uint32_t) +
		       bytes;
	struct httpd_site *s = calloc(1, block);
	b.r = calloc(raws, sizeof *b.r);
	b.tmp = malloc((size_t)(MAX_LINK_HOPS + 2) * (o.max_path + 1));
	if (!s || !b.r || !b.tmp) {
		snprintf(err, errlen, "site: no memory for %zu entries (%zu bytes)", raws, block);
		rc = -ENOMEM;
		goto fail;
	}
	s->files = (struct httpd_site_file *)(s + 1);
	s->slots = (uint32_t *)(s->files + raws);
	b.strings = (char *)(s->slots + cap);
	b.str_cap = bytes;

	/* pass 2: the entries, and the directories their names imply */
	b.r[b.n++] = (struct raw){ .f = { .path = intern(&b, "", 0), .kind = HTTPD_SITE_DIR }, .kind = RAW_IMPLIED_DIR };
	tar_iter_init(&it, archive, len);
	while ((rc = tar_next(&it, &e)) > 0) {
		size_t nl;
		name_normalise(e.name, e.name_len, name, o.max_path + 1, &nl);      /* checked in pass 1 */
		if (e.type == TAR_OTHER) {
			b.st.other_skipped++;
			continue;
		}
		if (is_config(name, nl)) {
			b.st.config_skipped++;
			continue;
		}
		for (size_t i = 0; i < nl; i++)
			if (name[i] == '/')
				b.r[b.n++] = (struct raw){ .f = { .path = intern(&b, name, i), .path_len = (uint32_t)i,
								  .kind = HTTPD_SITE_DIR },
							   .kind = RAW_IMPLIED_DIR, .off = e.offset };
		struct raw *r = &b.r[b.n++];
		*r = (struct raw){ .f = { .path = intern(&b, name, nl), .path_len = (uint32_t)nl,
					  .mtime = e.mtime },
				   .off = e.offset };
		switch (e.type) {
		case TAR_DIR:
			r->kind = RAW_DIR;
			r->f.kind = HTTPD_SITE_DIR;
			break;
		case TAR_FILE:
			r->kind = RAW_FILE;
			r->f.data = e.data;
			r->f.size = e.size;
			break;
		default:
			r->kind = e.type == TAR_SYMLINK ? RAW_SYMLINK : RAW_HARDLINK;
			r->link = e.link;
			r->link_len = e.link_len;
			break;
		}
		if (r->kind != RAW_DIR)
			r->f.type = httpd_mime_type(r->f.path, nl, o.default_type);
	}
	if (rc < 0) {                           /* the same walk passed in pass 1 */
		rc = tar_failed(&b, &it, rc);
		goto fail;
	}

	/* sorted; one entry per path (a directory named twice, or implied
	 * and named, is one directory; anything else twice is refused) */
	qsort(b.r, b.n, sizeof *b.r, raw_cmp);
	size_t w = 0;
	for (size_t i = 0; i < b.n; i++) {
		if (w && !raw_cmp(&b.r[w - 1], &b.r[i])) {
			struct raw *p = &b.r[w - 1], *q = &b.r[i];
			int pd = p->f.kind == HTTPD_SITE_DIR, qd = q->f.kind == HTTPD_SITE_DIR;
			if (pd && qd) {
				if (p->kind == RAW_IMPLIED_DIR)
					*p = *q;        /* the named one keeps its mtime */
				continue;
			}
			struct raw *named = p->kind == RAW_IMPLIED_DIR ? q : p;
			rc = refuse(&b, -EINVAL, pd || qd ? "a path both a directory and a file" : "a path named twice",
				    named->f.path, named->f.path_len, pd || qd ? named->off : q->off);
			goto fail;
		}
		b.r[w++] = b.r[i];
	}
	b.n = w;
	if (b.n > (size_t)o.max_files + 1) {
		rc = refuse(&b, -E2BIG, "more entries than the site's max_files (with implied directories)",
			    b.r[b.n - 1].f.path, b.r[b.n - 1].f.path_len, b.r[b.n - 1].off);
		goto fail;
	}

	for (size_t i = 0; i < b.n; i++)
		if (b.r[i].kind == RAW_FILE) {
			set_etag(&b.r[i].f);
			b.r[i].state = ST_OK;
		}
	for (size_t i = 0; i < b.n; i++)
		if (b.r[i].kind == RAW_SYMLINK || b.r[i].kind == RAW_HARDLINK)
			link_resolve(&b, &b.r[i], 0);

	/* the index: skipped links left out, the order kept */
	for (size_t i = 0; i < b.n; i++) {
		struct raw *r = &b.r[i];
		if (r->state == ST_SKIP) {
			b.st.links_skipped++;
			continue;
		}
		if (r->kind == RAW_SYMLINK || r->kind == RAW_HARDLINK)
			b.st.links++;
		if (r->f.kind == HTTPD_SITE_DIR) {
			b.st.dirs++;
		} else {
			b.st.files++;
			b.st.bytes += r->f.size;
		}
		s->files[s->n++] = r->f;
	}
	s->mask = (uint32_t)cap - 1;
	for (size_t i = 0; i < s->n; i++) {
		const struct httpd_site_file *f = &s->files[i];
		uint32_t h = (uint32_t)siphash24(&path_key, f->path, f->path_len) & s->mask, probe = 0;
		while (s->slots[h]) {
			h = (h + 1) & s->mask;
			probe++;
		}
		s->slots[h] = (uint32_t)i + 1;
		if (probe + 1 > s->max_probe)
			s->max_probe = probe + 1;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct httpd_site_file *f = &s->files[i];
		if (f->kind != HTTPD_SITE_DIR || f->path_len + 11 > o.max_path)
			continue;
		size_t k = f->path_len;
		memcpy(b.tmp, f->path, k);
		if (k)
			b.tmp[k++] = '/';
		memcpy(b.tmp + k, "index.html", 10);
		const struct httpd_site_file *ix = httpd_site_lookup(s, b.tmp, k + 10);
		f->index = ix && ix->kind == HTTPD_SITE_FILE ? ix : NULL;
	}
	b.st.block_bytes = block;
	s->stats = b.st;
	s->archive = archive;
	s->archive_free = o.archive_free;
	s->archive_ctx = o.archive_ctx;
	free(b.r);
	free(b.tmp);
	*out = s;
	return 0;
fail:
	free(s);
	free(b.r);
	free(b.tmp);
	return rc;
}

void httpd_site_free(struct httpd_site *s)
{
	if (!s)
		return;
	if (s->archive_free)
		s->archive_free(s->archive, s->archive_ctx);
	free(s);
}

const struct httpd_site_file *httpd_site_lookup(const struct httpd_site *s, const char *path, size_t len)
{
	if (len > UINT32_MAX)
		return NULL;
	uint32_t h = (uint32_t)siphash24(&path_key, path, len) & s->mask;
	for (uint32_t probe = 0; probe < s->max_probe; probe++) {
		uint32_t slot = s->slots[h];
		if (!slot)
			return NULL;
		const struct httpd_site_file *f = &s->files[slot - 1];
		if (f->path_len == len && !memcmp(f->path, path, len))
			return f;
		h = (h + 1) & s->mask;
	}
	return NULL;
}

size_t httpd_site_count(const struct httpd_site *s) { return s->n; }
const struct httpd_site_file *httpd_site_at(const struct httpd_site *s, size_t i)
{
	return i < s->n ? &s->files[i] : NULL;
}
const struct httpd_site_stats *httpd_site_stats(const struct httpd_site *s) { return &s->stats; }
