/* auth.c - the supplier registry and the ZAP handler (RFC 27/ZAP).
 *
 * The registry lives on the event loop; a loader thread with its own
 * database connection builds a fresh copy and hands it over through an
 * eventfd, so the loop never waits for PostgreSQL. Each load is kept in
 * state_dir (keycache.c); a start without the database admits the suppliers
 * of that copy until a load succeeds. Without a trusted copy, every
 * connection is refused until then, which fails safe. */
#include "auth.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"
#include "dbconn.h"
#include "keycache.h"
#include "log.h"
#include "xmalloc.h"
#include "zmsg.h"

#define ZAP_FRAMES	7	/* version ... credentials (RFC 27) */

struct registry {
	struct supplier *s;
	size_t n;
};

struct auth {
	const struct config *cfg;
	void *zap;			/* REP on inproc://zeromq.zap.01 */
	struct event *ev_zap;
	struct event *ev_loaded;
	struct registry *reg;		/* the loop's copy */
	int from_cache;			/* reg came from state_dir, not the database */
	/* shared with the loader */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct registry *fresh;		/* handed over, not yet taken */
	int reload;
	int stopping;
	unsigned char cached[SHA256_LEN];	/* the table last written to disk */
	int running;
	int efd;
	int (*full)(void *, int32_t);	/* a supplier at its session limit */
	void *full_arg;
};

static void
registry_free(struct registry *r)
{
	if (r) {
		free(r->s);
		free(r);
	}
}

/* Returns a new registry, or NULL when the database cannot be read. A
 * table read from the database is also written to state_dir, for a start
 * while the database is away (keycache.c). */
static struct registry *
registry_load(struct auth *a, PGconn **conn)
{
	struct registry *r;
	PGresult *res;
	char err[512];

	if (*conn == NULL || PQstatus(*conn) != CONNECTION_OK) {
		PQfinish(*conn);
		*conn = db_connect(a->cfg, "bevisd-auth");
		if (PQstatus(*conn) != CONNECTION_OK) {
			log_warnx("suppliers: cannot connect to the database: %s",
			    PQerrorMessage(*conn));
			return NULL;
		}
	}
	res = PQexec(*conn, "SELECT supplier_id, name, public_key, "
	    "coalesce((extract(epoch FROM valid_until) * 1000000)::bigint, 0) "
	    "FROM supplier_key_valid ORDER BY supplier_id, valid_until NULLS FIRST");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warnx("suppliers: cannot read them: %s", PQerrorMessage(*conn));
		PQclear(res);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->s = xcalloc((size_t)PQntuples(res) + 1, sizeof(*r->s));
	for (int i = 0; i < PQntuples(res); i++) {
		struct supplier *s = &r->s[r->n];
		const char *key = PQgetvalue(res, i, 2);

		s->id = (int32_t)atol(PQgetvalue(res, i, 0));
		snprintf(s->name, sizeof(s->name), "%s", PQgetvalue(res, i, 1));
		s->valid_until_us = atoll(PQgetvalue(res, i, 3));
		if (!curvekey_valid(key) || zmq_z85_decode(s->key, key) == NULL ||
		    curvekey_raw_small_order(s->key) ||
		    curvekey_fingerprint(key, s->fingerprint) < 0) {
			log_warnx("suppliers: %s has an invalid key; ignored",
			    s->name);
			continue;
		}
		r->n++;
	}
	PQclear(res);
	if (a->cfg->state_dir[0] &&
	    keycache_save(a->cfg->state_dir, r->s, r->n, a->cached, err,
	    sizeof(err)) < 0)
		log_warnx("suppliers: cannot keep a copy for a start without the "
		    "database: %s", err);
	return r;
}

/* The table of the last successful load, from state_dir; NULL (and a
 * warning when there is a file) when there is none to trust. */
static struct registry *
registry_from_cache(struct auth *a)
{
	struct registry *r = xcalloc(1, sizeof(*r));
	char err[600];

	if (a->cfg->state_dir[0] == '\0' ||
	    keycache_load(a->cfg->state_dir, &r->s, &r->n, err, sizeof(err)) < 0) {
		if (a->cfg->state_dir[0] && !strstr(err, "No such file"))
			log_warnx("suppliers: ignoring the cached table: %s", err);
		free(r);
		return NULL;
	}
	log_warnx("suppliers: the database is unreachable; admitting the %zu "
	    "suppliers of the last load (%s/%s) until it answers", r->n,
	    a->cfg->state_dir, KEYCACHE_FILE);
	return r;
}

/* Reloads every supplier_refresh seconds and on auth_reload(); after a
 * failure, again after 0.25 s, doubling up to 5 s, until one succeeds. */
static void *
loader_main(void *arg)
{
	struct auth *a = arg;
	PGconn *conn = NULL;
	long retry_ms = 0;	/* 0: the last load succeeded */

	pthread_mutex_lock(&a->mu);
	while (!a->stopping) {
		struct timespec ts;

		if (!a->reload) {
			long ms = retry_ms ? retry_ms : a->cfg->supplier_refresh * 1000;
			clock_mono_deadline(&ts, ms);
			if (pthread_cond_timedwait(&a->cv, &a->mu, &ts) != ETIMEDOUT &&
			    !a->reload)
				continue;
		}
		if (a->stopping)
			break;
		a->reload = 0;
		pthread_mutex_unlock(&a->mu);
		struct registry *r = registry_load(a, &conn);
		pthread_mutex_lock(&a->mu);
		if (r == NULL) {
			retry_ms = retry_ms ? (retry_ms * 2 > 5000 ? 5000 :
			    retry_ms * 2) : 250;
			continue;
		}
		retry_ms = 0;
		registry_free(a->fresh);
		a->fresh = r;
		uint64_t one = 1;
		if (write(a->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("auth eventfd");
	}
	pthread_mutex_unlock(&a->mu);
	PQfinish(conn);
	return NULL;
}

static void
take_fresh(struct auth *a)
{
	struct registry *r;

	pthread_mutex_lock(&a->mu);
	r = a->fresh;
	a->fresh = NULL;
	pthread_mutex_unlock(&a->mu);
	if (r == NULL)
		return;
	if (a->from_cache)
		log_info("suppliers: loaded from the database again: %zu active "
		    "with a key", r->n);
	else if (a->reg == NULL || a->reg->n != r->n)
		log_info("suppliers: %zu active with a key", r->n);
	a->from_cache = 0;
	registry_free(a->reg);
	a->reg = r;
}

static void
on_loaded(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("auth eventfd");
	take_fresh(arg);
}

/* A key rotated out admits its supplier until its overlap ends, checked
 * here and not only at the next load. */
static int
key_current(const struct supplier *s)
{
	return s->valid_until_us == 0 || clock_real_us() < s->valid_until_us;
}

static const struct supplier *
find_key(struct auth *a, const unsigned char *key)
{
	for (size_t i = 0; a->reg && i < a->reg->n; i++)
		if (memcmp(a->reg->s[i].key, key, 32) == 0)
			return key_current(&a->reg->s[i]) ? &a->reg->s[i] : NULL;
	return NULL;
}

const struct supplier *
auth_find(struct auth *a, const char *fingerprint)
{
	for (size_t i = 0; a->reg && i < a->reg->n; i++)
		if (strcmp(a->reg->s[i].fingerprint, fingerprint) == 0)
			return key_current(&a->reg->s[i]) ? &a->reg->s[i] : NULL;
	return NULL;
}

/* One ZAP request: version, request id, domain, address, routing id,
 * mechanism, credentials. */
static void
zap_handle(struct auth *a)
{
	zmq_msg_t f[ZAP_FRAMES + 1];
	struct zmsg zm;
	size_t n;
	char addr[64] = "";

	/* libzmq writes these requests itself; the bound is for safety. */
	n = zmsg_recv(a->zap, &zm, f, ZAP_FRAMES + 1);
	if (n < 6)
		goto out;
	const char *status = "400", *text = "unknown key", *user = "";
	const struct supplier *s = NULL;
	snprintf(addr, sizeof(addr), "%.*s", (int)zmq_msg_size(&f[3]),
	    (const char *)zmq_msg_data(&f[3]));
	if (zmq_msg_size(&f[5]) == 5 && memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
	    n >= 7 && zmq_msg_size(&f[6]) == 32 &&
	    (s = find_key(a, zmq_msg_data(&f[6]))) != NULL) {
		if (a->full && a->full(a->full_arg, s->id)) {
			/* Its sockets retry every 100 ms or so: one line a
			 * second, with the count, rather than a flood. */
			static time_t last;
			static unsigned long unlogged;
			unlogged++;
			if (time(NULL) != last) {
				log_warnx("refused %lu handshake(s) from %s: %s "
				    "has max_connections_per_supplier (%ld) "
				    "sessions", unlogged, addr, s->name,
				    a->cfg->max_connections_per_supplier);
				last = time(NULL);
				unlogged = 0;
			}
			status = "400";
			text = "too many connections for this supplier";
			goto reply;
		}
		status = "200";
		text = "OK";
		user = s->fingerprint;	/* a key, not a name: two during an overlap */
	} else if (zmq_msg_size(&f[5]) == 4 &&
	    memcmp(zmq_msg_data(&f[5]), "NULL", 4) == 0 && a->cfg->allow_plaintext) {
		status = "200";
		text = "OK";
	}
	if (*status == '4') {
		char fp[CURVE_FINGERPRINT_LEN + 1] = "-";
		char z85[CURVE_Z85_LEN + 1];
		if (n >= 7 && zmq_msg_size(&f[6]) == 32 &&
		    zmq_z85_encode(z85, zmq_msg_data(&f[6]), 32) &&
		    curvekey_fingerprint(z85, fp) < 0)
			snprintf(fp, sizeof(fp), "-");
		log_info("refused a connection from %s: key %s is not an active "
		    "supplier's", addr, fp);
	} else {
		log_debug("admitted %s from %s", *user ? user : "(plaintext)", addr);
	}
reply:
	zmq_send(a->zap, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), ZMQ_SNDMORE);
	zmq_send(a->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
	zmq_send(a->zap, status, 3, ZMQ_SNDMORE);
	zmq_send(a->zap, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(a->zap, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(a->zap, "", 0, 0);
out:
	zmsg_close(&zm);
}

static void
on_zap(evutil_socket_t fd, short what, void *arg)
{
	struct auth *a = arg;

	(void)fd;
	(void)what;
	for (;;) {
		int events = 0;
		size_t sz = sizeof(events);

		if (zmq_getsockopt(a->zap, ZMQ_EVENTS, &events, &sz) < 0 ||
		    !(events & ZMQ_POLLIN))
			return;
		zap_handle(a);
	}
}

struct auth *
auth_bind(void *zctx, const struct config *cfg)
{
	struct auth *a = xcalloc(1, sizeof(*a));

	a->cfg = cfg;
	pthread_mutex_init(&a->mu, NULL);
	clock_cond_init(&a->cv);
	if ((a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		fatal("eventfd");
	/* Bound before the ROUTER socket, so no CURVE handshake can happen
	 * without a handler to ask. */
	a->zap = zmq_socket(zctx, ZMQ_REP);
	if (a->zap == NULL || zmq_bind(a->zap, "inproc://zeromq.zap.01") < 0)
		fatalx("ZAP handler: %s", zmq_strerror(errno));
	return a;
}

void
auth_run(struct auth *a, struct event_base *base)
{
	PGconn *conn = NULL;
	int fd;
	size_t sz = sizeof(fd);

	/* A first load before any connection is admitted; without the
	 * database, the table of the last load, and the loader retries. */
	for (int tries = 0; tries < 3 && a->reg == NULL; tries++) {
		if ((a->reg = registry_load(a, &conn)) != NULL)
			break;
		if ((a->reg = registry_from_cache(a)) != NULL) {
			a->from_cache = 1;
			break;
		}
		sleep(1);
	}
	PQfinish(conn);
	/* The loader then tries at once, and backs off until it succeeds. */
	if (a->reg == NULL || a->from_cache)
		a->reload = 1;
	if (a->reg == NULL)
		log_warnx("suppliers: not loaded yet; every connection is "
		    "refused until they are");
	else if (!a->from_cache)
		log_info("suppliers: %zu active with a key", a->reg->n);
	if (zmq_getsockopt(a->zap, ZMQ_FD, &fd, &sz) < 0)
		fatalx("ZAP handler: %s", zmq_strerror(errno));
	a->ev_zap = event_new(base, fd, EV_READ | EV_PERSIST, on_zap, a);
	a->ev_loaded = event_new(base, a->efd, EV_READ | EV_PERSIST, on_loaded, a);
	event_add(a->ev_zap, NULL);
	event_add(a->ev_loaded, NULL);
	event_active(a->ev_zap, EV_READ, 0);
	if ((errno = pthread_create(&a->thread, NULL, loader_main, a)) != 0)
		fatal("pthread_create");
	a->running = 1;
}

void
auth_set_gate(struct auth *a, int (*full)(void *arg, int32_t id), void *arg)
{
	a->full = full;
	a->full_arg = arg;
}

void
auth_reload(struct auth *a)
{
	pthread_mutex_lock(&a->mu);
	a->reload = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

void
auth_stop(struct auth *a)
{
	pthread_mutex_lock(&a->mu);
	a->stopping = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	if (a->running) {
		pthread_join(a->thread, NULL);
		event_free(a->ev_zap);
		event_free(a->ev_loaded);
	}
	zmq_close(a->zap);
	close(a->efd);
	registry_free(a->reg);
	registry_free(a->fresh);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
