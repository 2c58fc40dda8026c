# libpdcluster.a: the broker's Valkey layer — vk (hiredis async on our
# loop), cluster (adapter fan-out, leases, requests between brokers) and
# presence. The broker links it; it uses the broker's room/sio symbols.
noinst_LIBRARIES += libpdcluster.a
libpdcluster_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker $(PD_DEPCFLAGS)
libpdcluster_a_SOURCES = \
	broker/vk.c broker/vk.h \
	broker/cluster.c broker/cluster.h \
	broker/presence.c broker/presence.h

# tests/integration/vk_driver: the Valkey layer against a redis-server it
# starts itself, with the broker's loop/room/msg code and a fake sio layer.
noinst_PROGRAMS += tests/integration/vk_driver
tests_integration_vk_driver_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker $(PD_DEPCFLAGS)
tests_integration_vk_driver_SOURCES = tests/integration/vk_driver.c \
	broker/loop.c broker/room.c broker/msg.c broker/hmap.c
tests_integration_vk_driver_LDADD = libpdcluster.a libpdbroker.a libpushdesk.a $(PD_LIBS)
