# The tar reader, the boot module split and the httpd site index on
# hostile archives (each input also with its header checksums fixed).
# Seeded with small archives GNU tar wrote (corpus/gen_tar.sh).
FUZZ_TARGETS += tar
FUZZ_SRC_tar := src/core/tar.c src/core/siphash.c src/apps/httpd_site.c
FUZZ_DEPS_tar := test/unit/core/tar_build.h
FUZZ_ARGS_tar := -max_len=65536
FUZZ_TIME_tar := 20
