/* pd_errmsg: formats a parser's error message into the caller's buffer. */
#include "pd_errmsg.h"

#include <stdarg.h>
#include <stdio.h>

int pd_errmsg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}
