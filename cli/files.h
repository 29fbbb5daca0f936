/* files.h - whole-file reads and writes for the commands that handle files. */
#ifndef BEVIS_FILES_H
#define BEVIS_FILES_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "log.h"

/* Reads the whole regular file path into out (replacing its contents), at
 * most max bytes. Returns -1 with the reason in err ("missing" when it does
 * not exist). */
int file_read_whole(const char *path, size_t max, struct buf *out, char *err,
    size_t errlen) MUSTCHECK;
/* Creates path (it must not exist; a symlink is refused) with exactly mode,
 * whatever the umask, writes data and syncs it to disk. Returns -1 with
 * "path: reason" in err. */
int file_write_new(const char *path, const void *data, size_t len,
    mode_t mode, char *err, size_t errlen) MUSTCHECK;

#endif
