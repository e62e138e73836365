# TCP's SYN options both ways (passive and active open) and the clamps
# on what we send after them.
FUZZ_TARGETS += tcp_syn
FUZZ_SRC_tcp_syn := $(FUZZ_NET_SRC)
FUZZ_OBJ_tcp_syn := $(BUILD)/fuzz/timer.o
FUZZ_DEPS_tcp_syn := test/fuzz/net_fuzz.h
FUZZ_LIBS_tcp_syn := -ljansson
FUZZ_ARGS_tcp_syn := -max_len=4096
FUZZ_TIME_tcp_syn := 20
