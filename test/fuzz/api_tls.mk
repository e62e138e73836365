# The API's TLS server against a hostile client's records.
FUZZ_TARGETS += api_tls
FUZZ_SRC_api_tls := $(FUZZ_API_SRC)
FUZZ_DEPS_api_tls := test/unit/api/fake.h
FUZZ_LIBS_api_tls := -ljansson -lhttp_parser $(MBEDTLS_LIBS)
FUZZ_ARGS_api_tls := -max_len=4096
FUZZ_TIME_api_tls := 20
