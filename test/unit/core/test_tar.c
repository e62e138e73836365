/*
 * test_tar.c — the in-memory tar reader: every entry type, ustar
 * prefixes, pax per-file and global records (path, linkpath, size,
 * mtime, deletion by an empty value), GNU long names, base-256 sizes;
 * every refusal (bad magic, bad checksum, truncation anywhere, malformed
 * pax records, dangling extended headers) with its offset and name; and
 * archives written by GNU tar itself in its three formats. Then the boot
 * module split: JSON passes through, an archive yields its pollux.json.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "core/tar.h"
#include "stubs.h"
#include "tar_build.h"

static int walk(const struct tb *t, struct tar_entry *es, int max, struct tar_iter *it)
{
	static struct tar_iter local;           /* names may point into it */
	if (!it)
		it = &local;
	tar_iter_init(it, t->buf, t->len);
	int n = 0, rc;
	while ((rc = tar_next(it, &es[n < max ? n : max - 1])) > 0)
		n++;
	return rc < 0 ? rc : n;
}

static int name_is(const struct tar_entry *e, const char *s)
{
	return e->name_len == strlen(s) && !memcmp(e->name, s, e->name_len);
}

Test(tar, an_archive_of_only_the_end_marker_has_no_entries)
{
	struct tb t = { 0 };
	struct tar_entry e[2];
	tb_end(&t);
	cr_assert_eq(walk(&t, e, 2, NULL), 0);
	tb_free(&t);
}

Test(tar, each_entry_type_comes_back_with_its_data_inside_the_archive)
{
	struct tb t = { 0 };
	struct tar_entry e[8];
	tb_dir(&t, "./");
	tb_file(&t, "./index.html", "<h1>hi</h1>\n");
	tb_link(&t, "./same", '1', "./index.html");
	tb_link(&t, "./sym", '2', "index.html");
	tb_header(&t, "./fifo", '6', 0, NULL, 5);
	tb_end(&t);
	cr_assert_eq(walk(&t, e, 8, NULL), 5);
	cr_assert_eq(e[0].type, TAR_DIR);
	cr_assert(name_is(&e[0], "./"));
	cr_assert_eq(e[1].type, TAR_FILE);
	cr_assert_eq(e[1].size, 12);
	cr_assert_eq(e[1].mtime, 1700000000);
	cr_assert_eq(e[1].mode, 0644);
	cr_assert_eq(e[1].offset, 512);
	cr_assert(e[1].data == t.buf + 1024, "the data is not copied");
	cr_assert(!memcmp(e[1].data, "<h1>hi</h1>\n", 12));
	cr_assert_eq(e[2].type, TAR_HARDLINK);
	cr_assert(e[2].link_len == 12 && !memcmp(e[2].link, "./index.html", 12));
	cr_assert_eq(e[3].type, TAR_SYMLINK);
	cr_assert(e[3].link_len == 10 && !memcmp(e[3].link, "index.html", 10));
	cr_assert_eq(e[4].type, TAR_OTHER);
	cr_assert_eq(e[4].flag, '6');
	tb_free(&t);
}

Test(tar, a_ustar_prefix_and_name_are_joined_with_a_slash)
{
	char longname[200];
	memset(longname, 'p', 120);
	memcpy(longname + 120, "/file.txt", 10);
	struct tb t = { 0 };
	struct tar_entry e[2];
	tb_file(&t, longname, "x");
	tb_end(&t);
	cr_assert_eq(walk(&t, e, 2, NULL), 1);
	cr_assert(name_is(&e[0], longname), "got %.*s", (int)e[0].name_len, e[0].name);
	tb_free(&t);
}

Test(tar, pax_records_override_path_linkpath_size_and_mtime)
{
	char path[400] = "deep/";
	memset(path + 5, 'n', 300);
	char rec[420];
	snprintf(rec, sizeof rec, "path=%s", path);
	struct tb t = { 0 };
	struct tar_entry e[3];
	tb_pax(&t, 'x', (const char *[]){ rec, "mtime=1234567890.123456789", "comment=ignored", NULL });
	tb_file(&t, "short", "abc");
	tb_pax(&t, 'x', (const char *[]){ "linkpath=a/very/long/target", "mtime=-5", NULL });
	tb_link(&t, "l", '2', "ignored");
	/* size: the header says 0, pax says 5; the data is 5 bytes */
	tb_pax(&t, 'x', (const char *[]){ "size=5", NULL });
	tb_header(&t, "big", '0', 0, NULL, 7);
	tb_data(&t, "12345", 5);
	tb_end(&t);
	cr_assert_eq(walk(&t, e, 3, NULL), 3);
	cr_assert(name_is(&e[0], path));
	cr_assert_eq(e[0].mtime, 1234567890);
	cr_assert_eq(e[0].size, 3);
	cr_assert(e[1].link_len == 18 && !memcmp(e[1].link, "a/very/long/target", 18));
	cr_assert_eq(e[1].mtime, -5);
	cr_assert(name_is(&e[2], "big"));
	cr_assert_eq(e[2].size, 5);
	cr_assert(!memcmp(e[2].data, "12345", 5));
	cr_assert_eq(e[2].mtime, 7);
	tb_free(&t);
}

Test(tar, a_global_pax_mtime_holds_until_overridden_or_deleted)
{
	struct tb t = { 0 };
	struct tar_entry e[4];
	tb_pax(&t, 'g', (const char *[]){ "mtime=42", NULL });
	tb_file(&t, "a", "1");
	tb_pax(&t, 'x', (const char *[]){ "mtime=43", NULL });
	tb_file(&t, "b", "2");
	tb_file(&t, "c", "3");
	tb_pax(&t, 'g', (const char *[]){ "mtime=", NULL });
	tb_file(&t, "d", "4");
	tb_end(&t);
	cr_assert_eq(walk(&t, e, 4, NULL), 4);
	cr_assert_eq(e[0].mtime, 42);
	cr_assert_eq(e[1].mtime, 43);
	cr_assert_eq(e[2].mtime, 42);
	cr_assert_eq(e[3].mtime, 1700000000, "the header's own mtime once the global is deleted");
	tb_free(&t);
}

Test(tar, gnu_long_name_and_long_link_headers_name_the_next_entry)
{
	char name[300];
	memset(name, 'g', 250);
	name[250] = 0;
	struct tb t = { 0 };
	struct tar_entry e[2];
	tb_gnu_long(&t, 'L', name);
	tb_gnu_long(&t, 'K', "target/of/the/link");
	tb_link(&t, "cut", '2', "cut");
	tb_end(&t);
	cr_assert_eq(walk(&t, e, 2, NULL), 1);
	cr_assert(name_is(&e[0], name));
	cr_assert(e[0].link_len == 18 && !memcmp(e[0].link, "target/of/the/link", 18));
	tb_free(&t);
}

Test(tar, a_base_256_size_and_a_signed_checksum_are_read)
{
	struct tb t = { 0 };
	struct tar_entry e[2];
	size_t h = tb_header(&t, "b256", '0', 0, NULL, 1);
	memset(t.buf + h + 124, 0, 12);
	t.buf[h + 124] = 0x80;
	t.buf[h + 135] = 3;                     /* size 3, base-256 */
	t.buf[h + 20] = 0xe9;                   /* a high byte: signed and unsigned sums differ */
	memset(t.buf + h + 148, ' ', 8);
	int sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (int8_t)t.buf[h + i];
	snprintf((char *)t.buf + h + 148, 8, "%06o", sum);
	tb_data(&t, "xyz", 3);
	tb_end(&t);
	cr_assert_eq(walk(&t, e, 2, NULL), 1);
	cr_assert_eq(e[0].size, 3);
	tb_free(&t);
}

static void expect_error(struct tb *t, int want, const char *what, uint64_t off, const char *name)
{
	struct tar_entry e[8];
	struct tar_iter it;
	char msg[300];
	int rc = walk(t, e, 8, &it);
	cr_assert_eq(rc, want, "rc %d, want %d (%s)", rc, want, tar_error_format(&it, msg, sizeof msg));
	tar_error_format(&it, msg, sizeof msg);
	cr_assert(strstr(msg, what), "'%s' lacks '%s'", msg, what);
	char at[40];
	snprintf(at, sizeof at, "at offset %llu", (unsigned long long)off);
	cr_assert(strstr(msg, at), "'%s' lacks '%s'", msg, at);
	if (name)
		cr_assert(strstr(msg, name), "'%s' lacks the name '%s'", msg, name);
	cr_assert_eq(tar_next(&it, e), want, "the error is latched");
}

Test(tar, a_bad_checksum_is_refused_with_the_name_and_offset)
{
	struct tb t = { 0 };
	tb_file(&t, "good", "1");
	size_t h = tb_file(&t, "evil.html", "2");
	t.buf[h + 200] ^= 1;
	tb_end(&t);
	expect_error(&t, -EINVAL, "bad header checksum", h, "'evil.html'");
	tb_free(&t);
}

Test(tar, a_header_without_the_ustar_magic_is_refused)
{
	struct tb t = { 0 };
	size_t h = tb_file(&t, "v7", "1");
	memcpy(t.buf + h + 257, "xxxxx", 5);
	tb_fix_checksum(&t, h);
	tb_end(&t);
	expect_error(&t, -EINVAL, "bad magic", 0, "'v7'");
	tb_free(&t);
}

Test(tar, an_archive_without_its_end_marker_is_truncated)
{
	struct tb t = { 0 };
	tb_file(&t, "a", "1");
	expect_error(&t, -EPIPE, "no end-of-archive marker", 1024, NULL);
	tb_free(&t);
}

Test(tar, an_archive_cut_inside_a_header_or_data_is_truncated)
{
	struct tb t = { 0 };
	tb_file(&t, "a", "1");
	size_t h = tb_header(&t, "big", '0', 4096, NULL, 0);
	tb_data(&t, "abc", 3);
	tb_end(&t);
	expect_error(&t, -EPIPE, "entry data runs past", h, "'big'");
	t.len = 1024 + 100;                     /* cut inside the second header */
	expect_error(&t, -EPIPE, "partial header", 1024, NULL);
	tb_free(&t);
}

Test(tar, malformed_pax_records_are_refused)
{
	static const char *bad[] = {
		"99 path=x\n",                  /* longer than the data */
		"11 path=xyz",                  /* no newline (length fits) */
		"9 nokey\n\n",                  /* no '=' */
		"x path=a\n",                   /* no length */
		"12 size=1a2\n",                /* not a number */
		"14 mtime=1.2.3\n",             /* two dots */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct tb t = { 0 };
		struct tar_entry e[2];
		struct tar_iter it;
		tb_pax_raw(&t, 'x', bad[i]);
		tb_file(&t, "f", "1");
		tb_end(&t);
		cr_assert_eq(walk(&t, e, 2, &it), -EINVAL, "record %zu accepted", i);
		cr_assert(strstr(it.err, "pax"), "record %zu: %s", i, it.err);
		tb_free(&t);
	}
}

Test(tar, an_extended_header_must_be_followed_by_one_entry)
{
	struct tb t = { 0 };
	tb_pax(&t, 'x', (const char *[]){ "path=p", NULL });
	tb_end(&t);
	expect_error(&t, -EINVAL, "not followed by an entry", 0, NULL);
	tb_free(&t);
	t = (struct tb){ 0 };
	tb_pax(&t, 'x', (const char *[]){ "path=p", NULL });
	size_t h = tb_pax(&t, 'x', (const char *[]){ "path=q", NULL });
	tb_file(&t, "f", "1");
	tb_end(&t);
	expect_error(&t, -EINVAL, "two pax headers", h, NULL);
	tb_free(&t);
}

Test(tar, a_pax_size_past_the_archive_end_is_truncated)
{
	struct tb t = { 0 };
	tb_pax(&t, 'x', (const char *[]){ "size=99999999", NULL });
	tb_file(&t, "f", "1");
	tb_end(&t);
	expect_error(&t, -EPIPE, "runs past", 1024, "'f'");
	tb_free(&t);
}

Test(tar, error_names_are_escaped_for_the_console)
{
	char buf[64];
	tar_escape("a\nb\x1b[31m\xff", 9, buf, sizeof buf);
	cr_assert_str_eq(buf, "a\\x0ab\\x1b[31m\\xff");
	char big[1000];
	memset(big, 'z', sizeof big);
	tar_escape(big, sizeof big, buf, sizeof buf);
	cr_assert_eq(strlen(buf), 63, "%zu", strlen(buf));
	cr_assert(!strcmp(buf + strlen(buf) - 3, "..."));
}

/* ---- archives GNU tar wrote */
static struct tb gnu_tar(const char *format, const char *extra)
{
	char dir[256], cmd[1024], path[300];
	snprintf(dir, sizeof dir, "%s/pollux-tar-XXXXXX", P_tmpdir);
	cr_assert(mkdtemp(dir));
	snprintf(cmd, sizeof cmd,
		 "cd %s && mkdir -p site/sub && printf '<p>' > site/index.html && printf 'body{}' > site/sub/a.css"
		 " && ln -s ../index.html site/sub/up.html && %s"
		 " tar --format=%s -cf out.tar -C site .",
		 dir, extra, format);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(path, sizeof path, "%s/out.tar", dir);
	FILE *f = fopen(path, "rb");
	cr_assert(f);
	struct tb t = { 0 };
	tb_room(&t, 1 << 20);
	t.len = fread(t.buf, 1, t.cap, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	return t;
}

static void check_gnu_tar(const char *format, const char *extra, const char *longname)
{
	struct tb t = gnu_tar(format, extra);
	struct tar_entry e[16];
	int n = walk(&t, e, 16, NULL);
	cr_assert_geq(n, 5, "%s: %d", format, n);
	int seen = 0;
	for (int i = 0; i < n; i++) {
		if (name_is(&e[i], "./index.html"))
			{
			seen |= 1;
			cr_assert(e[i].size == 3 && !memcmp(e[i].data, "<p>", 3));
		}
		if (name_is(&e[i], "./sub/a.css"))
			{
			seen |= 2;
			cr_assert(e[i].size == 6 && !memcmp(e[i].data, "body{}", 6));
		}
		if (name_is(&e[i], "./sub/up.html"))
			{
			seen |= 4;
			cr_assert(e[i].type == TAR_SYMLINK && e[i].link_len == 13);
		}
		if (longname && e[i].name_len > 200 && strstr(e[i].name, longname))
			seen |= 8;
	}
	cr_assert_eq(seen, longname ? 15 : 7, "%s: seen %x", format, seen);
	tb_free(&t);
}

#define LONG "llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll"
#define MKLONG "mkdir -p site/" LONG " && printf x > site/" LONG "/" LONG ".txt &&"

Test(tar, archives_from_gnu_tar_in_its_gnu_format)
{
	check_gnu_tar("gnu", MKLONG, LONG ".txt");
}
Test(tar, archives_from_gnu_tar_in_pax_format)
{
	check_gnu_tar("pax", MKLONG, LONG ".txt");
}
Test(tar, archives_from_gnu_tar_in_ustar_format)
{
	check_gnu_tar("ustar", "", NULL);
}

/* ---- the boot module */
Test(tar_boot, a_json_module_passes_through)
{
	const char *json = "{\"app\":\"echo\"}", *c;
	size_t n;
	char err[200];
	cr_assert(!tar_is_archive(json, strlen(json)));
	cr_assert_eq(tar_boot_config(json, strlen(json), &c, &n, err, sizeof err), 0);
	cr_assert(c == json && n == strlen(json));
}

Test(tar_boot, an_archive_yields_its_top_level_pollux_json)
{
	struct tb t = { 0 };
	const char *c;
	size_t n;
	char err[200];
	tb_dir(&t, "./");
	tb_file(&t, "./sub/pollux.json", "{\"not\":\"this\"}");
	tb_file(&t, "./pollux.json", "{\"app\":\"echo\"}");
	tb_file(&t, "./index.html", "hi");
	tb_end(&t);
	cr_assert(tar_is_archive(t.buf, t.len));
	cr_assert_eq(tar_boot_config(t.buf, t.len, &c, &n, err, sizeof err), 1, "%s", err);
	cr_assert(n == 14 && !memcmp(c, "{\"app\":\"echo\"}", 14));
	cr_assert(c > (const char *)t.buf && c < (const char *)t.buf + t.len, "inside the archive");
	tb_free(&t);
}

static void boot_refused(struct tb *t, const char *why)
{
	const char *c;
	size_t n;
	char err[300];
	cr_assert_eq(tar_boot_config(t->buf, t->len, &c, &n, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, why), "'%s' lacks '%s'", err, why);
	cr_assert(!strncmp(err, "boot archive: ", 14), "%s", err);
}

Test(tar_boot, an_archive_without_pollux_json_or_with_two_is_refused)
{
	struct tb t = { 0 };
	tb_file(&t, "index.html", "hi");
	tb_end(&t);
	boot_refused(&t, "no pollux.json");
	tb_free(&t);
	t = (struct tb){ 0 };
	tb_file(&t, "pollux.json", "{}");
	tb_file(&t, "./pollux.json", "{}");
	tb_end(&t);
	boot_refused(&t, "a second pollux.json");
	tb_free(&t);
	t = (struct tb){ 0 };
	tb_dir(&t, "pollux.json");
	tb_end(&t);
	boot_refused(&t, "not a regular file");
	tb_free(&t);
}

Test(tar_boot, a_damaged_archive_is_refused_with_the_reader_s_reason)
{
	struct tb t = { 0 };
	tb_file(&t, "pollux.json", "{}");
	size_t h = tb_file(&t, "x", "1");
	t.buf[h + 1] = 'y';
	tb_end(&t);
	boot_refused(&t, "bad header checksum at offset 1024 (entry 'xy')");
	t.len -= 1024;                          /* and no end marker */
	tb_fix_checksum(&t, h);
	boot_refused(&t, "truncated");
	tb_free(&t);
}
