/* pd_errmsg: the error message of a parser or a check, written into the
 * caller's buffer (err, errlen), for the many functions that return -1
 * and say why. */
#ifndef PD_ERRMSG_H
#define PD_ERRMSG_H

#include <stddef.h>

/* Formats into err (NULL or errlen 0: nothing; truncation is fine) and
 * returns -1, so that `return pd_errmsg(err, errlen, "...")` fails. */
int pd_errmsg(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
