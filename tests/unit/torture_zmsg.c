/* torture_zmsg.c - the bounded multipart read (common/zmsg.c), over a pair
 * of inproc sockets in this process: the frames kept, the count of those
 * dropped, and the next message intact after a long one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <zmq.h>

#include "zmsg.h"

struct pair {
	void *ctx, *in, *out;
};

static int
setup(void **state)
{
	static struct pair p;

	p.ctx = zmq_ctx_new();
	p.in = zmq_socket(p.ctx, ZMQ_PAIR);
	p.out = zmq_socket(p.ctx, ZMQ_PAIR);
	assert_int_equal(zmq_bind(p.in, "inproc://torture-zmsg"), 0);
	assert_int_equal(zmq_connect(p.out, "inproc://torture-zmsg"), 0);
	*state = &p;
	return 0;
}

static int
teardown(void **state)
{
	struct pair *p = *state;

	zmq_close(p->in);
	zmq_close(p->out);
	zmq_ctx_term(p->ctx);
	return 0;
}

/* Sends n frames; frame i is "f<i>" for i < 10, empty after. */
static void
send_frames(struct pair *p, size_t n)
{
	char b[8];

	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		if (i < 10)
			len = (size_t)snprintf(b, sizeof(b), "f%zu", i);
		assert_true(zmq_send(p->out, b, len, i + 1 < n ? ZMQ_SNDMORE :
		    0) >= 0);
	}
}

static void
test_nothing_to_read(void **state)
{
	struct pair *p = *state;
	zmq_msg_t part[4];
	struct zmsg m;

	assert_int_equal(zmsg_recv(p->in, &m, part, 4), 0);
	assert_int_equal(m.frames, 0);
	assert_false(zmsg_too_many(&m));
	zmsg_close(&m);
}

static void
test_within_bound(void **state)
{
	struct pair *p = *state;
	zmq_msg_t part[8];
	struct zmsg m;

	send_frames(p, 5);
	assert_int_equal(zmsg_recv(p->in, &m, part, 8), 5);
	assert_int_equal(m.frames, 5);
	assert_int_equal(m.bytes, 10);
	assert_false(zmsg_too_many(&m));
	assert_int_equal(zmq_msg_size(&m.part[4]), 2);
	assert_memory_equal(zmq_msg_data(&m.part[4]), "f4", 2);
	zmsg_close(&m);
	assert_int_equal(m.n, 0);
}

static void
test_exactly_the_bound(void **state)
{
	struct pair *p = *state;
	zmq_msg_t part[8];
	struct zmsg m;

	send_frames(p, 8);
	assert_int_equal(zmsg_recv(p->in, &m, part, 8), 8);
	assert_int_equal(m.frames, 8);
	assert_false(zmsg_too_many(&m));
	zmsg_close(&m);
}

static void
test_too_many_dropped_and_next_intact(void **state)
{
	struct pair *p = *state;
	zmq_msg_t part[8];
	struct zmsg m;

	send_frames(p, 100000);
	send_frames(p, 3);
	assert_int_equal(zmsg_recv(p->in, &m, part, 8), 8);
	assert_int_equal(m.frames, 100000);
	assert_int_equal(m.bytes, 10 * 2);
	assert_true(zmsg_too_many(&m));
	assert_memory_equal(zmq_msg_data(&m.part[7]), "f7", 2);
	zmsg_close(&m);
	/* The frames past the bound were read, not left for the next call. */
	assert_int_equal(zmsg_recv(p->in, &m, part, 8), 3);
	assert_int_equal(m.frames, 3);
	assert_memory_equal(zmq_msg_data(&m.part[0]), "f0", 2);
	zmsg_close(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_to_read),
		cmocka_unit_test(test_within_bound),
		cmocka_unit_test(test_exactly_the_bound),
		cmocka_unit_test(test_too_many_dropped_and_next_intact),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
