#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config_source.h"
#include "keyfile.h"
#include "proto.h"
#include "report.h"
#include "tzrule.h"
#include "xmalloc.h"

#define OPT(sec, name, type, min, max, def, help) \
	{ sec, #name, type, offsetof(struct config, name), min, max, def, help }
/* An option whose name differs from its field. */
#define OPTF(sec, name, field, type, min, max, def, help) \
	{ sec, name, type, offsetof(struct config, field), min, max, def, help }

const struct config_option config_options[] = {
	OPT("bevisd", endpoint, OPT_STRING, 0, 0, DEFAULT_ENDPOINT,
	    "ZeroMQ endpoint the ROUTER socket binds"),
	OPT("bevisd", db, OPT_STRING, 0, 0, "dbname=bevis",
	    "libpq connection string"),
	OPT("bevisd", writers, OPT_INT, 1, 16, "2",
	    "database writer threads, one connection each"),
	OPT("bevisd", batch_max_rows, OPT_INT, 1, 1000000, "20000",
	    "most items in one transaction"),
	OPT("bevisd", batch_max_bytes, OPT_SIZE, 1024, 1L << 30, "16MiB",
	    "most request bytes in one transaction"),
	OPT("bevisd", batch_max_ms, OPT_INT, 0, 10000, "0",
	    "how long an idle writer waits for a batch to fill; 0 commits at once"),
	OPT("bevisd", max_message_size, OPT_SIZE, 1024, 512L << 20, "16MiB",
	    "largest request accepted"),
	OPT("bevisd", max_inflight_bytes, OPT_SIZE, 1L << 20, 1L << 34, "256MiB",
	    "request bytes held in memory before new requests get busy"),
	OPT("bevisd", log_level, OPT_LOGLEVEL, 0, 0, "info",
	    "error, warning, info or debug"),
	OPT("bevisd", ledger_key, OPT_STRING, 0, 0, "",
	    "file with the Ed25519 key that signs tree heads (bevis keygen --ledger)"),
	OPT("bevisd", checkpoint_interval, OPT_INT, 1, 86400, "1",
	    "seconds between signed tree heads while there are new leaves"),
	OPT("bevisd", rules, OPT_BOOL, 0, 1, "on",
	    "run the rules evaluator (docs/RULES.md); off: another bevisd does, or none"),
	OPT("bevisd", curve_secret_key, OPT_STRING, 0, 0, "",
	    "the server's CURVE secret key file (bevis keygen --curve)"),
	OPT("bevisd", allow_plaintext, OPT_BOOL, 0, 1, "no",
	    "serve without CURVE: only on a loopback or ipc endpoint"),
	OPT("bevisd", supplier_refresh, OPT_INT, 1, 86400, "60",
	    "seconds between reloads of the supplier keys (and on SIGHUP)"),
	OPT("bevisd", user, OPT_STRING, 0, 0, "",
	    "the user bevisd becomes when started as root"),
	OPT("bevisd", max_items, OPT_INT, 1, 10000000, "100000",
	    "most items in one request"),
	OPT("bevisd", max_item_bytes, OPT_SIZE, 64, 1L << 30, "1MiB",
	    "largest item"),
	OPT("bevisd", supplier_inflight_bytes, OPT_SIZE, 1024, 1L << 34, "64MiB",
	    "request bytes one supplier may have in flight before replies say busy"),
	OPT("bevisd", rcvhwm, OPT_INT, 1, 100000, "32",
	    "messages ZeroMQ queues per connection before it stops reading it"),
	OPT("bevisd", http_listen, OPT_STRING, 0, 0, "",
	    "loopback HOST:PORT serving /metrics and /healthz; empty: off"),
	OPT("bevisd", quality_refresh, OPT_INT, 0, 86400, "60",
	    "seconds between refreshes of the bevis_quality_* gauges of "
	    "/metrics; 0: no such gauges"),
	OPT("bevisd", handshake_timeout, OPT_INT, 1, 60, "5",
	    "seconds a connection may take to authenticate before it is closed"),
	OPT("bevisd", heartbeat_interval, OPT_INT, 0, 3600, "10",
	    "seconds between ZMTP heartbeats; a peer silent for 3 of them is dropped; 0: off"),
	OPT("bevisd", idle_timeout, OPT_INT, 0, 86400, "300",
	    "seconds a connection may go without a request before it is closed; 0: never"),
	OPT("bevisd", max_connections, OPT_INT, 1, 100000, "256",
	    "live connections, authenticated or not; more are closed at once"),
	OPT("bevisd", max_connections_per_supplier, OPT_INT, 1, 100000, "16",
	    "live sessions of one supplier's key; more are refused"),
	OPT("bevisd", state_dir, OPT_STRING, 0, 0, "/var/lib/bevis",
	    "bevisd's own state; the spool is DIR/spool"),
	OPT("bevisd", spool_max_bytes, OPT_SIZE, 0, 1L << 40, "1GiB",
	    "most bytes the spool may hold on disk; 0: no spool"),
	OPT("bevisd", spool_after_ms, OPT_INT, 0, 600000, "1000",
	    "how long a batch waits for an unreachable database before it is spooled"),
	OPT("bevisd", shutdown_timeout, OPT_INT, 1, 3600, "30",
	    "seconds the first SIGTERM may take to answer what is in flight"),
	/* Database sessions (daemon/dbconn.c). */
	OPT("bevisd", db_lock_timeout, OPT_INT, 0, 3600000, "10000",
	    "ms a statement waits for a lock (0: no limit)"),
	OPT("bevisd", db_statement_timeout, OPT_INT, 0, 86400000, "30000",
	    "ms one statement may run; 2 s more without an answer breaks the "
	    "connection (0: no limit)"),
	OPT("bevisd", db_keepalives_idle, OPT_INT, 1, 7200, "10",
	    "seconds a TCP connection to the database is quiet before probes"),
	OPT("bevisd", db_keepalives_interval, OPT_INT, 1, 600, "5",
	    "seconds between TCP keepalive probes"),
	OPT("bevisd", db_keepalives_count, OPT_INT, 1, 100, "3",
	    "keepalive probes lost before the connection counts as dead"),
	OPT("bevisd", json_maps, OPT_STRING, 0, 0, "",
	    "file of JSON field maps for application/x-mapped-ndjson, and which "
	    "supplier uses which (docs/FORMATS.md); empty: none"),
	OPT("bevisd", pull_endpoint, OPT_STRING, 0, 0, "",
	    "ZeroMQ endpoint of a PULL socket taking one line per message, as "
	    "rsyslog's omczmq sends them (docs/PROTOCOL.md); empty: none"),
	OPT("bevisd", pull_content_type, OPT_STRING, 0, 0, "text/syslog",
	    "the content type of the lines on pull_endpoint"),
	OPT("bevisd", pull_supplier, OPT_STRING, 0, 0, "",
	    "allow_plaintext only: the supplier the pull_endpoint lines are from"),
	OPT("bevisd", pull_batch_ms, OPT_INT, 1, 10000, "200",
	    "how long a line on pull_endpoint may wait for more to fill a request"),
	OPTF("client", "server_key", client_server_key, OPT_STRING, 0, 0, "",
	    "bevis send: the server's CURVE public key file"),
	OPTF("client", "key", client_key, OPT_STRING, 0, 0, "",
	    "bevis send: this client's CURVE secret key file"),
	OPT("client", timezone, OPT_STRING, 0, 0, "Europe/Stockholm",
	    "the incident commands: the zone times print in and are read in"),
	OPT("client", triage_within, OPT_INT, 1, 3650, "30",
	    "days a potential incident may stay new before its triage is overdue"),
	OPT("bevisd", syslog_timezone, OPT_STRING, 0, 0, "Europe/Stockholm",
	    "zone of syslog and CEF times that carry none; [syslog_timezone] "
	    "sets it per supplier"),
	/* [quality]: bevis quality's score (docs/QUALITY.md) */
	OPT("quality", weight_volume, OPT_INT, 0, 1000, "10",
	    "weight of volume against the 6-month median in the score"),
	OPT("quality", weight_silence, OPT_INT, 0, 1000, "10",
	    "weight of silent hours in the score"),
	OPT("quality", weight_completeness, OPT_INT, 0, 1000, "25",
	    "weight of the A.8.15 fields in the score"),
	OPT("quality", weight_clock, OPT_INT, 0, 1000, "15",
	    "weight of events dated in the future or received late"),
	OPT("quality", weight_sequence, OPT_INT, 0, 1000, "10",
	    "weight of seq gaps, repeats and reorderings"),
	OPT("quality", weight_chain, OPT_INT, 0, 1000, "10",
	    "weight of chain.prev breaks and forks"),
	OPT("quality", weight_rejects, OPT_INT, 0, 1000, "10",
	    "weight of quarantined and resent items"),
	OPT("quality", weight_reporting, OPT_INT, 0, 1000, "10",
	    "weight of the monthly report's punctuality"),
	OPT("quality", reconcile_min_severity, OPT_STRING, 0, 0, "high",
	    "bevis reconcile: the least severity of an event that must be reported"),
	{ NULL, NULL, OPT_STRING, 0, 0, 0, NULL, NULL }
};

void
config_quality_weights_json(const struct config *cfg, struct buf *b)
{
	buf_printf(b, "{\"volume\": %ld, \"silence\": %ld, \"completeness\": %ld, "
	    "\"clock\": %ld, \"sequence\": %ld, \"chain\": %ld, "
	    "\"rejects\": %ld, \"reporting\": %ld}", cfg->weight_volume,
	    cfg->weight_silence, cfg->weight_completeness, cfg->weight_clock,
	    cfg->weight_sequence, cfg->weight_chain, cfg->weight_rejects,
	    cfg->weight_reporting);
}

int
config_parse_size(const char *s, long *out)
{
	static const struct { const char *suffix; long mult; } units[] = {
		{ "", 1 }, { "b", 1 }, { "k", 1024 }, { "kb", 1024 },
		{ "kib", 1024 }, { "m", 1L << 20 }, { "mb", 1L << 20 },
		{ "mib", 1L << 20 }, { "g", 1L << 30 }, { "gb", 1L << 30 },
		{ "gib", 1L << 30 },
	};
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || errno || v < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix) == 0) {
			if (v > LONG_MAX / units[i].mult)
				return -1;
			*out = v * units[i].mult;
			return 0;
		}
	}
	return -1;
}

struct load_ctx {
	struct config *cfg;
	FILE *f;
	int line;		/* lines read so far, as inih counts them */
	int reason_line;	/* the line that reason is about */
	int long_line;		/* the first line too long for inih, or 0 */
	int max_len;		/* the longest line inih takes whole */
	char reason[256];
};

/* fgets for ini_parse_stream that counts lines, so a reason can be matched
 * to the line inih reports: a syntax error (which has no callback) may come
 * before the line that set the reason. */
static char *
config_read_line(char *str, int num, void *stream)
{
	struct load_ctx *ctx = stream;
	char *s;
	size_t n;

	if (ctx->long_line || (s = fgets(str, num, ctx->f)) == NULL)
		return NULL;
	ctx->line++;
	/* inih would read the rest of a longer line as a line of its own, or,
	 * when it starts with a blank, as a new value for the same option:
	 * stop at such a line rather than load it wrong. */
	n = strlen(s);
	if (n == (size_t)num - 1 && s[n - 1] != '\n' && !feof(ctx->f)) {
		ctx->long_line = ctx->line;
		ctx->max_len = num - 3;		/* room for CR, LF and NUL */
		return NULL;
	}
	return s;
}

static int
set_option(struct config *cfg, const struct config_option *o, const char *value,
    char *reason, size_t rlen)
{
	char *field = (char *)cfg + o->offset;
	long v = 0;
	char *end;

	switch (o->type) {
	case OPT_STRING:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case OPT_BOOL:
		if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
		    strcmp(value, "1") == 0 || strcasecmp(value, "on") == 0)
			*(int *)field = 1;
		else if (strcasecmp(value, "no") == 0 ||
		    strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
		    strcasecmp(value, "off") == 0)
			*(int *)field = 0;
		else {
			snprintf(reason, rlen, "%s: '%s' is not yes or no",
			    o->name, value);
			return -1;
		}
		return 0;
	case OPT_LOGLEVEL:
		if ((v = log_level_parse(value)) < 0) {
			snprintf(reason, rlen, "%s: unknown log level '%s'",
			    o->name, value);
			return -1;
		}
		*(int *)field = (int)v;
		return 0;
	case OPT_INT:
		errno = 0;
		v = strtol(value, &end, 10);
		if (end == value || *end || errno) {
			snprintf(reason, rlen, "%s: '%s' is not an integer",
			    o->name, value);
			return -1;
		}
		break;
	case OPT_SIZE:
		if (config_parse_size(value, &v) < 0) {
			snprintf(reason, rlen, "%s: '%s' is not a size "
			    "(for example 16MiB)", o->name, value);
			return -1;
		}
		break;
	}
	if (v < o->min || v > o->max) {
		snprintf(reason, rlen, "%s: %ld is outside %ld..%ld",
		    o->name, v, o->min, o->max);
		return -1;
	}
	*(long *)field = v;
	return 0;
}

void
config_defaults(struct config *cfg)
{
	char reason[256];

	memset(cfg, 0, sizeof(*cfg));
	for (const struct config_option *o = config_options; o->name; o++)
		if (set_option(cfg, o, o->def, reason, sizeof(reason)) < 0)
			fatalx("bad built-in default: %s", reason);
}

/* [syslog_timezone]: one "supplier = zone" line per supplier whose
 * devices log local time in another zone than syslog_timezone. */
static int
config_zone_add(struct config *cfg, const char *supplier, const char *zone,
    char *reason, size_t rlen)
{
	struct tzrule tz;
	char why[200];

	if (tzrule_load(zone, &tz, why, sizeof(why)) < 0) {
		snprintf(reason, rlen, "[syslog_timezone] %s: %s", supplier, why);
		return -1;
	}
	for (size_t i = 0; i < cfg->nsyslog_zones; i++)
		if (strcmp(cfg->syslog_zones[i].supplier, supplier) == 0) {
			snprintf(reason, rlen, "[syslog_timezone] %s: given twice",
			    supplier);
			return -1;
		}
	cfg->syslog_zones = xrealloc(cfg->syslog_zones,
	    (cfg->nsyslog_zones + 1) * sizeof(*cfg->syslog_zones));
	cfg->syslog_zones[cfg->nsyslog_zones].supplier = xstrdup(supplier);
	cfg->syslog_zones[cfg->nsyslog_zones].zone = xstrdup(zone);
	cfg->nsyslog_zones++;
	return 0;
}

static int
config_ini_cb(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *ctx = user;

	/* Keep the first reason: ini_parse reports the first bad line. */
	if (ctx->reason[0])
		return 0;
	if (name == NULL)	/* a section header alone */
		return 1;
	ctx->reason_line = ctx->line;
	if (strncmp(section, "report_map ", 11) == 0)
		return report_map_add(&ctx->cfg->report_maps,
		    &ctx->cfg->nreport_maps, section + 11, name, value,
		    ctx->reason, sizeof(ctx->reason)) == 0;
	if (strcmp(section, "syslog_timezone") == 0)
		return config_zone_add(ctx->cfg, name, value, ctx->reason,
		    sizeof(ctx->reason)) == 0;
	for (const struct config_option *o = config_options; o->name; o++) {
		if (strcmp(o->section, section) != 0 || strcmp(o->name, name) != 0)
			continue;
		return set_option(ctx->cfg, o, value, ctx->reason,
		    sizeof(ctx->reason)) == 0;
	}
	if (strncmp(section, "source ", 7) == 0)
		return config_source_set(ctx->cfg, section + 7, name, value,
		    ctx->reason, sizeof(ctx->reason)) == 0;
	snprintf(ctx->reason, sizeof(ctx->reason), "unknown option '%s' in "
	    "section [%s]", name, section);
	return 0;
}

int
config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	struct load_ctx ctx = { .cfg = cfg, .reason = "" };
	int rc;

	char why[512];
	int fd = keyfile_open_regular(path, why, sizeof(why));

	if (fd < 0 || (ctx.f = fdopen(fd, "r")) == NULL) {
		if (fd >= 0) {
			snprintf(why, sizeof(why), "%s: %s", path, strerror(errno));
			close(fd);
		}
		/* why starts with the path already. */
		snprintf(err, errlen, "%s:0: cannot open: %s", path,
		    why + strlen(path) + 2);
		return -1;
	}
	rc = ini_parse_stream(config_read_line, &ctx, config_ini_cb, &ctx);
	int read_errno = ferror(ctx.f) ? errno : 0;
	fclose(ctx.f);
	if (read_errno) {
		snprintf(err, errlen, "%s:0: cannot read: %s", path,
		    strerror(read_errno));
		return -1;
	}
	if (rc == -2) {
		snprintf(err, errlen, "%s:0: out of memory", path);
		return -1;
	}
	if (rc > 0) {
		snprintf(err, errlen, "%s:%d: %s", path, rc,
		    ctx.reason[0] && ctx.reason_line == rc ? ctx.reason :
		    "syntax error");
		return -1;
	}
	if (ctx.long_line) {
		snprintf(err, errlen, "%s:%d: line is longer than %d characters",
		    path, ctx.long_line, ctx.max_len);
		return -1;
	}
	return 0;
}

void
config_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nsyslog_zones; i++) {
		free(cfg->syslog_zones[i].supplier);
		free(cfg->syslog_zones[i].zone);
	}
	free(cfg->syslog_zones);
	cfg->syslog_zones = NULL;
	cfg->nsyslog_zones = 0;
	for (const struct config_option *o = config_options; o->name; o++) {
		if (o->type == OPT_STRING) {
			char **p = (char **)((char *)cfg + o->offset);
			free(*p);
			*p = NULL;
		}
	}
	config_source_free(cfg);
	report_maps_free(cfg->report_maps, cfg->nreport_maps);
	cfg->report_maps = NULL;
	cfg->nreport_maps = 0;
}
