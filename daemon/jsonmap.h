/* jsonmap.h - field maps for foreign JSON (docs/FORMATS.md, "Foreign JSON
 * through a field map"): the json_maps file that names, per map, the JSON
 * Pointer (RFC 6901) each normalized field is read from, and assigns one
 * map to each supplier that sends its product's own JSON. Loaded once at
 * start, before the writer threads; read-only after that. */
#ifndef BEVIS_JSONMAP_H
#define BEVIS_JSONMAP_H

#include <stddef.h>

#include "event.h"
#include "log.h"

struct json_object;

/* The normalized fields a map can fill, in the order the file lists them. */
enum jsonmap_field {
	JM_ID, JM_TIME, JM_SEVERITY, JM_CATEGORY, JM_ACTION, JM_OUTCOME,
	JM_ACTOR_USER, JM_TARGET, JM_MESSAGE, JM_SRC_IP, JM_NFIELDS
};

/* A JSON Pointer, its reference tokens decoded (~1 is '/', ~0 is '~'). */
struct jsonptr {
	char *text;		/* as written; NULL: the field is not mapped */
	char **tokens;
	size_t ntokens;
};

/* A raw severity value (a string, or a number's text) and its 0..6. */
struct jsonmap_sev {
	char *raw;
	int severity;
};

struct jsonmap {
	char *name;
	int line;			/* of its [map NAME] header */
	struct jsonptr ptr[JM_NFIELDS];
	struct jsonmap_sev *sev;	/* severity_values; none: 0..6 or names */
	size_t nsev;
};

struct jsonmaps {
	struct jsonmap *maps;
	size_t n;
	char **suppliers;		/* supplier name ... */
	size_t *supplier_map;		/* ... and the index of its map */
	size_t nsup;
};

/* The name of a field in the file: "id", "actor.user", "src.ip". */
const char *jsonmap_field_name(enum jsonmap_field f);
/* Parses an RFC 6901 pointer (not the empty one: a field is a member).
 * Returns -1 with a reason in why. p is the caller's (jsonptr_free). */
int jsonptr_parse(const char *text, struct jsonptr *p, char *why,
    size_t whylen) MUSTCHECK;
void jsonptr_free(struct jsonptr *p);
/* The value p points at in root, or NULL when it points at nothing (or at
 * a null). *parent is the object holding it, NULL for an array element. */
struct json_object *jsonptr_get(const struct jsonptr *p,
    struct json_object *root, struct json_object **parent);

/* Reads the json_maps file at path. On error returns -1 with
 * "path:line: reason" in err, and out holds nothing. */
int jsonmaps_load(const char *path, struct jsonmaps *out, char *err,
    size_t errlen) MUSTCHECK;
void jsonmaps_free(struct jsonmaps *m);
/* The map of that supplier, or NULL. */
const struct jsonmap *jsonmaps_for(const struct jsonmaps *m,
    const char *supplier);

/* The process's maps, which application/x-mapped-ndjson items are read
 * through. Set before the writer threads start (m stays the caller's);
 * NULL: none. */
void jsonmaps_install(const struct jsonmaps *m);
const struct jsonmaps *jsonmaps_installed(void);

/* Parses one item through map (parse_jsonmap.c), as struct parser's parse
 * does: on success ev's strings stay valid until event_clear(ev) and the
 * next parse on this thread; on failure err says why. */
int jsonmap_parse(const struct jsonmap *map, const unsigned char *item,
    size_t len, struct sec_event *ev, char *err, size_t errlen) MUSTCHECK;

#endif
