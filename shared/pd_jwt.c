/* pd_jwt: access tokens over libjwt 1.10. The header is decoded and checked
 * here before libjwt sees the token, so the configured algorithm is the only
 * one ever verified ("none" and HS/RS confusion are refused up front); the
 * claims are then read strictly from the payload whose signature libjwt has
 * just checked. */
#include "pd_jwt.h"

#include "pd_cfg.h"
#include "pd_log.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PD_JWT_MAX_TOKEN 8192 /* far above any token we issue; bounds the work */
#define PD_JWT_MAX_KEY_FILE 65536
#define PD_JWT_MAX_ALIASES 8  /* claim names in jwt_org_claims / jwt_sub_claims */
#define PD_JWT_MAX_ROLEMAP 16 /* pairs in jwt_role_map */
#define PD_JWT_CLAIM_NAME 32  /* bytes of a claim name or a foreign role, NUL included */

/* Foreign tokens (contract section 2): where the user and the organization
 * may be found, and how foreign role names map onto ours. */
struct claim_list {
	char name[PD_JWT_MAX_ALIASES][PD_JWT_CLAIM_NAME];
	size_t n;
};
struct role_pair {
	char from[PD_JWT_CLAIM_NAME]; /* lower case */
	char to[16];                  /* a valid role */
};

struct pd_jwt {
	jwt_alg_t alg;
	char alg_name[8];       /* canonical, e.g. "HS256" */
	unsigned char *vkey;    /* secret, or public key PEM; NULL if none */
	size_t vkey_len;
	unsigned char *skey;    /* secret, or private key PEM; NULL if none */
	size_t skey_len;
	char *issuer;           /* NULL = not checked */
	char *audience;         /* NULL = not checked */
	long leeway;
	struct claim_list sub_claims, org_claims;
	struct role_pair role_map[PD_JWT_MAX_ROLEMAP];
	size_t nrole_map;
	char default_role[16]; /* "" = a missing or unknown role is refused */
};

int pd_role_valid(const char *role)
{
	static const char *const roles[] = {"customer", "agent", "admin", "service"};
	if (role == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(role, roles[i]) == 0)
			return 1;
	return 0;
}

const char *pd_jwt_status_code(enum pd_jwt_status s)
{
	switch (s) {
	case PD_JWT_OK: return "OK";
	case PD_JWT_MISSING: return "AUTH_TOKEN_MISSING";
	case PD_JWT_EXPIRED: return "AUTH_TOKEN_EXPIRED";
	default: return "AUTH_TOKEN_INVALID";
	}
}

static int is_hmac(jwt_alg_t a)
{
	return a == JWT_ALG_HS256 || a == JWT_ALG_HS384 || a == JWT_ALG_HS512;
}

static int is_rsa(jwt_alg_t a)
{
	return a == JWT_ALG_RS256 || a == JWT_ALG_RS384 || a == JWT_ALG_RS512;
}

static int is_ec(jwt_alg_t a)
{
	return a == JWT_ALG_ES256 || a == JWT_ALG_ES384 || a == JWT_ALG_ES512;
}

static jwt_alg_t alg_parse(const char *s)
{
	static const struct {
		const char *name;
		jwt_alg_t alg;
	} algs[] = {
		{"HS256", JWT_ALG_HS256}, {"HS384", JWT_ALG_HS384}, {"HS512", JWT_ALG_HS512},
		{"RS256", JWT_ALG_RS256}, {"RS384", JWT_ALG_RS384}, {"RS512", JWT_ALG_RS512},
		{"ES256", JWT_ALG_ES256}, {"ES384", JWT_ALG_ES384}, {"ES512", JWT_ALG_ES512},
	};
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(s, algs[i].name) == 0)
			return algs[i].alg;
	return JWT_ALG_INVAL;
}

static int read_file(const char *path, unsigned char **out, size_t *len, char *err,
		     size_t errlen)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t n = 0;
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(PD_JWT_MAX_KEY_FILE + 1);
	if (buf == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, PD_JWT_MAX_KEY_FILE + 1, f);
	int bad = ferror(f);
	fclose(f);
	if (bad || n == 0 || n > PD_JWT_MAX_KEY_FILE) {
		snprintf(err, errlen, "%s: %s", path,
			 bad ? "read error" : n == 0 ? "empty file" : "file too large for a key");
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Check that a PEM key parses and suits the algorithm. With want_public and
 * a private key, also return the matching public key PEM (so that a signer
 * configured with only its private key can verify its own tokens). */
static int check_pem(jwt_alg_t alg, const unsigned char *pem, size_t len, int is_private,
		     const char *path, unsigned char **pub_out, size_t *pub_len, char *err,
		     size_t errlen)
{
	BIO *in = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = NULL;
	int rc = -1;
	if (in == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	k = is_private ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL)
		       : PEM_read_bio_PUBKEY(in, NULL, NULL, NULL);
	BIO_free(in);
	if (k == NULL) {
		snprintf(err, errlen, "%s: not a PEM %s key", path, is_private ? "private" : "public");
		return -1;
	}
	int type = EVP_PKEY_get_base_id(k);
	if ((is_rsa(alg) && type != EVP_PKEY_RSA) || (is_ec(alg) && type != EVP_PKEY_EC)) {
		snprintf(err, errlen, "%s: not an %s key, as jwt_alg %s needs", path,
			 is_rsa(alg) ? "RSA" : "EC", jwt_alg_str(alg));
		goto out;
	}
	if (pub_out != NULL) {
		BIO *o = BIO_new(BIO_s_mem());
		char *p;
		long n;
		if (o == NULL || PEM_write_bio_PUBKEY(o, k) != 1 || (n = BIO_get_mem_data(o, &p)) <= 0 ||
		    (*pub_out = malloc((size_t)n + 1)) == NULL) {
			BIO_free(o);
			snprintf(err, errlen, "%s: cannot derive the public key", path);
			goto out;
		}
		memcpy(*pub_out, p, (size_t)n);
		(*pub_out)[n] = '\0';
		*pub_len = (size_t)n;
		BIO_free(o);
	}
	rc = 0;
out:
	EVP_PKEY_free(k);
	return rc;
}

static void lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* The next comma-separated item of *p, blanks trimmed, into out. 1 an item,
 * 0 at the end, -1 too long for outlen. */
static int next_item(const char **p, char *out, size_t outlen)
{
	const char *s = *p, *e;
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == ',')
		s++;
	if (*s == '\0')
		return 0;
	for (e = s; *e != '\0' && *e != ','; e++)
		;
	*p = e;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	n = (size_t)(e - s);
	if (n >= outlen)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 1;
}

/* jwt_sub_claims, jwt_org_claims: "a,b,c", 1..PD_JWT_MAX_ALIASES names. */
static int parse_claim_list(const char *key, const char *v, struct claim_list *l, char *err,
			    size_t errlen)
{
	char item[PD_JWT_CLAIM_NAME];
	int rc;

	l->n = 0;
	while ((rc = next_item(&v, item, sizeof(item))) > 0) {
		if (l->n == PD_JWT_MAX_ALIASES) {
			rc = -1;
			break;
		}
		memcpy(l->name[l->n++], item, sizeof(item));
	}
	if (rc < 0 || l->n == 0) {
		snprintf(err, errlen,
			 "%s: expected 1..%d comma-separated claim names of at most %d bytes", key,
			 PD_JWT_MAX_ALIASES, PD_JWT_CLAIM_NAME - 1);
		return -1;
	}
	return 0;
}

/* jwt_role_map: "from:to,..." with to one of our roles; may be empty. */
static int parse_role_map(struct pd_jwt *j, const char *v, char *err, size_t errlen)
{
	char item[2 * PD_JWT_CLAIM_NAME], *colon;
	int rc;

	while ((rc = next_item(&v, item, sizeof(item))) > 0) {
		struct role_pair *rp = &j->role_map[j->nrole_map];
		colon = strchr(item, ':');
		if (j->nrole_map == PD_JWT_MAX_ROLEMAP || colon == NULL || colon == item ||
		    (size_t)(colon - item) >= sizeof(rp->from)) {
			rc = -1;
			break;
		}
		/* "from : to": blanks around the colon do not count */
		char *end = colon, *to = colon + 1;
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		while (*to == ' ' || *to == '\t')
			to++;
		*end = '\0';
		if (end == item) {
			rc = -1;
			break;
		}
		memcpy(rp->from, item, (size_t)(end - item) + 1);
		lower(rp->from);
		if (!pd_role_valid(to)) {
			snprintf(err, errlen,
				 "jwt_role_map: '%.31s' maps to '%.31s', not one of customer, agent, "
				 "admin, service",
				 item, to);
			return -1;
		}
		snprintf(rp->to, sizeof(rp->to), "%s", to);
		j->nrole_map++;
	}
	if (rc < 0) {
		snprintf(err, errlen, "jwt_role_map: expected at most %d FOREIGN:ROLE pairs, "
				      "comma-separated",
			 PD_JWT_MAX_ROLEMAP);
		return -1;
	}
	return 0;
}

static int parse_foreign(struct pd_jwt *j, const struct pd_cfg *cfg, char *err, size_t errlen)
{
	const char *dr = pd_cfg_get(cfg, "jwt_default_role");

	if (parse_claim_list("jwt_sub_claims", pd_cfg_get(cfg, "jwt_sub_claims"), &j->sub_claims,
			     err, errlen) != 0 ||
	    parse_claim_list("jwt_org_claims", pd_cfg_get(cfg, "jwt_org_claims"), &j->org_claims,
			     err, errlen) != 0 ||
	    parse_role_map(j, pd_cfg_get(cfg, "jwt_role_map"), err, errlen) != 0)
		return -1;
	if (*dr != '\0' && !pd_role_valid(dr)) {
		snprintf(err, errlen,
			 "jwt_default_role: '%.31s' is not one of customer, agent, admin, service "
			 "(or empty)",
			 dr);
		return -1;
	}
	snprintf(j->default_role, sizeof(j->default_role), "%s", dr);
	return 0;
}

struct pd_jwt *pd_jwt_new(const struct pd_cfg *cfg, char *err, size_t errlen)
{
	struct pd_jwt *j = calloc(1, sizeof(*j));
	const char *alg = pd_cfg_get(cfg, "jwt_alg");
	const char *iss = pd_cfg_get(cfg, "jwt_issuer");
	const char *aud = pd_cfg_get(cfg, "jwt_audience");
	if (j == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (pd_cfg_get_long(cfg, "jwt_leeway", 0, 86400, &j->leeway, err, errlen) != 0 ||
	    parse_foreign(j, cfg, err, errlen) != 0)
		goto fail;
	j->alg = alg_parse(alg);
	if (j->alg == JWT_ALG_INVAL) {
		snprintf(err, errlen, "jwt_alg: '%.32s' is not one of HS256, HS384, HS512, RS256, "
				      "RS384, RS512, ES256, ES384, ES512", alg);
		goto fail;
	}
	snprintf(j->alg_name, sizeof(j->alg_name), "%s", alg);
	if (is_hmac(j->alg)) {
		const char *secret = pd_cfg_get(cfg, "jwt_secret");
		size_t n = strlen(secret);
		if (n == 0) {
			snprintf(err, errlen, "jwt_secret: required (not empty) with jwt_alg %s", alg);
			goto fail;
		}
		if (n < 32)
			pd_log(LOG_WARNING, "jwt_secret is %zu bytes: use at least 32 random bytes", n);
		j->vkey = malloc(n + 1);
		j->skey = malloc(n + 1);
		if (j->vkey == NULL || j->skey == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		memcpy(j->vkey, secret, n + 1);
		memcpy(j->skey, secret, n + 1);
		j->vkey_len = j->skey_len = n;
	} else {
		const char *pub = pd_cfg_get(cfg, "jwt_public_key_file");
		const char *priv = pd_cfg_get(cfg, "jwt_private_key_file");
		if (*pub == '\0' && *priv == '\0') {
			snprintf(err, errlen, "jwt_public_key_file: required with jwt_alg %s", alg);
			goto fail;
		}
		if (*priv != '\0') {
			if (read_file(priv, &j->skey, &j->skey_len, err, errlen) != 0 ||
			    check_pem(j->alg, j->skey, j->skey_len, 1, priv,
				      *pub == '\0' ? &j->vkey : NULL, &j->vkey_len, err, errlen) != 0)
				goto fail;
		}
		if (*pub != '\0') {
			if (read_file(pub, &j->vkey, &j->vkey_len, err, errlen) != 0 ||
			    check_pem(j->alg, j->vkey, j->vkey_len, 0, pub, NULL, NULL, err, errlen) != 0)
				goto fail;
		}
	}
	if ((*iss != '\0' && (j->issuer = strdup(iss)) == NULL) ||
	    (*aud != '\0' && (j->audience = strdup(aud)) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return j;
fail:
	pd_jwt_free(j);
	return NULL;
}

void pd_jwt_free(struct pd_jwt *j)
{
	if (j == NULL)
		return;
	if (j->vkey != NULL)
		OPENSSL_cleanse(j->vkey, j->vkey_len);
	if (j->skey != NULL)
		OPENSSL_cleanse(j->skey, j->skey_len);
	free(j->vkey);
	free(j->skey);
	free(j->issuer);
	free(j->audience);
	free(j);
}

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* base64url without padding (RFC 7515 section 2), canonical only: a length
 * of 1 mod 4 or non-zero unused bits is refused, so each token has exactly
 * one spelling. out must hold n * 3 / 4 + 1 bytes; NUL-terminated. */
static int b64url_decode(const char *p, size_t n, unsigned char *out, size_t *olen)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value((unsigned char)p[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	out[o] = '\0';
	*olen = o;
	return 0;
}

/* Decode one segment and parse it as a JSON object (duplicates refused:
 * two "alg" or two "sub" must not mean different things to different
 * readers). */
static json_t *segment_json(const char *p, size_t n)
{
	unsigned char *raw = malloc(n * 3 / 4 + 1);
	size_t len;
	json_t *v = NULL;
	if (raw == NULL)
		return NULL;
	if (b64url_decode(p, n, raw, &len) == 0)
		v = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

static void set_why(char *why, size_t whylen, const char *reason)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", reason);
}

/* A string claim into dst. 0 ok, 1 absent (dst = ""), -1 wrong type or too long. */
static int claim_str(json_t *payload, const char *name, char *dst, size_t dstlen)
{
	json_t *v = json_object_get(payload, name);
	dst[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 1;
	if (!json_is_string(v) || json_string_length(v) >= dstlen ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* The first of names present in payload, as claim_str reads it. 0 ok, 1 none present, -1 the first
 * present is of a wrong type, empty or too long: it is not skipped, since
 * falling through to the next name would let one token mean two things. */
static int claim_first(json_t *payload, const struct claim_list *names, char *dst,
		       size_t dstlen)
{
	for (size_t i = 0; i < names->n; i++) {
		json_t *v = json_object_get(payload, names->name[i]);
		if (v == NULL || json_is_null(v))
			continue;
		return claim_str(payload, names->name[i], dst, dstlen) == 0 && dst[0] != '\0' ? 0
												: -1;
	}
	dst[0] = '\0';
	return 1;
}

/* The role claim, matched without regard to case, renamed by jwt_role_map;
 * a missing or unknown one becomes jwt_default_role when set. 0 or -1. */
static int claim_role(const struct pd_jwt *j, json_t *payload, char *dst, size_t dstlen)
{
	char r[PD_JWT_CLAIM_NAME];
	int rc = claim_str(payload, "role", r, sizeof(r));

	if (rc < 0 && json_is_string(json_object_get(payload, "role")))
		rc = 1; /* a string too long for any role we know: unknown */
	else if (rc < 0)
		return -1;
	lower(r);
	for (size_t i = 0; rc == 0 && i < j->nrole_map; i++)
		if (strcmp(r, j->role_map[i].from) == 0) {
			snprintf(r, sizeof(r), "%s", j->role_map[i].to);
			break;
		}
	if (rc != 0 || !pd_role_valid(r)) {
		if (j->default_role[0] == '\0')
			return -1;
		snprintf(r, sizeof(r), "%s", j->default_role);
	}
	if (strlen(r) >= dstlen) /* pd_role_valid: never */
		return -1;
	memcpy(dst, r, strlen(r) + 1);
	return 0;
}

/* A NumericDate claim. 0 ok, 1 absent, -1 not a number in range. */
static int claim_time(json_t *payload, const char *name, long long *out)
{
	json_t *v = json_object_get(payload, name);
	if (v == NULL)
		return 1;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (!(d >= -9.0e15 && d <= 9.0e15)) /* also refuses NaN */
			return -1;
		/* floor without libm: truncate, then step down for negatives */
		long long t = (long long)d;
		*out = (double)t > d ? t - 1 : t;
		return 0;
	}
	return -1;
}

static int audience_ok(json_t *payload, const char *want)
{
	json_t *aud = json_object_get(payload, "aud");
	size_t i;
	json_t *v;
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (!json_is_array(aud))
		return 0;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return 1;
	return 0;
}

enum pd_jwt_status pd_jwt_verify_ex(const struct pd_jwt *j, const char *token, time_t now,
				    struct pd_claims *out, char *why, size_t whylen)
{
	enum pd_jwt_status st = PD_JWT_INVALID;
	json_t *header = NULL, *payload = NULL;
	jwt_t *jwt = NULL;
	const char *dot1, *dot2;
	size_t n;
	struct pd_claims c;

	memset(&c, 0, sizeof(c));
	if (token == NULL || *token == '\0') {
		set_why(why, whylen, "no token");
		return PD_JWT_MISSING;
	}
	n = strnlen(token, PD_JWT_MAX_TOKEN + 1);
	if (n > PD_JWT_MAX_TOKEN) {
		set_why(why, whylen, "token too long");
		return PD_JWT_INVALID;
	}
	/* Exactly three non-empty segments: a signature is always required. */
	dot1 = memchr(token, '.', n);
	dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - token)) : NULL;
	if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', n - (size_t)(dot2 + 1 - token)) ||
	    dot1 == token || dot2 == dot1 + 1 || dot2[1] == '\0') {
		set_why(why, whylen, "not a compact JWS (header.payload.signature)");
		return PD_JWT_INVALID;
	}
	header = segment_json(token, (size_t)(dot1 - token));
	if (header == NULL) {
		set_why(why, whylen, "header is not base64url JSON object");
		goto out;
	}
	{
		/* The signature segment must be canonical base64url too. */
		size_t sl = n - (size_t)(dot2 + 1 - token), olen;
		unsigned char *sig = malloc(sl * 3 / 4 + 1);
		int bad = sig == NULL || b64url_decode(dot2 + 1, sl, sig, &olen) != 0;
		free(sig);
		if (bad) {
			set_why(why, whylen, "signature is not base64url");
			goto out;
		}
	}
	json_t *alg = json_object_get(header, "alg");
	if (!json_is_string(alg) || strcmp(json_string_value(alg), j->alg_name) != 0) {
		set_why(why, whylen, "algorithm is not the configured one");
		goto out;
	}
	json_t *typ = json_object_get(header, "typ");
	if (typ != NULL && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0)) {
		set_why(why, whylen, "typ is not JWT");
		goto out;
	}
	if (json_object_get(header, "crit") != NULL) {
		set_why(why, whylen, "crit header not supported");
		goto out;
	}
	if (j->vkey == NULL) {
		set_why(why, whylen, "no verification key configured");
		goto out;
	}
	if (jwt_decode(&jwt, token, j->vkey, (int)j->vkey_len) != 0 || jwt == NULL) {
		set_why(why, whylen, "bad signature or malformed token");
		goto out;
	}
	if (jwt_get_alg(jwt) != j->alg) {
		set_why(why, whylen, "algorithm is not the configured one");
		goto out;
	}
	/* The signature covers these very bytes; read them strictly ourselves. */
	payload = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (payload == NULL) {
		set_why(why, whylen, "payload is not a JSON object");
		goto out;
	}
	if (claim_first(payload, &j->sub_claims, c.sub, sizeof(c.sub)) != 0) {
		set_why(why, whylen, "sub claim missing or invalid");
		goto out;
	}
	if (claim_first(payload, &j->org_claims, c.org, sizeof(c.org)) != 0) {
		set_why(why, whylen, "org claim missing or invalid");
		goto out;
	}
	if (claim_role(j, payload, c.role, sizeof(c.role)) != 0) {
		set_why(why, whylen, "role claim missing or invalid");
		goto out;
	}
	if (claim_str(payload, "name", c.name, sizeof(c.name)) < 0 ||
	    claim_str(payload, "email", c.email, sizeof(c.email)) < 0 ||
	    claim_str(payload, "team", c.team, sizeof(c.team)) < 0) {
		set_why(why, whylen, "name, email or team claim invalid");
		goto out;
	}
	if (claim_time(payload, "exp", &c.exp) != 0) {
		set_why(why, whylen, "exp claim missing or invalid");
		goto out;
	}
	long long nbf = 0;
	int has_nbf = claim_time(payload, "nbf", &nbf);
	if (claim_time(payload, "iat", &c.iat) < 0 || has_nbf < 0) {
		set_why(why, whylen, "iat or nbf claim invalid");
		goto out;
	}
	if (j->issuer != NULL) {
		json_t *iss = json_object_get(payload, "iss");
		if (!json_is_string(iss) || strcmp(json_string_value(iss), j->issuer) != 0) {
			set_why(why, whylen, "iss does not match jwt_issuer");
			goto out;
		}
	}
	if (j->audience != NULL && !audience_ok(payload, j->audience)) {
		set_why(why, whylen, "aud does not match jwt_audience");
		goto out;
	}
	if (has_nbf == 0 && (long long)now + j->leeway < nbf) {
		set_why(why, whylen, "token not valid yet (nbf)");
		goto out;
	}
	/* RFC 7519 4.1.4: valid only while now is before exp. */
	if ((long long)now >= c.exp + j->leeway) {
		set_why(why, whylen, "token expired");
		st = PD_JWT_EXPIRED;
		goto out;
	}
	if (out != NULL)
		*out = c;
	set_why(why, whylen, "ok");
	st = PD_JWT_OK;
out:
	if (jwt != NULL)
		jwt_free(jwt);
	json_decref(header);
	json_decref(payload);
	return st;
}

enum pd_jwt_status pd_jwt_verify(const struct pd_jwt *j, const char *token, time_t now,
				 struct pd_claims *out)
{
	return pd_jwt_verify_ex(j, token, now, out, NULL, 0);
}

char *pd_jwt_sign(const struct pd_jwt *j, const struct pd_claims *c, time_t now, long ttl,
		  char *err, size_t errlen)
{
	jwt_t *jwt = NULL;
	char *tok = NULL;
	int rc;

	if (j->skey == NULL) {
		snprintf(err, errlen, "jwt_private_key_file: required to sign %s tokens", j->alg_name);
		return NULL;
	}
	if (c->sub[0] == '\0' || c->org[0] == '\0' || !pd_role_valid(c->role)) {
		snprintf(err, errlen, "claims need sub, org and a valid role");
		return NULL;
	}
	if (ttl <= 0) {
		snprintf(err, errlen, "ttl must be positive");
		return NULL;
	}
	if ((rc = jwt_new(&jwt)) != 0) {
		snprintf(err, errlen, "jwt_new: %s", strerror(rc));
		return NULL;
	}
	rc = jwt_set_alg(jwt, j->alg, j->skey, (int)j->skey_len);
	if (rc == 0)
		rc = jwt_add_grant(jwt, "sub", c->sub);
	if (rc == 0)
		rc = jwt_add_grant(jwt, "org", c->org);
	if (rc == 0)
		rc = jwt_add_grant(jwt, "role", c->role);
	if (rc == 0)
		rc = jwt_add_grant(jwt, "name", c->name);
	if (rc == 0)
		rc = jwt_add_grant(jwt, "email", c->email);
	if (rc == 0 && c->team[0] != '\0')
		rc = jwt_add_grant(jwt, "team", c->team);
	if (rc == 0)
		rc = jwt_add_grant_int(jwt, "iat", (long)now);
	if (rc == 0)
		rc = jwt_add_grant_int(jwt, "exp", (long)now + ttl);
	if (rc == 0 && j->issuer != NULL)
		rc = jwt_add_grant(jwt, "iss", j->issuer);
	if (rc == 0 && j->audience != NULL)
		rc = jwt_add_grant(jwt, "aud", j->audience);
	if (rc != 0) {
		snprintf(err, errlen, "cannot build token: %s", strerror(rc));
		goto out;
	}
	tok = jwt_encode_str(jwt);
	if (tok == NULL)
		snprintf(err, errlen, "cannot sign token: %s", strerror(errno ? errno : EINVAL));
out:
	jwt_free(jwt);
	return tok;
}
