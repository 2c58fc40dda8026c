/* Unit tests for broker/msg.c's msg_splice_arg: connection state recovery's
 * offset added as a packet's last argument without re-encoding. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "msg.h"

/* The payload of part i as a string (static buffer). */
static const char *part(const struct msg *m, size_t i)
{
	static char buf[256];
	size_t n = m->parts[i].len < sizeof(buf) - 1 ? m->parts[i].len : sizeof(buf) - 1;
	memcpy(buf, m->ws + m->parts[i].off, n);
	buf[n] = '\0';
	return buf;
}

static struct msg *event(const char *text, const char *bin)
{
	struct msg_src src[2] = {{0, text, strlen(text)}, {1, bin, bin ? strlen(bin) : 0}};
	struct msg *m = msg_new(src, bin ? 2 : 1);
	ck_assert_ptr_nonnull(m);
	m->splice = (uint32_t)(strlen(text) - 1);
	return m;
}

START_TEST(splice_text)
{
	struct msg *m = event("42[\"ev\",{\"a\":1}]", NULL);
	struct msg *o = msg_splice_arg(m, "1733500000000-17");
	ck_assert_ptr_ne(o, m);
	ck_assert_str_eq(part(o, 0), "42[\"ev\",{\"a\":1},\"1733500000000-17\"]");
	ck_assert_uint_eq(o->nparts, 1);
	ck_assert_uint_eq(o->parts[0].binary, 0);
	ck_assert_str_eq(part(m, 0), "42[\"ev\",{\"a\":1}]"); /* m unchanged */
	/* the result can be spliced again: its splice point is its new ']' */
	struct msg *o2 = msg_splice_arg(o, "2-0");
	ck_assert_str_eq(part(o2, 0), "42[\"ev\",{\"a\":1},\"1733500000000-17\",\"2-0\"]");
	msg_unref(o2);
	msg_unref(o);
	msg_unref(m);
}
END_TEST

START_TEST(splice_binary_and_none)
{
	struct msg *m = event("451-[\"up\",{\"_placeholder\":true,\"num\":0}]", "\x01\x02");
	struct msg *o = msg_splice_arg(m, "5-5");
	ck_assert_str_eq(part(o, 0), "451-[\"up\",{\"_placeholder\":true,\"num\":0},\"5-5\"]");
	ck_assert_uint_eq(o->nparts, 2);
	ck_assert_uint_eq(o->parts[1].binary, 1);
	ck_assert_uint_eq(o->parts[1].len, 2);
	ck_assert_int_eq(memcmp(o->ws + o->parts[1].off, "\x01\x02", 2), 0);
	msg_unref(o);
	/* no splice point (not an EVENT) or an argument too long: m itself */
	m->splice = 0;
	o = msg_splice_arg(m, "5-5");
	ck_assert_ptr_eq(o, m);
	msg_unref(o);
	m->splice = (uint32_t)(m->parts[0].len - 1);
	char big[80];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	o = msg_splice_arg(m, big);
	ck_assert_ptr_eq(o, m);
	msg_unref(o);
	msg_unref(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("msg");
	TCase *tc = tcase_create("splice");
	tcase_add_test(tc, splice_text);
	tcase_add_test(tc, splice_binary_and_none);
	suite_add_tcase(s, tc);
	return check_run(s);
}
