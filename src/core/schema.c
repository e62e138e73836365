/*
 * schema.c — the schema engine: validation, filling and JSON Schema
 * rendering of the tables described in schema.h.
 *
 * The validator walks the document and the table together and stops at
 * the first bad field, reporting its path ("interfaces[1].mtu") and a
 * reason derived from the row (or the row's own message). Unknown keys
 * are errors. Fields are visited in table order, not the document's: the
 * same document always gives the same error, and a row's check may rely
 * on an earlier row having passed. schema_render renders the very same
 * table, so the validator and the OpenAPI document cannot drift apart.
 *
 * What depends on the machine (how many devices, how much memory) is left
 * to the subsystems that meet it; this file refuses a document before any
 * of it is used.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "core/schema.h"

#define J(v) ((const json_t *)(v))
#define V(j) ((const struct schema_val *)(j))

/* ---- the document, for callbacks */
const char *schema_val_str(const struct schema_val *v) { return json_string_value(J(v)); }
long long schema_val_int(const struct schema_val *v) { return json_integer_value(J(v)); }
size_t schema_val_len(const struct schema_val *v) { return json_array_size(J(v)); }
const struct schema_val *schema_val_at(const struct schema_val *v, size_t i)
{
	return V(json_array_get(J(v), i));
}
const struct schema_val *schema_val_get(const struct schema_val *obj, const char *key)
{
	return V(json_object_get(J(obj), key));
}

int schema_parse_ipv4(const char *s, uint32_t *addr, int *prefix)
{
	uint32_t a = 0;
	if (!s)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, n = 0;
		while (*s >= '0' && *s <= '9' && n < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			n++;
		}
		if (n == 0 || n > 3 || v > 255)
			return -1;
		a = a << 8 | v;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	*addr = a;
	if (!prefix)
		return *s ? -1 : 0;
	if (*s++ != '/')
		return -1;
	unsigned p = 0, n = 0;
	while (*s >= '0' && *s <= '9' && n < 3) {
		p = p * 10 + (unsigned)(*s++ - '0');
		n++;
	}
	if (n == 0 || *s || p < 1 || p > 32)
		return -1;
	*prefix = (int)p;
	return 0;
}

static const char *choice(const struct schema_node *n, size_t k)
{
	size_t stride = n->stride ? n->stride : sizeof(char *);
	return *(const char *const *)((const char *)n->choices + k * stride);
}

/* SK_INCLUDE's part k (NULL: that row of the table has none). */
static const struct schema_node *part(const struct schema_node *inc, long long k)
{
	return *(const struct schema_node *const *)((const char *)inc->parts + (size_t)k * inc->stride);
}

/* The field named key among an object's fields (SK_INCLUDE spliced in). */
static const struct schema_node *field_find(const struct schema_node *fields, const char *key)
{
	for (const struct schema_node *f = fields; f->kind != SK_END; f++) {
		if (f->kind == SK_INCLUDE && f->sub) {
			const struct schema_node *g = field_find(f->sub, key);
			if (g)
				return g;
		} else if (f->kind == SK_INCLUDE) {
			for (long long k = 0; k < f->max; k++)
				if (part(f, k) && !strcmp(part(f, k)->key, key))
					return part(f, k);
		} else if (!strcmp(f->key, key)) {
			return f;
		}
	}
	return NULL;
}

/* ---- validation */
struct walk {
	const json_t *root;
	char path[160];
	const char *reason;
	char why[160];
};

static const char *kind_word(enum schema_kind k)
{
	switch (k) {
	case SK_OBJECT: return "must be an object";
	case SK_ARRAY: return "must be a list";
	case SK_STRING: return "must be a string";
	case SK_BOOLEAN: return "must be true or false";
	default: return "is not valid";
	}
}

/* The reason a value fails node n: the node's own message or one derived
 * from its bounds, so the table stays the single source. */
static const char *reason(struct walk *w, const struct schema_node *n)
{
	if (n->msg)
		return n->msg;
	switch (n->kind) {
	case SK_INTEGER:
		snprintf(w->why, sizeof w->why, "must be %s%lld..%lld",
			 n->flags & SF_POW2 ? "a power of two, " : "", n->min, n->max);
		return w->why;
	case SK_ENUM: {
		size_t k = 0, off = 0;
		while (choice(n, k))
			k++;
		off = (size_t)snprintf(w->why, sizeof w->why, "must be %s", k > 2 ? "one of " : "");
		for (size_t i = 0; i < k && off < sizeof w->why; i++)
			off += (size_t)snprintf(w->why + off, sizeof w->why - off, "%s\"%s\"",
						i == 0 ? "" : k == 2 ? " or " : ", ", choice(n, i));
		return w->why;
	}
	case SK_STRING:
		snprintf(w->why, sizeof w->why, "must be a string of %lld..%lld characters", n->min, n->max);
		return w->why;
	case SK_ARRAY:
		if (n->max && !n->min)
			snprintf(w->why, sizeof w->why, "must be a list of at most %lld entries", n->max);
		else if (n->max)
			snprintf(w->why, sizeof w->why, "must be a list of %lld..%lld entries", n->min, n->max);
		if (n->max)
			return w->why;
		return kind_word(n->kind);
	default:
		return kind_word(n->kind);
	}
}

static int fail(struct walk *w, const char *why)
{
	w->reason = why;
	return -EINVAL;
}

static int walk_value(struct walk *w, const struct schema_node *n, const json_t *v, const json_t *parent);

/* Appends ".key" or "[i]" to the path for the duration of a call. */
static size_t path_push(struct walk *w, const char *key, size_t idx)
{
	size_t len = strlen(w->path);
	if (key)
		snprintf(w->path + len, sizeof w->path - len, "%s%s", len ? "." : "", key);
	else
		snprintf(w->path + len, sizeof w->path - len, "[%zu]", idx);
	return len;
}

static int walk_field(struct walk *w, const struct schema_node *f, const json_t *v)
{
	size_t len = path_push(w, f->key, 0);
	const json_t *x = json_object_get(v, f->key);
	if (!x && (f->flags & SF_REQUIRED))
		return fail(w, "required");
	if (x && walk_value(w, f, x, v))
		return -EINVAL;
	w->path[len] = 0;
	return 0;
}

/* The fields of one object (and those it includes), in table order. */
static int walk_fields(struct walk *w, const struct schema_node *fields, const json_t *v)
{
	for (const struct schema_node *f = fields; f->kind != SK_END; f++) {
		if (f->kind == SK_INCLUDE && f->sub) {
			if (walk_fields(w, f->sub, v))
				return -EINVAL;
		} else if (f->kind == SK_INCLUDE) {
			for (long long k = 0; k < f->max; k++)
				if (part(f, k) && walk_field(w, part(f, k), v))
					return -EINVAL;
		} else if (walk_field(w, f, v)) {
			return -EINVAL;
		}
	}
	return 0;
}

static int walk_object(struct walk *w, const struct schema_node *n, const json_t *v)
{
	const char *key;
	const json_t *x;
	json_object_foreach((json_t *)v, key, x) {
		if (!field_find(n->sub, key)) {
			path_push(w, key, 0);
			return fail(w, "unknown key");
		}
	}
	return walk_fields(w, n->sub, v);
}

static int walk_array(struct walk *w, const struct schema_node *n, const json_t *v)
{
	size_t sz = json_array_size(v);
	if ((long long)sz < n->min || (n->max && (long long)sz > n->max))
		return fail(w, reason(w, n));
	for (size_t i = 0; i < sz; i++) {
		size_t len = path_push(w, NULL, i);
		if (walk_value(w, n->sub, json_array_get(v, i), v))
			return -EINVAL;
		w->path[len] = 0;
	}
	return 0;
}

/* ONE_OF picks the first alternative whose JSON type fits, so a list of
 * idle policies reports the bad entry, not the whole list. */
static int type_fits(const struct schema_node *n, const json_t *v)
{
	switch (n->kind) {
	case SK_OBJECT: return json_is_object(v);
	case SK_ARRAY: return json_is_array(v);
	case SK_STRING: case SK_ENUM: return json_is_string(v);
	case SK_INTEGER: return json_is_integer(v);
	case SK_BOOLEAN: return json_is_boolean(v);
	default: return 0;
	}
}

/* The index of s among n's choices, or -1 (a NUL inside s matches none). */
static long long enum_index(const struct schema_node *n, const json_t *v)
{
	const char *s = json_string_value(v);
	for (size_t k = 0; s && choice(n, k); k++)
		if (!strcmp(choice(n, k), s))
			return strlen(s) == json_string_length(v) ? (long long)k : -1;
	return -1;
}

static int walk_value(struct walk *w, const struct schema_node *n, const json_t *v, const json_t *parent)
{
	if (n->kind == SK_ONE_OF) {
		for (const struct schema_node *a = n->sub; a->kind != SK_END; a++)
			if (type_fits(a, v))
				return walk_value(w, a, v, parent);
		return fail(w, reason(w, n));
	}
	if (!type_fits(n, v))
		return fail(w, n->kind == SK_OBJECT || n->kind == SK_BOOLEAN ? kind_word(n->kind)
									     : reason(w, n));
	switch (n->kind) {
	case SK_OBJECT:
		if (walk_object(w, n, v))
			return -EINVAL;
		break;
	case SK_ARRAY:
		if (walk_array(w, n, v))
			return -EINVAL;
		break;
	case SK_INTEGER: {
		json_int_t x = json_integer_value(v);
		if (x < n->min || x > n->max || ((n->flags & SF_POW2) && (x & (x - 1))))
			return fail(w, reason(w, n));
		break;
	}
	case SK_STRING: {
		size_t len = json_string_length(v);
		if ((long long)len < n->min || (long long)len > n->max ||
		    strlen(json_string_value(v)) != len)        /* no NUL inside */
			return fail(w, reason(w, n));
		break;
	}
	case SK_ENUM:
		if (enum_index(n, v) < 0)
			return fail(w, reason(w, n));
		break;
	default:
		break;
	}
	const char *why = n->check ? n->check(V(v), V(parent), V(w->root)) : NULL;
	return why ? fail(w, why) : 0;
}

int schema_validate(const struct schema_node *root, const json_t *doc, char *err, size_t errlen)
{
	struct walk w = { .root = doc };
	if (!doc || walk_value(&w, root, doc, NULL) == 0)
		return doc ? 0 : -EINVAL;
	snprintf(err, errlen, "%s: %s", w.path[0] ? w.path : "(document)", w.reason);
	return -EINVAL;
}

/* ---- filling */
static void store(enum schema_type t, void *p, long long x)
{
	uint8_t u8 = (uint8_t)x;
	uint16_t u16 = (uint16_t)x;
	uint32_t u32 = (uint32_t)x;
	uint64_t u64 = (uint64_t)x;
	int i = (int)x;
	switch (t) {
	case ST_U8: memcpy(p, &u8, sizeof u8); break;
	case ST_U16: memcpy(p, &u16, sizeof u16); break;
	case ST_U32: memcpy(p, &u32, sizeof u32); break;
	case ST_U64: memcpy(p, &u64, sizeof u64); break;
	case ST_INT: memcpy(p, &i, sizeof i); break;
	default: break;
	}
}

static void fill_fields(const struct schema_node *fields, const json_t *obj, uint8_t *base);

/* One value (v NULL: absent) of node n into the field at p. */
static void fill_value(const struct schema_node *n, const json_t *v, uint8_t *p)
{
	switch (n->kind) {
	case SK_OBJECT:
		fill_fields(n->sub, v, p);
		break;
	case SK_INTEGER:
		store(n->type, p, v ? json_integer_value(v) : n->def);
		break;
	case SK_BOOLEAN:
		store(n->type, p, v ? json_is_true(v) : n->def);
		break;
	case SK_ENUM:
		store(n->type, p, v ? enum_index(n, v) : n->def);
		break;
	case SK_STRING:
		if (n->type == ST_STR) {
			const char *s = v ? json_string_value(v) : n->def_str;
			memcpy(p, &s, sizeof s);
		}
		break;
	default:
		break;
	}
}

/* Row f of an object whose struct is at base (obj NULL: the object is
 * absent, every field takes its default). */
static void fill_row(const struct schema_node *f, const json_t *obj, uint8_t *base)
{
	if (f->kind == SK_INCLUDE && f->sub) {
		fill_fields(f->sub, obj, base + f->off);
		return;
	}
	if (f->kind == SK_INCLUDE) {
		for (long long k = 0; k < f->max; k++)
			if (part(f, k))
				fill_row(part(f, k), obj, base + f->off);
		return;
	}
	const json_t *v = json_object_get(obj, f->key);
	if (f->flags & SF_HAS)
		base[f->has_off] = v != NULL;
	if (f->fill) {
		f->fill(base + f->off, V(v));
		return;
	}
	if (f->kind == SK_ARRAY) {
		if (!f->size)
			return;
		uint32_t n = (uint32_t)json_array_size(v);
		memcpy(base + f->count_off, &n, sizeof n);
		for (uint32_t i = 0; i < n; i++)
			fill_value(f->sub, json_array_get(v, i), base + f->off + i * f->size + f->sub->off);
		return;
	}
	if (f->type != ST_NONE || f->kind == SK_OBJECT)
		fill_value(f, v, base + f->off);
}

static void fill_fields(const struct schema_node *fields, const json_t *obj, uint8_t *base)
{
	for (const struct schema_node *f = fields; f->kind != SK_END; f++)
		fill_row(f, obj, base);
}

void schema_fill(const struct schema_node *root, const json_t *doc, void *out)
{
	fill_fields(root->sub, doc, out);
}

/* ---- secrets (SF_SECRET): redaction for outputs, and back for inputs */
struct secret_walk {
	int restore;                    /* 0: redact; 1: put the running values back */
	char path[160];
	char *err;
	size_t errlen;
};

static int secret_fields(struct secret_walk *w, const struct schema_node *fields, json_t *obj,
			 const json_t *run);

static int secret_row(struct secret_walk *w, const struct schema_node *f, json_t *obj, const json_t *run)
{
	json_t *v = json_object_get(obj, f->key);
	if (!v)
		return 0;
	size_t len = strlen(w->path);
	snprintf(w->path + len, sizeof w->path - len, "%s%s", len ? "." : "", f->key);
	int rc = 0;
	const json_t *rv = json_object_get(run, f->key);
	if (f->flags & SF_SECRET) {
		if (!w->restore) {
			rc = json_object_set_new(obj, f->key, json_string(SCHEMA_REDACTED)) ? -ENOMEM : 0;
		} else if (json_is_string(v) && !strcmp(json_string_value(v), SCHEMA_REDACTED)) {
			if (!rv) {
				snprintf(w->err, w->errlen, "%s: \"%s\" stands for the running value, and there is "
					 "none", w->path, SCHEMA_REDACTED);
				rc = -EINVAL;
			} else {
				rc = json_object_set(obj, f->key, (json_t *)rv) ? -ENOMEM : 0;
			}
		}
	} else if (f->kind == SK_OBJECT && json_is_object(v)) {
		rc = secret_fields(w, f->sub, v, json_is_object(rv) ? rv : NULL);
	} else if (f->kind == SK_ARRAY && f->sub && f->sub->kind == SK_OBJECT && json_is_array(v)) {
		size_t at = strlen(w->path);
		for (size_t i = 0; i < json_array_size(v) && !rc; i++) {
			snprintf(w->path + at, sizeof w->path - at, "[%zu]", i);
			json_t *e = json_array_get(v, i);
			const json_t *re = json_array_get(rv, i);
			if (json_is_object(e))
				rc = secret_fields(w, f->sub->sub, e, json_is_object(re) ? re : NULL);
		}
	}
	w->path[len] = 0;
	return rc;
}

static int secret_fields(struct secret_walk *w, const struct schema_node *fields, json_t *obj,
			 const json_t *run)
{
	int rc = 0;
	for (const struct schema_node *f = fields; f->kind != SK_END && !rc; f++) {
		if (f->kind == SK_INCLUDE && f->sub)
			rc = secret_fields(w, f->sub, obj, run);
		else if (f->kind == SK_INCLUDE)
			for (long long k = 0; k < f->max && !rc; k++)
				rc = part(f, k) ? secret_row(w, part(f, k), obj, run) : 0;
		else
			rc = secret_row(w, f, obj, run);
	}
	return rc;
}

json_t *schema_redact(const struct schema_node *root, const json_t *doc)
{
	json_t *copy = json_deep_copy(doc);
	struct secret_walk w = { .restore = 0 };
	if (copy && json_is_object(copy) && secret_fields(&w, root->sub, copy, NULL)) {
		json_decref(copy);
		return NULL;
	}
	return copy;
}

int schema_unredact(const struct schema_node *root, json_t *doc, const json_t *running,
		    char *err, size_t errlen)
{
	struct secret_walk w = { .restore = 1, .err = err, .errlen = errlen };
	if (!json_is_object(doc))
		return 0;
	int rc = secret_fields(&w, root->sub, doc, json_is_object(running) ? running : NULL);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "(document): out of memory");
	return rc;
}

/* ---- run-time paths */
static size_t runtime_walk(const struct schema_node *fields, const char *prefix,
			   char (*paths)[SCHEMA_PATH_MAX], size_t n, size_t max);

static size_t runtime_one(const struct schema_node *f, const char *prefix,
			  char (*paths)[SCHEMA_PATH_MAX], size_t n, size_t max)
{
	char p[SCHEMA_PATH_MAX];
	snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", f->key);
	if ((f->flags & SF_RUNTIME) && n < max)
		snprintf(paths[n++], SCHEMA_PATH_MAX, "%s", p);
	else if (f->kind == SK_OBJECT)
		n = runtime_walk(f->sub, p, paths, n, max);
	return n;
}

static size_t runtime_walk(const struct schema_node *fields, const char *prefix,
			   char (*paths)[SCHEMA_PATH_MAX], size_t n, size_t max)
{
	for (const struct schema_node *f = fields; f->kind != SK_END; f++) {
		if (f->kind == SK_INCLUDE && f->sub)
			n = runtime_walk(f->sub, prefix, paths, n, max);
		else if (f->kind == SK_INCLUDE)
			for (long long k = 0; k < f->max; k++)
				n = part(f, k) ? runtime_one(part(f, k), prefix, paths, n, max) : n;
		else
			n = runtime_one(f, prefix, paths, n, max);
	}
	return n;
}

size_t schema_runtime_paths(const struct schema_node *root, char (*paths)[SCHEMA_PATH_MAX], size_t max)
{
	return runtime_walk(root->sub, "", paths, 0, max);
}

/* ---- JSON Schema rendering */
static json_t *render(const struct schema_node *n);

static void render_fields(const struct schema_node *fields, json_t *props, json_t *req)
{
	for (const struct schema_node *f = fields; f->kind != SK_END; f++) {
		if (f->kind == SK_INCLUDE && f->sub) {
			render_fields(f->sub, props, req);
			continue;
		}
		for (long long k = 0; k < (f->kind == SK_INCLUDE ? f->max : 1); k++) {
			const struct schema_node *g = f->kind == SK_INCLUDE ? part(f, k) : f;
			if (!g)
				continue;
			json_object_set_new(props, g->key, render(g));
			if (g->flags & SF_REQUIRED)
				json_array_append_new(req, json_string(g->key));
		}
	}
}

static json_t *render(const struct schema_node *n)
{
	json_t *o = json_object();
	if (n->doc)
		json_object_set_new(o, "description", json_string(n->doc));
	switch (n->kind) {
	case SK_OBJECT: {
		json_t *props = json_object(), *req = json_array();
		render_fields(n->sub, props, req);
		json_object_set_new(o, "type", json_string("object"));
		json_object_set_new(o, "properties", props);
		json_object_set_new(o, "additionalProperties", json_false());
		if (json_array_size(req))
			json_object_set_new(o, "required", req);
		else
			json_decref(req);
		break;
	}
	case SK_ARRAY:
		json_object_set_new(o, "type", json_string("array"));
		json_object_set_new(o, "items", render(n->sub));
		if (n->min)
			json_object_set_new(o, "minItems", json_integer(n->min));
		if (n->max)
			json_object_set_new(o, "maxItems", json_integer(n->max));
		break;
	case SK_INTEGER:
		json_object_set_new(o, "type", json_string("integer"));
		json_object_set_new(o, "minimum", json_integer(n->min));
		json_object_set_new(o, "maximum", json_integer(n->max));
		if (n->flags & SF_POW2)
			json_object_set_new(o, "x-power-of-two", json_true());
		break;
	case SK_STRING:
		json_object_set_new(o, "type", json_string("string"));
		json_object_set_new(o, "minLength", json_integer(n->min));
		json_object_set_new(o, "maxLength", json_integer(n->max));
		if (n->format)
			json_object_set_new(o, "pattern", json_string(n->format));
		break;
	case SK_ENUM: {
		json_t *e = json_array();
		for (size_t k = 0; choice(n, k); k++)
			json_array_append_new(e, json_string(choice(n, k)));
		json_object_set_new(o, "type", json_string("string"));
		json_object_set_new(o, "enum", e);
		break;
	}
	case SK_BOOLEAN:
		json_object_set_new(o, "type", json_string("boolean"));
		break;
	case SK_ONE_OF: {
		json_t *alts = json_array();
		for (const struct schema_node *a = n->sub; a->kind != SK_END; a++)
			json_array_append_new(alts, render(a));
		json_object_set_new(o, "oneOf", alts);
		break;
	}
	default:
		break;
	}
	return o;
}

json_t *schema_render(const struct schema_node *root)
{
	return render(root);
}
