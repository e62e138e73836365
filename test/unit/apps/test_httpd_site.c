/*
 * test_httpd_site.c — the httpd site index: paths normalised and looked
 * up in O(1), bytes pointing into the archive, directories (named or
 * implied) with their index.html, content types from the generated
 * table, content-based ETags; every refusal of the archive policy with
 * the offending name and offset; links served as their target or skipped
 * and counted; pollux.json never served; bounds; one block freed once;
 * and an archive GNU tar wrote from a folder with a symlink.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "apps/httpd_site.h"
#include "../core/tar_build.h"

static char err[400];

static struct httpd_site *build(struct tb *t, const struct httpd_site_opts *o)
{
	struct httpd_site *s = NULL;
	int rc = httpd_site_build(t->buf, t->len, o, &s, err, sizeof err);
	cr_assert_eq(rc, 0, "refused: %s", err);
	return s;
}

static void refused(struct tb *t, const struct httpd_site_opts *o, int want, const char *why, const char *name,
		    uint64_t off)
{
	struct httpd_site *s = (void *)1;
	int rc = httpd_site_build(t->buf, t->len, o, &s, err, sizeof err);
	cr_assert_eq(rc, want, "rc %d (%s)", rc, err);
	cr_assert(s == (void *)1, "nothing returned");
	cr_assert(strstr(err, why), "'%s' lacks '%s'", err, why);
	if (name)
		cr_assert(strstr(err, name), "'%s' lacks the name %s", err, name);
	char at[40];
	snprintf(at, sizeof at, "at offset %llu", (unsigned long long)off);
	cr_assert(strstr(err, at), "'%s' lacks '%s'", err, at);
}

static const struct httpd_site_file *get(const struct httpd_site *s, const char *p)
{
	return httpd_site_lookup(s, p, strlen(p));
}

Test(site, files_and_directories_are_found_by_their_normalised_path)
{
	struct tb t = { 0 };
	tb_dir(&t, "./");
	tb_file(&t, "./index.html", "<h1>home</h1>");
	tb_dir(&t, "./docs/");
	tb_file(&t, "./docs/index.html", "<h1>docs</h1>");
	tb_file(&t, ".//docs/./guide.txt", "read me");
	tb_dir(&t, "./empty/");
	tb_end(&t);
	struct httpd_site *s = build(&t, NULL);
	const struct httpd_site_file *root = get(s, ""), *ix = get(s, "index.html"), *docs = get(s, "docs"),
				     *g = get(s, "docs/guide.txt"), *empty = get(s, "empty");
	cr_assert(root && root->kind == HTTPD_SITE_DIR && root->index == ix);
	cr_assert(ix && ix->kind == HTTPD_SITE_FILE && ix->size == 13);
	cr_assert(ix->data > t.buf && ix->data + ix->size <= t.buf + t.len, "bytes inside the archive, not copied");
	cr_assert(!memcmp(ix->data, "<h1>home</h1>", 13));
	cr_assert(docs && docs->kind == HTTPD_SITE_DIR && docs->index == get(s, "docs/index.html"));
	cr_assert(g && !memcmp(g->data, "read me", 7) && g->mtime == 1700000000);
	cr_assert(empty && empty->kind == HTTPD_SITE_DIR && !empty->index);
	cr_assert_null(get(s, "docs/"), "keys carry no trailing slash");
	cr_assert_null(get(s, "/index.html"), "nor a leading one");
	cr_assert_null(get(s, "missing.html"));
	cr_assert_null(get(s, "index.htm"));
	const struct httpd_site_stats *st = httpd_site_stats(s);
	cr_assert_eq(st->files, 3);
	cr_assert_eq(st->dirs, 3);
	cr_assert_eq(st->bytes, 13 + 13 + 7);
	cr_assert_gt(st->block_bytes, 0);
	/* the listing: sorted, the root first */
	cr_assert_eq(httpd_site_count(s), 6);
	const char *order[] = { "", "docs", "docs/guide.txt", "docs/index.html", "empty", "index.html" };
	for (size_t i = 0; i < 6; i++)
		cr_assert_str_eq(httpd_site_at(s, i)->path, order[i]);
	cr_assert_null(httpd_site_at(s, 6));
	httpd_site_free(s);
	tb_free(&t);
}

Test(site, directories_implied_by_names_are_directories)
{
	struct tb t = { 0 };
	tb_file(&t, "a/b/c.txt", "c");
	tb_file(&t, "a/index.html", "i");
	tb_end(&t);
	struct httpd_site *s = build(&t, NULL);
	cr_assert(get(s, "a")->kind == HTTPD_SITE_DIR);
	cr_assert(get(s, "a")->index == get(s, "a/index.html"));
	cr_assert(get(s, "a/b")->kind == HTTPD_SITE_DIR);
	cr_assert(!get(s, "")->index);
	cr_assert_eq(httpd_site_stats(s)->dirs, 3);
	httpd_site_free(s);
	tb_free(&t);
}

Test(site, content_types_come_from_the_generated_table)
{
	cr_assert_str_eq(httpd_mime_type("a/index.html", 12, "x/y"), "text/html; charset=utf-8");
	cr_assert_str_eq(httpd_mime_type("STYLE.CSS", 9, "x/y"), "text/css; charset=utf-8");
	cr_assert_str_eq(httpd_mime_type("app.js", 6, "x/y"), "text/javascript; charset=utf-8");
	cr_assert_str_eq(httpd_mime_type("logo.png", 8, "x/y"), "image/png");
	cr_assert_str_eq(httpd_mime_type("data.json", 9, "x/y"), "application/json");
	cr_assert_str_eq(httpd_mime_type("a.tar.gz", 8, "x/y"), "application/gzip");
	cr_assert_str_eq(httpd_mime_type("x.tm.json", 9, "x/y"), "application/tm+json", "longest suffix first");
	cr_assert_str_eq(httpd_mime_type("README", 6, "x/y"), "x/y");
	cr_assert_str_eq(httpd_mime_type(".css", 4, "x/y"), "x/y", "a dot file has no extension");
	cr_assert_str_eq(httpd_mime_type("dir.html/file", 13, "x/y"), "x/y", "only the last segment");
	cr_assert_str_eq(httpd_mime_type("a.", 2, "x/y"), "x/y");

	struct tb t = { 0 };
	tb_file(&t, "index.html", "h");
	tb_file(&t, "blob", "b");
	tb_end(&t);
	struct httpd_site *s = build(&t, NULL);
	cr_assert_str_eq(get(s, "index.html")->type, "text/html; charset=utf-8");
	cr_assert_str_eq(get(s, "blob")->type, "application/octet-stream");
	httpd_site_free(s);
	s = build(&t, &(struct httpd_site_opts){ .default_type = "text/plain" });
	cr_assert_str_eq(get(s, "blob")->type, "text/plain", "the caller's default");
	httpd_site_free(s);
	tb_free(&t);
}

Test(site, etags_follow_the_bytes_not_the_mtime_or_name)
{
	struct tb t = { 0 }, u = { 0 };
	tb_file(&t, "a.txt", "same bytes");
	tb_file(&t, "b.txt", "same bytes");
	tb_file(&t, "c.txt", "other bytes");
	tb_end(&t);
	tb_header(&u, "a.txt", '0', 10, NULL, 5);       /* another mtime */
	tb_data(&u, "same bytes", 10);
	tb_end(&u);
	struct httpd_site *s = build(&t, NULL), *s2 = build(&u, NULL);
	const char *ea = get(s, "a.txt")->etag;
	cr_assert(ea[0] == '"' && ea[strlen(ea) - 1] == '"', "%s", ea);
	cr_assert(!strncmp(ea, "\"a-", 3), "the size first: %s", ea);
	cr_assert_str_eq(ea, get(s, "b.txt")->etag);
	cr_assert_str_neq(ea, get(s, "c.txt")->etag);
	cr_assert_str_eq(ea, get(s2, "a.txt")->etag, "stable across builds and mtimes");
	cr_assert_eq(get(s2, "a.txt")->mtime, 5);
	httpd_site_free(s);
	httpd_site_free(s2);
	tb_free(&t);
	tb_free(&u);
}

Test(site, bad_names_are_refused_with_the_name_and_offset)
{
	static const char *bad[][2] = {
		{ "../etc/passwd", "'..' component" },
		{ "a/../../b", "'..' component" },
		{ "./ok/..", "'..' component" },
		{ "/etc/passwd", "absolute name" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct tb t = { 0 };
		tb_file(&t, "fine.html", "f");
		size_t h = tb_file(&t, bad[i][0], "x");
		tb_end(&t);
		char q[80];
		snprintf(q, sizeof q, "'%s'", bad[i][0]);
		refused(&t, NULL, -EINVAL, bad[i][1], q, h);
		tb_free(&t);
	}
	/* a NUL inside a pax path */
	struct tb t = { 0 };
	size_t h = tb_header(&t, "PaxHeader", 'x', 14, NULL, 0);
	tb_data(&t, "14 path=a\0b.c\n", 14);
	tb_file(&t, "x", "x");
	tb_end(&t);
	refused(&t, NULL, -EINVAL, "NUL byte", "'a\\x00b.c'", h + 1024);
	tb_free(&t);
}

Test(site, damaged_archives_are_refused_with_the_reader_s_reason)
{
	struct tb t = { 0 };
	tb_file(&t, "a", "1");
	size_t h = tb_file(&t, "page.html", "2");
	t.buf[h + 300] ^= 0x40;
	tb_end(&t);
	refused(&t, NULL, -EINVAL, "bad header checksum", "'page.html'", h);
	tb_free(&t);
	t = (struct tb){ 0 };
	tb_file(&t, "a", "1");
	refused(&t, NULL, -EINVAL, "truncated", NULL, 1024);
	tb_free(&t);
}

Test(site, a_path_named_twice_or_both_file_and_directory_is_refused)
{
	struct tb t = { 0 };
	tb_file(&t, "x.html", "1");
	size_t h = tb_file(&t, "./x.html", "2");
	tb_end(&t);
	refused(&t, NULL, -EINVAL, "a path named twice", "'x.html'", h);
	tb_free(&t);
	t = (struct tb){ 0 };
	tb_file(&t, "d", "1");
	h = tb_file(&t, "d/e", "2");
	tb_end(&t);
	refused(&t, NULL, -EINVAL, "both a directory and a file", "'d'", 0);
	(void)h;
	tb_free(&t);
	t = (struct tb){ 0 };
	tb_dir(&t, "d/");
	tb_dir(&t, "./d");                      /* a directory twice is one directory */
	tb_end(&t);
	httpd_site_free(build(&t, NULL));
	tb_free(&t);
}

Test(site, bounds_on_paths_and_entries_are_kept)
{
	char name[300];
	memset(name, 'n', 200);
	strcpy(name + 200, ".html");
	struct tb t = { 0 };
	char rec[320];
	snprintf(rec, sizeof rec, "path=%s", name);
	tb_file(&t, "ok", "1");
	size_t h = tb_pax(&t, 'x', (const char *[]){ rec, NULL });
	tb_file(&t, "cut", "2");
	tb_end(&t);
	refused(&t, &(struct httpd_site_opts){ .max_path = 100 }, -E2BIG, "longer than the site's max_path",
		"'nnnn", h + 1024);
	httpd_site_free(build(&t, &(struct httpd_site_opts){ .max_path = 205 }));
	tb_free(&t);

	t = (struct tb){ 0 };
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof name, "f%d", i);
		h = tb_file(&t, name, "x");
	}
	tb_end(&t);
	refused(&t, &(struct httpd_site_opts){ .max_files = 4 }, -E2BIG, "max_files", "'f4'", h);
	httpd_site_free(build(&t, &(struct httpd_site_opts){ .max_files = 5 }));
	tb_free(&t);
	/* directories implied by names count too */
	t = (struct tb){ 0 };
	tb_file(&t, "a/b/c/d", "x");
	tb_end(&t);
	struct httpd_site *s = NULL;
	cr_assert_eq(httpd_site_build(t.buf, t.len, &(struct httpd_site_opts){ .max_files = 2 }, &s, err, sizeof err),
		     -E2BIG, "%s", err);
	tb_free(&t);
}

Test(site, links_inside_the_root_are_served_as_their_target)
{
	struct tb t = { 0 };
	tb_file(&t, "v1/app.js", "console.log(1)");
	tb_link(&t, "latest.js", '2', "v1/app.js");
	tb_link(&t, "v1/again.txt", '2', "../latest.js");       /* a chain, and '..' inside the root */
	tb_link(&t, "hard.js", '1', "./v1/app.js");             /* a hard link names an archive path */
	tb_end(&t);
	struct httpd_site *s = build(&t, NULL);
	const struct httpd_site_file *f = get(s, "v1/app.js"), *l = get(s, "latest.js"), *c = get(s, "v1/again.txt"),
				     *hl = get(s, "hard.js");
	cr_assert(l && l->data == f->data && l->size == f->size && l->via_link);
	cr_assert_str_eq(l->etag, f->etag);
	cr_assert(c && c->data == f->data);
	cr_assert_str_eq(c->type, "text/plain; charset=utf-8", "the type follows the link's own name");
	cr_assert(hl && hl->data == f->data);
	cr_assert_eq(httpd_site_stats(s)->links, 3);
	cr_assert_eq(httpd_site_stats(s)->links_skipped, 0);
	httpd_site_free(s);
	tb_free(&t);
}

Test(site, links_that_leave_the_root_or_lead_nowhere_are_skipped_and_counted)
{
	struct tb t = { 0 };
	tb_file(&t, "index.html", "i");
	tb_dir(&t, "sub");
	tb_link(&t, "sub/out", '2', "../../etc/passwd");        /* leaves the root */
	tb_link(&t, "abs", '2', "/etc/passwd");                 /* absolute */
	tb_link(&t, "dangling", '2', "nothing.html");
	tb_link(&t, "todir", '2', "sub");                       /* a directory */
	tb_link(&t, "loop1", '2', "loop2");
	tb_link(&t, "loop2", '2', "loop1");
	tb_link(&t, "hardout", '1', "../x");
	tb_header(&t, "dev", '3', 0, NULL, 0);                  /* a character device */
	tb_end(&t);
	struct httpd_site *s = build(&t, NULL);
	static const char *gone[] = { "sub/out", "abs", "dangling", "todir", "loop1", "loop2", "hardout", "dev" };
	for (size_t i = 0; i < 8; i++)
		cr_assert_null(get(s, gone[i]), "%s is served", gone[i]);
	cr_assert_eq(httpd_site_stats(s)->links_skipped, 7);
	cr_assert_eq(httpd_site_stats(s)->other_skipped, 1);
	cr_assert_eq(httpd_site_stats(s)->links, 0);
	cr_assert(get(s, "index.html"));
	httpd_site_free(s);
	tb_free(&t);
}

Test(site, a_chain_of_links_longer_than_eight_is_skipped)
{
	struct tb t = { 0 };
	char name[16], target[16];
	tb_file(&t, "f", "x");
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof name, "l%02d", i);
		snprintf(target, sizeof target, i ? "l%02d" : "f", i - 1);
		tb_link(&t, name, '2', target);
	}
	tb_end(&t);
	struct httpd_site *s = build(&t, NULL);
	cr_assert(get(s, "l00") && get(s, "l07"), "8 links to reach f from l07");
	cr_assert_null(get(s, "l08"), "9 links");
	cr_assert_eq(httpd_site_stats(s)->links_skipped, 4);
	httpd_site_free(s);
	tb_free(&t);
}

Test(site, the_top_level_pollux_json_is_never_served)
{
	struct tb t = { 0 };
	tb_file(&t, "pollux.json", "{\"api\":{\"token\":\"secret\"}}");
	tb_file(&t, "docs/pollux.json", "{}");
	tb_file(&t, "index.html", "i");
	tb_end(&t);
	struct httpd_site *s = build(&t, NULL);
	cr_assert_null(get(s, "pollux.json"));
	cr_assert(get(s, "docs/pollux.json"), "only the top-level one is the config");
	cr_assert_eq(httpd_site_stats(s)->config_skipped, 1);
	httpd_site_free(s);
	tb_free(&t);
}

static int freed;
static void on_free(const void *a, void *ctx)
{
	freed++;
	cr_assert(a == ctx);
}

Test(site, freeing_the_site_hands_the_archive_back_once)
{
	struct tb t = { 0 };
	tb_file(&t, "a", "1");
	tb_end(&t);
	struct httpd_site *s = build(&t, &(struct httpd_site_opts){ .archive_free = on_free, .archive_ctx = t.buf });
	cr_assert_eq(freed, 0);
	httpd_site_free(s);
	cr_assert_eq(freed, 1);
	httpd_site_free(NULL);
	/* a refused archive is not handed back */
	t.len -= 1024;
	struct httpd_site *r = NULL;
	cr_assert_lt(httpd_site_build(t.buf, t.len, &(struct httpd_site_opts){ .archive_free = on_free,
										.archive_ctx = t.buf },
				      &r, err, sizeof err), 0);
	cr_assert_eq(freed, 1);
	tb_free(&t);
}

Test(site, thousands_of_paths_are_each_found_and_strangers_are_not)
{
	struct tb t = { 0 };
	char name[64];
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof name, "d%d/f%d.html", i % 37, i);
		tb_file(&t, name, name);
	}
	tb_end(&t);
	struct httpd_site *s = build(&t, NULL);
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof name, "d%d/f%d.html", i % 37, i);
		const struct httpd_site_file *f = get(s, name);
		cr_assert(f && f->size == strlen(name) && !memcmp(f->data, name, f->size), "%s", name);
		snprintf(name, sizeof name, "d%d/f%d.html", i % 37 + 1, i);
		cr_assert_null(get(s, name), "%s", name);
	}
	cr_assert_eq(httpd_site_stats(s)->files, 3000);
	cr_assert_eq(httpd_site_stats(s)->dirs, 38);
	httpd_site_free(s);
	tb_free(&t);
}

Test(site, a_folder_archived_by_gnu_tar_with_a_symlink)
{
	char dir[256], cmd[1024], path[300];
	snprintf(dir, sizeof dir, "%s/pollux-site-XXXXXX", P_tmpdir);
	cr_assert(mkdtemp(dir));
	snprintf(cmd, sizeof cmd,
		 "cd %s && mkdir -p site/css site/blog && printf '<h1>' > site/index.html"
		 " && printf 'b{}' > site/css/main.css && printf 'post' > site/blog/index.html"
		 " && ln -s blog/index.html site/news.html && ln -s /etc/hostname site/escape"
		 " && tar --format=pax -cf out.tar -C site .",
		 dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof path, "%s/out.tar", dir);
	FILE *f = fopen(path, "rb");
	cr_assert(f);
	struct tb t = { 0 };
	tb_room(&t, 1 << 20);
	t.len = fread(t.buf, 1, t.cap, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	struct httpd_site *s = build(&t, NULL);
	cr_assert(get(s, "")->index == get(s, "index.html"));
	cr_assert_str_eq(get(s, "css/main.css")->type, "text/css; charset=utf-8");
	cr_assert(get(s, "blog")->index && !memcmp(get(s, "blog")->index->data, "post", 4));
	cr_assert(get(s, "news.html")->data == get(s, "blog/index.html")->data);
	cr_assert_null(get(s, "escape"));
	cr_assert_eq(httpd_site_stats(s)->links_skipped, 1);
	httpd_site_free(s);
	tb_free(&t);
}
