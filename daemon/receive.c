/* receive.c - reads requests from the ROUTER socket and answers them.
 *
 * libzmq signals its descriptor (ZMQ_FD) edge-triggered: a wake-up may stand
 * for many messages, and a send may consume the edge. So after every wake-up
 * and after every batch of replies we read until ZMQ_EVENTS shows no POLLIN. */
#include "receive.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "auth.h"
#include "log.h"
#include "parse.h"
#include "proto.h"
#include "reply.h"
#include "xmalloc.h"

#define MAX_PARTS	8	/* envelope + delimiter + 5 frames, and spare */
#define READ_BURST	256	/* messages per wake-up before yielding */
#define SNDHWM_MIN	1000	/* replies queued per peer */

struct inflight {
	int32_t supplier_id;	/* 0: unauthenticated senders, together */
	char name[64];
	size_t bytes;		/* received, not yet answered */
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
	int draining;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sends [route][delimiter?][version][request id][status]. A peer that is
 * gone or not reading loses its reply; its retry gets the same outcome. */
static void
send_reply(struct receiver *rc, const void *route, size_t route_len,
    int has_delim, const char *request_id, const void *status, size_t len)
{
	int f = ZMQ_SNDMORE | ZMQ_DONTWAIT;

	if (zmq_send(rc->sock, route, route_len, f) < 0 ||
	    (has_delim && zmq_send(rc->sock, "", 0, f) < 0) ||
	    zmq_send(rc->sock, PROTO_VERSION, strlen(PROTO_VERSION), f) < 0 ||
	    zmq_send(rc->sock, request_id, strlen(request_id), f) < 0 ||
	    zmq_send(rc->sock, status, len, ZMQ_DONTWAIT) < 0)
		log_info("request %s: reply not delivered: %s", request_id,
		    zmq_strerror(errno));
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

static void
handle_ping(struct receiver *rc, zmq_msg_t *route, int has_delim,
    const char *request_id)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "{\"status\":\"ok\",\"pong\":true,\"server\":\"bevisd %s\","
	    "\"in_flight\":%zu}", BEVIS_VERSION, rc->inflight);
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
static void
read_message(struct receiver *rc)
{
	zmq_msg_t parts[MAX_PARTS];
	size_t n = 0, extra = 0, total = 0;
	int more;
	char rid[PROTO_REQUEST_ID_MAX + 1] = "";
	char msg[256];

	do {
		zmq_msg_t m;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, rc->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			break;
		}
		total += zmq_msg_size(&m);
		more = zmq_msg_more(&m);
		if (n < MAX_PARTS) {
			zmq_msg_init(&parts[n]);
			zmq_msg_move(&parts[n++], &m);
		} else {
			extra++;
		}
		zmq_msg_close(&m);
	} while (more);
	if (n == 0)
		return;

	zmq_msg_t *route = &parts[0];
	int has_delim = n >= 2 && zmq_msg_size(&parts[1]) == 0;
	size_t first = has_delim ? 2 : 1;
	size_t nframes = n - first + extra;
	zmq_msg_t *f = &parts[first];

	if (nframes >= 3 && proto_request_id_valid(zmq_msg_data(&f[2]),
	    zmq_msg_size(&f[2]))) {
		memcpy(rid, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]));
		rid[zmq_msg_size(&f[2])] = '\0';
	}
	if (nframes != PROTO_FRAMES) {
		snprintf(msg, sizeof(msg), "expected %d frames after the envelope "
		    "(version, command, request id, content type, body), got %zu",
		    PROTO_FRAMES, nframes);
		send_error(rc, route, has_delim, rid, "bad_frames", msg);
		goto done;
	}
	if (!frame_is(&f[0], PROTO_VERSION)) {
		send_error(rc, route, has_delim, rid, "unsupported_version",
		    "this server speaks protocol version " PROTO_VERSION);
		goto done;
	}
	if (!rid[0]) {
		send_error(rc, route, has_delim, rid, "bad_request_id",
		    "the request id must be 1 to 128 bytes of visible ASCII");
		goto done;
	}
	if (frame_is(&f[1], PROTO_CMD_PING)) {
		handle_ping(rc, route, has_delim, rid);
		goto done;
	}
	if (frame_is(&f[1], PROTO_CMD_REPORT)) {
		send_error(rc, route, has_delim, rid, "unsupported_command",
		    "REPORT is reserved and not yet served");
		goto done;
	}
	if (!frame_is(&f[1], PROTO_CMD_EVENTS)) {
		send_error(rc, route, has_delim, rid, "unknown_command",
		    "the command must be EVENTS or PING");
		goto done;
	}
	if (total > (size_t)rc->cfg->max_message_size) {
		snprintf(msg, sizeof(msg), "the message has %zu bytes; the limit "
		    "is %ld", total, rc->cfg->max_message_size);
		send_error(rc, route, has_delim, rid, "too_large", msg);
		goto done;
	}
	enum content_type ct = proto_content_type(zmq_msg_data(&f[3]),
	    zmq_msg_size(&f[3]));
	if (parser_for(ct) == NULL) {
		char why[600];
		snprintf(why, sizeof(why), "the content type must be %s",
		    parser_content_types());
		send_error(rc, route, has_delim, rid, "unsupported_content_type",
		    why);
		goto done;
	}
	if (zmq_msg_size(route) > sizeof(((struct request *)0)->route)) {
		send_error(rc, route, has_delim, rid, "bad_frames",
		    "routing id too long");
		goto done;
	}

	/* Who sent it: the supplier whose key the ZAP handler admitted. */
	const struct supplier *sup = NULL;
	if (rc->auth) {
		const char *uid = zmq_msg_gets(&f[0], "User-Id");
		if (uid == NULL || (sup = auth_find(rc->auth, uid)) == NULL) {
			send_error(rc, route, has_delim, rid, "supplier_revoked",
			    "this key no longer belongs to an active supplier");
			goto done;
		}
	}
	struct inflight *fl = inflight_of(rc, sup ? sup->id : 0);
	if (sup && !fl->name[0])
		snprintf(fl->name, sizeof(fl->name), "%s", sup->name);
	if (fl->bytes > 0 && fl->bytes + zmq_msg_size(&f[4]) >
	    (size_t)rc->cfg->supplier_inflight_bytes) {
		snprintf(msg, sizeof(msg), "%s has %ld bytes in flight; resend "
		    "this request with the same request id later", sup ?
		    sup->name : "this sender", rc->cfg->supplier_inflight_bytes);
		send_busy(rc, route, has_delim, rid, 500, msg);
		goto done;
	}
	/* Over the memory budget: answer at once rather than stop reading.
	 * A peer that reconnects leaves its unread messages in libzmq until
	 * they are read, so a socket left unread would grow with each Lazy
	 * Pirate retry. One request always gets through. */
	if (rc->inflight_bytes > 0 && rc->inflight_bytes + zmq_msg_size(&f[4]) >
	    (size_t)rc->cfg->max_inflight_bytes) {
		snprintf(msg, sizeof(msg), "bevisd holds %ld bytes of requests "
		    "not yet written; resend this request with the same request "
		    "id later", rc->cfg->max_inflight_bytes);
		send_busy(rc, route, has_delim, rid, 1000, msg);
		goto done;
	}
	rc->requests++;
	fl->requests++;

	struct request *r = xcalloc(1, sizeof(*r));
	if (sup) {
		r->supplier_id = sup->id;
		snprintf(r->supplier_name, sizeof(r->supplier_name), "%s", sup->name);
		snprintf(r->key_fp, sizeof(r->key_fp), "%s", sup->fingerprint);
	}
	memcpy(r->route, zmq_msg_data(route), zmq_msg_size(route));
	r->route_len = zmq_msg_size(route);
	r->has_delim = has_delim;
	memcpy(r->request_id, rid, sizeof(rid));
	r->ct = ct;
	r->received_us = now_us();
	zmq_msg_init(&r->body);
	zmq_msg_move(&r->body, &f[4]);
	rc->inflight++;
	rc->inflight_bytes += zmq_msg_size(&r->body);
	fl->bytes += zmq_msg_size(&r->body);
	log_debug("request %s: %zu bytes of %s queued", rid,
	    zmq_msg_size(&r->body), proto_content_type_name(ct));
	writer_pool_submit(rc->pool, r);
done:
	for (size_t i = 0; i < n; i++)
		zmq_msg_close(&parts[i]);
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
		/* A replayed spool record was answered when it was spooled. */
		if (!r->from_spool) {
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
	int64_t maxmsg = cfg->max_message_size * 2;
	int one = 1, linger = 2000, hwm = (int)cfg->rcvhwm;

	rc->cfg = cfg;
	if ((rc->sock = zmq_socket(zctx, ZMQ_ROUTER)) == NULL)
		fatalx("zmq socket: %s", zmq_strerror(errno));
	/* A frame up to twice the limit still gets a "too_large" reply; a
	 * larger one makes libzmq drop the connection before it is read. */
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
}

void
receiver_free(struct receiver *rc)
{
	if (rc->ev_sock)
		event_free(rc->ev_sock);
	if (rc->ev_done)
		event_free(rc->ev_done);
	zmq_close(rc->sock);
	free(rc->per_supplier);
	free(rc);
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
	    "bevis_in_flight_bytes %zu\n",
	    (unsigned long long)rc->requests, (unsigned long long)rc->refused,
	    (unsigned long long)rc->busy, rc->inflight, rc->inflight_bytes);
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
