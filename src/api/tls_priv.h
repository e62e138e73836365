/*
 * tls_priv.h — shared by tls.c and cert.c only: the server-side TLS
 * context. Everything in it is owned by the control core and immutable
 * after api_tls_init, except the random generator and the counters.
 */
#ifndef POLLUX_API_TLS_PRIV_H
#define POLLUX_API_TLS_PRIV_H
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include "api/api.h"

#define API_TLS_PEM_MAX 2048

struct api_tls {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt crt;           /* our certificate */
	mbedtls_pk_context key;
	mbedtls_x509_crt client_ca;
	int have_client_ca;
	mbedtls_x509_crl client_crl;
	int have_client_crl;
	char admin_cn[API_MAX_SUBJECTS][API_SUBJECT_MAX + 1];   /* client CNs that are admin */
	size_t nadmin_cn;
	int generated;
	char fingerprint[96];           /* "AB:CD:..." */
	char pem[API_TLS_PEM_MAX];
	struct api_tls_stats stats;
	int (*user_entropy)(void *arg, unsigned char *out, size_t len);
	void *user_entropy_arg;
};

/* cert.c: loads cert and key from o, or generates them; fills t->crt,
 * t->key, t->client_ca, t->client_crl, t->admin_cn, the fingerprint and
 * the PEM. Needs t->drbg. */
int api_tls_cert_setup(struct api_tls *t, const struct api_tls_opts *o, char *err, size_t errlen);
#endif
