# Unit tests of the API's pure modules: the redis-emitter encoder
# (shared/pd_emitter.c) and the request input checks (api/valid.c).
check_PROGRAMS += tests/unit/test_emitter tests/unit/test_api_valid
TESTS += tests/unit/test_emitter tests/unit/test_api_valid

tests_unit_test_emitter_SOURCES = tests/unit/test_emitter.c
tests_unit_test_emitter_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_emitter_LDADD = $(TEST_LIBS) -lm

tests_unit_test_api_valid_SOURCES = tests/unit/test_api_valid.c api/valid.c api/valid.h
tests_unit_test_api_valid_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/api
tests_unit_test_api_valid_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_api_valid_LDADD = $(TEST_LIBS)
