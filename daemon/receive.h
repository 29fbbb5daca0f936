/* receive.h - the ZeroMQ ROUTER socket on the libevent loop: frames in,
 * requests to the writers, replies out. */
#ifndef BEVIS_RECEIVE_H
#define BEVIS_RECEIVE_H

#include <event2/event.h>

#include "config.h"
#include "writer.h"

struct receiver;

/* Binds cfg->endpoint. Returns NULL and logs why on failure. */
struct receiver *receiver_start(struct event_base *base,
    const struct config *cfg, struct writer_pool *pool);
/* Stops reading new requests; the loop breaks once every request in
 * flight has been answered. */
void receiver_drain(struct receiver *rc);
/* Sends the replies still waiting after the writers stopped. */
void receiver_flush(struct receiver *rc);
void receiver_free(struct receiver *rc);

#endif
