/*
 * main.c — the boot order after the C library is up, shared by every
 * platform (the platform's entry calls pollux_main on core 0): read the
 * config, probe the devices, start the pools, NICs, stack, appliance and
 * API listener, start one thread per core (each enters the per-core loop),
 * print the ready line, then run whatever the command line asks (a
 * self-test, exit=ready) and become the control core's loop. The
 * composition root: the only place that knows every subsystem.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/core.h"
#include "core/config.h"
#include "core/platform.h"
#include "sched/sched.h"
#include "pkt/pktbuf.h"
#include "drivers/netdev.h"
#include "drivers/virtio_rng.h"
#include "apps/apps.h"
#include "net/net.h"
#include "api/api.h"
#include "appliance/appliance.h"

static void *core_thread(void *arg)
{
	struct core *c = arg;
	platform_core_enter(c);
	sched_loop_run(c);
}

/* The management interface: api.interface (default 0) of a config with
 * "api" and "interfaces". Its device gets one queue pair, owned by core 0
 * (the API runs there). Without a device for it, when it is the last one
 * listed, the appliance boots unmanaged: the interface and "api" leave
 * the running config (*cfgp is replaced, c follows) and the console says
 * so (a bare boot of configs/default.json without its NIC); any other
 * interface without a device stays an error (net_init). */
static void mgmt_setup(json_t **cfgp, struct appliance_config *c, int ndevs)
{
	uint32_t i = c->api.interface;
	if (!c->api.on || !c->net.on || i >= c->net.nifs)
		return;                         /* api_start names the error */
	if ((int)i < ndevs) {
		netdev_set_control((int)i);
		return;
	}
	if (i != c->net.nifs - 1)
		return;
	json_t *cfg = json_deep_copy(*cfgp);
	if (!cfg)
		panic("config: out of memory");
	json_array_remove(json_object_get(cfg, "interfaces"), i);
	if (!json_array_size(json_object_get(cfg, "interfaces")))
		json_object_del(cfg, "interfaces");
	json_object_del(cfg, "api");
	config_set_root(cfg);
	*cfgp = cfg;
	c->net.nifs--;
	c->net.on = c->net.nifs > 0;
	c->api.on = 0;
	klog("api: no network device for the management interface eth%d: the API is off", (int)i);
}

/* "config: " before the reason in err, as the console shows a config error */
static void config_prefix(char *err, size_t errlen)
{
	if (errlen <= 9)
		return;
	memmove(err + 8, err, strnlen(err, errlen - 9) + 1);
	memcpy(err, "config: ", 8);
	err[errlen - 1] = 0;
}

/* Devices, packet pools, NIC queues, the appliance and the API's
 * listener, in that order. Returns 0 or -errno with the reason in err;
 * *bad_config says whose fault it is: the config's (for this machine:
 * an interface without a device, a port taken) or the machine's. */
static int devices_init(json_t **cfgp, struct appliance_config *c, int *bad_config, char *err, size_t errlen)
{
	*bad_config = 0;
	int rc = appliance_probe_devices(err, errlen);
	if (rc < 0)
		return rc;
	mgmt_setup(cfgp, c, rc);
	uint32_t per_core = c->pool.buffers_per_core ? c->pool.buffers_per_core : rc > 0 ? 4096 : 256;
	/* leave at least half the memory for everything else */
	uint64_t fit = mem_total_bytes() / 2 / cores_count() / PKTBUF_BYTES;
	if (per_core > fit) {
		klog("pool: %u buffers per core do not fit in %llu MiB: using %llu", per_core,
		     (unsigned long long)(mem_total_bytes() >> 20), (unsigned long long)fit);
		per_core = (uint32_t)fit;
	}
	if (pktbuf_pools_init(per_core)) {
		snprintf(err, errlen, "pool: no memory for %u buffers on each of %u cores", per_core, cores_count());
		return -ENOMEM;
	}
	klog("pool: %u buffers of %d bytes on each of %u cores", per_core, PKTBUF_BYTES, cores_count());
	if ((rc = netdev_init_all(c->nic.rx_ring, err, errlen)) < 0)
		return rc;
	if ((rc = virtio_rng_init(err, errlen)) < 0)
		return rc;
	/* what is left to refuse depends on this machine (a device for each
	 * interface, a device index, a port): the config's fault */
	*bad_config = 1;
	/* the stack runs on the devices when the config gives them addresses
	 * (l2fwd, without "interfaces", uses the devices raw) */
	/* httpd serves the boot module when it is a tar archive (make site) */
	c->apps.httpd.archive = platform_boot_archive(&c->apps.httpd.archive_len);
	if ((c->net.on && (rc = net_init(&c->net, err, errlen))) || (rc = apps_init(&c->apps, err, errlen))) {
		config_prefix(err, errlen);
		return rc;
	}
	appliance_backend_init();
	rc = api_start(c, err, errlen);         /* its config errors say "config: api...." */
	*bad_config = rc == -EINVAL;
	return rc;
}

/* A bad config stops the boot: the reason (the same "path: reason" that
 * PUT /v1/config answers with 400) and EXIT_BAD_CONFIG. */
static _Noreturn void config_refused(const char *err)
{
	klog("config: %s", err);
	klog("pollux: boot stopped: the configuration is not valid");
	platform_exit(EXIT_BAD_CONFIG);
}

int pollux_main(void)
{
	klog("pollux %s: %u cores, %llu MiB, clock %s", POLLUX_VERSION, cores_count(),
	     (unsigned long long)(mem_total_bytes() >> 20), time_source());

	/* jansson would read /dev/urandom for its hash seed; give it one */
	uint32_t seed = 0;
	if (getentropy(&seed, sizeof seed) == 0)
		json_object_seed(seed ? seed : 1);

	char err[200];
	json_t *cfg;
	size_t len;
	const char *buf = platform_config(&len);
	if (config_parse(buf, len, &cfg, err, sizeof err)) {
		klog("%s", err);
		klog("pollux: boot stopped: the configuration is not valid JSON");
		platform_exit(EXIT_BAD_CONFIG);
	}
	/* the whole document is checked before anything starts */
	static struct appliance_config c;       /* strings point into cfg, kept below */
	api_config_use(&appliance_schema);
	if (appliance_config_read(cfg, &c, err, sizeof err))
		config_refused(err);
	config_set_root(json_incref(cfg));      /* mgmt_setup may replace the root: cfg stays */
	if (sched_init(&c.sched))
		panic("sched_init: out of memory for %u cores", cores_count());
	int bad_config;
	if (devices_init(&cfg, &c, &bad_config, err, sizeof err)) {
		klog("%s", err);
		klog("pollux: boot stopped: %s", bad_config ? "the configuration is not valid"
							: "a device could not be set up");
		platform_exit(bad_config ? EXIT_BAD_CONFIG : EXIT_DEVICE);
	}
	klog("config: %zu bytes%s%s", len, c.name ? ", appliance " : "", c.name ? c.name : "");

	/* every core's arena for its start-up allocations (cores.arena_kib) */
	for (uint32_t i = 0; i < cores_count(); i++) {
		void *m = frame_alloc_pages((size_t)c.sched.arena_kib / 4);
		if (!m)
			panic("no memory for core %u's arena (%u KiB)", i, c.sched.arena_kib);
		arena_init(&core_get(i)->arena, m, (size_t)c.sched.arena_kib * 1024);
	}

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (uint32_t i = 1; i < cores_count(); i++) {
		pthread_t t;
		int rc = pthread_create(&t, &attr, core_thread, core_get(i));
		if (rc)
			panic("starting core %u: %s", i, strerror(rc));
		pthread_detach(t);
	}
	pthread_attr_destroy(&attr);

	/* every core reports in. A safety net, not a deadline: under TCG on a
	 * loaded host a vCPU thread can wait seconds for a host CPU; the state
	 * says how far the core got (1 started, 2 handed its thread, 3 in its
	 * loop). The panics it used to see (state 2, hundreds of wake-ups
	 * resent) were this loop's clock reads starving the AP of QEMU's
	 * lock: time_ns() now reads the TSC only (docs/runtime.md). */
	uint64_t t0 = time_ns(), end = t0 + 60000000000ull;
	for (uint32_t i = 1; i < cores_count(); i++) {
		uint64_t next_kick = time_ns() + 100000000ull;
		unsigned kicks = 0;
		while (atomic_load_explicit(&core_get(i)->state, memory_order_acquire) != CORE_IN_LOOP) {
			uint64_t now = time_ns();
			if (now > end)
				panic("core %u did not reach its loop in 60 s (state %d, %u wake-ups resent)", i,
				      (int)atomic_load(&core_get(i)->state), kicks);
			if (now > next_kick) {  /* a lost wake-up must not cost the boot */
				core_kick(i);
				kicks++;
				next_kick = now + 100000000ull;
			}
			__builtin_ia32_pause();
		}
		if (kicks)
			klog("core %u reached its loop after %llu ms and %u resent wake-ups", i,
			     (unsigned long long)((time_ns() - t0) / 1000000), kicks);
	}
	platform_ready();
	uint64_t boot = time_boot_ns();
	klog("pollux ready: %u cores, %llu MiB, boot %llu.%03llu ms", cores_count(),
	     (unsigned long long)(mem_total_bytes() >> 20),
	     (unsigned long long)(boot / 1000000), (unsigned long long)(boot / 1000 % 1000));

	const char *ns = cmdline_get("netstat");
	if (ns && atoi(ns) > 0)
		appliance_netstat_start((uint64_t)atoi(ns));
	const char *test = cmdline_get("test");
	if (test)
		platform_exit(appliance_selftest(test) ? EXIT_TEST_FAILED : EXIT_OK);
	const char *ex = cmdline_get("exit");
	if (ex && !strcmp(ex, "ready"))
		platform_exit(EXIT_OK);
	if (ex && !strcmp(ex, "poweroff")) {
		klog("pollux: powering off (ACPI)");
		platform_poweroff();
	}
	sched_loop_run(core_self());
}
