/* ledgerdb.h - reading the ledger's stored nodes for proofs. */
#ifndef BEVIS_LEDGERDB_H
#define BEVIS_LEDGERDB_H

#include <libpq-fe.h>

#include "log.h"
#include "merkle.h"

/* Fills in the hashes of the nodes listed in ns (level 0 from ledger_leaf,
 * the rest from ledger_node) with one query. */
int ledger_fetch_nodes(PGconn *conn, struct merkle_nodes *ns, char *err,
    size_t errlen) MUSTCHECK;
/* An inclusion proof of leaf in a tree of size, with that tree's root. */
int ledger_inclusion(PGconn *conn, uint64_t leaf, uint64_t size,
    unsigned char path[][MERKLE_HASH_LEN], size_t *len,
    unsigned char root[MERKLE_HASH_LEN], unsigned char leaf_hash[MERKLE_HASH_LEN],
    char *err, size_t errlen) MUSTCHECK;

#endif
