/* cmd_send.c - bevis send and bevis ping: a ZeroMQ client of protocol v1.
 *
 * send splits the input into chunks of whole items, keeps up to --window
 * requests in flight on a DEALER socket, and matches replies by request id.
 * When a reply is late it closes the socket, opens a new one and resends
 * every unanswered request under its original request id (the Lazy Pirate
 * pattern); bevisd answers a repeated id with the stored outcome. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "buf.h"
#include "cli.h"
#include "proto.h"
#include "split.h"
#include "xmalloc.h"

struct chunk {
	char rid[40];
	size_t first, count;		/* items of the input */
	struct buf body;
	int64_t sent_ms;
	int state;			/* 0 waiting, 1 in flight, 2 answered */
};

struct sender {
	const char *name;		/* input name for messages */
	const unsigned char *data;
	size_t len;
	struct split sp;
	enum content_type ct;
	struct chunk *chunks;
	size_t nchunks;
	void *zctx, *sock;
	char *endpoint;
	long timeout_ms, retries, window;
	int quiet;
	size_t accepted, duplicate, quarantined, failed_items, failed_requests;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
read_input(const char *path, struct buf *out)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		fprintf(stderr, "bevis send: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		buf_reserve(out, 65536);
		n = read(fd, out->data + out->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out->len += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (n < 0) {
		fprintf(stderr, "bevis send: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void *
open_socket(struct sender *s)
{
	void *sock = zmq_socket(s->zctx, ZMQ_DEALER);
	int zero = 0;

	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(sock, s->endpoint) < 0) {
		fprintf(stderr, "bevis: cannot connect to %s: %s\n", s->endpoint,
		    zmq_strerror(errno));
		exit(2);
	}
	return sock;
}

static int
send_frames(void *sock, const char *cmd, const char *rid, const char *ct,
    const void *body, size_t len)
{
	if (zmq_send(sock, PROTO_VERSION, strlen(PROTO_VERSION), ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, cmd, strlen(cmd), ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, rid, strlen(rid), ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, ct, strlen(ct), ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, body, len, 0) < 0)
		return -1;
	return 0;
}

static struct json_object *
parse_json(const void *p, size_t n)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = json_tokener_parse_ex(tok, p, (int)n);

	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* Receives one reply: version, request id, status. Returns the parsed
 * status (caller puts it) and the request id, or NULL. */
static struct json_object *
recv_reply(void *sock, char *rid, size_t ridlen)
{
	zmq_msg_t parts[4];
	int n = 0, more;
	struct json_object *status = NULL;

	do {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, 0) < 0) {
			zmq_msg_close(&m);
			break;
		}
		more = zmq_msg_more(&m);
		if (n < 4) {
			zmq_msg_init(&parts[n]);
			zmq_msg_move(&parts[n++], &m);
		}
		zmq_msg_close(&m);
	} while (more);
	/* A REQ-style empty delimiter may lead. */
	int f = n > 0 && zmq_msg_size(&parts[0]) == 0 ? 1 : 0;
	if (n - f == 3) {
		size_t l = zmq_msg_size(&parts[f + 1]);
		if (l >= ridlen)
			l = ridlen - 1;
		memcpy(rid, zmq_msg_data(&parts[f + 1]), l);
		rid[l] = '\0';
		status = parse_json(zmq_msg_data(&parts[f + 2]),
		    zmq_msg_size(&parts[f + 2]));
	}
	for (int i = 0; i < n; i++)
		zmq_msg_close(&parts[i]);
	return status;
}

static const char *
jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v,
	    json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static void
make_chunks(struct sender *s, long max_items, long max_bytes)
{
	size_t cap = 16;

	s->chunks = xcalloc(cap, sizeof(*s->chunks));
	if (s->sp.error || s->sp.n == 0) {
		/* Sent whole: bevisd records and quarantines what it cannot
		 * read, and an empty input is a request of zero items. */
		struct chunk *c = &s->chunks[s->nchunks++];
		buf_append(&c->body, s->data, s->sp.error ? s->len : 0);
		c->count = s->sp.error ? 1 : 0;
		return;
	}
	for (size_t i = 0; i < s->sp.n;) {
		size_t first = i, bytes = 0;

		while (i < s->sp.n && (i == first || ((long)(i - first) < max_items &&
		    (long)(bytes + s->sp.items[i].len + 2) <= max_bytes))) {
			bytes += s->sp.items[i].len + 2;
			i++;
		}
		if (s->nchunks == cap) {
			cap *= 2;
			s->chunks = xrealloc(s->chunks, cap * sizeof(*s->chunks));
		}
		struct chunk *c = &s->chunks[s->nchunks++];
		memset(c, 0, sizeof(*c));
		c->first = first;
		c->count = i - first;
		const struct item_span *a = &s->sp.items[first];
		const struct item_span *z = &s->sp.items[i - 1];
		size_t start = a->off, end = z->off + z->len;
		if (s->ct == CT_NDJSON) {
			/* The lines as they are in the input, newline and all. */
			size_t lim = s->len - end < 2 ? s->len - end : 2;
			const unsigned char *nl = memchr(s->data + end, '\n', lim);
			if (nl)
				end = (size_t)(nl - s->data) + 1;
			buf_append(&c->body, s->data + start, end - start);
		} else if (s->sp.n == 1 && s->data[a->off] == '{') {
			buf_append(&c->body, s->data + start, end - start);
		} else {
			buf_putc(&c->body, '[');
			buf_append(&c->body, s->data + start, end - start);
			buf_putc(&c->body, ']');
		}
	}
}

static void
new_request_id(char rid[40])
{
	unsigned char r[16];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(rid, 33, r, sizeof(r));
}

static void
report_reply(struct sender *s, struct chunk *c, struct json_object *st)
{
	const char *status = jstr(st, "status");
	struct json_object *outs, *v;

	if (status == NULL || strcmp(status, "ok") != 0) {
		const char *err = jstr(st, "error"), *msg = jstr(st, "message");
		size_t line = c->count ? s->sp.items[c->first].line : 1;
		fprintf(stderr, "%s:%zu: request %s (%zu items) refused: %s: %s\n",
		    s->name, line, c->rid, c->count, err ? err : "?",
		    msg ? msg : json_object_to_json_string(st));
		s->failed_requests++;
		s->failed_items += c->count;
		return;
	}
	if (!json_object_object_get_ex(st, "outcomes", &outs) ||
	    !json_object_is_type(outs, json_type_array))
		return;
	for (size_t k = 0; k < json_object_array_length(outs); k++) {
		struct json_object *o = json_object_array_get_idx(outs, k);
		const char *oc = jstr(o, "outcome");

		if (oc == NULL)
			continue;
		if (strcmp(oc, "accepted") == 0) {
			s->accepted++;
		} else if (strcmp(oc, "duplicate") == 0) {
			s->duplicate++;
		} else {
			size_t item = c->first + k, line = 1;
			if (json_object_object_get_ex(o, "item", &v))
				item = c->first + (size_t)json_object_get_int64(v);
			if (!s->sp.error && item < s->sp.n)
				line = s->sp.items[item].line;
			s->quarantined++;
			fprintf(stderr, "%s:%zu: quarantined: %s\n", s->name, line,
			    jstr(o, "reason") ? jstr(o, "reason") : "?");
		}
	}
}

static int
run_send(struct sender *s)
{
	size_t next = 0, answered = 0, inflight = 0;
	long tries = 0;

	s->sock = open_socket(s);
	while (answered < s->nchunks) {
		while (next < s->nchunks && (long)inflight < s->window) {
			struct chunk *c = &s->chunks[next++];
			new_request_id(c->rid);
			if (send_frames(s->sock, PROTO_CMD_EVENTS, c->rid,
			    proto_content_type_name(s->ct), c->body.data,
			    c->body.len) < 0) {
				fprintf(stderr, "bevis send: %s\n", zmq_strerror(errno));
				return -1;
			}
			c->sent_ms = now_ms();
			c->state = 1;
			inflight++;
		}
		/* Wait for the oldest request's deadline at most. */
		int64_t deadline = INT64_MAX;
		for (size_t i = 0; i < next; i++)
			if (s->chunks[i].state == 1 &&
			    s->chunks[i].sent_ms + s->timeout_ms < deadline)
				deadline = s->chunks[i].sent_ms + s->timeout_ms;
		long wait = (long)(deadline - now_ms());
		zmq_pollitem_t pi = { s->sock, 0, ZMQ_POLLIN, 0 };
		int rc = zmq_poll(&pi, 1, wait < 0 ? 0 : wait);
		if (rc < 0 && errno != EINTR)
			return -1;
		if (rc > 0) {
			char rid[PROTO_REQUEST_ID_MAX + 1];
			struct json_object *st = recv_reply(s->sock, rid, sizeof(rid));
			for (size_t i = 0; st && i < next; i++) {
				struct chunk *c = &s->chunks[i];
				if (c->state == 1 && strcmp(c->rid, rid) == 0) {
					report_reply(s, c, st);
					c->state = 2;
					answered++;
					inflight--;
					break;
				}
			}
			json_object_put(st);
			continue;
		}
		if (now_ms() < deadline)
			continue;
		/* Lazy Pirate: a fresh socket, the same request ids. */
		if (++tries > s->retries) {
			fprintf(stderr, "bevis send: no reply from %s after %ld "
			    "tries; %zu requests unanswered\n", s->endpoint, tries,
			    inflight);
			for (size_t i = 0; i < next; i++)
				if (s->chunks[i].state == 1) {
					s->failed_requests++;
					s->failed_items += s->chunks[i].count;
				}
			return -1;
		}
		if (!s->quiet)
			fprintf(stderr, "bevis send: no reply within %ld ms, "
			    "resending %zu requests (try %ld of %ld)\n",
			    s->timeout_ms, inflight, tries + 1, s->retries + 1);
		zmq_close(s->sock);
		s->sock = open_socket(s);
		for (size_t i = 0; i < next; i++) {
			struct chunk *c = &s->chunks[i];
			if (c->state != 1)
				continue;
			if (send_frames(s->sock, PROTO_CMD_EVENTS, c->rid,
			    proto_content_type_name(s->ct), c->body.data,
			    c->body.len) < 0)
				return -1;
			c->sent_ms = now_ms();
		}
	}
	return 0;
}

static int
send_usage(void)
{
	fprintf(stderr, "usage: bevis send [--endpoint E] [--type ndjson|json] "
	    "[--timeout SECONDS]\n"
	    "                  [--retries N] [--window N] [--chunk-items N] "
	    "[--quiet] FILE|-\n");
	return 2;
}

int
cmd_send(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "endpoint", required_argument, NULL, 'e' },
		{ "type", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "retries", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'w' },
		{ "chunk-items", required_argument, NULL, 'i' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	struct sender s;
	struct buf in = BUF_INIT;
	const char *type = NULL, *endpoint = NULL;
	long chunk_items = 1000;
	int ch, rc;

	memset(&s, 0, sizeof(s));
	s.timeout_ms = 10000;
	s.retries = 3;
	s.window = 16;
	while ((ch = getopt_long(argc, argv, "c:e:t:qh", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 'e': endpoint = optarg; break;
		case 't': type = optarg; break;
		case 'T': s.timeout_ms = (long)(atof(optarg) * 1000); break;
		case 'r': s.retries = atol(optarg); break;
		case 'w': s.window = atol(optarg); break;
		case 'i': chunk_items = atol(optarg); break;
		case 'q': s.quiet = 1; break;
		default: return send_usage();
		}
	}
	if (optind + 1 != argc || s.timeout_ms <= 0 || s.retries < 0 ||
	    s.window < 1 || chunk_items < 1)
		return send_usage();
	s.name = argv[optind];
	if (read_input(s.name, &in) < 0)
		return 2;
	buf_cstr(&in);
	s.data = in.data;
	s.len = in.len;
	if (type == NULL) {
		size_t l = strlen(s.name), p = 0;
		while (p < in.len && strchr(" \t\r\n", in.data[p]))
			p++;
		if ((l > 5 && strcmp(s.name + l - 5, ".json") == 0) ||
		    (p < in.len && in.data[p] == '['))
			type = "json";
		else
			type = "ndjson";
	}
	if (strcmp(type, "ndjson") == 0)
		s.ct = CT_NDJSON;
	else if (strcmp(type, "json") == 0)
		s.ct = CT_JSON;
	else
		return send_usage();
	cli_load_config(cli);
	s.endpoint = cli_endpoint(cli, endpoint);
	split_body(&s.sp, s.ct, s.data, in.len);
	/* Leave room for the frames around the body. */
	make_chunks(&s, chunk_items, cli->cfg.max_message_size - 4096);
	s.zctx = zmq_ctx_new();
	rc = run_send(&s);
	zmq_close(s.sock);
	zmq_ctx_term(s.zctx);
	size_t total = s.sp.error ? 1 : s.sp.n;
	printf("%s: %zu items in %zu requests: %zu accepted, %zu duplicate, "
	    "%zu quarantined%s\n", s.name, total, s.nchunks, s.accepted,
	    s.duplicate, s.quarantined, s.failed_items || rc < 0 ?
	    " - NOT ALL DELIVERED" : "");
	if (s.failed_items)
		printf("%s: %zu items in %zu requests were not stored\n", s.name,
		    s.failed_items, s.failed_requests);
	for (size_t i = 0; i < s.nchunks; i++)
		buf_free(&s.chunks[i].body);
	free(s.chunks);
	split_free(&s.sp);
	free(s.endpoint);
	buf_free(&in);
	if (rc < 0 || s.failed_items)
		return 2;
	return s.quarantined ? 1 : 0;
}

int
cmd_ping(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "endpoint", required_argument, NULL, 'e' },
		{ "timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 } };
	const char *endpoint = NULL;
	long timeout_ms = 3000;
	char rid[40], got[PROTO_REQUEST_ID_MAX + 1];
	int ch, rc = 1;

	while ((ch = getopt_long(argc, argv, "c:e:", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		if (ch == 'e')
			endpoint = optarg;
		else if (ch == 'T')
			timeout_ms = (long)(atof(optarg) * 1000);
		else {
			fprintf(stderr, "usage: bevis ping [--endpoint E] "
			    "[--timeout SECONDS]\n");
			return 2;
		}
	}
	struct sender s;
	memset(&s, 0, sizeof(s));
	s.endpoint = cli_endpoint(cli, endpoint);
	s.zctx = zmq_ctx_new();
	s.sock = open_socket(&s);
	new_request_id(rid);
	int64_t t0 = now_ms();
	if (send_frames(s.sock, PROTO_CMD_PING, rid, "", "", 0) == 0) {
		zmq_pollitem_t pi = { s.sock, 0, ZMQ_POLLIN, 0 };
		if (zmq_poll(&pi, 1, timeout_ms) > 0) {
			struct json_object *st = recv_reply(s.sock, got, sizeof(got));
			if (st && jstr(st, "status") && strcmp(jstr(st, "status"),
			    "ok") == 0) {
				printf("pong from %s at %s in %lld ms\n",
				    jstr(st, "server") ? jstr(st, "server") : "?",
				    s.endpoint, (long long)(now_ms() - t0));
				rc = 0;
			} else {
				fprintf(stderr, "bevis ping: unexpected reply: %s\n",
				    st ? json_object_to_json_string(st) : "(none)");
			}
			json_object_put(st);
		} else {
			fprintf(stderr, "bevis ping: no reply from %s within %ld ms\n",
			    s.endpoint, timeout_ms);
		}
	}
	zmq_close(s.sock);
	zmq_ctx_term(s.zctx);
	free(s.endpoint);
	return rc;
}
