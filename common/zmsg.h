/* zmsg.h - one multipart ZeroMQ message, read with a bound on its frames.
 *
 * libzmq bounds each frame (ZMQ_MAXMSGSIZE) but not how many frames make a
 * message: a peer may send millions of empty ones. zmsg_recv keeps the
 * first few and closes every frame past them as soon as it is read, so a
 * message of any frame count costs at most max frames of memory here. */
#ifndef BEVIS_ZMSG_H
#define BEVIS_ZMSG_H

#include <stddef.h>
#include <zmq.h>

struct zmsg {
	zmq_msg_t *part;	/* the first n frames, owned by the zmsg */
	size_t n;		/* frames kept, at most max */
	size_t max;
	size_t frames;		/* frames the message had, kept or not */
	size_t bytes;		/* bytes of all its frames */
};

/* Receives one whole message from sock (ZMQ_DONTWAIT) into m, whose part
 * array the caller provides with room for max frames. Returns the number
 * of frames kept (0: nothing to read); m->frames > m->max tells that the
 * message had too many frames, the rest read and dropped. */
size_t zmsg_recv(void *sock, struct zmsg *m, zmq_msg_t *part, size_t max);
/* Nonzero when the message had more frames than were kept. */
int zmsg_too_many(const struct zmsg *m);
/* Closes the kept frames. */
void zmsg_close(struct zmsg *m);

#endif
