/* Unit tests for pd_jwt: tokens are built here by hand (base64url + HMAC or
 * RSA/ECDSA through libcrypto) so that forged headers, algorithms and claims
 * can be tested independently of libjwt's own signing. RSA and EC key pairs
 * are generated at test time. */
#include "pd_cfg.h"
#include "pd_jwt.h"

#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1800000000L
#define SECRET "test-secret-0123456789abcdef0123456789"

static char tmpdir[64];
static char rsa_pub[128], rsa_priv[128], rsa2_priv[128], ec_pub[128], ec_priv[128];
static char why[128];

static void b64url(const unsigned char *p, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
	}
	out[o] = '\0';
}

/* "b64(header).b64(payload)" into out. */
static void signing_input(const char *header, const char *payload, char *out)
{
	b64url((const unsigned char *)header, strlen(header), out);
	strcat(out, ".");
	b64url((const unsigned char *)payload, strlen(payload), out + strlen(out));
}

/* An HMAC-signed token with any header: md chooses HS256/384/512. */
static char *hs_token(const char *header, const char *payload, const EVP_MD *md, const void *key,
		      size_t keylen)
{
	static char tok[8192];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	signing_input(header, payload, tok);
	ck_assert_ptr_nonnull(HMAC(md, key, (int)keylen, (unsigned char *)tok, strlen(tok), mac,
				   &maclen));
	strcat(tok, ".");
	b64url(mac, maclen, tok + strlen(tok));
	return tok;
}

static char *hs256(const char *payload)
{
	return hs_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, EVP_sha256(), SECRET,
			strlen(SECRET));
}

/* An RS256 token signed with the PEM private key in path. */
static char *rs256_token(const char *header, const char *payload, const char *keypath)
{
	static char tok[8192];
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	FILE *f = fopen(keypath, "r");
	ck_assert_ptr_nonnull(f);
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(k);
	signing_input(header, payload, tok);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)tok, strlen(tok)), 1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	strcat(tok, ".");
	b64url(sig, siglen, tok + strlen(tok));
	return tok;
}

static const char *good_claims(void)
{
	static char p[512];
	snprintf(p, sizeof(p),
		 "{\"sub\":\"u-1\",\"org\":\"o-1\",\"role\":\"agent\",\"name\":\"Ann\","
		 "\"email\":\"ann@example.com\",\"iat\":%ld,\"exp\":%ld}",
		 NOW - 10, NOW + 3600);
	return p;
}

static struct pd_cfg *cfg;
static struct pd_jwt *jwt;
static char err[512];

static void setup(void)
{
	cfg = pd_cfg_new();
	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_secret", SECRET), 0);
	jwt = NULL;
	why[0] = '\0';
}

static void teardown(void)
{
	pd_jwt_free(jwt);
	pd_cfg_free(cfg);
}

static struct pd_jwt *make(void)
{
	pd_jwt_free(jwt);
	jwt = pd_jwt_new(cfg, err, sizeof(err));
	ck_assert_msg(jwt != NULL, "pd_jwt_new: %s", err);
	return jwt;
}

static enum pd_jwt_status verify(const char *tok, struct pd_claims *c)
{
	return pd_jwt_verify_ex(jwt, tok, NOW, c, why, sizeof(why));
}

START_TEST(test_valid_hand_made)
{
	struct pd_claims c;
	make();
	ck_assert_int_eq(verify(hs256(good_claims()), &c), PD_JWT_OK);
	ck_assert_str_eq(c.sub, "u-1");
	ck_assert_str_eq(c.org, "o-1");
	ck_assert_str_eq(c.role, "agent");
	ck_assert_str_eq(c.name, "Ann");
	ck_assert_str_eq(c.email, "ann@example.com");
	ck_assert_str_eq(c.team, "");
	ck_assert_int_eq(c.iat, NOW - 10);
	ck_assert_int_eq(c.exp, NOW + 3600);
	/* no typ header at all is fine too */
	ck_assert_int_eq(verify(hs_token("{\"alg\":\"HS256\"}", good_claims(), EVP_sha256(), SECRET,
					 strlen(SECRET)),
				&c),
			 PD_JWT_OK);
}
END_TEST

START_TEST(test_sign_verify)
{
	struct pd_claims in, out;
	memset(&in, 0, sizeof(in));
	strcpy(in.sub, "2b7c1a3e-0000-4000-8000-000000000001");
	strcpy(in.org, "org-9");
	strcpy(in.role, "customer");
	strcpy(in.name, "Zoë \"Q\" Müller");
	strcpy(in.email, "z@example.com");
	strcpy(in.team, "team-3");
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_issuer", "pushdesk"), 0);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_audience", "dash"), 0);
	make();
	char *tok = pd_jwt_sign(jwt, &in, NOW, 600, err, sizeof(err));
	ck_assert_msg(tok != NULL, "%s", err);
	ck_assert_int_eq(verify(tok, &out), PD_JWT_OK);
	ck_assert_str_eq(out.sub, in.sub);
	ck_assert_str_eq(out.org, in.org);
	ck_assert_str_eq(out.role, in.role);
	ck_assert_str_eq(out.name, in.name);
	ck_assert_str_eq(out.email, in.email);
	ck_assert_str_eq(out.team, in.team);
	ck_assert_int_eq(out.iat, NOW);
	ck_assert_int_eq(out.exp, NOW + 600);
	ck_assert_int_eq(pd_jwt_verify(jwt, tok, NOW + 600, &out), PD_JWT_EXPIRED);
	free(tok);
	/* bad claims are refused at signing */
	strcpy(in.role, "root");
	ck_assert_ptr_null(pd_jwt_sign(jwt, &in, NOW, 600, err, sizeof(err)));
	strcpy(in.role, "admin");
	ck_assert_ptr_null(pd_jwt_sign(jwt, &in, NOW, 0, err, sizeof(err)));
}
END_TEST

START_TEST(test_expired)
{
	char p[256];
	make();
	snprintf(p, sizeof(p), "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":%ld}", NOW - 1);
	ck_assert_int_eq(verify(hs256(p), NULL), PD_JWT_EXPIRED);
	/* exp == now is already expired (RFC 7519 4.1.4) */
	snprintf(p, sizeof(p), "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":%ld}", NOW);
	ck_assert_int_eq(verify(hs256(p), NULL), PD_JWT_EXPIRED);
	snprintf(p, sizeof(p), "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":%ld}", NOW + 1);
	ck_assert_int_eq(verify(hs256(p), NULL), PD_JWT_OK);
	/* an expired token with a bad signature is invalid, not expired */
	snprintf(p, sizeof(p), "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":%ld}", NOW - 1);
	ck_assert_int_eq(verify(hs_token("{\"alg\":\"HS256\"}", p, EVP_sha256(), "other", 5), NULL),
			 PD_JWT_INVALID);
}
END_TEST

START_TEST(test_leeway)
{
	char p[256];
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_leeway", "30"), 0);
	make();
	snprintf(p, sizeof(p), "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":%ld}", NOW - 10);
	ck_assert_int_eq(verify(hs256(p), NULL), PD_JWT_OK);
	snprintf(p, sizeof(p), "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":%ld}", NOW - 29);
	ck_assert_int_eq(verify(hs256(p), NULL), PD_JWT_OK);
	snprintf(p, sizeof(p), "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":%ld}", NOW - 30);
	ck_assert_int_eq(verify(hs256(p), NULL), PD_JWT_EXPIRED);
	/* nbf within leeway passes, beyond it does not */
	snprintf(p, sizeof(p),
		 "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":%ld,\"nbf\":%ld}", NOW + 100,
		 NOW + 20);
	ck_assert_int_eq(verify(hs256(p), NULL), PD_JWT_OK);
	snprintf(p, sizeof(p),
		 "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":%ld,\"nbf\":%ld}", NOW + 100,
		 NOW + 31);
	ck_assert_int_eq(verify(hs256(p), NULL), PD_JWT_INVALID);
}
END_TEST

START_TEST(test_wrong_key)
{
	make();
	const char *other = "another-secret-0123456789abcdef01234";
	ck_assert_int_eq(verify(hs_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", good_claims(),
					 EVP_sha256(), other, strlen(other)),
				NULL),
			 PD_JWT_INVALID);
	ck_assert_str_eq(why, "bad signature or malformed token");
}
END_TEST

START_TEST(test_wrong_alg)
{
	make();
	/* correctly signed with the right secret, but HS512 while HS256 is configured */
	ck_assert_int_eq(verify(hs_token("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", good_claims(),
					 EVP_sha512(), SECRET, strlen(SECRET)),
				NULL),
			 PD_JWT_INVALID);
	ck_assert_str_eq(why, "algorithm is not the configured one");
	ck_assert_int_eq(verify(hs_token("{\"alg\":\"hs256\"}", good_claims(), EVP_sha256(), SECRET,
					 strlen(SECRET)),
				NULL),
			 PD_JWT_INVALID);
	ck_assert_int_eq(verify(hs_token("{\"typ\":\"JWT\"}", good_claims(), EVP_sha256(), SECRET,
					 strlen(SECRET)),
				NULL),
			 PD_JWT_INVALID);
	/* extensions we do not understand, a typ that is not a JWT */
	ck_assert_int_eq(verify(hs_token("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", good_claims(),
					 EVP_sha256(), SECRET, strlen(SECRET)),
				NULL),
			 PD_JWT_INVALID);
	ck_assert_str_eq(why, "crit header not supported");
	ck_assert_int_eq(verify(hs_token("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", good_claims(),
					 EVP_sha256(), SECRET, strlen(SECRET)),
				NULL),
			 PD_JWT_INVALID);
	ck_assert_int_eq(verify(hs_token("{\"alg\":[\"HS256\"]}", good_claims(), EVP_sha256(),
					 SECRET, strlen(SECRET)),
				NULL),
			 PD_JWT_INVALID);
	/* HS512 configured: the HS512 token passes, an HS256 one does not */
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_alg", "HS512"), 0);
	make();
	ck_assert_int_eq(verify(hs_token("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", good_claims(),
					 EVP_sha512(), SECRET, strlen(SECRET)),
				NULL),
			 PD_JWT_OK);
	ck_assert_int_eq(verify(hs256(good_claims()), NULL), PD_JWT_INVALID);
}
END_TEST

START_TEST(test_alg_none)
{
	char tok[2048];
	make();
	static const char *const headers[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"none\"}",
					      "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}"};
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		signing_input(headers[i], good_claims(), tok);
		strcat(tok, ".");
		ck_assert_int_eq(verify(tok, NULL), PD_JWT_INVALID);
		/* and with some signature attached */
		strcat(tok, "c2lnbmF0dXJl");
		ck_assert_int_eq(verify(tok, NULL), PD_JWT_INVALID);
		ck_assert_str_eq(why, "algorithm is not the configured one");
	}
}
END_TEST

START_TEST(test_malformed)
{
	char tok[4096], *good;
	make();
	ck_assert_int_eq(verify(NULL, NULL), PD_JWT_MISSING);
	ck_assert_int_eq(verify("", NULL), PD_JWT_MISSING);
	static const char *const bad[] = {
		"abc", "abc.def", "a.b.c.d", "..", "...", ".b.c", "a..c", "a.b.",
		"!!!!.eyJzdWIiOiJ1In0.c2ln",                                 /* bad base64 */
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln=",                /* padding */
		"aGVsbG8.eyJzdWIiOiJ1In0.c2ln",                              /* header "hello" */
		"WyJIUzI1NiJd.eyJzdWIiOiJ1In0.c2ln",                         /* header ["HS256"] */
		"eyJhbGciOiJIUzI1NiJ9 .eyJzdWIiOiJ1In0.c2ln",                /* blank */
		"eyJhbGciOiJIUzI1NiIsImFsZyI6IkhTMjU2In0.eyJzdWIiOiJ1In0.c2ln", /* dup alg */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(verify(bad[i], NULL) == PD_JWT_INVALID, "%s", bad[i]);

	/* payload that is not JSON, correctly signed */
	ck_assert_int_eq(verify(hs256("not json"), NULL), PD_JWT_INVALID);
	ck_assert_int_eq(verify(hs256("[1,2]"), NULL), PD_JWT_INVALID);
	ck_assert_int_eq(verify(hs256("{\"sub\":\"u\",\"sub\":\"v\",\"org\":\"o\",\"role\":\"admin\","
				      "\"exp\":9999999999}"),
				NULL),
			 PD_JWT_INVALID);

	/* a valid token with one character of the signature changed, or
	 * spelled non-canonically (same bytes, different unused bits) */
	good = hs256(good_claims());
	ck_assert_int_eq(verify(good, NULL), PD_JWT_OK);
	snprintf(tok, sizeof(tok), "%s", good);
	size_t n = strlen(tok);
	tok[n - 1] = tok[n - 1] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(verify(tok, NULL), PD_JWT_INVALID);
	/* HS256: 32 bytes = 43 chars, the last carrying 2 unused bits */
	snprintf(tok, sizeof(tok), "%s", good);
	char *last = tok + n - 1;
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	int v = (int)(strchr(a, *last) - a);
	*last = a[v | 1];
	ck_assert_int_eq(verify(tok, NULL), PD_JWT_INVALID);
	/* a payload segment spelled non-canonically but correctly signed over
	 * that very text: two spellings of one token must not both pass */
	{
		char si[2048];
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned maclen = 0;
		const char *pl = "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":1800000100}";
		/* 62 bytes: 83 chars, the last with 2 unused bits */
		ck_assert_uint_ne(strlen(pl) % 3, 0);
		signing_input("{\"alg\":\"HS256\"}", pl, si);
		ck_assert_int_eq(verify(hs_token("{\"alg\":\"HS256\"}", pl, EVP_sha256(), SECRET,
						 strlen(SECRET)),
					NULL),
				 PD_JWT_OK);
		char *end = si + strlen(si) - 1;
		*end = a[(int)(strchr(a, *end) - a) | 1];
		HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)si, strlen(si), mac,
		     &maclen);
		snprintf(tok, sizeof(tok), "%s.", si);
		b64url(mac, maclen, tok + strlen(tok));
		ck_assert_int_eq(verify(tok, NULL), PD_JWT_INVALID);
	}
	/* trailing garbage */
	snprintf(tok, sizeof(tok), "%s.", good);
	ck_assert_int_eq(verify(tok, NULL), PD_JWT_INVALID);
	/* too long */
	char *huge = malloc(20000);
	memset(huge, 'A', 19999);
	huge[19999] = '\0';
	huge[100] = '.';
	huge[200] = '.';
	ck_assert_int_eq(verify(huge, NULL), PD_JWT_INVALID);
	free(huge);
}
END_TEST

START_TEST(test_missing_claims)
{
	char p[512];
	make();
	static const char *const bad[] = {
		"{\"org\":\"o\",\"role\":\"admin\",\"exp\":1800000100}",
		"{\"sub\":\"u\",\"role\":\"admin\",\"exp\":1800000100}",
		"{\"sub\":\"u\",\"org\":\"o\",\"exp\":1800000100}",
		"{\"sub\":\"u\",\"org\":\"o\",\"role\":\"root\",\"exp\":1800000100}",
		"{\"sub\":\"\",\"org\":\"o\",\"role\":\"admin\",\"exp\":1800000100}",
		"{\"sub\":42,\"org\":\"o\",\"role\":\"admin\",\"exp\":1800000100}",
		"{\"sub\":\"u\",\"org\":null,\"role\":\"admin\",\"exp\":1800000100}",
		"{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":\"1800000100\"}",
		"{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":1800000100,\"iat\":\"x\"}",
		"{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":1800000100,\"team\":7}",
		"{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"exp\":1800000100,\"name\":[]}",
		"{\"sub\":\"u\",\"org\":\"o\",\"role\":\"admin\",\"nexp\":1800000100}",
		"{\"sub\":\"u\",\"org\":\"o\",\"role\":\"Wizard\",\"exp\":1800000100}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(verify(hs256(bad[i]), NULL) == PD_JWT_INVALID, "%s", bad[i]);
	}
	/* too long for its field */
	char longsub[200];
	memset(longsub, 'x', 100);
	longsub[100] = '\0';
	snprintf(p, sizeof(p), "{\"sub\":\"%s\",\"org\":\"o\",\"role\":\"admin\",\"exp\":%ld}",
		 longsub, NOW + 100);
	ck_assert_int_eq(verify(hs256(p), NULL), PD_JWT_INVALID);
	/* team null means none; a real-valued exp is a NumericDate too */
	struct pd_claims c;
	snprintf(p, sizeof(p),
		 "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"service\",\"exp\":%ld.5,\"team\":null}",
		 NOW + 100);
	ck_assert_int_eq(verify(hs256(p), &c), PD_JWT_OK);
	ck_assert_str_eq(c.team, "");
	ck_assert_int_eq(c.exp, NOW + 100);
}
END_TEST

/* A token of payload claims plus exp, verified; the claims into c. */
static enum pd_jwt_status verify_claims(const char *claims, struct pd_claims *c)
{
	char p[1024];
	snprintf(p, sizeof(p), "{%s,\"exp\":%ld}", claims, NOW + 100);
	return verify(hs256(p), c);
}

START_TEST(test_org_claims)
{
	struct pd_claims c;
	make();
	/* seed 004's token: sub and workspaceId, no org */
	ck_assert_int_eq(verify_claims("\"sub\":\"u-4\",\"workspaceId\":\"ws-9\",\"role\":\"agent\"",
				       &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.sub, "u-4");
	ck_assert_str_eq(c.org, "ws-9");
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"organizationId\":\"og\",\"role\":\"agent\"",
				       &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.org, "og");
	/* first present wins, in the configured order */
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"organizationId\":\"c\",\"workspaceId\":\"b\","
				       "\"org\":\"a\",\"role\":\"agent\"",
				       &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.org, "a");
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"organizationId\":\"c\",\"workspaceId\":\"b\","
				       "\"role\":\"agent\"",
				       &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.org, "b");
	/* null counts as absent; a present claim of a wrong type is not skipped */
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"org\":null,\"workspaceId\":\"b\","
				       "\"role\":\"agent\"",
				       &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.org, "b");
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"org\":7,\"workspaceId\":\"b\",\"role\":\"agent\"",
				       &c),
			 PD_JWT_INVALID);
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"workspaceId\":\"\",\"organizationId\":\"b\","
				       "\"role\":\"agent\"",
				       &c),
			 PD_JWT_INVALID);
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"tenant\":\"t\",\"role\":\"agent\"", &c),
			 PD_JWT_INVALID);
	ck_assert_str_eq(why, "org claim missing or invalid");
	/* configured otherwise: only the names given count */
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_org_claims", " tenant , org "), 0);
	make();
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"tenant\":\"t\",\"org\":\"o\",\"role\":\"agent\"",
				       &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.org, "t");
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"workspaceId\":\"w\",\"role\":\"agent\"", &c),
			 PD_JWT_INVALID);
}
END_TEST

START_TEST(test_sub_claims)
{
	struct pd_claims c;
	make();
	/* sub, then userId, then id */
	ck_assert_int_eq(verify_claims("\"userId\":\"u-2\",\"org\":\"o\",\"role\":\"agent\"", &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.sub, "u-2");
	ck_assert_int_eq(verify_claims("\"id\":\"u-3\",\"userId\":\"u-2\",\"org\":\"o\",\"role\":\"agent\"",
				       &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.sub, "u-2");
	ck_assert_int_eq(verify_claims("\"id\":\"u-3\",\"sub\":\"u-1\",\"org\":\"o\",\"role\":\"agent\"",
				       &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.sub, "u-1");
	ck_assert_int_eq(verify_claims("\"userId\":5,\"id\":\"u-3\",\"org\":\"o\",\"role\":\"agent\"",
				       &c),
			 PD_JWT_INVALID);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_sub_claims", "sub"), 0);
	make();
	ck_assert_int_eq(verify_claims("\"userId\":\"u-2\",\"org\":\"o\",\"role\":\"agent\"", &c),
			 PD_JWT_INVALID);
	ck_assert_str_eq(why, "sub claim missing or invalid");
}
END_TEST

START_TEST(test_roles_foreign)
{
	static const struct {
		const char *role, *want; /* want NULL: refused */
	} cases[] = {
		/* seed 003's roles */
		{"CLIENT", "customer"},
		{"FREELANCER", "agent"},
		{"ADMIN", "admin"},
		/* ours in any case, the default map's other entries */
		{"Agent", "agent"},
		{"customer", "customer"},
		{"SERVICE", "service"},
		{"user", "customer"},
		{"User", "customer"},
		{"client", "customer"},
		/* unknown after mapping */
		{"owner", NULL},
		{"", NULL},
		{"freelancers", NULL},
		{"a-role-name-far-longer-than-any-role-we-know-of", NULL},
	};
	struct pd_claims c;
	char cl[256];
	make();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(cl, sizeof(cl), "\"sub\":\"u\",\"org\":\"o\",\"role\":\"%s\"", cases[i].role);
		enum pd_jwt_status st = verify_claims(cl, &c);
		if (cases[i].want == NULL) {
			ck_assert_msg(st == PD_JWT_INVALID, "%s accepted", cases[i].role);
			ck_assert_str_eq(why, "role claim missing or invalid");
		} else {
			ck_assert_msg(st == PD_JWT_OK, "%s: %s", cases[i].role, why);
			ck_assert_str_eq(c.role, cases[i].want);
		}
	}
	/* missing role, or one of a wrong type */
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"org\":\"o\"", &c), PD_JWT_INVALID);
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"org\":\"o\",\"role\":[\"admin\"]", &c),
			 PD_JWT_INVALID);
	/* the map is configuration: an empty map keeps only our names */
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_role_map", ""), 0);
	make();
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"org\":\"o\",\"role\":\"CLIENT\"", &c),
			 PD_JWT_INVALID);
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"org\":\"o\",\"role\":\"ADMIN\"", &c),
			 PD_JWT_OK);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_role_map", "Owner:admin, staff : agent"), 0);
	make();
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"org\":\"o\",\"role\":\"OWNER\"", &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.role, "admin");
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"org\":\"o\",\"role\":\"staff\"", &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.role, "agent");
}
END_TEST

START_TEST(test_default_role)
{
	struct pd_claims c;
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_default_role", "customer"), 0);
	make();
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"org\":\"o\"", &c), PD_JWT_OK);
	ck_assert_str_eq(c.role, "customer");
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"org\":\"o\",\"role\":\"owner\"", &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.role, "customer");
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"org\":\"o\",\"role\":\"FREELANCER\"", &c),
			 PD_JWT_OK);
	ck_assert_str_eq(c.role, "agent");
	/* a role of a wrong type is a malformed token, not a missing role */
	ck_assert_int_eq(verify_claims("\"sub\":\"u\",\"org\":\"o\",\"role\":3", &c),
			 PD_JWT_INVALID);
}
END_TEST

START_TEST(test_foreign_cfg_errors)
{
	static const struct {
		const char *key, *value;
	} bad[] = {
		{"jwt_org_claims", ""},
		{"jwt_org_claims", " , "},
		{"jwt_org_claims", "a,b,c,d,e,f,g,h,i"},
		{"jwt_org_claims", "a-claim-name-of-more-than-31-bytes"},
		{"jwt_sub_claims", ""},
		{"jwt_role_map", "client"},
		{"jwt_role_map", ":agent"},
		{"jwt_role_map", "client:boss"},
		{"jwt_role_map", "client:Customer"},
		{"jwt_role_map", "a:agent,b:agent,c:agent,d:agent,e:agent,f:agent,g:agent,h:agent,"
				 "i:agent,j:agent,k:agent,l:agent,m:agent,n:agent,o:agent,p:agent,"
				 "q:agent"},
		{"jwt_default_role", "boss"},
		{"jwt_default_role", "Agent"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pd_cfg *c2 = pd_cfg_new();
		ck_assert_int_eq(pd_cfg_set(c2, "jwt_secret", SECRET), 0);
		ck_assert_int_eq(pd_cfg_set(c2, bad[i].key, bad[i].value), 0);
		err[0] = '\0';
		ck_assert_msg(pd_jwt_new(c2, err, sizeof(err)) == NULL, "%s = %s accepted",
			      bad[i].key, bad[i].value);
		/* the message names the field */
		ck_assert_msg(strncmp(err, bad[i].key, strlen(bad[i].key)) == 0, "%s", err);
		pd_cfg_free(c2);
	}
}
END_TEST

START_TEST(test_iss_aud)
{
	char p[512];
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_issuer", "https://auth.example"), 0);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_audience", "pushdesk"), 0);
	make();
#define BASE "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"agent\",\"exp\":1800000100%s}"
	struct {
		const char *extra;
		enum pd_jwt_status want;
	} cases[] = {
		{",\"iss\":\"https://auth.example\",\"aud\":\"pushdesk\"", PD_JWT_OK},
		{",\"iss\":\"https://auth.example\",\"aud\":[\"x\",\"pushdesk\"]", PD_JWT_OK},
		{",\"aud\":\"pushdesk\"", PD_JWT_INVALID},
		{",\"iss\":\"https://evil.example\",\"aud\":\"pushdesk\"", PD_JWT_INVALID},
		{",\"iss\":\"https://auth.example\"", PD_JWT_INVALID},
		{",\"iss\":\"https://auth.example\",\"aud\":\"other\"", PD_JWT_INVALID},
		{",\"iss\":\"https://auth.example\",\"aud\":[\"other\"]", PD_JWT_INVALID},
		{",\"iss\":\"https://auth.example\",\"aud\":[]", PD_JWT_INVALID},
		{",\"iss\":[\"https://auth.example\"],\"aud\":\"pushdesk\"", PD_JWT_INVALID},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(p, sizeof(p), BASE, cases[i].extra);
		ck_assert_msg(verify(hs256(p), NULL) == cases[i].want, "%s: %s", p, why);
	}
	/* not configured: not checked */
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_issuer", ""), 0);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_audience", ""), 0);
	make();
	snprintf(p, sizeof(p), BASE, ",\"iss\":\"anyone\",\"aud\":\"any\"");
#undef BASE
	ck_assert_int_eq(verify(hs256(p), NULL), PD_JWT_OK);
}
END_TEST

START_TEST(test_new_errors)
{
	struct pd_jwt *j;
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_secret", ""), 0);
	ck_assert_ptr_null(j = pd_jwt_new(cfg, err, sizeof(err)));
	ck_assert_str_eq(err, "jwt_secret: required (not empty) with jwt_alg HS256");
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_secret", SECRET), 0);
	static const char *const algs[] = {"none", "HS256 ", "hs256", "PS256", ""};
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		ck_assert_int_eq(pd_cfg_set(cfg, "jwt_alg", algs[i]), 0);
		ck_assert_ptr_null(pd_jwt_new(cfg, err, sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, "jwt_alg"));
	}
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_alg", "RS256"), 0);
	ck_assert_ptr_null(pd_jwt_new(cfg, err, sizeof(err)));
	ck_assert_str_eq(err, "jwt_public_key_file: required with jwt_alg RS256");
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_public_key_file", "/nonexistent.pem"), 0);
	ck_assert_ptr_null(pd_jwt_new(cfg, err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent.pem: No such file or directory");
	/* an EC key for an RSA algorithm, a private key as public key */
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_public_key_file", ec_pub), 0);
	ck_assert_ptr_null(pd_jwt_new(cfg, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not an RSA key"));
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_public_key_file", rsa_priv), 0);
	ck_assert_ptr_null(pd_jwt_new(cfg, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a PEM public key"));
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_leeway", "100000"), 0);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_alg", "HS256"), 0);
	ck_assert_ptr_null(pd_jwt_new(cfg, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "jwt_leeway"));
	pd_jwt_free(NULL);
}
END_TEST

START_TEST(test_rs256)
{
	struct pd_claims c, out;
	const char *hdr = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_alg", "RS256"), 0);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_public_key_file", rsa_pub), 0);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_private_key_file", rsa_priv), 0);
	make();
	/* hand-signed with libcrypto */
	ck_assert_int_eq(verify(rs256_token(hdr, good_claims(), rsa_priv), &out), PD_JWT_OK);
	ck_assert_str_eq(out.sub, "u-1");
	/* signed by another key */
	ck_assert_int_eq(verify(rs256_token(hdr, good_claims(), rsa2_priv), NULL), PD_JWT_INVALID);
	/* HS/RS confusion: HS256 keyed with the public key PEM */
	FILE *f = fopen(rsa_pub, "r");
	char pem[4096];
	size_t n = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	ck_assert_int_eq(verify(hs_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", good_claims(),
					 EVP_sha256(), pem, n),
				NULL),
			 PD_JWT_INVALID);
	ck_assert_str_eq(why, "algorithm is not the configured one");
	/* signing with the private key */
	memset(&c, 0, sizeof(c));
	strcpy(c.sub, "u-2");
	strcpy(c.org, "o-2");
	strcpy(c.role, "admin");
	char *tok = pd_jwt_sign(jwt, &c, NOW, 60, err, sizeof(err));
	ck_assert_msg(tok != NULL, "%s", err);
	ck_assert_int_eq(verify(tok, &out), PD_JWT_OK);
	ck_assert_str_eq(out.role, "admin");
	/* a verifier with the public key only cannot sign, but verifies */
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_private_key_file", ""), 0);
	make();
	ck_assert_int_eq(verify(tok, &out), PD_JWT_OK);
	ck_assert_ptr_null(pd_jwt_sign(jwt, &c, NOW, 60, err, sizeof(err)));
	ck_assert_str_eq(err, "jwt_private_key_file: required to sign RS256 tokens");
	/* a signer with the private key only derives the public key */
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_public_key_file", ""), 0);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_private_key_file", rsa_priv), 0);
	make();
	ck_assert_int_eq(verify(tok, &out), PD_JWT_OK);
	free(tok);
}
END_TEST

START_TEST(test_es256)
{
	struct pd_claims c, out;
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_alg", "ES256"), 0);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_public_key_file", ec_pub), 0);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_private_key_file", ec_priv), 0);
	make();
	memset(&c, 0, sizeof(c));
	strcpy(c.sub, "u-3");
	strcpy(c.org, "o-3");
	strcpy(c.role, "service");
	char *tok = pd_jwt_sign(jwt, &c, NOW, 60, err, sizeof(err));
	ck_assert_msg(tok != NULL, "%s", err);
	ck_assert_int_eq(verify(tok, &out), PD_JWT_OK);
	ck_assert_str_eq(out.sub, "u-3");
	/* the RS256 key pair does not fit ES256 */
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_public_key_file", rsa_pub), 0);
	ck_assert_ptr_null(pd_jwt_new(cfg, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not an EC key"));
	free(tok);
}
END_TEST

struct worker {
	const struct pd_jwt *j;
	const char *good, *bad;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct pd_claims c;
	for (int i = 0; i < 500; i++) {
		if (pd_jwt_verify(w->j, w->good, NOW, &c) != PD_JWT_OK || strcmp(c.sub, "u-1") != 0)
			w->failures++;
		if (pd_jwt_verify(w->j, w->bad, NOW, &c) != PD_JWT_INVALID)
			w->failures++;
	}
	return NULL;
}

/* One pd_jwt shared by threads, as the broker does. */
START_TEST(test_threads)
{
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_alg", "RS256"), 0);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_public_key_file", rsa_pub), 0);
	make();
	char *good = strdup(rs256_token("{\"alg\":\"RS256\"}", good_claims(), rsa_priv));
	char *bad = strdup(rs256_token("{\"alg\":\"RS256\"}", good_claims(), rsa2_priv));
	struct worker w[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){jwt, good, bad, 0};
		ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].failures, 0);
	}
	free(good);
	free(bad);
}
END_TEST

START_TEST(test_codes)
{
	ck_assert_str_eq(pd_jwt_status_code(PD_JWT_MISSING), "AUTH_TOKEN_MISSING");
	ck_assert_str_eq(pd_jwt_status_code(PD_JWT_EXPIRED), "AUTH_TOKEN_EXPIRED");
	ck_assert_str_eq(pd_jwt_status_code(PD_JWT_INVALID), "AUTH_TOKEN_INVALID");
	ck_assert(pd_role_valid("customer"));
	ck_assert(pd_role_valid("agent"));
	ck_assert(pd_role_valid("admin"));
	ck_assert(pd_role_valid("service"));
	ck_assert(!pd_role_valid("Admin"));
	ck_assert(!pd_role_valid(""));
	ck_assert(!pd_role_valid(NULL));
}
END_TEST

static void write_key(EVP_PKEY *k, const char *path, int priv)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || (priv ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
			       : PEM_write_PUBKEY(f, k)) != 1) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(EXIT_FAILURE);
	}
	fclose(f);
}

static void make_keys(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pd_jwt_test.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(EXIT_FAILURE);
	}
	snprintf(rsa_pub, sizeof(rsa_pub), "%s/rsa.pub", tmpdir);
	snprintf(rsa_priv, sizeof(rsa_priv), "%s/rsa.key", tmpdir);
	snprintf(rsa2_priv, sizeof(rsa2_priv), "%s/rsa2.key", tmpdir);
	snprintf(ec_pub, sizeof(ec_pub), "%s/ec.pub", tmpdir);
	snprintf(ec_priv, sizeof(ec_priv), "%s/ec.key", tmpdir);
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (rsa == NULL || rsa2 == NULL || ec == NULL) {
		fprintf(stderr, "key generation failed\n");
		exit(EXIT_FAILURE);
	}
	write_key(rsa, rsa_pub, 0);
	write_key(rsa, rsa_priv, 1);
	write_key(rsa2, rsa2_priv, 1);
	write_key(ec, ec_pub, 0);
	write_key(ec, ec_priv, 1);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(ec);
}

static void remove_keys(void)
{
	const char *files[] = {rsa_pub, rsa_priv, rsa2_priv, ec_pub, ec_priv};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	rmdir(tmpdir);
}

int main(void)
{
	make_keys();
	Suite *s = suite_create("pd_jwt");
	TCase *tc = tcase_create("jwt");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_valid_hand_made);
	tcase_add_test(tc, test_sign_verify);
	tcase_add_test(tc, test_expired);
	tcase_add_test(tc, test_leeway);
	tcase_add_test(tc, test_wrong_key);
	tcase_add_test(tc, test_wrong_alg);
	tcase_add_test(tc, test_alg_none);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_missing_claims);
	tcase_add_test(tc, test_iss_aud);
	tcase_add_test(tc, test_org_claims);
	tcase_add_test(tc, test_sub_claims);
	tcase_add_test(tc, test_roles_foreign);
	tcase_add_test(tc, test_default_role);
	tcase_add_test(tc, test_foreign_cfg_errors);
	tcase_add_test(tc, test_new_errors);
	tcase_add_test(tc, test_rs256);
	tcase_add_test(tc, test_es256);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_codes);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_keys();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
