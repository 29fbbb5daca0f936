/* xmalloc.h - allocation that ends the process on out-of-memory, so callers
 * never carry half-handled NULLs. */
#ifndef BEVIS_XMALLOC_H
#define BEVIS_XMALLOC_H

#include <stddef.h>

#include "log.h"

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

#endif
