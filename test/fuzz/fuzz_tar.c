/*
 * fuzz_tar.c — libFuzzer target: the tar reader (src/core/tar.c), the
 * boot module split and the httpd site index (src/apps/httpd_site.c) on
 * hostile archives. Each input runs twice: as given, and with every
 * header's checksum fixed along the walk (so mutations of header fields
 * get past the checksum and reach the rest), and the index is built with
 * the default bounds and with tight ones (8 entries, 24-byte paths).
 *
 * What must hold (else abort):
 *  - the reader: each entry's header offset is block-aligned and past the
 *    last one, its data and name lie inside the archive (or the name in
 *    the iterator's prefix buffer), a link has a target; an error is
 *    latched and formats as one printable line;
 *  - the boot split: 0 hands the module back unchanged, 1 points inside
 *    it, a refusal says "boot archive: " in one printable line;
 *  - the index: refused with "site: " in one printable line, or built:
 *    every path normalised (no leading or trailing '/', no empty, "." or
 *    ".." segment, no NUL), sorted and unique, found by lookup as
 *    itself; file bytes inside the archive; a directory's index is the
 *    file path/index.html; the root present; no top-level pollux.json;
 *    the stats add up to the entry count; within the bounds.
 * Seeds: test/fuzz/corpus/tar/ (archives GNU tar wrote: gnu, pax and
 * ustar formats, directories, symlinks in and out of the root, hard
 * links, long names, a pollux.json; made by gen_tar.sh).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/tar.h"
#include "apps/httpd_site.h"
#include "../unit/core/tar_build.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static void printable(const char *s)
{
	CHECK(*s);
	for (; *s; s++)
		CHECK(*s >= 0x20 && *s < 0x7f);
}

static int inside(const void *p, size_t n, const uint8_t *base, size_t len)
{
	const uint8_t *q = p;
	return q >= base && q <= base + len && n <= (size_t)(base + len - q);
}

static void reader(const uint8_t *d, size_t n)
{
	struct tar_iter it;
	struct tar_entry e;
	int rc;
	uint64_t last = 0;
	int first = 1;
	tar_iter_init(&it, d, n);
	while ((rc = tar_next(&it, &e)) > 0) {
		CHECK(e.offset % TAR_BLOCK == 0);
		CHECK(first || e.offset > last);
		first = 0;
		last = e.offset;
		CHECK(e.name_len > 0);
		CHECK(inside(e.name, e.name_len, d, n) ||
		      inside(e.name, e.name_len, (const uint8_t *)it.ustar_name, sizeof it.ustar_name));
		CHECK(inside(e.data, (size_t)e.size, d, n));
		if (e.type == TAR_HARDLINK || e.type == TAR_SYMLINK)
			CHECK(e.link_len > 0 && inside(e.link, e.link_len, d, n));
	}
	char msg[300];
	if (rc < 0) {
		tar_error_format(&it, msg, sizeof msg);
		CHECK(!strncmp(msg, "tar: ", 5));
		printable(msg);
		CHECK(tar_next(&it, &e) == rc);
	} else {
		CHECK(tar_next(&it, &e) == 0);
	}

	const char *c;
	size_t cl;
	char err[400] = "";
	rc = tar_boot_config(d, n, &c, &cl, err, sizeof err);
	if (rc == 0)
		CHECK(c == (const char *)d && cl == n);
	else if (rc == 1)
		CHECK(inside(c, cl, d, n));
	else {
		CHECK(rc == -EINVAL && !strncmp(err, "boot archive: ", 14));
		printable(err);
	}
}

static int seg_ok(const char *p, size_t n)
{
	if (!n)
		return 1;                       /* the root */
	if (p[0] == '/' || p[n - 1] == '/' || memchr(p, 0, n))
		return 0;
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && p[j] != '/')
			j++;
		if (j == i || (j - i == 1 && p[i] == '.') || (j - i == 2 && p[i] == '.' && p[i + 1] == '.'))
			return 0;
		i = j + 1;
	}
	return 1;
}

static void index_site(const uint8_t *d, size_t n, const struct httpd_site_opts *o)
{
	struct httpd_site *s = NULL;
	char err[400] = "";
	int rc = httpd_site_build(d, n, o, &s, err, sizeof err);
	if (rc) {
		CHECK(rc == -EINVAL || rc == -E2BIG);
		CHECK(!strncmp(err, "site: ", 6));
		printable(err);
		return;
	}
	size_t count = httpd_site_count(s);
	const struct httpd_site_stats *st = httpd_site_stats(s);
	CHECK(count == (size_t)st->files + st->dirs);
	CHECK(count >= 1 && httpd_site_at(s, 0)->path_len == 0 && httpd_site_at(s, 0)->kind == HTTPD_SITE_DIR);
	CHECK(!o->max_files || count <= (size_t)o->max_files + 1);
	CHECK(!httpd_site_lookup(s, "pollux.json", 11));
	for (size_t i = 0; i < count; i++) {
		const struct httpd_site_file *f = httpd_site_at(s, i);
		CHECK(strlen(f->path) == f->path_len);
		CHECK(seg_ok(f->path, f->path_len));
		CHECK(!o->max_path || f->path_len <= o->max_path);
		CHECK(httpd_site_lookup(s, f->path, f->path_len) == f);
		if (i) {
			const struct httpd_site_file *p = httpd_site_at(s, i - 1);
			size_t m = p->path_len < f->path_len ? p->path_len : f->path_len;
			int c = memcmp(p->path, f->path, m);
			CHECK(c < 0 || (c == 0 && p->path_len < f->path_len));
		}
		if (f->kind == HTTPD_SITE_FILE) {
			CHECK(inside(f->data, (size_t)f->size, d, n));
			CHECK(f->type && f->etag[0] == '"');
			CHECK(!f->index);
		} else if (f->index) {
			const struct httpd_site_file *x = f->index;
			CHECK(x->kind == HTTPD_SITE_FILE);
			CHECK(x->path_len == f->path_len + (f->path_len ? 11 : 10));
			CHECK(!memcmp(x->path, f->path, f->path_len));
			CHECK(!strcmp(x->path + x->path_len - 10, "index.html"));
		}
	}
	httpd_site_free(s);
}

/* The input with each header's checksum made right, following the walk
 * by the header's own size field (pax sizes aside). */
static void fix_checksums(struct tb *t)
{
	size_t pos = 0;
	while (pos <= t->len && t->len - pos >= TAR_BLOCK) {
		uint8_t *h = t->buf + pos;
		int zero = 1;
		for (int i = 0; i < TAR_BLOCK && zero; i++)
			zero = !h[i];
		if (zero)
			break;
		tb_fix_checksum(t, pos);
		uint64_t size = 0;
		for (int i = 124; i < 136 && h[i] >= '0' && h[i] <= '7'; i++)
			size = size << 3 | (uint64_t)(h[i] - '0');
		if (size > t->len)
			break;
		pos += TAR_BLOCK + (size_t)((size + TAR_BLOCK - 1) & ~(uint64_t)(TAR_BLOCK - 1));
	}
}

static void one(const uint8_t *d, size_t n)
{
	reader(d, n);
	index_site(d, n, &(struct httpd_site_opts){ 0 });
	index_site(d, n, &(struct httpd_site_opts){ .max_files = 8, .max_path = 24, .default_type = "x/y" });
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so ASan sees any read past the end */
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	one(copy, size);
	struct tb t = { .buf = copy, .len = size, .cap = size };
	fix_checksums(&t);
	one(copy, size);
	free(copy);
	return 0;
}
