# The stack's receive path from the wire: Ethernet, ARP, IPv4, ICMP, UDP,
# TCP in every state, through the unit harness.
FUZZ_TARGETS += net_rx
FUZZ_SRC_net_rx := $(FUZZ_NET_SRC)
FUZZ_OBJ_net_rx := $(BUILD)/fuzz/timer.o
FUZZ_DEPS_net_rx := test/fuzz/net_fuzz.h
FUZZ_LIBS_net_rx := -ljansson
FUZZ_TIME_net_rx := 30
