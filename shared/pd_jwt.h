/* pd_jwt: access tokens (contract section 2) over libjwt. The algorithm is
 * pinned by configuration: a token whose header names any other algorithm,
 * "none" included, is refused before its signature is looked at. */
#ifndef PD_JWT_H
#define PD_JWT_H

#include <stddef.h>
#include <time.h>

struct pd_cfg;

#define PD_ID_MAX 64
#define PD_NAME_MAX 256

struct pd_claims {
	char sub[PD_ID_MAX];   /* user id */
	char org[PD_ID_MAX];   /* organization id */
	char role[16];         /* customer | agent | admin | service */
	char name[PD_NAME_MAX];
	char email[PD_NAME_MAX];
	char team[PD_ID_MAX];  /* "" when absent */
	long long iat, exp;
};

enum pd_jwt_status {
	PD_JWT_OK = 0,
	PD_JWT_MISSING,  /* NULL or empty token -> AUTH_TOKEN_MISSING */
	PD_JWT_EXPIRED,  /* valid signature, exp past (with leeway) -> AUTH_TOKEN_EXPIRED */
	PD_JWT_INVALID,  /* anything else -> AUTH_TOKEN_INVALID */
};

struct pd_jwt;  /* keys and policy, immutable after creation: safe to share between threads */

/* From jwt_alg, jwt_secret, jwt_public_key_file, jwt_private_key_file,
 * jwt_issuer, jwt_audience, jwt_leeway, and for foreign tokens
 * jwt_sub_claims, jwt_org_claims (claim names, first present wins),
 * jwt_role_map (FOREIGN:ROLE pairs) and jwt_default_role. NULL with err
 * filled, naming the key, on a bad configuration (unknown alg, missing
 * secret or key file, a malformed list or map, a target that is not one of
 * our roles). */
struct pd_jwt *pd_jwt_new(const struct pd_cfg *cfg, char *err, size_t errlen);
void pd_jwt_free(struct pd_jwt *j);

/* Verify a compact JWS. now: seconds since the epoch. On PD_JWT_OK, out is
 * filled; a user (first of jwt_sub_claims), an organization (first of
 * jwt_org_claims) and a role are required. The role is matched without
 * regard to case and renamed by jwt_role_map; missing or unknown after
 * that, it is jwt_default_role, or the token is PD_JWT_INVALID when that is
 * empty. out->role is always one of ours, in lower case. */
enum pd_jwt_status pd_jwt_verify(const struct pd_jwt *j, const char *token, time_t now,
				 struct pd_claims *out);
/* The same, also saying why a token was refused ("token expired", "algorithm
 * is not the configured one"...) in why (may be NULL): for debug logs and
 * tests, never for clients. */
enum pd_jwt_status pd_jwt_verify_ex(const struct pd_jwt *j, const char *token, time_t now,
				    struct pd_claims *out, char *why, size_t whylen);
/* "AUTH_TOKEN_MISSING" etc. */
const char *pd_jwt_status_code(enum pd_jwt_status s);

/* Sign claims (iat = now, exp = now + ttl) with the configured algorithm
 * (HS* with jwt_secret, RS* or ES* with jwt_private_key_file). Returns a
 * malloc'd token or NULL with err filled. */
char *pd_jwt_sign(const struct pd_jwt *j, const struct pd_claims *c, time_t now, long ttl,
		  char *err, size_t errlen);

/* 1 if role is one of customer, agent, admin, service. */
int pd_role_valid(const char *role);

#endif
