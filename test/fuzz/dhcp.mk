# The DHCP client at every stage of its exchange.
FUZZ_TARGETS += dhcp
FUZZ_SRC_dhcp := $(FUZZ_NET_SRC)
FUZZ_OBJ_dhcp := $(BUILD)/fuzz/timer.o
FUZZ_DEPS_dhcp := test/fuzz/net_fuzz.h
FUZZ_LIBS_dhcp := -ljansson
FUZZ_ARGS_dhcp := -max_len=4096
FUZZ_TIME_dhcp := 20
