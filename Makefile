# Pollux — the build.
#
# Entry points:
#   make            build/pollux.elf (the VM image)
#   make run        install what is missing, build, boot configs/default.json
#   make test       install what is missing, build, run every test
#   make bench      run every benchmark under bench/
#   make soak       30 minutes of load and attacks on one VM (test/soak/;
#                   SOAK_MINUTES=3 for a short one); not part of make test
#   make deps       only install the Debian packages the build needs
#
# Each folder lists its sources explicitly below. Pure logic (no hardware)
# lives in files that compile for the host too and are unit-tested there.

BUILD   ?= build
CC      := gcc
HOSTCC  := gcc
PYTHON  := /usr/bin/python3

MUSL_INC := /usr/include/x86_64-linux-musl
MUSL_LIB := /usr/lib/x86_64-linux-musl/libc.a
GCC_INC  := $(shell $(CC) -print-file-name=include)
LIBGCC   := $(shell $(CC) -print-libgcc-file-name)
DEBLIB   := /usr/lib/x86_64-linux-gnu

# Debian packages the build and the tests need (dpdk-testpmd is the
# vhost-user backend of the hosted tests, memcached the reference the kv
# protocols are compared with), and those only the benchmarks
# need (DPDK's headers, the Linux guest baseline, gnuplot).
DEB_PKGS := gcc make binutils musl-dev qemu-system-x86 qemu-utils \
	libcriterion-dev libmbedtls-dev libhttp-parser-dev libjansson-dev \
	python3 python3-pytest gdb procps dpdk dpdk-dev \
	iproute2 iputils-ping netcat-openbsd iperf3 curl hping3 tcpdump clang libclang-rt-dev \
	python3-prometheus-client testssl.sh memcached python3-pymemcache libmemcached-tools \
	media-types
BENCH_PKGS := libdpdk-dev pkg-config gnuplot-nox busybox-static cpio \
	linux-image-amd64 kmod libc6-dev libssl-dev openssl nginx nginx-light wrk

# ---------------------------------------------------------------- sources
CORE_PURE := src/core/memmap.c src/core/frame.c src/core/cmdline.c \
	src/core/config.c src/core/backtrace.c src/core/arena.c src/core/log.c src/core/schema.c \
	src/core/siphash.c src/core/tar.c
CORE_METAL_C := src/core/metal/start.c src/core/metal/cpu.c \
	src/core/metal/trap.c src/core/metal/paging.c src/core/metal/acpi.c \
	src/core/metal/apic.c src/core/metal/smp.c src/core/metal/syscall.c \
	src/core/metal/time.c src/core/metal/serial.c src/core/metal/compat.c \
	src/core/metal/selftest.c src/core/bootmod.c
CORE_METAL_S := src/core/metal/boot.S src/core/metal/trampoline.S \
	src/core/metal/entry.S
SCHED_SRC := src/sched/loop.c src/sched/chan.c src/sched/timer.c src/sched/selftest.c src/sched/config.c

DRIVERS_SHARED := src/drivers/virtio.c src/drivers/virtq.c src/drivers/virtio_net.c \
	src/drivers/virtio_net_rxtx.c src/drivers/virtio_rng.c src/drivers/config.c
DRIVERS_METAL := src/drivers/pci.c src/drivers/virtio_pci.c
DRIVERS_HOSTED := src/drivers/vhost_user.c
PKT_SRC := src/pkt/pktbuf.c src/pkt/rss.c src/pkt/config.c
NET_SRC := src/net/eth.c src/net/arp.c src/net/ip.c src/net/udp.c src/net/iface.c \
	src/net/tcp.c src/net/tcp_in.c src/net/tcp_out.c src/net/tcp_timer.c src/net/dhcp.c \
	src/net/config.c
APPS_SRC := src/apps/apps.c src/apps/l2fwd.c src/apps/echo.c src/apps/iperf.c src/apps/web.c \
	src/apps/proxy.c src/apps/kv_store.c src/apps/kv_proto.c src/apps/kv_exec.c \
	src/apps/kv.c src/apps/httpd_http.c src/apps/httpd_head.c src/apps/httpd.c
# httpd's site index; its media-type table is generated (tools/gen-mime-types)
HTTPD_SITE_SRC := src/apps/httpd_site.c
APPS_SRC += $(HTTPD_SITE_SRC)
API_SRC := src/api/schema.c src/api/buf.c src/api/http.c src/api/router.c src/api/routes.c \
	src/api/metrics.c src/api/openapi.c src/api/tls.c src/api/cert.c src/api/apply.c src/api/config.c
MBEDTLS_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto
# the composition root: boot order, the API's backend, self-tests, netstat;
# each platform adds its device probing and its API listener
APPLIANCE_SRC := src/appliance/main.c src/appliance/backend.c src/appliance/selftest.c \
	src/appliance/netstat.c src/appliance/telemetry.c src/appliance/config.c src/appliance/listener_slots.c
SHARED_SRC := $(CORE_PURE) $(SCHED_SRC) $(PKT_SRC) $(DRIVERS_SHARED) $(NET_SRC) $(APPS_SRC) \
	$(APPLIANCE_SRC)

KERNEL_C := $(SHARED_SRC) $(CORE_METAL_C) $(DRIVERS_METAL) \
	$(API_SRC) src/appliance/probe_metal.c src/appliance/stack_listener.c
KERNEL_S := $(CORE_METAL_S)
KERNEL_OBJ := $(KERNEL_C:%.c=$(BUILD)/k/%.o) $(KERNEL_S:%.S=$(BUILD)/k/%.o)

# ---------------------------------------------------------------- flags
WARN := -Wall -Wextra -Werror -Wno-unused-parameter
KCFLAGS := -std=gnu11 -O2 -g $(WARN) -nostdinc -isystem $(MUSL_INC) \
	-isystem $(GCC_INC) -isystem $(BUILD)/inc -Isrc -I$(BUILD)/gen -ffreestanding -fno-pie -fno-pic \
	-fno-stack-protector -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
	-mcmodel=small -march=x86-64 -mtune=generic -fno-asynchronous-unwind-tables \
	-fno-builtin-malloc -D_GNU_SOURCE -DPOLLUX_METAL
KLDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
	-Wl,-T,src/core/metal/linker.ld -Wl,-z,noexecstack
KLIBS := -Wl,--start-group $(DEBLIB)/libmbedtls.a $(DEBLIB)/libmbedx509.a \
	$(DEBLIB)/libmbedcrypto.a $(DEBLIB)/libhttp_parser.a $(DEBLIB)/libjansson.a \
	$(MUSL_LIB) $(LIBGCC) -Wl,--end-group

HCFLAGS := -std=gnu11 -O1 -g $(WARN) -Isrc -I$(BUILD)/gen -D_GNU_SOURCE -DPOLLUX_HOSTED -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

.PHONY: all hosted site deps deps-bench run test test-layers test-unit test-vm test-hosted test-vhost-live test-fuzz bench soak clean gdb
all: $(BUILD)/pollux.elf $(BUILD)/pollux-hosted

# ---------------------------------------------------------------- deps
# Installs what is missing, once per machine (the stamp notes the check).
define install_missing
	@mkdir -p $(BUILD)
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing \
			>$(BUILD)/apt.log 2>&1 || { tail -20 $(BUILD)/apt.log; exit 1; }; \
	fi
	@touch $@
endef
$(BUILD)/.deps: Makefile
	$(call install_missing,$(DEB_PKGS))
$(BUILD)/.deps-bench: Makefile
	$(call install_missing,$(BENCH_PKGS))
deps: $(BUILD)/.deps
deps-bench: $(BUILD)/.deps $(BUILD)/.deps-bench

# ---------------------------------------------------------------- generated
# httpd's media types from Debian's /etc/mime.types (package media-types),
# never typed by hand; every object and test that includes the header
# waits for it.
MIME_TYPES := /etc/mime.types
$(BUILD)/gen/httpd_mime.h: tools/gen-mime-types $(wildcard $(MIME_TYPES)) | $(BUILD)/.deps
	@$(PYTHON) tools/gen-mime-types $(MIME_TYPES) $@
$(HTTPD_SITE_SRC:%.c=$(BUILD)/k/%.o) $(HTTPD_SITE_SRC:%.c=$(BUILD)/h/%.o): $(BUILD)/gen/httpd_mime.h

# ---------------------------------------------------------------- kernel
# The libraries' headers, without the rest of /usr/include (glibc's
# headers must never shadow musl's).
LIB_HEADERS := jansson.h jansson_config.h http_parser.h mbedtls psa
$(BUILD)/inc/.stamp: | $(BUILD)/.deps
	@mkdir -p $(BUILD)/inc
	@for h in $(LIB_HEADERS); do ln -sfn /usr/include/$$h $(BUILD)/inc/$$h; done
	@touch $@

$(BUILD)/k/%.o: %.c | $(BUILD)/.deps $(BUILD)/inc/.stamp
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(KCFLAGS) -DPOLLUX_VERSION='"$(VERSION)"' -MMD -c $< -o $@

$(BUILD)/k/%.o: %.S | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  AS    $<"
	@$(CC) $(KCFLAGS) -D__ASSEMBLY__ -MMD -c $< -o $@

$(BUILD)/pollux.elf: $(KERNEL_OBJ) src/core/metal/linker.ld
	@echo "  LD    $@"
	@$(CC) $(KLDFLAGS) -o $@ $(KERNEL_OBJ) $(KLIBS)
	@size $@ | tail -1 | awk '{printf "image: text %d data %d bss %d\n", $$1, $$2, $$3}'

-include $(KERNEL_OBJ:.o=.d)

# ---------------------------------------------------------------- hosted
# The same runtime as a Linux process: shared sources + src/core/hosted/.
HOSTED_SRC := $(SHARED_SRC) $(DRIVERS_HOSTED) src/core/hosted/platform.c src/core/bootmod.c \
	$(API_SRC) src/appliance/probe_hosted.c src/appliance/hosted_listener.c
HOSTED_OBJ := $(HOSTED_SRC:%.c=$(BUILD)/h/%.o)
HOSTED_CFLAGS := -std=gnu11 -O2 -g $(WARN) -Isrc -I$(BUILD)/gen -D_GNU_SOURCE -DPOLLUX_HOSTED \
	-fno-omit-frame-pointer -march=x86-64 -mtune=generic -pthread

$(BUILD)/h/%.o: %.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  HOSTCC $<"
	@$(HOSTCC) $(HOSTED_CFLAGS) -DPOLLUX_VERSION='"$(VERSION)"' -MMD -c $< -o $@

$(BUILD)/pollux-hosted: $(HOSTED_OBJ)
	@echo "  LD    $@"
	@$(HOSTCC) -pthread -o $@ $(HOSTED_OBJ) -ljansson -lhttp_parser $(MBEDTLS_LIBS)

hosted: $(BUILD)/pollux-hosted
-include $(HOSTED_OBJ:.o=.d)

# ---------------------------------------------------------------- host unit tests
# test/unit/<area>/test_<module>.c, each linked with the area's pure
# sources; built plain and with ASan/UBSan, and the lock-free stress tests
# (UNIT_TSAN) also with ThreadSanitizer.
UNIT_CORE := $(wildcard test/unit/core/test_*.c)
UNIT_SCHED := $(wildcard test/unit/sched/test_*.c)
UNIT_TSAN := $(filter test/unit/sched/test_ring.c test/unit/sched/test_quiesce.c,$(UNIT_SCHED))
UNIT_TSAN += test/unit/net/test_pktbuf_ref.c
UNIT_CORE_SRC := $(CORE_PURE)
UNIT_SCHED_SRC := $(CORE_PURE) src/sched/timer.c src/sched/chan.c src/sched/loop.c src/sched/config.c
UNIT_HDRS := $(wildcard src/core/*.h src/sched/*.h src/pkt/*.h src/drivers/*.h src/net/*.h src/api/*.h src/apps/*.h src/appliance/*.h test/unit/*/stubs.h test/unit/net/*.h)
UNIT_HDRS += $(BUILD)/gen/httpd_mime.h
UNIT_DRIVERS := $(filter-out %_live.c,$(wildcard test/unit/drivers/test_*.c))
UNIT_DRIVERS_SRC := src/drivers/virtio.c src/drivers/virtq.c src/drivers/vhost_user.c
UNIT_NET := $(wildcard test/unit/net/test_*.c)
UNIT_API := $(wildcard test/unit/api/test_*.c)
UNIT_APPS := $(wildcard test/unit/apps/test_*.c)
UNIT_NET_SRC := test/unit/net/harness.c $(PKT_SRC) $(NET_SRC) \
	src/sched/timer.c src/core/log.c src/core/config.c src/core/schema.c src/core/siphash.c \
	src/core/tar.c
# The config schema as the appliance assembles it: every subsystem's table
# and the appliance table (whose rows link the appliances, so they come
# with the stack and the net tests' stub platform).
CONFIG_SCHEMA_SRC := src/appliance/config.c src/sched/config.c src/drivers/config.c \
	$(APPS_SRC) $(UNIT_NET_SRC)
UNIT_API_SRC := $(API_SRC) $(CONFIG_SCHEMA_SRC) test/unit/api/schema_root.c
# the appliances over the net harness (their tests include test/unit/net/check.h)
UNIT_APPS_SRC := $(APPS_SRC) $(UNIT_NET_SRC)
# -Wno-tsan: TSan does not model atomic_thread_fence (the Dekker wake-up
# in sched/ uses two); everything else it checks.
TSANFLAGS := -fsanitize=thread -O1 -Wno-tsan

define unit_rules
$(BUILD)/unit/$(1)/%: test/unit/$(1)/%.c $(2) $(UNIT_HDRS) | $(BUILD)/.deps
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC $$<"
	@$(HOSTCC) $(HCFLAGS) -o $$@ $$< $(2) -lcriterion -ljansson -lpthread $(3)
$(BUILD)/unit-san/$(1)/%: test/unit/$(1)/%.c $(2) $(UNIT_HDRS) | $(BUILD)/.deps
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC $$< (asan, ubsan)"
	@$(HOSTCC) $(HCFLAGS) $(SANFLAGS) -o $$@ $$< $(2) -lcriterion -ljansson -lpthread $(3)
$(BUILD)/unit-tsan/$(1)/%: test/unit/$(1)/%.c $(2) $(UNIT_HDRS) | $(BUILD)/.deps
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC $$< (tsan)"
	@$(HOSTCC) $(HCFLAGS) $(TSANFLAGS) -o $$@ $$< $(2) -lcriterion -ljansson -lpthread
endef
$(eval $(call unit_rules,core,$(UNIT_CORE_SRC)))
$(eval $(call unit_rules,sched,$(UNIT_SCHED_SRC)))
$(eval $(call unit_rules,drivers,$(UNIT_DRIVERS_SRC)))
$(eval $(call unit_rules,net,$(UNIT_NET_SRC)))
$(eval $(call unit_rules,api,$(UNIT_API_SRC),-lhttp_parser $(MBEDTLS_LIBS)))
$(eval $(call unit_rules,apps,$(UNIT_APPS_SRC),-lhttp_parser))

UNIT_BINS := $(UNIT_CORE:test/unit/%.c=$(BUILD)/unit/%) $(UNIT_SCHED:test/unit/%.c=$(BUILD)/unit/%) \
	$(UNIT_DRIVERS:test/unit/%.c=$(BUILD)/unit/%) $(UNIT_NET:test/unit/%.c=$(BUILD)/unit/%) \
	$(UNIT_API:test/unit/%.c=$(BUILD)/unit/%) $(UNIT_APPS:test/unit/%.c=$(BUILD)/unit/%)
UNIT_SAN_BINS := $(UNIT_BINS:$(BUILD)/unit/%=$(BUILD)/unit-san/%)
UNIT_TSAN_BINS := $(UNIT_TSAN:test/unit/%.c=$(BUILD)/unit-tsan/%)

# the reference count's TSan stress test links nothing but itself
$(BUILD)/unit-tsan/net/test_pktbuf_ref: test/unit/net/test_pktbuf_ref.c $(UNIT_HDRS) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  HOSTCC $< (tsan)"
	@$(HOSTCC) $(HCFLAGS) $(TSANFLAGS) -DPKTBUF_REF_ALONE -o $@ $< -lcriterion -lpthread
# test_virtio_net_tx compiles the driver's data path and the pool in
$(BUILD)/unit/drivers/test_virtio_net_tx $(BUILD)/unit-san/drivers/test_virtio_net_tx: \
	src/drivers/virtio_net_rxtx.c src/pkt/pktbuf.c
# The kv protocols (kv_proto.c, kv_exec.c) alone, not with the other
# appliances: test_kv_proto is the parser by itself, test_kv_exec runs it
# over the real store with its own kv_stats_collect in place of kv.c's.
KV_PROTO_TEST_SRC_test_kv_proto := src/apps/kv_proto.c
KV_PROTO_TEST_SRC_test_kv_exec := src/apps/kv_proto.c src/apps/kv_exec.c src/apps/kv_store.c \
	src/core/siphash.c
# test_kv_cores: kv.c on several cores over a fake platform of its own
# (the net harness has one core), so not with the harness either
KV_PROTO_TEST_SRC_test_kv_cores := src/apps/kv.c $(KV_PROTO_TEST_SRC_test_kv_exec)
define kv_proto_test
$(BUILD)/unit/apps/$(1): test/unit/apps/$(1).c $$(KV_PROTO_TEST_SRC_$(1)) $(UNIT_HDRS) \
		test/unit/apps/kv_feed.h | $(BUILD)/.deps
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC $$<"
	@$(HOSTCC) $(HCFLAGS) -o $$@ $$< $$(KV_PROTO_TEST_SRC_$(1)) -lcriterion
$(BUILD)/unit-san/apps/$(1): test/unit/apps/$(1).c $$(KV_PROTO_TEST_SRC_$(1)) $(UNIT_HDRS) \
		test/unit/apps/kv_feed.h | $(BUILD)/.deps
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC $$< (asan, ubsan)"
	@$(HOSTCC) $(HCFLAGS) $(SANFLAGS) -o $$@ $$< $$(KV_PROTO_TEST_SRC_$(1)) -lcriterion
endef
$(eval $(call kv_proto_test,test_kv_proto))
$(eval $(call kv_proto_test,test_kv_exec))
$(eval $(call kv_proto_test,test_kv_cores))
# httpd's HTTP semantics (httpd_http.c, httpd_head.c) alone: pure functions, no stack
HTTPD_HTTP_TEST_SRC := src/apps/httpd_http.c src/apps/httpd_head.c
$(BUILD)/unit/apps/test_httpd_http: test/unit/apps/test_httpd_http.c $(HTTPD_HTTP_TEST_SRC) \
		$(UNIT_HDRS) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  HOSTCC $<"
	@$(HOSTCC) $(HCFLAGS) -o $@ $< $(HTTPD_HTTP_TEST_SRC) -lcriterion
$(BUILD)/unit-san/apps/test_httpd_http: test/unit/apps/test_httpd_http.c $(HTTPD_HTTP_TEST_SRC) \
		$(UNIT_HDRS) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  HOSTCC $< (asan, ubsan)"
	@$(HOSTCC) $(HCFLAGS) $(SANFLAGS) -o $@ $< $(HTTPD_HTTP_TEST_SRC) -lcriterion
# the site index alone: the tar reader, the index, the media types
SITE_TEST_SRC := src/apps/httpd_site.c src/core/tar.c src/core/siphash.c
$(BUILD)/unit/apps/test_httpd_site: test/unit/apps/test_httpd_site.c $(SITE_TEST_SRC) $(UNIT_HDRS) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  HOSTCC $<"
	@$(HOSTCC) $(HCFLAGS) -o $@ $< $(SITE_TEST_SRC) -lcriterion
$(BUILD)/unit-san/apps/test_httpd_site: test/unit/apps/test_httpd_site.c $(SITE_TEST_SRC) $(UNIT_HDRS) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  HOSTCC $< (asan, ubsan)"
	@$(HOSTCC) $(HCFLAGS) $(SANFLAGS) -o $@ $< $(SITE_TEST_SRC) -lcriterion
# the TCP suites again with the fake device's checksum offload and TSO
UNIT_OFFLOAD_BINS := $(BUILD)/unit/net/test_tcp $(BUILD)/unit/net/test_tcp_active $(BUILD)/unit/net/test_tcp_hostile \
	$(BUILD)/unit/net/test_tcp_ref
test-unit: $(UNIT_BINS) $(UNIT_SAN_BINS) $(UNIT_TSAN_BINS)
	@fail=0; for t in $^; do \
		echo "== $$t"; $$t --jobs 1 || fail=1; done; \
	for t in $(UNIT_OFFLOAD_BINS); do \
		echo "== $$t (H_OFFLOAD=tso)"; H_OFFLOAD=tso $$t --jobs 1 || fail=1; done; exit $$fail

# ---------------------------------------------------------------- fuzzing
# libFuzzer (clang, ASan + UBSan) targets, each declared in its own
# test/fuzz/<name>.mk so that adding one touches no shared line:
#   FUZZ_TARGETS   += <name>            (the source is test/fuzz/fuzz_<name>.c)
#   FUZZ_SRC_<name>  := what it links   (besides its own source)
#   FUZZ_OBJ_<name>  := prebuilt objects (e.g. the uninstrumented timer)
#   FUZZ_DEPS_<name> := files it includes (rebuild on change, not linked)
#   FUZZ_LIBS_<name> := -l...
#   FUZZ_ARGS_<name> := libFuzzer flags (-max_len=..., -timeout=...)
#   FUZZ_TIME_<name> := seconds it runs in `make test`
#   FUZZ_SEEDS_<name> := seed folders besides test/fuzz/corpus/<name>/
# Seeds are kept in the repo; what a run finds beyond them stays in
# build/fuzz/corpus/<name>/ until `make fuzz` merges it in.
FUZZ_CC := clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) -Isrc -I$(BUILD)/gen -Itest/unit/net -D_GNU_SOURCE -DPOLLUX_HOSTED \
	-fno-omit-frame-pointer $(FUZZ_SAN)
FUZZ_NET_SRC := $(filter-out src/sched/timer.c,$(UNIT_NET_SRC))
FUZZ_API_SRC := $(API_SRC) $(CONFIG_SCHEMA_SRC) test/unit/api/schema_root.c
FUZZ_TARGETS :=

# The timer wheel is built without coverage (still sanitized):
# instrumented, its tick-by-tick walk took most of the fuzzer's time.
$(BUILD)/fuzz/timer.o: src/sched/timer.c src/sched/timer.h | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

include $(sort $(wildcard test/fuzz/*.mk))

define FUZZ_RULES
$(BUILD)/fuzz/fuzz_$(1): test/fuzz/fuzz_$(1).c $$(FUZZ_SRC_$(1)) $$(FUZZ_OBJ_$(1)) $$(FUZZ_DEPS_$(1)) $$(UNIT_HDRS) \
		test/fuzz/$(1).mk | $$(BUILD)/.deps
	@mkdir -p $$(dir $$@)
	@echo "  CLANG $$< (libFuzzer, asan, ubsan)"
	@$$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$< $$(FUZZ_SRC_$(1)) \
		$$(FUZZ_OBJ_$(1)) $$(FUZZ_LIBS_$(1))
fuzz-build-$(1): $(BUILD)/fuzz/fuzz_$(1)
# One bounded run: the kept seeds and what earlier runs found.
fuzz-run-$(1): $(BUILD)/fuzz/fuzz_$(1)
	@mkdir -p $(BUILD)/fuzz/corpus/$(1)
	$(BUILD)/fuzz/fuzz_$(1) -max_total_time=$$(or $$(FUZZ_SECONDS),$$(FUZZ_TIME_$(1)),20) \
		$$(FUZZ_ARGS_$(1)) -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ \
		$(BUILD)/fuzz/corpus/$(1) $$(FUZZ_SEEDS_$(1)) $$(wildcard test/fuzz/corpus/$(1))
# One long run (make fuzz): its finds merged into test/fuzz/corpus/$(1)/,
# its row of docs/fuzzing.md rewritten.
fuzz-long-$(1): $(BUILD)/fuzz/fuzz_$(1)
	@$(PYTHON) tools/fuzz-record --target $(1) --doc docs/fuzzing.md \
		--seconds $$(FUZZ_LONG) --runs $$(FUZZ_RUNS) --work $(BUILD)/fuzz/corpus/$(1) \
		--keep test/fuzz/corpus/$(1) --log $(BUILD)/fuzz/$(1).long.log \
		$$(addprefix --seeds ,$$(FUZZ_SEEDS_$(1))) -- $(BUILD)/fuzz/fuzz_$(1) $$(FUZZ_ARGS_$(1))
.PHONY: fuzz-build-$(1) fuzz-run-$(1) fuzz-long-$(1)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULES,$(t))))

# Every target, bounded (FUZZ_TIME_<name> seconds each; FUZZ_SECONDS=N
# overrides them all). A finding stops the run and leaves its input in
# build/fuzz/ (crash-*, leak-*, timeout-*).
test-fuzz: $(addprefix $(BUILD)/fuzz/fuzz_,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		$(MAKE) --no-print-directory fuzz-run-$$t || exit 1; done

# Long runs (not part of `make test`): every target in turn, never two
# fuzzers at once, each for FUZZ_LONG seconds or FUZZ_RUNS executions,
# whichever comes first; what each finds is merged into its kept seeds
# (-merge=1: only what adds coverage) and its row of docs/fuzzing.md
# rewritten by tools/fuzz-record (the log: build/fuzz/<name>.long.log).
# A finding does not stop the others; the exit status says there was one.
FUZZ_LONG ?= 3600
FUZZ_RUNS ?= 100000000
fuzz: $(addprefix $(BUILD)/fuzz/fuzz_,$(FUZZ_TARGETS))
	@fail=0; for t in $(FUZZ_TARGETS); do \
		$(MAKE) --no-print-directory fuzz-long-$$t || fail=1; done; exit $$fail
.PHONY: fuzz

# ---------------------------------------------------------------- VM tests
test-vm: $(BUILD)/pollux.elf
	$(PYTHON) -m pytest -q -p no:cacheprovider test/vm

# vhost-user against a live dpdk-testpmd (skipped where DPDK is absent);
# it and the l2fwd generator share the test frontend in test/lib
VU_FRONTEND := test/lib/vu_frontend.c
$(BUILD)/unit/drivers/test_vhost_user_live: test/unit/drivers/test_vhost_user_live.c $(VU_FRONTEND) \
		test/lib/vu_frontend.h $(UNIT_DRIVERS_SRC) $(UNIT_HDRS) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  HOSTCC $<"
	@$(HOSTCC) $(HCFLAGS) -Itest/lib -o $@ $< $(VU_FRONTEND) $(UNIT_DRIVERS_SRC)
test-vhost-live: $(BUILD)/unit/drivers/test_vhost_user_live
	@$<; rc=$$?; if [ $$rc = 77 ]; then echo "test-vhost-live: skipped (no dpdk-testpmd)"; rc=0; fi; exit $$rc

$(BUILD)/l2fwd_gen: test/hosted/l2fwd_gen.c $(VU_FRONTEND) test/lib/vu_frontend.h $(UNIT_DRIVERS_SRC) \
		$(UNIT_HDRS) | $(BUILD)/.deps
	@echo "  HOSTCC $<"
	@$(HOSTCC) $(HCFLAGS) -O2 -Itest/lib -o $@ $< $(VU_FRONTEND) $(UNIT_DRIVERS_SRC)

# the kv protocols as a filter: test_kv_oracle.py compares its answers
# with Debian's memcached
KV_REPLAY_SRC := src/apps/kv_proto.c src/apps/kv_exec.c src/apps/kv_store.c src/core/siphash.c
$(BUILD)/kv_replay: test/hosted/kv_replay.c $(KV_REPLAY_SRC) $(UNIT_HDRS) | $(BUILD)/.deps
	@echo "  HOSTCC $<"
	@$(HOSTCC) $(HCFLAGS) $(SANFLAGS) -o $@ $< $(KV_REPLAY_SRC)
test-hosted: $(BUILD)/pollux-hosted $(BUILD)/l2fwd_gen $(BUILD)/kv_replay
	@$(MAKE) --no-print-directory test-vhost-live
	$(PYTHON) -m pytest -q -p no:cacheprovider test/hosted

# every #include points down core < sched < pkt < drivers < net < apps | api < appliance
test-layers:
	@$(PYTHON) tools/layercheck
	@$(PYTHON) -m pytest -q -p no:cacheprovider test/tools

test: $(BUILD)/.deps
	@$(MAKE) --no-print-directory test-layers
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-fuzz
	@$(MAKE) --no-print-directory test-hosted
	@$(MAKE) --no-print-directory test-vm

# ---------------------------------------------------------------- run / bench
# The API on the management NIC (QEMU user networking, restrict=on) at
# https://127.0.0.1:$(API_PORT); the console prints the token and the
# certificate's fingerprint.
#
# make run CONFIG=configs/kv.json: the kv appliance on a data NIC (QEMU
# user networking, restrict=on, the config's 198.18.0.0/24 with QEMU's
# side at .1) with 127.0.0.1:$(KV_PORT) forwarded to its kv.port 11211,
# for memccat, telnet and client libraries on the host; 2 data cores.
API_PORT ?= 8443
KV_PORT ?= 11211
CONFIG ?= configs/default.json
RUN_configs/kv.json := --smp 3 --machine q35 --config configs/kv.json -- \
	-netdev user,id=data,restrict=on,net=198.18.0.0/24,host=198.18.0.1,hostfwd=tcp:127.0.0.1:$(KV_PORT)-198.18.0.2:11211 \
	-device virtio-net-pci,netdev=data
RUN_MSG_configs/kv.json := "pollux: kv at 127.0.0.1:$(KV_PORT) once the console shows 'pollux ready' (e.g. memcstat --servers=127.0.0.1:$(KV_PORT))"
# make run CONFIG=configs/httpd.json: httpd serving the sample site
# (configs/site/, packed by make site) with 127.0.0.1:$(HTTP_PORT)
# forwarded to its port 80, for a browser or curl on the host.
HTTP_PORT ?= 8080
RUN_configs/httpd.json := --smp 3 --machine q35 --config $(BUILD)/site.tar -- \
	-netdev user,id=data,restrict=on,net=198.18.0.0/24,host=198.18.0.1,hostfwd=tcp:127.0.0.1:$(HTTP_PORT)-198.18.0.2:80 \
	-device virtio-net-pci,netdev=data
RUN_MSG_configs/httpd.json := "pollux: httpd at http://127.0.0.1:$(HTTP_PORT)/ once the console shows 'pollux ready'"
RUN_SITE_configs/httpd.json := configs/site
run: $(BUILD)/.deps
	@$(MAKE) --no-print-directory all
ifdef RUN_SITE_$(CONFIG)
	@$(MAKE) --no-print-directory site DIR=$(RUN_SITE_$(CONFIG)) CONFIG=$(CONFIG)
endif
ifdef RUN_$(CONFIG)
	@echo "pollux: booting $(CONFIG) (q35). Quit with Ctrl-A then X."
	@echo $(RUN_MSG_$(CONFIG))
	tools/pollux-vm $(RUN_$(CONFIG))
else
	@echo "pollux: booting $(CONFIG) on 4 vCPUs (q35). Quit with Ctrl-A then X."
	@echo "pollux: the API will be at https://127.0.0.1:$(API_PORT)/ once the console shows"
	@echo "        'api: token ...' and 'api: certificate sha256 Fingerprint=...'; then, in another terminal:"
	@echo "        POLLUX_TOKEN=<token> POLLUX_FINGERPRINT=<fingerprint> tools/polluxctl --url https://127.0.0.1:$(API_PORT) status"
	tools/pollux-vm --smp 4 --machine q35 --config $(CONFIG) --api $(API_PORT)
endif

# make site DIR=<folder> CONFIG=<config>: build/site.tar, a boot module
# holding CONFIG as pollux.json (first, so `tar -tf` shows it at once)
# and the folder's files as the site's root (<folder>/index.html is /).
# The site index never serves the top-level pollux.json, so a folder
# with one of its own is refused here rather than shadowed.
site: $(BUILD)/.deps
	@[ -n "$(DIR)" ] && [ -d "$(DIR)" ] || { echo "make site: DIR=<folder> must name the site's folder"; exit 2; }
	@[ -f "$(CONFIG)" ] || { echo "make site: CONFIG=$(CONFIG) is not a file"; exit 2; }
	@[ ! -e "$(DIR)/pollux.json" ] || { echo "make site: $(DIR)/pollux.json would clash with the config"; exit 2; }
	@$(PYTHON) -c 'import json,sys; json.load(open(sys.argv[1]))' "$(CONFIG)" || \
		{ echo "make site: $(CONFIG) is not valid JSON"; exit 2; }
	@rm -rf $(BUILD)/site.stage && mkdir -p $(BUILD)/site.stage && cp "$(CONFIG)" $(BUILD)/site.stage/pollux.json
	@tar --format=pax --sort=name --owner=0 --group=0 --numeric-owner -cf $(BUILD)/site.tar.tmp \
		-C $(BUILD)/site.stage pollux.json -C "$(abspath $(DIR))" .
	@mv $(BUILD)/site.tar.tmp $(BUILD)/site.tar && rm -rf $(BUILD)/site.stage
	@echo "site: $(BUILD)/site.tar ($$(tar -tf $(BUILD)/site.tar | wc -l) entries, $$(stat -c %s $(BUILD)/site.tar) bytes)"

bench: $(BUILD)/.deps $(BUILD)/.deps-bench all
	bench/ring/run
	bench/boot/run
	bench/tcp/run
	bench/kv/run
	bench/httpd/run
	bench/pps/run
	bench/api/run

# Not in `make test`: half an hour (SOAK_MINUTES), root; writes bench/soak/.
soak: $(BUILD)/.deps $(BUILD)/.deps-bench all
	$(PYTHON) test/soak/soak.py

gdb: all
	@echo "start QEMU with: tools/pollux-vm --gdb ...  then: gdb -ex 'target remote :1234' $(BUILD)/pollux.elf"

clean:
	rm -rf $(BUILD)/k $(BUILD)/gen $(BUILD)/fuzz $(BUILD)/unit $(BUILD)/unit-san $(BUILD)/unit-tsan $(BUILD)/pollux.elf $(BUILD)/h $(BUILD)/pollux-hosted
