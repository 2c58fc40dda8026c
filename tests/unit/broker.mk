# Unit tests of libpdbroker.a (Check), run by `make check`.
check_PROGRAMS += tests/unit/test_ws tests/unit/test_eio tests/unit/test_sio
TESTS += tests/unit/test_ws tests/unit/test_eio tests/unit/test_sio

tests_unit_test_ws_SOURCES = tests/unit/test_ws.c
tests_unit_test_ws_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_ws_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_ws_LDADD = libpdbroker.a $(TEST_LIBS)

tests_unit_test_eio_SOURCES = tests/unit/test_eio.c
tests_unit_test_eio_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_eio_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_eio_LDADD = libpdbroker.a $(TEST_LIBS)

tests_unit_test_sio_SOURCES = tests/unit/test_sio.c
tests_unit_test_sio_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_sio_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_sio_LDADD = libpdbroker.a $(TEST_LIBS)

check_PROGRAMS += tests/unit/test_dialect
TESTS += tests/unit/test_dialect
tests_unit_test_dialect_SOURCES = tests/unit/test_dialect.c
tests_unit_test_dialect_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker -I$(top_srcdir)/shared
tests_unit_test_dialect_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_dialect_LDADD = libpdbroker.a libpushdesk.a $(TEST_LIBS)

# broker/hdr (header values of the broker's HTTP surface)
check_PROGRAMS += tests/unit/test_hdr
TESTS += tests/unit/test_hdr
tests_unit_test_hdr_SOURCES = tests/unit/test_hdr.c broker/hdr.c broker/hdr.h
tests_unit_test_hdr_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_hdr_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_hdr_LDADD = $(TEST_LIBS)
