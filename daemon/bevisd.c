/* bevisd.c - start-up, signals and the event loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <zmq.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#else
#define sd_notify(unset, state) ((void)(unset), (void)(state), 0)
#define sd_watchdog_enabled(unset, usec) ((void)(unset), (void)(usec), 0)
#endif

#include "auth.h"
#include "checkpoint.h"
#include "config.h"
#include "curvekey.h"
#include "jsonmap.h"
#include "keyfile.h"
#include "ledger_listen.h"
#include "quality.h"
#include "rules.h"
#include "log.h"
#include "metrics.h"
#include "parse_text.h"
#include "pull.h"
#include "receive.h"
#include "spool.h"
#include "writer.h"

#define DEFAULT_CONFIG "/etc/bevis/bevisd.conf"

static struct receiver *receiver;
static struct writer_pool *pool;
static struct spool *spool;
static const char *config_path;
static struct config cfg;
static struct pull *pull;		/* NULL: no pull_endpoint */
static struct jsonmaps json_maps;	/* read once at start: a restart changes them */
static int stop_signals;

static void
usage(void)
{
	fprintf(stderr, "usage: bevisd [-fn] [-c file]\n"
	    "  -c file  configuration file (default " DEFAULT_CONFIG ")\n"
	    "  -f       stay in the foreground\n"
	    "  -n       check the configuration and exit\n");
	exit(1);
}

/* The drain took longer than shutdown_timeout: what is still in flight
 * stays unanswered and its senders resend. Async-signal-safe. */
static void
on_shutdown_timeout(int sig)
{
	static const char msg[] = "bevisd: shutdown_timeout passed with requests "
	    "still in flight; exiting (their senders resend)\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;
	struct sigaction sa;

	(void)what;
	if (++stop_signals > 1) {
		log_warnx("second %s: exiting at once", strsignal((int)sig));
		_exit(1);
	}
	log_info("%s: finishing what is in flight (at most %ld s)",
	    strsignal((int)sig), cfg.shutdown_timeout);
	sd_notify(0, "STOPPING=1");
	/* A timer outside the loop: the writers may be stuck in libpq. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_shutdown_timeout;
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)cfg.shutdown_timeout);
	if (pull)
		pull_drain(pull);
	if (receiver)
		receiver_drain(receiver);
	else
		event_base_loopbreak(base);
}

/* What a SIGHUP may change. The rest is fixed by what bevisd did at start
 * (bound, connected, read keys, dropped privileges, started threads). */
static const char *const reloadable[] = {
	"log_level", "batch_max_rows", "batch_max_bytes", "batch_max_ms",
	"max_items", "max_item_bytes", "checkpoint_interval", "spool_after_ms",
	"supplier_inflight_bytes", "max_inflight_bytes", "spool_max_bytes",
	"shutdown_timeout", NULL
};

static int
option_differs(const struct config_option *o, const struct config *a,
    const struct config *b)
{
	const char *pa = (const char *)a + o->offset;
	const char *pb = (const char *)b + o->offset;

	switch (o->type) {
	case OPT_STRING: {
		const char *sa = *(char *const *)(const void *)pa;
		const char *sb = *(char *const *)(const void *)pb;
		return strcmp(sa ? sa : "", sb ? sb : "") != 0;
	}
	case OPT_INT:
	case OPT_SIZE:
		return *(const long *)(const void *)pa !=
		    *(const long *)(const void *)pb;
	default:
		return *(const int *)(const void *)pa !=
		    *(const int *)(const void *)pb;
	}
}

static int
is_reloadable(const struct config_option *o, const struct config *next)
{
	if (strcmp(o->section, "bevisd") != 0)
		return 0;
	/* Turning the spool on or off takes a restart; resizing it not. */
	if (strcmp(o->name, "spool_max_bytes") == 0 &&
	    (cfg.spool_max_bytes == 0) != (next->spool_max_bytes == 0))
		return 0;
	for (size_t i = 0; reloadable[i]; i++)
		if (strcmp(o->name, reloadable[i]) == 0)
			return 1;
	return 0;
}

/* Reloads the supplier keys and every option that can change while
 * running; a bad file keeps the whole running configuration. */
static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct config next;
	struct writer_limits lim;
	char err[512], changed[512] = "", fixed[512] = "";

	(void)sig;
	(void)what;
	sd_notify(0, "RELOADING=1");
	if (arg)
		auth_reload(arg);	/* the supplier keys */
	if (config_path == NULL) {
		sd_notify(0, "READY=1");
		return;
	}
	config_defaults(&next);
	if (config_load(config_path, &next, err, sizeof(err)) < 0) {
		log_warnx("reload refused, keeping the running configuration: %s",
		    err);
		config_free(&next);
		sd_notify(0, "READY=1");
		return;
	}
	for (const struct config_option *o = config_options; o->name; o++) {
		if (!option_differs(o, &cfg, &next))
			continue;
		if (strcmp(o->section, "bevisd") != 0)
			continue;	/* [client] is bevis's */
		char *list = is_reloadable(o, &next) ? changed : fixed;
		size_t len = strlen(list);
		snprintf(list + len, 512 - len, "%s%s", len ? ", " : "", o->name);
		if (list == changed)	/* all of them are int or long */
			memcpy((char *)&cfg + o->offset, (char *)&next + o->offset,
			    o->type == OPT_INT || o->type == OPT_SIZE ?
			    sizeof(long) : sizeof(int));
	}
	config_free(&next);
	log_set_level((enum log_level)cfg.log_level);
	writer_limits_from(&lim, &cfg);
	if (pool)
		writer_pool_reconfigure(pool, &lim);
	if (spool)
		spool_set_max(spool, (uint64_t)cfg.spool_max_bytes);
	log_info("configuration reloaded: %s%s%s%s", changed[0] ? "changed " :
	    "no option changed", changed, fixed[0] ? "; these take a restart "
	    "and keep their running values: " : "", fixed);
	sd_notify(0, "READY=1");
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

/* state_dir and state_dir/spool, owned by the user bevisd becomes. */
static void
make_state_dirs(const struct config *c, char *spool_dir, size_t len)
{
	struct passwd *pw = NULL;

	snprintf(spool_dir, len, "%s/spool", c->state_dir);
	if ((getuid() == 0 || geteuid() == 0) && c->user[0] &&
	    (pw = getpwnam(c->user)) == NULL)
		fatalx("user %s: no such user", c->user);
	/* Only what bevisd creates is handed over: a state_dir that exists
	 * (StateDirectory=, or a mistake like /var/lib) is the operator's. */
	const char *dirs[] = { c->state_dir, spool_dir };
	for (int i = 0; i < 2; i++) {
		if (mkdir(dirs[i], 0700) < 0) {
			if (errno != EEXIST)
				fatal("cannot create %s", dirs[i]);
			continue;
		}
		if (pw && chown(dirs[i], pw->pw_uid, pw->pw_gid) < 0)
			fatal("cannot give %s to %s", dirs[i], c->user);
	}
}

/* Nonzero for ipc://PATH, or tcp://ADDR:PORT where ADDR is a literal
 * loopback address (127.0.0.0/8, [::1], [::ffff:127.x.x.x]). libzmq would
 * also take a host name, an interface name, "*" and a source part
 * ("SRC;ADDR", whose ADDR is what it binds), so all that is refused. */
static int
endpoint_is_local(const char *ep)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *addr, *colon, *p;
	unsigned char bin[sizeof(struct in6_addr)];

	if (strncmp(ep, "ipc://", 6) == 0)
		return ep[6] != '\0';
	if (strncmp(ep, "tcp://", 6) != 0 || strchr(ep, ';') != NULL)
		return 0;
	addr = ep + 6;
	if ((colon = strrchr(addr, ':')) == NULL || colon[1] == '\0' ||
	    (size_t)(colon - addr) >= sizeof(host))
		return 0;
	for (p = colon + 1; *p; p++)
		if ((*p < '0' || *p > '9') && strcmp(colon + 1, "*") != 0)
			return 0;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	if (host[0] == '[') {
		size_t len = strlen(host);
		if (len < 3 || host[len - 1] != ']')
			return 0;
		host[len - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, bin) != 1)
			return 0;
		/* With ZMQ_IPV6, 127.0.0.1 is bound as [::ffff:127.0.0.1]. */
		return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)(void *)bin) ||
		    (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)(void *)bin) &&
		    bin[12] == 127);
	}
	return inet_pton(AF_INET, host, bin) == 1 && bin[0] == 127;
}

/* Who may send decides how the socket is set up: CURVE with the server's
 * key, or plaintext on a local endpoint when the operator says so. Writes
 * the secret key into curve (or "" for plaintext). */
static int
check_transport(const struct config *c, int read_key,
    char curve[CURVE_Z85_LEN + 1], char *err, size_t errlen)
{
	curve[0] = '\0';
	if (c->curve_secret_key[0])
		return read_key ? curvekey_read(c->curve_secret_key, 1, curve, err,
		    errlen) : 0;
	if (!c->allow_plaintext) {
		snprintf(err, errlen, "no curve_secret_key: set one (bevis keygen "
		    "--curve DIR --name server), or allow_plaintext = yes on a "
		    "loopback or ipc endpoint");
		return -1;
	}
	if (!endpoint_is_local(c->endpoint)) {
		snprintf(err, errlen, "allow_plaintext serves without "
		    "authentication, so only on a loopback or ipc endpoint, not "
		    "%s", c->endpoint);
		return -1;
	}
	if (c->pull_endpoint[0] && !endpoint_is_local(c->pull_endpoint)) {
		snprintf(err, errlen, "allow_plaintext serves without "
		    "authentication, so only on a loopback or ipc endpoint, not "
		    "pull_endpoint %s", c->pull_endpoint);
		return -1;
	}
	return 0;
}

/* bevisd does not run as root: started as root, it becomes cfg.user once
 * its keys are read and its socket is bound. */
static void
drop_privileges(const struct config *c)
{
	struct passwd *pw;

	if (getuid() != 0 && geteuid() != 0)
		return;
	if (c->user[0] == '\0')
		fatalx("bevisd refuses to run as root: start it as an unprivileged "
		    "user, or set user = NAME");
	if ((pw = getpwnam(c->user)) == NULL || pw->pw_uid == 0)
		fatalx("user %s: no such unprivileged user", c->user);
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		fatal("cannot become %s", c->user);
	if (setuid(0) == 0)
		fatalx("still able to become root after dropping privileges");
	log_info("running as %s", c->user);
}

/* Loads and checks the configuration. Returns 1 when bevisd is to run, 0
 * when it only checked (-n) and the check passed, -1 (said on stderr) when
 * the configuration is wrong. curve receives the server's secret key when
 * it is to run with CURVE. */
static int
configure(int check_only, char curve[CURVE_Z85_LEN + 1])
{
	const char *where;
	char err[512];

	if (config_path == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		config_path = DEFAULT_CONFIG;
	where = config_path ? config_path : "bevisd";
	config_defaults(&cfg);
	if (config_path && config_load(config_path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (parse_zones_configure(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", where, err);
		return -1;
	}
	/* -n checks what the file says; the key file is read at start. */
	if (check_transport(&cfg, !check_only, curve, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", where, err);
		return -1;
	}
	if (pull_check_config(&cfg, cfg.curve_secret_key[0] != '\0', err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", where, err);
		return -1;
	}
	if (cfg.json_maps[0] && jsonmaps_load(cfg.json_maps, &json_maps, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	jsonmaps_install(&json_maps);
	if (!check_only)
		return 1;
	const char *keys[] = { cfg.curve_secret_key, cfg.ledger_key };
	for (int i = 0; i < 2; i++) {
		if (keys[i][0] && keyfile_check_regular(keys[i], err,
		    sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", where, err);
			return -1;
		}
	}
	printf("configuration OK\n");
	return 0;
}

/* The key that signs tree heads, into signer; NULL when none is set. */
static struct checkpoint_signer *
load_signer(struct checkpoint_signer *signer)
{
	char err[512];

	if (!cfg.ledger_key[0]) {
		log_warnx("ledger_key is not set: submissions enter the ledger, "
		    "but no tree head is signed (bevis keygen --ledger DIR)");
		return NULL;
	}
	if (keyfile_read_signer(cfg.ledger_key, signer, err, sizeof(err)) < 0)
		fatalx("%s", err);
	log_info("signing tree heads as %s every %ld s", signer->name,
	    cfg.checkpoint_interval);
	return signer;
}

/* Opens the spool in dir (made before the privilege drop), or says why
 * there is none. */
static void
open_spool(const char *dir)
{
	char err[512];
	struct spool_stats st;

	if (dir == NULL) {
		log_warnx("no spool (spool_max_bytes = 0 or no state_dir): while "
		    "the database is away, requests wait in memory");
		return;
	}
	if ((spool = spool_open(dir, (uint64_t)cfg.spool_max_bytes, err,
	    sizeof(err))) == NULL)
		fatalx("spool: %s", err);
	spool_stats(spool, &st);
	log_info("spool %s: %llu requests (%llu bytes) to replay, room for %ld "
	    "bytes", dir, (unsigned long long)st.records,
	    (unsigned long long)st.bytes, cfg.spool_max_bytes);
}

/* What libzmq bound, not what the file said: plaintext only where nobody
 * but this machine can reach it. */
static void
check_bound_endpoint(void)
{
	char bound[256];

	if (cfg.curve_secret_key[0])
		return;
	receiver_last_endpoint(receiver, bound, sizeof(bound));
	if (!endpoint_is_local(bound))
		fatalx("allow_plaintext: bound %s, which is not a loopback or ipc "
		    "endpoint; refusing to serve", bound);
}

/* A WATCHDOG=1 every WatchdogSec/2 when systemd asks for one; NULL if not. */
static struct event *
start_watchdog(struct event_base *base)
{
	uint64_t wd_usec = 0;
	struct event *ev;

	if (sd_watchdog_enabled(0, &wd_usec) <= 0 || wd_usec == 0)
		return NULL;
	struct timeval half = { (time_t)(wd_usec / 2000000),
		(suseconds_t)(wd_usec / 2 % 1000000) };
	ev = event_new(base, -1, EV_PERSIST, on_watchdog, NULL);
	event_add(ev, &half);
	log_info("systemd watchdog: a ping every %llu ms",
	    (unsigned long long)(wd_usec / 2000));
	return ev;
}

int
main(int argc, char **argv)
{
	int ch, rc, check_only = 0, foreground = 0;
	char curve[CURVE_Z85_LEN + 1];

	log_init("bevisd", LOG_LVL_INFO);
	while ((ch = getopt(argc, argv, "c:fnh")) != -1) {
		switch (ch) {
		case 'c': config_path = optarg; break;
		case 'f': foreground = 1; break;
		case 'n': check_only = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if ((rc = configure(check_only, curve)) <= 0) {
		jsonmaps_free(&json_maps);
		config_free(&cfg);
		return rc < 0 ? 1 : 0;
	}
	log_set_level((enum log_level)cfg.log_level);
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	if ((getuid() == 0 || geteuid() == 0) && cfg.user[0] == '\0')
		fatalx("bevisd refuses to run as root: start it as an unprivileged "
		    "user, or set user = NAME");
	if (!foreground && daemon(0, 1) < 0)
		fatal("daemon");
	signal(SIGPIPE, SIG_IGN);
	if (!curve[0])
		log_warnx("serving PLAINTEXT on %s: no supplier authentication; "
		    "each event names its supplier (allow_plaintext)", cfg.endpoint);
	struct checkpoint_signer signer, *sp = load_signer(&signer);

	/* Start-up order: the ZAP handler before the socket, keys read and
	 * the socket bound before the privilege drop (docs/ARCHITECTURE.md). */
	void *zctx = zmq_ctx_new();
	if (zctx == NULL)
		fatalx("zmq_ctx_new: %s", zmq_strerror(errno));
	struct auth *auth = curve[0] ? auth_bind(zctx, &cfg) : NULL;
	receiver = receiver_bind(zctx, &cfg, curve[0] ? curve : NULL);
	if (receiver)
		pull = pull_bind(zctx, &cfg, curve[0] ? curve : NULL);
	sodium_memzero(curve, sizeof(curve));
	if (receiver == NULL)
		return 1;
	check_bound_endpoint();
	char spool_dir[4096];
	int with_spool = cfg.spool_max_bytes > 0 && cfg.state_dir[0];
	if (with_spool)
		make_state_dirs(&cfg, spool_dir, sizeof(spool_dir));
	drop_privileges(&cfg);
	open_spool(with_spool ? spool_dir : NULL);

	struct event_base *base = event_base_new();
	if (base == NULL)
		fatalx("event_base_new failed");
	struct event *ev_term = evsignal_new(base, SIGTERM, on_stop, base);
	struct event *ev_int = evsignal_new(base, SIGINT, on_stop, base);
	struct event *ev_hup = evsignal_new(base, SIGHUP, on_hup, auth);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_hup, NULL);

	if (auth)
		auth_run(auth, base);
	pool = writer_pool_start(&cfg, sp, spool);
	struct ledger_listen *listener = sp ? ledger_listen_start(&cfg, pool) :
	    NULL;
	struct rules *rules = NULL;
	if (cfg.rules)
		rules = rules_start(&cfg);
	else
		log_info("rules: off (rules = off in the configuration): this "
		    "bevisd evaluates no rules");
	/* The quality gauges are for /metrics only. */
	struct quality *quality = cfg.http_listen[0] && cfg.quality_refresh > 0 ?
	    quality_start(&cfg) : NULL;
	receiver_start(receiver, base, pool, auth);
	if (pull)
		pull_start(pull, base, pool, auth);
	if (auth)
		auth_set_gate(auth, receiver_supplier_full, receiver);
	if (cfg.http_listen[0] &&
	    metrics_http_start(base, cfg.http_listen, receiver, pool, spool) < 0)
		return 1;
	struct event *ev_wd = start_watchdog(base);
	log_info("bevisd %s ready: %ld writers, batches of up to %ld items",
	    BEVIS_VERSION, cfg.writers, cfg.batch_max_rows);
	sd_notify(0, "READY=1");
	event_base_dispatch(base);

	metrics_http_stop();
	ledger_listen_stop(listener);
	rules_stop(rules);
	quality_stop(quality);
	writer_pool_stop(pool);
	receiver_flush(receiver);
	if (ev_wd)
		event_free(ev_wd);
	receiver_free(receiver);
	pull_free(pull);
	if (auth)
		auth_stop(auth);
	zmq_ctx_term(zctx);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_base_free(base);
	writer_pool_free(pool);
	if (spool)
		spool_close(spool);
	if (sp)
		checkpoint_signer_clear(sp);
	jsonmaps_free(&json_maps);
	config_free(&cfg);
	log_info("stopped");
	return 0;
}
