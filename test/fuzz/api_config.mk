# The config validator and apply, seeded with the shipped configs.
FUZZ_TARGETS += api_config
FUZZ_SRC_api_config := $(FUZZ_API_SRC)
FUZZ_DEPS_api_config := test/unit/api/fake.h
FUZZ_LIBS_api_config := -ljansson -lhttp_parser $(MBEDTLS_LIBS)
FUZZ_SEEDS_api_config := configs
FUZZ_TIME_api_config := 20
