# ARP across two interfaces: senders, conflicts, gateways, the learning
# limit.
FUZZ_TARGETS += arp
FUZZ_SRC_arp := $(FUZZ_NET_SRC)
FUZZ_OBJ_arp := $(BUILD)/fuzz/timer.o
FUZZ_DEPS_arp := test/fuzz/net_fuzz.h
FUZZ_LIBS_arp := -ljansson
FUZZ_ARGS_arp := -max_len=2048
FUZZ_TIME_arp := 20
