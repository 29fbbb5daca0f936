/* verify_rules.c - bevis verify's pass over the rules: every rule leaf
 * (kind 6) decodes and is, byte for byte, its rule row encoded again;
 * every rule row has its leaf; each rule's versions run 1, 2, ... in leaf
 * order. Reads on conn[0], in the snapshot of the other passes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ledger.h"
#include "verify.h"

#define LEAF_QUERY "SELECT idx, data FROM ledger_leaf WHERE kind = 'rule' " \
	"ORDER BY idx"
#define ROW_QUERY "SELECT leaf_idx, name, version, enabled, spec::text, " \
	"actor, (extract(epoch FROM at) * 1000000)::bigint, " \
	"version = row_number() OVER (PARTITION BY name ORDER BY leaf_idx) " \
	"FROM rule ORDER BY leaf_idx"

/* The first field in which the decoded leaf k and row j differ, or NULL. */
static const char *
rule_difference(const struct ledger_rule *k, const PGresult *cr, int j)
{
	return strcmp(k->name, PQgetvalue(cr, j, 1)) != 0 ? "name" :
	    k->version != atoi(PQgetvalue(cr, j, 2)) ? "version" :
	    k->enabled != (PQgetvalue(cr, j, 3)[0] == 't') ? "enabled flag" :
	    strcmp(k->spec, PQgetvalue(cr, j, 4)) != 0 ? "rule text" :
	    strcmp(k->actor, PQgetvalue(cr, j, 5)) != 0 ? "actor" :
	    k->at_us != atoll(PQgetvalue(cr, j, 6)) ? "time" : NULL;
}

int
verify_rules(struct verify *v)
{
	PGconn *c = v->conn[0];
	PGresult *lr = PQexec(c, LEAF_QUERY);
	PGresult *cr = PQexec(c, ROW_QUERY);
	int rc = -1;

	if (PQresultStatus(lr) != PGRES_TUPLES_OK ||
	    PQresultStatus(cr) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bevis verify: cannot read the rules: %s",
		    PQerrorMessage(c));
		goto out;
	}
	int nl = PQntuples(lr), nc = PQntuples(cr), i = 0, j = 0;
	/* Leaves and rows merged by leaf index. */
	while (i < nl || j < nc) {
		long long li = i < nl ? atoll(PQgetvalue(lr, i, 0)) : -1;
		long long ci = j < nc ? atoll(PQgetvalue(cr, j, 0)) : -1;

		if (i >= nl || (j < nc && ci < li)) {
			verify_problem(v, "rule %s version %s: recorded with "
			    "leaf %lld, which is not a rule leaf",
			    PQgetvalue(cr, j, 1), PQgetvalue(cr, j, 2), ci);
			j++;
			continue;
		}
		struct ledger_rule k;
		size_t dl;
		unsigned char *d = PQunescapeBytea((const unsigned char *)
		    PQgetvalue(lr, i, 1), &dl);
		const char *why = d ? ledger_decode_rule(d, dl, &k) :
		    "it cannot be read";

		i++;
		if (why) {
			verify_problem(v, "leaf %lld: a rule leaf that does not "
			    "decode: %s", li, why);
		} else if (j >= nc || ci != li) {
			verify_problem(v, "leaf %lld (rule %s version %d): no "
			    "rule row records it", li, k.name, (int)k.version);
		} else {
			const char *what = rule_difference(&k, cr, j);
			struct buf again = BUF_INIT;

			ledger_encode_rule(&again, &k);
			if (what)
				verify_problem(v, "leaf %lld (rule %s version %d): "
				    "the %s differs from its rule row", li, k.name,
				    (int)k.version, what);
			else if (again.len != dl || memcmp(again.data, d, dl))
				verify_problem(v, "leaf %lld (rule %s): its bytes "
				    "are not the canonical encoding", li, k.name);
			else if (PQgetvalue(cr, j, 7)[0] != 't')
				verify_problem(v, "rule %s: version %d is not the "
				    "one after its previous version", k.name,
				    (int)k.version);
			buf_free(&again);
		}
		if (j < nc && ci == li)
			j++;
		if (!why)
			ledger_rule_free(&k);
		PQfreemem(d);
	}
	rc = 0;
out:
	PQclear(lr);
	PQclear(cr);
	return rc;
}
