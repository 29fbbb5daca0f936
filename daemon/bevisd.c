/* bevisd.c - start-up, signals and the event loop. */
#include <errno.h>
#include <event2/event.h>
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

#include "checkpoint.h"
#include "config.h"
#include "keyfile.h"
#include "log.h"
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
	(void)arg;
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
		log_info("configuration reloaded (log_level; other options "
		    "take a restart)");
	}
	config_free(&next);
	sd_notify(0, "READY=1");
}

int
main(int argc, char **argv)
{
	int ch, check_only = 0, foreground = 0;
	char err[512];

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
	if (check_only) {
		printf("configuration OK\n");
		config_free(&cfg);
		return 0;
	}
	log_set_level((enum log_level)cfg.log_level);
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	if (!foreground && daemon(0, 1) < 0)
		fatal("daemon");
	signal(SIGPIPE, SIG_IGN);

	struct event_base *base = event_base_new();
	if (base == NULL)
		fatalx("event_base_new failed");
	struct event *ev_term = evsignal_new(base, SIGTERM, on_stop, base);
	struct event *ev_int = evsignal_new(base, SIGINT, on_stop, base);
	struct event *ev_hup = evsignal_new(base, SIGHUP, on_hup, base);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_hup, NULL);

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
	struct writer_pool *pool = writer_pool_start(&cfg, sp);
	receiver = receiver_start(base, &cfg, pool);
	if (receiver == NULL) {
		writer_pool_stop(pool);
		writer_pool_free(pool);
		return 1;
	}
	log_info("bevisd %s ready: %ld writers, batches of up to %ld items",
	    BEVIS_VERSION, cfg.writers, cfg.batch_max_rows);
	sd_notify(0, "READY=1");
	event_base_dispatch(base);

	writer_pool_stop(pool);
	receiver_flush(receiver);
	receiver_free(receiver);
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
