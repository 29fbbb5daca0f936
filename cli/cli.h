/* cli.h - what the bevis subcommands share. */
#ifndef BEVIS_CLI_H
#define BEVIS_CLI_H

#include <libpq-fe.h>
#include <stdio.h>

#include "config.h"

/* Options every subcommand accepts: --db, -c/--config. */
struct cli {
	const char *db;			/* --db CONNINFO */
	const char *config_path;	/* -c FILE, $BEVIS_CONFIG, or the default */
	struct config cfg;		/* defaults, then the file if there is one */
	int cfg_loaded;
};

#define CLI_COMMON_LONGOPTS \
	{ "db", required_argument, NULL, 'D' }, \
	{ "config", required_argument, NULL, 'c' }

/* Handles -c/--db in a subcommand's getopt loop; returns 1 if it did. */
int cli_common_opt(struct cli *cli, int ch, const char *arg);
/* Loads the configuration file, if any; exits 2 on a bad file. */
void cli_load_config(struct cli *cli);
/* Connects by --db, else the libpq environment (PGHOST, PGDATABASE,
 * PGSERVICE, ...), else the config file's db, else libpq's defaults.
 * Exits 2 with libpq's message when it cannot connect. */
PGconn *cli_connect(struct cli *cli);
/* The endpoint to connect to: --endpoint, else the config's, with a
 * wildcard bind address turned into loopback. Returns a malloc'd string. */
char *cli_endpoint(struct cli *cli, const char *opt);
/* Prints "bevis WHO: message" with the server's detail and hint. */
void cli_pg_error(const char *who, PGconn *conn, const PGresult *res);
/* Runs one statement without parameters; on a status other than want it
 * prints the error (cli_pg_error) and returns -1. */
int cli_exec(const char *who, PGconn *conn, const char *sql,
    ExecStatusType want);
/* The same with n text parameters (none: the simple protocol, which runs
 * several statements in one string): returns the result (the caller clears
 * it) when its status is want, else prints the error and returns NULL. */
PGresult *cli_exec_params(const char *who, PGconn *conn, const char *sql,
    int n, const char *const *params, ExecStatusType want);
/* The ledger's public key file to verify with: opt, else ledger.pub next
 * to the config's ledger_key, else NULL. The result stays valid. */
const char *cli_ledger_pubkey(struct cli *cli, const char *opt);

/* cli_connect, then the session TimeZone from the config's timezone, so
 * that times print in it and a time without an offset is read in it. Exits
 * 2 on a zone PostgreSQL does not know. (cmd_incident.c) */
PGconn *cli_connect_zoned(struct cli *cli, const char *who);
/* 1 if s is a month "YYYY-MM" (01-12): --period of reports, quality,
 * reconcile. */
int cli_month_ok(const char *s);
/* cli_pg_error, and for a permission error the role it takes. */
void cli_incident_error(const char *who, PGconn *conn, const PGresult *res);
/* "2d 3h left" or "overdue by 45m" for a deadline seconds from now. */
void cli_time_left(long long seconds, char *out, size_t n);
/* SQL fragments formatting a timestamptz in the session zone: for people,
 * and RFC 3339 with the offset for --json. */
#define CLI_LOCAL_TIME(x) "to_char(" x ", 'YYYY-MM-DD HH24:MI TZ')"
#define CLI_JSON_TIME(x) "to_char(" x ", 'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM')"

/* Prints "usage: bevis COMMAND ..." to f; returns 0 for stdout (--help),
 * else 2, the exit status of a usage error. */
int cli_usage(const char *command, FILE *f);

int cmd_migrate(struct cli *cli, int argc, char **argv);
int cmd_send(struct cli *cli, int argc, char **argv);
int cmd_ping(struct cli *cli, int argc, char **argv);
int cmd_events(struct cli *cli, int argc, char **argv);
int cmd_redact(struct cli *cli, int argc, char **argv);
int cmd_keygen(struct cli *cli, int argc, char **argv);
int cmd_checkpoint(struct cli *cli, int argc, char **argv);
int cmd_proof(struct cli *cli, int argc, char **argv);
int cmd_verify(struct cli *cli, int argc, char **argv);
int cmd_export(struct cli *cli, int argc, char **argv);
int cmd_verify_bundle(struct cli *cli, int argc, char **argv);
int cmd_supplier(struct cli *cli, int argc, char **argv);
int cmd_incident(struct cli *cli, int argc, char **argv);
int cmd_incidents(struct cli *cli, int argc, char **argv);
int cmd_show(struct cli *cli, int argc, char **argv);
int cmd_triage(struct cli *cli, int argc, char **argv);
int cmd_link(struct cli *cli, int argc, char **argv);
int cmd_unlink(struct cli *cli, int argc, char **argv);
int cmd_merge(struct cli *cli, int argc, char **argv);
int cmd_unmerge(struct cli *cli, int argc, char **argv);
int cmd_deadlines(struct cli *cli, int argc, char **argv);
int cmd_evidence(struct cli *cli, int argc, char **argv);
int cmd_stats(struct cli *cli, int argc, char **argv);
int cmd_quality(struct cli *cli, int argc, char **argv);
int cmd_review(struct cli *cli, int argc, char **argv);
int cmd_reports(struct cli *cli, int argc, char **argv);
/* bevis show's "possibly the same" (similar.c): the query, as text, and as
 * the "possibly_same" member of the JSON object. */
struct buf;
PGresult *similar_query(const char *who, PGconn *conn, const char *ref);
void similar_text(struct buf *b, const PGresult *res);
void similar_json(struct buf *b, const PGresult *res);
int cmd_report(struct cli *cli, int argc, char **argv);
int cmd_reconcile(struct cli *cli, int argc, char **argv);

/* "24h", "3d", "90m", "2w", "30s" as PostgreSQL interval text in out;
 * -1 if s is none of these (cmd_deadlines.c). */
int parse_duration(const char *s, char *out, size_t n);
int cmd_rule(struct cli *cli, int argc, char **argv);

#endif
