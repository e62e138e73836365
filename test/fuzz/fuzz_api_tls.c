/*
 * fuzz_api_tls.c — libFuzzer target: the TLS layer's server side
 * (src/api/tls.c over mbedTLS) fed arbitrary bytes as if from a client,
 * with the unit tests' fake backend behind it.
 *
 * Input: one set-up byte, then the stream.
 *   bits 0-3: fed in pieces of 1 << (bits) bytes,
 *   bit 4:    the transport drains the output after every piece (else
 *             only at the end, so back-pressure is reached),
 *   bit 5:    the peer closes after the last piece.
 * Nothing may crash (ASan, UBSan); feed never takes more than it is
 * given nor more than room() said; once closing, everything is taken and
 * no more output appears. The seed corpus (test/fuzz/corpus/api_tls)
 * holds real ClientHellos, so mutations reach deep into the handshake.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "api/api_priv.h"
#include "../unit/api/fake.h"

static struct api_server srv;
static struct api_tls *tls;

static void drain(struct api_tls_conn *c)
{
	size_t len;
	api_tls_conn_output(c, &len);
	api_tls_conn_output_done(c, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[200];
	if (!tls) {
		fake_reset();
		api_server_init(&srv, FAKE_TOKEN, &fake_backend);
		if (api_tls_init(&tls, &(struct api_tls_opts){ 0 }, err, sizeof err))
			abort();
	}
	if (size < 1)
		return 0;
	size_t piece = (size_t)1 << (data[0] & 15);
	int drain_each = data[0] & 16, close_at_end = data[0] & 32;
	data++;
	size--;
	struct api_tls_conn *c = api_tls_conn_new(tls, &srv);
	if (!c)
		return 0;
	size_t off = 0;
	for (int stuck = 0; off < size && stuck < 2;) {
		size_t n = size - off < piece ? size - off : piece;
		size_t room = api_tls_conn_room(c);
		int closing = api_tls_conn_closing(c);
		size_t before;
		api_tls_conn_output(c, &before);
		size_t took = api_tls_conn_feed(c, data + off, n);
		if (took > n || (!closing && took > room))
			abort();
		if (closing) {
			size_t after;
			api_tls_conn_output(c, &after);
			if (took != n || after != before)
				abort();
		}
		off += took;
		stuck = took ? 0 : stuck + 1;
		if (drain_each || !took)
			drain(c);
	}
	if (close_at_end)
		api_tls_conn_eof(c);
	drain(c);
	api_tls_conn_free(c);
	return 0;
}
