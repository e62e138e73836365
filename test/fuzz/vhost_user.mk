# A hostile vhost-user backend against the frontend's reply parsing.
FUZZ_TARGETS += vhost_user
FUZZ_SRC_vhost_user := src/drivers/virtq.c
FUZZ_DEPS_vhost_user := src/drivers/vhost_user.c src/drivers/virtio.c
FUZZ_LIBS_vhost_user := -lpthread
FUZZ_ARGS_vhost_user := -max_len=2048 -timeout=10
FUZZ_TIME_vhost_user := 20
