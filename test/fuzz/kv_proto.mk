# The kv appliance's protocols (text, meta, binary) and their answers
# over a small real shard: requests cut into segments, values received
# into items on the shard, staged, or swallowed.
FUZZ_TARGETS += kv_proto
FUZZ_SRC_kv_proto := src/apps/kv_proto.c src/apps/kv_exec.c src/apps/kv_store.c src/core/siphash.c
FUZZ_ARGS_kv_proto := -max_len=8192
FUZZ_TIME_kv_proto := 20
