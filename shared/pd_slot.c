/* pd_slot: hash slots, key positions and redirect errors (pd_slot.h). */
#include "pd_slot.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

unsigned pd_slot_crc16(const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc ^= (unsigned)b[i] << 8;
		for (int j = 0; j < 8; j++)
			crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
	}
	return crc;
}

unsigned pd_slot_of(const char *k, size_t n)
{
	const char *open = memchr(k, '{', n);
	if (open != NULL) {
		size_t rest = n - (size_t)(open - k) - 1;
		const char *close = memchr(open + 1, '}', rest);
		if (close != NULL && close > open + 1)
			return pd_slot_crc16(open + 1, (size_t)(close - open - 1)) % PD_SLOT_COUNT;
	}
	return pd_slot_crc16(k, n) % PD_SLOT_COUNT;
}

static int is(const char *a, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(a, word, n) == 0;
}

int pd_slot_cmd_key(int argc, const char *const *argv, const size_t *lens)
{
	static const char *const keyless[] = {
	    "PUBLISH", "PING",	"SCAN",	   "AUTH",   "SELECT", "CLUSTER", "INFO",   "SUBSCRIBE",
	    "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "TIME", "ASKING", "SCRIPT", "PUBSUB", "HELLO"};
	size_t n;

	if (argc < 2)
		return -1;
	n = lens != NULL ? lens[0] : strlen(argv[0]);
	for (size_t i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++)
		if (is(argv[0], n, keyless[i]))
			return -1;
	if (is(argv[0], n, "EVAL") || is(argv[0], n, "EVALSHA")) {
		/* numkeys is argv[2]: a key follows only when it is > 0 */
		char num[16];
		size_t kn;
		if (argc < 4)
			return -1;
		kn = lens != NULL ? lens[2] : strlen(argv[2]);
		if (kn == 0 || kn >= sizeof(num))
			return -1;
		memcpy(num, argv[2], kn);
		num[kn] = '\0';
		return strtol(num, NULL, 10) > 0 ? 3 : -1;
	}
	return 1;
}

int pd_slot_redirect_parse(const char *e, size_t n, struct pd_slot_redirect *out)
{
	const char *p, *end = e + n, *sp, *colon;
	unsigned long slot = 0;
	long port = 0;

	memset(out, 0, sizeof(*out));
	if (n > 6 && memcmp(e, "MOVED ", 6) == 0) {
		p = e + 6;
	} else if (n > 4 && memcmp(e, "ASK ", 4) == 0) {
		out->ask = 1;
		p = e + 4;
	} else {
		return -1;
	}
	/* slot: 1..5 digits below 16384 */
	for (sp = p; sp < end && *sp >= '0' && *sp <= '9' && sp - p < 6; sp++)
		slot = slot * 10 + (unsigned long)(*sp - '0');
	if (sp == p || sp >= end || *sp != ' ' || slot >= PD_SLOT_COUNT)
		return -1;
	p = sp + 1;
	/* host:port, the port after the last ':' (an IPv6 host holds ':') */
	colon = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == ':')
			colon = q;
	if (colon == NULL || colon + 1 >= end || (size_t)(colon - p) >= sizeof(out->host))
		return -1;
	for (const char *q = colon + 1; q < end; q++) {
		if (*q < '0' || *q > '9' || port > 65535)
			return -1;
		port = port * 10 + (*q - '0');
	}
	if (port < 1 || port > 65535)
		return -1;
	for (const char *q = p; q < colon; q++)
		if (*q == ' ' || *q == '\0')
			return -1;
	memcpy(out->host, p, (size_t)(colon - p));
	out->host[colon - p] = '\0';
	out->slot = (unsigned)slot;
	out->port = (int)port;
	return 0;
}

/* A decimal after cmd[*at], up to "\r\n" (consumed): 0, or -1 malformed. */
static int resp_num(const char *cmd, size_t len, size_t *at, size_t *out)
{
	size_t i = *at, v = 0, digits = 0;
	for (; i < len && cmd[i] >= '0' && cmd[i] <= '9'; i++, digits++) {
		if (digits >= 9) /* 512 MB is Valkey's bulk limit: 9 digits do */
			return -1;
		v = v * 10 + (size_t)(cmd[i] - '0');
	}
	if (digits == 0 || len - i < 2 || cmd[i] != '\r' || cmd[i + 1] != '\n')
		return -1;
	*at = i + 2;
	*out = v;
	return 0;
}

int pd_slot_resp_args(const char *cmd, size_t len, int max, const char **argv, size_t *lens)
{
	size_t at = 1, n, blen;
	int got = 0;
	if (len < 1 || cmd[0] != '*' || resp_num(cmd, len, &at, &n) != 0)
		return -1;
	for (; got < max && (size_t)got < n; got++) {
		if (at >= len || cmd[at] != '$')
			return -1;
		at++;
		if (resp_num(cmd, len, &at, &blen) != 0 || len - at < blen + 2 ||
		    cmd[at + blen] != '\r' || cmd[at + blen + 1] != '\n')
			return -1;
		argv[got] = cmd + at;
		lens[got] = blen;
		at += blen + 2;
	}
	return got;
}

struct pd_slot_map {
	struct {
		char host[PD_SLOT_HOST_MAX];
		int port;
	} nodes[PD_SLOT_NODES_MAX];
	int nnodes;
	unsigned char slot_node[PD_SLOT_COUNT]; /* node index + 1; 0: not known */
};

struct pd_slot_map *pd_slot_map_new(void)
{
	return calloc(1, sizeof(struct pd_slot_map));
}

void pd_slot_map_free(struct pd_slot_map *m)
{
	free(m);
}

int pd_slot_map_node(struct pd_slot_map *m, const char *host, int port)
{
	size_t hl = strlen(host);
	for (int i = 0; i < m->nnodes; i++)
		if (m->nodes[i].port == port && strcmp(m->nodes[i].host, host) == 0)
			return i;
	if (hl == 0 || hl >= PD_SLOT_HOST_MAX || m->nnodes >= PD_SLOT_NODES_MAX)
		return -1;
	memcpy(m->nodes[m->nnodes].host, host, hl + 1);
	m->nodes[m->nnodes].port = port;
	return m->nnodes++;
}

const char *pd_slot_map_addr(const struct pd_slot_map *m, int i, int *port)
{
	if (i < 0 || i >= m->nnodes)
		return NULL;
	*port = m->nodes[i].port;
	return m->nodes[i].host;
}

void pd_slot_map_set(struct pd_slot_map *m, unsigned slot, int i)
{
	if (slot < PD_SLOT_COUNT && i < m->nnodes)
		m->slot_node[slot] = (unsigned char)(i < 0 ? 0 : i + 1);
}

void pd_slot_map_forget(struct pd_slot_map *m, int i)
{
	for (size_t s = 0; i >= 0 && s < PD_SLOT_COUNT; s++)
		if (m->slot_node[s] == i + 1)
			m->slot_node[s] = 0;
}

int pd_slot_map_route(const struct pd_slot_map *m, const char *cmd, size_t len)
{
	const char *argv[4]; /* EVAL's first key is argv[3] */
	size_t lens[4];
	int argc, k;
	if (m->nnodes == 0 || (argc = pd_slot_resp_args(cmd, len, 4, argv, lens)) < 0 ||
	    (k = pd_slot_cmd_key(argc, argv, lens)) < 0)
		return -1;
	return (int)m->slot_node[pd_slot_of(argv[k], lens[k])] - 1;
}
