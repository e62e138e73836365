# TCP's per-core resources under hundreds of hostile connections
# (out-of-order, zero window, idle, every slot taken, cookies): the
# bounds during the run, every timeout and the pool at the end.
FUZZ_TARGETS += tcp_conns
FUZZ_SRC_tcp_conns := $(FUZZ_NET_SRC)
FUZZ_OBJ_tcp_conns := $(BUILD)/fuzz/timer.o
FUZZ_DEPS_tcp_conns := test/fuzz/net_fuzz.h
FUZZ_LIBS_tcp_conns := -ljansson
FUZZ_ARGS_tcp_conns := -max_len=2048 -timeout=60
FUZZ_TIME_tcp_conns := 20
