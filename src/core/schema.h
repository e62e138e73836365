/*
 * schema.h — the config described once: tables of struct schema_node that
 * validate a JSON document, fill a typed config struct from it, and render
 * it as a JSON Schema (the OpenAPI document's "Config").
 *
 * Each subsystem keeps one table beside its own config struct (sched's
 * "cores", pkt's "pool", drivers' "nic", net's "interfaces" and "tcp", the
 * appliances', the API's); src/appliance/ assembles them into the root.
 * A row binds a key to a field of the struct (offset and width), with its
 * kind, bounds, default, documentation and whether it may change at run
 * time. The engine knows objects, lists (of structs, with a count), and
 * scalars; a shape it doesn't (a string or a list, "a.b.c.d/p" parsed to
 * integers) gets a per-row fill callback instead of a case in the engine.
 *
 * Rules for callers:
 *  - Validate first (schema_validate), then fill (schema_fill): fill
 *    trusts the document and writes every field, defaults where absent.
 *  - Strings filled (ST_STR) are borrowed from the document: keep it alive
 *    as long as the struct.
 *  - Callbacks see the document only through struct schema_val and the
 *    schema_val_* accessors, so no subsystem needs the JSON library.
 *  - Tables are immutable; the engine keeps no state (any core, any time).
 */
#ifndef POLLUX_CORE_SCHEMA_H
#define POLLUX_CORE_SCHEMA_H
#include <stddef.h>
#include <stdint.h>

struct json_t;          /* jansson's, for the few entry points that take a document */
struct schema_val;      /* a value of the document (opaque) */

enum schema_kind {
	SK_END = 0,             /* ends a list of nodes */
	SK_OBJECT, SK_ARRAY, SK_STRING, SK_INTEGER, SK_BOOLEAN, SK_ENUM,
	SK_ONE_OF,              /* the first alternative (sub) whose JSON type fits */
	SK_INCLUDE,             /* sub's fields (or parts') belong to the enclosing object */
};

/* The width of the field a row fills. */
enum schema_type { ST_NONE = 0, ST_U8, ST_U16, ST_U32, ST_U64, ST_INT, ST_STR };

#define SF_REQUIRED 1u          /* the key must be present */
#define SF_POW2 2u              /* integer: a power of two */
#define SF_RUNTIME 4u           /* may change while the appliance runs (PUT /v1/config) */
#define SF_HAS 8u               /* object or list: a uint8_t at has_off says it was present */
#define SF_SECRET 16u           /* never shown: outputs carry SCHEMA_REDACTED instead (api.token) */

/* What a secret's value is replaced with in every output; given back in
 * an input (PUT /v1/config), it stands for the running value. */
#define SCHEMA_REDACTED "<redacted>"

struct schema_node {
	const char *key;                /* in the parent object; NULL otherwise */
	enum schema_kind kind;
	unsigned flags;
	long long min, max;             /* integer value, string length, list length (max 0: any) */
	const struct schema_node *sub;  /* object: fields; list: item; ONE_OF: alternatives */
	/* SK_INCLUDE over a table of structs instead of sub: max entries,
	 * entry k a pointer to one field at byte k * stride (NULL: none) */
	const struct schema_node *const *parts;
	/* SK_ENUM: the names, ending with NULL; choice k is at byte k * stride
	 * (0: sizeof(char *)), so a table of structs can name its rows */
	const char *const *choices;
	size_t stride;                  /* SK_ENUM's choices, SK_INCLUDE's parts */
	const char *msg;                /* the reason when the value is bad; NULL: derived */
	const char *format;             /* SK_STRING: a regular expression, for the JSON Schema */
	/* a rule beyond the bounds: NULL if v is fine, else the reason.
	 * parent is the enclosing object or list, root the document */
	const char *(*check)(const struct schema_val *v, const struct schema_val *parent,
			     const struct schema_val *root);
	const char *doc;

	/* ---- filling a typed struct. Offsets count from the enclosing
	 * object's struct (SK_INCLUDE, SK_OBJECT: where its own struct is). */
	enum schema_type type;          /* scalar's width; ST_NONE: not filled by the engine */
	size_t off;
	long long def;                  /* integer, enum index or boolean when absent */
	const char *def_str;            /* ST_STR when absent */
	size_t size;                    /* SK_ARRAY: bytes of one element (0: not filled) */
	size_t count_off;               /* SK_ARRAY: a uint32_t count of the elements */
	size_t has_off;                 /* SF_HAS: the uint8_t presence flag */
	/* Fills the field at `field` (base + off) from v, which passed this
	 * row's validation; v NULL: the key is absent, write the default. */
	void (*fill)(void *field, const struct schema_val *v);
};

/* Checks the whole document against root. Returns 0, or -EINVAL with the
 * first bad field (table order) in err as "path: reason", e.g.
 * "interfaces[1].mtu: must be 68..9000". */
int schema_validate(const struct schema_node *root, const struct json_t *doc, char *err, size_t errlen);

/* Fills the struct at out from a document that passed schema_validate
 * (doc NULL: every default). */
void schema_fill(const struct schema_node *root, const struct json_t *doc, void *out);

/* The table as a JSON Schema object (OpenAPI 3.0 dialect). New reference. */
struct json_t *schema_render(const struct schema_node *root);

/* The paths ("name", "web.body") of the rows flagged SF_RUNTIME, outside
 * lists, in table order: up to max of them into paths (each at most
 * SCHEMA_PATH_MAX bytes). Returns how many. */
#define SCHEMA_PATH_MAX 64
size_t schema_runtime_paths(const struct schema_node *root, char (*paths)[SCHEMA_PATH_MAX], size_t max);

/* A copy of doc with the value of every row flagged SF_SECRET that is
 * present replaced by the string SCHEMA_REDACTED: what may be shown.
 * New reference, NULL when out of memory. */
struct json_t *schema_redact(const struct schema_node *root, const struct json_t *doc);

/* In doc (modified in place), every secret whose value is the string
 * SCHEMA_REDACTED takes the value at the same path in running (a round
 * trip of a redacted document changes no secret). Returns 0; -EINVAL
 * with "path: reason" in err when running has no value there; -ENOMEM. */
int schema_unredact(const struct schema_node *root, struct json_t *doc, const struct json_t *running,
		    char *err, size_t errlen);

/* ---- the document, for callbacks */
const char *schema_val_str(const struct schema_val *v);          /* NULL: not a string */
long long schema_val_int(const struct schema_val *v);            /* 0: not an integer */
size_t schema_val_len(const struct schema_val *v);               /* list entries (0: not a list) */
const struct schema_val *schema_val_at(const struct schema_val *v, size_t i);
const struct schema_val *schema_val_get(const struct schema_val *obj, const char *key);

/* Parses "a.b.c.d" (prefix NULL) or "a.b.c.d/p" strictly: decimal octets
 * of one to three digits, no signs, no spaces, p 1..32. The address in
 * host byte order. Returns 0 or -1. (Several tables take addresses.) */
int schema_parse_ipv4(const char *s, uint32_t *addr, int *prefix);
#endif
