/* Fuzz target for pd_jwt_verify: the input is a token. Also signs a token
 * whose name claim comes from the input and checks that it verifies and
 * gives the same claims back. */
#include "pd_cfg.h"
#include "pd_jwt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pd_jwt *jwt;

static struct pd_jwt *setup(void)
{
	struct pd_cfg *c = pd_cfg_new();
	char err[256];
	if (c == NULL || pd_cfg_set(c, "jwt_secret", "fuzz-secret-0123456789abcdef0123456789") ||
	    pd_cfg_set(c, "jwt_audience", "pushdesk") || pd_cfg_set(c, "jwt_leeway", "5"))
		abort();
	struct pd_jwt *j = pd_jwt_new(c, err, sizeof(err));
	pd_cfg_free(c);
	if (j == NULL)
		abort();
	return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pd_claims out;
	if (jwt == NULL)
		jwt = setup();

	char *tok = malloc(size + 1);
	if (tok == NULL)
		return 0;
	memcpy(tok, data, size);
	tok[size] = '\0';
	enum pd_jwt_status st = pd_jwt_verify(jwt, tok, 1700000000, &out);
	if (st == PD_JWT_OK && (out.sub[0] == '\0' || out.org[0] == '\0' || !pd_role_valid(out.role)))
		abort();
	if (st == PD_JWT_MISSING && size != 0 && tok[0] != '\0')
		abort();

	/* Round trip: any name that can be signed must come back unchanged. */
	struct pd_claims c;
	char err[256];
	memset(&c, 0, sizeof(c));
	strcpy(c.sub, "user-1");
	strcpy(c.org, "org-1");
	strcpy(c.role, "agent");
	size_t n = strnlen(tok, sizeof(c.name) - 1);
	memcpy(c.name, tok, n);
	char *signed_tok = pd_jwt_sign(jwt, &c, 1700000000, 60, err, sizeof(err));
	if (signed_tok != NULL) {
		memset(&out, 0, sizeof(out));
		if (pd_jwt_verify(jwt, signed_tok, 1700000010, &out) != PD_JWT_OK ||
		    strcmp(out.name, c.name) != 0 || out.exp != 1700000060)
			abort();
		free(signed_tok);
	}
	free(tok);
	return 0;
}
