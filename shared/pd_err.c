/* pd_err: the one table of error codes shared by the API and the broker:
 * wire code, HTTP status and default message for each enum pd_err. */
#include "pd_err.h"

#include <stddef.h>

static const struct {
	const char *code;
	int status;
	const char *message;
} errs[PD_E__COUNT] = {
	[PD_OK] = {"OK", 200, "ok"},
	[PD_E_BAD_REQUEST] = {"BAD_REQUEST", 400, "bad request"},
	[PD_E_UNAUTHORIZED] = {"UNAUTHORIZED", 401, "authentication required"},
	[PD_E_FORBIDDEN] = {"FORBIDDEN", 403, "forbidden"},
	[PD_E_NOT_FOUND] = {"NOT_FOUND", 404, "not found"},
	[PD_E_METHOD] = {"METHOD_NOT_ALLOWED", 405, "method not allowed"},
	[PD_E_CONFLICT] = {"CONFLICT", 409, "conflict"},
	[PD_E_TOO_LARGE] = {"PAYLOAD_TOO_LARGE", 413, "payload too large"},
	[PD_E_UNSUPPORTED_MEDIA] = {"UNSUPPORTED_MEDIA_TYPE", 415, "unsupported media type"},
	[PD_E_RATE_LIMITED] = {"RATE_LIMITED", 429, "rate limited"},
	[PD_E_INTERNAL] = {"INTERNAL", 500, "internal error"},
	[PD_E_BAD_GATEWAY] = {"BAD_GATEWAY", 502, "bad gateway"},
	[PD_E_UNAVAILABLE] = {"UNAVAILABLE", 503, "service unavailable"},
	[PD_E_TIMEOUT] = {"GATEWAY_TIMEOUT", 504, "gateway timeout"},
};

/* Out-of-range values are a programmer error; map them to INTERNAL rather
 * than read past the table. */
static enum pd_err clamp(enum pd_err e)
{
	return ((unsigned)e < PD_E__COUNT) ? e : PD_E_INTERNAL;
}

const char *pd_err_code(enum pd_err e)
{
	return errs[clamp(e)].code;
}

int pd_err_http_status(enum pd_err e)
{
	return errs[clamp(e)].status;
}

const char *pd_err_message(enum pd_err e)
{
	return errs[clamp(e)].message;
}
