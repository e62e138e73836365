# The boot config path: parse, the root schema, every subsystem's struct,
# the api section as api_start takes it (tokens, TLS material), then
# GET /v1/config with secrets redacted. Seeded with configs/ too.
FUZZ_TARGETS += boot_config
FUZZ_SRC_boot_config := $(FUZZ_API_SRC)
FUZZ_DEPS_boot_config := test/unit/api/fake.h
FUZZ_LIBS_boot_config := -ljansson -lhttp_parser $(MBEDTLS_LIBS)
FUZZ_ARGS_boot_config := -max_len=16384
FUZZ_SEEDS_boot_config := test/fuzz/corpus/boot_config configs
FUZZ_TIME_boot_config := 20
