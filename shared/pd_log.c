/* pd_log: one line per event to stderr ("2026-11-22T20:00:00Z ident[pid]:
 * level: message") or to syslog. The level is a plain global: a racy read
 * of an int costs nothing and at worst logs one line more or less. */
#include "pd_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define PD_LOG_LINE_MAX 2048

static int log_level = LOG_INFO;
static enum pd_log_target log_target = PD_LOG_STDERR;
static char log_ident[64] = "pushdesk";

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG: return "emerg";
	case LOG_ALERT: return "alert";
	case LOG_CRIT: return "crit";
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_INFO: return "info";
	default: return "debug";
	}
}

void pd_log_init(const char *ident, int level, enum pd_log_target target)
{
	if (ident != NULL)
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	pd_log_set_level(level);
	log_target = target;
	if (target == PD_LOG_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void pd_log_set_level(int level)
{
	if (level < LOG_EMERG)
		level = LOG_EMERG;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_level = level;
}

int pd_log_get_level(void)
{
	return log_level;
}

int pd_log_level_parse(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} names[] = {
		{"emerg", LOG_EMERG}, {"alert", LOG_ALERT}, {"crit", LOG_CRIT},
		{"error", LOG_ERR}, {"err", LOG_ERR}, {"warning", LOG_WARNING},
		{"warn", LOG_WARNING}, {"notice", LOG_NOTICE}, {"info", LOG_INFO},
		{"debug", LOG_DEBUG},
	};
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].level;
	return -1;
}

int pd_log_target_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcasecmp(s, "stderr") == 0)
		return PD_LOG_STDERR;
	if (strcasecmp(s, "syslog") == 0)
		return PD_LOG_SYSLOG;
	return -1;
}

void pd_log_write(int level, const char *fmt, ...)
{
	char msg[PD_LOG_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4); /* mark the truncation */
	/* One event, one line: a newline inside the message would let a
	 * client-controlled string forge a log line. */
	for (char *p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';

	if (log_target == PD_LOG_SYSLOG) {
		syslog(level, "%s: %s", level_name(level), msg);
		return;
	}

	char line[PD_LOG_LINE_MAX + 160];
	char ts[32] = "";
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	if (gmtime_r(&now.tv_sec, &tm) != NULL)
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line), "%s %s[%ld]: %s: %s\n", ts, log_ident, (long)getpid(),
		     level_name(level), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* A single write(2) keeps lines from several threads whole. */
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}
