/* cmd_send.c - bevis send and bevis ping: a ZeroMQ client of protocol v1.
 *
 * send splits the input into chunks of whole items, keeps up to --window
 * requests in flight on a DEALER socket, and matches replies by request id.
 * When a reply is late it closes the socket, opens a new one and resends
 * every unanswered request under its original request id (the Lazy Pirate
 * pattern); bevisd answers a repeated id with the stored outcome.
 *
 * With a server key and a client key (--server-key, --key, or [client] in
 * the config) the sockets speak CURVE; without, plaintext. A monitor on the
 * socket turns a refused handshake into an error at once, where the socket
 * itself would only stay silent until the timeout. */
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
#include "curvekey.h"
#include "proto.h"
#include "split.h"
#include "xmalloc.h"

struct chunk {
	char rid[40];
	size_t first, count;		/* items of the input */
	struct buf body;
	int64_t sent_ms;
	int64_t resend_ms;		/* state 3: when to send again */
	int state;			/* 0 waiting, 1 in flight, 2 answered,
					 * 3 busy: to be sent again */
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
	void *mon;			/* PAIR reading sock's monitor events */
	char *endpoint;
	const char *cmd;		/* "send" or "ping", for messages */
	int curve;			/* CURVE keys below are set */
	char server_key[CURVE_Z85_LEN + 1];
	char public_key[CURVE_Z85_LEN + 1];
	char secret_key[CURVE_Z85_LEN + 1];
	char fingerprint[CURVE_FINGERPRINT_LEN + 1];
	int handshake_failures;		/* without detail, since the last success */
	long timeout_ms, retries, window;
	int quiet;
	size_t accepted, duplicate, quarantined, failed_items, failed_requests;
	size_t busy;			/* busy replies */
	size_t spooled;			/* items in requests answered spooled */
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

static int
has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The keys from --server-key and --key, else from [client] in the config.
 * Both or neither: neither means plaintext. Returns -1 after a message. */
static int
load_keys(struct sender *s, struct cli *cli, const char *server_key,
    const char *key)
{
	char err[600];

	if (server_key == NULL || key == NULL) {
		cli_load_config(cli);
		if (server_key == NULL && cli->cfg.client_server_key &&
		    cli->cfg.client_server_key[0])
			server_key = cli->cfg.client_server_key;
		if (key == NULL && cli->cfg.client_key && cli->cfg.client_key[0])
			key = cli->cfg.client_key;
	}
	if (server_key == NULL && key == NULL)
		return 0;
	if (server_key == NULL || key == NULL) {
		fprintf(stderr, "bevis %s: CURVE needs both keys: the server's "
		    "public key (--server-key FILE) and this client's secret key "
		    "(--key FILE); only the %s is given\n", s->cmd,
		    server_key ? "server's" : "client's");
		return -1;
	}
	if (has_suffix(server_key, ".key") || has_suffix(key, ".pub")) {
		fprintf(stderr, "bevis %s: %s looks like a %s key file: %s\n",
		    s->cmd, has_suffix(key, ".pub") ? key : server_key,
		    has_suffix(key, ".pub") ? "public" : "secret",
		    has_suffix(key, ".pub") ? "--key takes this client's secret "
		    "key (NAME.key)" : "--server-key takes the server's public "
		    "key (NAME.pub)");
		return -1;
	}
	if (curvekey_read(server_key, 0, s->server_key, err, sizeof(err)) < 0 ||
	    curvekey_read(key, 1, s->secret_key, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis %s: %s\n", s->cmd, err);
		return -1;
	}
	if (zmq_curve_public(s->public_key, s->secret_key) < 0 ||
	    curvekey_fingerprint(s->public_key, s->fingerprint) < 0) {
		fprintf(stderr, "bevis %s: %s: cannot derive the public key: %s\n",
		    s->cmd, key, zmq_strerror(errno));
		return -1;
	}
	if (strcmp(s->server_key, s->public_key) == 0) {
		fprintf(stderr, "bevis %s: the server key and the client key are "
		    "one key pair; each side needs its own\n", s->cmd);
		return -1;
	}
	s->curve = 1;
	return 0;
}

static void *
open_socket(struct sender *s)
{
	static unsigned nmon;
	void *sock = zmq_socket(s->zctx, ZMQ_DEALER);
	char monep[64];
	int zero = 0;

	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (s->curve && (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, s->server_key,
	    sizeof(s->server_key)) < 0 || zmq_setsockopt(sock,
	    ZMQ_CURVE_PUBLICKEY, s->public_key, sizeof(s->public_key)) < 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, s->secret_key,
	    sizeof(s->secret_key)) < 0)) {
		fprintf(stderr, "bevis %s: cannot use the CURVE keys: %s\n",
		    s->cmd, zmq_strerror(errno));
		exit(2);
	}
	/* Before the connect, so that no handshake goes unseen. */
	snprintf(monep, sizeof(monep), "inproc://bevis-monitor-%u", nmon++);
	if (zmq_socket_monitor(sock, monep, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED) == 0) {
		s->mon = zmq_socket(s->zctx, ZMQ_PAIR);
		zmq_setsockopt(s->mon, ZMQ_LINGER, &zero, sizeof(zero));
		if (zmq_connect(s->mon, monep) < 0) {
			zmq_close(s->mon);
			s->mon = NULL;
		}
	}
	if (zmq_connect(sock, s->endpoint) < 0) {
		fprintf(stderr, "bevis: cannot connect to %s: %s\n", s->endpoint,
		    zmq_strerror(errno));
		exit(2);
	}
	return sock;
}

static void
close_socket(struct sender *s)
{
	if (s->mon) {
		zmq_socket_monitor(s->sock, NULL, 0);
		zmq_close(s->mon);
		s->mon = NULL;
	}
	zmq_close(s->sock);
	s->sock = NULL;
}

/* Reads the monitor's events. Returns -1, after saying why, when the
 * handshake failed in a way that resending cannot mend. */
static int
check_handshake(struct sender *s)
{
	zmq_msg_t m;
	uint16_t ev;
	uint32_t val;

	while (s->mon) {
		int more, got = 0;
		do {
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, s->mon, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&m);
				return 0;
			}
			if (!got && zmq_msg_size(&m) >= 6) {
				memcpy(&ev, zmq_msg_data(&m), 2);
				memcpy(&val, (char *)zmq_msg_data(&m) + 2, 4);
				got = 1;
			}
			more = zmq_msg_more(&m);
			zmq_msg_close(&m);
		} while (more);
		if (!got)
			continue;
		if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
			s->handshake_failures = 0;
		} else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
			fprintf(stderr, "bevis %s: bevisd at %s refused this "
			    "client's CURVE key %s (ZAP status %u): it is not "
			    "registered (bevis supplier add) or it was revoked\n",
			    s->cmd, s->endpoint, s->fingerprint, (unsigned)val);
			return -1;
		} else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
			if (val == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
				fprintf(stderr, "bevis %s: bevisd at %s %s\n", s->cmd,
				    s->endpoint, s->curve ? "does not speak CURVE "
				    "(it serves plaintext)" : "speaks CURVE: give "
				    "--server-key FILE and --key FILE, or set them "
				    "in the [client] section of the config");
			else
				fprintf(stderr, "bevis %s: the %s handshake with %s "
				    "failed (ZMTP protocol error 0x%08x)%s\n", s->cmd,
				    s->curve ? "CURVE" : "ZeroMQ", s->endpoint,
				    (unsigned)val, s->curve ? ": is the server key "
				    "the public key of this bevisd?" : "");
			return -1;
		} else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL &&
		    s->curve && ++s->handshake_failures >= 5) {
			/* A CURVE server that cannot open the client's hello
			 * (another server key) just hangs up. */
			fprintf(stderr, "bevis %s: bevisd at %s hung up during the "
			    "CURVE handshake %d times: is the server key the public "
			    "key of this bevisd?\n", s->cmd, s->endpoint,
			    s->handshake_failures);
			return -1;
		}
	}
	return 0;
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

/* Counts and prints the outcomes of a reply. Returns 1 for a busy reply:
 * the request is to be sent again, under its id, after retry_after_ms. */
static int
report_reply(struct sender *s, struct chunk *c, struct json_object *st)
{
	const char *status = jstr(st, "status");
	struct json_object *outs, *v;

	if (status && strcmp(status, "busy") == 0) {
		int64_t after = 1000;
		if (json_object_object_get_ex(st, "retry_after_ms", &v) &&
		    json_object_is_type(v, json_type_int))
			after = json_object_get_int64(v);
		if (after < 10)
			after = 10;
		if (after > 60000)
			after = 60000;
		if (s->busy++ == 0 && !s->quiet)
			fprintf(stderr, "bevis send: bevisd is busy%s%s; sending "
			    "again after %lld ms (the same request ids)\n",
			    jstr(st, "message") ? ": " : "",
			    jstr(st, "message") ? jstr(st, "message") : "",
			    (long long)after);
		c->state = 3;
		c->resend_ms = now_ms() + after;
		return 1;
	}
	if (status && strcmp(status, "spooled") == 0) {
		/* Durable on bevisd's disk; the outcomes come at replay. */
		s->spooled += c->count;
		return 0;
	}
	if (status == NULL || strcmp(status, "ok") != 0) {
		const char *err = jstr(st, "error"), *msg = jstr(st, "message");
		size_t line = c->count ? s->sp.items[c->first].line : 1;
		fprintf(stderr, "%s:%zu: request %s (%zu items) refused: %s: %s\n",
		    s->name, line, c->rid, c->count, err ? err : "?",
		    msg ? msg : json_object_to_json_string(st));
		s->failed_requests++;
		s->failed_items += c->count;
		return 0;
	}
	if (!json_object_object_get_ex(st, "outcomes", &outs) ||
	    !json_object_is_type(outs, json_type_array))
		return 0;
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
	return 0;
}

/* Counts every request not answered yet as failed. */
static void
fail_unanswered(struct sender *s)
{
	for (size_t i = 0; i < s->nchunks; i++)
		if (s->chunks[i].state != 2) {
			s->chunks[i].state = 2;
			s->failed_requests++;
			s->failed_items += s->chunks[i].count;
		}
}

static int
send_chunk(struct sender *s, struct chunk *c)
{
	if (send_frames(s->sock, PROTO_CMD_EVENTS, c->rid,
	    proto_content_type_name(s->ct), c->body.data, c->body.len) < 0) {
		fprintf(stderr, "bevis send: %s\n", zmq_strerror(errno));
		return -1;
	}
	c->sent_ms = now_ms();
	c->state = 1;
	return 0;
}

static int
run_send(struct sender *s)
{
	size_t next = 0, answered = 0, inflight = 0;
	long tries = 0;

	s->sock = open_socket(s);
	while (answered < s->nchunks) {
		int64_t now = now_ms();

		while (next < s->nchunks && (long)inflight < s->window) {
			struct chunk *c = &s->chunks[next++];
			new_request_id(c->rid);
			if (send_chunk(s, c) < 0)
				return -1;
			inflight++;
		}
		/* Requests bevisd was too busy for, due again: the same id. */
		for (size_t i = 0; i < next; i++)
			if (s->chunks[i].state == 3 && s->chunks[i].resend_ms <= now &&
			    send_chunk(s, &s->chunks[i]) < 0)
				return -1;
		/* Wait for the oldest request's deadline, or the next resend. */
		int64_t deadline = INT64_MAX, wake;
		for (size_t i = 0; i < next; i++)
			if (s->chunks[i].state == 1 &&
			    s->chunks[i].sent_ms + s->timeout_ms < deadline)
				deadline = s->chunks[i].sent_ms + s->timeout_ms;
		wake = deadline;
		for (size_t i = 0; i < next; i++)
			if (s->chunks[i].state == 3 && s->chunks[i].resend_ms < wake)
				wake = s->chunks[i].resend_ms;
		long wait = (long)(wake - now_ms());
		zmq_pollitem_t pi[2] = { { s->sock, 0, ZMQ_POLLIN, 0 },
			{ s->mon, 0, ZMQ_POLLIN, 0 } };
		int rc = zmq_poll(pi, s->mon ? 2 : 1, wait < 0 ? 0 : wait);
		if (rc < 0 && errno != EINTR)
			return -1;
		if (rc > 0 && s->mon && (pi[1].revents & ZMQ_POLLIN) &&
		    check_handshake(s) < 0) {
			fail_unanswered(s);
			return -1;
		}
		if (rc > 0 && (pi[0].revents & ZMQ_POLLIN)) {
			char rid[PROTO_REQUEST_ID_MAX + 1];
			struct json_object *st = recv_reply(s->sock, rid, sizeof(rid));
			for (size_t i = 0; st && i < next; i++) {
				struct chunk *c = &s->chunks[i];
				if (c->state != 1 || strcmp(c->rid, rid) != 0)
					continue;
				if (report_reply(s, c, st) == 0) {
					c->state = 2;
					answered++;
					inflight--;
				}
				break;
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
			fail_unanswered(s);
			return -1;
		}
		if (!s->quiet)
			fprintf(stderr, "bevis send: no reply within %ld ms, "
			    "resending %zu requests (try %ld of %ld)\n",
			    s->timeout_ms, inflight, tries + 1, s->retries + 1);
		close_socket(s);
		s->sock = open_socket(s);
		for (size_t i = 0; i < next; i++)
			if (s->chunks[i].state == 1 &&
			    send_chunk(s, &s->chunks[i]) < 0)
				return -1;
	}
	return 0;
}

static int
send_usage(void)
{
	fprintf(stderr, "usage: bevis send [--endpoint E] [--server-key FILE "
	    "--key FILE] [--type ndjson|json]\n"
	    "                  [--timeout SECONDS] [--retries N] [--window N] "
	    "[--chunk-items N]\n"
	    "                  [--quiet] FILE|-\n"
	    "--server-key is bevisd's CURVE public key, --key this supplier's "
	    "CURVE secret key\n(mode 0600); without them, server_key and key in "
	    "the config's [client] section;\nwithout either, plaintext.\n");
	return 2;
}

int
cmd_send(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "endpoint", required_argument, NULL, 'e' },
		{ "server-key", required_argument, NULL, 'S' },
		{ "key", required_argument, NULL, 'k' },
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
	const char *type = NULL, *endpoint = NULL, *server_key = NULL, *key = NULL;
	long chunk_items = 1000;
	int ch, rc;

	memset(&s, 0, sizeof(s));
	s.cmd = "send";
	s.timeout_ms = 10000;
	s.retries = 3;
	s.window = 16;
	while ((ch = getopt_long(argc, argv, "c:e:t:qh", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 'e': endpoint = optarg; break;
		case 'S': server_key = optarg; break;
		case 'k': key = optarg; break;
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
	if (load_keys(&s, cli, server_key, key) < 0) {
		buf_free(&in);
		return 2;
	}
	s.endpoint = cli_endpoint(cli, endpoint);
	split_body(&s.sp, s.ct, s.data, in.len);
	/* Leave room for the frames around the body. */
	make_chunks(&s, chunk_items, cli->cfg.max_message_size - 4096);
	s.zctx = zmq_ctx_new();
	rc = run_send(&s);
	close_socket(&s);
	zmq_ctx_term(s.zctx);
	sodium_memzero(s.secret_key, sizeof(s.secret_key));
	size_t total = s.sp.error ? 1 : s.sp.n;
	char spooled[48] = "";
	if (s.spooled)
		snprintf(spooled, sizeof(spooled), ", %zu spooled", s.spooled);
	printf("%s: %zu items in %zu requests: %zu accepted, %zu duplicate, "
	    "%zu quarantined%s%s\n", s.name, total, s.nchunks, s.accepted,
	    s.duplicate, s.quarantined, spooled, s.failed_items || rc < 0 ?
	    " - NOT ALL DELIVERED" : "");
	if (s.spooled)
		printf("%s: %zu items spooled: bevisd holds them on disk while its "
		    "database is away and writes them when it is back\n", s.name,
		    s.spooled);
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
		{ "server-key", required_argument, NULL, 'S' },
		{ "key", required_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 } };
	const char *endpoint = NULL, *server_key = NULL, *key = NULL;
	long timeout_ms = 3000;
	char rid[40], got[PROTO_REQUEST_ID_MAX + 1];
	int ch, rc = 1;
	struct sender s;

	memset(&s, 0, sizeof(s));
	s.cmd = "ping";
	while ((ch = getopt_long(argc, argv, "c:e:", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		if (ch == 'e')
			endpoint = optarg;
		else if (ch == 'S')
			server_key = optarg;
		else if (ch == 'k')
			key = optarg;
		else if (ch == 'T')
			timeout_ms = (long)(atof(optarg) * 1000);
		else {
			fprintf(stderr, "usage: bevis ping [--endpoint E] "
			    "[--server-key FILE --key FILE] [--timeout SECONDS]\n");
			return 2;
		}
	}
	if (load_keys(&s, cli, server_key, key) < 0)
		return 2;
	s.endpoint = cli_endpoint(cli, endpoint);
	s.zctx = zmq_ctx_new();
	s.sock = open_socket(&s);
	new_request_id(rid);
	int64_t t0 = now_ms();
	if (send_frames(s.sock, PROTO_CMD_PING, rid, "", "", 0) < 0) {
		fprintf(stderr, "bevis ping: %s\n", zmq_strerror(errno));
		goto out;
	}
	for (;;) {
		long wait = (long)(t0 + timeout_ms - now_ms());
		zmq_pollitem_t pi[2] = { { s.sock, 0, ZMQ_POLLIN, 0 },
			{ s.mon, 0, ZMQ_POLLIN, 0 } };
		int n = zmq_poll(pi, s.mon ? 2 : 1, wait < 0 ? 0 : wait);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "bevis ping: no reply from %s within %ld ms\n",
			    s.endpoint, timeout_ms);
			break;
		}
		if (s.mon && (pi[1].revents & ZMQ_POLLIN) && check_handshake(&s) < 0)
			break;
		if (!(pi[0].revents & ZMQ_POLLIN))
			continue;
		struct json_object *st = recv_reply(s.sock, got, sizeof(got));
		if (st && strcmp(got, rid) != 0) {
			json_object_put(st);	/* not ours */
			continue;
		}
		if (st && jstr(st, "status") && strcmp(jstr(st, "status"),
		    "ok") == 0) {
			printf("pong from %s at %s in %lld ms%s\n",
			    jstr(st, "server") ? jstr(st, "server") : "?",
			    s.endpoint, (long long)(now_ms() - t0),
			    s.curve ? " (CURVE)" : "");
			rc = 0;
		} else {
			fprintf(stderr, "bevis ping: unexpected reply: %s\n",
			    st ? json_object_to_json_string(st) : "(none)");
		}
		json_object_put(st);
		break;
	}
out:
	close_socket(&s);
	zmq_ctx_term(s.zctx);
	sodium_memzero(s.secret_key, sizeof(s.secret_key));
	free(s.endpoint);
	return rc;
}
