/* receive.c - reads requests from the ROUTER socket and answers them.
 *
 * libzmq signals its descriptor (ZMQ_FD) edge-triggered: a wake-up may stand
 * for many messages, and a send may consume the edge. So after every wake-up
 * and after every batch of replies we read until ZMQ_EVENTS shows no POLLIN. */
#include "receive.h"

#include <errno.h>
#include <malloc.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "auth.h"
#include "clock.h"
#include "log.h"
#include "parse.h"
#include "proto.h"
#include "pull.h"
#include "reply.h"
#include "report.h"
#include "whoami.h"
#include "xmalloc.h"
#include "zmsg.h"

#define MAX_PARTS	8	/* envelope + delimiter + 5 frames, and spare */
#define FRAME_SLACK	(64 * 1024)	/* ZMQ_MAXMSGSIZE over max_message_size */
#define READ_BURST	256	/* messages per wake-up before yielding */
#define TRIM_FRAMES	10000	/* a message this long: malloc_trim after */
#define SNDHWM_MIN	1000	/* replies queued per peer */
#define REPLY_RETRY_MS	5	/* how often held replies are tried again */
#define REPLY_KEEP_S	60	/* how long a reply is held for its peer */
#define REPLY_HELD_MAX	(16u << 20)	/* bytes of replies held, at most */

/* A reply the peer's queue had no room for (EAGAIN under
 * ZMQ_ROUTER_MANDATORY): held here and sent once the peer reads. */
struct held_reply {
	TAILQ_ENTRY(held_reply) entry;
	unsigned char route[256];
	size_t route_len;
	int has_delim;
	char request_id[PROTO_REQUEST_ID_MAX + 1];
	int64_t since_us;
	size_t len;
	char status[];			/* len bytes */
};
TAILQ_HEAD(held_list, held_reply);

/* One live TCP or ipc connection, by its descriptor. libzmq tells
 * accept and close through a socket monitor, and which descriptor each
 * message came from (ZMQ_SRCFD); the supplier is known from its first
 * request. */
struct conn {
	int open;
	int seen;		/* has sent a request: it passed the handshake */
	int refused;		/* over its supplier's limit: requests refused */
	int32_t supplier_id;	/* 0 until a request named one */
	int64_t last_us;	/* accepted, or its last request */
};

#define CONN_SCAN_S	1	/* how often idle connections are looked for */

struct inflight {
	int32_t supplier_id;	/* 0: unauthenticated senders, together */
	char name[64];
	size_t bytes;		/* received, not yet answered */
	size_t conns;		/* live connections that sent as it */
	uint64_t requests, accepted, duplicate, quarantined;
};

struct receiver {
	struct event_base *base;
	const struct config *cfg;
	struct writer_pool *pool;
	struct auth *auth;	/* NULL when serving plaintext */
	void *sock;
	struct inflight *per_supplier;
	size_t nsuppliers;
	struct event *ev_sock;
	struct event *ev_done;
	size_t inflight_bytes;
	size_t inflight;
	uint64_t requests, refused, busy;	/* for /metrics */
	uint64_t replies_dropped;	/* peer gone, or held too long */
	struct held_list held;		/* replies waiting for room, in order */
	size_t held_n, held_bytes;
	struct event *ev_retry;
	/* connections */
	void *mon;			/* PAIR: the ROUTER's socket monitor */
	struct event *ev_mon;
	struct event *ev_scan;
	struct conn *conns;		/* by descriptor */
	size_t nconns_alloc;
	size_t conns_open;
	uint64_t conns_accepted, conns_over_max, conns_over_supplier;
	uint64_t conns_idle_closed;
	int64_t refusal_logged_us;
	uint64_t refusals_unlogged;
	int draining;
};

static void
reply_dropped(struct receiver *rc, const char *request_id, const char *why)
{
	rc->replies_dropped++;
	log_warnx("request %s: reply dropped: %s", request_id, why);
}

/* Sends [route][delimiter?][version][request id][status]: 0 when sent, or
 * -1 with errno. With ZMQ_ROUTER_MANDATORY the first frame fails with
 * EAGAIN when the peer's queue is at its high-water mark and EHOSTUNREACH
 * when the peer is gone; once it is taken, so are the rest. */
static int
send_frames(struct receiver *rc, const void *route, size_t route_len,
    int has_delim, const char *request_id, const void *status, size_t len)
{
	int f = ZMQ_SNDMORE | ZMQ_DONTWAIT;

	if (zmq_send(rc->sock, route, route_len, f) < 0)
		return -1;
	if ((has_delim && zmq_send(rc->sock, "", 0, f) < 0) ||
	    zmq_send(rc->sock, PROTO_VERSION, strlen(PROTO_VERSION), f) < 0 ||
	    zmq_send(rc->sock, request_id, strlen(request_id), f) < 0 ||
	    zmq_send(rc->sock, status, len, ZMQ_DONTWAIT) < 0) {
		if (errno == EAGAIN)	/* not expected: report it as lost */
			errno = EIO;
		return -1;
	}
	return 0;
}

static void
hold_reply(struct receiver *rc, const void *route, size_t route_len,
    int has_delim, const char *request_id, const void *status, size_t len)
{
	struct held_reply *h;

	if (rc->held_bytes + len > REPLY_HELD_MAX) {
		reply_dropped(rc, request_id, "too many replies wait for peers "
		    "that do not read them");
		return;
	}
	h = xmalloc(sizeof(*h) + len);
	memcpy(h->route, route, route_len);
	h->route_len = route_len;
	h->has_delim = has_delim;
	snprintf(h->request_id, sizeof(h->request_id), "%s", request_id);
	h->since_us = clock_real_us();
	h->len = len;
	memcpy(h->status, status, len);
	TAILQ_INSERT_TAIL(&rc->held, h, entry);
	rc->held_n++;
	rc->held_bytes += len;
	if (rc->ev_retry && !evtimer_pending(rc->ev_retry, NULL)) {
		struct timeval tv = { 0, REPLY_RETRY_MS * 1000 };
		evtimer_add(rc->ev_retry, &tv);
	}
}

static void
unhold(struct receiver *rc, struct held_reply *h)
{
	TAILQ_REMOVE(&rc->held, h, entry);
	rc->held_n--;
	rc->held_bytes -= h->len;
	free(h);
}

static int
route_in(unsigned char (*routes)[256], size_t *rlen, size_t n,
    const struct held_reply *h)
{
	for (size_t i = 0; i < n; i++)
		if (rlen[i] == h->route_len &&
		    memcmp(routes[i], h->route, h->route_len) == 0)
			return 1;
	return 0;
}

/* Tries the held replies in order. A peer whose queue is still full keeps
 * the rest of its replies held, so its replies stay in order. */
static void
send_held(struct receiver *rc)
{
	unsigned char blocked[16][256];
	size_t blen[16], nblocked = 0;
	int64_t now = clock_real_us();
	struct held_reply *h, *next;

	for (h = TAILQ_FIRST(&rc->held); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (route_in(blocked, blen, nblocked, h))
			continue;
		if (send_frames(rc, h->route, h->route_len, h->has_delim,
		    h->request_id, h->status, h->len) == 0) {
			unhold(rc, h);
		} else if (errno == EAGAIN &&
		    now - h->since_us < (int64_t)REPLY_KEEP_S * 1000000) {
			if (nblocked == 16)
				break;	/* enough peers tried for one pass */
			memcpy(blocked[nblocked], h->route, h->route_len);
			blen[nblocked++] = h->route_len;
		} else {
			reply_dropped(rc, h->request_id, errno == EAGAIN ?
			    "the peer has not read its replies for a minute" :
			    zmq_strerror(errno));
			unhold(rc, h);
		}
	}
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct receiver *rc = arg;

	(void)fd;
	(void)what;
	send_held(rc);
	if (!TAILQ_EMPTY(&rc->held)) {
		struct timeval tv = { 0, REPLY_RETRY_MS * 1000 };
		evtimer_add(rc->ev_retry, &tv);
	}
}

/* Sends a reply, or holds it while the peer's queue is full: a ROUTER
 * would otherwise drop it silently at the high-water mark. A peer that is
 * gone loses its reply (counted and logged); its retry gets the same
 * outcome. */
static void
send_reply(struct receiver *rc, const void *route, size_t route_len,
    int has_delim, const char *request_id, const void *status, size_t len)
{
	int held = 0;
	struct held_reply *h;

	/* Behind a held reply to the same peer: wait in line. */
	TAILQ_FOREACH(h, &rc->held, entry)
		if (h->route_len == route_len &&
		    memcmp(h->route, route, route_len) == 0) {
			held = 1;
			break;
		}
	if (!held && send_frames(rc, route, route_len, has_delim, request_id,
	    status, len) == 0)
		return;
	if (held || errno == EAGAIN)
		hold_reply(rc, route, route_len, has_delim, request_id, status,
		    len);
	else
		reply_dropped(rc, request_id, zmq_strerror(errno));
}

static void
send_error(struct receiver *rc, zmq_msg_t *route, int has_delim,
    const char *request_id, const char *code, const char *msg)
{
	struct buf b = BUF_INIT;

	reply_error(&b, code, msg);
	log_info("request %s: refused: %s: %s", request_id[0] ? request_id : "-",
	    code, msg);
	rc->refused++;
	send_reply(rc, zmq_msg_data(route), zmq_msg_size(route), has_delim,
	    request_id, b.data, b.len);
	buf_free(&b);
}

static int
frame_is(zmq_msg_t *m, const char *s)
{
	return zmq_msg_size(m) == strlen(s) &&
	    memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* The pong. Since 1.1 it says which protocol this server speaks and who
 * the connection is (whoami.c); PING itself needs no valid key. */
static void
handle_ping(struct receiver *rc, zmq_msg_t *route, int has_delim,
    const char *request_id, zmq_msg_t *last, const struct supplier *sup)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "{\"status\":\"ok\",\"pong\":true,\"server\":\"bevisd %s\","
	    "\"in_flight\":%zu,\"protocol\":\"" PROTO_MINOR "\",", BEVIS_VERSION,
	    rc->inflight);
	whoami_put(&b, rc->auth != NULL, zmq_msg_gets(last, "User-Id"), sup);
	buf_putc(&b, '}');
	send_reply(rc, zmq_msg_data(route), zmq_msg_size(route), has_delim,
	    request_id, b.data, b.len);
	buf_free(&b);
}

static struct inflight *
inflight_of(struct receiver *rc, int32_t supplier_id)
{
	for (size_t i = 0; i < rc->nsuppliers; i++)
		if (rc->per_supplier[i].supplier_id == supplier_id)
			return &rc->per_supplier[i];
	rc->per_supplier = xrealloc(rc->per_supplier,
	    (rc->nsuppliers + 1) * sizeof(*rc->per_supplier));
	memset(&rc->per_supplier[rc->nsuppliers], 0, sizeof(*rc->per_supplier));
	rc->per_supplier[rc->nsuppliers].supplier_id = supplier_id;
	return &rc->per_supplier[rc->nsuppliers++];
}

static struct conn *
conn_of(struct receiver *rc, int fd)
{
	if (fd < 0 || fd > 1 << 20)
		return NULL;
	if ((size_t)fd >= rc->nconns_alloc) {
		size_t n = (size_t)fd + 64;
		rc->conns = xrealloc(rc->conns, n * sizeof(*rc->conns));
		memset(rc->conns + rc->nconns_alloc, 0,
		    (n - rc->nconns_alloc) * sizeof(*rc->conns));
		rc->nconns_alloc = n;
	}
	return &rc->conns[fd];
}

static void
conn_forget(struct receiver *rc, struct conn *c)
{
	if (!c->open)
		return;
	if (c->supplier_id && !c->refused) {
		struct inflight *fl = inflight_of(rc, c->supplier_id);
		if (fl->conns > 0)
			fl->conns--;
	}
	memset(c, 0, sizeof(*c));
	rc->conns_open--;
}

/* Refusals come in floods: one line a second says how many. */
static void
log_refusal(struct receiver *rc, const char *what)
{
	int64_t now = clock_real_us();

	rc->refusals_unlogged++;
	if (now - rc->refusal_logged_us < 1000000)
		return;
	log_warnx("closed %llu connection(s) in the last second or more: %s",
	    (unsigned long long)rc->refusals_unlogged, what);
	rc->refusals_unlogged = 0;
	rc->refusal_logged_us = now;
}

/* Closes a connection libzmq owns: shutdown(2), not close(2), so libzmq
 * sees the end of the stream, closes the descriptor itself and reports
 * it (ZMQ_EVENT_DISCONNECTED) before the number can be reused. */
static void
conn_close(int fd)
{
	shutdown(fd, SHUT_RDWR);
}

/* At max_connections, a new connection takes the place of the oldest
 * one that has sent no request (or only refused ones): a flood of
 * connections that never authenticate then pushes out its own, while a
 * supplier's connection sends within milliseconds of its handshake and
 * stays. Returns 0 when every connection is in use. */
static int
evict_silent(struct receiver *rc)
{
	struct conn *victim = NULL;
	size_t vfd = 0;

	for (size_t i = 0; i < rc->nconns_alloc; i++) {
		struct conn *c = &rc->conns[i];
		if (c->open && (!c->seen || c->refused) &&
		    (victim == NULL || c->last_us < victim->last_us)) {
			victim = c;
			vfd = i;
		}
	}
	if (victim == NULL)
		return 0;
	rc->conns_over_max++;
	log_refusal(rc, "max_connections reached: closed the oldest connection "
	    "that had sent no request");
	conn_forget(rc, victim);
	conn_close((int)vfd);
	return 1;
}

static void
on_monitor(evutil_socket_t fd, short what, void *arg)
{
	struct receiver *rc = arg;

	(void)fd;
	(void)what;
	for (;;) {
		int events = 0;
		size_t sz = sizeof(events);
		zmq_msg_t parts[2];
		struct zmsg zm;

		if (zmq_getsockopt(rc->mon, ZMQ_EVENTS, &events, &sz) < 0 ||
		    !(events & ZMQ_POLLIN))
			return;
		if (zmsg_recv(rc->mon, &zm, parts, 2) == 0)
			return;
		if (zmq_msg_size(&parts[0]) < 6) {
			zmsg_close(&zm);
			continue;
		}
		uint16_t ev;
		uint32_t value;
		memcpy(&ev, zmq_msg_data(&parts[0]), 2);
		memcpy(&value, (char *)zmq_msg_data(&parts[0]) + 2, 4);
		zmsg_close(&zm);
		struct conn *c = conn_of(rc, (int)value);
		if (c == NULL)
			continue;
		if (ev == ZMQ_EVENT_ACCEPTED) {
			conn_forget(rc, c);	/* a close we were not told of */
			if (rc->conns_open >= (size_t)rc->cfg->max_connections &&
			    !evict_silent(rc)) {
				rc->conns_over_max++;
				log_refusal(rc, "max_connections reached");
				conn_close((int)value);
				continue;
			}
			c->open = 1;
			c->last_us = clock_real_us();
			rc->conns_open++;
			rc->conns_accepted++;
		} else if (ev == ZMQ_EVENT_DISCONNECTED) {
			conn_forget(rc, c);
		}
	}
}

/* Closes connections that sent no request for idle_timeout seconds
 * (ZMTP heartbeats do not count: they keep a dead peer from lingering,
 * not an idle one alive). */
static void
on_scan(evutil_socket_t fd, short what, void *arg)
{
	struct receiver *rc = arg;
	int64_t limit = (int64_t)rc->cfg->idle_timeout * 1000000;
	int64_t now = clock_real_us();

	(void)fd;
	(void)what;
	if (limit <= 0)
		return;
	for (size_t i = 0; i < rc->nconns_alloc; i++) {
		struct conn *c = &rc->conns[i];
		if (!c->open || now - c->last_us < limit)
			continue;
		log_info("closing connection %zu of %s: no request for %ld s", i,
		    c->supplier_id ? inflight_of(rc, c->supplier_id)->name :
		    "an unknown sender", rc->cfg->idle_timeout);
		rc->conns_idle_closed++;
		conn_close((int)i);
		c->last_us = now;	/* once; the monitor says when it is gone */
	}
}

/* The connection a request came from; counts it against its supplier's
 * max_connections_per_supplier. Returns -1 when it is over. */
static int
conn_request(struct receiver *rc, zmq_msg_t *frame,
    const struct supplier *sup)
{
	int fd = zmq_msg_get(frame, ZMQ_SRCFD);
	struct conn *c = conn_of(rc, fd);

	if (c == NULL)
		return 0;
	if (!c->open) {		/* accepted before the monitor said so */
		c->open = 1;
		rc->conns_open++;
	}
	if (c->refused)
		return -1;	/* not counted as activity: it times out */
	c->seen = 1;
	c->last_us = clock_real_us();
	if (sup == NULL || c->supplier_id != 0)
		return 0;
	struct inflight *fl = inflight_of(rc, sup->id);
	c->supplier_id = sup->id;
	if (fl->conns >= (size_t)rc->cfg->max_connections_per_supplier) {
		c->refused = 1;
		rc->conns_over_supplier++;
		log_refusal(rc, "max_connections_per_supplier reached");
		return -1;
	}
	fl->conns++;
	return 0;
}

int
receiver_supplier_full(void *arg, int32_t supplier_id)
{
	struct receiver *rc = arg;
	struct inflight *fl = inflight_of(rc, supplier_id);

	if (fl->conns < (size_t)rc->cfg->max_connections_per_supplier)
		return 0;
	rc->conns_over_supplier++;
	return 1;
}

static void
send_busy(struct receiver *rc, zmq_msg_t *route, int has_delim,
    const char *request_id, int retry_ms, const char *why)
{
	struct buf b = BUF_INIT;

	reply_busy(&b, retry_ms, why);
	log_info("request %s: busy: %s", request_id, why);
	rc->busy++;
	send_reply(rc, zmq_msg_data(route), zmq_msg_size(route), has_delim,
	    request_id, b.data, b.len);
	buf_free(&b);
}

/* Reads one whole message and validates its frames. */
/* A message on its way through the checks of PROTOCOL.md §2. */
struct incoming {
	struct zmsg zm;
	zmq_msg_t *route;	/* the ROUTER's routing id */
	int has_delim;		/* a REQ-style empty delimiter follows it */
	size_t nframes;		/* frames after the envelope */
	zmq_msg_t *f;		/* the first of them */
	char rid[PROTO_REQUEST_ID_MAX + 1];	/* "" until it is valid */
	enum content_type ct;
	int is_report;		/* REPORT, not EVENTS */
	struct report_meta *report;	/* its metadata, until queued */
	int status;		/* a STATUS request (protocol 1.1) */
};

#define ANSWERED (-1)

/* A REPORT's metadata (PROTOCOL.md, "REPORT"): an authenticated source and
 * a content type whose parameters say what the report is. */
static int
check_report(struct receiver *rc, struct incoming *in)
{
	zmq_msg_t *f = in->f;
	char why[600];

	if (rc->auth == NULL) {
		send_error(rc, in->route, in->has_delim, in->rid, "unauthenticated",
		    "a report's source is the CURVE key that sends it; bevisd "
		    "serves without CURVE (allow_plaintext)");
		return ANSWERED;
	}
	in->report = xcalloc(1, sizeof(*in->report));
	if (report_meta_parse(zmq_msg_data(&f[3]), zmq_msg_size(&f[3]),
	    in->report, why, sizeof(why)) < 0) {
		send_error(rc, in->route, in->has_delim, in->rid,
		    "bad_report_metadata", why);
		report_meta_free(in->report);
		free(in->report);
		in->report = NULL;
		return ANSWERED;
	}
	in->ct = in->report->ct;
	if (zmq_msg_size(in->route) > sizeof(((struct request *)0)->route)) {
		send_error(rc, in->route, in->has_delim, in->rid, "bad_frames",
		    "routing id too long");
		return ANSWERED;
	}
	return 0;
}

/* The frames, in the order of PROTOCOL.md §2: connection cap, frame count,
 * version, request id, command (PING is answered here), size, content
 * type. ANSWERED when the message got its reply (an error or a pong). */
static int
check_frames(struct receiver *rc, struct incoming *in)
{
	zmq_msg_t *f = in->f, *last = &in->zm.part[in->zm.n - 1];
	char msg[256];

	/* Any message is activity on its connection, and names the supplier
	 * whose sessions it counts against. */
	const struct supplier *csup = NULL;
	if (rc->auth) {
		const char *uid = zmq_msg_gets(last, "User-Id");
		csup = uid ? auth_find(rc->auth, uid) : NULL;
	}
	if (conn_request(rc, last, csup) < 0) {
		snprintf(msg, sizeof(msg), "%s has %ld connections open; send on "
		    "one of them, or close some (max_connections_per_supplier)",
		    csup ? csup->name : "this sender",
		    rc->cfg->max_connections_per_supplier);
		send_error(rc, in->route, in->has_delim, in->rid,
		    "too_many_connections", msg);
		return ANSWERED;
	}
	if (in->nframes != PROTO_FRAMES) {
		snprintf(msg, sizeof(msg), "expected %d frames after the envelope "
		    "(version, command, request id, content type, body), got %zu",
		    PROTO_FRAMES, in->nframes);
		send_error(rc, in->route, in->has_delim, in->rid, "bad_frames", msg);
		/* libzmq queued every frame (64 bytes each, whatever its size)
		 * before the message could be read, in its I/O thread's malloc
		 * arena; give those pages back rather than keep them. */
		if (in->zm.frames > TRIM_FRAMES)
			malloc_trim(0);
		return ANSWERED;
	}
	if (!frame_is(&f[0], PROTO_VERSION)) {
		send_error(rc, in->route, in->has_delim, in->rid,
		    "unsupported_version",
		    "this server speaks protocol version " PROTO_VERSION);
		return ANSWERED;
	}
	if (!in->rid[0]) {
		send_error(rc, in->route, in->has_delim, in->rid, "bad_request_id",
		    "the request id must be 1 to 128 bytes of visible ASCII");
		return ANSWERED;
	}
	if (frame_is(&f[1], PROTO_CMD_PING)) {
		handle_ping(rc, in->route, in->has_delim, in->rid, last, csup);
		return ANSWERED;
	}
	if (frame_is(&f[1], PROTO_CMD_STATUS)) {
		in->status = 1;		/* credentials next, then the writers */
		return 0;
	}
	in->is_report = frame_is(&f[1], PROTO_CMD_REPORT);
	if (!in->is_report && !frame_is(&f[1], PROTO_CMD_EVENTS)) {
		send_error(rc, in->route, in->has_delim, in->rid, "unknown_command",
		    "the command must be EVENTS, REPORT, PING or STATUS");
		return ANSWERED;
	}
	if (in->zm.bytes > (size_t)rc->cfg->max_message_size) {
		snprintf(msg, sizeof(msg), "the message has %zu bytes; the limit "
		    "is %ld", in->zm.bytes, rc->cfg->max_message_size);
		send_error(rc, in->route, in->has_delim, in->rid, "too_large", msg);
		return ANSWERED;
	}
	if (in->is_report)
		return check_report(rc, in);
	char ctwhy[300];
	in->ct = proto_content_type_params(zmq_msg_data(&f[3]),
	    zmq_msg_size(&f[3]), ctwhy, sizeof(ctwhy));
	if (parser_for(in->ct) == NULL) {
		char why[600];
		if (ctwhy[0])
			snprintf(why, sizeof(why), "%s", ctwhy);
		else
			snprintf(why, sizeof(why), "the content type must be %s",
			    parser_content_types());
		send_error(rc, in->route, in->has_delim, in->rid,
		    "unsupported_content_type", why);
		return ANSWERED;
	}
	if (zmq_msg_size(in->route) > sizeof(((struct request *)0)->route)) {
		send_error(rc, in->route, in->has_delim, in->rid, "bad_frames",
		    "routing id too long");
		return ANSWERED;
	}
	return 0;
}

/* The sender's and bevisd's in-flight budgets: busy past either. Over the
 * memory budget bevisd answers at once rather than stop reading: a peer
 * that reconnects leaves its unread messages in libzmq until they are
 * read, so a socket left unread would grow with each Lazy Pirate retry.
 * One request always gets through. */
static int
check_budget(struct receiver *rc, struct incoming *in,
    const struct supplier *sup, const struct inflight *fl)
{
	size_t body = zmq_msg_size(&in->f[4]);
	char msg[256];

	if (fl->bytes > 0 && fl->bytes + body >
	    (size_t)rc->cfg->supplier_inflight_bytes) {
		snprintf(msg, sizeof(msg), "%s has %ld bytes in flight; resend "
		    "this request with the same request id later", sup ?
		    sup->name : "this sender", rc->cfg->supplier_inflight_bytes);
		send_busy(rc, in->route, in->has_delim, in->rid, 500, msg);
		return ANSWERED;
	}
	if (rc->inflight_bytes > 0 && rc->inflight_bytes + body >
	    (size_t)rc->cfg->max_inflight_bytes) {
		snprintf(msg, sizeof(msg), "bevisd holds %ld bytes of requests "
		    "not yet written; resend this request with the same request "
		    "id later", rc->cfg->max_inflight_bytes);
		send_busy(rc, in->route, in->has_delim, in->rid, 1000, msg);
		return ANSWERED;
	}
	return 0;
}

/* Hands the request to the writers; its body is moved, not copied. */
static void
queue_request(struct receiver *rc, struct incoming *in,
    const struct supplier *sup, struct inflight *fl)
{
	struct request *r = xcalloc(1, sizeof(*r));

	if (!in->status) {
		rc->requests++;
		fl->requests++;
	}
	if (sup) {
		r->supplier_id = sup->id;
		snprintf(r->supplier_name, sizeof(r->supplier_name), "%s", sup->name);
		snprintf(r->key_fp, sizeof(r->key_fp), "%s", sup->fingerprint);
	}
	memcpy(r->route, zmq_msg_data(in->route), zmq_msg_size(in->route));
	r->route_len = zmq_msg_size(in->route);
	r->has_delim = in->has_delim;
	memcpy(r->request_id, in->rid, sizeof(in->rid));
	r->ct = in->ct;
	if (in->report) {
		r->report = in->report;
		in->report = NULL;
		const struct report_map *m = sup ? report_map_find(
		    rc->cfg->report_maps, rc->cfg->nreport_maps, sup->name) : NULL;
		if (m)
			r->report->map = report_map_copy(m);
	}
	r->received_us = clock_real_us();
	zmq_msg_init(&r->body);
	r->is_status = in->status;	/* asks, carries no body */
	if (!in->status)
		zmq_msg_move(&r->body, &in->f[4]);
	rc->inflight++;
	rc->inflight_bytes += zmq_msg_size(&r->body);
	fl->bytes += zmq_msg_size(&r->body);
	log_debug("request %s: %zu bytes of %s queued", r->request_id,
	    zmq_msg_size(&r->body), proto_content_type_name(r->ct));
	writer_pool_submit(rc->pool, r);
}

static void
read_message(struct receiver *rc)
{
	zmq_msg_t parts[MAX_PARTS];
	struct incoming in;
	size_t n;

	memset(&in, 0, sizeof(in));
	if ((n = zmsg_recv(rc->sock, &in.zm, parts, MAX_PARTS)) == 0)
		return;
	in.route = &parts[0];
	in.has_delim = n >= 2 && zmq_msg_size(&parts[1]) == 0;
	size_t first = in.has_delim ? 2 : 1;
	in.nframes = in.zm.frames - first;
	in.f = &parts[first];
	if (in.nframes >= 3 && proto_request_id_valid(zmq_msg_data(&in.f[2]),
	    zmq_msg_size(&in.f[2]))) {
		memcpy(in.rid, zmq_msg_data(&in.f[2]), zmq_msg_size(&in.f[2]));
		in.rid[zmq_msg_size(&in.f[2])] = '\0';
	}
	if (check_frames(rc, &in) == ANSWERED)
		goto done;

	/* Who sent it: the supplier whose key the ZAP handler admitted. */
	const struct supplier *sup = NULL;
	if (rc->auth) {
		const char *uid = zmq_msg_gets(&in.f[0], "User-Id");
		if (uid == NULL || (sup = auth_find(rc->auth, uid)) == NULL) {
			send_error(rc, in.route, in.has_delim, in.rid,
			    "supplier_revoked",
			    "this key no longer belongs to an active supplier");
			goto done;
		}
	}
	struct inflight *fl = inflight_of(rc, sup ? sup->id : 0);
	if (sup && !fl->name[0])
		snprintf(fl->name, sizeof(fl->name), "%s", sup->name);
	if (!in.status && check_budget(rc, &in, sup, fl) == ANSWERED)
		goto done;
	queue_request(rc, &in, sup, fl);
done:
	if (in.report) {
		report_meta_free(in.report);
		free(in.report);
	}
	zmsg_close(&in.zm);
}

static void
read_available(struct receiver *rc)
{
	for (int burst = 0; burst < READ_BURST; burst++) {
		int events = 0;
		size_t sz = sizeof(events);

		if (rc->draining)
			return;
		if (zmq_getsockopt(rc->sock, ZMQ_EVENTS, &events, &sz) < 0) {
			log_warnx("zmq_getsockopt ZMQ_EVENTS: %s",
			    zmq_strerror(errno));
			return;
		}
		if (!(events & ZMQ_POLLIN))
			return;
		read_message(rc);
	}
	/* More is waiting: come back after other events had a turn. */
	event_active(rc->ev_sock, EV_READ, 0);
}

static void
on_socket(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	read_available(arg);
}

static int
sup_name_missing(const struct inflight *fl, const struct request *r)
{
	return fl->name[0] == '\0' && r->supplier_name[0] != '\0';
}

static int
deliver_done(struct receiver *rc)
{
	struct request *r;
	int any = 0;

	while ((r = writer_pool_take_done(rc->pool)) != NULL) {
		struct inflight *fl = inflight_of(rc, r->supplier_id);

		if (sup_name_missing(fl, r))
			snprintf(fl->name, sizeof(fl->name), "%s", r->supplier_name);
		/* A replayed spool record was answered when it was spooled;
		 * a request of the PULL endpoint has nobody to answer. */
		if (r->route_len == 0 && !r->from_spool) {
			pull_request_done(r);
		} else if (!r->from_spool) {
			send_reply(rc, r->route, r->route_len, r->has_delim,
			    r->request_id, r->reply.data, r->reply.len);
			rc->inflight--;
			rc->inflight_bytes -= zmq_msg_size(&r->body);
			fl->bytes -= zmq_msg_size(&r->body);
		}
		fl->accepted += r->accepted;
		fl->duplicate += r->duplicate;
		fl->quarantined += r->quarantined;
		request_free(r);
		any = 1;
	}
	return any;
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct receiver *rc = arg;

	(void)fd;
	(void)what;
	if (!deliver_done(rc))
		return;
	if (rc->draining && rc->inflight == 0) {
		event_base_loopbreak(rc->base);
		return;
	}
	read_available(rc);
}

struct receiver *
receiver_bind(void *zctx, const struct config *cfg, const char *curve_secret)
{
	struct receiver *rc = xcalloc(1, sizeof(*rc));
	int64_t maxmsg = cfg->max_message_size + FRAME_SLACK;
	int one = 1, linger = 2000, hwm = (int)cfg->rcvhwm;

	rc->cfg = cfg;
	TAILQ_INIT(&rc->held);
	if ((rc->sock = zmq_socket(zctx, ZMQ_ROUTER)) == NULL)
		fatalx("zmq socket: %s", zmq_strerror(errno));
	/* A frame a little over the limit still gets a "too_large" reply; a
	 * larger one makes libzmq drop the connection before it is read.
	 * Not twice the limit: libzmq applies this to handshake commands too,
	 * so it is what an unauthenticated peer can make bevisd hold. */
	zmq_setsockopt(rc->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(rc->sock, ZMQ_IPV6, &one, sizeof(one));
	zmq_setsockopt(rc->sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(rc->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	/* A ROUTER drops a reply silently once a peer's outgoing queue is at
	 * its high-water mark, and a burst of busy replies to a client with
	 * many requests in flight would reach a small one: the client would
	 * wait for its timeout. Replies are small and one per request read,
	 * so a larger mark costs little (SNDHWM_MIN x a reply per peer). */
	hwm = hwm < SNDHWM_MIN ? SNDHWM_MIN : hwm;
	zmq_setsockopt(rc->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	/* Past the mark a send fails with EAGAIN instead: the reply is held
	 * and sent when the peer reads (send_reply). */
	zmq_setsockopt(rc->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	/* Before authentication a peer can make libzmq hold one frame of up
	 * to ZMQ_MAXMSGSIZE; the handshake timeout bounds for how long. */
	int ms = (int)cfg->handshake_timeout * 1000;
	zmq_setsockopt(rc->sock, ZMQ_HANDSHAKE_IVL, &ms, sizeof(ms));
	if (cfg->heartbeat_interval > 0) {
		ms = (int)cfg->heartbeat_interval * 1000;
		zmq_setsockopt(rc->sock, ZMQ_HEARTBEAT_IVL, &ms, sizeof(ms));
		ms *= 3;
		zmq_setsockopt(rc->sock, ZMQ_HEARTBEAT_TIMEOUT, &ms, sizeof(ms));
		zmq_setsockopt(rc->sock, ZMQ_HEARTBEAT_TTL, &ms, sizeof(ms));
	}
	/* Accepts and closes, to count connections (before the bind, so
	 * none is missed). The PAIR end has no high-water mark: an event
	 * lost would leave a count wrong. */
	int zero = 0;
	if (zmq_socket_monitor(rc->sock, "inproc://bevis-receiver-monitor",
	    ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) < 0 ||
	    (rc->mon = zmq_socket(zctx, ZMQ_PAIR)) == NULL ||
	    zmq_setsockopt(rc->mon, ZMQ_RCVHWM, &zero, sizeof(zero)) < 0 ||
	    zmq_connect(rc->mon, "inproc://bevis-receiver-monitor") < 0)
		fatalx("socket monitor: %s", zmq_strerror(errno));
	if (curve_secret) {
		if (zmq_setsockopt(rc->sock, ZMQ_CURVE_SERVER, &one,
		    sizeof(one)) < 0 ||
		    zmq_setsockopt(rc->sock, ZMQ_CURVE_SECRETKEY, curve_secret,
		    strlen(curve_secret)) < 0 ||
		    zmq_setsockopt(rc->sock, ZMQ_ZAP_DOMAIN, "bevis", 5) < 0)
			fatalx("CURVE: %s", zmq_strerror(errno));
	}
	if (zmq_bind(rc->sock, cfg->endpoint) < 0) {
		log_error("cannot bind %s: %s", cfg->endpoint, zmq_strerror(errno));
		zmq_close(rc->mon);
		zmq_close(rc->sock);
		free(rc);
		return NULL;
	}
	log_info("listening on %s (%s)", cfg->endpoint, curve_secret ?
	    "CURVE, suppliers by key" : "plaintext, suppliers by field");
	return rc;
}

void
receiver_start(struct receiver *rc, struct event_base *base,
    struct writer_pool *pool, struct auth *auth)
{
	int fd;
	size_t sz = sizeof(fd);

	rc->base = base;
	rc->pool = pool;
	rc->auth = auth;
	if (zmq_getsockopt(rc->sock, ZMQ_FD, &fd, &sz) < 0)
		fatalx("zmq_getsockopt ZMQ_FD: %s", zmq_strerror(errno));
	rc->ev_sock = event_new(base, fd, EV_READ | EV_PERSIST, on_socket, rc);
	rc->ev_done = event_new(base, writer_pool_fd(pool), EV_READ | EV_PERSIST,
	    on_done, rc);
	rc->ev_retry = evtimer_new(base, on_retry, rc);
	if (zmq_getsockopt(rc->mon, ZMQ_FD, &fd, &sz) < 0)
		fatalx("zmq_getsockopt ZMQ_FD: %s", zmq_strerror(errno));
	rc->ev_mon = event_new(base, fd, EV_READ | EV_PERSIST, on_monitor, rc);
	event_add(rc->ev_mon, NULL);
	event_active(rc->ev_mon, EV_READ, 0);
	struct timeval scan = { CONN_SCAN_S, 0 };
	rc->ev_scan = event_new(base, -1, EV_PERSIST, on_scan, rc);
	event_add(rc->ev_scan, &scan);
	event_add(rc->ev_sock, NULL);
	event_add(rc->ev_done, NULL);
	/* Messages may already be queued before the first edge. */
	event_active(rc->ev_sock, EV_READ, 0);
}

void
receiver_drain(struct receiver *rc)
{
	rc->draining = 1;
	writer_pool_drain(rc->pool);
	log_info("draining: %zu requests in flight", rc->inflight);
	if (rc->inflight == 0)
		event_base_loopbreak(rc->base);
}

void
receiver_flush(struct receiver *rc)
{
	deliver_done(rc);
	/* Give held replies a moment: their peers are probably reading. */
	for (int i = 0; i < 2000 / REPLY_RETRY_MS && !TAILQ_EMPTY(&rc->held);
	    i++) {
		send_held(rc);
		if (!TAILQ_EMPTY(&rc->held)) {
			struct timespec ts = { 0, REPLY_RETRY_MS * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	while (!TAILQ_EMPTY(&rc->held)) {
		reply_dropped(rc, TAILQ_FIRST(&rc->held)->request_id,
		    "bevisd is stopping and the peer did not read it");
		unhold(rc, TAILQ_FIRST(&rc->held));
	}
}

void
receiver_free(struct receiver *rc)
{
	if (rc->ev_sock)
		event_free(rc->ev_sock);
	if (rc->ev_done)
		event_free(rc->ev_done);
	if (rc->ev_retry)
		event_free(rc->ev_retry);
	if (rc->ev_mon)
		event_free(rc->ev_mon);
	if (rc->ev_scan)
		event_free(rc->ev_scan);
	zmq_socket_monitor(rc->sock, NULL, 0);
	zmq_close(rc->mon);
	free(rc->conns);
	while (!TAILQ_EMPTY(&rc->held))
		unhold(rc, TAILQ_FIRST(&rc->held));
	zmq_close(rc->sock);
	free(rc->per_supplier);
	free(rc);
}

void
receiver_last_endpoint(struct receiver *rc, char *out, size_t len)
{
	size_t sz = len;

	if (len == 0)
		return;
	if (zmq_getsockopt(rc->sock, ZMQ_LAST_ENDPOINT, out, &sz) < 0)
		out[0] = '\0';
	out[len - 1] = '\0';
}

void
receiver_metrics(struct receiver *rc, struct buf *b)
{
	buf_printf(b, "# HELP bevis_requests_total EVENTS requests taken in.\n"
	    "# TYPE bevis_requests_total counter\nbevis_requests_total %llu\n"
	    "# HELP bevis_requests_refused_total Requests refused at the protocol "
	    "level.\n# TYPE bevis_requests_refused_total counter\n"
	    "bevis_requests_refused_total %llu\n"
	    "# HELP bevis_requests_busy_total Requests answered busy.\n"
	    "# TYPE bevis_requests_busy_total counter\n"
	    "bevis_requests_busy_total %llu\n"
	    "# HELP bevis_in_flight_requests Received, not yet answered.\n"
	    "# TYPE bevis_in_flight_requests gauge\nbevis_in_flight_requests %zu\n"
	    "# HELP bevis_in_flight_bytes Request bytes received, not yet "
	    "answered.\n# TYPE bevis_in_flight_bytes gauge\n"
	    "bevis_in_flight_bytes %zu\n"
	    "# HELP bevis_replies_dropped_total Replies not delivered: the peer "
	    "was gone, or did not read them in time.\n"
	    "# TYPE bevis_replies_dropped_total counter\n"
	    "bevis_replies_dropped_total %llu\n"
	    "# HELP bevis_replies_held Replies waiting for room in their peer's "
	    "queue.\n# TYPE bevis_replies_held gauge\nbevis_replies_held %zu\n",
	    (unsigned long long)rc->requests, (unsigned long long)rc->refused,
	    (unsigned long long)rc->busy, rc->inflight, rc->inflight_bytes,
	    (unsigned long long)rc->replies_dropped, rc->held_n);
	buf_printf(b, "# HELP bevis_connections Live connections.\n"
	    "# TYPE bevis_connections gauge\nbevis_connections %zu\n"
	    "# HELP bevis_connections_accepted_total Connections accepted.\n"
	    "# TYPE bevis_connections_accepted_total counter\n"
	    "bevis_connections_accepted_total %llu\n"
	    "# HELP bevis_connections_refused_total Connections closed or "
	    "refused, by the limit they met.\n"
	    "# TYPE bevis_connections_refused_total counter\n"
	    "bevis_connections_refused_total{limit=\"max_connections\"} %llu\n"
	    "bevis_connections_refused_total{limit=\"max_connections_per_supplier\"} %llu\n"
	    "bevis_connections_refused_total{limit=\"idle_timeout\"} %llu\n",
	    rc->conns_open, (unsigned long long)rc->conns_accepted,
	    (unsigned long long)rc->conns_over_max,
	    (unsigned long long)rc->conns_over_supplier,
	    (unsigned long long)rc->conns_idle_closed);
	buf_puts(b, "# HELP bevis_supplier_requests_total Requests, by supplier.\n"
	    "# TYPE bevis_supplier_requests_total counter\n"
	    "# HELP bevis_supplier_items_total Items answered, by supplier and "
	    "outcome.\n# TYPE bevis_supplier_items_total counter\n");
	for (size_t i = 0; i < rc->nsuppliers; i++) {
		const struct inflight *f = &rc->per_supplier[i];
		/* Names are [a-z0-9._-], safe inside a label. */
		const char *n = f->name[0] ? f->name : "(plaintext)";
		buf_printf(b, "bevis_supplier_requests_total{supplier=\"%s\"} %llu\n"
		    "bevis_supplier_items_total{supplier=\"%s\",outcome=\"accepted\"} %llu\n"
		    "bevis_supplier_items_total{supplier=\"%s\",outcome=\"duplicate\"} %llu\n"
		    "bevis_supplier_items_total{supplier=\"%s\",outcome=\"quarantined\"} %llu\n",
		    n, (unsigned long long)f->requests, n,
		    (unsigned long long)f->accepted, n,
		    (unsigned long long)f->duplicate, n,
		    (unsigned long long)f->quarantined);
	}
}
