/* Unit tests of broker/dialect: each dialect's tables applied to the
 * events and payloads the seeds' client code sends and expects (contract
 * 7), the argument extractors, the handshake error names; and for every
 * table, that its entries are well formed. (Room aliases: test_rooms.) */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"

static const struct dialect *D(const char *name)
{
	for (size_t i = 0; i < dia_count; i++)
		if (strcmp(dia_table[i].name, name) == 0)
			return &dia_table[i];
	ck_abort_msg("no dialect %s", name);
	return NULL;
}

/* dia_out on [event, payload] (payload as JSON text, NULL: none); returns
 * the result code and the translated array as compact JSON in out. */
static int out_json(const struct dialect *d, const char *event, const char *payload, char **out)
{
	json_t *data = json_pack("[s]", event), *res = NULL;
	if (payload != NULL)
		json_array_append_new(data, json_loads(payload, JSON_DECODE_ANY, NULL));
	int r = dia_out(d, data, &res);
	*out = res != NULL ? json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	ck_assert_int_eq(r == 0, res != NULL);
	json_decref(res);
	json_decref(data);
	return r;
}

static char *in_arg(const struct dialect *d, const char *event, const char *payload,
		    enum dia_op *op)
{
	const struct dia_in *e = dia_in_find(d, event);
	ck_assert_msg(e != NULL, "%s: no inbound %s", d->name, event);
	*op = e->op;
	json_t *p = json_loads(payload, JSON_DECODE_ANY, NULL);
	json_t *a = dia_in_arg(e, p);
	char *s = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(a);
	json_decref(p);
	return s;
}

START_TEST(selection)
{
	ck_assert_int_eq(dia_find("helpdesk"), DIA_HELPDESK);
	ck_assert_int_ge(dia_find("rooms"), 1);
	ck_assert_int_ge(dia_find("presence"), 1);
	ck_assert_int_ge(dia_find("workspace"), 1);
	ck_assert_int_eq(dia_find("tickets"), -1); /* a view, not a dialect of "/" */
	ck_assert_int_eq(dia_find("Helpdesk"), -1);
	ck_assert_int_eq(dia_find(""), -1);
	ck_assert_int_ge(dia_of_view("/tickets"), 1);
	ck_assert_int_ge(dia_of_view("/presence"), 1);
	ck_assert_int_ge(dia_of_view("/notifications"), 1);
	ck_assert_int_ge(dia_of_view("/chat"), 1);
	ck_assert_int_eq(dia_of_view("/"), -1);
	ck_assert_int_eq(dia_of_view("/dashboard"), -1);
	ck_assert_ptr_eq(&dia_table[dia_of_view("/presence")], D("presence-view"));
}
END_TEST

/* Every table: names unique, ops in range, a reply only where the
 * operation acks, views drop what they do not list. */
START_TEST(tables_well_formed)
{
	ck_assert_uint_le(dia_count, DIA_MAX);
	ck_assert_str_eq(dia_table[DIA_HELPDESK].name, "helpdesk");
	for (size_t i = 0; i < dia_count; i++) {
		const struct dialect *d = &dia_table[i];
		ck_assert_ptr_nonnull(d->err_status);
		ck_assert_int_eq(d->pass_unknown, strcmp(d->nsp, "/") == 0);
		for (size_t k = 0; k < d->nin; k++) {
			ck_assert_int_lt(d->in[k].op, DOP_OTHER);
			ck_assert_ptr_eq(dia_in_find(d, d->in[k].name), &d->in[k]);
			if (d->in[k].arg != DARG_ASIS)
				ck_assert_ptr_nonnull(d->in[k].key);
		}
		for (size_t k = 0; k < d->nout; k++)
			for (size_t j = k + 1; j < d->nout; j++)
				ck_assert_str_ne(d->out[k].event, d->out[j].event);
	}
}
END_TEST

START_TEST(helpdesk_is_identity)
{
	const struct dialect *d = D("helpdesk");
	char *o;
	static const char *const evs[] = {"ticket:created", "message:new", "presence:update",
					  "user:online", "typing:start", "anything:else"};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		ck_assert_int_eq(out_json(d, evs[i], "{\"a\":1}", &o), 1);
	/* the internal presence list is seed 003's only, the staff feed 004's */
	ck_assert_int_eq(out_json(d, "presence:roster", "[]", &o), -1);
	ck_assert_int_eq(out_json(d, "message:feed", "{}", &o), -1);
	ck_assert_ptr_null(dia_in_find(d, "join"));
	ck_assert_ptr_null(dia_in_find(d, "heartbeat"));
	enum dia_op op;
	char *a = in_arg(d, "ticket:join", "\"t1\"", &op);
	ck_assert_int_eq(op, DOP_TICKET_JOIN);
	ck_assert_str_eq(a, "\"t1\"");
	free(a);
	ck_assert_str_eq(dia_handshake_error(d, "AUTH_TOKEN_MISSING"), "AUTH_TOKEN_MISSING");
}
END_TEST

START_TEST(view_tickets)
{
	const struct dialect *d = D("tickets");
	char *o;
	enum dia_op op;
	ck_assert_str_eq(d->nsp, "/tickets");
	ck_assert_int_eq(out_json(d, "typing:start",
				  "{\"ticketId\":\"t\",\"userId\":\"u\",\"userName\":\"Ann\"}", &o),
			 0);
	ck_assert_str_eq(o, "[\"ticket:typing\",{\"ticketId\":\"t\",\"user\":{\"id\":\"u\",\"name\":\"Ann\"}}]");
	free(o);
	ck_assert_int_eq(out_json(d, "typing:stop", "{\"ticketId\":\"t\",\"userId\":\"u\"}", &o), 0);
	ck_assert_str_eq(o, "[\"ticket:stopTyping\",{\"ticketId\":\"t\",\"userId\":\"u\"}]");
	free(o);
	/* a free room's typing is not a ticket's */
	ck_assert_int_eq(out_json(d, "typing:start", "{\"room\":\"r\",\"userId\":\"u\"}", &o), -1);
	ck_assert_int_eq(out_json(d, "ticket:updated", "{\"id\":\"t\"}", &o), 1);
	ck_assert_int_eq(out_json(d, "message:read", "{}", &o), 1);
	ck_assert_int_eq(out_json(d, "ticket:created", "{}", &o), -1);
	ck_assert_int_eq(out_json(d, "user:online", "\"u\"", &o), -1);
	ck_assert_int_eq(out_json(d, "notification", "{}", &o), -1);
	char *a = in_arg(d, "ticket:subscribe", "{\"ticketId\":\"t\"}", &op);
	ck_assert_int_eq(op, DOP_TICKET_JOIN);
	ck_assert_str_eq(a, "{\"ticketId\":\"t\"}");
	free(a);
	ck_assert_str_eq(dia_in_find(d, "ticket:subscribe")->reply, "ticket:subscribed");
	ck_assert_str_eq(dia_in_find(d, "ticket:unsubscribe")->reply, "ticket:unsubscribed");
	free(in_arg(d, "ticket:typing", "{\"ticketId\":\"t\"}", &op));
	ck_assert_int_eq(op, DOP_TYPING_START); /* the same rate budget as typing:start */
	ck_assert_ptr_null(dia_in_find(d, "message:send"));
}
END_TEST

START_TEST(views_others)
{
	char *o;
	enum dia_op op;
	const struct dialect *p = D("presence-view"), *n = D("notifications"), *c = D("chat");
	ck_assert_str_eq(p->err_status, "INVALID_STATUS");
	ck_assert_int_eq(out_json(p, "presence:update", "{\"userId\":\"u\",\"status\":\"busy\"}", &o), 1);
	ck_assert_int_eq(out_json(p, "message:new", "{}", &o), -1);
	/* the team's updates; the org-wide events are not the view's */
	ck_assert_int_eq(out_json(p, "presence:team", "{\"userId\":\"u1\",\"status\":\"online\"}", &o), 0);
	ck_assert_str_eq(o, "[\"presence:update\",{\"status\":\"online\",\"userId\":\"u1\"}]");
	free(o);
	ck_assert_int_eq(out_json(p, "user:online", "\"u1\"", &o), -1);
	ck_assert_int_eq(out_json(D("helpdesk"), "presence:team", "{}", &o), -1);
	ck_assert_int_eq(out_json(D("rooms"), "presence:team", "{}", &o), -1);
	ck_assert_int_eq(out_json(n, "notification", "{}", &o), 1);
	ck_assert_int_eq(out_json(n, "notification:count", "{\"unread\":1}", &o), 1);
	ck_assert_int_eq(out_json(n, "ticket:updated", "{}", &o), -1);
	ck_assert_int_eq(out_json(c, "message:new", "{}", &o), 1);
	ck_assert_int_eq(out_json(c, "typing:start", "{\"ticketId\":\"t\"}", &o), -1);
	free(in_arg(c, "chat:message", "{\"ticketId\":\"t\",\"content\":\"x\"}", &op));
	ck_assert_int_eq(op, DOP_MESSAGE_SEND);
	ck_assert_ptr_null(dia_in_find(c, "chat:message")->reply); /* the same ack */
}
END_TEST

START_TEST(dialect_rooms)
{
	const struct dialect *d = D("rooms");
	enum dia_op op;
	char *o, *a = in_arg(d, "presence", "\"busy\"", &op);
	ck_assert_int_eq(op, DOP_PRESENCE_STATUS);
	ck_assert_str_eq(a, "{\"status\":\"busy\"}");
	free(a);
	a = in_arg(d, "presence", "{\"status\":\"away\"}", &op);
	ck_assert_str_eq(a, "{\"status\":\"away\"}");
	free(a);
	a = in_arg(d, "presence", "42", &op);
	ck_assert_str_eq(a, "{\"status\":42}"); /* the handler refuses it */
	free(a);
	free(in_arg(d, "join", "\"project:123\"", &op));
	ck_assert_int_eq(op, DOP_ROOM_JOIN);
	free(in_arg(d, "message", "{\"room\":\"r\",\"text\":\"hi\"}", &op));
	ck_assert_int_eq(op, DOP_ROOM_MESSAGE);
	free(in_arg(d, "auth", "{\"userId\":\"u\"}", &op));
	ck_assert_int_eq(op, DOP_AUTH);
	ck_assert_int_eq(out_json(d, "presence:update", "{\"userId\":\"u\",\"status\":\"busy\"}", &o), 1);
	ck_assert_int_eq(out_json(d, "notification", "{}", &o), 1);
	ck_assert_int_eq(out_json(d, "presence:roster", "[]", &o), -1);
	ck_assert_int_eq(out_json(d, "message:feed", "{}", &o), -1);
}
END_TEST

START_TEST(dialect_workspace)
{
	const struct dialect *d = D("workspace");
	enum dia_op op;
	char *o;
	ck_assert_str_eq(dia_handshake_error(d, "AUTH_TOKEN_MISSING"), "MISSING_TOKEN");
	ck_assert_str_eq(dia_handshake_error(d, "AUTH_TOKEN_INVALID"), "INVALID_TOKEN");
	ck_assert_str_eq(dia_handshake_error(d, "AUTH_TOKEN_EXPIRED"), "INVALID_TOKEN");
	ck_assert_str_eq(dia_handshake_error(d, "FORBIDDEN"), "FORBIDDEN");
	ck_assert_str_eq(dia_error_code(d, "NOT_FOUND"), "FORBIDDEN"); /* a refused conversation */
	ck_assert_str_eq(dia_error_code(d, "BAD_REQUEST"), "BAD_REQUEST");
	ck_assert_str_eq(dia_error_code(D("helpdesk"), "NOT_FOUND"), "NOT_FOUND");
	ck_assert_str_eq(dia_error_code(D("presence"), "NOT_FOUND"), "NOT_FOUND");
	char *a = in_arg(d, "join_conversation", "\"c1\"", &op);
	ck_assert_int_eq(op, DOP_TICKET_JOIN);
	ck_assert_str_eq(a, "\"c1\"");
	free(a);
	a = in_arg(d, "join_conversation", "{\"conversationId\":\"c2\"}", &op);
	ck_assert_str_eq(a, "\"c2\"");
	free(a);
	a = in_arg(d, "leave_conversation", "{\"other\":1}", &op);
	ck_assert_str_eq(a, "null"); /* refused by the handler as BAD_REQUEST */
	free(a);
	ck_assert_int_eq(out_json(d, "message:new", "{\"id\":\"m\",\"ticketId\":\"t\"}", &o), -1);
	ck_assert_int_eq(out_json(d, "message:feed",
				  "{\"id\":\"m\",\"ticketId\":\"t\",\"content\":\"hi\",\"senderRole\":"
				  "\"agent\",\"createdAt\":\"2026-01-01T00:00:00Z\"}",
				  &o),
			 0);
	ck_assert_str_eq(o, "[\"new_message\",{\"conversationId\":\"t\",\"message\":{\"content\":\"hi\","
			    "\"createdAt\":\"2026-01-01T00:00:00Z\",\"id\":\"m\",\"role\":\"HUMAN_AGENT\"}}]");
	free(o);
	ck_assert_int_eq(out_json(d, "message:feed",
				  "{\"id\":\"m\",\"ticketId\":\"t\",\"content\":\"q\",\"senderRole\":"
				  "\"customer\",\"createdAt\":\"x\"}",
				  &o),
			 0);
	ck_assert_str_eq(o, "[\"user_message\",{\"conversationId\":\"t\",\"message\":{\"channelType\":"
			    "\"WEB\",\"content\":\"q\",\"createdAt\":\"x\",\"id\":\"m\",\"role\":\"USER\"}}]");
	free(o);
	/* every ticket:updated is not a status change: only ticket:status is */
	ck_assert_int_eq(out_json(d, "ticket:updated",
				  "{\"id\":\"t\",\"status\":\"pending\",\"updatedAt\":\"u\"}", &o),
			 -1);
	ck_assert_int_eq(out_json(d, "ticket:status",
				  "{\"id\":\"t\",\"status\":\"pending\",\"updatedAt\":\"u\"}", &o),
			 0);
	ck_assert_str_eq(o, "[\"conversation_status_changed\",{\"conversationId\":\"t\",\"status\":"
			    "\"PENDING\",\"updatedAt\":\"u\"}]");
	free(o);
	/* malformed internal payloads are dropped, never sent half-built */
	ck_assert_int_eq(out_json(d, "ticket:status", "{\"id\":\"t\"}", &o), -1);
	ck_assert_int_eq(out_json(d, "message:feed", "\"x\"", &o), -1);
	/* whatever else a backend emits goes unchanged */
	ck_assert_int_eq(out_json(d, "handoff_triggered", "{\"a\":1}", &o), 1);
	ck_assert_int_eq(out_json(d, "credits_updated", NULL, &o), 1);
}
END_TEST

START_TEST(dialect_presence)
{
	const struct dialect *d = D("presence");
	enum dia_op op;
	char *o, *a = in_arg(d, "send_message", "{\"conversationId\":\"t\",\"content\":\"x\"}", &op);
	ck_assert_int_eq(op, DOP_MESSAGE_SEND);
	ck_assert_str_eq(a, "{\"content\":\"x\",\"ticketId\":\"t\"}");
	free(a);
	a = in_arg(d, "join_conversation", "{\"conversationId\":\"t\"}", &op);
	ck_assert_str_eq(a, "\"t\"");
	free(a);
	free(in_arg(d, "heartbeat", "null", &op));
	ck_assert_int_eq(op, DOP_PRESENCE_PING);
	ck_assert_int_eq(out_json(d, "presence:update", "{\"userId\":\"u\"}", &o), -1);
	ck_assert_int_eq(out_json(d, "presence:roster", "[{\"userId\":\"u\"}]", &o), 0);
	ck_assert_str_eq(o, "[\"presence:update\",[{\"userId\":\"u\"}]]");
	free(o);
	ck_assert_int_eq(out_json(d, "message:new", "{\"id\":\"m\",\"ticketId\":\"t\"}", &o), -1);
	ck_assert_int_eq(out_json(D("helpdesk"), "message:participants", "{}", &o), -1);
	ck_assert_int_eq(out_json(D("workspace"), "message:participants", "{}", &o), -1);
	ck_assert_int_eq(out_json(d, "message:participants", "{\"id\":\"m\",\"ticketId\":\"t\",\"content\":\"c\"}", &o), 0);
	ck_assert_str_eq(o, "[\"new_message\",{\"conversationId\":\"t\",\"message\":{\"content\":\"c\","
			    "\"conversationId\":\"t\",\"id\":\"m\"}}]");
	free(o);
	const struct dia_in *e = dia_in_find(d, "send_message");
	json_t *f = json_loads("{\"ok\":true,\"message\":{\"id\":\"m\",\"ticketId\":\"t\"},\"delivered\":true}",
			       0, NULL);
	json_t *r = e->reply_build(f);
	char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(e->reply, "message:sent");
	ck_assert_str_eq(s, "{\"conversationId\":\"t\",\"delivered\":true,\"message\":{\"conversationId\":"
			    "\"t\",\"id\":\"m\"}}");
	free(s);
	json_decref(r);
	json_decref(f);
}
END_TEST

START_TEST(bad_arguments)
{
	/* extractors never crash on odd JSON and keep the type for the handler to refuse */
	static const char *const bad[] = {"null", "[]", "[1,2]", "true", "1.5", "{}", "\"\""};
	for (size_t i = 0; i < dia_count; i++)
		for (size_t k = 0; k < dia_table[i].nin; k++)
			for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
				json_t *p = json_loads(bad[j], JSON_DECODE_ANY, NULL);
				json_t *a = dia_in_arg(&dia_table[i].in[k], p);
				ck_assert_ptr_nonnull(a);
				json_decref(a);
				json_decref(p);
			}
	ck_assert_ptr_null(dia_in_arg(&dia_table[0].in[0], NULL));
	json_t *bad_data = json_pack("[i]", 5), *o = NULL;
	ck_assert_int_eq(dia_out(D("helpdesk"), bad_data, &o), 1);
	ck_assert_int_eq(dia_out(D("tickets"), bad_data, &o), -1);
	json_decref(bad_data);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dialect");
	TCase *tc = tcase_create("dialect");
	tcase_add_test(tc, selection);
	tcase_add_test(tc, tables_well_formed);
	tcase_add_test(tc, helpdesk_is_identity);
	tcase_add_test(tc, view_tickets);
	tcase_add_test(tc, views_others);
	tcase_add_test(tc, dialect_rooms);
	tcase_add_test(tc, dialect_workspace);
	tcase_add_test(tc, dialect_presence);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
