# Unit tests (Check) run by `make check`; fuzz targets are built either as
# libFuzzer binaries (--enable-fuzz, CC=clang) or with a standalone driver
# that replays the seed corpus, which `make check` runs as a regression test.
TEST_CFLAGS = $(CHECK_CFLAGS) $(PD_DEPCFLAGS)
TEST_LIBS = libpushdesk.a $(CHECK_LIBS) $(PD_LIBS)

if FUZZ
PD_FUZZ_CFLAGS = -fsanitize=fuzzer,address,undefined
PD_FUZZ_LINKFLAGS = -fsanitize=fuzzer,address,undefined
PD_FUZZ_DRIVER =
else
PD_FUZZ_CFLAGS =
PD_FUZZ_LINKFLAGS =
PD_FUZZ_DRIVER = tests/fuzz/standalone.c
endif
EXTRA_DIST += tests/fuzz/standalone.c tests/fuzz/corpus tests/run tests/lib tests/node/package.json tests/node/package-lock.json

include tests/unit/shared.mk
include tests/unit/broker.mk
include tests/unit/api.mk
include tests/unit/adapter.mk
include tests/fuzz/shared.mk
include tests/fuzz/broker.mk
include tests/fuzz/api.mk
include tests/fuzz/adapter.mk
include tests/fuzz/hdr.mk
