/* pd_log: one line per event, with a syslog level, to stderr or syslog.
 * The level is checked before any formatting so that disabled debug lines
 * cost one comparison. */
#ifndef PD_LOG_H
#define PD_LOG_H

#include <syslog.h>

enum pd_log_target { PD_LOG_STDERR = 0, PD_LOG_SYSLOG = 1 };

/* ident: program name for syslog and the stderr prefix. level: LOG_ERR..LOG_DEBUG. */
void pd_log_init(const char *ident, int level, enum pd_log_target target);
void pd_log_set_level(int level);
int pd_log_get_level(void);
/* "error", "warning", "notice", "info", "debug" (also "warn", "err") -> LOG_*; -1 if unknown. */
int pd_log_level_parse(const char *s);
/* "stderr" or "syslog" -> target; -1 if unknown. */
int pd_log_target_parse(const char *s);

void pd_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pd_log(level, ...)                                                     \
	do {                                                                   \
		if ((level) <= pd_log_get_level())                             \
			pd_log_write((level), __VA_ARGS__);                    \
	} while (0)

#endif
