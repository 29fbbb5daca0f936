/* bevisd.c - start-up, signals and the event loop. */
#include <errno.h>
#include <event2/event.h>
#include <grp.h>
#include <pwd.h>
#include <zmq.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#else
#define sd_notify(unset, state) ((void)(unset), (void)(state), 0)
#endif

#include "auth.h"
#include "checkpoint.h"
#include "config.h"
#include "curvekey.h"
#include "keyfile.h"
#include "log.h"
#include "metrics.h"
#include "receive.h"
#include "writer.h"

#define DEFAULT_CONFIG "/etc/bevis/bevisd.conf"

static struct receiver *receiver;
static const char *config_path;
static struct config cfg;
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

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	(void)what;
	if (++stop_signals > 1) {
		log_warnx("second %s: exiting at once", strsignal((int)sig));
		_exit(1);
	}
	log_info("%s: finishing what is in flight", strsignal((int)sig));
	sd_notify(0, "STOPPING=1");
	if (receiver)
		receiver_drain(receiver);
	else
		event_base_loopbreak(base);
}

/* Only the log level is reloaded for now; the rest takes a restart. A bad
 * file keeps the running configuration. */
static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct config next;
	char err[512];

	(void)sig;
	(void)what;
	if (arg)
		auth_reload(arg);	/* the supplier keys */
	if (config_path == NULL)
		return;
	sd_notify(0, "RELOADING=1");
	config_defaults(&next);
	if (config_load(config_path, &next, err, sizeof(err)) < 0) {
		log_warnx("reload refused, keeping the running configuration: %s",
		    err);
	} else {
		cfg.log_level = next.log_level;
		log_set_level((enum log_level)cfg.log_level);
		log_info("configuration reloaded (log_level and the supplier "
		    "keys; other options take a restart)");
	}
	config_free(&next);
	sd_notify(0, "READY=1");
}

static int
endpoint_is_local(const char *ep)
{
	return strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0 ||
	    strncmp(ep, "tcp://127.", 10) == 0 ||
	    strncmp(ep, "tcp://localhost:", 16) == 0 ||
	    strncmp(ep, "tcp://[::1]:", 12) == 0;
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

int
main(int argc, char **argv)
{
	int ch, check_only = 0, foreground = 0;
	char err[512], curve[CURVE_Z85_LEN + 1];

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
	if (config_path == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		config_path = DEFAULT_CONFIG;
	config_defaults(&cfg);
	if (config_path && config_load(config_path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	/* -n checks what the file says; the key file is read at start. */
	if (check_transport(&cfg, !check_only, curve, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", config_path ? config_path : "bevisd", err);
		return 1;
	}
	if (check_only) {
		printf("configuration OK\n");
		config_free(&cfg);
		return 0;
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

	struct checkpoint_signer signer, *sp = NULL;
	if (cfg.ledger_key[0]) {
		if (keyfile_read_signer(cfg.ledger_key, &signer, err,
		    sizeof(err)) < 0)
			fatalx("%s", err);
		sp = &signer;
		log_info("signing tree heads as %s every %ld s", signer.name,
		    cfg.checkpoint_interval);
	} else {
		log_warnx("ledger_key is not set: submissions enter the ledger, "
		    "but no tree head is signed (bevis keygen --ledger DIR)");
	}

	void *zctx = zmq_ctx_new();
	if (zctx == NULL)
		fatalx("zmq_ctx_new: %s", zmq_strerror(errno));
	struct auth *auth = curve[0] ? auth_bind(zctx, &cfg) : NULL;
	receiver = receiver_bind(zctx, &cfg, curve[0] ? curve : NULL);
	sodium_memzero(curve, sizeof(curve));
	if (receiver == NULL)
		return 1;
	drop_privileges(&cfg);

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
	struct writer_pool *pool = writer_pool_start(&cfg, sp);
	receiver_start(receiver, base, pool, auth);
	if (cfg.http_listen[0] &&
	    metrics_http_start(base, cfg.http_listen, receiver) < 0)
		return 1;
	log_info("bevisd %s ready: %ld writers, batches of up to %ld items",
	    BEVIS_VERSION, cfg.writers, cfg.batch_max_rows);
	sd_notify(0, "READY=1");
	event_base_dispatch(base);

	metrics_http_stop();
	writer_pool_stop(pool);
	receiver_flush(receiver);
	receiver_free(receiver);
	if (auth)
		auth_stop(auth);
	zmq_ctx_term(zctx);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_base_free(base);
	writer_pool_free(pool);
	if (sp)
		checkpoint_signer_clear(sp);
	config_free(&cfg);
	log_info("stopped");
	return 0;
}
