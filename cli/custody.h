/* custody.h - the custody records of incidents (sql/0009_custody.sql,
 * docs/LEDGER.md kind 5): a row as its leaf holds it, the pass of bevis
 * verify that replays the custody leaves against the rows, and the list
 * bevis show prints. */
#ifndef BEVIS_CUSTODY_H
#define BEVIS_CUSTODY_H

#include <libpq-fe.h>

#include "buf.h"
#include "ledger.h"
#include "verify.h"

/* The columns custody_row reads, from custody c joined to incident i and
 * to its leaf l (l.data hex, NULL when there is no custody leaf there). */
#define CUSTODY_ROW_COLUMNS "c.leaf_idx, i.ref, c.seq, c.action, c.actor, " \
	"(extract(epoch FROM c.at) * 1000000)::bigint, c.tree_size, " \
	"encode(c.bundle_sha256, 'hex'), c.items::text, c.reason, " \
	"c.destination, c.tool, encode(c.salt, 'hex'), encode(l.data, 'hex')"
#define CUSTODY_FROM "FROM custody c JOIN incident i ON i.id = c.incident_id " \
	"LEFT JOIN ledger_leaf l ON l.idx = c.leaf_idx AND l.kind = 'custody' "
enum { CU_LEAF, CU_REF, CU_SEQ, CU_ACTION, CU_ACTOR, CU_AT, CU_TREE,
	CU_BUNDLE, CU_ITEMS, CU_REASON, CU_DEST, CU_TOOL, CU_SALT, CU_DATA };

/* Row j of res as its leaf holds it (strings point into res). -1 when the
 * salt or the bundle digest is malformed. */
int custody_row(const PGresult *res, int j, struct ledger_custody *row);
/* What is wrong with row j against its leaf: NULL when the leaf is the
 * encoding of the row, else the first field that differs, or "leaf" when
 * there is none or it does not decode. */
const char *custody_check(const PGresult *res, int j);

/* The custody pass of bevis verify (on v->conn[0]). */
int verify_custody(struct verify *v);

/* ", N custody records" for verify's summary line; "" when there are
 * none. The string is static. */
const char *custody_summary(const struct verify *v);

/* bevis show: the custody records of incident id, as text or as a JSON
 * member ,"custody":[...]. Returns -1 after printing an error. */
int custody_show(PGconn *conn, const char *id, int json, struct buf *out);

#endif
