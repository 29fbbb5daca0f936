/* treehead.h - signed tree heads of the ledger. */
#ifndef BEVIS_TREEHEAD_H
#define BEVIS_TREEHEAD_H

#include <libpq-fe.h>

struct checkpoint_signer;

/* Signs a tree head over everything committed so far, if that is more than
 * the newest head covers, and stores it. Any bevisd on the database may
 * sign; a size already signed is left as it is. 0 when there was nothing
 * new or the head is stored; -1 (logged) otherwise. */
int treehead_sign(PGconn *conn, const struct checkpoint_signer *signer);

#endif
