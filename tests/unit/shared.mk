# Unit tests of libpushdesk.a (Check), run by `make check`.
check_PROGRAMS += tests/unit/test_cfg tests/unit/test_jwt tests/unit/test_buf tests/unit/test_json \
	tests/unit/test_url
TESTS += tests/unit/test_cfg tests/unit/test_jwt tests/unit/test_buf tests/unit/test_json \
	tests/unit/test_url

tests_unit_test_cfg_SOURCES = tests/unit/test_cfg.c
tests_unit_test_cfg_CPPFLAGS = $(AM_CPPFLAGS) -DPD_SRCDIR='"$(top_srcdir)"'
tests_unit_test_cfg_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_cfg_LDADD = $(TEST_LIBS)

tests_unit_test_jwt_SOURCES = tests/unit/test_jwt.c
tests_unit_test_jwt_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_jwt_LDADD = $(TEST_LIBS)

tests_unit_test_buf_SOURCES = tests/unit/test_buf.c
tests_unit_test_buf_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_buf_LDADD = $(TEST_LIBS)

tests_unit_test_json_SOURCES = tests/unit/test_json.c
tests_unit_test_json_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_json_LDADD = $(TEST_LIBS)

tests_unit_test_url_SOURCES = tests/unit/test_url.c
tests_unit_test_url_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_url_LDADD = $(TEST_LIBS)

# pd_keys: the Valkey key names and the lease scripts.
check_PROGRAMS += tests/unit/test_keys
TESTS += tests/unit/test_keys
tests_unit_test_keys_SOURCES = tests/unit/test_keys.c tests/unit/check_run.h
tests_unit_test_keys_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_keys_LDADD = $(TEST_LIBS)

# pd_wire: the adapter's channel names and pushdesk's query across brokers.
check_PROGRAMS += tests/unit/test_wire
TESTS += tests/unit/test_wire
tests_unit_test_wire_SOURCES = tests/unit/test_wire.c tests/unit/check_run.h
tests_unit_test_wire_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_wire_LDADD = $(TEST_LIBS)
