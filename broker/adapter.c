/* adapter: what both adapters share: the typed queries and their wire
 * form, the merge of parts, presence:team. */
#include "adapter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "dialect.h"
#include "pd_rooms.h"
#include "sio.h"

const char *const adapter_kind_names[AK__N] = {
    [AK_ROOMS] = "rooms",	[AK_SOCKETS] = "sockets",   [AK_USER_SOCKETS] = "user_sockets",
    [AK_ONLINE] = "online",	[AK_STATS] = "stats",	    [AK_ALL_ROOMS] = "all_rooms",
    [AK_FETCH] = "fetch",	[AK_JOIN] = "join",	    [AK_LEAVE] = "leave",
    [AK_DISCONNECT] = "disconnect", [AK_COUNT] = "count",
};

int adapter_kind_find(const char *name, int wire_only)
{
	int n = wire_only ? AK_STATS + 1 : AK__N;
	for (int k = 0; name != NULL && k < n; k++)
		if (strcmp(name, adapter_kind_names[k]) == 0)
			return k;
	return -1;
}

/* The strings of a JSON array (borrowed from it); NULL when none. */
static int str_list(const json_t *a, const char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!json_is_array(a) || json_array_size(a) == 0)
		return 0;
	const char **v = calloc(json_array_size(a), sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (s != NULL)
			v[(*n)++] = s;
	}
	*out = v;
	return 0;
}

int adapter_query_from_json(struct adapter_query *q, enum adapter_kind kind, const json_t *arg,
			    const struct sio_nsp_def *nsps, size_t nnsps)
{
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	const char *nsp = json_string_value(json_object_get(arg, "nsp"));
	q->nsp_idx = ADAPTER_NO_NSP;
	for (size_t i = 0; i < nnsps; i++)
		if (strcmp(nsps[i].name, nsp ? nsp : "/") == 0)
			q->nsp_idx = i;
	if (kind == AK_USER_SOCKETS || kind == AK_ONLINE)
		q->id = json_string_value(json_object_get(arg, kind == AK_USER_SOCKETS ? "user" : "org"));
	q->close = json_is_true(json_object_get(arg, "close"));
	if (str_list(json_object_get(arg, "rooms"), &q->rooms, &q->nrooms) < 0 ||
	    str_list(json_object_get(arg, "except"), &q->except, &q->nexcept) < 0 ||
	    str_list(json_object_get(arg, "targets"), &q->targets, &q->ntargets) < 0)
		return -ENOMEM;
	return 0;
}

static json_t *names_json(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *adapter_query_to_json(const struct adapter_query *q, const struct sio_nsp_def *nsps,
			      size_t nnsps)
{
	if (q->nsp_idx >= nnsps)
		return NULL;
	json_t *o = json_pack("{s:s}", "nsp", nsps[q->nsp_idx].name);
	if (o == NULL)
		return NULL;
	if (q->nrooms > 0)
		json_object_set_new(o, "rooms", names_json(q->rooms, q->nrooms));
	if (q->nexcept > 0)
		json_object_set_new(o, "except", names_json(q->except, q->nexcept));
	if (q->ntargets > 0)
		json_object_set_new(o, "targets", names_json(q->targets, q->ntargets));
	if (q->id != NULL)
		json_object_set_new(o, q->kind == AK_USER_SOCKETS ? "user" : "org",
				    json_string(q->id));
	if (q->close)
		json_object_set_new(o, "close", json_true());
	return o;
}

void adapter_query_clear(struct adapter_query *q)
{
	free(q->rooms);
	free(q->except);
	free(q->targets);
	q->rooms = q->except = q->targets = NULL;
	q->nrooms = q->nexcept = q->ntargets = 0;
}

json_t *adapter_merge(enum adapter_kind kind, json_t *const *parts, size_t n)
{
	json_t *out = NULL;
	int dedupe = kind == AK_ALL_ROOMS || kind == AK_ONLINE;
	for (size_t i = 0; i < n; i++) {
		json_t *p = parts[i];
		if (p == NULL)
			continue;
		if (out == NULL) {
			out = json_incref(p);
			continue;
		}
		if (json_is_array(p)) {
			for (size_t k = 0; k < json_array_size(p); k++) {
				json_t *x = json_array_get(p, k);
				int seen = 0;
				for (size_t j = 0; dedupe && j < json_array_size(out); j++)
					if (json_equal(json_array_get(out, j), x))
						seen = 1;
				if (!seen)
					json_array_append(out, x);
			}
		} else if (json_is_object(p)) {
			const char *k;
			json_t *x;
			json_object_foreach(p, k, x)
			{
				json_t *have = json_object_get(out, k);
				if (json_is_integer(have) && json_is_integer(x))
					json_object_set_new(out, k,
							    json_integer(json_integer_value(have) +
									 json_integer_value(x)));
				else
					json_object_set(out, k, x);
			}
		} else if (json_is_integer(p) && json_is_integer(out)) {
			json_t *sum = json_integer(json_integer_value(out) + json_integer_value(p));
			json_decref(out);
			out = sum;
		}
	}
	return out ? out : json_null();
}

json_t *adapter_team_payload(const char *user, const char *status, long long last_seen_ms)
{
	char at[DIA_ISO_LEN];
	if (strcmp(status, "offline") != 0)
		return json_pack("{s:s, s:s}", "userId", user, "status", status);
	dia_iso_time(last_seen_ms, at, sizeof(at));
	return json_pack("{s:s, s:s, s:s}", "userId", user, "status", status, "lastSeen", at);
}

void adapter_team_emit(struct adapter *a, struct loop *from, size_t nsp_idx, const char *team,
		       const char *user, const char *status)
{
	char room[PD_ROOM_MAX];
	if (team == NULL || team[0] == '\0' || pd_room_team(room, sizeof(room), team) < 0)
		return;
	const char *rooms[1] = {room};
	json_t *p = adapter_team_payload(user, status, dia_now_ms());
	if (p != NULL)
		a->ops->emit(a, from, nsp_idx, rooms, 1, NULL, 0, "presence:team", p);
	json_decref(p);
}
