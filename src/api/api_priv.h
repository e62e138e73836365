/*
 * api_priv.h — shared inside src/api/ only: the growable byte buffer,
 * requests, responses and the route table.
 */
#ifndef POLLUX_API_PRIV_H
#define POLLUX_API_PRIV_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "api/api.h"

/* ---- growable byte buffer (buf.c). Any failed append sets oom and
 * leaves the contents as they were before it. */
struct api_buf {
	char *p;
	size_t len, cap, off;           /* off: bytes already consumed at the front */
	int oom;
};
void api_buf_free(struct api_buf *b);
int api_buf_put(struct api_buf *b, const void *data, size_t n);
int api_buf_printf(struct api_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void api_buf_consume(struct api_buf *b, size_t n);
/* Room for n more bytes (and the NUL) in one allocation of just that
 * size, so that a large body known in advance is not doubled. */
int api_buf_reserve_exact(struct api_buf *b, size_t n);

/* ---- a request's deadline clock (http.c): api_conn_overdue's, shared
 * with tls.c, which adds records on their way */
struct api_req_clock {
	uint64_t since_ns, seq;
	int running;
};
int api_req_clock_check(struct api_req_clock *k, enum api_req_state st, uint64_t seq, uint64_t now_ns,
			uint64_t request_limit_ns);
/* The whole-request deadline of the request on its way:
 * API_REQUEST_TIMEOUT_NS, longer for a site upload (its size at
 * API_SITE_MIN_BYTES_PER_S on top). */
#define API_SITE_MIN_BYTES_PER_S (256u << 10)
uint64_t api_conn_request_limit_ns(const struct api_conn *c);

/* ---- requests and responses (http.c, router.c, routes.c) */
#define API_MAX_PARAMS 4
enum api_method { API_GET = 1, API_PUT = 2, API_POST = 4, API_DELETE = 8, API_OTHER = 16 };

struct api_req {
	enum api_method method;
	const char *method_name;        /* as the client spelled it */
	const char *path;               /* without the query string */
	char params[API_MAX_PARAMS][64];      /* {name} segments, in order */
	size_t nparams;
	const char *body;               /* NUL-terminated; body_len bytes */
	size_t body_len;
	struct api_server *srv;
	enum api_role peer_role;        /* a verified client certificate's role: no token needed */
};

struct api_resp {
	int status;
	const char *content_type;
	char *body;                     /* malloc'd, owned by the response */
	size_t body_len;
	char allow[48];                 /* 405: the Allow header */
	int close;                      /* close the connection after it */
	int after_sent_shutdown;        /* call the backend's shutdown */
};

/* Fill a response. api_resp_json takes the reference to j. */
void api_resp_json(struct api_resp *r, int status, json_t *j);
void api_resp_text(struct api_resp *r, int status, const char *type, char *text, size_t len);
void api_resp_error(struct api_resp *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

typedef void (*api_handler_fn)(struct api_req *req, struct api_resp *resp);

struct api_route {
	unsigned method;                /* one enum api_method */
	const char *pattern;            /* "/v1/interfaces/{name}" */
	api_handler_fn fn;
	const char *summary;
	const char *response_schema;    /* name under components/schemas, or NULL */
	const char *body_schema;        /* request body, or NULL */
	enum api_role role;             /* the least role that may use it (NONE: admin) */
};
extern const struct api_route api_routes[];
extern const size_t api_nroutes;

/* Authenticates, routes and runs one request. */
void api_dispatch(struct api_server *s, struct api_req *req, const char *authorization,
		  size_t auth_len, struct api_resp *resp);
/* The role a presented Authorization value ("Bearer <token>") grants:
 * ADMIN for the admin token, MONITOR for the monitor's, else NONE. Both
 * are always compared in constant time: the time depends only on the
 * lengths, never on which token matched or where a byte was wrong. */
enum api_role api_auth_role(const struct api_server *s, const char *authorization, size_t len);
/* api_auth_role(...) != API_ROLE_NONE */
int api_auth_ok(const struct api_server *s, const char *authorization, size_t len);

const char *api_status_text(int status);

/* metrics.c: appends v as a Prometheus label value (escaped, no quotes) */
void api_metrics_label(struct api_buf *b, const char *v);
/* metrics.c: appends the control plane's own counters (requests, TLS,
 * connections) */
void api_metrics_server(struct api_buf *b, const struct api_server *s);
/* the running appliance's own counters (struct api_app_stats, api.h) */
void api_metrics_app(struct api_buf *b, const struct api_app_stats *a);
#endif
