/* config.h - the bevisd.conf options, described once in a table (config.c)
 * that the parser, the sample config check and the docs check all use. */
#ifndef BEVIS_CONFIG_H
#define BEVIS_CONFIG_H

#include <stddef.h>

#include "buf.h"
#include "log.h"

struct config {
	char *endpoint;			/* ZeroMQ endpoint to bind */
	char *db;			/* libpq conninfo */
	long writers;			/* database writer threads */
	long batch_max_rows;
	long batch_max_bytes;
	long batch_max_ms;
	long max_message_size;		/* bytes in one request */
	long max_inflight_bytes;	/* request bytes held before reading pauses */
	int log_level;
	char *ledger_key;		/* signer key for tree heads; "" = none */
	long checkpoint_interval;	/* seconds between signed tree heads */
	int rules;			/* run the rules evaluator */
	/* authentication and limits */
	char *curve_secret_key;		/* the server's CURVE secret key file */
	int allow_plaintext;		/* no CURVE: loopback or ipc only */
	long supplier_refresh;		/* seconds between supplier reloads */
	char *user;			/* run as this user when started as root */
	long max_items;			/* items in one request */
	long max_item_bytes;		/* bytes in one item */
	long supplier_inflight_bytes;	/* per supplier, before "busy" */
	long rcvhwm;			/* messages queued per connection */
	char *http_listen;		/* loopback HOST:PORT for /metrics */
	long quality_refresh;		/* s between bevis_quality_* refreshes; 0: none */
	/* connections: bounds before and after authentication */
	long handshake_timeout;		/* seconds a handshake may take */
	long heartbeat_interval;	/* seconds between ZMTP PINGs; 0: off */
	long idle_timeout;		/* seconds without a request; 0: never */
	long max_connections;		/* live connections, all peers */
	long max_connections_per_supplier;	/* live sessions of one key */
	/* reliability */
	char *state_dir;		/* the spool lives in state_dir/spool */
	long spool_max_bytes;		/* 0: no spool */
	long spool_after_ms;		/* wait for the database before spooling */
	long shutdown_timeout;		/* seconds a drain may take */
	/* database sessions (daemon/dbconn.c) */
	long db_lock_timeout;		/* ms a statement waits for a lock */
	long db_statement_timeout;	/* ms one statement may run */
	long db_keepalives_idle;	/* s of silence before TCP probes */
	long db_keepalives_interval;	/* s between probes */
	long db_keepalives_count;	/* probes lost before the link is dead */
	/* foreign formats (issue 14) */
	char *json_maps;		/* field maps file; "" = none */
	char *pull_endpoint;		/* PULL socket for rsyslog; "" = none */
	char *pull_content_type;	/* what its lines are */
	char *pull_supplier;		/* plaintext only: whose lines they are */
	long pull_batch_ms;		/* how long a line may wait for a batch */
	/* [client]: what bevis send uses */
	char *client_server_key;	/* the server's public key file */
	char *client_key;		/* this client's secret key file */
	/* [client]: the incident commands (bevis incidents, show, deadlines) */
	char *timezone;			/* session TimeZone: how times print and read */
	long triage_within;		/* days a potential incident may stay new */
	/* [source NAME] sections (config_source.c) */
	struct config_source *sources;
	size_t nsources;
	/* [report_map SOURCE] sections: column maps of reports (report.h) */
	struct report_map *report_maps;
	size_t nreport_maps;
	/* syslog and CEF times without a zone (docs/FORMATS.md) */
	char *syslog_timezone;		/* the zone of every supplier not below */
	struct config_zone *syslog_zones;	/* [syslog_timezone] supplier = zone */
	size_t nsyslog_zones;
	/* [quality]: the weights of bevis quality's score (docs/QUALITY.md) */
	long weight_volume, weight_silence, weight_completeness, weight_clock;
	long weight_sequence, weight_chain, weight_rejects, weight_reporting;
	char *reconcile_min_severity;	/* bevis reconcile's default --min-severity */
};

struct config_zone {
	char *supplier;
	char *zone;
};

enum config_type { OPT_STRING, OPT_INT, OPT_SIZE, OPT_LOGLEVEL, OPT_BOOL };

struct config_option {
	const char *section;
	const char *name;
	enum config_type type;
	size_t offset;
	long min, max;
	const char *def;
	const char *help;
};

extern const struct config_option config_options[];

/* Sets every option to its default. */
void config_defaults(struct config *cfg);
/* Reads path over the defaults. On error returns -1 and writes
 * "file:line: reason" into err. */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
    MUSTCHECK;
/* Frees the strings; the struct itself belongs to the caller. */
void config_free(struct config *cfg);
/* Appends the [quality] weights as {"volume": N, ...}, the p_weights
 * argument of bevis_quality() (sql/0017_quality.sql). */
void config_quality_weights_json(const struct config *cfg, struct buf *b);
/* Parses "16MiB", "512k", "1048576". Returns -1 on error. */
int config_parse_size(const char *s, long *out) MUSTCHECK;

#endif
