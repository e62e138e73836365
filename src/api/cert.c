/*
 * cert.c — the server's certificate and key: taken from the config's
 * api.cert and api.key (PEM), or, when neither is given, an ECDSA P-256
 * key and a self-signed certificate generated at start (a fresh one each
 * start: there is nowhere to keep it). Its SHA-256 fingerprint is what
 * an operator compares with `openssl x509 -fingerprint -sha256` before
 * trusting it.
 *
 * The generated certificate names CN=pollux with subjectAltName
 * DNS:localhost and IP:127.0.0.1 (where the hosted listener and QEMU's
 * hostfwd are reached), is valid from a day before the start for 825
 * days (cert_validity) and has no keyUsage extension, so that OpenSSL
 * accepts it as its own trust anchor (curl --cacert).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include "api/tls_priv.h"

/* what: "config: api.cert" for what the config got wrong (returns
 * -EINVAL), "api: ..." for what failed here (-EIO) */
static int fail(char *err, size_t errlen, const char *what, int rc)
{
	char m[100];
	mbedtls_strerror(rc, m, sizeof m);
	snprintf(err, errlen, "%s: %s", what, m);
	return what[0] == 'c' ? -EINVAL : -EIO;
}

/* SubjectAltName: dNSName "localhost" ([2]) and iPAddress 127.0.0.1 ([7]) */
static const unsigned char san_der[] = {
	0x30, 0x11,
	0x82, 0x09, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',
	0x87, 0x04, 127, 0, 0, 1,
};

/* The generated certificate's validity, as mbedTLS's "YYYYMMDDhhmmss":
 * from a day before now (a client whose clock is a little behind still
 * accepts it) for 825 days. 825 days is the most Apple's TLS clients
 * accept from any CA, private ones included, and the most testssl.sh
 * rates below MEDIUM: a certificate for decades (what this was) is a
 * key that never has to be replaced. A fresh one is made at every start,
 * so an appliance up for 824 days serves an expired one: restart it or
 * configure api.cert. A clock before 2024 is not a date (an RTC that
 * was never set): then the window starts 2024-01-01. */
static void cert_validity(char from[16], char to[16])
{
	const time_t y2024 = 1704067200;        /* 2024-01-01T00:00:00Z */
	time_t now = time(NULL);
	time_t a = (now > y2024 + 86400 ? now : y2024 + 86400) - 86400;
	time_t b = a + (time_t)825 * 86400;
	struct tm tm;
	gmtime_r(&a, &tm);
	strftime(from, 16, "%Y%m%d%H%M%S", &tm);
	gmtime_r(&b, &tm);
	strftime(to, 16, "%Y%m%d%H%M%S", &tm);
}

static int generate(struct api_tls *t, char *err, size_t errlen)
{
	char from[16], to[16];
	static unsigned char der[1024];
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	unsigned char sn[16];
	int rc;

	rc = mbedtls_pk_setup(&t->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (!rc)
		rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(t->key),
					 mbedtls_ctr_drbg_random, &t->drbg);
	if (rc)
		return fail(err, errlen, "api: generating the key", rc);

	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	cert_validity(from, to);
	rc = mbedtls_ctr_drbg_random(&t->drbg, sn, sizeof sn);
	sn[0] &= 0x7f;                  /* a positive serial */
	sn[0] |= 0x01;                  /* of full length */
	if (!rc)
		rc = mbedtls_mpi_read_binary(&serial, sn, sizeof sn);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &t->key);
	mbedtls_x509write_crt_set_issuer_key(&w, &t->key);
	if (!rc)
		rc = mbedtls_x509write_crt_set_subject_name(&w, "CN=pollux");
	if (!rc)
		rc = mbedtls_x509write_crt_set_issuer_name(&w, "CN=pollux");
	if (!rc)
		rc = mbedtls_x509write_crt_set_serial(&w, &serial);
	if (!rc)
		rc = mbedtls_x509write_crt_set_validity(&w, from, to);
	if (!rc)
		rc = mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1);
	if (!rc)
		rc = mbedtls_x509write_crt_set_subject_key_identifier(&w);
	if (!rc)
		rc = mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_SUBJECT_ALT_NAME,
							 MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
							 san_der, sizeof san_der);
	int len = rc ? rc : mbedtls_x509write_crt_der(&w, der, sizeof der, mbedtls_ctr_drbg_random, &t->drbg);
	mbedtls_x509write_crt_free(&w);
	mbedtls_mpi_free(&serial);
	if (len < 0)
		return fail(err, errlen, "api: writing the certificate", len);
	/* the DER is written at the end of the buffer */
	rc = mbedtls_x509_crt_parse_der(&t->crt, der + sizeof der - len, (size_t)len);
	if (rc)
		return fail(err, errlen, "api: reading back the certificate", rc);
	t->generated = 1;
	return 0;
}

/* mbedtls parses PEM only with its terminating NUL counted */
static size_t pem_len(const char *pem)
{
	return strlen(pem) + 1;
}

static int load(struct api_tls *t, const struct api_tls_opts *o, char *err, size_t errlen)
{
	int rc = mbedtls_x509_crt_parse(&t->crt, (const unsigned char *)o->cert_pem, pem_len(o->cert_pem));
	if (rc)
		return fail(err, errlen, "config: api.cert", rc);
	rc = mbedtls_pk_parse_key(&t->key, (const unsigned char *)o->key_pem, pem_len(o->key_pem), NULL, 0);
	if (rc)
		return fail(err, errlen, "config: api.key", rc);
	if (mbedtls_pk_check_pair(&t->crt.pk, &t->key)) {
		snprintf(err, errlen, "config: api.key: does not match api.cert");
		return -EINVAL;
	}
	/* ECDHE_RSA or ECDHE_ECDSA: nothing else can be served */
	if (!mbedtls_pk_can_do(&t->key, MBEDTLS_PK_ECDSA) && !mbedtls_pk_can_do(&t->key, MBEDTLS_PK_RSA)) {
		snprintf(err, errlen, "config: api.key: must be an EC or RSA key");
		return -EINVAL;
	}
	/* RSA below 2048 bits is within reach of factoring (testssl.sh
	 * rates it HIGH), and clients refuse it */
	if (mbedtls_pk_get_type(&t->key) == MBEDTLS_PK_RSA && mbedtls_pk_get_bitlen(&t->key) < 2048) {
		snprintf(err, errlen, "config: api.key: an RSA key needs at least 2048 bits, not %zu",
			 mbedtls_pk_get_bitlen(&t->key));
		return -EINVAL;
	}
	return 0;
}

static void fingerprint(struct api_tls *t)
{
	unsigned char h[32];
	mbedtls_sha256_ret(t->crt.raw.p, t->crt.raw.len, h, 0);
	for (int i = 0; i < 32; i++)
		snprintf(t->fingerprint + 3 * i, 4, "%02X%s", h[i], i < 31 ? ":" : "");
}

int api_tls_cert_setup(struct api_tls *t, const struct api_tls_opts *o, char *err, size_t errlen)
{
	int rc;
	if (!!o->cert_pem != !!o->key_pem) {
		snprintf(err, errlen, "config: api.cert: api.cert and api.key go together");
		return -EINVAL;
	}
	rc = o->cert_pem ? load(t, o, err, errlen) : generate(t, err, errlen);
	if (rc)
		return rc;
	if (o->client_ca_pem) {
		rc = mbedtls_x509_crt_parse(&t->client_ca, (const unsigned char *)o->client_ca_pem,
					    pem_len(o->client_ca_pem));
		if (rc)
			return fail(err, errlen, "config: api.client_ca", rc);
		t->have_client_ca = 1;
	}
	if (o->client_crl_pem) {
		if (!t->have_client_ca) {
			snprintf(err, errlen, "config: api.client_crl: needs api.client_ca");
			return -EINVAL;
		}
		rc = mbedtls_x509_crl_parse(&t->client_crl, (const unsigned char *)o->client_crl_pem,
					    pem_len(o->client_crl_pem));
		if (rc)
			return fail(err, errlen, "config: api.client_crl", rc);
		t->have_client_crl = 1;
	}
	if (o->nadmin_subjects > API_MAX_SUBJECTS) {
		snprintf(err, errlen, "config: api.admin_subjects: at most %d", API_MAX_SUBJECTS);
		return -EINVAL;
	}
	for (size_t i = 0; i < o->nadmin_subjects; i++) {
		if (strlen(o->admin_subjects[i]) > API_SUBJECT_MAX) {
			snprintf(err, errlen, "config: api.admin_subjects[%zu]: at most %d characters", i,
				 API_SUBJECT_MAX);
			return -EINVAL;
		}
		snprintf(t->admin_cn[i], sizeof t->admin_cn[i], "%s", o->admin_subjects[i]);
	}
	t->nadmin_cn = o->nadmin_subjects;
	fingerprint(t);
	size_t olen = 0;
	rc = mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
				      t->crt.raw.p, t->crt.raw.len, (unsigned char *)t->pem, sizeof t->pem, &olen);
	if (rc)
		t->pem[0] = 0;          /* a configured chain too long to show: still served */
	return 0;
}
