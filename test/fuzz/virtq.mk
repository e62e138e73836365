# A hostile device against the virtqueue and virtio-net's data path
# (descriptors, ids, lengths, header flags).
FUZZ_TARGETS += virtq
FUZZ_SRC_virtq := src/drivers/virtq.c
FUZZ_DEPS_virtq := src/drivers/virtio_net_rxtx.c src/pkt/pktbuf.c
FUZZ_ARGS_virtq := -max_len=2048
FUZZ_TIME_virtq := 20
