/* keyfile.h - secret key files: read only when nobody but the owner can
 * read them, written with mode 0600. */
#ifndef BEVIS_KEYFILE_H
#define BEVIS_KEYFILE_H

#include <stddef.h>

#include "buf.h"
#include "checkpoint.h"
#include "log.h"

/* Opens path for reading when it is a regular file; refuses anything else
 * (a FIFO, a device, a directory) at once, without blocking, with err
 * naming what it is. Returns the descriptor (the caller closes it) or -1. */
int keyfile_open_regular(const char *path, char *err, size_t errlen) MUSTCHECK;
/* Without opening it (bevisd -n may not be allowed to read a key): -1 with
 * err set when path exists and is not a regular file; 0 otherwise. */
int keyfile_check_regular(const char *path, char *err, size_t errlen)
    MUSTCHECK;
/* Reads path into out (NUL-terminated, trailing newline removed). With
 * secret set, refuses a file that group or others may read. */
int keyfile_read(const char *path, int secret, struct buf *out, char *err,
    size_t errlen) MUSTCHECK;
/* Writes data to path, creating it with mode (0600 or 0644); refuses to
 * overwrite an existing file. */
int keyfile_write(const char *path, const void *data, size_t len, int mode,
    char *err, size_t errlen) MUSTCHECK;
int keyfile_read_signer(const char *path, struct checkpoint_signer *s,
    char *err, size_t errlen) MUSTCHECK;
int keyfile_read_verifier(const char *path, struct checkpoint_verifier *v,
    char *err, size_t errlen) MUSTCHECK;

#endif
