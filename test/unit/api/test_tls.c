/*
 * test_tls.c — the TLS layer (src/api/tls.c, cert.c) against an mbedTLS
 * client, entirely in memory: the two sides exchange bytes through
 * buffers, one step at a time, as a transport would. Handshake and data
 * both ways, the policy (TLS 1.1 and weak suites refused), a stalled
 * handshake beside a working one, a tampered record, configured and
 * generated certificates, client-certificate authentication, the
 * pluggable entropy source and back-pressure.
 */
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include "api/api_priv.h"
#include "fake.h"
#include "tls_pems.h"

static struct api_server srv;
static struct api_tls *tls;

/* ---- an mbedTLS client over two byte queues */
struct client {
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_x509_crt ca, own;
	mbedtls_pk_context key;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	unsigned char in[1 << 18];      /* from the server */
	size_t in_len, in_off;
	unsigned char out[1 << 18];     /* to the server */
	size_t out_len;
	struct api_tls_conn *srv;       /* its server-side connection */
	int last_read;                  /* what the last mbedtls_ssl_read returned */
};

static int cl_send(void *arg, const unsigned char *p, size_t n)
{
	struct client *c = arg;
	cr_assert(c->out_len + n <= sizeof c->out);
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return (int)n;
}

static int cl_recv(void *arg, unsigned char *p, size_t n)
{
	struct client *c = arg;
	size_t have = c->in_len - c->in_off;
	if (!have)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (n > have)
		n = have;
	memcpy(p, c->in + c->in_off, n);
	c->in_off += n;
	return (int)n;
}

struct client_opts {
	int minor;                      /* 0: TLS 1.2 */
	const int *suites;              /* NULL: mbedTLS's defaults */
	const char *ca_pem;             /* verify the server against it */
	const char *crt_pem, *key_pem;  /* our certificate */
};

static struct client *client_new(const struct client_opts *o)
{
	struct client *c = calloc(1, sizeof *c);
	cr_assert_not_null(c);
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_ssl_init(&c->ssl);
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_x509_crt_init(&c->own);
	mbedtls_pk_init(&c->key);
	mbedtls_entropy_init(&c->ent);
	mbedtls_ctr_drbg_init(&c->drbg);
	cr_assert_eq(mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->ent, NULL, 0), 0);
	cr_assert_eq(mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
						 MBEDTLS_SSL_PRESET_DEFAULT), 0);
	int minor = o->minor ? o->minor : MBEDTLS_SSL_MINOR_VERSION_3;
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3, minor);
	mbedtls_ssl_conf_max_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3, minor);
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	if (o->suites)
		mbedtls_ssl_conf_ciphersuites(&c->conf, o->suites);
	if (o->ca_pem) {
		cr_assert_eq(mbedtls_x509_crt_parse(&c->ca, (const unsigned char *)o->ca_pem,
						    strlen(o->ca_pem) + 1), 0);
		mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
		mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	} else {
		mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
	}
	if (o->crt_pem) {
		cr_assert_eq(mbedtls_x509_crt_parse(&c->own, (const unsigned char *)o->crt_pem,
						    strlen(o->crt_pem) + 1), 0);
		cr_assert_eq(mbedtls_pk_parse_key(&c->key, (const unsigned char *)o->key_pem,
						  strlen(o->key_pem) + 1, NULL, 0), 0);
		cr_assert_eq(mbedtls_ssl_conf_own_cert(&c->conf, &c->own, &c->key), 0);
	}
	cr_assert_eq(mbedtls_ssl_setup(&c->ssl, &c->conf), 0);
	cr_assert_eq(mbedtls_ssl_set_hostname(&c->ssl, "localhost"), 0);
	mbedtls_ssl_set_bio(&c->ssl, c, cl_send, cl_recv, NULL);
	c->srv = api_tls_conn_new(tls, &srv);
	cr_assert_not_null(c->srv);
	return c;
}

static void client_free(struct client *c)
{
	api_tls_conn_free(c->srv);
	mbedtls_ssl_free(&c->ssl);
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_x509_crt_free(&c->ca);
	mbedtls_x509_crt_free(&c->own);
	mbedtls_pk_free(&c->key);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->ent);
	free(c);
}

/* Moves bytes both ways until neither side has any to move. */
static void pump(struct client *c)
{
	for (int i = 0; i < 1000; i++) {
		int moved = 0;
		if (c->out_len) {
			size_t took = api_tls_conn_feed(c->srv, c->out, c->out_len);
			memmove(c->out, c->out + took, c->out_len - took);
			c->out_len -= took;
			moved |= took > 0;
		}
		size_t len;
		const void *p = api_tls_conn_output(c->srv, &len);
		if (len) {
			if (c->in_off == c->in_len)
				c->in_off = c->in_len = 0;
			size_t room = sizeof c->in - c->in_len;
			size_t n = len < room ? len : room;
			memcpy(c->in + c->in_len, p, n);
			c->in_len += n;
			api_tls_conn_output_done(c->srv, n);
			moved |= n > 0;
		}
		if (!moved)
			return;
	}
	cr_assert_fail("pump: no end");
}

/* Runs the client's handshake to the end; its result. */
static int handshake(struct client *c)
{
	for (int i = 0; i < 100; i++) {
		int rc = mbedtls_ssl_handshake(&c->ssl);
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
			return rc;
		pump(c);
	}
	return -1;
}

static void client_write(struct client *c, const char *s)
{
	size_t off = 0, n = strlen(s);
	while (off < n) {
		int w = mbedtls_ssl_write(&c->ssl, (const unsigned char *)s + off, n - off);
		cr_assert_gt(w, 0, "client write: -0x%x", -w);
		off += (size_t)w;
	}
}

/* Reads what the server has sent so far (after a pump). */
static size_t client_read(struct client *c, char *buf, size_t max)
{
	size_t got = 0;
	while (got < max - 1) {
		int r = mbedtls_ssl_read(&c->ssl, (unsigned char *)buf + got, max - 1 - got);
		c->last_read = r;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = 0;
	return got;
}

static const char get_system[] =
	"GET /v1/system HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " FAKE_TOKEN "\r\n\r\n";

static void server_up(const struct api_tls_opts *o)
{
	char err[200] = "";
	fake_reset();
	cr_assert_eq(api_server_init(&srv, FAKE_TOKEN, &fake_backend), 0);
	int rc = api_tls_init(&tls, o, err, sizeof err);
	cr_assert_eq(rc, 0, "api_tls_init: %s", err);
}

static void setup(void)
{
	struct api_tls_opts o = { 0 };
	server_up(&o);
}

static void teardown(void)
{
	api_tls_free(tls);
	tls = NULL;
	json_decref(fake_cfg);
	fake_cfg = NULL;
}

TestSuite(tls, .init = setup, .fini = teardown);

Test(tls, handshake_and_requests_both_ways)
{
	struct client *c = client_new(&(struct client_opts){ .ca_pem = api_tls_cert_pem(tls) });
	cr_assert(api_tls_conn_handshaking(c->srv));
	cr_assert_eq(handshake(c), 0);
	/* the generated certificate verifies as its own trust anchor */
	cr_assert_eq(mbedtls_ssl_get_verify_result(&c->ssl), 0);
	cr_assert_str_eq(mbedtls_ssl_get_version(&c->ssl), "TLSv1.2");
	const char *suite = mbedtls_ssl_get_ciphersuite(&c->ssl);
	cr_assert(strstr(suite, "ECDHE-ECDSA") && (strstr(suite, "GCM") || strstr(suite, "CHACHA20")), "%s", suite);
	cr_assert(!api_tls_conn_handshaking(c->srv));
	cr_assert_eq(api_tls_stats(tls)->handshakes, 1);

	char buf[8192];
	for (int i = 0; i < 3; i++) {           /* keep-alive: one connection */
		client_write(c, get_system);
		pump(c);
		client_read(c, buf, sizeof buf);
		cr_assert(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), "%s", buf);
		cr_assert(strstr(buf, "\"version\": \"test-1\"") || strstr(buf, "\"version\":\"test-1\""), "%s", buf);
	}
	/* no token: 401, still over TLS */
	client_write(c, "GET /v1/system HTTP/1.1\r\nHost: x\r\n\r\n");
	pump(c);
	client_read(c, buf, sizeof buf);
	cr_assert(!strncmp(buf, "HTTP/1.1 401", 12), "%s", buf);
	/* Connection: close ends with close_notify */
	client_write(c, "GET /v1/system HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			"Authorization: Bearer " FAKE_TOKEN "\r\n\r\n");
	pump(c);
	client_read(c, buf, sizeof buf);
	cr_assert(!strncmp(buf, "HTTP/1.1 200", 12), "%s", buf);
	cr_assert(api_tls_conn_closing(c->srv));
	cr_assert_eq(c->last_read, MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
	client_free(c);
}

Test(tls, every_offered_suite_is_ecdhe_with_aead)
{
	static const int want[][2] = {
		{ MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0 },
		{ MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 0 },
		{ MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 0 },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		struct client *c = client_new(&(struct client_opts){ .suites = want[i] });
		cr_assert_eq(handshake(c), 0, "suite %d refused", want[i][0]);
		cr_assert_eq(mbedtls_ssl_get_ciphersuite_id(mbedtls_ssl_get_ciphersuite(&c->ssl)), want[i][0]);
		client_free(c);
	}
}

Test(tls, tls_1_1_is_refused)
{
	struct client *c = client_new(&(struct client_opts){ .minor = MBEDTLS_SSL_MINOR_VERSION_2 });
	int rc = handshake(c);
	cr_assert_neq(rc, 0);
	cr_assert(api_tls_conn_closing(c->srv));
	cr_assert_eq(api_tls_stats(tls)->hs_fail_version, 1);
	cr_assert_eq(api_tls_stats(tls)->handshakes, 0);
	client_free(c);
}

Test(tls, weak_suites_are_refused)
{
	static const int weak[][2] = {
		{ MBEDTLS_TLS_RSA_WITH_AES_128_GCM_SHA256, 0 },         /* no forward secrecy */
		{ MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, 0 }, /* CBC */
		{ MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, 0 },
		{ MBEDTLS_TLS_DHE_RSA_WITH_AES_128_GCM_SHA256, 0 },     /* not ECDHE */
	};
	for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
		struct client *c = client_new(&(struct client_opts){ .suites = weak[i] });
		cr_assert_neq(handshake(c), 0, "suite %d accepted", weak[i][0]);
		cr_assert(api_tls_conn_closing(c->srv));
		client_free(c);
	}
	cr_assert_eq(api_tls_stats(tls)->hs_fail_cipher, 4);
	cr_assert_eq(api_tls_stats(tls)->handshakes, 0);
}

Test(tls, a_stalled_handshake_does_not_hold_up_another)
{
	struct client *stall = client_new(&(struct client_opts){ 0 });
	/* ClientHello out, ServerHello..Done back, then silence */
	cr_assert_eq(mbedtls_ssl_handshake(&stall->ssl), MBEDTLS_ERR_SSL_WANT_READ);
	pump(stall);
	cr_assert(stall->in_len > 0);
	cr_assert(api_tls_conn_handshaking(stall->srv));

	struct client *c = client_new(&(struct client_opts){ 0 });
	cr_assert_eq(handshake(c), 0);
	char buf[8192];
	client_write(c, get_system);
	pump(c);
	client_read(c, buf, sizeof buf);
	cr_assert(!strncmp(buf, "HTTP/1.1 200", 12), "%s", buf);
	cr_assert(api_tls_conn_handshaking(stall->srv));
	/* the staller leaves: counted as a failed handshake */
	api_tls_conn_eof(stall->srv);
	cr_assert(api_tls_conn_closing(stall->srv));
	cr_assert_eq(api_tls_stats(tls)->hs_fail_other, 1);
	client_free(stall);
	client_free(c);
}

Test(tls, a_tampered_record_is_counted_and_closes)
{
	struct client *c = client_new(&(struct client_opts){ 0 });
	cr_assert_eq(handshake(c), 0);
	client_write(c, get_system);
	/* one application-data record: header (5) then ciphertext; flip a
	 * ciphertext byte so the GCM tag or Poly1305 MAC fails */
	cr_assert_eq(c->out[0], 23);
	cr_assert_gt(c->out_len, 40);
	c->out[30] ^= 0x40;
	pump(c);
	cr_assert(api_tls_conn_closing(c->srv));
	cr_assert_eq(api_tls_stats(tls)->bad_records, 1);
	/* the answer is a fatal alert, never HTTP */
	char buf[256];
	cr_assert_eq(client_read(c, buf, sizeof buf), 0);
	/* more input after it is swallowed, nothing comes out */
	size_t len;
	api_tls_conn_output(c->srv, &len);
	cr_assert_eq(api_tls_conn_feed(c->srv, "junk", 4), 4);
	size_t len2;
	api_tls_conn_output(c->srv, &len2);
	cr_assert_eq(len, len2);
	client_free(c);
}

Test(tls, garbage_instead_of_a_hello)
{
	struct client *c = client_new(&(struct client_opts){ 0 });
	static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";   /* plain HTTP */
	api_tls_conn_feed(c->srv, junk, sizeof junk - 1);
	cr_assert(api_tls_conn_closing(c->srv));
	cr_assert_eq(api_tls_stats(tls)->hs_fail_other, 1);
	client_free(c);
}

static void fingerprint_of(const char *pem, char *out)
{
	mbedtls_x509_crt crt;
	unsigned char h[32];
	mbedtls_x509_crt_init(&crt);
	cr_assert_eq(mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem, strlen(pem) + 1), 0);
	mbedtls_sha256_ret(crt.raw.p, crt.raw.len, h, 0);
	for (int i = 0; i < 32; i++)
		sprintf(out + 3 * i, "%02X%s", h[i], i < 31 ? ":" : "");
	mbedtls_x509_crt_free(&crt);
}

Test(tls, generated_certificate_and_fingerprint)
{
	char fp[100];
	cr_assert(api_tls_generated(tls));
	const char *f = api_tls_fingerprint(tls);
	cr_assert_eq(strlen(f), 95);
	fingerprint_of(api_tls_cert_pem(tls), fp);
	cr_assert_str_eq(f, fp);
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	const char *pem = api_tls_cert_pem(tls);
	cr_assert_eq(mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem, strlen(pem) + 1), 0);
	cr_assert(mbedtls_pk_can_do(&crt.pk, MBEDTLS_PK_ECDSA));
	cr_assert_eq(mbedtls_pk_get_bitlen(&crt.pk), 256);
	cr_assert_eq(crt.sig_md, MBEDTLS_MD_SHA256);
	cr_assert_eq(crt.ca_istrue, 0);
	mbedtls_x509_crt_free(&crt);
	/* two starts, two keys */
	struct api_tls *t2;
	char err[200];
	cr_assert_eq(api_tls_init(&t2, &(struct api_tls_opts){ 0 }, err, sizeof err), 0);
	cr_assert_str_neq(api_tls_fingerprint(t2), f);
	api_tls_free(t2);
}

Test(tls, configured_rsa_certificate)
{
	api_tls_free(tls);
	server_up(&(struct api_tls_opts){ .cert_pem = PEM_RSA_CRT, .key_pem = PEM_RSA_KEY });
	cr_assert(!api_tls_generated(tls));
	char fp[100];
	fingerprint_of(PEM_RSA_CRT, fp);
	cr_assert_str_eq(api_tls_fingerprint(tls), fp);
	struct client *c = client_new(&(struct client_opts){ 0 });
	cr_assert_eq(handshake(c), 0);
	cr_assert(strstr(mbedtls_ssl_get_ciphersuite(&c->ssl), "ECDHE-RSA"), "%s",
		  mbedtls_ssl_get_ciphersuite(&c->ssl));
	const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&c->ssl);
	cr_assert_not_null(peer);
	char buf[8192];
	client_write(c, get_system);
	pump(c);
	client_read(c, buf, sizeof buf);
	cr_assert(!strncmp(buf, "HTTP/1.1 200", 12), "%s", buf);
	client_free(c);
}

Test(tls, bad_credentials_are_refused)
{
	struct api_tls *t;
	char err[200];
	cr_assert_eq(api_tls_init(&t, &(struct api_tls_opts){ .cert_pem = PEM_RSA_CRT, .key_pem = PEM_OTHER_KEY },
				  err, sizeof err), -EINVAL);
	cr_assert_str_eq(err, "config: api.key: does not match api.cert");
	cr_assert_eq(api_tls_init(&t, &(struct api_tls_opts){ .cert_pem = PEM_RSA_CRT }, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "go together"), "%s", err);
	cr_assert_eq(api_tls_init(&t, &(struct api_tls_opts){ .cert_pem = "-----BEGIN CERTIFICATE-----\nxx\n",
							     .key_pem = PEM_RSA_KEY }, err, sizeof err), -EINVAL);
	cr_assert(!strncmp(err, "config: api.cert:", 17), "%s", err);
	cr_assert_eq(api_tls_init(&t, &(struct api_tls_opts){ .client_ca_pem = "nope" }, err, sizeof err), -EINVAL);
	cr_assert(!strncmp(err, "config: api.client_ca:", 22), "%s", err);
}

static void expect_status(struct client *c, const char *req, const char *status)
{
	char buf[8192];
	client_write(c, req);
	pump(c);
	client_read(c, buf, sizeof buf);
	cr_assert(!strncmp(buf, status, strlen(status)), "wanted %s: %s", status, buf);
}

Test(tls, client_certificate_in_place_of_the_token)
{
	static const char no_token[] = "GET /v1/system HTTP/1.1\r\nHost: x\r\n\r\n";
	api_tls_free(tls);
	server_up(&(struct api_tls_opts){ .client_ca_pem = PEM_CA_CRT });
	/* signed by the CA: no token needed */
	struct client *c = client_new(&(struct client_opts){ .crt_pem = PEM_CLIENT_CRT, .key_pem = PEM_CLIENT_KEY });
	cr_assert_eq(handshake(c), 0);
	expect_status(c, no_token, "HTTP/1.1 200");
	cr_assert_eq(api_tls_stats(tls)->client_cert_auth, 1);
	client_free(c);
	/* self-signed, same name: the token is still needed */
	c = client_new(&(struct client_opts){ .crt_pem = PEM_ROGUE_CRT, .key_pem = PEM_ROGUE_KEY });
	cr_assert_eq(handshake(c), 0);
	expect_status(c, no_token, "HTTP/1.1 401");
	expect_status(c, get_system, "HTTP/1.1 200");
	client_free(c);
	/* no certificate at all: the token works */
	c = client_new(&(struct client_opts){ 0 });
	cr_assert_eq(handshake(c), 0);
	expect_status(c, no_token, "HTTP/1.1 401");
	expect_status(c, get_system, "HTTP/1.1 200");
	client_free(c);
	cr_assert_eq(api_tls_stats(tls)->client_cert_auth, 1);
	cr_assert_eq(api_tls_stats(tls)->handshakes, 3);
}

static int src_calls;
static int counting_source(void *arg, unsigned char *out, size_t len)
{
	src_calls++;
	memset(out, 0x5a, len);         /* mixed with the strong sources, never alone */
	return 0;
}

Test(tls, pluggable_entropy_source_is_used)
{
	struct api_tls *t;
	char err[200];
	src_calls = 0;
	cr_assert_eq(api_tls_init(&t, &(struct api_tls_opts){ .entropy = counting_source }, err, sizeof err), 0);
	cr_assert_gt(src_calls, 0);
	api_tls_free(t);
}

Test(tls, a_client_that_does_not_read_holds_bounded_memory)
{
	struct client *c = client_new(&(struct client_opts){ 0 });
	cr_assert_eq(handshake(c), 0);
	char *buf = malloc(1 << 20);
	/* the fake's /v1/system answer is the same every time */
	client_write(c, get_system);
	pump(c);
	size_t one = client_read(c, buf, 1 << 20);
	cr_assert(!strncmp(buf, "HTTP/1.1 200", 12), "%s", buf);
	/* pipelined requests, never reading: the server stops taking input
	 * once its output is full */
	size_t sent = 0;
	for (int i = 0; i < 5000 && api_tls_conn_room(c->srv) > 0; i++) {
		client_write(c, get_system);
		sent++;
		size_t took = api_tls_conn_feed(c->srv, c->out, c->out_len);
		memmove(c->out, c->out + took, c->out_len - took);
		c->out_len -= took;
	}
	size_t len;
	api_tls_conn_output(c->srv, &len);
	cr_assert_eq(api_tls_conn_room(c->srv), 0, "still taking input after %zu requests", sent);
	cr_assert_lt(len, 2 * API_OUT_HIGH_WATER, "output %zu", len);
	cr_assert(!api_tls_conn_closing(c->srv));
	/* drain: every request gets its answer */
	size_t total = 0;
	for (int round = 0; round < 100000 && total < sent * one; round++) {
		pump(c);
		size_t got = client_read(c, buf, 1 << 20);
		total += got;
		if (!got && !c->out_len)
			break;
	}
	free(buf);
	cr_assert_eq(total, sent * one, "%zu bytes for %zu answers of %zu", total, sent, one);
	client_free(c);
}

Test(tls, counters_in_the_metrics_text)
{
	struct client *c = client_new(&(struct client_opts){ .minor = MBEDTLS_SSL_MINOR_VERSION_2 });
	cr_assert_neq(handshake(c), 0);
	client_free(c);
	c = client_new(&(struct client_opts){ 0 });
	cr_assert_eq(handshake(c), 0);
	struct api_transport_stats x = { .accepted = 5, .open = 2 };
	srv.tls_stats = api_tls_stats(tls);
	srv.transport = &x;
	char buf[65536];
	client_write(c, "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " FAKE_TOKEN "\r\n\r\n");
	pump(c);
	client_read(c, buf, sizeof buf);
	cr_assert(strstr(buf, "\npollux_api_tls_handshakes_total 1\n"), "%s", buf);
	cr_assert(strstr(buf, "\npollux_api_tls_handshake_failures_total{reason=\"version\"} 1\n"), "%s", buf);
	cr_assert(strstr(buf, "\npollux_api_connections_accepted_total 5\n"), "%s", buf);
	cr_assert(strstr(buf, "\npollux_api_connections 2\n"), "%s", buf);
	cr_assert(strstr(buf, "\npollux_api_requests_total 1\n"), "%s", buf);
	client_free(c);
}

/* Part of what the client has written reaches the server (n bytes). */
static void feed_part(struct client *c, size_t n)
{
	cr_assert_leq(n, c->out_len);
	cr_assert_eq(api_tls_conn_feed(c->srv, c->out, n), n);
	memmove(c->out, c->out + n, c->out_len - n);
	c->out_len -= n;
}

#define S_NS 1000000000ull
#define T0 (1000 * S_NS)

Test(tls, a_record_on_its_way_counts_as_a_request)
{
	struct client *c = client_new(&(struct client_opts){ .ca_pem = api_tls_cert_pem(tls) });
	feed_part(c, 0);
	cr_assert_not(api_tls_conn_overdue(c->srv, T0), "the handshake has its own timeout");
	cr_assert_eq(handshake(c), 0);
	cr_assert_not(api_tls_conn_overdue(c->srv, T0));
	cr_assert_not(api_tls_conn_overdue(c->srv, T0 + 3600 * S_NS), "an idle connection is never overdue");
	/* a record's header, then a little of it: HTTP has seen nothing */
	client_write(c, get_system);
	feed_part(c, 3);
	cr_assert_not(api_tls_conn_overdue(c->srv, T0));
	feed_part(c, 20);
	cr_assert_not(api_tls_conn_overdue(c->srv, T0 + 5 * S_NS));
	/* the rest: answered, the clock stops */
	pump(c);
	char buf[8192];
	client_read(c, buf, sizeof buf);
	cr_assert(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), "%s", buf);
	cr_assert_not(api_tls_conn_overdue(c->srv, T0 + 100 * S_NS));
	/* the next request, cut in its record: overdue after the deadline */
	client_write(c, get_system);
	feed_part(c, 7);
	cr_assert_not(api_tls_conn_overdue(c->srv, T0 + 200 * S_NS));
	cr_assert_not(api_tls_conn_overdue(c->srv, T0 + 200 * S_NS + API_HEADER_TIMEOUT_NS - 1));
	cr_assert(api_tls_conn_overdue(c->srv, T0 + 200 * S_NS + API_HEADER_TIMEOUT_NS + 1));
	client_free(c);
}

Test(tls, a_client_held_back_by_its_unread_answers_is_not_late)
{
	struct client *c = client_new(&(struct client_opts){ 0 });
	cr_assert_eq(handshake(c), 0);
	/* pipelined requests, never reading, fed in pieces that cut records */
	for (int i = 0; i < 5000 && api_tls_conn_room(c->srv) > 0; i++) {
		client_write(c, get_system);
		size_t n = c->out_len > 100 ? c->out_len - 100 : c->out_len;
		size_t took = api_tls_conn_feed(c->srv, c->out, n);
		memmove(c->out, c->out + took, c->out_len - took);
		c->out_len -= took;
		cr_assert_not(api_tls_conn_overdue(c->srv, T0));
	}
	cr_assert_eq(api_tls_conn_room(c->srv), 0);
	cr_assert_not(api_tls_conn_overdue(c->srv, T0 + 100 * S_NS),
		      "a request we are not reading was charged the deadline");
	client_free(c);
}

/* ---- item 16: a CRL revokes, and a certificate's subject gives its role */
static const char *const ops_admin[] = { "ops-admin" };

Test(tls, client_certificate_roles_by_subject)
{
	static const char cfg_no_token[] = "GET /v1/config HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char sys_no_token[] = "GET /v1/system HTTP/1.1\r\nHost: x\r\n\r\n";
	api_tls_free(tls);
	/* no subject listed: a verified certificate is only monitor */
	server_up(&(struct api_tls_opts){ .client_ca_pem = PEM_CA2_CRT });
	struct client *c = client_new(&(struct client_opts){ .crt_pem = PEM_OPS_CRT, .key_pem = PEM_OPS_KEY });
	cr_assert_eq(handshake(c), 0);
	expect_status(c, sys_no_token, "HTTP/1.1 200");
	expect_status(c, cfg_no_token, "HTTP/1.1 403");
	client_free(c);
	api_tls_free(tls);
	/* listed by its CN: admin */
	server_up(&(struct api_tls_opts){ .client_ca_pem = PEM_CA2_CRT, .admin_subjects = ops_admin,
					  .nadmin_subjects = 1 });
	c = client_new(&(struct client_opts){ .crt_pem = PEM_OPS_CRT, .key_pem = PEM_OPS_KEY });
	cr_assert_eq(handshake(c), 0);
	expect_status(c, cfg_no_token, "HTTP/1.1 200");
	client_free(c);
	/* another CN under the same CA: monitor */
	c = client_new(&(struct client_opts){ .crt_pem = PEM_REVOKED_CRT, .key_pem = PEM_REVOKED_KEY });
	cr_assert_eq(handshake(c), 0);
	expect_status(c, sys_no_token, "HTTP/1.1 200");
	expect_status(c, cfg_no_token, "HTTP/1.1 403");
	client_free(c);
}

Test(tls, a_revoked_client_certificate_needs_the_token)
{
	static const char sys_no_token[] = "GET /v1/system HTTP/1.1\r\nHost: x\r\n\r\n";
	api_tls_free(tls);
	server_up(&(struct api_tls_opts){ .client_ca_pem = PEM_CA2_CRT, .client_crl_pem = PEM_CA2_CRL,
					  .admin_subjects = ops_admin, .nadmin_subjects = 1 });
	struct client *c = client_new(&(struct client_opts){ .crt_pem = PEM_REVOKED_CRT,
							      .key_pem = PEM_REVOKED_KEY });
	cr_assert_eq(handshake(c), 0);
	expect_status(c, sys_no_token, "HTTP/1.1 401");
	expect_status(c, get_system, "HTTP/1.1 200");
	client_free(c);
	/* one that is not revoked still verifies */
	c = client_new(&(struct client_opts){ .crt_pem = PEM_OPS_CRT, .key_pem = PEM_OPS_KEY });
	cr_assert_eq(handshake(c), 0);
	expect_status(c, sys_no_token, "HTTP/1.1 200");
	client_free(c);
	cr_assert_eq(api_tls_stats(tls)->client_cert_auth, 1);
	/* a CRL without a CA, or not a CRL, stops the start */
	struct api_tls *t2;
	char e[256];
	cr_assert_eq(api_tls_init(&t2, &(struct api_tls_opts){ .client_crl_pem = PEM_CA2_CRL }, e, sizeof e), -EINVAL);
	cr_assert_str_eq(e, "config: api.client_crl: needs api.client_ca");
	cr_assert_eq(api_tls_init(&t2, &(struct api_tls_opts){ .client_ca_pem = PEM_CA2_CRT,
							       .client_crl_pem = PEM_CA2_CRT }, e, sizeof e), -EINVAL);
	cr_assert(!strncmp(e, "config: api.client_crl:", 23), "%s", e);
}
