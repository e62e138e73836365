# The TCP proxy: clients and the backends it opens, bytes, FINs and resets
# on both sides.
FUZZ_TARGETS += app_proxy
FUZZ_SRC_app_proxy := $(FUZZ_NET_SRC) $(APPS_SRC) test/fuzz/app_fuzz.c
FUZZ_OBJ_app_proxy := $(BUILD)/fuzz/timer.o
FUZZ_DEPS_app_proxy := test/fuzz/app_fuzz.h
FUZZ_LIBS_app_proxy := -ljansson -lhttp_parser
FUZZ_ARGS_app_proxy := -max_len=8192
FUZZ_TIME_app_proxy := 20
