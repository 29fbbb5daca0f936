/* zmsg.c - see zmsg.h. */
#include "zmsg.h"

size_t
zmsg_recv(void *sock, struct zmsg *m, zmq_msg_t *part, size_t max)
{
	int more = 1;

	m->part = part;
	m->n = 0;
	m->max = max;
	m->frames = 0;
	m->bytes = 0;
	while (more) {
		zmq_msg_t f;

		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&f);
			break;
		}
		m->frames++;
		m->bytes += zmq_msg_size(&f);
		more = zmq_msg_more(&f);
		if (m->n < max) {
			zmq_msg_init(&part[m->n]);
			zmq_msg_move(&part[m->n++], &f);
		}
		/* Past max: dropped now, so memory does not grow with them. */
		zmq_msg_close(&f);
	}
	return m->n;
}

int
zmsg_too_many(const struct zmsg *m)
{
	return m->frames > m->max;
}

void
zmsg_close(struct zmsg *m)
{
	for (size_t i = 0; i < m->n; i++)
		zmq_msg_close(&m->part[i]);
	m->n = 0;
}
