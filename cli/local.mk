# pushdeskctl: the operator's tool. Run from the build tree it finds the
# migrations in the source tree's sql/ (PD_SRC_SQLDIR), installed in
# $(pkgdatadir)/sql; --sql-dir and $PUSHDESK_SQL_DIR override both. rooms
# asks the brokers as they ask each other (shared/pd_wire); pushdeskctl
# links libpushdesk.a only and includes no broker header.
bin_PROGRAMS += cli/pushdeskctl
cli_pushdeskctl_SOURCES = cli/pushdeskctl.c
cli_pushdeskctl_CPPFLAGS = $(AM_CPPFLAGS) $(PD_DEPCFLAGS) \
	-DPD_SRC_SQLDIR='"$(abs_top_srcdir)/sql"' -DPD_BUILDDIR='"$(abs_top_builddir)"'
cli_pushdeskctl_LDADD = libpushdesk.a $(PD_LIBS)
