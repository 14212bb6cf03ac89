/*
 * replay.c - the fuzz targets without libFuzzer: run every file named on
 * the command line, or found in a directory named there (missing ones are
 * skipped), through LLVMFuzzerTestOneInput once.  ctest runs each target
 * over its seed corpus (t/fuzz/corpus/TARGET) and the crashes kept from
 * fuzzing (t/fuzz/crashes/TARGET): a crash that comes back fails the test.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t size = 0, cap = 0, n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	do {
		if (size == cap) {
			uint8_t *b = realloc(buf, cap = cap ? 2 * cap : 4096);

			if (b == NULL) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = b;
		}
		n = fread(buf + size, 1, cap - size, f);
		size += n;
	} while (n > 0);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned runs = 0, failed = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if (stat(argv[i], &st) != 0)
			continue;	/* no crashes kept: nothing to replay */
		if (!S_ISDIR(st.st_mode)) {
			failed += run_file(argv[i]) != 0;
			runs++;
			continue;
		}
		if ((d = opendir(argv[i])) == NULL) {
			perror(argv[i]);
			return 1;
		}
		while ((e = readdir(d)) != NULL) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			failed += run_file(path) != 0;
			runs++;
		}
		closedir(d);
	}
	printf("%u inputs replayed, %u unreadable\n", runs, failed);
	return failed != 0;
}
