# pushdesk-broker: the Socket.IO / Engine.IO server (libpdbroker.a holds its
# I/O-free codecs, see broker/codec.mk).
sbin_PROGRAMS += broker/pushdesk-broker
broker_pushdesk_broker_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker $(PD_DEPCFLAGS) $(MHD_CFLAGS)
broker_pushdesk_broker_SOURCES = \
	broker/admin.c broker/admin.h \
	broker/app.c broker/app.h \
	broker/auth.c broker/auth.h \
	broker/broker.h \
	broker/dashboard.c broker/dashboard.h \
	broker/h_notif.c broker/h_presence.c broker/h_ticket.c broker/h_room.c \
	broker/ratelimit.c broker/ratelimit.h \
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
