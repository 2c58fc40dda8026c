# Fuzz target of broker/adapter_codec, on the pattern of tests/fuzz/shared.mk:
# with --enable-fuzz (CC=clang) a libFuzzer binary with the codec sources
# compiled in (instrumented); otherwise `make check` replays the seed corpus
# tests/fuzz/corpus/adapter (real messages from the Node adapter and emitter).
#   tests/fuzz/fuzz_adapter /tmp/adapter-work $(srcdir)/tests/fuzz/corpus/adapter -max_total_time=180
if FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_adapter
PD_FUZZ_ADAPTER_SOURCES = broker/adapter_codec.c broker/adapter_codec.h \
	broker/sio_packet.c broker/sio_packet.h \
	shared/pd_msgpack.c shared/pd_msgpack.h shared/pd_errmsg.c shared/pd_errmsg.h \
	shared/pd_wire.c shared/pd_wire.h
else
check_PROGRAMS += tests/fuzz/fuzz_adapter
TESTS += tests/fuzz/fuzz_adapter
PD_FUZZ_ADAPTER_SOURCES =
endif

tests_fuzz_fuzz_adapter_SOURCES = tests/fuzz/fuzz_adapter.c $(PD_FUZZ_DRIVER) $(PD_FUZZ_ADAPTER_SOURCES)
tests_fuzz_fuzz_adapter_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker \
	-DPD_FUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/adapter"'
tests_fuzz_fuzz_adapter_CFLAGS = $(AM_CFLAGS) $(PD_FUZZ_CFLAGS) $(PD_DEPCFLAGS)
tests_fuzz_fuzz_adapter_LDFLAGS = $(AM_LDFLAGS) $(PD_FUZZ_LINKFLAGS)
tests_fuzz_fuzz_adapter_LDADD = libpdbroker.a libpushdesk.a $(PD_LIBS) -lm
