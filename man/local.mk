# man: the manual pages (mdoc(7)) and the sample deployment files operators
# copy: systemd units, a logrotate snippet, a production nginx site.
# tests/integration/docs.test.sh lints the pages and checks that they name
# every configuration key and every event the code emits.
dist_man_MANS += \
	man/pushdeskctl.1 \
	man/pushdesk.conf.5 \
	man/pushdesk-events.7 \
	man/pushdesk-api.8 \
	man/pushdesk-broker.8

systemdexampledir = $(pkgdatadir)/examples/systemd
dist_systemdexample_DATA = \
	share/systemd/pushdesk-api.socket \
	share/systemd/pushdesk-api.service \
	share/systemd/pushdesk-broker.service \
	share/systemd/pushdesk-broker@.service \
	share/systemd/pushdesk.sysusers

logrotateexampledir = $(pkgdatadir)/examples/logrotate
dist_logrotateexample_DATA = share/logrotate/pushdesk

nginxsiteexampledir = $(pkgdatadir)/examples/nginx-site
dist_nginxsiteexample_DATA = share/nginx-site/pushdesk.conf

# `make man-lint`: the check docs.test.sh makes, without the stack.
man-lint:
	@rc=0; for f in $(dist_man_MANS); do \
		mandoc -T lint -W warning $(srcdir)/$$f || rc=1; \
	done; exit $$rc
.PHONY: man-lint
