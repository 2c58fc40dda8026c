# libpdbroker.a: the broker's I/O-free codecs (RFC 6455 framing, Engine.IO
# packets and payloads, Socket.IO packets). The daemon and the tests link it
# before libpushdesk.a.
noinst_LIBRARIES += libpdbroker.a
libpdbroker_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker $(PD_DEPCFLAGS)
libpdbroker_a_SOURCES = \
	broker/ws.c broker/ws.h \
	broker/eio_packet.c broker/eio_packet.h \
	broker/sio_packet.c broker/sio_packet.h \
	broker/dialect.c broker/dialect.h
