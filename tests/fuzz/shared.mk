# Fuzz targets of libpushdesk.a. The pattern for every fuzz fragment:
# - with --enable-fuzz (CC=clang) a target is a libFuzzer binary, and the
#   sources it exercises are compiled into it with $(PD_FUZZ_CFLAGS) so that
#   libFuzzer sees their coverage (a prebuilt libpushdesk.a is not
#   instrumented); run it with a scratch folder first, so that libFuzzer
#   writes new inputs there and not into the seeds:
#   tests/fuzz/fuzz_jwt /tmp/jwt-work $(srcdir)/tests/fuzz/corpus/jwt -max_total_time=120
# - otherwise it is linked with the standalone driver and `make check`
#   replays its seed corpus (PD_FUZZ_CORPUS), under the sanitizers when the
#   build has them.
if FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_jwt tests/fuzz/fuzz_json
PD_FUZZ_SHARED_SOURCES = $(libpushdesk_a_SOURCES)
else
check_PROGRAMS += tests/fuzz/fuzz_jwt tests/fuzz/fuzz_json
TESTS += tests/fuzz/fuzz_jwt tests/fuzz/fuzz_json
PD_FUZZ_SHARED_SOURCES =
endif

tests_fuzz_fuzz_jwt_SOURCES = tests/fuzz/fuzz_jwt.c $(PD_FUZZ_DRIVER) $(PD_FUZZ_SHARED_SOURCES)
tests_fuzz_fuzz_jwt_CPPFLAGS = $(AM_CPPFLAGS) -DPD_FUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/jwt"'
tests_fuzz_fuzz_jwt_CFLAGS = $(AM_CFLAGS) $(PD_FUZZ_CFLAGS) $(PD_DEPCFLAGS)
tests_fuzz_fuzz_jwt_LDFLAGS = $(AM_LDFLAGS) $(PD_FUZZ_LINKFLAGS)
tests_fuzz_fuzz_jwt_LDADD = libpushdesk.a $(PD_LIBS)

tests_fuzz_fuzz_json_SOURCES = tests/fuzz/fuzz_json.c $(PD_FUZZ_DRIVER) $(PD_FUZZ_SHARED_SOURCES)
tests_fuzz_fuzz_json_CPPFLAGS = $(AM_CPPFLAGS) -DPD_FUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/json"'
tests_fuzz_fuzz_json_CFLAGS = $(AM_CFLAGS) $(PD_FUZZ_CFLAGS) $(PD_DEPCFLAGS)
tests_fuzz_fuzz_json_LDFLAGS = $(AM_LDFLAGS) $(PD_FUZZ_LINKFLAGS)
tests_fuzz_fuzz_json_LDADD = libpushdesk.a $(PD_LIBS)

# pd_rooms: room names from clients and backends (POST /emit, the broker's joins).
if FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_rooms
else
check_PROGRAMS += tests/fuzz/fuzz_rooms
TESTS += tests/fuzz/fuzz_rooms
endif
tests_fuzz_fuzz_rooms_SOURCES = tests/fuzz/fuzz_rooms.c $(PD_FUZZ_DRIVER) $(PD_FUZZ_SHARED_SOURCES)
tests_fuzz_fuzz_rooms_CPPFLAGS = $(AM_CPPFLAGS) -DPD_FUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/rooms"'
tests_fuzz_fuzz_rooms_CFLAGS = $(AM_CFLAGS) $(PD_FUZZ_CFLAGS) $(PD_DEPCFLAGS)
tests_fuzz_fuzz_rooms_LDFLAGS = $(AM_LDFLAGS) $(PD_FUZZ_LINKFLAGS)
tests_fuzz_fuzz_rooms_LDADD = libpushdesk.a $(PD_LIBS)
