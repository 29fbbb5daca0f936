/* pull.h - the optional PULL endpoint (docs/PROTOCOL.md, "The PULL endpoint
 * for rsyslog"): single-frame lines as rsyslog's omczmq output pushes them,
 * from suppliers the ZAP handler admitted by key, batched into requests of
 * pull_content_type for the writers. Nobody is answered: a line in flight
 * (in the sender's queue, on the wire, or in a batch not yet handed to the
 * writers) is delivered at most once; once a batch is handed over it is
 * committed or spooled like any request. */
#ifndef BEVIS_PULL_H
#define BEVIS_PULL_H

#include <event2/event.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "writer.h"

struct pull;
struct auth;
struct request;

/* Checks the pull_ options; -1 with a reason when they do not fit. */
int pull_check_config(const struct config *cfg, int curve, char *err,
    size_t errlen) MUSTCHECK;
/* Binds cfg->pull_endpoint in zctx (a CURVE server with the same ZAP domain
 * as the ROUTER socket when curve_secret is given), or returns NULL when
 * no pull_endpoint is set. Fatal when the bind fails. */
struct pull *pull_bind(void *zctx, const struct config *cfg,
    const char *curve_secret);
/* Starts reading on the loop; with auth, a line's supplier is the one whose
 * key the ZAP handler admitted, else cfg->pull_supplier. */
void pull_start(struct pull *pl, struct event_base *base,
    struct writer_pool *pool, struct auth *auth);
/* Stops reading and hands the batches being filled to the writers. */
void pull_drain(struct pull *pl);
/* The receiver hands back a request this module submitted (route_len 0)
 * once a writer is done with it; the request stays the caller's. */
void pull_request_done(const struct request *r);
/* Appends the endpoint's counters in Prometheus text format. */
void pull_metrics(struct buf *b);
void pull_free(struct pull *pl);

#endif
