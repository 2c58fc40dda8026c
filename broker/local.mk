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
	broker/wsconn.c broker/wsconn.h
broker_pushdesk_broker_LDADD = libpdcluster.a libpdbrokerdb.a libpdbroker.a libpushdesk.a $(MHD_LIBS) $(PD_LIBS)
