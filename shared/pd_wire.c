/* pd_wire: the adapter's channel names and pushdesk's query across
 * brokers (see pd_wire.h), shared by the broker's cluster layer,
 * pd_emitter and pushdeskctl. */
#include "pd_wire.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pd_json.h"
#include "pd_keys.h"

/* ---- channels ---- */

static int names_ok(const char *key, const char *nsp)
{
	return strlen(key) <= PD_KEYS_MAX_PREFIX && strlen(nsp) <= PD_WIRE_MAX_NSP;
}

static const char *nsp_or_root(const char *nsp)
{
	return nsp != NULL && nsp[0] != '\0' ? nsp : "/";
}

int pd_wire_channel_broadcast(struct pd_buf *out, const char *key, const char *nsp,
			      const char *room)
{
	key = pd_keys_prefix(key);
	nsp = nsp_or_root(nsp);
	if (!names_ok(key, nsp) || (room != NULL && strlen(room) > PD_WIRE_MAX_ROOM))
		return -EINVAL;
	if (room != NULL)
		return pd_buf_printf(out, "%s" PD_WIRE_BROADCAST "%s#%s#", key, nsp, room);
	return pd_buf_printf(out, "%s" PD_WIRE_BROADCAST "%s#", key, nsp);
}

int pd_wire_sh_offset(struct pd_buf *msg, const char *id, size_t idlen)
{
	static const char key[] = "offset";
	uint8_t *p = (uint8_t *)msg->data;
	size_t old = msg->len;
	int rc;

	if (idlen == 0 || idlen > 31 || old < 2)
		return -EINVAL;
	for (size_t i = 0; i < idlen; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || id[i] == '-'))
			return -EINVAL; /* nothing to escape in JSON, a fixstr in msgpack */
	if (p[0] == '{' && p[old - 1] == '}') {
		msg->len--; /* the closing brace comes again after the key */
		rc = pd_buf_printf(msg, ",\"%s\":\"%.*s\"}", key, (int)idlen, id);
		if (rc != 0)
			msg->len = old;
		return rc;
	}
	if ((p[0] & 0xf0) != 0x80 || (p[0] & 0x0f) == 0x0f)
		return -EINVAL;
	uint8_t tail[1 + sizeof(key) - 1 + 1 + 31];
	size_t n = 0;
	tail[n++] = (uint8_t)(0xa0 | (sizeof(key) - 1));
	memcpy(tail + n, key, sizeof(key) - 1);
	n += sizeof(key) - 1;
	tail[n++] = (uint8_t)(0xa0 | idlen);
	memcpy(tail + n, id, idlen);
	n += idlen;
	if ((rc = pd_buf_append(msg, tail, n)) != 0)
		return rc;
	((uint8_t *)msg->data)[0]++; /* one key more; data may have moved */
	return 0;
}

int pd_wire_channel_request(struct pd_buf *out, const char *key, const char *nsp)
{
	key = pd_keys_prefix(key);
	nsp = nsp_or_root(nsp);
	if (!names_ok(key, nsp))
		return -EINVAL;
	return pd_buf_printf(out, "%s" PD_WIRE_REQUEST "%s#", key, nsp);
}

int pd_wire_channel_response(struct pd_buf *out, const char *key, const char *nsp,
			     const char *uid)
{
	key = pd_keys_prefix(key);
	nsp = nsp_or_root(nsp);
	if (!names_ok(key, nsp) || (uid != NULL && strlen(uid) > PD_WIRE_MAX_UID))
		return -EINVAL;
	if (uid != NULL)
		return pd_buf_printf(out, "%s" PD_WIRE_RESPONSE "%s#%s#", key, nsp, uid);
	return pd_buf_printf(out, "%s" PD_WIRE_RESPONSE "%s#", key, nsp);
}

/* Redis glob: * ? [ ] and \ are special; a backslash quotes the next byte. */
static int append_glob_quoted(struct pd_buf *out, const char *s)
{
	int rc = 0;
	for (; rc == 0 && *s != '\0'; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			rc = pd_buf_append(out, "\\", 1);
		if (rc == 0)
			rc = pd_buf_append(out, s, 1);
	}
	return rc;
}

int pd_wire_channel_pattern(struct pd_buf *out, const char *key, const char *nsp)
{
	size_t start = out->len;
	int rc;
	key = pd_keys_prefix(key);
	nsp = nsp_or_root(nsp);
	if (!names_ok(key, nsp))
		return -EINVAL;
	if ((rc = append_glob_quoted(out, key)) != 0 ||
	    (rc = pd_buf_append(out, PD_WIRE_BROADCAST, strlen(PD_WIRE_BROADCAST))) != 0 ||
	    (rc = append_glob_quoted(out, nsp)) != 0 || (rc = pd_buf_append(out, "#*", 2)) != 0) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return rc;
}

/* ---- the query ---- */

/* SERVER_SIDE_EMIT in the adapter's RequestType enum */
#define SERVER_SIDE_EMIT 6

int pd_wire_query_encode(struct pd_buf *out, const char *uid, const char *request_id,
			 const char *kind, const json_t *arg)
{
	json_t *o;
	char *text;
	size_t len;
	int rc;

	if (strlen(uid) > PD_WIRE_MAX_UID || strlen(request_id) > PD_WIRE_MAX_UID)
		return -EINVAL;
	/* in the adapter's key order: uid, requestId, type, data */
	o = arg != NULL ? json_pack("{s:s, s:s, s:i, s:[s, s, O]}", "uid", uid, "requestId",
				    request_id, "type", SERVER_SIDE_EMIT, "data",
				    PD_WIRE_QUERY_EVENT, kind, arg)
			: json_pack("{s:s, s:s, s:i, s:[s, s, {}]}", "uid", uid, "requestId",
				    request_id, "type", SERVER_SIDE_EMIT, "data",
				    PD_WIRE_QUERY_EVENT, kind);
	text = o != NULL ? pd_json_dump(o, &len) : NULL;
	json_decref(o);
	if (text == NULL)
		return -ENOMEM;
	rc = pd_buf_append(out, text, len);
	free(text);
	return rc;
}

const char *pd_wire_query_kind(const json_t *data, const json_t **arg)
{
	const char *ev = json_string_value(json_array_get(data, 0));
	const json_t *a = json_array_get(data, 2);
	*arg = json_is_object(a) ? a : NULL;
	if (ev == NULL || strcmp(ev, PD_WIRE_QUERY_EVENT) != 0)
		return NULL;
	return json_string_value(json_array_get(data, 1));
}

json_t *pd_wire_answer_data(const char *uid, const json_t *result)
{
	return json_pack("{s:s, s:O}", "uid", uid, "result", result);
}

const char *pd_wire_answer_uid(const json_t *data, const json_t **result)
{
	if (result != NULL)
		*result = json_object_get(data, "result");
	return json_string_value(json_object_get(data, "uid"));
}

int pd_wire_answer_decode(const char *p, size_t n, char *request_id, json_t **data)
{
	char err[128];
	json_t *o = NULL, *d;
	const json_t *t, *id;

	*data = NULL;
	request_id[0] = '\0';
	if (n == 0 || n > PD_WIRE_MAX_MSG || p[0] != '{' ||
	    (o = pd_json_parse(p, n, err, sizeof(err))) == NULL)
		return -1;
	t = json_object_get(o, "type");
	id = json_object_get(o, "requestId");
	d = json_object_get(o, "data");
	if (!json_is_integer(t) || json_integer_value(t) != SERVER_SIDE_EMIT || !json_is_string(id) ||
	    json_string_length(id) == 0 || json_string_length(id) > PD_WIRE_MAX_UID ||
	    pd_wire_answer_uid(d, NULL) == NULL) {
		json_decref(o);
		return -1;
	}
	memcpy(request_id, json_string_value(id), json_string_length(id) + 1);
	*data = json_incref(d);
	json_decref(o);
	return 0;
}
