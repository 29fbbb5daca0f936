/* dbconn.h - the database sessions of bevisd: keepalives on the socket,
 * lock_timeout and statement_timeout on the session, and a guard that
 * breaks a connection whose server stopped answering, so that a writer
 * spools instead of waiting forever. */
#ifndef BEVIS_DBCONN_H
#define BEVIS_DBCONN_H

#include <libpq-fe.h>

#include "config.h"

/* Connects with conninfo (which may override any of the settings below,
 * except the two SETs), then runs SET lock_timeout and SET
 * statement_timeout from cfg. app names the session in pg_stat_activity.
 * Always returns a PGconn (the caller PQfinishes it); check PQstatus. A SET
 * that fails is logged; the session then has the server's defaults. */
PGconn *db_connect(const struct config *cfg, const char *app);

#endif
