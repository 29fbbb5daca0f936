/* bevis.c - the command-line tool: subcommand dispatch. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
	const char *usage;
} commands[] = {
	{ "migrate", cmd_migrate, "migrate                 create or update the schema" },
	{ "send", cmd_send, "send [options] FILE|-   push events to bevisd" },
	{ "ping", cmd_ping, "ping [--endpoint E]     check that bevisd answers" },
	{ "events", cmd_events, "events [filters]        list stored events" },
	{ "redact", cmd_redact, "redact --submission ID --reason TEXT\n"
	    "                          erase a submission's personal data (GDPR)" },
	{ "keygen", cmd_keygen, "keygen --ledger DIR     make the key pair that signs tree heads\n"
	    "  keygen --curve DIR [--name N]\n"
	    "                          make a CURVE key pair (bevisd or a supplier)" },
	{ "supplier", cmd_supplier, "supplier add NAME (--public-key Z85 | --key-file F.pub)\n"
	    "  supplier list [--json]\n"
	    "  supplier revoke NAME    register, list and revoke suppliers' CURVE keys" },
	{ "checkpoint", cmd_checkpoint, "checkpoint              print the newest signed tree head" },
	{ "verify", cmd_verify, "verify [--key F] [--checkpoint F]...\n"
	    "                          recompute the ledger and check it" },
	{ "proof", cmd_proof, "proof --submission ID | --leaf N [--tree-size M] [--json]\n"
	    "                          an inclusion proof" },
	{ "export", cmd_export, "export (--submission ID... | --since T --until T) --out DIR\n"
	    "                          an offline evidence bundle, with proofs" },
	{ "verify-bundle", cmd_verify_bundle, "verify-bundle DIR [--key F]\n"
	    "                          check a bundle with no database" },
};

static int
usage(FILE *f)
{
	fprintf(f, "usage: bevis [-c FILE] [--db CONNINFO] COMMAND [ARGS]\n\n"
	    "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\n`bevis COMMAND --help` describes a command's options.\n"
	    "The database is --db, else the libpq environment (PGHOST, "
	    "PGSERVICE, ...),\nelse `db` in the config file (-c, $BEVIS_CONFIG "
	    "or /etc/bevis/bevisd.conf).\n");
	return f == stdout ? 0 : 2;
}

int
main(int argc, char **argv)
{
	struct cli cli;
	int i = 1;

	memset(&cli, 0, sizeof(cli));
	config_defaults(&cli.cfg);
	if (sodium_init() < 0) {
		fprintf(stderr, "bevis: libsodium failed to initialise\n");
		return 2;
	}
	/* Options before the command apply to it. */
	while (i < argc && argv[i][0] == '-') {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
		    && i + 1 < argc) {
			cli.config_path = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			cli.db = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			return usage(stdout);
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("bevis %s\n", BEVIS_VERSION);
			return 0;
		} else {
			return usage(stderr);
		}
	}
	if (i >= argc)
		return usage(stderr);
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(argv[i], commands[k].name) == 0) {
			int rc = commands[k].fn(&cli, argc - i, argv + i);
			config_free(&cli.cfg);
			return rc;
		}
	}
	fprintf(stderr, "bevis: unknown command '%s'\n", argv[i]);
	return usage(stderr);
}
