/* auth.h - who may send: the active suppliers' CURVE keys, loaded from the
 * database by a thread of their own, and the ZAP handler that admits a
 * connection only when its key is one of them. */
#ifndef BEVIS_AUTH_H
#define BEVIS_AUTH_H

#include <event2/event.h>
#include <stdint.h>

#include "config.h"
#include "curvekey.h"

/* One key that admits a supplier. A supplier whose key was rotated has two
 * entries until the old key's overlap ends (sql/0014_protocol11.sql). */
struct supplier {
	int32_t id;
	char name[64];
	unsigned char key[32];
	char fingerprint[CURVE_FINGERPRINT_LEN + 1];
	int64_t valid_until_us;		/* 0: the current key, no end */
};

struct auth;

/* Binds the ZAP handler in zctx; call it before binding the ROUTER socket. */
struct auth *auth_bind(void *zctx, const struct config *cfg);
/* Loads the suppliers once (waiting up to a few seconds for the database,
 * or taking the copy of the last load in cfg->state_dir when it does not
 * answer), starts answering ZAP requests on the loop and keeps the list
 * fresh: every cfg->supplier_refresh seconds, on auth_reload(), and after a
 * failed load again within 0.25 to 5 s. */
void auth_run(struct auth *a, struct event_base *base);
/* The supplier whose key has this fingerprint (the ZAP User-Id bevisd
 * gives a connection), or NULL when the key no longer admits anyone: its
 * supplier was revoked, or its overlap after a rotation has ended. Valid
 * until the next return to the event loop. */
const struct supplier *auth_find(struct auth *a, const char *fingerprint);
void auth_reload(struct auth *a);
/* Has the ZAP handler refuse a supplier's key while full(arg, its id)
 * says it has as many sessions as it may. */
void auth_set_gate(struct auth *a, int (*full)(void *arg, int32_t id),
    void *arg);
void auth_stop(struct auth *a);

#endif
