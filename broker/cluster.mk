# libpdcluster.a: the broker's Valkey layer — vk (hiredis async on our
# loop), cluster (adapter fan-out, leases, requests between brokers) and
# presence. The broker links it; it uses the broker's room/sio symbols.
noinst_LIBRARIES += libpdcluster.a
libpdcluster_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker $(PD_DEPCFLAGS)
libpdcluster_a_SOURCES = \
	broker/vk.c broker/vk.h \
	broker/cluster.c broker/cluster.h \
	broker/presence.c broker/presence.h
