/*
 * httpd_site.h — the httpd appliance's site: a tar archive (core/tar.h)
 * indexed once into a read-only table of paths, each naming its bytes
 * inside the archive (never copied), size, mtime, strong ETag and
 * content type. Directories are entries too, so `/dir` can be answered
 * with a 301 and `/dir/` with `dir/index.html`.
 *
 * Building (httpd_site_build) runs on one core (boot, or the control
 * core for PUT /v1/site) and allocates one block with malloc; the index,
 * its hash table and every path live in it, so httpd_site_free releases
 * a replaced site in one call. Once built the site is immutable: any
 * core may call httpd_site_lookup and read the entries without locks or
 * atomics, provided the pointer to the site reached it through a release
 * store it read with acquire (publish-and-quiesce, src/sched), or through
 * the boot order. The archive is borrowed and must outlive the site
 * (opts.archive_free hands it back when the site is freed).
 *
 * The archive policy (docs/httpd.md, "Site archive"):
 *   refused, with the offending name and offset: a malformed or truncated
 *     archive, a bad header checksum, a name that is absolute, has a `..`
 *     component or a NUL byte, a name longer than max_path, two entries
 *     for one path (or a path both file and directory), more than
 *     max_files entries;
 *   skipped and counted: links (symbolic or hard) whose target is not a
 *     file of the site (outside the root, absolute, dangling, a
 *     directory, a loop or a chain over 8 links), and devices, fifos and
 *     other special entries;
 *   served: links inside the root, as their target file (its bytes,
 *     size, mtime and ETag; the content type from the link's own name);
 *   never served: the top-level `pollux.json` (the appliance's config
 *     when the site is the boot module).
 */
#ifndef POLLUX_HTTPD_SITE_H
#define POLLUX_HTTPD_SITE_H
#include <stddef.h>
#include <stdint.h>

#define HTTPD_SITE_MAX_FILES 65536      /* defaults of the bounds below */
#define HTTPD_SITE_MAX_PATH 1024
#define HTTPD_SITE_PATH_LIMIT 4096      /* the largest max_path accepted */
#define HTTPD_SITE_ETAG_MAX 40          /* with the quotes and the NUL */

struct httpd_site_opts {
	uint32_t max_files;             /* entries (files, dirs, links); 0: default */
	uint32_t max_path;              /* bytes of a normalised path; 0: default */
	const char *default_type;       /* for unknown extensions; NULL: application/octet-stream */
	/* called with the archive when the site is freed (NULL: nothing) */
	void (*archive_free)(const void *archive, void *ctx);
	void *archive_ctx;
};

enum httpd_site_kind { HTTPD_SITE_FILE, HTTPD_SITE_DIR };

/* One path of the site. Immutable after httpd_site_build. */
struct httpd_site_file {
	const char *path;               /* normalised, NUL-terminated, no leading '/' */
	uint32_t path_len;
	uint8_t kind;                   /* enum httpd_site_kind */
	uint8_t via_link;               /* a link resolved to its target */
	/* files */
	const uint8_t *data;            /* inside the archive */
	uint64_t size;
	int64_t mtime;                  /* seconds since the epoch (Last-Modified) */
	const char *type;               /* Content-Type value */
	char etag[HTTPD_SITE_ETAG_MAX]; /* "\"<size hex>-<hash hex>\"" with its quotes */
	/* directories: the dir's index.html file, or NULL */
	const struct httpd_site_file *index;
};

struct httpd_site_stats {
	uint32_t files, dirs;           /* in the index (dirs: the root included) */
	uint32_t links;                 /* links served as their target */
	uint32_t links_skipped;         /* target outside the site, dangling, a dir, a loop */
	uint32_t other_skipped;         /* devices, fifos, other special entries */
	uint32_t config_skipped;        /* the top-level pollux.json */
	uint64_t bytes;                 /* file data indexed (links counted once per path) */
	size_t block_bytes;             /* the one allocation */
};

struct httpd_site;

/* Indexes the archive (len bytes at archive, borrowed). 0 with *out set;
 * -EINVAL (a refused archive: err says why, naming the entry and its
 * offset), -E2BIG (a bound exceeded, likewise) or -ENOMEM; on error
 * nothing is allocated and archive_free is not called. */
int httpd_site_build(const void *archive, size_t len, const struct httpd_site_opts *o,
		     struct httpd_site **out, char *err, size_t errlen);
/* Frees the site and hands the archive to opts.archive_free. Only when
 * no core can still read the site (after quiescence). NULL is allowed. */
void httpd_site_free(struct httpd_site *s);

/* The entry for a normalised path: percent-decoded, no leading '/', no
 * trailing '/', no "." or ".." or empty segments; "" is the root. NULL
 * when the site has no such path. Any core; O(1): a probe of an
 * open-addressing table at most max-probe long. */
const struct httpd_site_file *httpd_site_lookup(const struct httpd_site *s, const char *path, size_t len);
/* Every entry, sorted by path (bytewise; the root "" first): for GET
 * /v1/site. i < httpd_site_count(s). */
size_t httpd_site_count(const struct httpd_site *s);
const struct httpd_site_file *httpd_site_at(const struct httpd_site *s, size_t i);
const struct httpd_site_stats *httpd_site_stats(const struct httpd_site *s);

/* The content type for a file name (its last path segment is used; the
 * longest matching suffix after a dot wins, case-insensitively), from
 * the table generated out of /etc/mime.types; dflt when none matches. */
const char *httpd_mime_type(const char *name, size_t len, const char *dflt);
#endif
