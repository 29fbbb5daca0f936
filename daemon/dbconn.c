/* dbconn.c - how bevisd connects to PostgreSQL (dbconn.h).
 *
 * The server cancels a statement after statement_timeout and a lock wait
 * after lock_timeout, and TCP keepalives notice a peer that is gone. None
 * of them fires when the server process itself stops answering (it is
 * stopped, swapped out, or stuck in the kernel): the statement timer runs
 * in that process, and its kernel still answers keepalives. So a guard
 * thread watches every connection from the outside: when what we sent has
 * waited for an answer longer than statement_timeout plus a grace period,
 * it shuts the socket down. The waiting libpq call then fails with a
 * connection error (class 08), which a writer treats like any outage:
 * it spools after spool_after_ms and reconnects. */
#include "dbconn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-events.h>

#include "clock.h"
#include "log.h"
#include "xmalloc.h"

/* Added to statement_timeout: the server had its chance to cancel. */
#define GUARD_GRACE_MS	2000
#define GUARD_TICK_MS	250

struct guarded {
	struct guarded *next;
	int fd;			/* our own dup of the connection's socket */
	int family;
	long limit_ms;		/* waiting longer than this breaks it */
	int64_t waiting_since;	/* AF_UNIX: first tick with unread output */
	int broken;
	char app[32];
};

static pthread_mutex_t guard_mu = PTHREAD_MUTEX_INITIALIZER;
static struct guarded *guard_list;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

/* How long the request we sent last has waited for an answer, in ms; 0
 * when nothing waits. TCP keeps the times of the last data sent and
 * received; on a Unix socket what the server has not read yet stays in our
 * send queue. */
static long
waiting_ms(struct guarded *g, int64_t now)
{
	if (g->family == AF_UNIX) {
		int outq = 0;

		if (ioctl(g->fd, SIOCOUTQ, &outq) < 0 || outq <= 0) {
			g->waiting_since = 0;
			return 0;
		}
		if (g->waiting_since == 0)
			g->waiting_since = now;
		return (long)(now - g->waiting_since);
	}
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(g->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return 0;
	/* Sent after the last answer came: an answer is due. */
	if (ti.tcpi_last_data_sent < ti.tcpi_last_data_recv)
		return (long)ti.tcpi_last_data_sent;
	return 0;
}

static void *
guard_main(void *arg)
{
	(void)arg;
	for (;;) {
		usleep(GUARD_TICK_MS * 1000);
		pthread_mutex_lock(&guard_mu);
		int64_t now = clock_mono_ms();
		for (struct guarded *g = guard_list; g; g = g->next) {
			long w;

			if (g->broken || g->limit_ms <= 0 ||
			    (w = waiting_ms(g, now)) <= g->limit_ms)
				continue;
			log_warnx("%s: the database has not answered for %ld ms "
			    "(statement_timeout plus %d ms): closing the connection",
			    g->app, w, GUARD_GRACE_MS);
			/* The libpq call waiting on this socket wakes up and
			 * fails; the connection is then PQfinished by its user. */
			shutdown(g->fd, SHUT_RDWR);
			g->broken = 1;
		}
		pthread_mutex_unlock(&guard_mu);
	}
	return NULL;
}

static void
guard_start(void)
{
	pthread_t t;
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if ((errno = pthread_create(&t, &attr, guard_main, NULL)) != 0)
		fatal("pthread_create");
	pthread_attr_destroy(&attr);
}

/* libpq calls this from PQfinish; the entry goes with the connection. */
static int
guard_event(PGEventId id, void *info, void *pass)
{
	struct guarded *g = pass;

	(void)info;
	if (id != PGEVT_CONNDESTROY)
		return 1;
	pthread_mutex_lock(&guard_mu);
	for (struct guarded **pp = &guard_list; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	pthread_mutex_unlock(&guard_mu);
	close(g->fd);
	free(g);
	return 1;
}

static void
guard_add(PGconn *conn, long limit_ms, const char *app)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct guarded *g;
	int fd;

	if (limit_ms <= 0)
		return;
	/* A dup of our own: the socket cannot be closed and its number
	 * reused under the guard while libpq finishes the connection. */
	if ((fd = fcntl(PQsocket(conn), F_DUPFD_CLOEXEC, 0)) < 0) {
		log_warn("%s: cannot guard the database connection", app);
		return;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    (ss.ss_family != AF_UNIX && ss.ss_family != AF_INET &&
	    ss.ss_family != AF_INET6)) {
		close(fd);
		return;
	}
	g = xcalloc(1, sizeof(*g));
	g->fd = fd;
	g->family = ss.ss_family;
	g->limit_ms = limit_ms;
	snprintf(g->app, sizeof(g->app), "%s", app);
	if (!PQregisterEventProc(conn, guard_event, "bevis guard", g)) {
		close(fd);
		free(g);
		return;
	}
	pthread_once(&guard_once, guard_start);
	pthread_mutex_lock(&guard_mu);
	g->next = guard_list;
	guard_list = g;
	pthread_mutex_unlock(&guard_mu);
}

PGconn *
db_connect(const struct config *cfg, const char *app)
{
	char idle[16], interval[16], count[16], user_timeout[16], sql[128];
	/* Before dbname: the conninfo in db may override each of them. */
	const char *const keys[] = { "connect_timeout", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
		"tcp_user_timeout", "dbname", "fallback_application_name", NULL };
	const char *vals[] = { "10", "1", idle, interval, count, user_timeout,
		cfg->db, app, NULL };
	PGconn *conn;
	PGresult *res;

	snprintf(idle, sizeof(idle), "%ld", cfg->db_keepalives_idle);
	snprintf(interval, sizeof(interval), "%ld", cfg->db_keepalives_interval);
	snprintf(count, sizeof(count), "%ld", cfg->db_keepalives_count);
	/* Unacknowledged data gives up after the keepalives would. */
	snprintf(user_timeout, sizeof(user_timeout), "%ld", 1000 *
	    (cfg->db_keepalives_idle + cfg->db_keepalives_interval *
	    cfg->db_keepalives_count));
	conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) != CONNECTION_OK)
		return conn;
	/* jit = off: bevisd's statements are short, and on PostgreSQL's
	 * guesses JIT compiled some of them (the rules lag) for 0.6 s. */
	snprintf(sql, sizeof(sql), "SET lock_timeout = %ld; "
	    "SET statement_timeout = %ld; SET jit = off", cfg->db_lock_timeout,
	    cfg->db_statement_timeout);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		/* The caller's next statement meets the same trouble. */
		log_warnx("%s: %s", sql, PQerrorMessage(conn));
	}
	PQclear(res);
	guard_add(conn, cfg->db_statement_timeout ? cfg->db_statement_timeout +
	    GUARD_GRACE_MS : 0, app);
	return conn;
}
