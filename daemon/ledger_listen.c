/* ledger_listen.c - LISTEN bevis_ledger on a connection of its own (see
 * ledger_listen.h). Blocking libpq on a thread, as the writers do: it only
 * waits, and a poll with a one-second timeout lets it see a stop. */
#include "ledger_listen.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "dbconn.h"
#include "log.h"
#include "writer.h"
#include "xmalloc.h"

struct ledger_listen {
	pthread_t thread;
	const struct config *cfg;
	struct writer_pool *pool;
	atomic_int stop;
};

static PGconn *
listen_connect(struct ledger_listen *l)
{
	/* The writers' settings: keepalives, so a vanished server is noticed. */
	PGconn *conn = db_connect(l->cfg, "bevisd-listen");
	PGresult *res;

	if (PQstatus(conn) != CONNECTION_OK) {
		PQfinish(conn);
		return NULL;
	}
	res = PQexec(conn, "LISTEN bevis_ledger");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_warnx("ledger: LISTEN bevis_ledger: %s",
		    PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

/* Waits on conn until it breaks or a stop; each notification (however
 * many arrived together) tells the pool once. */
static void
listen_loop(struct ledger_listen *l, PGconn *conn)
{
	struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };

	while (!atomic_load(&l->stop)) {
		int heard = 0;
		PGnotify *n;

		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
			return;
		if (!(pfd.revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		if (!PQconsumeInput(conn))
			return;
		while ((n = PQnotifies(conn)) != NULL) {
			heard = 1;
			PQfreemem(n);
		}
		if (heard)
			writer_pool_ledger_grew(l->pool);
	}
}

static void *
listen_main(void *arg)
{
	struct ledger_listen *l = arg;
	int64_t logged = 0;

	while (!atomic_load(&l->stop)) {
		PGconn *conn = listen_connect(l);

		if (conn == NULL) {
			if (clock_mono_ms() - logged >= 30000) {
				log_info("ledger: cannot listen for new leaves yet "
				    "(the database is away); retrying");
				logged = clock_mono_ms();
			}
			for (int i = 0; i < 10 && !atomic_load(&l->stop); i++)
				usleep(100000);
			continue;
		}
		/* Leaves may have come while nobody listened. */
		writer_pool_ledger_grew(l->pool);
		listen_loop(l, conn);
		PQfinish(conn);
	}
	return NULL;
}

struct ledger_listen *
ledger_listen_start(const struct config *cfg, struct writer_pool *pool)
{
	struct ledger_listen *l = xcalloc(1, sizeof(*l));

	l->cfg = cfg;
	l->pool = pool;
	if ((errno = pthread_create(&l->thread, NULL, listen_main, l)) != 0)
		fatal("pthread_create");
	return l;
}

void
ledger_listen_stop(struct ledger_listen *l)
{
	if (l == NULL)
		return;
	atomic_store(&l->stop, 1);
	pthread_join(l->thread, NULL);
	free(l);
}
