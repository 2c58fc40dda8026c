# Fuzz target of the API's request-body path (api/valid.c, pd_emitter), in
# the pattern of tests/fuzz/shared.mk: libFuzzer with --enable-fuzz, else
# the standalone driver replaying tests/fuzz/corpus/body under make check.
if FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_body
else
check_PROGRAMS += tests/fuzz/fuzz_body
TESTS += tests/fuzz/fuzz_body
endif

tests_fuzz_fuzz_body_SOURCES = tests/fuzz/fuzz_body.c api/valid.c api/valid.h $(PD_FUZZ_DRIVER) \
	$(PD_FUZZ_SHARED_SOURCES)
tests_fuzz_fuzz_body_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/api \
	-DPD_FUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/body"'
tests_fuzz_fuzz_body_CFLAGS = $(AM_CFLAGS) $(PD_FUZZ_CFLAGS) $(PD_DEPCFLAGS)
tests_fuzz_fuzz_body_LDFLAGS = $(AM_LDFLAGS) $(PD_FUZZ_LINKFLAGS)
tests_fuzz_fuzz_body_LDADD = libpushdesk.a $(PD_LIBS) -lm
