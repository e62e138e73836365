/*
 * fuzz_api_tls_mtls.c — libFuzzer target: TLS with client certificates.
 * The API's TLS server (src/api/tls.c, cert.c) is configured as an
 * operator would: api.client_ca, a CRL of it (api.client_crl) and
 * api.admin_subjects ("ops-admin", "ops-revoked"). A real mbedTLS client
 * with one of nine credentials (test/fuzz/api_tls_mtls_pems.h, made by
 * test/fuzz/corpus/gen_api_tls_mtls.sh) talks to it through memory; the
 * fuzzer picks the credential, a token, the request, how the client's
 * bytes are cut into pieces, and tampers with the client's records on
 * their way (flip, insert or delete a byte, cut the stream).
 *
 * What must hold (else abort):
 *  - the role a connection gets is the certificate's, raised by a token
 *    and never otherwise: ops-admin from the CA is admin; dash-monitor,
 *    a subject with two CNs and "ops-admin-x" from the CA are monitor;
 *    no certificate, ops-revoked (revoked, though listed), ops-admin
 *    signed by another CA, self-signed or expired get no role. Seen
 *    from outside, by the status of GET /v1/config (admin: 200, monitor:
 *    403, none: 401) or GET /v1/system (200 or 401);
 *  - untampered, the handshake completes and the answer arrives;
 *  - tampered, any answer that arrives is still the right one (a record
 *    that was changed never authenticates anything);
 *  - feed never takes more than room() said, nothing leaks (ASan).
 *
 * Input: byte 0 the credential (mod 9: none, admin, monitor, revoked,
 * wrong CA, self-signed, two CNs, CN prefix, expired); byte 1: bits 0-1
 * the token (none, admin, monitor, wrong), bit 2 the path (/v1/config or
 * /v1/system), bits 4-7 the piece size (1 << n bytes) the client's bytes
 * are fed in; then tamper ops of 4 bytes: kind (mod 4: xor the byte at
 * offset with value, insert value before it, delete it, cut the stream
 * there), offset (16 bits mod 2048, in the client's byte stream: the
 * handshake and the request fit), value.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include "api/api_priv.h"
#include "../unit/api/fake.h"
#include "api_tls_mtls_pems.h"

#define MON_TOKEN "monitor-token-0123456789"
#define MAX_OPS 16

static const struct cred {
	const char *crt, *key;
	enum api_role role;
} creds[] = {
	{ NULL, NULL, API_ROLE_NONE },
	{ MT_ADMIN_CRT, MT_ADMIN_KEY, API_ROLE_ADMIN },
	{ MT_MONITOR_CRT, MT_MONITOR_KEY, API_ROLE_MONITOR },
	{ MT_REVOKED_CRT, MT_REVOKED_KEY, API_ROLE_NONE },
	{ MT_WRONGCA_CRT, MT_WRONGCA_KEY, API_ROLE_NONE },
	{ MT_SELFSIGNED_CRT, MT_SELFSIGNED_KEY, API_ROLE_NONE },
	{ MT_TWOCN_CRT, MT_TWOCN_KEY, API_ROLE_MONITOR },
	{ MT_PREFIX_CRT, MT_PREFIX_KEY, API_ROLE_MONITOR },
	{ MT_EXPIRED_CRT, MT_EXPIRED_KEY, API_ROLE_NONE },
};
#define NCREDS (sizeof creds / sizeof creds[0])

static struct api_server srv;
static struct api_tls *tls;
/* parsed once: parsing P-256 keys per input would cost more than the rest */
static mbedtls_x509_crt crt[NCREDS];
static mbedtls_pk_context key[NCREDS];

struct op { uint8_t kind, val; uint16_t at; };

static struct client {
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_ctr_drbg_context drbg;
	unsigned char in[1 << 17];      /* from the server */
	size_t in_len, in_off;
	unsigned char out[1 << 16];     /* to the server, not yet moved */
	size_t out_len;
	size_t pos;                     /* offset in the client's stream of out[0] */
	int cut;                        /* the stream was cut: nothing more goes */
	int tampered;                   /* an op changed what the server saw */
	struct op ops[MAX_OPS];
	size_t nops;
	size_t piece;
	struct api_tls_conn *srv;
} C;

static void fail(const char *why, int cred, const char *got) __attribute__((noreturn));
static void fail(const char *why, int cred, const char *got)
{
	fprintf(stderr, "fuzz_api_tls_mtls: %s (credential %d, answer \"%.40s\")\n", why, cred, got);
	abort();
}

static int cl_send(void *arg, const unsigned char *p, size_t n)
{
	if (C.out_len + n > sizeof C.out)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	memcpy(C.out + C.out_len, p, n);
	C.out_len += n;
	return (int)n;
}

static int cl_recv(void *arg, unsigned char *p, size_t n)
{
	size_t have = C.in_len - C.in_off;
	if (!have)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (n > have)
		n = have;
	memcpy(p, C.in + C.in_off, n);
	C.in_off += n;
	return (int)n;
}

/* a fixed "entropy" for the client: the same input plays the same way
 * on the client's side (the server keeps its own generator) */
static int fixed_entropy(void *arg, unsigned char *out, size_t len)
{
	memset(out, 0x5a, len);
	return 0;
}

/* The client's bytes in [0, n) of out, through the tamper ops, fed to
 * the server in pieces; returns how many of the n were consumed. */
static size_t move_out(size_t n)
{
	unsigned char buf[2 * 65536 + MAX_OPS];
	size_t len = 0, used = 0;
	for (; used < n && !C.cut; used++) {
		size_t at = C.pos + used;
		unsigned char b = C.out[used];
		int drop = 0;
		for (size_t k = 0; k < C.nops; k++) {
			const struct op *o = &C.ops[k];
			if (o->at != at)
				continue;
			switch (o->kind) {
			case 0: b ^= o->val; C.tampered |= o->val != 0; break;
			case 1: buf[len++] = o->val; C.tampered = 1; break;
			case 2: drop = 1; C.tampered = 1; break;
			case 3: C.cut = 1; C.tampered = 1; break;
			}
		}
		if (C.cut)
			break;
		if (!drop)
			buf[len++] = b;
	}
	for (size_t off = 0; off < len;) {
		size_t want = len - off < C.piece ? len - off : C.piece;
		size_t room = api_tls_conn_room(C.srv);
		int closing = api_tls_conn_closing(C.srv);
		size_t took = api_tls_conn_feed(C.srv, buf + off, want);
		if (took > want || (!closing && took > room))
			fail("feed took more than it was given or than room() said", -1, "");
		if (!took) {            /* back-pressure: what is left is lost, as a cut */
			C.tampered = 1;
			break;
		}
		off += took;
	}
	if (C.cut)
		api_tls_conn_eof(C.srv);
	return C.cut ? n : used;
}

/* Moves bytes both ways until neither side has any to move. */
static void pump(void)
{
	for (int i = 0; i < 64; i++) {
		int moved = 0;
		if (C.out_len && !C.cut) {
			size_t n = move_out(C.out_len);
			memmove(C.out, C.out + n, C.out_len - n);
			C.out_len -= n;
			C.pos += n;
			moved |= n > 0;
		} else if (C.cut) {
			C.out_len = 0;
		}
		size_t len;
		const void *p = api_tls_conn_output(C.srv, &len);
		if (len) {
			if (C.in_off == C.in_len)
				C.in_off = C.in_len = 0;
			size_t room = sizeof C.in - C.in_len;
			size_t n = len < room ? len : room;
			memcpy(C.in + C.in_len, p, n);
			C.in_len += n;
			api_tls_conn_output_done(C.srv, n);
			moved |= n > 0;
		}
		if (!moved)
			return;
	}
}

static void init(void)
{
	static const char *const admins[] = { "ops-admin", "ops-revoked" };
	char err[200];
	fake_reset();
	if (api_server_init(&srv, FAKE_TOKEN, &fake_backend) ||
	    api_server_set_monitor_token(&srv, MON_TOKEN) ||
	    api_tls_init(&tls, &(struct api_tls_opts){ .client_ca_pem = MT_CA_CRT, .client_crl_pem = MT_CA_CRL,
						       .admin_subjects = admins, .nadmin_subjects = 2 },
			 err, sizeof err))
		fail("server set-up", -1, err);
	for (size_t i = 1; i < NCREDS; i++) {
		mbedtls_x509_crt_init(&crt[i]);
		mbedtls_pk_init(&key[i]);
		if (mbedtls_x509_crt_parse(&crt[i], (const unsigned char *)creds[i].crt, strlen(creds[i].crt) + 1) ||
		    mbedtls_pk_parse_key(&key[i], (const unsigned char *)creds[i].key, strlen(creds[i].key) + 1,
					 NULL, 0))
			fail("client credential does not parse", (int)i, "");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!tls)
		init();
	if (size < 2)
		return 0;
	int cred = data[0] % NCREDS, tok = data[1] & 3, sys = data[1] & 4;
	memset(&C, 0, offsetof(struct client, in));
	C.in_len = C.in_off = C.out_len = C.pos = 0;
	C.cut = C.tampered = 0;
	C.piece = (size_t)1 << (data[1] >> 4);
	C.nops = 0;
	for (size_t off = 2; off + 4 <= size && C.nops < MAX_OPS; off += 4)
		C.ops[C.nops++] = (struct op){ .kind = data[off] & 3, .at = (uint16_t)((data[off + 1] << 8 | data[off + 2]) % 2048),
					       .val = data[off + 3] };

	/* the client */
	mbedtls_ssl_config_init(&C.conf);
	mbedtls_ssl_init(&C.ssl);
	mbedtls_ctr_drbg_init(&C.drbg);
	if (mbedtls_ctr_drbg_seed(&C.drbg, fixed_entropy, NULL, NULL, 0) ||
	    mbedtls_ssl_config_defaults(&C.conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT))
		fail("client set-up", cred, "");
	mbedtls_ssl_conf_min_version(&C.conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_rng(&C.conf, mbedtls_ctr_drbg_random, &C.drbg);
	mbedtls_ssl_conf_authmode(&C.conf, MBEDTLS_SSL_VERIFY_NONE);
	if (creds[cred].crt && mbedtls_ssl_conf_own_cert(&C.conf, &crt[cred], &key[cred]))
		fail("client certificate", cred, "");
	if (mbedtls_ssl_setup(&C.ssl, &C.conf))
		fail("client set-up", cred, "");
	mbedtls_ssl_set_bio(&C.ssl, NULL, cl_send, cl_recv, NULL);
	C.srv = api_tls_conn_new(tls, &srv);
	if (!C.srv)
		fail("out of memory", cred, "");

	/* the handshake, then one request */
	int rc = MBEDTLS_ERR_SSL_WANT_READ;
	for (int i = 0; i < 32 && (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE); i++) {
		rc = mbedtls_ssl_handshake(&C.ssl);
		pump();
	}
	char answer[512] = "";
	if (rc == 0) {
		static const char *const auth[] = { "", "Authorization: Bearer " FAKE_TOKEN "\r\n",
						     "Authorization: Bearer " MON_TOKEN "\r\n",
						     "Authorization: Bearer wrong-token-0123456789\r\n" };
		char req[256];
		int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n",
				 sys ? "/v1/system" : "/v1/config", auth[tok]);
		if (mbedtls_ssl_write(&C.ssl, (const unsigned char *)req, (size_t)n) != n)
			fail("client write", cred, "");
		pump();
		size_t got = 0;
		for (int i = 0; i < 8 && got < sizeof answer - 1; i++) {
			int r = mbedtls_ssl_read(&C.ssl, (unsigned char *)answer + got, sizeof answer - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		answer[got] = 0;
	}

	/* the oracle */
	enum api_role want = creds[cred].role;
	enum api_role by_token = tok == 1 ? API_ROLE_ADMIN : tok == 2 ? API_ROLE_MONITOR : API_ROLE_NONE;
	if (by_token > want)
		want = by_token;
	const char *status = sys ? (want >= API_ROLE_MONITOR ? "HTTP/1.1 200" : "HTTP/1.1 401")
				 : (want == API_ROLE_ADMIN ? "HTTP/1.1 200"
				    : want == API_ROLE_MONITOR ? "HTTP/1.1 403" : "HTTP/1.1 401");
	if (!C.tampered && rc != 0)
		fail("an untampered handshake failed", cred, "");
	if (answer[0] && strncmp(answer, status, strlen(status)))
		fail(C.tampered ? "a tampered connection got another role than its certificate's"
				: "the connection got another role than its certificate's", cred, answer);
	if (!C.tampered && !answer[0])
		fail("no answer on an untampered connection", cred, "");

	api_tls_conn_free(C.srv);
	mbedtls_ssl_free(&C.ssl);
	mbedtls_ssl_config_free(&C.conf);
	mbedtls_ctr_drbg_free(&C.drbg);
	return 0;
}
