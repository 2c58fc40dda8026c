/* eio_packet: Engine.IO v4 packet and long-polling payload codec. Text
 * packets are a type digit and data; a polling payload joins packets with
 * \x1e and carries binary messages as 'b' + base64. No I/O. */
#include "eio_packet.h"

#include <errno.h>
#include <string.h>

/* Where the iterator points once it has returned the last element. */
static const char payload_end;

int eio_decode_text(const char *p, size_t n, struct pd_buf *scratch, struct eio_packet *out)
{
	if (n == 0)
		return -1;
	if (p[0] == 'b') {
		pd_buf_reset(scratch);
		if (pd_base64_decode(p + 1, n - 1, scratch) != 0)
			return -1;
		out->type = EIO_MESSAGE;
		out->binary = 1;
		out->data = (const uint8_t *)scratch->data;
		out->len = scratch->len;
		return 0;
	}
	if (p[0] < EIO_OPEN || p[0] > EIO_NOOP)
		return -1;
	out->type = p[0];
	out->binary = 0;
	out->data = (const uint8_t *)p + 1;
	out->len = n - 1;
	return 0;
}

int eio_payload_next(const char **p, size_t *n, const char **elem, size_t *elem_len)
{
	const char *sep;

	if (*p == &payload_end)
		return 0;
	sep = *n > 0 ? memchr(*p, EIO_SEPARATOR, *n) : NULL;
	*elem = *p != NULL ? *p : ""; /* never NULL, even for a NULL empty body */
	if (sep == NULL) {
		/* The last element, possibly empty after a trailing separator. */
		*elem_len = *n;
		*p = &payload_end;
		*n = 0;
		return 1;
	}
	*elem_len = (size_t)(sep - *p);
	*n -= *elem_len + 1;
	*p = sep + 1;
	return 1;
}

int eio_payload_append(struct pd_buf *out, int type, int binary, const uint8_t *data, size_t len)
{
	size_t start = out->len;
	char t = binary ? 'b' : (char)type;
	int rc;

	/* binary implies a message; a bad type is a caller bug. */
	if (!binary && (type < EIO_OPEN || type > EIO_NOOP))
		return -EINVAL;
	if ((start > 0 && (rc = pd_buf_append(out, "\x1e", 1)) != 0) ||
	    (rc = pd_buf_append(out, &t, 1)) != 0 ||
	    (rc = binary ? pd_base64_encode(data, len, out) : pd_buf_append(out, data, len)) != 0) {
		/* Leave out as it was: a payload never holds half a packet. */
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return rc;
	}
	return 0;
}

int eio_open_json(struct pd_buf *out, const char *sid, int can_upgrade, long ping_interval,
		  long ping_timeout, long max_payload)
{
	size_t start = out->len;
	int rc;

	/* sid is ours (base64url): refuse what would need JSON escaping. */
	for (const char *s = sid; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
			return -EINVAL;
	rc = pd_buf_printf(out,
			   "{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%ld,"
			   "\"pingTimeout\":%ld,\"maxPayload\":%ld}",
			   sid, can_upgrade ? "\"websocket\"" : "", ping_interval, ping_timeout,
			   max_payload);
	if (rc != 0) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return rc;
}
