# pushdesk-api: the FastCGI responder (see pushdesk-api(8)).
sbin_PROGRAMS += api/pushdesk-api
api_pushdesk_api_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/api $(FCGI_CFLAGS) $(PD_DEPCFLAGS)
api_pushdesk_api_SOURCES = \
	api/api.h \
	api/main.c \
	api/req.c \
	api/route.c \
	api/valid.c api/valid.h \
	api/h_misc.c \
	api/h_users.c \
	api/h_tickets.c \
	api/h_notif.c
api_pushdesk_api_LDADD = libpushdesk.a $(FCGI_LIBS) $(PD_LIBS) -lm
