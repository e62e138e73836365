/*
 * router.c — authentication, method/path routing and the response
 * helpers.
 *
 * Every request must carry "Authorization: Bearer <token>" (or come over
 * a connection whose client certificate verified); the check runs before
 * routing, so an unauthenticated client learns nothing about which paths
 * exist (401). The comparison takes time that depends only on the lengths
 * involved, never on where the first wrong byte is. The credential gives
 * a role (admin, monitor); each route names the least role it needs, and
 * a valid credential without it gets 403.
 *
 * Routes are a table (routes.c): a method and a pattern whose "{name}"
 * segments match one path segment of [A-Za-z0-9._-] and are handed to
 * the handler as parameters. A path that some route matches with another
 * method gets 405 with an Allow header; one that no route matches, 404.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api_priv.h"

int api_server_init(struct api_server *s, const char *token, const struct api_backend *be)
{
	memset(s, 0, sizeof *s);
	s->be = be;
	s->site_max_bytes = (uint64_t)API_SITE_MAX_MB << 20;
	size_t n = token ? strlen(token) : 0;
	if (n > API_TOKEN_MAX)
		return -EINVAL;
	memcpy(s->token, token ? token : "", n);
	s->token[n] = 0;
	s->token_len = n;
	return 0;
}

int api_server_set_monitor_token(struct api_server *s, const char *token)
{
	size_t n = token ? strlen(token) : 0;
	if (n > API_TOKEN_MAX || (n && n == s->token_len && !memcmp(token, s->token, n)))
		return -EINVAL;
	memcpy(s->monitor_token, token ? token : "", n);
	s->monitor_token[n] = 0;
	s->monitor_token_len = n;
	return 0;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* 1 when cred (clen bytes) equals tok (tlen > 0), in time that depends
 * only on the lengths: every presented byte is compared with some token
 * byte, and a length mismatch is folded in at the end. */
static int token_eq(const char *cred, size_t clen, const char *tok, size_t tlen)
{
	unsigned diff = (unsigned)(clen ^ tlen);
	for (size_t i = 0; i < clen; i++)
		diff |= (unsigned char)cred[i] ^ (unsigned char)tok[i % tlen];
	return diff == 0;
}

enum api_role api_auth_role(const struct api_server *s, const char *auth, size_t len)
{
	static const char scheme[] = "bearer ";         /* case-insensitive (RFC 7235) */
	const size_t sl = sizeof scheme - 1;
	if (!auth || len < sl)
		return API_ROLE_NONE;
	unsigned diff = 0;
	for (size_t i = 0; i < sl; i++)
		diff |= lower((unsigned char)auth[i]) ^ (unsigned char)scheme[i];
	const char *cred = auth + sl;
	size_t clen = len - sl;
	/* both compared whatever the first says: which one matched does not
	 * show in the time */
	int admin = s->token_len && token_eq(cred, clen, s->token, s->token_len);
	int monitor = s->monitor_token_len && token_eq(cred, clen, s->monitor_token, s->monitor_token_len);
	if (diff)
		return API_ROLE_NONE;
	return admin ? API_ROLE_ADMIN : monitor ? API_ROLE_MONITOR : API_ROLE_NONE;
}

int api_auth_ok(const struct api_server *s, const char *auth, size_t len)
{
	return api_auth_role(s, auth, len) != API_ROLE_NONE;
}

static int param_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* Matches path against pattern; fills req->params. 1 on a match. */
static int match(const char *pattern, const char *path, struct api_req *req)
{
	size_t np = 0;
	while (*pattern && *path) {
		if (*pattern == '{') {
			const char *end = strchr(pattern, '}');
			size_t n = 0;
			while (param_char(path[n]))
				n++;
			if (!end || n == 0 || n >= sizeof req->params[0] || np == API_MAX_PARAMS)
				return 0;
			memcpy(req->params[np], path, n);
			req->params[np++][n] = 0;
			pattern = end + 1;
			path += n;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	if (*pattern || *path)
		return 0;
	req->nparams = np;
	return 1;
}

static const char *method_name(unsigned m)
{
	switch (m) {
	case API_GET: return "GET";
	case API_PUT: return "PUT";
	case API_POST: return "POST";
	case API_DELETE: return "DELETE";
	default: return "?";
	}
}

void api_dispatch(struct api_server *s, struct api_req *req, const char *auth, size_t auth_len,
		  struct api_resp *resp)
{
	char shown[101];                /* the path for messages: printable ASCII */
	memset(resp, 0, sizeof *resp);
	size_t k = 0;
	for (; req->path[k] && k < sizeof shown - 1; k++)
		shown[k] = req->path[k] > 0x20 && req->path[k] < 0x7f ? req->path[k] : '?';
	shown[k] = 0;
	enum api_role role = api_auth_role(s, auth, auth_len);
	if (req->peer_role > role)
		role = req->peer_role;
	if (role == API_ROLE_NONE) {
		api_resp_error(resp, 401, "a valid \"Authorization: Bearer <token>\" header is required");
		return;
	}
	unsigned methods = 0;
	for (size_t i = 0; i < api_nroutes; i++) {
		const struct api_route *r = &api_routes[i];
		if (!match(r->pattern, req->path, req))
			continue;
		if (r->method == req->method) {
			/* a route that names no role is the admin's */
			if (role < (r->role ? r->role : API_ROLE_ADMIN)) {
				api_resp_error(resp, 403, "%s %s needs the admin role; this credential is "
					       "read-only (monitor)", method_name(r->method), shown);
				return;
			}
			r->fn(req, resp);
			return;
		}
		methods |= r->method;
	}
	if (!methods) {
		api_resp_error(resp, 404, "no resource at %s", shown);
		return;
	}
	api_resp_error(resp, 405, "%s is not allowed on %s",
		       req->method_name ? req->method_name : method_name(req->method), shown);
	size_t off = 0;
	for (unsigned m = API_GET; m < API_OTHER; m <<= 1)
		if (methods & m)
			off += (size_t)snprintf(resp->allow + off, sizeof resp->allow - off, "%s%s",
						off ? ", " : "", method_name(m));
}

/* ---- response helpers */
void api_resp_json(struct api_resp *r, int status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(j);
	if (!text) {
		static const char oom[] = "{\"error\":\"out of memory\"}";
		r->status = 500;
		r->content_type = "application/json";
		r->body = strdup(oom);
		r->body_len = r->body ? sizeof oom - 1 : 0;
		return;
	}
	r->status = status;
	r->content_type = "application/json";
	r->body = text;
	r->body_len = strlen(text);
}

void api_resp_text(struct api_resp *r, int status, const char *type, char *text, size_t len)
{
	r->status = status;
	r->content_type = type;
	r->body = text;
	r->body_len = text ? len : 0;
}

void api_resp_error(struct api_resp *r, int status, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_t *j = json_pack("{s:s}", "error", msg);
	if (!j) {
		/* truncation (or a key from the request) left bytes that are
		 * not UTF-8: say it in ASCII */
		for (char *m = msg; *m; m++)
			if ((unsigned char)*m >= 0x80)
				*m = '?';
		j = json_pack("{s:s}", "error", msg);
	}
	api_resp_json(r, status, j);
}
