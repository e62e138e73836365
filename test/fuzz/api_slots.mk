# The API listeners' slots (listener_slots.c, shared by both listeners)
# and request deadlines, driven by programs of connection events.
FUZZ_TARGETS += api_slots
FUZZ_SRC_api_slots := $(FUZZ_API_SRC) src/appliance/listener_slots.c
FUZZ_DEPS_api_slots := test/unit/api/fake.h
FUZZ_LIBS_api_slots := -ljansson -lhttp_parser $(MBEDTLS_LIBS)
FUZZ_ARGS_api_slots := -max_len=3000
FUZZ_TIME_api_slots := 20
