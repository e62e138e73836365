/*
 * tar.c — the in-memory tar reader (tar.h): ustar headers, pax extended
 * headers ('x' per file, 'g' global), GNU 'L'/'K' long names. Every
 * length is checked against the archive's end before it is used; nothing
 * is allocated, names point into the archive (or into the iterator for a
 * ustar prefix/name pair).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/tar.h"

/* ustar header field offsets and sizes (POSIX.1-2008, pax format) */
#define H_NAME 0
#define H_NAME_N 100
#define H_MODE 100
#define H_SIZE 124
#define H_MTIME 136
#define H_CHKSUM 148
#define H_TYPE 156
#define H_LINK 157
#define H_LINK_N 100
#define H_MAGIC 257
#define H_PREFIX 345
#define H_PREFIX_N 155

static int fail(struct tar_iter *it, int rc, const char *what, uint64_t off, const char *name, size_t nlen)
{
	it->done = -1;
	it->err = what;
	it->err_off = off;
	it->err_name = name;
	it->err_name_len = nlen;
	return rc;
}

static int last_rc(const struct tar_iter *it)
{
	return it->err && !strncmp(it->err, "truncated", 9) ? -EPIPE : -EINVAL;
}

void tar_iter_init(struct tar_iter *it, const void *base, size_t len)
{
	memset(it, 0, sizeof *it);
	it->base = base;
	it->len = len;
}

int tar_is_archive(const void *buf, size_t len)
{
	return buf && len >= TAR_BLOCK && !memcmp((const uint8_t *)buf + H_MAGIC, "ustar", 5);
}

/* A numeric header field: octal digits, with leading spaces and a space
 * or NUL after (an all-blank field is 0), or GNU base-256 (first byte
 * 0x80 positive, 0xff negative). 0, or -1 when malformed or too large
 * for 63 bits. */
static int field_num(const uint8_t *f, size_t n, int64_t *out)
{
	if (f[0] == 0x80 || f[0] == 0xff) {
		int neg = f[0] == 0xff;
		uint64_t v = neg ? ~(uint64_t)0 : 0;
		for (size_t i = 1; i < n; i++) {
			if (!neg && (v >> 55))
				return -1;
			if (neg && (v >> 55) != 0x1ff)
				return -1;
			v = v << 8 | f[i];
		}
		if (!neg && (v >> 63))
			return -1;
		if (neg && !(v >> 63))
			return -1;
		*out = (int64_t)v;
		return 0;
	}
	size_t i = 0;
	while (i < n && f[i] == ' ')
		i++;
	uint64_t v = 0;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v << 3 | (uint64_t)(f[i] - '0');
	}
	for (; i < n; i++)              /* only terminators after the digits */
		if (f[i] != ' ' && f[i])
			return -1;
	*out = (int64_t)v;
	return 0;
}

static int checksum_ok(const uint8_t *h)
{
	int64_t want;
	if (field_num(h + H_CHKSUM, 8, &want))
		return 0;
	uint32_t u = 0;
	int32_t s = 0;
	for (size_t i = 0; i < TAR_BLOCK; i++) {
		uint8_t b = i >= H_CHKSUM && i < H_CHKSUM + 8 ? ' ' : h[i];
		u += b;
		s += (int8_t)b;
	}
	return want == (int64_t)u || want == (int64_t)s;
}

static int all_zero(const uint8_t *h)
{
	for (size_t i = 0; i < TAR_BLOCK; i++)
		if (h[i])
			return 0;
	return 1;
}

/* Decimal value of a pax record: size (unsigned) or mtime (optional
 * sign, optional fraction, which is dropped). */
static int pax_num(const char *p, size_t n, int allow_frac, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	if (allow_frac && i < n && p[i] == '-') {
		neg = 1;
		i++;
	}
	if (i == n || p[i] < '0' || p[i] > '9')
		return -1;
	uint64_t v = 0;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
		if (v > (UINT64_MAX >> 1) / 10 - 1)
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (allow_frac && i < n && p[i] == '.') {
		for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			;
	}
	if (i != n)
		return -1;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* What one pax header ('x' or 'g') says. */
struct pax {
	struct tar_str path, link;
	int size_set, mtime_set;        /* 1 set, -1 deleted (empty value) */
	int64_t size, mtime;
};

/* Parses the records "LEN KEY=VALUE\n" of a pax header's data. */
static int pax_parse(struct tar_iter *it, const char *d, size_t n, struct pax *px, uint64_t off)
{
	size_t i = 0;
	while (i < n) {
		size_t rlen = 0, j = i;
		while (j < n && d[j] >= '0' && d[j] <= '9' && j - i < 20)
			rlen = rlen * 10 + (size_t)(d[j++] - '0');
		if (j == i || j >= n || d[j] != ' ' || rlen < (j - i) + 4 || rlen > n - i)
			return fail(it, -EINVAL, "malformed pax record length", off, NULL, 0);
		const char *key = d + j + 1, *end = d + i + rlen - 1;     /* end: the '\n' */
		if (*end != '\n')
			return fail(it, -EINVAL, "pax record not ended by a newline", off, NULL, 0);
		const char *eq = memchr(key, '=', (size_t)(end - key));
		if (!eq || eq == key)
			return fail(it, -EINVAL, "pax record without a keyword", off, NULL, 0);
		size_t klen = (size_t)(eq - key), vlen = (size_t)(end - eq - 1);
		const char *v = eq + 1;
		int64_t num;
		if (klen == 4 && !memcmp(key, "path", 4)) {
			px->path = (struct tar_str){ v, vlen, vlen ? 1 : -1 };
		} else if (klen == 8 && !memcmp(key, "linkpath", 8)) {
			px->link = (struct tar_str){ v, vlen, vlen ? 1 : -1 };
		} else if (klen == 4 && !memcmp(key, "size", 4)) {
			if (!vlen) {
				px->size_set = -1;
			} else if (pax_num(v, vlen, 0, &num)) {
				return fail(it, -EINVAL, "bad pax size", off, NULL, 0);
			} else {
				px->size = num;
				px->size_set = 1;
			}
		} else if (klen == 5 && !memcmp(key, "mtime", 5)) {
			if (!vlen) {
				px->mtime_set = -1;
			} else if (pax_num(v, vlen, 1, &num)) {
				return fail(it, -EINVAL, "bad pax mtime", off, NULL, 0);
			} else {
				px->mtime = num;
				px->mtime_set = 1;
			}
		}
		i += rlen;
	}
	return 0;
}

static size_t field_len(const uint8_t *f, size_t n)
{
	const void *z = memchr(f, 0, n);
	return z ? (size_t)((const uint8_t *)z - f) : n;
}

int tar_next(struct tar_iter *it, struct tar_entry *e)
{
	if (it->done > 0)
		return 0;
	if (it->done < 0)
		return last_rc(it);
	struct pax x = { 0 };
	int have_x = 0;
	struct tar_str gnu_name = { 0 }, gnu_link = { 0 };
	uint64_t meta_off = 0;                  /* the first extended header of this entry */
	for (;;) {
		uint64_t off = it->pos;
		if (it->pos > it->len || it->len - it->pos < TAR_BLOCK)
			return fail(it, -EPIPE, it->pos >= it->len ? "truncated: no end-of-archive marker"
								   : "truncated: partial header block",
				    off, NULL, 0);
		const uint8_t *h = it->base + it->pos;
		const char *hname = (const char *)h + H_NAME;
		size_t hname_len = field_len(h + H_NAME, H_NAME_N);
		if (all_zero(h)) {
			if (have_x || gnu_name.set || gnu_link.set)
				return fail(it, -EINVAL, "extended header not followed by an entry", meta_off, NULL, 0);
			it->done = 1;
			return 0;
		}
		if (memcmp(h + H_MAGIC, "ustar", 5))
			return fail(it, -EINVAL, "not a ustar header (bad magic)", off, hname, hname_len);
		if (!checksum_ok(h))
			return fail(it, -EINVAL, "bad header checksum", off, hname, hname_len);
		int64_t hsize, mtime, mode;
		if (field_num(h + H_SIZE, 12, &hsize) || hsize < 0)
			return fail(it, -EINVAL, "bad size field", off, hname, hname_len);
		if (field_num(h + H_MTIME, 12, &mtime))
			return fail(it, -EINVAL, "bad mtime field", off, hname, hname_len);
		if (field_num(h + H_MODE, 8, &mode))
			return fail(it, -EINVAL, "bad mode field", off, hname, hname_len);
		char flag = (char)h[H_TYPE];
		size_t data_off = it->pos + TAR_BLOCK;
		int meta = flag == 'x' || flag == 'g' || flag == 'L' || flag == 'K';
		uint64_t size = (uint64_t)hsize;
		if (!meta) {                    /* pax overrides the header's own size */
			if (x.size_set == 1)
				size = (uint64_t)x.size;
			else if (x.size_set == 0 && it->g_size_set)
				size = it->g_size;
		}
		/* the entry's name, for messages from here on */
		const char *name = hname;
		size_t name_len = hname_len;
		if (!meta) {
			int posix = !memcmp(h + H_MAGIC, "ustar\0", 6);
			size_t plen = posix ? field_len(h + H_PREFIX, H_PREFIX_N) : 0;
			if (x.path.set == 1) {
				name = x.path.p;
				name_len = x.path.len;
			} else if (gnu_name.set) {
				name = gnu_name.p;
				name_len = gnu_name.len;
			} else if (x.path.set == 0 && it->g_path.set == 1) {
				name = it->g_path.p;
				name_len = it->g_path.len;
			} else if (plen) {
				memcpy(it->ustar_name, h + H_PREFIX, plen);
				it->ustar_name[plen] = '/';
				memcpy(it->ustar_name + plen + 1, hname, hname_len);
				name = it->ustar_name;
				name_len = plen + 1 + hname_len;
			}
		}
		if (size > it->len - data_off)
			return fail(it, -EPIPE, "truncated: entry data runs past the archive's end", off, name,
				    name_len);
		const uint8_t *data = it->base + data_off;
		if (meta && flag != 'g' && !have_x && !gnu_name.set && !gnu_link.set)
			meta_off = off;
		it->pos = data_off + (size_t)((size + TAR_BLOCK - 1) & ~(uint64_t)(TAR_BLOCK - 1));
		if (flag == 'x' || flag == 'g') {
			if (flag == 'x' && have_x)
				return fail(it, -EINVAL, "two pax headers for one entry", off, hname, hname_len);
			struct pax px = { 0 };
			int rc = pax_parse(it, (const char *)data, (size_t)size, &px, off);
			if (rc)
				return rc;
			if (flag == 'x') {
				x = px;
				have_x = 1;
			} else {
				if (px.path.set)
					it->g_path = px.path.set > 0 ? px.path : (struct tar_str){ 0 };
				if (px.link.set)
					it->g_link = px.link.set > 0 ? px.link : (struct tar_str){ 0 };
				if (px.size_set) {
					it->g_size_set = px.size_set > 0;
					it->g_size = (uint64_t)px.size;
				}
				if (px.mtime_set) {
					it->g_mtime_set = px.mtime_set > 0;
					it->g_mtime = px.mtime;
				}
			}
			continue;
		}
		if (flag == 'L' || flag == 'K') {
			struct tar_str *s = flag == 'L' ? &gnu_name : &gnu_link;
			if (s->set)
				return fail(it, -EINVAL, "two GNU long-name headers for one entry", off, hname,
					    hname_len);
			s->p = (const char *)data;
			s->len = field_len(data, (size_t)size);
			s->set = 1;
			if (!s->len)
				return fail(it, -EINVAL, "empty GNU long name", off, hname, hname_len);
			continue;
		}

		memset(e, 0, sizeof *e);
		e->flag = flag;
		switch (flag) {
		case '0': case '\0': case '7': e->type = TAR_FILE; break;
		case '1': e->type = TAR_HARDLINK; break;
		case '2': e->type = TAR_SYMLINK; break;
		case '5': e->type = TAR_DIR; break;
		default: e->type = TAR_OTHER; break;
		}
		e->name = name;
		e->name_len = name_len;
		if (!name_len)
			return fail(it, -EINVAL, "entry with an empty name", off, NULL, 0);
		if (e->type == TAR_HARDLINK || e->type == TAR_SYMLINK) {
			if (x.link.set == 1) {
				e->link = x.link.p;
				e->link_len = x.link.len;
			} else if (gnu_link.set) {
				e->link = gnu_link.p;
				e->link_len = gnu_link.len;
			} else if (x.link.set == 0 && it->g_link.set == 1) {
				e->link = it->g_link.p;
				e->link_len = it->g_link.len;
			} else {
				e->link = (const char *)h + H_LINK;
				e->link_len = field_len(h + H_LINK, H_LINK_N);
			}
			if (!e->link_len)
				return fail(it, -EINVAL, "link with an empty target", off, name, name_len);
		}
		e->data = data;
		e->size = size;
		e->mtime = x.mtime_set == 1 ? x.mtime
			   : x.mtime_set == 0 && it->g_mtime_set ? it->g_mtime : mtime;
		e->mode = (uint32_t)mode & 07777;
		e->offset = off;
		return 1;
	}
}

char *tar_escape(const char *s, size_t len, char *buf, size_t n)
{
	size_t o = 0;
	if (!n)
		return buf;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t need = c < 0x20 || c >= 0x7f || c == '\\' || c == '\'' ? 4 : 1;
		if (o + need + 4 > n) {             /* room for "..." and the NUL */
			if (o + 4 <= n) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 4)
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o < n ? o : n - 1] = 0;
	return buf;
}

char *tar_error_format(const struct tar_iter *it, char *buf, size_t n)
{
	char name[160];
	if (!n)
		return buf;
	if (!it->err) {
		snprintf(buf, n, "tar: no error");
	} else if (it->err_name && it->err_name_len) {
		tar_escape(it->err_name, it->err_name_len, name, sizeof name);
		snprintf(buf, n, "tar: %s at offset %llu (entry '%s')", it->err,
			 (unsigned long long)it->err_off, name);
	} else {
		snprintf(buf, n, "tar: %s at offset %llu", it->err, (unsigned long long)it->err_off);
	}
	return buf;
}

/* "pollux.json" as a top-level name: "./" prefixes and doubled slashes
 * allowed, as tar -C dir . and hand-made archives spell it. */
static int is_config_name(const char *s, size_t n)
{
	while (n >= 2 && s[0] == '.' && s[1] == '/') {
		s += 2;
		n -= 2;
		while (n && s[0] == '/') {
			s++;
			n--;
		}
	}
	return n == 11 && !memcmp(s, "pollux.json", 11);
}

int tar_boot_config(const void *buf, size_t len, const char **config, size_t *config_len,
		    char *err, size_t errlen)
{
	if (!tar_is_archive(buf, len)) {
		*config = buf;
		*config_len = len;
		return 0;
	}
	struct tar_iter it;
	struct tar_entry e;
	const char *found = NULL;
	size_t found_len = 0;
	int rc;
	char name[160];
	tar_iter_init(&it, buf, len);
	while ((rc = tar_next(&it, &e)) > 0) {
		if (!is_config_name(e.name, e.name_len))
			continue;
		if (e.type != TAR_FILE) {
			snprintf(err, errlen, "boot archive: '%s' at offset %llu is not a regular file",
				 tar_escape(e.name, e.name_len, name, sizeof name), (unsigned long long)e.offset);
			return -EINVAL;
		}
		if (found) {
			snprintf(err, errlen, "boot archive: a second pollux.json at offset %llu",
				 (unsigned long long)e.offset);
			return -EINVAL;
		}
		found = (const char *)e.data;
		found_len = (size_t)e.size;
	}
	if (rc < 0) {
		char m[240];
		snprintf(err, errlen, "boot archive: %s", tar_error_format(&it, m, sizeof m));
		return -EINVAL;
	}
	if (!found) {
		snprintf(err, errlen, "boot archive: no pollux.json at the archive's top level "
				      "(make site DIR=... CONFIG=... puts it there)");
		return -EINVAL;
	}
	*config = found;
	*config_len = found_len;
	return 1;
}
