# One fragment for the broker: its libraries, its integration drivers and
# the daemon, in link order (each library before those it uses).

# libpdbroker.a: the broker's I/O-free codecs (RFC 6455 framing, Engine.IO
# packets and payloads, Socket.IO packets, and adapter_codec: the messages
# of @socket.io/redis-adapter / redis-emitter on shared/pd_msgpack and
# shared/pd_wire). The daemon and the tests link it before libpushdesk.a.
noinst_LIBRARIES += libpdbroker.a
libpdbroker_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker $(PD_DEPCFLAGS)
libpdbroker_a_SOURCES = \
	broker/ws.c broker/ws.h \
	broker/eio_packet.c broker/eio_packet.h \
	broker/sio_packet.c broker/sio_packet.h \
	broker/adapter_codec.c broker/adapter_codec.h \
	broker/dialect.c broker/dialect.h

# The broker's database layer: dbpool (DB threads, one PGconn each, results
# posted back to the loops) and dbq (the broker's queries as jobs, writes
# through pd_store). The daemon links libpdbrokerdb.a before libpushdesk.a.
noinst_LIBRARIES += libpdbrokerdb.a
libpdbrokerdb_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker $(PD_DEPCFLAGS)
libpdbrokerdb_a_SOURCES = \
	broker/dbpool.c broker/dbpool.h \
	broker/dbq.c broker/dbq.h

# Integration driver for tests/integration/dbpool.test.sh: a real loop
# (broker/loop.c), the pool and every query against $PD_DATABASE_URL.
noinst_PROGRAMS += tests/integration/dbpool_driver
tests_integration_dbpool_driver_SOURCES = \
	tests/integration/dbpool_driver.c \
	broker/loop.c
tests_integration_dbpool_driver_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker $(PD_DEPCFLAGS)
tests_integration_dbpool_driver_LDADD = libpdbrokerdb.a libpushdesk.a $(PD_LIBS)

# libpdcluster.a: the broker's Valkey layer — vk (hiredis async on our
# loop), cluster (adapter fan-out, leases, requests between brokers),
# presence, and adapter_valkey (both behind the seam of adapter.h). The
# broker links it; it uses the broker's room/sio/adapter symbols.
noinst_LIBRARIES += libpdcluster.a
libpdcluster_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker $(PD_DEPCFLAGS)
libpdcluster_a_SOURCES = \
	broker/vk.c broker/vk.h \
	broker/cluster.c broker/cluster.h \
	broker/cluster_int.h broker/cluster_sharded.c \
	broker/vkss.c broker/vkss.h \
	broker/presence.c broker/presence.h \
	broker/adapter_valkey.c

# tests/integration/vk_driver: the Valkey layer against a redis-server it
# starts itself, with the broker's loop/room/msg code and a fake sio layer.
noinst_PROGRAMS += tests/integration/vk_driver
tests_integration_vk_driver_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker \
	-I$(top_srcdir)/tests/unit $(PD_DEPCFLAGS)
tests_integration_vk_driver_SOURCES = \
	tests/integration/vk_driver.c \
	tests/unit/fake_broker.c tests/unit/fake_broker.h \
	broker/adapter.c broker/adapter_local.c \
	broker/loop.c \
	broker/room.c \
	broker/msg.c \
	broker/hmap.c
tests_integration_vk_driver_LDADD = libpdcluster.a libpdbroker.a libpushdesk.a $(PD_LIBS)

# pushdesk-broker: the Socket.IO / Engine.IO server (libpdbroker.a holds its
# I/O-free codecs, above).
sbin_PROGRAMS += broker/pushdesk-broker
broker_pushdesk_broker_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker $(PD_DEPCFLAGS) $(MHD_CFLAGS)
broker_pushdesk_broker_SOURCES = \
	broker/adapter.c broker/adapter.h broker/adapter_local.c \
	broker/admin.c broker/admin.h \
	broker/app.c broker/app.h \
	broker/auth.c broker/auth.h \
	broker/broker.h \
	broker/dashboard.c broker/dashboard.h \
	broker/h_notif.c broker/h_presence.c broker/h_ticket.c broker/h_room.c \
	broker/ratelimit.c broker/ratelimit.h \
	broker/recovery.c broker/recovery.h \
	broker/typing.c broker/typing.h \
	broker/eio.c broker/eio.h \
	broker/hmap.c broker/hmap.h \
	broker/http.c broker/http.h \
	broker/loop.c broker/loop.h \
	broker/main.c \
	broker/msg.c broker/msg.h \
	broker/profiles.c \
	broker/room.c broker/room.h \
	broker/sio.c broker/sio.h \
	broker/wsconn.c broker/wsconn.h \
	broker/bundle.h broker/hdr.c broker/hdr.h
broker_pushdesk_broker_LDADD = libpdcluster.a libpdbrokerdb.a libpdbroker.a libpushdesk.a $(MHD_LIBS) $(PD_LIBS)

# The socket.io-client browser bundle (share/socket.io-client/, see its
# README) compiled into the broker, which serves it under broker_path.
PD_BUNDLE_FILES = $(srcdir)/share/socket.io-client/socket.io.min.js \
	$(srcdir)/share/socket.io-client/socket.io.js
nodist_broker_pushdesk_broker_SOURCES = broker/bundle.c
CLEANFILES += broker/bundle.c
EXTRA_DIST += broker/bundle_gen.sh share/socket.io-client/socket.io.min.js \
	share/socket.io-client/socket.io.js
# its licence notice goes wherever the binary that embeds it goes
sioclientdir = $(pkgdatadir)/socket.io-client
dist_sioclient_DATA = share/socket.io-client/LICENSE share/socket.io-client/README
broker/bundle.c: $(PD_BUNDLE_FILES) $(srcdir)/broker/bundle_gen.sh
	$(AM_V_GEN)$(MKDIR_P) broker && \
	$(SHELL) $(srcdir)/broker/bundle_gen.sh $(PD_BUNDLE_FILES) >$@.tmp && mv $@.tmp $@
