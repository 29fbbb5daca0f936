#ifndef BEVIS_MIGRATIONS_H
#define BEVIS_MIGRATIONS_H

#include <stddef.h>

struct migration {
	int version;
	const char *name;
	const char *sql;
};

/* The files of sql/ in order, ending with a zeroed entry. */
extern const struct migration migrations[];

#endif
