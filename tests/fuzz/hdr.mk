# Fuzz target of broker/hdr (the HTTP header values the broker parses), on
# the pattern of tests/fuzz/broker.mk: libFuzzer with --enable-fuzz, else the
# standalone driver replaying tests/fuzz/corpus/hdr under make check.
if FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_hdr
else
check_PROGRAMS += tests/fuzz/fuzz_hdr
TESTS += tests/fuzz/fuzz_hdr
endif
tests_fuzz_fuzz_hdr_SOURCES = tests/fuzz/fuzz_hdr.c $(PD_FUZZ_DRIVER) broker/hdr.c broker/hdr.h
tests_fuzz_fuzz_hdr_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker \
	-DPD_FUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/hdr"'
tests_fuzz_fuzz_hdr_CFLAGS = $(AM_CFLAGS) $(PD_FUZZ_CFLAGS)
tests_fuzz_fuzz_hdr_LDFLAGS = $(AM_LDFLAGS) $(PD_FUZZ_LINKFLAGS)
