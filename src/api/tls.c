/*
 * tls.c — TLS for the control plane: mbedTLS 2.28 (Debian) over a byte
 * stream, wrapping an api_conn (http.c).
 *
 * Policy: TLS 1.2 only (min = max = 1.2), ECDHE key exchange with
 * AES-128/256-GCM or ChaCha20-Poly1305, ECDSA or RSA certificates, no
 * renegotiation, no resumption, SHA-2 signatures only. A client offering
 * less is refused in the handshake (mbedTLS sends the protocol_version
 * or handshake_failure alert). Each choice is explained where it is made
 * (api_tls_init and the tables below); testssl.sh's verdict on the result
 * is in docs/api.md and test/hosted/test_testssl.py keeps it.
 *
 * Transport: nothing here touches a socket. mbedTLS's BIO callbacks read
 * from the connection's input buffer (ciphertext the transport fed) and
 * append to its output buffer (ciphertext the transport sends); "no data
 * yet" is MBEDTLS_ERR_SSL_WANT_READ, so the handshake and the records
 * advance step by step as bytes arrive and never block the core.
 *
 * Flow of one connection:
 *   feed -> in -> mbedtls_ssl_handshake / mbedtls_ssl_read -> plaintext
 *        -> api_conn_feed (what it refuses waits in `plain`)
 *   api_conn_output -> mbedtls_ssl_write -> out -> transport
 * Bounds: `in` holds at most API_TLS_IN_MAX, `plain` one record's worth,
 * and plaintext is encrypted only while `out` is under
 * API_OUT_HIGH_WATER, so a client that never reads holds bounded memory.
 *
 * Entropy: mbedTLS's platform source (getrandom: the host's, or on the
 * VM the syscall shim's RDRAND), RDSEED/RDRAND straight from the CPU
 * where it has them, and an optional source from the caller (virtio-rng),
 * into one CTR-DRBG. Everything runs on the control core.
 */
#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/oid.h>
#include <mbedtls/error.h>
#include "api/api_priv.h"
#include "api/tls_priv.h"

/* Forward secrecy (ECDHE only: static RSA key exchange has none and is
 * what ROBOT attacks; finite-field DHE is slow and invites weak groups)
 * and AEAD only (no CBC: Lucky13 and friends, no RC4/3DES: SWEET32).
 * AES-128-GCM first: as strong as needed, and the fastest with AES-NI;
 * ChaCha20 for clients without it. Server order is enforced (mbedTLS
 * picks from this list in its own order). */
static const int suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	0
};

/* ECDHE groups: X25519 first (constant-time by design), then the NIST
 * curves every client has. No P-521 or Brainpool: slower, no client
 * needs them, and fewer curves is less code an attacker reaches. */
static const mbedtls_ecp_group_id curves[] = {
	MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_NONE
};

/* Signatures in the handshake (ServerKeyExchange, CertificateVerify of
 * a client certificate): SHA-2 of 256 bits and more. The default preset
 * of mbedTLS 2.28 also allows SHA-224; SHA-1 (collisions are practical)
 * is never allowed. */
static const int sig_hashes[] = {
	MBEDTLS_MD_SHA256, MBEDTLS_MD_SHA384, MBEDTLS_MD_SHA512, MBEDTLS_MD_NONE
};

/* ---- entropy */
static int cpu_has(unsigned leaf, unsigned reg, unsigned bit)
{
	unsigned r[4];
	if (!__get_cpuid_count(leaf, 0, &r[0], &r[1], &r[2], &r[3]))
		return 0;
	return (r[reg] >> bit) & 1;
}

/* RDSEED where the CPU has it (a true seed), else RDRAND. Either may
 * fail transiently: RDSEED often does in bursts (on a shared host one of
 * the first 16 draws of a process failed 32 tries in a row nearly every
 * time), so it is retried with a pause between tries and a word it still
 * cannot give comes from RDRAND (conditioned from the same source; every
 * CPU with RDSEED has RDRAND);
 * only when RDRAND fails too is it an error, never fewer bytes. */
static int hw_entropy(void *arg, unsigned char *out, size_t len, size_t *olen)
{
	int seed = arg != NULL;
	*olen = 0;
	while (*olen < len) {
		unsigned long long v = 0;
		unsigned char ok = 0;
		for (int t = 0; seed && t < 64 && !ok; t++) {
			__asm__ volatile("rdseed %0; setc %1" : "=r"(v), "=qm"(ok) :: "cc");
			if (!ok)
				__builtin_ia32_pause();
		}
		for (int t = 0; t < 32 && !ok; t++)
			__asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok) :: "cc");
		if (!ok)
			return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
		size_t n = len - *olen < sizeof v ? len - *olen : sizeof v;
		memcpy(out + *olen, &v, n);
		*olen += n;
	}
	return 0;
}

static int user_entropy(void *arg, unsigned char *out, size_t len, size_t *olen)
{
	struct api_tls *t = arg;
	*olen = 0;
	if (t->user_entropy(t->user_entropy_arg, out, len))
		return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
	*olen = len;
	return 0;
}

static int entropy_setup(struct api_tls *t, const struct api_tls_opts *o)
{
	int rc = 0;
	mbedtls_entropy_init(&t->entropy);      /* with the platform's getrandom */
	if (cpu_has(7, 1, 18))                  /* EBX bit 18: RDSEED */
		rc = mbedtls_entropy_add_source(&t->entropy, hw_entropy, (void *)1, 32,
						MBEDTLS_ENTROPY_SOURCE_STRONG);
	else if (cpu_has(1, 2, 30))             /* ECX bit 30: RDRAND */
		rc = mbedtls_entropy_add_source(&t->entropy, hw_entropy, NULL, 32,
						MBEDTLS_ENTROPY_SOURCE_STRONG);
	if (!rc && o->entropy) {
		t->user_entropy = o->entropy;
		t->user_entropy_arg = o->entropy_arg;
		rc = mbedtls_entropy_add_source(&t->entropy, user_entropy, t, 32,
						MBEDTLS_ENTROPY_SOURCE_STRONG);
	}
	if (!rc)
		rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
					   (const unsigned char *)"pollux-api-tls", 14);
	return rc;
}

/* ---- the server context */
int api_tls_init(struct api_tls **out, const struct api_tls_opts *o, char *err, size_t errlen)
{
	struct api_tls *t = calloc(1, sizeof *t);
	int rc;
	*out = NULL;
	if (!t) {
		snprintf(err, errlen, "api: out of memory for TLS");
		return -ENOMEM;
	}
	mbedtls_ctr_drbg_init(&t->drbg);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->crt);
	mbedtls_x509_crt_init(&t->client_ca);
	mbedtls_x509_crl_init(&t->client_crl);
	mbedtls_pk_init(&t->key);
	if ((rc = entropy_setup(t, o))) {
		snprintf(err, errlen, "api: no entropy for TLS (-0x%04x)", (unsigned)-rc);
		rc = -EIO;
		goto fail;
	}
	if ((rc = api_tls_cert_setup(t, o, err, errlen)))
		goto fail;
	mbedtls_ssl_config *c = &t->conf;
	if ((rc = mbedtls_ssl_config_defaults(c, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
					      MBEDTLS_SSL_PRESET_DEFAULT)) ||
	    (rc = mbedtls_ssl_conf_own_cert(c, &t->crt, &t->key))) {
		snprintf(err, errlen, "api: TLS config (-0x%04x)", (unsigned)-rc);
		rc = -EIO;
		goto fail;
	}
	/* TLS 1.2 only: 1.0 and 1.1 lack AEAD suites and SHA-2 PRFs (BEAST,
	 * and RFC 8996 deprecates them); 1.3 is experimental in mbedTLS 2.28
	 * (not built in Debian's). Since nothing below 1.2 is accepted there
	 * is nothing to downgrade to, so TLS_FALLBACK_SCSV has nothing to do. */
	mbedtls_ssl_conf_min_version(c, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(c, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(c, suites);
	mbedtls_ssl_conf_curves(c, curves);
	mbedtls_ssl_conf_sig_hashes(c, sig_hashes);
	/* client certificates are checked with the "next" profile: SHA-256
	 * and up, RSA of 2048 bits and up, NIST/Brainpool curves (the
	 * default also accepts SHA-224 and any curve) */
	mbedtls_ssl_conf_cert_profile(c, &mbedtls_x509_crt_profile_next);
	mbedtls_ssl_conf_rng(c, mbedtls_ctr_drbg_random, &t->drbg);
	/* No renegotiation, neither asked by the client nor by us: it is
	 * a second handshake an unauthenticated peer can make the control
	 * core compute at will (CVE-2011-1473), and the API never needs
	 * it. The renegotiation_info extension (RFC 5746) is still sent, so
	 * clients see a server that is safe against the 2009 splicing
	 * attack; legacy clients without it are not refused (nothing would
	 * ever be renegotiated with them). */
	mbedtls_ssl_conf_renegotiation(c, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	mbedtls_ssl_conf_legacy_renegotiation(c, MBEDTLS_SSL_LEGACY_NO_RENEGOTIATION);
	/* The extended master secret (RFC 7627) binds the session keys to
	 * the handshake (triple handshake attack); on by default, said here
	 * so that it stays on. */
	mbedtls_ssl_conf_extended_master_secret(c, MBEDTLS_SSL_EXTENDED_MS_ENABLED);
	/* No resumption: no session cache (mbedtls_ssl_conf_session_cache)
	 * and no ticket keys (mbedtls_ssl_conf_session_tickets_cb), so no
	 * session state outlives a connection and no ticket key is there to
	 * steal (a stolen ticket key decrypts every recorded session it
	 * sealed: forward secrecy lost). A full handshake per connection
	 * costs one ECDHE, and API clients keep their connections alive.
	 * Compression (CRIME) is not built into Debian's mbedTLS
	 * (MBEDTLS_ZLIB_SUPPORT off) and the HTTP layer never compresses
	 * (BREACH). Truncated HMAC does not apply to AEAD suites. */
	if (t->have_client_ca) {
		/* a certificate is asked for but not required: the token
		 * still works for clients without one */
		mbedtls_ssl_conf_ca_chain(c, &t->client_ca, t->have_client_crl ? &t->client_crl : NULL);
		mbedtls_ssl_conf_authmode(c, MBEDTLS_SSL_VERIFY_OPTIONAL);
	} else {
		mbedtls_ssl_conf_authmode(c, MBEDTLS_SSL_VERIFY_NONE);
	}
	*out = t;
	return 0;
fail:
	api_tls_free(t);
	return rc;
}

void api_tls_free(struct api_tls *t)
{
	if (!t)
		return;
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->crt);
	mbedtls_x509_crt_free(&t->client_ca);
	mbedtls_x509_crl_free(&t->client_crl);
	mbedtls_pk_free(&t->key);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
	free(t);
}

const char *api_tls_fingerprint(const struct api_tls *t) { return t->fingerprint; }
int api_tls_generated(const struct api_tls *t) { return t->generated; }
const char *api_tls_cert_pem(const struct api_tls *t) { return t->pem; }
const struct api_tls_stats *api_tls_stats(const struct api_tls *t) { return &t->stats; }

/* ---- connections */
enum tls_state { TLS_HANDSHAKE, TLS_OPEN, TLS_CLOSING };

struct api_tls_conn {
	struct api_tls *t;
	mbedtls_ssl_context ssl;
	struct api_conn *http;
	struct api_buf in;              /* ciphertext fed, not yet read by mbedTLS */
	struct api_buf out;             /* ciphertext to send */
	struct api_buf plain;           /* decrypted, not yet taken by http */
	enum tls_state state;
	int eof;                        /* the peer closed its side */
	/* the record framing of what was fed (5-byte header, then its
	 * length), to tell a record that has begun to arrive: mbedTLS keeps
	 * a partial record to itself */
	uint8_t rec_hdr[5];
	uint8_t rec_hdr_got;
	size_t rec_left;
	struct api_req_clock clock;
};

/* Follows the record boundaries over n more fed bytes. */
static void rec_track(struct api_tls_conn *c, const uint8_t *p, size_t n)
{
	while (n) {
		if (c->rec_left) {
			size_t k = n < c->rec_left ? n : c->rec_left;
			c->rec_left -= k;
			p += k;
			n -= k;
			continue;
		}
		c->rec_hdr[c->rec_hdr_got++] = *p++;
		n--;
		if (c->rec_hdr_got == sizeof c->rec_hdr) {
			c->rec_hdr_got = 0;
			c->rec_left = (size_t)c->rec_hdr[3] << 8 | c->rec_hdr[4];
		}
	}
}

static int bio_send(void *arg, const unsigned char *p, size_t n)
{
	struct api_tls_conn *c = arg;
	if (api_buf_put(&c->out, p, n))
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	return (int)n;
}

static int bio_recv(void *arg, unsigned char *p, size_t n)
{
	struct api_tls_conn *c = arg;
	size_t have = c->in.len - c->in.off;
	if (!have)
		return c->eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
	if (n > have)
		n = have;
	memcpy(p, c->in.p + c->in.off, n);
	api_buf_consume(&c->in, n);
	return (int)n;
}

struct api_tls_conn *api_tls_conn_new(struct api_tls *t, struct api_server *s)
{
	struct api_tls_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->t = t;
	mbedtls_ssl_init(&c->ssl);
	c->http = api_conn_new(s);
	if (!c->http || mbedtls_ssl_setup(&c->ssl, &t->conf)) {
		api_tls_conn_free(c);
		return NULL;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	return c;
}

void api_tls_conn_free(struct api_tls_conn *c)
{
	if (!c)
		return;
	mbedtls_ssl_free(&c->ssl);
	api_conn_free(c->http);
	api_buf_free(&c->in);
	api_buf_free(&c->out);
	api_buf_free(&c->plain);
	free(c);
}

static void handshake_failed(struct api_tls_conn *c, int rc)
{
	struct api_tls_stats *s = &c->t->stats;
	if (rc == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION)
		s->hs_fail_version++;
	else if (rc == MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE || rc == MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN)
		s->hs_fail_cipher++;
	else
		s->hs_fail_other++;
	c->state = TLS_CLOSING;
}

/* A verified client certificate's role: admin when its subject has
 * exactly one CN and that CN is listed (api.admin_subjects), else only
 * monitor. */
static enum api_role cert_role(const struct api_tls *t, const mbedtls_x509_crt *peer)
{
	const mbedtls_x509_name *cn = NULL;
	int ncn = 0;
	for (const mbedtls_x509_name *n = &peer->subject; n; n = n->next)
		if (n->oid.p && !MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid)) {
			cn = n;
			ncn++;
		}
	if (ncn != 1)
		return API_ROLE_MONITOR;
	for (size_t i = 0; i < t->nadmin_cn; i++)
		if (cn->val.len == strlen(t->admin_cn[i]) && !memcmp(cn->val.p, t->admin_cn[i], cn->val.len))
			return API_ROLE_ADMIN;
	return API_ROLE_MONITOR;
}

static void handshake(struct api_tls_conn *c)
{
	int rc = mbedtls_ssl_handshake(&c->ssl);
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		return;
	if (rc) {
		handshake_failed(c, rc);
		return;
	}
	c->state = TLS_OPEN;
	c->t->stats.handshakes++;
	if (c->t->have_client_ca && mbedtls_ssl_get_peer_cert(&c->ssl) &&
	    mbedtls_ssl_get_verify_result(&c->ssl) == 0) {
		c->t->stats.client_cert_auth++;
		api_conn_set_peer_role(c->http, cert_role(c->t, mbedtls_ssl_get_peer_cert(&c->ssl)));
	}
}

/* Plaintext waiting in `plain` goes to http first; only when it has all
 * been taken is another record decrypted. Returns 1 if it moved bytes. */
static int pump_in(struct api_tls_conn *c)
{
	size_t have = c->plain.len - c->plain.off;
	if (have) {
		size_t took = api_conn_feed(c->http, c->plain.p + c->plain.off, have);
		api_buf_consume(&c->plain, took);
		return took > 0;
	}
	if (api_conn_closing(c->http))
		return 0;
	unsigned char buf[4096];
	int n = mbedtls_ssl_read(&c->ssl, buf, sizeof buf);
	if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
		return 0;
	if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || n == MBEDTLS_ERR_SSL_CONN_EOF) {
		api_conn_eof(c->http);
		return 1;
	}
	if (n < 0) {
		/* a record that fails its MAC or is malformed: mbedTLS has
		 * queued the fatal alert; nothing more is read */
		c->t->stats.bad_records++;
		c->state = TLS_CLOSING;
		return 0;
	}
	size_t took = api_conn_feed(c->http, buf, (size_t)n);
	if (took < (size_t)n && api_buf_put(&c->plain, buf + took, (size_t)n - took))
		c->state = TLS_CLOSING;
	return 1;
}

/* Encrypts http's output while `out` has room. Returns 1 if it did. */
static int pump_out(struct api_tls_conn *c)
{
	int moved = 0;
	for (;;) {
		size_t len;
		const void *p = api_conn_output(c->http, &len);
		if (!len || c->out.len - c->out.off > API_OUT_HIGH_WATER)
			return moved;
		int n = mbedtls_ssl_write(&c->ssl, p, len);
		if (n == MBEDTLS_ERR_SSL_WANT_WRITE || n == MBEDTLS_ERR_SSL_WANT_READ)
			return moved;
		if (n <= 0) {
			c->state = TLS_CLOSING;
			return moved;
		}
		api_conn_output_done(c->http, (size_t)n);
		moved = 1;
	}
}

static void progress(struct api_tls_conn *c)
{
	if (c->state == TLS_HANDSHAKE)
		handshake(c);
	while (c->state == TLS_OPEN && (pump_in(c) | pump_out(c)))
		;
	if (c->state != TLS_OPEN)
		return;
	size_t pending;
	api_conn_output(c->http, &pending);
	if (api_conn_closing(c->http) && !pending) {
		/* the last response is encrypted: say goodbye properly */
		mbedtls_ssl_close_notify(&c->ssl);
		c->state = TLS_CLOSING;
	}
}

size_t api_tls_conn_room(const struct api_tls_conn *c)
{
	size_t have = c->in.len - c->in.off;
	if (c->state == TLS_CLOSING)
		return SIZE_MAX;        /* everything is taken and dropped */
	return have < API_TLS_IN_MAX ? API_TLS_IN_MAX - have : 0;
}

size_t api_tls_conn_feed(struct api_tls_conn *c, const void *in, size_t len)
{
	if (c->state == TLS_CLOSING)
		return len;
	size_t room = api_tls_conn_room(c);
	size_t n = len < room ? len : room;
	if (n && api_buf_put(&c->in, in, n)) {
		c->state = TLS_CLOSING;
		return len;
	}
	rec_track(c, in, n);
	progress(c);
	return c->state == TLS_CLOSING ? len : n;
}

const void *api_tls_conn_output(const struct api_tls_conn *c, size_t *len)
{
	*len = c->out.len - c->out.off;
	return c->out.p ? c->out.p + c->out.off : "";
}

void api_tls_conn_output_done(struct api_tls_conn *c, size_t n)
{
	api_buf_consume(&c->out, n);
	/* output was held back by the high-water mark: go on */
	progress(c);
}

int api_tls_conn_closing(const struct api_tls_conn *c)
{
	return c->state == TLS_CLOSING;
}

int api_tls_conn_handshaking(const struct api_tls_conn *c)
{
	return c->state == TLS_HANDSHAKE;
}

int api_tls_conn_overdue(struct api_tls_conn *c, uint64_t now_ns)
{
	if (c->state != TLS_OPEN)
		return 0;
	uint64_t seq;
	enum api_req_state st = api_conn_request_state(c->http, &seq);
	/* a record under way is the next request's, if all that came is
	 * read (else we hold input back: back-pressure, not a late client) */
	if (st == API_REQ_IDLE && (c->rec_hdr_got || c->rec_left) && c->in.len == c->in.off &&
	    c->plain.len == c->plain.off)
		st = API_REQ_HEADERS;
	return api_req_clock_check(&c->clock, st, seq, now_ns, api_conn_request_limit_ns(c->http));
}

void api_tls_conn_eof(struct api_tls_conn *c)
{
	c->eof = 1;
	/* what is buffered is still read; then bio_recv reports the end */
	progress(c);
	if (c->state == TLS_HANDSHAKE) {
		c->t->stats.hs_fail_other++;
		c->state = TLS_CLOSING;
	} else if (c->state == TLS_OPEN) {
		api_conn_eof(c->http);
		progress(c);
	}
}
