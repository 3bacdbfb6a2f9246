/*
 * tests/fuzz/fuzz_backup.c — ca_backup_unpack() (ca/unpack.c), the
 * reader of backup files that `ca-admin restore` runs on a file kept
 * anywhere: libarchive's tar reader, then our name, size and manifest
 * checks, writing into a scratch directory that is emptied each time.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/ops.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char file[] = "/tmp/lanyard-fuzz-backup.XXXXXX";
	char dir[] = "/tmp/lanyard-fuzz-unpack.XXXXXX";
	json_t *m = NULL;
	FILE *f;
	int fd;

	(void)fuzz_conf();
	if ((fd = mkstemp(file)) == -1 || mkdtemp(dir) == NULL)
		abort();
	if ((f = fdopen(fd, "w")) == NULL ||
	    (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
		abort();
	if (ca_backup_unpack(file, dir, &m) == LY_OK)
		json_decref(m);
	(void)ly_remove_tree(dir, 0);
	unlink(file);
	fuzz_reset();
	return 0;
}
