/*
 * test_metrics.c — the Prometheus exposition (src/api/metrics.c): label
 * escaping, one HELP/TYPE per family before its samples, conventional
 * names, and the whole text accepted by Python's prometheus_client parser
 * (Debian python3-prometheus-client), which must read back the values
 * and an escaped interface name exactly.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "api/api_priv.h"
#include "fake.h"

static struct api_stats st;
static char *text;
static size_t len;

static void render(void)
{
	memset(&st, 0, sizeof st);
	fake_stats(NULL, &st);
	free(text);
	text = api_metrics_render(&st, &len);
	cr_assert_not_null(text);
	cr_assert_eq(strlen(text), len);
}

static void fini(void)
{
	free(text);
	text = NULL;
}

TestSuite(metrics, .fini = fini);

static void label(const char *in, const char *want)
{
	struct api_buf b = { 0 };
	api_metrics_label(&b, in);
	cr_assert_str_eq(b.p ? b.p : "", want);
	api_buf_free(&b);
}

Test(metrics, label_values_are_escaped)
{
	label("eth0", "eth0");
	label("", "");
	label("a\"b", "a\\\"b");
	label("a\\b", "a\\\\b");
	label("a\nb", "a\\nb");
	label("\\\"\n", "\\\\\\\"\\n");
	label("tab\there", "tab\there");       /* only \\, \" and \n are special */
}

Test(metrics, samples_and_labels)
{
	fake_reset();
	render();
	cr_assert(strstr(text, "pollux_rx_packets_total{core=\"1\",iface=\"eth0\",queue=\"0\"} 100\n"));
	cr_assert(strstr(text, "pollux_rx_packets_total{core=\"2\",iface=\"eth0\",queue=\"1\"} 101\n"));
	cr_assert(strstr(text, "pollux_rx_dropped_packets_total{core=\"1\",iface=\"eth0\",queue=\"0\",reason=\"runt\"} 2\n"));
	cr_assert(strstr(text, "pollux_net_dropped_packets_total{core=\"0\",reason=\"bad_ip_csum\"} 3\n"));
	cr_assert(strstr(text, "pollux_net_dropped_packets_total{core=\"1\",reason=\"arp_miss\"} 1\n"));
	cr_assert(strstr(text, "pollux_net_rx_frames_total{core=\"1\"} 8\n"));
	cr_assert(strstr(text, "pollux_loop_turns_total{core=\"1\"} 1001\n"));
	cr_assert(strstr(text, "pollux_channel_depth_messages{core=\"1\"} 1\n"));
	cr_assert(strstr(text, "pollux_queue_broken{core=\"2\",iface=\"eth0\",queue=\"1\"} 1\n"));
	cr_assert(strstr(text, "pollux_interface_up{iface=\"eth0\"} 1\n"));
	cr_assert(strstr(text, "pollux_pktbuf_buffers 1024\n"));
	cr_assert(strstr(text, "pollux_pktbuf_ext_frags_in_use 6\n"));
}

/* Every queue counter and gauge of NETDEV_QUEUE_STATS_FIELDS that names
 * a metric is in /metrics with its value, on every queue, under its
 * family's HELP and TYPE; the console-only ones are not. */
Test(metrics, every_declared_queue_counter_is_rendered)
{
	fake_reset();
	memset(&st, 0, sizeof st);
	fake_stats(NULL, &st);
	struct api_iface_stats *f = &st.ifs[0];
	uint64_t v = 0;
	for (uint16_t q = 0; q < f->nqueues; q++) {
		v = 1000000007ull * (q + 1);
#define SET(field, ...) f->q[q].field = v++;
		NETDEV_QUEUE_STATS_FIELDS(SET)
#undef SET
	}
	free(text);
	text = api_metrics_render(&st, &len);
	cr_assert_not_null(text);
	char want[256];
	int exported = 0, console = 0;
	for (uint16_t q = 0; q < f->nqueues; q++) {
#define CHECK(field, side, kind, metric, reason, help) do { \
		const char *m_ = metric, *r_ = reason, *h_ = help; \
		unsigned long long x_ = (unsigned long long)f->q[q].field; \
		cr_assert_neq(x_, 0); \
		if (!m_) { \
			snprintf(want, sizeof want, " %llu\n", x_); \
			cr_assert_null(strstr(text, want), "%s (console only) is in /metrics", #field); \
			console++; \
			break; \
		} \
		int n_ = snprintf(want, sizeof want, "%s{core=\"%u\",iface=\"eth0\",queue=\"%u\"", \
				  m_, f->q[q].core, q); \
		if (r_) \
			n_ += snprintf(want + n_, sizeof want - (size_t)n_, ",reason=\"%s\"", r_); \
		snprintf(want + n_, sizeof want - (size_t)n_, "} %llu\n", x_); \
		cr_assert_not_null(strstr(text, want), "no sample for %s: %s", #field, want); \
		if (h_) { \
			snprintf(want, sizeof want, "# HELP %s %s\n# TYPE %s %s\n", m_, h_, m_, #kind); \
			cr_assert_not_null(strstr(text, want), "no family head for %s: %s", #field, want); \
		} \
		exported++; \
	} while (0);
		NETDEV_QUEUE_STATS_FIELDS(CHECK)
#undef CHECK
	}
	cr_assert_eq(exported, 12 * f->nqueues, "the queue samples users scrape today");
	cr_assert_eq(console, 3 * f->nqueues);
}

/* The queue families users scrape, by name: renaming one breaks them. */
Test(metrics, queue_family_names_stay)
{
	static const char *const want[] = {
		"pollux_rx_packets_total", "pollux_rx_bytes_total", "pollux_tx_packets_total",
		"pollux_tx_bytes_total", "pollux_rx_dropped_packets_total", "pollux_rx_dropped_packets_total",
		"pollux_rx_dropped_packets_total", "pollux_tx_dropped_packets_total",
		"pollux_tx_ring_full_total", "pollux_tx_kicks_total", "pollux_rx_posted_buffers",
		"pollux_tx_held_buffers",
	};
	const char *names[] = {
#define NAME(field, side, kind, metric, ...) metric,
		NETDEV_QUEUE_STATS_FIELDS(NAME)
#undef NAME
	};
	size_t k = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i]) {
			cr_assert_lt(k, sizeof want / sizeof want[0]);
			cr_assert_str_eq(names[i], want[k], "row %zu", i);
			k++;
		}
	cr_assert_eq(k, sizeof want / sizeof want[0]);
}

/* Each family: HELP then TYPE exactly once, before its first sample;
 * counters end in _total, nothing else does; names are legal. */
Test(metrics, families_are_well_formed)
{
	fake_reset();
	render();
	char seen[256][80];
	char types[256][16];
	size_t nseen = 0;
	char *save, *copy = strdup(text);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[80], type[16];
		if (!strncmp(line, "# HELP ", 7))
			continue;
		if (sscanf(line, "# TYPE %79s %15s", name, type) == 2) {
			for (size_t i = 0; i < nseen; i++)
				cr_assert_str_neq(seen[i], name, "TYPE twice for %s", name);
			cr_assert_lt(nseen, 256);
			snprintf(seen[nseen], sizeof seen[0], "%s", name);
			snprintf(types[nseen++], sizeof types[0], "%s", type);
			size_t l = strlen(name);
			int total = l > 6 && !strcmp(name + l - 6, "_total");
			cr_assert_eq(total, !strcmp(type, "counter"), "%s is a %s", name, type);
			cr_assert(!strncmp(name, "pollux_", 7));
			continue;
		}
		cr_assert_neq(line[0], '#', "stray comment: %s", line);
		size_t n = strcspn(line, "{ ");
		cr_assert_gt(nseen, 0);
		cr_assert_eq(strlen(seen[nseen - 1]), n, "sample outside its family: %s", line);
		cr_assert(!strncmp(line, seen[nseen - 1], n), "sample outside its family: %s", line);
		for (size_t i = 0; i < n; i++)
			cr_assert(isalnum((unsigned char)line[i]) || line[i] == '_' || line[i] == ':');
	}
	free(copy);
	cr_assert_gt(nseen, 40);
}

/* prometheus_client reads the whole text; an interface name with every
 * special character comes back exactly. */
Test(metrics, prometheus_client_parses_it)
{
	fake_reset();
	snprintf(fake_ifname, sizeof fake_ifname, "e\"t\\h\n0");
	render();
	char path[] = "/tmp/pollux-metrics-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c '\n"
		 "import sys\n"
		 "from prometheus_client.parser import text_string_to_metric_families as p\n"
		 "fams = list(p(open(sys.argv[1]).read()))\n"
		 "n = sum(len(f.samples) for f in fams)\n"
		 "t = {f.name: f.type for f in fams}\n"
		 "print(\"families\", len(fams), \"samples\", n, t[\"pollux_rx_packets\"], t[\"pollux_tx_held_buffers\"])\n"
		 "for f in fams:\n"
		 "  for s in f.samples:\n"
		 "    if s.name == \"pollux_rx_packets_total\":\n"
		 "      print(repr(s.labels[\"iface\"]), s.labels[\"core\"], s.labels[\"queue\"], int(s.value))\n"
		 "' %s 2>&1", path);
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f);
	char outp[4096] = "";
	size_t got = fread(outp, 1, sizeof outp - 1, f);
	outp[got] = 0;
	int rc = pclose(f);
	unlink(path);
	cr_assert_eq(rc, 0, "the parser refused the text:\n%s", outp);
	int fams, samples;
	char t1[16], t2[16];
	cr_assert_eq(sscanf(outp, "families %d samples %d %15s %15s", &fams, &samples, t1, t2), 4, "%s", outp);
	cr_assert_str_eq(t1, "counter");
	cr_assert_str_eq(t2, "gauge");
	cr_assert_gt(fams, 40);
	cr_log_info("prometheus_client: %d families, %d samples", fams, samples);
	cr_assert(strstr(outp, "'e\"t\\\\h\\n0' 1 0 100\n"), "%s", outp);
	cr_assert(strstr(outp, "'e\"t\\\\h\\n0' 2 1 101\n"), "%s", outp);
}

Test(metrics, out_of_range_counts_are_clamped)
{
	fake_reset();
	memset(&st, 0, sizeof st);
	fake_stats(NULL, &st);
	st.ncores = 1000;
	st.nifs = 99;
	st.ifs[0].nqueues = 999;
	memset(st.ifs[0].name, 'x', sizeof st.ifs[0].name);     /* no NUL */
	text = api_metrics_render(&st, &len);
	cr_assert_not_null(text);
	cr_assert(strstr(text, "pollux_loop_turns_total{core=\"63\"} 0\n"));
	cr_assert_null(strstr(text, "core=\"64\"}"));
}
