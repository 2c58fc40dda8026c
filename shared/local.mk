# libpushdesk.a: configuration, logging, buffers, JSON, JWT, errors,
# valkey_url; the Valkey key names (pd_keys), the adapter's channels and
# pushdesk's query across brokers (pd_wire), the adapter's msgpack
# (pd_msgpack); and, shared by pushdesk-api and the broker's database
# thread, pd_db (libpq helpers), pd_emitter (the redis-emitter format) and
# pd_store (domain writes with their outbox rows).
noinst_LIBRARIES += libpushdesk.a
libpushdesk_a_CPPFLAGS = $(AM_CPPFLAGS) $(PD_DEPCFLAGS)
libpushdesk_a_SOURCES = \
	shared/pd_buf.c shared/pd_buf.h \
	shared/pd_cfg.c shared/pd_cfg.h \
	shared/pd_err.c shared/pd_err.h \
	shared/pd_errmsg.c shared/pd_errmsg.h \
	shared/pd_json.c shared/pd_json.h \
	shared/pd_jwt.c shared/pd_jwt.h \
	shared/pd_keys.c shared/pd_keys.h \
	shared/pd_log.c shared/pd_log.h \
	shared/pd_msgpack.c shared/pd_msgpack.h \
	shared/pd_rooms.c shared/pd_rooms.h \
	shared/pd_url.c shared/pd_url.h \
	shared/pd_slot.c shared/pd_slot.h \
	shared/pd_kvc.c shared/pd_kvc.h \
	shared/pd_wire.c shared/pd_wire.h \
	shared/pd_db.c shared/pd_db.h \
	shared/pd_emitter.c shared/pd_emitter.h \
	shared/pd_store.c shared/pd_store.h
