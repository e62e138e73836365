# The API's TLS server with client certificates (client_ca, a CRL,
# admin_subjects) against a real client whose records the fuzzer tampers
# with; the role each credential gets is checked.
FUZZ_TARGETS += api_tls_mtls
FUZZ_SRC_api_tls_mtls := $(FUZZ_API_SRC)
FUZZ_DEPS_api_tls_mtls := test/unit/api/fake.h test/fuzz/api_tls_mtls_pems.h
FUZZ_LIBS_api_tls_mtls := -ljansson -lhttp_parser $(MBEDTLS_LIBS)
FUZZ_ARGS_api_tls_mtls := -max_len=66
FUZZ_TIME_api_tls_mtls := 20
