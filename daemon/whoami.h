/* whoami.h - who a connection is, as the pong of protocol 1.1 tells it. */
#ifndef BEVIS_WHOAMI_H
#define BEVIS_WHOAMI_H

#include "auth.h"
#include "buf.h"

/* Appends "whoami":{...} to b: with CURVE (curve nonzero) the key's
 * fingerprint (uid, the ZAP User-Id, may be NULL), and when sup is the
 * supplier it admits now, its name, key_active true and, for a key rotated
 * out, when it stops; key_active false otherwise. Without CURVE,
 * {"mechanism":"NULL"}. */
void whoami_put(struct buf *b, int curve, const char *uid,
    const struct supplier *sup);

#endif
