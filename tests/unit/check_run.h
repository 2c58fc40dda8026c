/* check_run: the closing of every Check program's main(), in one place:
 * run the suite, free it, exit non-zero on any failure. */
#ifndef PD_CHECK_RUN_H
#define PD_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
