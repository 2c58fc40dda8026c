/* pd_cfg: pushdesk.conf (key = value, '#' comments), every key overridable
 * by the environment variable PUSHDESK_<KEY>. Only known keys are accepted:
 * the table in pd_cfg.c is the single list of keys, with defaults, that
 * pushdesk.conf(5) documents. */
#ifndef PD_CFG_H
#define PD_CFG_H

#include <stddef.h>

struct pd_cfg;

/* A config holding every key's default. NULL on ENOMEM. */
struct pd_cfg *pd_cfg_new(void);
void pd_cfg_free(struct pd_cfg *c);

/* Read a file. 0, or -1 with err = "FILE:LINE: reason" (bad syntax, unknown
 * key, value too long, unreadable file). Later keys override earlier ones. */
int pd_cfg_load_file(struct pd_cfg *c, const char *path, char *err, size_t errlen);
/* Apply PUSHDESK_<KEY> variables from envp (NULL = environ). Unknown
 * PUSHDESK_* variables are ignored (PUSHDESK_STATE etc. belong to scripts). */
int pd_cfg_load_env(struct pd_cfg *c, char **envp, char *err, size_t errlen);
/* The usual order for a program: path (if not NULL, else $PUSHDESK_CONFIG if
 * set, else no file), then the environment. */
int pd_cfg_load(struct pd_cfg *c, const char *path, char *err, size_t errlen);

/* Set one key (as a file line would). 0, or -1 if the key is unknown. */
int pd_cfg_set(struct pd_cfg *c, const char *key, const char *value);

/* The value (the default when unset); "" for an empty value; NULL only for a
 * key that is not in the table (a programmer error). Borrowed from c. */
const char *pd_cfg_get(const struct pd_cfg *c, const char *key);
/* Integer value. 0, or -1 with err filled if not an integer in [min,max]. */
int pd_cfg_get_long(const struct pd_cfg *c, const char *key, long min, long max, long *out,
		    char *err, size_t errlen);
/* 1 for yes/true/on/1, 0 for no/false/off/0/""; -1 otherwise. */
int pd_cfg_get_bool(const struct pd_cfg *c, const char *key);

/* A rate "COUNT/SECONDS" (both >= 1), e.g. rate_default = 100/60. 0, or -1
 * with err filled ("FILE:LINE: KEY: ..." when the value came from a file). */
int pd_cfg_get_rate(const struct pd_cfg *c, const char *key, long *count, long *seconds,
		    char *err, size_t errlen);

/* Notes on the functions above:
 * - integer keys must hold a non-negative integer and rate keys COUNT/SECONDS:
 *   load_file, load_env and pd_cfg_set refuse anything else (set: -1);
 * - values are at most 4096 bytes; '#' starts a comment only at the start of
 *   a line, so a secret may contain '#'; "..." quotes keep blanks, with \"
 *   and \\ as the only escapes;
 * - get_long/get_rate errors name where the value came from. */

/* Iterate the table, for docs and checks: returns the i-th key name and its
 * default, or NULL past the end. */
const char *pd_cfg_key_at(size_t i, const char **default_value, const char **help);

#endif
