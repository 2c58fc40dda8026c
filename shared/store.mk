# pd_db (libpq helpers), pd_emitter (Socket.IO redis-emitter wire format) and
# pd_store (domain writes with their outbox rows) in libpushdesk.a, shared by
# pushdesk-api and the broker's database thread.
libpushdesk_a_SOURCES += \
	shared/pd_db.c shared/pd_db.h \
	shared/pd_emitter.c shared/pd_emitter.h \
	shared/pd_store.c shared/pd_store.h
