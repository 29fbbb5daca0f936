/* receive.h - the ZeroMQ ROUTER socket on the libevent loop: frames in,
 * requests to the writers, replies out. */
#ifndef BEVIS_RECEIVE_H
#define BEVIS_RECEIVE_H

#include <event2/event.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "writer.h"

struct receiver;

struct auth;

/* Binds cfg->endpoint in zctx, as a CURVE server when curve_secret (Z85)
 * is given. Returns NULL and logs why on failure. */
struct receiver *receiver_bind(void *zctx, const struct config *cfg,
    const char *curve_secret);
/* Starts reading on the loop. With auth, each request's supplier is the
 * one whose key the ZAP handler admitted. */
void receiver_start(struct receiver *rc, struct event_base *base,
    struct writer_pool *pool, struct auth *auth);
/* Stops reading new requests; the loop breaks once every request in
 * flight has been answered. */
void receiver_drain(struct receiver *rc);
/* Sends the replies still waiting after the writers stopped. */
void receiver_flush(struct receiver *rc);
void receiver_free(struct receiver *rc);
/* The endpoint libzmq actually bound (ZMQ_LAST_ENDPOINT), or "". */
void receiver_last_endpoint(struct receiver *rc, char *out, size_t len);
/* For the ZAP handler: nonzero (and counted as a refusal) when the
 * supplier already has max_connections_per_supplier live sessions. arg is
 * the struct receiver. */
int receiver_supplier_full(void *arg, int32_t supplier_id);
/* Appends the receiver's counters and gauges in Prometheus text format. */
void receiver_metrics(struct receiver *rc, struct buf *b);

#endif
