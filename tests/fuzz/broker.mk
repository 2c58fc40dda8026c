# Fuzz targets of libpdbroker.a, on the pattern of tests/fuzz/shared.mk: with
# --enable-fuzz the codec sources are compiled into each libFuzzer binary
# (instrumented); otherwise `make check` replays each seed corpus.
if FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_ws tests/fuzz/fuzz_eio tests/fuzz/fuzz_sio tests/fuzz/fuzz_dialect
PD_FUZZ_BROKER_SOURCES = $(libpdbroker_a_SOURCES)
else
check_PROGRAMS += tests/fuzz/fuzz_ws tests/fuzz/fuzz_eio tests/fuzz/fuzz_sio tests/fuzz/fuzz_dialect
TESTS += tests/fuzz/fuzz_ws tests/fuzz/fuzz_eio tests/fuzz/fuzz_sio tests/fuzz/fuzz_dialect
PD_FUZZ_BROKER_SOURCES =
endif

tests_fuzz_fuzz_ws_SOURCES = tests/fuzz/fuzz_ws.c $(PD_FUZZ_DRIVER) $(PD_FUZZ_BROKER_SOURCES)
tests_fuzz_fuzz_ws_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker \
	-DPD_FUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/ws"'
tests_fuzz_fuzz_ws_CFLAGS = $(AM_CFLAGS) $(PD_FUZZ_CFLAGS) $(PD_DEPCFLAGS)
tests_fuzz_fuzz_ws_LDFLAGS = $(AM_LDFLAGS) $(PD_FUZZ_LINKFLAGS)
tests_fuzz_fuzz_ws_LDADD = libpdbroker.a libpushdesk.a $(PD_LIBS)

tests_fuzz_fuzz_eio_SOURCES = tests/fuzz/fuzz_eio.c $(PD_FUZZ_DRIVER) $(PD_FUZZ_BROKER_SOURCES)
tests_fuzz_fuzz_eio_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker \
	-DPD_FUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/eio"'
tests_fuzz_fuzz_eio_CFLAGS = $(AM_CFLAGS) $(PD_FUZZ_CFLAGS) $(PD_DEPCFLAGS)
tests_fuzz_fuzz_eio_LDFLAGS = $(AM_LDFLAGS) $(PD_FUZZ_LINKFLAGS)
tests_fuzz_fuzz_eio_LDADD = libpdbroker.a libpushdesk.a $(PD_LIBS)

tests_fuzz_fuzz_sio_SOURCES = tests/fuzz/fuzz_sio.c $(PD_FUZZ_DRIVER) $(PD_FUZZ_BROKER_SOURCES)
tests_fuzz_fuzz_sio_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker \
	-DPD_FUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/sio"'
tests_fuzz_fuzz_sio_CFLAGS = $(AM_CFLAGS) $(PD_FUZZ_CFLAGS) $(PD_DEPCFLAGS)
tests_fuzz_fuzz_sio_LDFLAGS = $(AM_LDFLAGS) $(PD_FUZZ_LINKFLAGS)
tests_fuzz_fuzz_sio_LDADD = libpdbroker.a libpushdesk.a $(PD_LIBS)

tests_fuzz_fuzz_dialect_SOURCES = tests/fuzz/fuzz_dialect.c $(PD_FUZZ_DRIVER) $(PD_FUZZ_BROKER_SOURCES)
tests_fuzz_fuzz_dialect_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker \
	-DPD_FUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/dialect"'
tests_fuzz_fuzz_dialect_CFLAGS = $(AM_CFLAGS) $(PD_FUZZ_CFLAGS) $(PD_DEPCFLAGS)
tests_fuzz_fuzz_dialect_LDFLAGS = $(AM_LDFLAGS) $(PD_FUZZ_LINKFLAGS)
tests_fuzz_fuzz_dialect_LDADD = libpdbroker.a libpushdesk.a $(PD_LIBS)
