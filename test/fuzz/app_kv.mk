# The kv appliance whole (kv.c over the store and the protocols): text,
# meta and binary requests cut anywhere, pipelines, its messages under
# back-pressure (no ACKs, zero window), half-close, resets, timeouts.
# --wrap=tcp_listen: kv_init runs in every world and its listener
# outlives the first (see fuzz_app_kv.c).
FUZZ_TARGETS += app_kv
FUZZ_SRC_app_kv := $(FUZZ_NET_SRC) $(APPS_SRC) test/fuzz/app_fuzz.c
FUZZ_OBJ_app_kv := $(BUILD)/fuzz/timer.o
FUZZ_DEPS_app_kv := test/fuzz/app_fuzz.h
FUZZ_LIBS_app_kv := -ljansson -lhttp_parser -Wl,--wrap=tcp_listen
FUZZ_ARGS_app_kv := -max_len=8192
FUZZ_TIME_app_kv := 20
