/*
 * tar.h — a reader for tar archives held in memory (POSIX ustar and pax,
 * plus the GNU long-name and long-link headers): it walks the entries of
 * an archive, allocating nothing and copying no file data. Each entry's
 * data is a pointer into the archive.
 *
 * Checked on every header, before anything from it is used: the ustar
 * magic ("ustar\0" "00", or GNU's "ustar  \0"), the header checksum
 * (unsigned sum, or signed as very old tars wrote it), numeric fields
 * (octal, or GNU base-256 for large values), that the entry's data and
 * every extended header's data lie inside the archive, that extended
 * header records are well formed, and that the archive ends with the
 * end-of-archive marker (a zero block): an archive cut short, even at an
 * entry boundary, is refused as truncated.
 *
 * Pax extended headers: `path`, `linkpath`, `size` and `mtime`, per file
 * ('x') and global ('g', applying to every later entry until overridden;
 * an empty value deletes the key, as POSIX says); other keywords are
 * ignored. GNU 'L' and 'K' headers give the next entry's name and link
 * target. Names and link targets are (pointer, length) pairs, not
 * NUL-terminated, and are reported as the archive spells them: callers
 * normalise (and refuse `..`, absolute names) themselves.
 *
 * Errors: tar_next returns a negative errno and leaves what went wrong,
 * the byte offset of the header at fault and the entry's name (when the
 * header got that far) in the iterator; tar_error_format prints them on
 * one line with control bytes escaped, fit for a console.
 *
 * Pure logic, any core, no allocation. The archive is borrowed: it must
 * outlive the iterator and every entry taken from it.
 */
#ifndef POLLUX_TAR_H
#define POLLUX_TAR_H
#include <stddef.h>
#include <stdint.h>

#define TAR_BLOCK 512

enum tar_type {
	TAR_FILE,                       /* '0', '\0', '7' (contiguous) */
	TAR_HARDLINK,                   /* '1': link names another entry */
	TAR_SYMLINK,                    /* '2' */
	TAR_DIR,                        /* '5' */
	TAR_OTHER,                      /* devices, fifos, GNU sparse...: flag says which */
};

struct tar_entry {
	enum tar_type type;
	char flag;                      /* the typeflag byte as written */
	const char *name;               /* not NUL-terminated */
	size_t name_len;
	const char *link;               /* link target (links only, else len 0) */
	size_t link_len;
	const uint8_t *data;            /* inside the archive */
	uint64_t size;
	int64_t mtime;                  /* seconds since the epoch */
	uint32_t mode;
	uint64_t offset;                /* of the entry's own header */
};

/* A pax value kept from a global header: (pointer into the archive, len). */
struct tar_str {
	const char *p;
	size_t len;
	int set;
};

struct tar_iter {
	const uint8_t *base;
	size_t len;
	size_t pos;                     /* the next header's offset */
	int done;                       /* 1 end seen, -1 error latched */
	/* pax globals ('g'), in force until a later 'g' changes them */
	struct tar_str g_path, g_link;
	uint64_t g_size;
	int64_t g_mtime;
	int g_size_set, g_mtime_set;
	/* a ustar name with a prefix is rebuilt here: prefix '/' name */
	char ustar_name[156 + 100 + 1];
	/* the last error: what, where, and the entry's name if known */
	const char *err;
	uint64_t err_off;
	const char *err_name;
	size_t err_name_len;
};

/* Starts walking an archive of len bytes at base. */
void tar_iter_init(struct tar_iter *it, const void *base, size_t len);
/* The next entry (extended headers are consumed, not returned): 1 with *e
 * filled, 0 at the end-of-archive marker, or -EINVAL (a malformed header
 * or record) / -EPIPE (truncated: data or the end marker missing); after
 * an error every later call returns the same error. */
int tar_next(struct tar_iter *it, struct tar_entry *e);
/* "tar: <what> at offset N (entry 'name')" into buf (always terminated);
 * returns buf. */
char *tar_error_format(const struct tar_iter *it, char *buf, size_t n);
/* Writes s (len bytes) into buf with control and non-ASCII bytes as \xHH,
 * truncated with "..." to fit n; returns buf. For log lines naming
 * entries from an untrusted archive. */
char *tar_escape(const char *s, size_t len, char *buf, size_t n);

/* True when the bytes look like a tar archive (ustar magic at 257 of a
 * first block); the header is not checked further. */
int tar_is_archive(const void *buf, size_t len);

/* The boot module as the platforms read it: a JSON config, or a tar
 * archive holding the config as its one top-level `pollux.json` (spelled
 * "pollux.json" or "./pollux.json") next to an appliance's files. When
 * module is an archive, walks all of it (every header checked), points
 * *config and *config_len at pollux.json's bytes inside it and returns 1;
 * when it is not (no ustar magic at offset 257), hands module back as the
 * config and returns 0; -EINVAL with err filled when the archive is
 * malformed, has no pollux.json, more than one, or one that is not a
 * regular file. */
int tar_boot_config(const void *module, size_t len, const char **config, size_t *config_len,
		    char *err, size_t errlen);
#endif
