/* cmd_send.c - bevis send and bevis ping: a ZeroMQ client of protocol v1.
 *
 * send reads the input in pieces (NDJSON; a JSON array is read whole, to a
 * bound), forms requests of whole items as the window has room for them,
 * keeps up to --window requests in flight on a DEALER socket, and matches
 * replies by request id.
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "curvekey.h"
#include "numarg.h"
#include "output.h"
#include "proto.h"
#include "split.h"
#include "utf8.h"
#include "xmalloc.h"
#include "zmsg.h"

/* Memory stays bounded whatever the input: the input is read in pieces of
 * READ_SIZE, requests are formed only when they can be sent at once, and
 * the bodies of unanswered requests are held to INFLIGHT_BYTES (one
 * request may go over it alone). */
#define READ_SIZE		(1u << 20)
#define CHUNK_BYTES		(1u << 20)	/* aim for requests of this size */
#define INFLIGHT_BYTES		(16u << 20)
/* A JSON array is split whole (common/split.c); NDJSON streams. */
#define JSON_INPUT_MAX		(24u << 20)
/* busy: the wait doubles from the server's retry_after_ms up to this,
 * with jitter, until --busy-timeout has passed for one request. */
#define BUSY_WAIT_MAX_MS	30000

/* A request body, shared with ZeroMQ (zero-copy) so that it is not held
 * twice: freed by whoever drops the last reference, this thread or
 * ZeroMQ's I/O thread. */
struct body {
	atomic_int refs;
	struct buf b;
};

enum chunk_state {
	CHUNK_IN_FLIGHT,		/* sent, no reply yet */
	CHUNK_ANSWERED,			/* final reply counted */
	CHUNK_BUSY_WAIT,		/* bevisd said busy: send again at
					 * resend_ms, under the same id */
};

struct chunk {
	char rid[40];
	size_t count;			/* items */
	size_t *lines;			/* input line of each item */
	struct body *body;
	int64_t sent_ms;
	int64_t resend_ms;		/* CHUNK_BUSY_WAIT: when to send again */
	int64_t busy_since_ms;		/* first busy reply, or 0 */
	int busy_replies;
	enum chunk_state state;
};

/* The input, read in pieces: buf[pos..len) is unread, and pos is at the
 * start of line `line`. */
struct reader {
	int fd;
	unsigned char *buf;
	size_t cap, pos, len, scan;	/* scan: searched for '\n' up to here */
	size_t line;
	int eof;
	int skipping;			/* inside a line too large to send */
	int failed;			/* a read error or a NUL byte: stopped */
};

struct sender {
	const char *name;		/* input name for messages */
	struct reader rd;
	enum content_type ct;
	/* CT_JSON: the whole input, split. */
	const unsigned char *data;
	size_t len;
	struct split sp;
	size_t next_item;
	int json_whole;			/* sp.error: the body goes as one item */
	/* A line read but left for the next request. */
	const unsigned char *pend;
	size_t pend_len, pend_line;
	int input_done;
	size_t max_item;		/* largest item that fits a request */
	long chunk_items;
	struct chunk **live;		/* unanswered requests, up to window */
	size_t nlive, inflight_bytes;
	size_t items, nchunks;
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
	long long timeout_ms, retries, window, busy_timeout_ms;
	int quiet;
	size_t accepted, duplicate, quarantined, failed_items, failed_requests;
	size_t too_large;		/* items not sent: larger than a request */
	size_t busy;			/* busy replies */
	size_t spooled;			/* items in requests answered spooled */
};

/* Prints s through output.c's escaper: the server's reasons quote
 * supplier bytes. */
static void
put_escaped(FILE *f, const char *str)
{
	struct buf b = BUF_INIT;

	out_escape_text(&b, str, strlen(str));
	fwrite(b.data, 1, b.len, f);
	buf_free(&b);
}

static struct body *
body_new(void)
{
	struct body *b = xcalloc(1, sizeof(*b));

	atomic_init(&b->refs, 1);
	return b;
}

static void
body_put(struct body *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
		buf_free(&b->b);
		free(b);
	}
}

static void
body_put_zmq(void *data, void *hint)
{
	(void)data;
	body_put(hint);
}

static void
chunk_free(struct chunk *c)
{
	body_put(c->body);
	free(c->lines);
	free(c);
}

/* Reads more of the input. A NUL byte ends the input with an error: JSON
 * text never holds one, and /dev/zero or a compressed file would otherwise
 * be read for ever. Returns 0, or -1 at the end or after an error. */
static int
reader_fill(struct sender *s, struct reader *r)
{
	ssize_t n;

	if (r->eof || r->failed)
		return -1;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->scan -= r->pos;
		r->pos = 0;
	}
	if (r->cap - r->len < READ_SIZE) {
		r->cap = r->len + READ_SIZE;
		r->buf = xrealloc(r->buf, r->cap);
	}
	do
		n = read(r->fd, r->buf + r->len, READ_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		fprintf(stderr, "bevis send: %s: %s\n", s->name, strerror(errno));
		r->failed = 1;
		return -1;
	}
	if (n == 0) {
		r->eof = 1;
		return -1;
	}
	const unsigned char *z = memchr(r->buf + r->len, '\0', (size_t)n);
	r->len += (size_t)n;
	if (z) {
		size_t line = r->line;
		for (const unsigned char *q = r->buf + r->pos; q < z; q++)
			line += *q == '\n';
		fprintf(stderr, "bevis send: %s:%zu: a NUL byte: the input is "
		    "not JSON text (binary or compressed?); stopping here\n",
		    s->name, line);
		r->failed = 1;
		r->len = r->pos;
		return -1;
	}
	return 0;
}

static int
blank(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

/* The next non-blank NDJSON line, without its newline: returns 1, or 0 at
 * the end of the input. The line stays valid until the next call. A line
 * too large for any request is reported at once and skipped. */
static int
next_line(struct sender *s, const unsigned char **p, size_t *n, size_t *line)
{
	struct reader *r = &s->rd;

	for (;;) {
		unsigned char *nl = r->scan < r->len ? memchr(r->buf + r->scan,
		    '\n', r->len - r->scan) : NULL;
		if (nl == NULL) {
			r->scan = r->len;
			if (!r->skipping && r->len - r->pos > s->max_item) {
				fprintf(stderr, "%s:%zu: item too large: more than "
				    "%zu bytes, the most one request can carry "
				    "(max_message_size); not sent\n", s->name,
				    r->line, s->max_item);
				s->too_large++;
				s->items++;
				r->skipping = 1;
			}
			if (r->skipping)	/* drop what is read of it */
				r->pos = r->len = r->scan = 0;
			if (reader_fill(s, r) == 0)
				continue;
			if (r->pos == r->len || r->skipping || r->failed)
				return 0;
			/* The last line, without a newline. */
			*p = r->buf + r->pos;
			*n = r->len - r->pos;
			*line = r->line;
			r->pos = r->scan = r->len;
			if (blank(*p, *n))
				return 0;
			return 1;
		}
		size_t start = r->pos, end = (size_t)(nl - r->buf);
		*line = r->line++;
		r->pos = r->scan = end + 1;
		if (r->skipping) {
			r->skipping = 0;
			continue;
		}
		if (blank(r->buf + start, end - start))
			continue;
		*p = r->buf + start;
		*n = end - start;
		return 1;
	}
}

static struct chunk *
chunk_new(struct sender *s)
{
	struct chunk *c = xcalloc(1, sizeof(*c));

	c->body = body_new();
	c->lines = xcalloc((size_t)s->chunk_items, sizeof(*c->lines));
	return c;
}

/* The next request of NDJSON: whole lines, each ended by a newline, up to
 * --chunk-items and CHUNK_BYTES. Returns NULL at the end of the input. */
static struct chunk *
next_chunk_ndjson(struct sender *s)
{
	struct chunk *c = NULL;
	const unsigned char *p;
	size_t n, line;

	for (;;) {
		if (s->pend) {
			p = s->pend;
			n = s->pend_len;
			line = s->pend_line;
			s->pend = NULL;
		} else if (!next_line(s, &p, &n, &line)) {
			break;
		}
		if (c == NULL)
			c = chunk_new(s);
		if (c->count > 0 && c->body->b.len + n + 1 > CHUNK_BYTES) {
			s->pend = p;
			s->pend_len = n;
			s->pend_line = line;
			break;
		}
		buf_append(&c->body->b, p, n);
		buf_putc(&c->body->b, '\n');
		c->lines[c->count++] = line;
		s->items++;
		if ((long long)c->count == s->chunk_items)
			break;
	}
	return c;
}

/* The next request of a JSON input, read whole and split. */
static struct chunk *
next_chunk_json(struct sender *s)
{
	struct chunk *c = NULL;

	if (s->json_whole) {
		/* Sent whole: bevisd records and quarantines what it cannot
		 * read. */
		s->json_whole = 0;
		if (s->len > s->max_item) {
			fprintf(stderr, "%s:1: item too large: %zu bytes, more "
			    "than the %zu one request can carry "
			    "(max_message_size); not sent\n", s->name, s->len,
			    s->max_item);
			s->too_large++;
			s->items++;
			return NULL;
		}
		c = chunk_new(s);
		buf_append(&c->body->b, s->data, s->len);
		c->lines[c->count++] = 1;
		s->items++;
		return c;
	}
	while (s->next_item < s->sp.n) {
		const struct item_span *it = &s->sp.items[s->next_item];
		if (it->len + 2 > s->max_item) {
			if (c)
				break;
			fprintf(stderr, "%s:%zu: item too large: %zu bytes, more "
			    "than the %zu one request can carry "
			    "(max_message_size); not sent\n", s->name, it->line,
			    it->len, s->max_item - 2);
			s->too_large++;
			s->items++;
			s->next_item++;
			continue;
		}
		if (c == NULL)
			c = chunk_new(s);
		else if (c->body->b.len + it->len + 2 > CHUNK_BYTES)
			break;
		if (s->sp.n == 1 && s->data[it->off] == '{') {
			buf_append(&c->body->b, s->data + it->off, it->len);
		} else {
			buf_putc(&c->body->b, c->count ? ',' : '[');
			buf_append(&c->body->b, s->data + it->off, it->len);
		}
		c->lines[c->count++] = it->line;
		s->items++;
		s->next_item++;
		if ((long long)c->count == s->chunk_items)
			break;
	}
	if (c && !(s->sp.n == 1 && s->data[s->sp.items[0].off] == '{'))
		buf_putc(&c->body->b, ']');
	return c;
}

/* The next request to send, or NULL when the input is used up. An empty
 * input is one request of zero items. */
static struct chunk *
next_chunk(struct sender *s)
{
	struct chunk *c;

	if (s->input_done)
		return NULL;
	/* CEF, syslog and mapped JSON are one record per line, as NDJSON. */
	c = s->ct != CT_JSON ? next_chunk_ndjson(s) : next_chunk_json(s);
	if (c == NULL && s->nchunks == 0 && s->items == 0 && !s->rd.failed) {
		c = chunk_new(s);
		if (s->ct == CT_JSON)
			buf_puts(&c->body->b, "[]");
	}
	if (c == NULL)
		s->input_done = 1;
	else
		s->nchunks++;
	return c;
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
	uint16_t ev;
	uint32_t val;

	while (s->mon) {
		zmq_msg_t part[2];
		struct zmsg m;
		int got = 0;

		if (zmsg_recv(s->mon, &m, part, 2) == 0)
			return 0;
		/* A monitor event: a frame of event number and value, then the
		 * endpoint. */
		if (zmq_msg_size(&part[0]) >= 6) {
			memcpy(&ev, zmq_msg_data(&part[0]), 2);
			memcpy(&val, (char *)zmq_msg_data(&part[0]) + 2, 4);
			got = 1;
		}
		zmsg_close(&m);
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

/* Sends the four frames before the body; the caller sends the body. */
static int
send_head(void *sock, const char *cmd, const char *rid, const char *ct)
{
	if (zmq_send(sock, PROTO_VERSION, strlen(PROTO_VERSION), ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, cmd, strlen(cmd), ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, rid, strlen(rid), ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, ct, strlen(ct), ZMQ_SNDMORE) < 0)
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
	struct zmsg m;
	struct json_object *status = NULL;
	size_t n = zmsg_recv(sock, &m, parts, 4);

	/* A REQ-style empty delimiter may lead. */
	size_t f = n > 0 && zmq_msg_size(&parts[0]) == 0 ? 1 : 0;
	if (!zmsg_too_many(&m) && n - f == 3) {
		size_t l = zmq_msg_size(&parts[f + 1]);
		if (l >= ridlen)
			l = ridlen - 1;
		memcpy(rid, zmq_msg_data(&parts[f + 1]), l);
		rid[l] = '\0';
		status = parse_json(zmq_msg_data(&parts[f + 2]),
		    zmq_msg_size(&parts[f + 2]));
	}
	zmsg_close(&m);
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

/* Protocol 1.1: the pong's whoami, one line, the server's strings escaped. */
static void
print_whoami(struct json_object *st)
{
	struct json_object *w, *active;
	struct buf b = BUF_INIT;

	if (!json_object_object_get_ex(st, "whoami", &w) ||
	    jstr(w, "key_fingerprint") == NULL)
		return;
	const char *fp = jstr(w, "key_fingerprint"), *sup = jstr(w, "supplier"),
	    *until = jstr(w, "key_valid_until");
	int on = json_object_object_get_ex(w, "key_active", &active) &&
	    json_object_get_boolean(active);
	buf_puts(&b, "this key: ");
	out_escape_text(&b, fp, strlen(fp));
	buf_puts(&b, ", supplier ");
	if (sup)
		out_escape_text(&b, sup, strlen(sup));
	else
		buf_puts(&b, "(none)");
	buf_puts(&b, on ? ", active" : ", NOT ACTIVE: requests would be refused");
	if (until) {
		buf_puts(&b, " until ");
		out_escape_text(&b, until, strlen(until));
		buf_puts(&b, " (rotated out: switch to the new key)");
	}
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
}

static void
new_request_id(char rid[40])
{
	unsigned char r[16];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(rid, 33, r, sizeof(r));
}

/* Counts and prints the outcomes of a reply. Returns 1 for a busy reply:
 * the request is to be sent again, under its id, after a wait that starts
 * at the server's retry_after_ms and doubles, jittered, up to
 * BUSY_WAIT_MAX_MS; after --busy-timeout of busy replies to one request it
 * is given up (counted as not stored) and 0 is returned. */
static int
report_reply(struct sender *s, struct chunk *c, struct json_object *st)
{
	const char *status = jstr(st, "status");
	struct json_object *outs, *v;
	int64_t now = clock_mono_ms();

	if (status && strcmp(status, "busy") == 0) {
		int64_t after = 1000;
		if (json_object_object_get_ex(st, "retry_after_ms", &v) &&
		    json_object_is_type(v, json_type_int))
			after = json_object_get_int64(v);
		if (after < 10)
			after = 10;
		if (after > BUSY_WAIT_MAX_MS)
			after = BUSY_WAIT_MAX_MS;
		if (c->busy_since_ms == 0)
			c->busy_since_ms = now;
		if (now - c->busy_since_ms >= s->busy_timeout_ms) {
			fprintf(stderr, "%s:%zu: request %s (%zu items): bevisd "
			    "stayed busy for %lld s; giving up on it\n", s->name,
			    c->count ? c->lines[0] : (size_t)1, c->rid, c->count,
			    (long long)(now - c->busy_since_ms) / 1000);
			s->failed_requests++;
			s->failed_items += c->count;
			return 0;
		}
		int shift = c->busy_replies < 12 ? c->busy_replies : 12;
		int64_t wait = after << shift;
		if (wait > BUSY_WAIT_MAX_MS)
			wait = BUSY_WAIT_MAX_MS;
		/* Half fixed, half random, so that many senders spread out. */
		wait = wait / 2 + randombytes_uniform((uint32_t)(wait / 2) + 1);
		/* The last try comes when the time is up. */
		if (wait > c->busy_since_ms + s->busy_timeout_ms - now)
			wait = c->busy_since_ms + s->busy_timeout_ms - now;
		c->busy_replies++;
		if (s->busy++ == 0 && !s->quiet) {
			fprintf(stderr, "bevis send: bevisd is busy");
			if (jstr(st, "message")) {
				fputs(": ", stderr);
				put_escaped(stderr, jstr(st, "message"));
			}
			fprintf(stderr, "; sending again after %lld ms (the same "
			    "request ids), giving up after %lld s\n",
			    (long long)wait, s->busy_timeout_ms / 1000);
		}
		c->state = CHUNK_BUSY_WAIT;
		c->resend_ms = now + wait;
		return 1;
	}
	if (status && strcmp(status, "spooled") == 0) {
		/* Durable on bevisd's disk; the outcomes come at replay. */
		s->spooled += c->count;
		return 0;
	}
	if (status == NULL || strcmp(status, "ok") != 0) {
		const char *err = jstr(st, "error"), *msg = jstr(st, "message");
		size_t line = c->count ? c->lines[0] : 1;
		fprintf(stderr, "%s:%zu: request %s (%zu items) refused: ", s->name,
		    line, c->rid, c->count);
		put_escaped(stderr, err ? err : "?");
		fputs(": ", stderr);
		put_escaped(stderr, msg ? msg : json_object_to_json_string(st));
		fputc('\n', stderr);
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
			size_t item = k, line = 1;
			if (json_object_object_get_ex(o, "item", &v) &&
			    json_object_is_type(v, json_type_int))
				item = (size_t)json_object_get_int64(v);
			if (item < c->count)
				line = c->lines[item];
			s->quarantined++;
			fprintf(stderr, "%s:%zu: quarantined: ", s->name, line);
			put_escaped(stderr, jstr(o, "reason") ? jstr(o, "reason") :
			    "?");
			fputc('\n', stderr);
		}
	}
	return 0;
}

/* Counts every request not answered yet as failed. */
static void
fail_unanswered(struct sender *s)
{
	for (size_t i = 0; i < s->nlive; i++) {
		s->failed_requests++;
		s->failed_items += s->live[i]->count;
		chunk_free(s->live[i]);
	}
	s->nlive = 0;
}

static int
send_chunk(struct sender *s, struct chunk *c)
{
	const char *ct = proto_content_type_name(s->ct);
	zmq_msg_t m;
	int rc;

	if (send_head(s->sock, PROTO_CMD_EVENTS, c->rid, ct) < 0)
		goto fail;
	if (c->body->b.len == 0) {
		rc = zmq_send(s->sock, "", 0, 0);
	} else {
		/* ZeroMQ holds a reference until it has written the frame. */
		atomic_fetch_add(&c->body->refs, 1);
		zmq_msg_init_data(&m, c->body->b.data, c->body->b.len,
		    body_put_zmq, c->body);
		rc = zmq_msg_send(&m, s->sock, 0);
		if (rc < 0)
			zmq_msg_close(&m);
	}
	if (rc < 0)
		goto fail;
	c->sent_ms = clock_mono_ms();
	c->state = CHUNK_IN_FLIGHT;
	return 0;
fail:
	fprintf(stderr, "bevis send: %s\n", zmq_strerror(errno));
	return -1;
}

static void
drop_live(struct sender *s, size_t i)
{
	s->inflight_bytes -= s->live[i]->body->b.len;
	chunk_free(s->live[i]);
	s->live[i] = s->live[--s->nlive];
}

static int
run_send(struct sender *s)
{
	long long tries = 0;

	s->live = xcalloc((size_t)s->window, sizeof(*s->live));
	s->sock = open_socket(s);
	for (;;) {
		int64_t now = clock_mono_ms();

		/* New requests only while few enough bytes are unanswered. */
		while ((long long)s->nlive < s->window &&
		    (s->nlive == 0 || s->inflight_bytes < INFLIGHT_BYTES)) {
			struct chunk *c = next_chunk(s);
			if (c == NULL)
				break;
			new_request_id(c->rid);
			s->live[s->nlive++] = c;
			s->inflight_bytes += c->body->b.len;
			if (send_chunk(s, c) < 0)
				return -1;
		}
		if (s->nlive == 0)
			break;
		/* Requests bevisd was too busy for, due again: the same id. */
		for (size_t i = 0; i < s->nlive; i++)
			if (s->live[i]->state == CHUNK_BUSY_WAIT &&
			    s->live[i]->resend_ms <= now &&
			    send_chunk(s, s->live[i]) < 0)
				return -1;
		/* Wait for the oldest request's deadline, or the next resend. */
		int64_t deadline = INT64_MAX, wake;
		for (size_t i = 0; i < s->nlive; i++)
			if (s->live[i]->state == CHUNK_IN_FLIGHT &&
			    s->live[i]->sent_ms + s->timeout_ms < deadline)
				deadline = s->live[i]->sent_ms + s->timeout_ms;
		wake = deadline;
		for (size_t i = 0; i < s->nlive; i++)
			if (s->live[i]->state == CHUNK_BUSY_WAIT &&
			    s->live[i]->resend_ms < wake)
				wake = s->live[i]->resend_ms;
		long wait = (long)(wake - clock_mono_ms());
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
			for (size_t i = 0; st && i < s->nlive; i++) {
				struct chunk *c = s->live[i];
				if (c->state != CHUNK_IN_FLIGHT ||
				    strcmp(c->rid, rid) != 0)
					continue;
				if (report_reply(s, c, st) == 0) {
					c->state = CHUNK_ANSWERED;
					drop_live(s, i);
				}
				break;
			}
			json_object_put(st);
			continue;
		}
		if (clock_mono_ms() < deadline)
			continue;
		/* Lazy Pirate: a fresh socket, the same request ids. */
		size_t inflight = 0;
		for (size_t i = 0; i < s->nlive; i++)
			inflight += s->live[i]->state == CHUNK_IN_FLIGHT;
		if (++tries > s->retries) {
			fprintf(stderr, "bevis send: no reply from %s after %lld "
			    "tries; %zu requests unanswered\n", s->endpoint, tries,
			    inflight);
			fail_unanswered(s);
			return -1;
		}
		if (!s->quiet)
			fprintf(stderr, "bevis send: no reply within %lld ms, "
			    "resending %zu requests (try %lld of %lld)\n",
			    s->timeout_ms, inflight, tries + 1, s->retries + 1);
		close_socket(s);
		s->sock = open_socket(s);
		for (size_t i = 0; i < s->nlive; i++)
			if (s->live[i]->state == CHUNK_IN_FLIGHT &&
			    send_chunk(s, s->live[i]) < 0)
				return -1;
	}
	return 0;
}

static int
send_usage(void)
{
	return cli_usage("send", stderr);
}

/* Reads the option's number into *out, or says why not. */
static int
num_opt(const char *opt, const char *arg, long long min, long long max,
    long long *out)
{
	char err[160];

	if (numarg_parse(arg, min, max, out, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "bevis send: --%s: %s\n", opt, err);
	return -1;
}

static int
seconds_opt(const char *cmd, const char *opt, const char *arg, long long *ms)
{
	char err[160];

	/* Up to a day: beyond it a wait is a hang. */
	if (numarg_parse_seconds(arg, 1, 86400000, ms, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "bevis %s: --%s: %s\n", cmd, opt, err);
	return -1;
}

/* The content type by the file's name, else by its first byte that is not
 * blank. */
static enum content_type
guess_type(struct sender *s)
{
	size_t l = strlen(s->name), p = 0;

	for (;;) {
		while (p < s->rd.len && strchr(" \t\r\n", s->rd.buf[p]))
			p++;
		if (p < s->rd.len || reader_fill(s, &s->rd) < 0)
			break;
	}
	if ((l > 5 && strcmp(s->name + l - 5, ".json") == 0) ||
	    (p < s->rd.len && s->rd.buf[p] == '['))
		return CT_JSON;
	return CT_NDJSON;
}

/* A JSON input is read whole, to a bound, and split as bevisd splits it. */
static int
read_json_whole(struct sender *s)
{
	while (!s->rd.eof && !s->rd.failed && s->rd.len <= JSON_INPUT_MAX)
		(void)reader_fill(s, &s->rd);
	if (s->rd.failed)
		return -1;
	if (s->rd.len > JSON_INPUT_MAX) {
		fprintf(stderr, "bevis send: %s: a JSON input larger than %u MiB "
		    "is not read whole; send it as NDJSON (one event per line), "
		    "which is streamed\n", s->name, JSON_INPUT_MAX >> 20);
		return -1;
	}
	s->data = s->rd.buf;
	s->len = s->rd.len;
	split_body(&s->sp, s->ct, s->data, s->len);
	s->json_whole = s->sp.error != NULL;
	return 0;
}

/* The last lines: what became of the items. */
static void
print_summary(const struct sender *s, int incomplete)
{
	char spooled[48] = "";

	if (s->spooled)
		snprintf(spooled, sizeof(spooled), ", %zu spooled", s->spooled);
	printf("%s: %zu items in %zu requests: %zu accepted, %zu duplicate, "
	    "%zu quarantined%s%s\n", s->name, s->items, s->nchunks, s->accepted,
	    s->duplicate, s->quarantined, spooled, incomplete ?
	    " - NOT ALL DELIVERED" : "");
	if (s->spooled)
		printf("%s: %zu items spooled: bevisd holds them on disk while its "
		    "database is away and writes them when it is back\n", s->name,
		    s->spooled);
	if (s->too_large)
		printf("%s: %zu items too large to send\n", s->name, s->too_large);
	if (s->failed_items)
		printf("%s: %zu items in %zu requests were not stored\n", s->name,
		    s->failed_items - s->too_large, s->failed_requests);
	if (s->rd.failed)
		printf("%s: the input was not read to its end\n", s->name);
}

/* ---- bevis send --report: one monthly report, one request ---- */

struct report_opts {
	const char *file, *kind, *period, *title, *author, *charset, *type;
	const char *separator;
	const char *endpoint, *server_key, *key;	/* as for events */
};

/* Appends ; name="value" with '"' and '\\' escaped (RFC 9110 quoted-string). */
static void
ct_param(struct buf *b, const char *name, const char *v)
{
	buf_printf(b, "; %s=\"", name);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *v);
	}
	buf_putc(b, '"');
}

/* Prints the reply of a report. Returns the exit status, or -1 for busy
 * (*retry_ms set). */
static int
print_report_reply(const char *name, struct json_object *st, long *retry_ms)
{
	const char *status = jstr(st, "status");
	struct json_object *v, *outs;
	long long n[8] = { 0 };
	static const char *const keys[] = { "report", "version", "entries", "new",
		"changed", "unchanged", "removed", "quarantined" };

	if (status && strcmp(status, "busy") == 0) {
		*retry_ms = json_object_object_get_ex(st, "retry_after_ms", &v) ?
		    (long)json_object_get_int64(v) : 1000;
		return -1;
	}
	if (status == NULL || strcmp(status, "ok") != 0) {
		fprintf(stderr, "bevis send: %s: report refused: ", name);
		put_escaped(stderr, jstr(st, "error") ? jstr(st, "error") : "?");
		fputs(": ", stderr);
		put_escaped(stderr, jstr(st, "message") ? jstr(st, "message") :
		    json_object_to_json_string(st));
		fputc('\n', stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_object_get_ex(st, keys[i], &v))
			n[i] = json_object_get_int64(v);
	int dup = json_object_object_get_ex(st, "duplicate", &v) &&
	    json_object_get_boolean(v);
	printf("%s: ", name);
	put_escaped(stdout, jstr(st, "kind") ? jstr(st, "kind") : "?");
	fputs(" report ", stdout);
	put_escaped(stdout, jstr(st, "period") ? jstr(st, "period") : "?");
	fputs(" from ", stdout);
	put_escaped(stdout, jstr(st, "source") ? jstr(st, "source") : "?");
	if (dup) {
		printf(": a duplicate of version %lld (report %lld): nothing "
		    "stored\n", n[1], n[0]);
		return 0;
	}
	printf(": version %lld (report %lld), %lld entries: %lld new, %lld "
	    "changed, %lld unchanged, %lld removed, %lld quarantined\n", n[1],
	    n[0], n[2], n[3], n[4], n[5], n[6], n[7]);
	if (json_object_object_get_ex(st, "incidents", &v) &&
	    json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) > 0) {
		size_t k = json_object_array_length(v);
		printf("%s: opened %zu potential incident%s: ", name, k,
		    k == 1 ? "" : "s");
		put_escaped(stdout, json_object_get_string(
		    json_object_array_get_idx(v, 0)));
		if (k > 1) {
			fputs(" .. ", stdout);
			put_escaped(stdout, json_object_get_string(
			    json_object_array_get_idx(v, k - 1)));
		}
		fputc('\n', stdout);
	}
	if (json_object_object_get_ex(st, "outcomes", &outs) &&
	    json_object_is_type(outs, json_type_array))
		for (size_t k = 0; k < json_object_array_length(outs); k++) {
			struct json_object *o = json_object_array_get_idx(outs, k);
			if (jstr(o, "reason") == NULL)
				continue;
			fprintf(stderr, "%s: entry %zu quarantined: ", name, k + 1);
			put_escaped(stderr, jstr(o, "reason"));
			fputc('\n', stderr);
		}
	return n[7] ? 1 : 0;
}

static int
send_report(struct cli *cli, struct sender *s, const struct report_opts *o)
{
	struct buf ct = BUF_INIT;
	char rid[40], got[PROTO_REQUEST_ID_MAX + 1];
	size_t l = strlen(o->file);
	int rc = 2;

	if (o->kind == NULL || o->period == NULL) {
		fprintf(stderr, "bevis send: --report needs --kind "
		    "servicedesk|supplier and --period YYYY-MM\n");
		return 2;
	}
	s->name = o->file;
	s->rd.line = 1;
	if ((s->rd.fd = open(o->file, O_RDONLY)) < 0) {
		fprintf(stderr, "bevis send: %s: %s\n", o->file, strerror(errno));
		return 2;
	}
	s->ct = o->type ? (strcmp(o->type, "json") == 0 ? CT_JSON : CT_CSV) :
	    l > 5 && strcmp(o->file + l - 5, ".json") == 0 ? CT_JSON : CT_CSV;
	while (!s->rd.eof && !s->rd.failed && s->rd.len <= JSON_INPUT_MAX)
		(void)reader_fill(s, &s->rd);
	if (s->rd.failed)
		goto out;
	s->data = s->rd.buf;
	s->len = s->rd.len;
	buf_puts(&ct, proto_content_type_name(s->ct));
	if (s->ct == CT_CSV) {
		/* Valid UTF-8 is UTF-8; anything else is what Excel writes. */
		const char *cs = o->charset ? o->charset :
		    utf8_invalid_at(s->data, s->len) == (size_t)-1 ? "utf-8" :
		    "windows-1252";
		buf_printf(&ct, "; charset=%s", cs);
		if (o->separator)
			ct_param(&ct, "separator", o->separator);
	}
	buf_printf(&ct, "; kind=%s; period=%s", o->kind, o->period);
	/* Defaults: the file's name, and who sends it. */
	const char *base = strrchr(o->file, '/') ? strrchr(o->file, '/') + 1 :
	    o->file;
	const char *who = o->author ? o->author : getenv("USER") ?
	    getenv("USER") : "bevis send";
	ct_param(&ct, "title", o->title ? o->title : base);
	ct_param(&ct, "author", who);
	cli_load_config(cli);
	if ((size_t)cli->cfg.max_message_size < s->len + 4096) {
		fprintf(stderr, "bevis send: %s: %zu bytes; a report is one "
		    "request, at most max_message_size (%ld)\n", o->file, s->len,
		    cli->cfg.max_message_size);
		goto out;
	}
	if (load_keys(s, cli, o->server_key, o->key) < 0)
		goto out;
	s->endpoint = cli_endpoint(cli, o->endpoint);
	s->zctx = zmq_ctx_new();
	new_request_id(rid);
	int64_t busy_since = 0;
	for (long long attempt = 0;; ) {
		s->sock = open_socket(s);
		int64_t t0 = clock_mono_ms();
		if (send_head(s->sock, PROTO_CMD_REPORT, rid, buf_cstr(&ct)) < 0 ||
		    zmq_send(s->sock, s->data, s->len, 0) < 0) {
			fprintf(stderr, "bevis send: %s\n", zmq_strerror(errno));
			close_socket(s);
			break;
		}
		struct json_object *st = NULL;
		int broken = 0;
		while (st == NULL) {
			long wait = (long)(t0 + s->timeout_ms - clock_mono_ms());
			zmq_pollitem_t pi[2] = { { s->sock, 0, ZMQ_POLLIN, 0 },
				{ s->mon, 0, ZMQ_POLLIN, 0 } };
			int n = zmq_poll(pi, s->mon ? 2 : 1, wait < 0 ? 0 : wait);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (s->mon && (pi[1].revents & ZMQ_POLLIN) &&
			    check_handshake(s) < 0) {
				broken = 1;
				break;
			}
			if (!(pi[0].revents & ZMQ_POLLIN))
				continue;
			st = recv_reply(s->sock, got, sizeof(got));
			if (st && strcmp(got, rid) != 0) {
				json_object_put(st);
				st = NULL;
			}
		}
		close_socket(s);
		if (broken)
			break;
		if (st == NULL) {
			if (++attempt > s->retries) {
				fprintf(stderr, "bevis send: %s: no reply from %s "
				    "after %lld tries\n", o->file, s->endpoint,
				    attempt);
				break;
			}
			continue;	/* the same request id: never stored twice */
		}
		long retry_ms = 0;
		rc = print_report_reply(o->file, st, &retry_ms);
		json_object_put(st);
		if (rc != -1)
			break;
		if (busy_since == 0)
			busy_since = clock_mono_ms();
		if (clock_mono_ms() - busy_since >= s->busy_timeout_ms) {
			fprintf(stderr, "bevis send: %s: bevisd stayed busy; giving "
			    "up\n", o->file);
			rc = 2;
			break;
		}
		usleep((useconds_t)(retry_ms < 10 ? 10 : retry_ms > 30000 ? 30000 :
		    retry_ms) * 1000);
	}
	zmq_ctx_term(s->zctx);
	sodium_memzero(s->secret_key, sizeof(s->secret_key));
	free(s->endpoint);
out:
	buf_free(&ct);
	split_free(&s->sp);
	free(s->rd.buf);
	close(s->rd.fd);
	return rc;
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
		{ "busy-timeout", required_argument, NULL, 'B' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "report", required_argument, NULL, 'R' },
		{ "kind", required_argument, NULL, 'K' },
		{ "period", required_argument, NULL, 'P' },
		{ "title", required_argument, NULL, 'N' },
		{ "author", required_argument, NULL, 'A' },
		{ "charset", required_argument, NULL, 'C' },
		{ "separator", required_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 } };
	struct report_opts ro = { 0 };
	struct sender s;
	const char *type = NULL, *endpoint = NULL, *server_key = NULL, *key = NULL;
	long long chunk_items = 1000;
	int ch, rc, bad = 0;

	memset(&s, 0, sizeof(s));
	s.cmd = "send";
	s.timeout_ms = 10000;
	s.retries = 3;
	s.window = 16;
	s.busy_timeout_ms = 300000;
	while ((ch = getopt_long(argc, argv, "c:e:t:qh", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 'e': endpoint = optarg; break;
		case 'S': server_key = optarg; break;
		case 'k': key = optarg; break;
		case 't': type = optarg; break;
		case 'T':
			bad |= seconds_opt("send", "timeout", optarg, &s.timeout_ms);
			break;
		case 'B':
			bad |= seconds_opt("send", "busy-timeout", optarg,
			    &s.busy_timeout_ms);
			break;
		case 'r':
			bad |= num_opt("retries", optarg, 0, 1000, &s.retries);
			break;
		case 'w':
			bad |= num_opt("window", optarg, 1, 1024, &s.window);
			break;
		case 'i':
			bad |= num_opt("chunk-items", optarg, 1, 1000000,
			    &chunk_items);
			break;
		case 'q': s.quiet = 1; break;
		case 'R': ro.file = optarg; break;
		case 'K': ro.kind = optarg; break;
		case 'P': ro.period = optarg; break;
		case 'N': ro.title = optarg; break;
		case 'A': ro.author = optarg; break;
		case 'C': ro.charset = optarg; break;
		case 'X': ro.separator = optarg; break;
		default: return send_usage();
		}
	}
	if (bad)
		return 2;
	if (ro.file) {
		if (optind != argc || (type && strcmp(type, "csv") != 0 &&
		    strcmp(type, "json") != 0))
			return send_usage();
		ro.type = type;
		ro.endpoint = endpoint;
		ro.server_key = server_key;
		ro.key = key;
		return send_report(cli, &s, &ro);
	}
	if (ro.kind || ro.period || ro.title || ro.author || ro.charset ||
	    ro.separator)
		return send_usage();
	if (optind + 1 != argc)
		return send_usage();
	if (type && strcmp(type, "ndjson") != 0 && strcmp(type, "json") != 0 &&
	    strcmp(type, "cef") != 0 && strcmp(type, "syslog") != 0 &&
	    strcmp(type, "mapped") != 0)
		return send_usage();
	s.name = argv[optind];
	s.chunk_items = chunk_items;
	s.rd.line = 1;
	s.rd.fd = strcmp(s.name, "-") == 0 ? STDIN_FILENO : open(s.name, O_RDONLY);
	if (s.rd.fd < 0) {
		fprintf(stderr, "bevis send: %s: %s\n", s.name, strerror(errno));
		return 2;
	}
	s.ct = !type ? guess_type(&s) : strcmp(type, "json") == 0 ? CT_JSON :
	    strcmp(type, "cef") == 0 ? CT_CEF : strcmp(type, "syslog") == 0 ?
	    CT_SYSLOG : strcmp(type, "mapped") == 0 ? CT_MAPPED_NDJSON :
	    CT_NDJSON;
	cli_load_config(cli);
	/* Leave room for the frames around the body. */
	s.max_item = (size_t)cli->cfg.max_message_size - 4096;
	if ((s.ct == CT_JSON && read_json_whole(&s) < 0) ||
	    load_keys(&s, cli, server_key, key) < 0) {
		rc = 2;
		goto out_input;
	}
	s.endpoint = cli_endpoint(cli, endpoint);
	s.zctx = zmq_ctx_new();
	rc = run_send(&s);
	if (rc < 0)
		fail_unanswered(&s);
	close_socket(&s);
	zmq_ctx_term(s.zctx);
	sodium_memzero(s.secret_key, sizeof(s.secret_key));
	s.failed_items += s.too_large;
	int incomplete = s.failed_items || rc < 0 || s.rd.failed;
	print_summary(&s, incomplete);
	free(s.live);
	free(s.endpoint);
	rc = incomplete ? 2 : s.quarantined ? 1 : 0;
out_input:
	split_free(&s.sp);
	free(s.rd.buf);
	if (s.rd.fd != STDIN_FILENO)
		close(s.rd.fd);
	return rc;
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
	long long timeout_ms = 3000;
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
		else if (ch == 'T') {
			if (seconds_opt("ping", "timeout", optarg, &timeout_ms) < 0)
				return 2;
		} else {
			return cli_usage("ping", stderr);
		}
	}
	if (load_keys(&s, cli, server_key, key) < 0)
		return 2;
	s.endpoint = cli_endpoint(cli, endpoint);
	s.zctx = zmq_ctx_new();
	s.sock = open_socket(&s);
	new_request_id(rid);
	int64_t t0 = clock_mono_ms();
	if (send_head(s.sock, PROTO_CMD_PING, rid, "") < 0 ||
	    zmq_send(s.sock, "", 0, 0) < 0) {
		fprintf(stderr, "bevis ping: %s\n", zmq_strerror(errno));
		goto out;
	}
	for (;;) {
		long wait = (long)(t0 + timeout_ms - clock_mono_ms());
		zmq_pollitem_t pi[2] = { { s.sock, 0, ZMQ_POLLIN, 0 },
			{ s.mon, 0, ZMQ_POLLIN, 0 } };
		int n = zmq_poll(pi, s.mon ? 2 : 1, wait < 0 ? 0 : wait);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "bevis ping: no reply from %s within %lld ms\n",
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
			    s.endpoint, (long long)(clock_mono_ms() - t0),
			    s.curve ? " (CURVE)" : "");
			print_whoami(st);
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
