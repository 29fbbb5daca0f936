/* bundle_incident.h - an incident in an offline bundle (docs/LEDGER.md,
 * "Incident bundles"): what bevis export --incident reads and writes
 * besides the submissions, the custody record it leaves, and what
 * verify-bundle checks of it. */
#ifndef BEVIS_BUNDLE_INCIDENT_H
#define BEVIS_BUNDLE_INCIDENT_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "buf.h"
#include "bundle.h"
#include "cli.h"

#define INCIDENTS_DIR	"incidents"

/* One incident's part of an export: the incident asked for first, then
 * those merged into it. */
struct inc_part {
	char *ref;
	PGresult *decisions;	/* INC_DECISIONS_SQL's columns */
	PGresult *links;
	struct buf *proofs;	/* one per decision: 32-byte hashes */
	struct buf *data;	/* one per decision: its leaf data */
};

struct inc_export {
	const char *ref_arg;	/* --incident */
	const char *reason;	/* --reason */
	struct inc_part *parts;
	size_t nparts;
	long decisions, links;
};

/* Reads the incident, the incidents merged into it, their decisions and
 * links, in x's snapshot on conn, and the ids of the submissions linked to
 * them (directly or by an event in force) into *ids (malloc'd, sorted).
 * Returns -1 after printing why (no such incident, protected, ...). */
int incident_export_select(PGconn *conn, struct inc_export *ie, int64_t **ids,
    size_t *nids);
/* The largest leaf index among the decisions; -1 when none. */
int64_t incident_export_maxleaf(const struct inc_export *ie);
/* Every decision leaf's inclusion proof against the head, checked. */
int incident_export_prove(PGconn *conn, struct inc_export *ie, uint64_t size,
    const unsigned char root[32]);
/* Writes incidents/REF.json for each, and appends the manifest's
 * "incidents" member (starting with a comma). */
int incident_export_write(struct inc_export *ie, const char *dir,
    struct buf *manifest);
/* Records the export as a custody record (bevis_custody_record) in a
 * transaction of its own: who is the login, bundle_sha256 the SHA-256 of
 * manifest.json. On failure removes what export wrote to dir (made new
 * when !dir_existed) and returns -1: an export without its record is not
 * left behind. */
int incident_export_record(struct cli *cli, struct inc_export *ie,
    const char *dir, int dir_existed, long long tree_size,
    const struct buf *manifest, const int64_t *ids, size_t nids);
void incident_export_free(struct inc_export *ie);

/* verify-bundle: the manifest's "incidents" and their files. */
void bundle_check_incidents(struct bundle *c, json_object *m);

/* bundle.c's checks, for this file. */
void bundle_problem(struct bundle *c, const char *fmt, ...) PRINTF_LIKE(2, 3);
int bundle_leaf(struct bundle *c, const char *what, json_object *o,
    struct buf *data, int64_t *index);
/* cmd_export.c: an inclusion proof of leaf (data) against the head, from
 * the stored nodes, checked; 32-byte hashes into proof. */
int export_prove_leaf(PGconn *conn, int64_t leaf, const struct buf *data,
    uint64_t size, const unsigned char root[32], struct buf *proof);

#endif
