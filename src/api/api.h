/*
 * api.h — the control plane: config schema validation, the HTTP/1.1
 * request path with its REST routes, Prometheus exposition and the
 * OpenAPI document. The whole interface of src/api/ to the rest of Pollux.
 *
 * Rules for callers:
 *  - Everything here runs on the control core (core 0) only; it may call
 *    malloc. Nothing blocks and nothing here opens a socket: a transport
 *    (TLS on the stack, or a host socket in the hosted build) moves bytes
 *    in and out of an api_conn (feed / output / output_done / closing).
 *  - The running appliance is reached only through struct api_backend,
 *    which the caller fills; the API never reads other subsystems itself,
 *    so all of it is testable on the host with a fake backend.
 *  - A config document is validated as a whole (api_config_validate,
 *    against the root schema handed over by api_config_use) before
 *    anything of it is applied; the backend's config_apply sees only
 *    documents that passed.
 */
#ifndef POLLUX_API_H
#define POLLUX_API_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "drivers/netdev.h"
#include "net/net.h"
#include "core/schema.h"

/* ---- config schema */

/* The root of the config schema (the appliance's, assembled from every
 * subsystem's table: src/appliance/config.c), used by api_config_validate,
 * api_config_schema and the OpenAPI document from now on. Call once, on
 * core 0, before the server takes requests (borrowed; must outlive it). */
void api_config_use(const struct schema_node *root);

/* Checks the whole document against the config schema (the files in
 * configs/, the body of PUT /v1/config). Returns 0, or -EINVAL with the
 * first bad field in err as "path: reason", e.g.
 * "interfaces[1].mtu: must be 68..9000". */
int api_config_validate(const json_t *doc, char *err, size_t errlen);

/* Secrets (rows flagged SF_SECRET: api.token, api.monitor_token,
 * api.key) in outputs and inputs of the config. api_config_redact: a
 * copy of doc that may be shown, each present secret's value replaced by
 * "<redacted>" (SCHEMA_REDACTED); NULL when out of memory. Every config
 * the API shows goes through it. api_config_unredact: in a document that
 * came in (modified in place), each secret given as "<redacted>" takes
 * the running value, so GET, edit, PUT changes no secret; 0, or -errno
 * with "path: reason" in err (-EINVAL: no running value there). */
json_t *api_config_redact(const json_t *doc);
int api_config_unredact(json_t *doc, const json_t *running, char *err, size_t errlen);

/* The config schema as a JSON Schema object (OpenAPI 3.0 dialect), built
 * from the same table the validator walks. New reference. */
json_t *api_config_schema(void);

/* The "api" section of the config (table: api_schema, src/api/config.c). */
#define API_MAX_SUBJECTS 8
#define API_SUBJECT_MAX 64
struct api_config {
	uint8_t on;                     /* the config has "api": serve it */
	const char *token;              /* NULL: none (strings borrowed from the document) */
	const char *monitor_token;      /* read-only (API_ROLE_MONITOR); NULL: none */
	uint16_t port;                  /* 0: the listener's default */
	uint32_t interface;             /* index in "interfaces" of the management interface */
	const char *cert, *key, *client_ca;     /* PEM, or NULL */
	const char *client_crl;         /* PEM: certificates client_ca revoked, or NULL */
	/* client certificates whose subject CN is one of these are admin;
	 * any other that verifies is monitor */
	const char *admin_subjects[API_MAX_SUBJECTS];
	uint32_t nadmin_subjects;
	uint32_t site_max_mb;           /* PUT /v1/site's body bound, MiB (0: API_SITE_MAX_MB) */
};
extern const struct schema_node api_schema[];

/* The first field (its path: "interfaces[0].mtu") where `next` differs
 * from `running` outside the `mutable` paths (NULL-terminated, exact);
 * returns 1 with it in path, or 0. *changed: a mutable field differs. */
int api_config_diff(const json_t *running, const json_t *next, const char *const *mutable,
		    char *path, size_t pathlen, int *changed);

/* Applying a config at run time, all or nothing (PUT /v1/config). The
 * steps that can fail come first and change nothing the appliance runs
 * with; then one step that cannot fail makes all of it live:
 *  - prepare: fill the structs from next and allocate everything the
 *    change needs (a new body...); 0 and *pending, or -errno with the
 *    reason in err, having released what it took;
 *  - commit: make next (its reference is handed over) and pending live;
 *    must not fail (publish pointers, free old objects, log). */
struct api_apply_ops {
	void *arg;
	int (*prepare)(void *arg, const json_t *next, void **pending, char *err, size_t errlen);
	void (*commit)(void *arg, json_t *next, void *pending);
};
/* Applies doc (borrowed, valid against the schema) over running: a
 * difference outside `mutable` is refused with -EBUSY naming the field
 * ("path: can't change at run time ...; what can: " + mutable_words);
 * no difference at all returns 0 at once; otherwise a copy of doc goes
 * through ops as above (-ENOMEM when the copy can't be made). Whatever
 * it returns other than 0, the running config and appliance are as
 * they were. */
int api_config_apply(const json_t *running, const json_t *doc, const char *const *mutable,
		     const char *mutable_words, const struct api_apply_ops *ops, char *err, size_t errlen);

/* ---- telemetry snapshot: what /metrics, /v1/cores and /v1/interfaces
 * show (and the console's netstat). The backend fills it whole, from one
 * walk over the subsystems' counters (src/appliance/telemetry.c); counters
 * only grow, gauges are levels at the time of the walk. */
#define API_MAX_CORES 64
#define API_MAX_IFS 8
#define API_MAX_QUEUES 16
#define API_NAME_MAX 16

struct api_core_stats {
	const char *role;               /* "control" or "data" */
	uint64_t turns, busy_turns, busy_cycles, idle_cycles, sleeps;
	uint64_t sleeps_timed;          /* of sleeps: capped at halt_max_us (a poller can't be woken) */
	uint64_t msgs_in, msgs_out, chan_full, timers_fired;
	uint32_t chan_depth_in;         /* messages waiting now (a gauge) */
	uint32_t tcp_conns;             /* open now (a gauge) */
	uint32_t timers_armed;          /* on the core's wheel now (a gauge) */
	struct net_stats net;           /* the stack's counters, by reason */
};

struct api_queue_stats {
	uint32_t core;                  /* the core that owns the queue pair */
	/* every field of NETDEV_QUEUE_STATS_FIELDS (drivers/netdev.h) */
	NETDEV_QUEUE_STATS_FIELDS(NETDEV_QUEUE_STATS_U64)
	int broken;
};

struct api_iface_stats {
	char name[API_NAME_MAX];        /* "eth0" */
	uint8_t mac[6];
	uint32_t addr, gw;              /* host byte order; 0 when unset */
	uint8_t prefix;
	uint16_t mtu;
	int link_up;
	uint16_t nqueues;
	struct api_queue_stats q[API_MAX_QUEUES];
};

struct api_stats {
	uint32_t ncores;
	struct api_core_stats core[API_MAX_CORES];
	uint32_t nifs;
	struct api_iface_stats ifs[API_MAX_IFS];
	uint64_t pool_free, pool_total; /* packet buffers, all cores */
	uint64_t pool_ext_free, pool_ext_total; /* external fragments (zero-copy send), all cores */
};

/* ---- the running appliance's own counters: GET /v1/<app> and /metrics
 * as pollux_<app>_<name>{core="N"}. The appliance layer names them, so
 * the API knows no appliance. */
#define API_APP_METRICS_MAX 64
struct api_app_metric {
	const char *name;               /* "get_hits_total" (static; [a-z0-9_]) */
	const char *help;
	int gauge;                      /* else a counter */
};
struct api_app_stats {
	const char *app;                /* "kv"; NULL: the running appliance has none */
	uint32_t nmetrics;              /* at most API_APP_METRICS_MAX */
	const struct api_app_metric *m; /* their names (static) */
	uint32_t ncores;
	uint8_t on[API_MAX_CORES];      /* the core serves the appliance */
	uint64_t v[API_MAX_CORES][API_APP_METRICS_MAX];
};

/* ---- the httpd appliance's site, as GET /v1/site lists it: one entry
 * per file (directories are not listed), every field borrowed for the
 * callback only. */
struct api_site_entry {
	const char *path;               /* no leading '/' */
	uint64_t size;
	const char *etag;               /* strong, with its quotes */
	const char *type;               /* Content-Type */
	int64_t mtime;                  /* seconds since the epoch */
};
struct api_site_summary {
	uint32_t files, dirs;
	uint64_t bytes;
};

/* ---- the running appliance, as the API sees it */
struct api_system {
	const char *version;
	uint64_t uptime_ns;
	uint64_t boot_time_unix;        /* seconds; 0 when unknown */
	uint32_t ncores;
	uint64_t mem_bytes;
	uint64_t tsc_hz;                /* busy %: busy_cycles over cycles */
};

struct api_backend {
	void *arg;
	void (*system)(void *arg, struct api_system *out);
	void (*stats)(void *arg, struct api_stats *out);
	/* the running config: a new reference */
	json_t *(*config_get)(void *arg);
	/* Applies a document that passed api_config_validate (borrowed).
	 * Returns 0, or -errno with a reason in err and nothing changed
	 * (e.g. a field that can't change at run time). */
	int (*config_apply)(void *arg, const json_t *doc, char *err, size_t errlen);
	/* Copies up to max recent console lines, oldest first, into lines
	 * (each a pointer valid until the next call); returns the count. */
	size_t (*log_lines)(void *arg, const char **lines, size_t max);
	/* Asks for a clean power-off once the response has gone out. */
	void (*shutdown)(void *arg);
	/* The running appliance's own counters (out zeroed by the caller;
	 * out->app left NULL: it has none). */
	void (*app_stats)(void *arg, struct api_app_stats *out);
	/* An appliance's action, e.g. ("kv", "flush"): 0, -ENOENT (that
	 * appliance is not running) or another -errno with a reason in err. */
	int (*app_action)(void *arg, const char *app, const char *action, char *err, size_t errlen);
	/* An appliance's own log as text, e.g. ("httpd", httpd's access log):
	 * 0 with *text malloc'd (the caller frees it) and *len, -ENOENT (that
	 * appliance is not running or has no log) or -ENOMEM. */
	int (*app_log)(void *arg, const char *app, char **text, size_t *len);
	/* PUT /v1/site: replaces the httpd appliance's site with the tar
	 * archive (len bytes, borrowed for the call only: the backend keeps
	 * its own copy), all at once (publish-and-quiesce). 0 with *sum
	 * filled; -ENOENT (httpd is not running), -EINVAL or -E2BIG (the
	 * archive was refused: err names the entry; the old site stays),
	 * -ENOMEM (the old site stays). */
	int (*site_put)(void *arg, const void *tar, size_t len, struct api_site_summary *sum,
			char *err, size_t errlen);
	/* GET /v1/site: fn once per file of the site being served, sorted
	 * by path; 0 with *sum, -ENOENT (httpd is not running) or -ENOMEM. */
	int (*site_list)(void *arg, void (*fn)(void *ctx, const struct api_site_entry *e), void *ctx,
			 struct api_site_summary *sum);
};

/* Renders the snapshot in the Prometheus text exposition format 0.0.4.
 * Returns a malloc'd NUL-terminated text (its length in *len), or NULL
 * when out of memory. */
char *api_metrics_render(const struct api_stats *st, size_t *len);

/* ---- the server and its connections */
#define API_MAX_HEADER_BYTES 8192       /* request line + headers: else 431 */
#define API_MAX_BODY_BYTES 65536        /* else 413 */
/* PUT /v1/site only: its body (a tar archive) may be up to
 * api.site_max_mb MiB (default API_SITE_MAX_MB), else 413; one such
 * upload at a time per server (a second one gets 503 before its body
 * is read), and only an admin credential's body is read at all (401 or
 * 403 at the headers). The body is allocated for the request (once,
 * from Content-Length when given) and freed when it has been answered. */
#define API_SITE_PATH "/v1/site"
#define API_SITE_MAX_MB 64
#define API_SITE_MAX_MB_LIMIT 1024
#define API_OUT_HIGH_WATER 65536        /* stop reading while more is unsent */
#define API_TOKEN_MIN 16
#define API_TOKEN_MAX 256

/* What the transport counts (a listener), shown in /metrics. */
struct api_transport_stats {
	uint64_t accepted, refused, timed_out;
	uint64_t request_timeouts;      /* a request not whole in time (API_*_TIMEOUT_NS) */
	uint64_t source_limited;        /* refused (counted in refused too): the source held its share */
	uint64_t read_stalls;           /* a connection stopped being read: its answers were not taken */
	uint32_t open;
};
struct api_tls_stats;

/* What a credential may do. Every route declares the role it needs
 * (routes.c); a valid credential without it gets 403, none at all 401.
 * MONITOR reads status and metrics (the GETs of /metrics, /v1/system,
 * /v1/cores, /v1/interfaces, /v1/openapi.json); ADMIN does everything,
 * /v1/config and /v1/log included (a log line is free text that no
 * redaction can vouch for). */
enum api_role { API_ROLE_NONE = 0, API_ROLE_MONITOR = 1, API_ROLE_ADMIN = 2 };

struct api_server {
	char token[API_TOKEN_MAX + 1];  /* the admin's; empty: no admin token */
	size_t token_len;
	char monitor_token[API_TOKEN_MAX + 1];  /* read-only; empty: none */
	size_t monitor_token_len;
	const struct api_backend *be;
	uint64_t requests, responses_4xx, responses_5xx, bad_requests;
	/* set by the transport, NULL when there is none (shown in /metrics) */
	const struct api_tls_stats *tls_stats;
	const struct api_transport_stats *transport;
	uint64_t site_max_bytes;        /* PUT /v1/site's bound (api_server_init: the default) */
	int site_uploading;             /* a PUT /v1/site body is on its way (one at a time) */
	uint64_t site_uploads_refused;  /* a second one while one was on its way: 503 */
};

/* Sets up a server with the bearer token (NULL or "" refuses everyone)
 * and the backend (borrowed, must outlive the server). -EINVAL if the
 * token is longer than API_TOKEN_MAX. */
int api_server_init(struct api_server *s, const char *token, const struct api_backend *be);
/* The monitor role's bearer token (NULL or "": none). -EINVAL if longer
 * than API_TOKEN_MAX or equal to the admin's. */
int api_server_set_monitor_token(struct api_server *s, const char *token);

struct api_conn;

/* A connection over any reliable byte stream. NULL when out of memory. */
struct api_conn *api_conn_new(struct api_server *s);
void api_conn_free(struct api_conn *c);

/* Feeds received bytes (borrowed). Parses and answers every complete
 * request among them; responses are queued on the connection's output.
 * Returns how many bytes were taken: fewer than len while the output is
 * above API_OUT_HIGH_WATER (the transport keeps the rest and feeds it
 * again after draining); all of them once the connection is closing
 * (input after an error or "Connection: close" is discarded). */
size_t api_conn_feed(struct api_conn *c, const void *in, size_t len);

/* The bytes waiting to go out (borrowed until the next call on c), and
 * how many of them the transport has sent. */
const void *api_conn_output(const struct api_conn *c, size_t *len);
void api_conn_output_done(struct api_conn *c, size_t n);

/* True once the server will take no more input: close the stream after
 * the pending output has gone (error responses, "Connection: close",
 * HTTP/1.0 without keep-alive). */
int api_conn_closing(const struct api_conn *c);

/* The transport saw the peer close its side. A request cut short gets no
 * answer; afterwards api_conn_closing() is true. */
void api_conn_eof(struct api_conn *c);

/* Deadlines for a request on its way (slowloris: one byte a minute kept
 * a slot for ever): from the first byte of a request (anything after the
 * previous one, blank lines included), its request line and headers must
 * be in within API_HEADER_TIMEOUT_NS and the whole of it, body included,
 * within API_REQUEST_TIMEOUT_NS (a 64 KiB body at 2.2 KB/s at least).
 * The transport closes a connection that misses one and counts it
 * (request_timeouts). Apache's mod_reqtimeout defaults to 20-40 s for
 * headers; an API client sends its whole request at once. */
#define API_HEADER_TIMEOUT_NS (10 * 1000000000ull)
#define API_REQUEST_TIMEOUT_NS (30 * 1000000000ull)
enum api_req_state { API_REQ_IDLE, API_REQ_HEADERS, API_REQ_BODY };
/* Where the request on its way is, and (*seq) how many came complete
 * before it: a new seq with a request under way is a new request. Idle
 * while the output is above API_OUT_HIGH_WATER: we are not reading. */
enum api_req_state api_conn_request_state(const struct api_conn *c, uint64_t *seq);
/* Applies the deadlines with the transport's clock: call it after every
 * feed and now and then (a sweep); the first call that sees a request
 * starts its clock. 1: overdue, close the connection. */
int api_conn_overdue(struct api_conn *c, uint64_t now_ns);

/* The connection's client certificate verified (api.client_ca): its
 * requests have this role without a token (a token of a higher role
 * still raises it). API_ROLE_NONE: no certificate, a token is needed. */
void api_conn_set_peer_role(struct api_conn *c, enum api_role role);

/* ---- TLS (tls.c): TLS 1.2 only, ECDHE-ECDSA/ECDHE-RSA with AES-GCM or
 * ChaCha20-Poly1305, over the same kind of byte stream as api_conn. A
 * struct api_tls is the server side (config, certificate, key, random
 * generator); each api_tls_conn wraps one api_conn. Control core only. */
struct api_tls_opts {
	/* PEM texts (borrowed during api_tls_init only). No cert and key:
	 * an ECDSA P-256 key and a self-signed certificate are generated.
	 * client_ca: client certificates signed by it authenticate a
	 * connection in place of the bearer token (verification optional). */
	const char *cert_pem, *key_pem, *client_ca_pem;
	/* client_crl_pem: a CRL of client_ca (or NULL); a revoked client
	 * certificate does not verify (the token is then needed). A verified
	 * certificate whose subject has exactly one CN, listed among the
	 * admin_subjects (copied), is admin; any other verified one is only
	 * monitor (least privilege: a CA may sign certificates for many
	 * uses, so admin is granted by name, never by the CA alone). */
	const char *client_crl_pem;
	const char *const *admin_subjects;
	size_t nadmin_subjects;
	/* An extra strong entropy source mixed in (e.g. virtio-rng), or
	 * NULL. The platform's getrandom and RDSEED/RDRAND (where the CPU
	 * has them) are always used. Returns 0 and fills len bytes. */
	int (*entropy)(void *arg, unsigned char *out, size_t len);
	void *entropy_arg;
};

struct api_tls_stats {
	uint64_t handshakes;            /* completed */
	uint64_t hs_fail_version, hs_fail_cipher, hs_fail_other;
	uint64_t bad_records;           /* bad MAC or malformed record: closed */
	uint64_t client_cert_auth;      /* handshakes with a verified client certificate */
};

struct api_tls;
/* Returns 0 and a new context in *out, or -errno with a reason in err:
 * -EINVAL when the options are at fault ("config: api.cert: ...": bad
 * PEM, a key not matching the certificate), another -errno when this
 * machine is (no entropy, no memory). */
int api_tls_init(struct api_tls **out, const struct api_tls_opts *o, char *err, size_t errlen);
void api_tls_free(struct api_tls *t);
/* The certificate's SHA-256 fingerprint as `openssl x509 -fingerprint
 * -sha256` prints it: "AB:CD:...", 95 characters. */
const char *api_tls_fingerprint(const struct api_tls *t);
/* 1 when the certificate was generated at start (none configured). */
int api_tls_generated(const struct api_tls *t);
/* The certificate in PEM (NUL-terminated, borrowed from t). */
const char *api_tls_cert_pem(const struct api_tls *t);
const struct api_tls_stats *api_tls_stats(const struct api_tls *t);

/* Bytes of ciphertext a connection buffers at most before the transport
 * must wait (two maximum-size records). */
#define API_TLS_IN_MAX (2 * (16384 + 2048))

struct api_tls_conn;
/* A server-side connection carrying HTTP for s. NULL when out of memory. */
struct api_tls_conn *api_tls_conn_new(struct api_tls *t, struct api_server *s);
void api_tls_conn_free(struct api_tls_conn *c);
/* Feeds received ciphertext (borrowed); drives the handshake or the
 * requests as far as it can. Returns how many bytes were taken: fewer
 * than len while the connection holds API_TLS_IN_MAX unread (back-
 * pressure: feed the rest after draining the output). */
size_t api_tls_conn_feed(struct api_tls_conn *c, const void *in, size_t len);
/* How many more bytes feed would take now (0: stop reading the socket). */
size_t api_tls_conn_room(const struct api_tls_conn *c);
/* Ciphertext waiting to go out (borrowed until the next call on c), and
 * how much of it the transport sent. */
const void *api_tls_conn_output(const struct api_tls_conn *c, size_t *len);
void api_tls_conn_output_done(struct api_tls_conn *c, size_t n);
/* True once nothing more will be taken or produced: close the stream
 * after the pending output has gone (a failed handshake's alert, a bad
 * record, close_notify after "Connection: close" or the peer's close). */
int api_tls_conn_closing(const struct api_tls_conn *c);
/* True until the handshake has completed (for handshake timeouts). */
int api_tls_conn_handshaking(const struct api_tls_conn *c);
/* api_conn_overdue for the connection inside, where a record that has
 * begun to arrive (not yet readable) counts as a request on its way too.
 * 0 while handshaking (its own timeout is the transport's). */
int api_tls_conn_overdue(struct api_tls_conn *c, uint64_t now_ns);
/* The transport saw the peer close its side. */
void api_tls_conn_eof(struct api_tls_conn *c);

/* The OpenAPI 3.0 document (/v1/openapi.json), generated from the route
 * table and the config schema. New reference. */
json_t *api_openapi(void);
#endif
