/* pd_keys: builds the Valkey key names below adapter_key (see pd_keys.h
 * for the table) into bounded buffers, and holds the lease scripts that
 * the broker and pushdeskctl both run. */
#include "pd_keys.h"

#include <stdarg.h>
#include <stdio.h>

const char pd_keys_lua_lease[] = PD_KEYS_LUA_NOW
    "local ttl = tonumber(ARGV[2])\n"
    "redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)\n"
    "redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)\n"
    "return redis.call('ZRANGEBYSCORE', KEYS[2], now, '+inf')\n";

const char pd_keys_lua_live[] = PD_KEYS_LUA_NOW
    "return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')\n";

const char pd_keys_lua_xpub[] =
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'm', ARGV[1])\n"
    "return redis.call('PUBLISH', ARGV[2], '\\148' .. string.sub(ARGV[1], 2) .. cmsgpack.pack(id))\n";

const char pd_keys_lua_xpub_once[] =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end\n"
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'm', ARGV[1])\n"
    "redis.call('SET', KEYS[2], id, 'PX', ARGV[4])\n"
    "return redis.call('PUBLISH', ARGV[2], '\\148' .. string.sub(ARGV[1], 2) .. cmsgpack.pack(id))\n";

const char pd_keys_lua_xadd_once[] =
    "local id = redis.call('GET', KEYS[2])\n"
    "if id then return id end\n"
    "id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])\n"
    "redis.call('SET', KEYS[2], id, 'PX', ARGV[3])\n"
    "return id\n";

const char *pd_keys_prefix(const char *adapter_key)
{
	return adapter_key != NULL && adapter_key[0] != '\0' ? adapter_key : PD_KEYS_DEFAULT_PREFIX;
}

/* The prefix, then fmt: 0, or -1 (buf "") when it does not fit. */
__attribute__((format(printf, 4, 5))) static int key(char *buf, size_t n, const char *prefix,
						     const char *fmt, ...)
{
	va_list ap;
	int a, b;
	if (n == 0)
		return -1;
	a = snprintf(buf, n, "%s", pd_keys_prefix(prefix));
	if (a < 0 || (size_t)a >= n)
		goto fail;
	va_start(ap, fmt);
	b = vsnprintf(buf + a, n - (size_t)a, fmt, ap);
	va_end(ap);
	if (b < 0 || (size_t)b >= n - (size_t)a)
		goto fail;
	return 0;
fail:
	buf[0] = '\0';
	return -1;
}

int pd_keys_brokers(char *buf, size_t n, const char *prefix)
{
	return key(buf, n, prefix, PD_KEYS_SEG_BROKERS);
}

int pd_keys_broker(char *buf, size_t n, const char *prefix, const char *uid)
{
	return key(buf, n, prefix, PD_KEYS_SEG_BROKERS ":%s", uid);
}

int pd_keys_presence_user(char *buf, size_t n, const char *prefix, const char *user)
{
	return key(buf, n, prefix, PD_KEYS_SEG_PRESENCE "%s", user);
}

int pd_keys_presence_conns(char *buf, size_t n, const char *prefix, const char *user)
{
	return key(buf, n, prefix, PD_KEYS_SEG_PRESENCE "%s" PD_KEYS_SEG_CONNS, user);
}

int pd_keys_presence_org(char *buf, size_t n, const char *prefix, const char *org)
{
	return key(buf, n, prefix, PD_KEYS_SEG_PRESENCE PD_KEYS_SEG_ORG "%s", org);
}

int pd_keys_presence_all(char *buf, size_t n, const char *prefix)
{
	return key(buf, n, prefix, PD_KEYS_SEG_PRESENCE "conns");
}

int pd_keys_presence_lock(char *buf, size_t n, const char *prefix)
{
	return key(buf, n, prefix, PD_KEYS_SEG_PRESENCE "sweeper");
}

int pd_keys_recovery_stream(char *buf, size_t n, const char *prefix, const char *nsp)
{
	return key(buf, n, prefix, ":{recovery}:events:%s", nsp);
}

int pd_keys_recovery_session(char *buf, size_t n, const char *prefix, const char *pid)
{
	return key(buf, n, prefix, ":{recovery}:session:%s", pid);
}

int pd_keys_recovery_seen(char *buf, size_t n, const char *prefix, const char *event_id)
{
	return key(buf, n, prefix, ":{recovery}:seen:%s", event_id);
}
