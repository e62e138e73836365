# The httpd appliance: HTTP requests against a small site (a directory,
# its index, a 100 KiB file), ranges, conditionals, keep-alive and
# pipelining, bodies streamed under back-pressure, half-close and resets.
FUZZ_TARGETS += app_httpd
FUZZ_SRC_app_httpd := $(FUZZ_NET_SRC) $(APPS_SRC) test/fuzz/app_fuzz.c
FUZZ_OBJ_app_httpd := $(BUILD)/fuzz/timer.o
FUZZ_DEPS_app_httpd := test/fuzz/app_fuzz.h test/unit/core/tar_build.h
FUZZ_LIBS_app_httpd := -ljansson -lhttp_parser
FUZZ_ARGS_app_httpd := -max_len=8192
FUZZ_TIME_app_httpd := 20
