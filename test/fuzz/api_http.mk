# The API's request path: HTTP parsing, routing, every handler.
FUZZ_TARGETS += api_http
FUZZ_SRC_api_http := $(FUZZ_API_SRC)
FUZZ_DEPS_api_http := test/unit/api/fake.h
FUZZ_LIBS_api_http := -ljansson -lhttp_parser $(MBEDTLS_LIBS)
FUZZ_ARGS_api_http := -max_len=10000
FUZZ_TIME_api_http := 20
