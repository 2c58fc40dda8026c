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
tests_integration_dbpool_driver_SOURCES = tests/integration/dbpool_driver.c broker/loop.c
tests_integration_dbpool_driver_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker $(PD_DEPCFLAGS)
tests_integration_dbpool_driver_LDADD = libpdbrokerdb.a libpushdesk.a $(PD_LIBS)
