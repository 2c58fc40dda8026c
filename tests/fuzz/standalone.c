/* Replays fuzz inputs without libFuzzer: each argument is a file or a folder
 * of files fed once to LLVMFuzzerTestOneInput. `make check` runs every
 * target over its seed corpus this way, under the sanitizers when enabled. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;
	int rc = -1;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		goto out;
	/* +1 so that an empty file still gives a valid pointer. */
	if ((buf = malloc((size_t)n + 1)) == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
		goto out;
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "cannot read %s\n", path);
	free(buf);
	if (f != NULL)
		fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	int files = 0, failed = 0;
#ifdef PD_FUZZ_CORPUS
	/* With no arguments, replay the target's own seed corpus (for make check). */
	char *dflt[] = {argv[0], (char *)PD_FUZZ_CORPUS, NULL};
	if (argc == 1) {
		argc = 2;
		argv = dflt;
	}
#endif

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "cannot stat %s\n", argv[i]);
			failed++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			failed += run_file(argv[i]) != 0;
			files++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		while (d != NULL && (e = readdir(d)) != NULL) {
			char p[4096];
			if (e->d_name[0] == '.')
				continue;
			if (snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name) >= (int)sizeof(p))
				continue;
			failed += run_file(p) != 0;
			files++;
		}
		if (d != NULL)
			closedir(d);
	}
	printf("replayed %d inputs, %d unreadable\n", files, failed);
	return failed != 0 || files == 0;
}
