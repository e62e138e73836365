# The iperf3 server: cookies, control states, JSON messages, streams.
FUZZ_TARGETS += app_iperf
FUZZ_SRC_app_iperf := $(FUZZ_NET_SRC) $(APPS_SRC) test/fuzz/app_fuzz.c
FUZZ_OBJ_app_iperf := $(BUILD)/fuzz/timer.o
FUZZ_DEPS_app_iperf := test/fuzz/app_fuzz.h
FUZZ_LIBS_app_iperf := -ljansson -lhttp_parser
FUZZ_ARGS_app_iperf := -max_len=8192
FUZZ_TIME_app_iperf := 20
