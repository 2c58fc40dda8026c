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

# ================= unit tests (tests/unit/test_<module>.c) =================

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

check_PROGRAMS += tests/unit/test_rooms
TESTS += tests/unit/test_rooms
tests_unit_test_rooms_SOURCES = tests/unit/test_rooms.c
tests_unit_test_rooms_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_rooms_LDADD = $(TEST_LIBS)

# pd_slot: cluster hash slots, key positions, MOVED/ASK errors.
check_PROGRAMS += tests/unit/test_slot
TESTS += tests/unit/test_slot
tests_unit_test_slot_SOURCES = tests/unit/test_slot.c tests/unit/check_run.h
tests_unit_test_slot_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_slot_LDADD = $(TEST_LIBS)

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

# Unit tests of broker/adapter_codec (Check): known-answer vectors captured
# from @socket.io/redis-adapter 8.3 and @socket.io/redis-emitter 5.1
# (tests/unit/fixtures/adapter, regenerated by gen.mjs there).
check_PROGRAMS += tests/unit/test_adapter_codec
TESTS += tests/unit/test_adapter_codec

tests_unit_test_adapter_codec_SOURCES = tests/unit/test_adapter_codec.c
tests_unit_test_adapter_codec_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker \
	-DPD_ADAPTER_FIXTURES='"$(top_srcdir)/tests/unit/fixtures/adapter"'
tests_unit_test_adapter_codec_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_adapter_codec_LDADD = libpdbroker.a $(TEST_LIBS) -lm

EXTRA_DIST += tests/unit/fixtures/adapter

# ================= fuzz targets (tests/fuzz/fuzz_<what>.c) =================

# Fuzz targets of libpushdesk.a. The pattern for every fuzz target:
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

# pd_url and pd_slot: valkey_url (seed lists) and the servers' MOVED/ASK errors.
if FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_url
else
check_PROGRAMS += tests/fuzz/fuzz_url
TESTS += tests/fuzz/fuzz_url
endif
tests_fuzz_fuzz_url_SOURCES = tests/fuzz/fuzz_url.c $(PD_FUZZ_DRIVER) $(PD_FUZZ_SHARED_SOURCES)
tests_fuzz_fuzz_url_CPPFLAGS = $(AM_CPPFLAGS) -DPD_FUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/url"'
tests_fuzz_fuzz_url_CFLAGS = $(AM_CFLAGS) $(PD_FUZZ_CFLAGS) $(PD_DEPCFLAGS)
tests_fuzz_fuzz_url_LDFLAGS = $(AM_LDFLAGS) $(PD_FUZZ_LINKFLAGS)
tests_fuzz_fuzz_url_LDADD = libpushdesk.a $(PD_LIBS)

# Fuzz targets of libpdbroker.a, on the pattern above: with
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

# Fuzz target of the API's request-body path (api/valid.c, pd_emitter), in
# the pattern above: libFuzzer with --enable-fuzz, else
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

# Fuzz target of broker/adapter_codec, on the pattern above:
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

# room.c and adapter_local.c (the broker's rooms, loop_each and the local
# adapter) on fake_broker's real loops with fake sockets: no stack.
PD_FAKE_BROKER = tests/unit/fake_broker.c tests/unit/fake_broker.h tests/unit/check_run.h \
	broker/loop.c broker/room.c broker/msg.c broker/hmap.c
check_PROGRAMS += tests/unit/test_room tests/unit/test_adapter_local
TESTS += tests/unit/test_room tests/unit/test_adapter_local
tests_unit_test_room_SOURCES = tests/unit/test_room.c $(PD_FAKE_BROKER)
tests_unit_test_room_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_room_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_room_LDADD = libpdbroker.a $(TEST_LIBS)
tests_unit_test_adapter_local_SOURCES = tests/unit/test_adapter_local.c $(PD_FAKE_BROKER) \
	broker/adapter.c broker/adapter_local.c
tests_unit_test_adapter_local_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_adapter_local_CFLAGS = $(AM_CFLAGS) $(TEST_CFLAGS)
tests_unit_test_adapter_local_LDADD = libpdbroker.a $(TEST_LIBS)
