# The echo appliance: TCP and UDP port 7, its pending buffer and overflow
# reset.
FUZZ_TARGETS += app_echo
FUZZ_SRC_app_echo := $(FUZZ_NET_SRC) $(APPS_SRC) test/fuzz/app_fuzz.c
FUZZ_OBJ_app_echo := $(BUILD)/fuzz/timer.o
FUZZ_DEPS_app_echo := test/fuzz/app_fuzz.h
FUZZ_LIBS_app_echo := -ljansson -lhttp_parser
FUZZ_ARGS_app_echo := -max_len=8192
FUZZ_TIME_app_echo := 20
