/*
 * fuzz_api_http.c — libFuzzer target: the API's request path (http.c,
 * router.c, routes.c, schema.c, metrics.c, openapi.c) over a byte stream,
 * with the unit tests' fake backend (test/unit/api/fake.h).
 *
 * Input: one set-up byte, then the bytes of the stream.
 *   bits 0-3: the stream is fed in pieces of 1 << (bits) bytes,
 *   bits 4-5: the transport drains 0 (only when input stalls), 1, 97 or
 *             all pending bytes after each piece,
 *   bit 6:    the peer closes after the last piece.
 * Nothing may crash (ASan, UBSan); feed never takes more than it is
 * given; all input is eventually taken unless the connection closes;
 * the output is a sequence of whole HTTP/1.1 responses, each with a
 * Content-Length that matches, and nothing follows a "Connection: close".
 * The seed corpus (test/fuzz/corpus/api_http) carries the test token, so
 * the routes behind authentication are reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "api/api_priv.h"
#include "../unit/api/fake.h"

static struct api_buf got;

/* Checks whole responses at the front of got and drops them. */
static void check_responses(int final)
{
	for (;;) {
		const char *s = got.p + got.off;
		size_t have = got.len - got.off;
		if (!have)
			return;
		/* "100 Continue" is an interim response without headers */
		if (have >= 25 && !memcmp(s, "HTTP/1.1 100 Continue\r\n\r\n", 25)) {
			api_buf_consume(&got, 25);
			continue;
		}
		const char *end = memmem(s, have, "\r\n\r\n", 4);
		if (!end) {
			if (final)
				abort();        /* a response cut short */
			return;
		}
		if (memcmp(s, "HTTP/1.1 ", 9))
			abort();
		const char *cl = memmem(s, (size_t)(end - s), "\r\nContent-Length: ", 18);
		if (!cl)
			abort();
		size_t body = strtoul(cl + 18, NULL, 10);
		size_t total = (size_t)(end - s) + 4 + body;
		if (total > have) {
			if (final)
				abort();
			return;
		}
		int closes = memmem(s, (size_t)(end - s), "\r\nConnection: close", 19) != NULL;
		api_buf_consume(&got, total);
		if (closes && got.len - got.off)
			abort();        /* bytes after the last response */
	}
}

static void drain(struct api_conn *c, size_t max)
{
	size_t n;
	const void *p = api_conn_output(c, &n);
	if (n > max)
		n = max;
	api_buf_put(&got, p, n);
	api_conn_output_done(c, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct api_server srv;
	if (size < 1)
		return 0;
	uint8_t setup = data[0];
	data++;
	size--;
	fake_reset();
	api_server_init(&srv, FAKE_TOKEN, &fake_backend);
	struct api_conn *c = api_conn_new(&srv);
	if (!c)
		return 0;
	size_t piece = (size_t)1 << (setup & 15);
	static const size_t drains[] = { 0, 1, 97, SIZE_MAX };
	size_t per = drains[(setup >> 4) & 3];
	size_t off = 0;
	for (int rounds = 0; off < size && !api_conn_closing(c); rounds++) {
		size_t n = size - off < piece ? size - off : piece;
		size_t took = api_conn_feed(c, data + off, n);
		if (took > n)
			abort();
		off += took;
		if (took < n || per) {
			/* a stalled feed must make progress once output is drained */
			drain(c, took < n ? SIZE_MAX : per);
			check_responses(0);
		}
		if (rounds > 1000000)
			abort();
	}
	if (setup & 64)
		api_conn_eof(c);
	drain(c, SIZE_MAX);
	check_responses(1);
	api_buf_free(&got);
	api_conn_free(c);
	json_decref(fake_cfg);
	fake_cfg = NULL;
	return 0;
}
