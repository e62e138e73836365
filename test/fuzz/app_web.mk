# The web appliance: HTTP requests, keep-alive, pipelining, its answers
# under back-pressure, half-close and resets.
FUZZ_TARGETS += app_web
FUZZ_SRC_app_web := $(FUZZ_NET_SRC) $(APPS_SRC) test/fuzz/app_fuzz.c
FUZZ_OBJ_app_web := $(BUILD)/fuzz/timer.o
FUZZ_DEPS_app_web := test/fuzz/app_fuzz.h
FUZZ_LIBS_app_web := -ljansson -lhttp_parser
FUZZ_ARGS_app_web := -max_len=8192
FUZZ_TIME_app_web := 20
