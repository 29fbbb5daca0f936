/* pull.c - the PULL endpoint for rsyslog's omczmq (pull.h). Each message is
 * one frame holding one line; lines are gathered per supplier into a body
 * of pull_content_type, one line per item, and handed to the writers as a
 * request of their own when the batch is full or pull_batch_ms old. */
#include "pull.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "auth.h"
#include "clock.h"
#include "parse.h"
#include "proto.h"
#include "request.h"
#include "xmalloc.h"

#define READ_BURST	256	/* messages read before other events get a turn */
#define BATCH_LINES_MAX	5000
#define BATCH_BYTES_MAX	(4L << 20)

/* The lines of one supplier not yet handed over. */
struct pending {
	int32_t supplier_id;
	char name[64];
	char key_fp[33];
	struct buf body;
	size_t lines;
	int64_t first_ms;		/* when its first line came */
};

struct pull {
	const struct config *cfg;
	void *sock;
	struct event_base *base;
	struct event *ev_sock, *ev_tick;
	struct writer_pool *pool;
	struct auth *auth;
	enum content_type ct;
	struct pending *pend;
	size_t npend;
	size_t batch_lines, batch_bytes;
	size_t inflight_bytes;		/* handed over, not yet done */
	int paused, draining;
	uint64_t seq;
	/* counters */
	uint64_t lines, batches, dropped_frames, lost_batches;
};

/* The one endpoint, for pull_request_done and pull_metrics. */
static struct pull *the_pull;

int
pull_check_config(const struct config *cfg, int curve, char *err,
    size_t errlen)
{
	enum content_type ct;

	if (!cfg->pull_endpoint[0])
		return 0;
	if (curve && cfg->pull_supplier[0]) {
		snprintf(err, errlen, "pull_supplier is for allow_plaintext only: "
		    "with curve_secret_key each line's supplier is the one its "
		    "key belongs to");
		return -1;
	}
	if (!curve && !cfg->pull_supplier[0]) {
		snprintf(err, errlen, "pull_endpoint without curve_secret_key "
		    "needs pull_supplier: the supplier the lines are from");
		return -1;
	}
	if (strcmp(cfg->pull_endpoint, cfg->endpoint) == 0) {
		snprintf(err, errlen, "pull_endpoint must differ from endpoint");
		return -1;
	}
	ct = proto_content_type(cfg->pull_content_type,
	    strlen(cfg->pull_content_type));
	if (parser_for(ct) == NULL) {
		snprintf(err, errlen, "pull_content_type: bevisd reads no '%s'; "
		    "one of %s", cfg->pull_content_type, parser_content_types());
		return -1;
	}
	return 0;
}

struct pull *
pull_bind(void *zctx, const struct config *cfg, const char *curve_secret)
{
	struct pull *pl;
	int one = 1, linger = 0, hwm = (int)cfg->rcvhwm * 64;
	int64_t maxmsg = cfg->max_item_bytes + 2;

	if (!cfg->pull_endpoint[0])
		return NULL;
	pl = xcalloc(1, sizeof(*pl));
	pl->cfg = cfg;
	pl->ct = proto_content_type(cfg->pull_content_type,
	    strlen(cfg->pull_content_type));
	pl->batch_lines = cfg->max_items < BATCH_LINES_MAX ?
	    (size_t)cfg->max_items : BATCH_LINES_MAX;
	pl->batch_bytes = cfg->max_message_size < BATCH_BYTES_MAX ?
	    (size_t)cfg->max_message_size : BATCH_BYTES_MAX;
	if ((pl->sock = zmq_socket(zctx, ZMQ_PULL)) == NULL)
		fatalx("zmq socket: %s", zmq_strerror(errno));
	/* A line longer than an item may be is dropped by libzmq with its
	 * connection: it could never be stored. */
	zmq_setsockopt(pl->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(pl->sock, ZMQ_IPV6, &one, sizeof(one));
	zmq_setsockopt(pl->sock, ZMQ_LINGER, &linger, sizeof(linger));
	/* Lines are small: queue more of them than requests per connection. */
	zmq_setsockopt(pl->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	int ms = (int)cfg->handshake_timeout * 1000;
	zmq_setsockopt(pl->sock, ZMQ_HANDSHAKE_IVL, &ms, sizeof(ms));
	/* A sender that vanished without a FIN is dropped, as on endpoint. */
	if (cfg->heartbeat_interval > 0) {
		ms = (int)cfg->heartbeat_interval * 1000;
		zmq_setsockopt(pl->sock, ZMQ_HEARTBEAT_IVL, &ms, sizeof(ms));
		ms *= 3;
		zmq_setsockopt(pl->sock, ZMQ_HEARTBEAT_TIMEOUT, &ms, sizeof(ms));
		zmq_setsockopt(pl->sock, ZMQ_HEARTBEAT_TTL, &ms, sizeof(ms));
	}
	if (curve_secret && (zmq_setsockopt(pl->sock, ZMQ_CURVE_SERVER, &one,
	    sizeof(one)) < 0 || zmq_setsockopt(pl->sock, ZMQ_CURVE_SECRETKEY,
	    curve_secret, strlen(curve_secret)) < 0 ||
	    zmq_setsockopt(pl->sock, ZMQ_ZAP_DOMAIN, "bevis", 5) < 0))
		fatalx("pull_endpoint CURVE: %s", zmq_strerror(errno));
	if (zmq_bind(pl->sock, cfg->pull_endpoint) < 0)
		fatalx("cannot bind pull_endpoint %s: %s", cfg->pull_endpoint,
		    zmq_strerror(errno));
	log_info("pull endpoint on %s (%s, %s lines, at most once in flight)",
	    cfg->pull_endpoint, curve_secret ? "CURVE, suppliers by key" :
	    "plaintext, all from pull_supplier", cfg->pull_content_type);
	the_pull = pl;
	return pl;
}

/* Hands p's lines to the writers as one request. */
static void
flush_pending(struct pull *pl, struct pending *p)
{
	struct request *r;
	size_t len = p->body.len;

	if (p->lines == 0)
		return;
	r = xcalloc(1, sizeof(*r));
	r->supplier_id = p->supplier_id;
	memcpy(r->supplier_name, p->name, sizeof(r->supplier_name));
	memcpy(r->key_fp, p->key_fp, sizeof(r->key_fp));
	r->route_len = 0;	/* nobody to answer */
	r->received_us = clock_real_us();
	snprintf(r->request_id, sizeof(r->request_id), "pull-%lld-%llu",
	    (long long)r->received_us, (unsigned long long)++pl->seq);
	r->ct = pl->ct;
	if (zmq_msg_init_size(&r->body, len) < 0)
		fatalx("zmq_msg_init_size: %s", zmq_strerror(errno));
	memcpy(zmq_msg_data(&r->body), p->body.data, len);
	buf_reset(&p->body);
	log_debug("pull: %zu lines of %s as request %s", p->lines,
	    p->name[0] ? p->name : "?", r->request_id);
	p->lines = 0;
	pl->batches++;
	pl->inflight_bytes += len;
	/* Past a supplier's budget of bytes in flight, stop reading: libzmq
	 * queues up to its high-water mark, then the sender holds the lines. */
	if (pl->inflight_bytes > (size_t)pl->cfg->supplier_inflight_bytes)
		pl->paused = 1;
	writer_pool_submit(pl->pool, r);
}

static struct pending *
pending_of(struct pull *pl, int32_t id, const char *name, const char *fp)
{
	for (size_t i = 0; i < pl->npend; i++)
		if (pl->pend[i].supplier_id == id &&
		    strcmp(pl->pend[i].name, name) == 0)
			return &pl->pend[i];
	pl->pend = xrealloc(pl->pend, (pl->npend + 1) * sizeof(*pl->pend));
	struct pending *p = &pl->pend[pl->npend++];
	memset(p, 0, sizeof(*p));
	p->supplier_id = id;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->key_fp, sizeof(p->key_fp), "%s", fp);
	return p;
}

/* One line into its supplier's batch: without its line end, one item. */
static void
take_line(struct pull *pl, const struct supplier *sup, const char *s,
    size_t n)
{
	struct pending *p;

	if (n && s[n - 1] == '\n')
		n--;
	if (n && s[n - 1] == '\r')
		n--;
	if (n == 0)
		return;
	p = sup ? pending_of(pl, sup->id, sup->name, sup->fingerprint) :
	    pending_of(pl, 0, pl->cfg->pull_supplier, "");
	if (p->lines && p->body.len + n + 1 > pl->batch_bytes)
		flush_pending(pl, p);
	if (p->lines == 0)
		p->first_ms = clock_mono_ms();
	buf_append(&p->body, s, n);
	buf_putc(&p->body, '\n');
	p->lines++;
	pl->lines++;
	if (p->lines >= pl->batch_lines)
		flush_pending(pl, p);
}

static void
read_one(struct pull *pl)
{
	zmq_msg_t m;
	int more = 0;
	size_t sz = sizeof(more);
	const struct supplier *sup = NULL;

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, pl->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&m);
		return;
	}
	zmq_getsockopt(pl->sock, ZMQ_RCVMORE, &more, &sz);
	if (more) {
		/* omczmq sends one frame: a multi-part message is not a line. */
		pl->dropped_frames++;
		while (more) {
			zmq_msg_close(&m);
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, pl->sock, 0) < 0)
				break;
			zmq_getsockopt(pl->sock, ZMQ_RCVMORE, &more, &sz);
		}
		zmq_msg_close(&m);
		log_warnx("pull: a message of several frames, dropped; omczmq "
		    "sends one line per frame");
		return;
	}
	if (pl->auth) {
		const char *uid = zmq_msg_gets(&m, "User-Id");
		if (uid == NULL || (sup = auth_find(pl->auth, uid)) == NULL) {
			pl->dropped_frames++;	/* its key was revoked meanwhile */
			zmq_msg_close(&m);
			return;
		}
	}
	take_line(pl, sup, zmq_msg_data(&m), zmq_msg_size(&m));
	zmq_msg_close(&m);
}

static void
read_available(struct pull *pl)
{
	for (int burst = 0; burst < READ_BURST; burst++) {
		int events = 0;
		size_t sz = sizeof(events);

		if (pl->draining || pl->paused)
			return;
		if (zmq_getsockopt(pl->sock, ZMQ_EVENTS, &events, &sz) < 0 ||
		    !(events & ZMQ_POLLIN))
			return;
		read_one(pl);
	}
	event_active(pl->ev_sock, EV_READ, 0);
}

static void
on_socket(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	read_available(arg);
}

/* Hands over the batches that are old enough. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pull *pl = arg;
	int64_t now = clock_mono_ms();

	(void)fd;
	(void)what;
	for (size_t i = 0; i < pl->npend; i++)
		if (pl->pend[i].lines &&
		    now - pl->pend[i].first_ms >= pl->cfg->pull_batch_ms)
			flush_pending(pl, &pl->pend[i]);
}

void
pull_start(struct pull *pl, struct event_base *base, struct writer_pool *pool,
    struct auth *auth)
{
	int fd;
	size_t sz = sizeof(fd);
	long ms = pl->cfg->pull_batch_ms / 2 > 0 ? pl->cfg->pull_batch_ms / 2 : 1;
	struct timeval tick = { ms / 1000, (ms % 1000) * 1000 };

	pl->base = base;
	pl->pool = pool;
	pl->auth = auth;
	if (zmq_getsockopt(pl->sock, ZMQ_FD, &fd, &sz) < 0)
		fatalx("zmq_getsockopt ZMQ_FD: %s", zmq_strerror(errno));
	pl->ev_sock = event_new(base, fd, EV_READ | EV_PERSIST, on_socket, pl);
	pl->ev_tick = event_new(base, -1, EV_PERSIST, on_tick, pl);
	event_add(pl->ev_sock, NULL);
	event_add(pl->ev_tick, &tick);
	event_active(pl->ev_sock, EV_READ, 0);
}

void
pull_drain(struct pull *pl)
{
	size_t lines = 0;

	pl->draining = 1;
	for (size_t i = 0; i < pl->npend; i++) {
		lines += pl->pend[i].lines;
		flush_pending(pl, &pl->pend[i]);
	}
	log_info("pull: stopped reading; %zu lines handed to the writers",
	    lines);
}

void
pull_request_done(const struct request *r)
{
	struct pull *pl = the_pull;

	if (pl == NULL)
		return;
	pl->inflight_bytes -= zmq_msg_size((zmq_msg_t *)&r->body);
	/* Nobody reads the reply: a batch that was neither stored nor
	 * spooled is said here, as nowhere else would. */
	if (r->reply.len < 12 || (memcmp(r->reply.data, "{\"status\":\"ok\"", 14)
	    != 0 && memcmp(r->reply.data, "{\"status\":\"spooled\"", 19) != 0)) {
		pl->lost_batches++;
		log_warnx("pull: request %s of %s was not stored: %.*s",
		    r->request_id, r->supplier_name, (int)(r->reply.len < 300 ?
		    r->reply.len : 300), (const char *)r->reply.data);
	} else if (r->quarantined) {
		log_info("pull: request %s of %s: %u lines accepted, %u "
		    "duplicate, %u quarantined", r->request_id, r->supplier_name,
		    r->accepted, r->duplicate, r->quarantined);
	}
	/* Read again once half the room is back. */
	if (pl->paused && pl->inflight_bytes <=
	    (size_t)pl->cfg->supplier_inflight_bytes / 2) {
		pl->paused = 0;
		if (pl->ev_sock && !pl->draining)
			event_active(pl->ev_sock, EV_READ, 0);
	}
}

void
pull_metrics(struct buf *b)
{
	struct pull *pl = the_pull;

	if (pl == NULL)
		return;
	buf_printf(b, "# HELP bevis_pull_lines_total Lines read on the PULL "
	    "endpoint.\n# TYPE bevis_pull_lines_total counter\n"
	    "bevis_pull_lines_total %llu\n"
	    "# HELP bevis_pull_requests_total Requests the PULL endpoint made "
	    "of them.\n# TYPE bevis_pull_requests_total counter\n"
	    "bevis_pull_requests_total %llu\n"
	    "# HELP bevis_pull_dropped_total Messages dropped on the PULL "
	    "endpoint: several frames, or a key no longer active.\n"
	    "# TYPE bevis_pull_dropped_total counter\n"
	    "bevis_pull_dropped_total %llu\n"
	    "# HELP bevis_pull_lost_requests_total PULL requests neither "
	    "stored nor spooled.\n# TYPE bevis_pull_lost_requests_total counter\n"
	    "bevis_pull_lost_requests_total %llu\n",
	    (unsigned long long)pl->lines, (unsigned long long)pl->batches,
	    (unsigned long long)pl->dropped_frames,
	    (unsigned long long)pl->lost_batches);
}

void
pull_free(struct pull *pl)
{
	if (pl == NULL)
		return;
	if (pl->ev_sock)
		event_free(pl->ev_sock);
	if (pl->ev_tick)
		event_free(pl->ev_tick);
	for (size_t i = 0; i < pl->npend; i++)
		buf_free(&pl->pend[i].body);
	free(pl->pend);
	zmq_close(pl->sock);
	if (the_pull == pl)
		the_pull = NULL;
	free(pl);
}
