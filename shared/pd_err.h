/* pd_err: the error vocabulary that the API and the broker share, with the
 * code string that goes on the wire and the HTTP status the API uses. */
#ifndef PD_ERR_H
#define PD_ERR_H

enum pd_err {
	PD_OK = 0,
	PD_E_BAD_REQUEST,      /* 400 BAD_REQUEST */
	PD_E_UNAUTHORIZED,     /* 401 UNAUTHORIZED */
	PD_E_FORBIDDEN,        /* 403 FORBIDDEN */
	PD_E_NOT_FOUND,        /* 404 NOT_FOUND */
	PD_E_METHOD,           /* 405 METHOD_NOT_ALLOWED */
	PD_E_CONFLICT,         /* 409 CONFLICT */
	PD_E_TOO_LARGE,        /* 413 PAYLOAD_TOO_LARGE */
	PD_E_UNSUPPORTED_MEDIA,/* 415 UNSUPPORTED_MEDIA_TYPE */
	PD_E_RATE_LIMITED,     /* 429 RATE_LIMITED */
	PD_E_INTERNAL,         /* 500 INTERNAL (never sent by the API: it maps to 503) */
	PD_E_BAD_GATEWAY,      /* 502 BAD_GATEWAY (nginx error_page) */
	PD_E_UNAVAILABLE,      /* 503 UNAVAILABLE */
	PD_E_TIMEOUT,          /* 504 GATEWAY_TIMEOUT (nginx error_page) */
	PD_E__COUNT
};

/* The wire code, e.g. "NOT_FOUND". Never NULL. */
const char *pd_err_code(enum pd_err e);
/* The HTTP status, e.g. 404. */
int pd_err_http_status(enum pd_err e);
/* The default human message, e.g. "not found". Never NULL. */
const char *pd_err_message(enum pd_err e);

#endif
