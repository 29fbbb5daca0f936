/* bevis.c - the command-line tool: subcommand dispatch. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
	const char *usage;	/* the line of bevis --help */
	const char *help;	/* bevis COMMAND --help, after "usage: bevis " */
} commands[] = {
	{ "migrate", cmd_migrate, "migrate                 create or update the schema",
	    "migrate [--db CONNINFO]\n"
	    "Creates or updates the schema: applies the migrations not yet applied.\n" },
	{ "send", cmd_send, "send [options] FILE|-   push events to bevisd",
	    "send [--endpoint E] [--server-key FILE --key FILE] [--type ndjson|json|cef|syslog|mapped]\n"
	    "                  [--timeout SECONDS] [--retries N] [--window N] [--chunk-items N]\n"
	    "                  [--busy-timeout SECONDS] [--quiet] FILE|-\n"
	    "     send --report FILE --kind servicedesk|supplier --period YYYY-MM\n"
	    "                  [--title T] [--author A] [--type csv|json]\n"
	    "                  [--charset utf-8|windows-1252] [--separator ';'|',']\n"
	    "--server-key is bevisd's CURVE public key, --key this supplier's CURVE secret key\n"
	    "(mode 0600); without them, server_key and key in the config's [client] section;\n"
	    "without either, plaintext.\n"
	    "NDJSON is read and sent in pieces, so memory stays bounded; a JSON array is\n"
	    "read whole, up to 24 MiB. An item larger than a request (max_message_size)\n"
	    "is reported with its line number and not sent. When bevisd answers busy, the\n"
	    "request is sent again under the same id after a jittered wait that doubles\n"
	    "from bevisd's retry_after_ms up to 30 s, until --busy-timeout (default 300 s)\n"
	    "has passed for that request; then it is counted as not stored.\n"
	    "--report sends one monthly report (CSV or JSON) as one REPORT request; a CSV\n"
	    "file that is not valid UTF-8 goes as windows-1252 unless --charset says;\n"
	    "the title defaults to the file's name, the author to $USER.\n" },
	{ "ping", cmd_ping, "ping [--endpoint E]     check that bevisd answers",
	    "ping [--endpoint E] [--server-key FILE --key FILE] [--timeout SECONDS]\n"
	    "Checks that bevisd answers.\n" },
	{ "events", cmd_events, "events [filters]        list stored events",
	    "events [--supplier S] [--since T] [--until T] [--severity-min N]\n"
	    "                    [--category C] [--limit N] [--json|--csv]\n"
	    "T is a date or an RFC 3339 time; N for severity is 0-6 or a name.\n"
	    "Supplier text is escaped in the table and CSV; --json is the exact form.\n" },
	{ "redact", cmd_redact, "redact --submission ID --reason TEXT\n"
	    "                          erase a submission's personal data (GDPR)",
	    "redact --submission ID --reason TEXT [--db CONNINFO]\n"
	    "Erases the body of submission ID and the personal fields of its events\n"
	    "(actor, source ip, target, message, attrs). Needs a login in role bevis_isam.\n" },
	{ "keygen", cmd_keygen, "keygen --ledger DIR     make the key pair that signs tree heads\n"
	    "  keygen --curve DIR [--name N]\n"
	    "                          make a CURVE key pair (bevisd or a supplier)",
	    "keygen --ledger DIR [--name NAME]\n"
	    "       bevis keygen --curve DIR [--name NAME]\n"
	    "--ledger writes DIR/ledger.key and DIR/ledger.pub, the Ed25519 key pair that\n"
	    "signs tree heads (NAME is the log's name, default bevis-HOSTNAME); --curve writes\n"
	    "DIR/NAME.key and DIR/NAME.pub, a CURVE key pair for bevisd or a supplier\n"
	    "(NAME default curve).\n" },
	{ "supplier", cmd_supplier, "supplier add NAME (--public-key Z85 | --key-file F.pub)\n"
	    "  supplier list [--json]\n"
	    "  supplier revoke NAME\n"
	    "  supplier rotate NAME --key-file F.pub [--overlap D]\n"
	    "                          register, list, revoke and rotate suppliers' CURVE keys",
	    "supplier add NAME (--public-key Z85 | --key-file FILE.pub)\n"
	    "       bevis supplier list [--json]\n"
	    "       bevis supplier revoke NAME\n"
	    "       bevis supplier rotate NAME (--public-key Z85 | --key-file FILE.pub)\n"
	    "                             [--overlap DURATION]\n"
	    "add and revoke need a login in role bevis_isam; the key pair comes from\n"
	    "bevis keygen --curve (the supplier keeps NAME.key, you register NAME.pub).\n" },
	{ "incident", cmd_incident, "incident new --title T [options]\n"
	    "                          open an incident; prints its reference",
	    "incident new --title T [--description D] [--supplier S]\n"
	    "                    [--event SUPPLIER:ID]... [--submission ID]...\n"
	    "                    [--occurred-at T] [--detected-at T] [--aware-at T]\n"
	    "Opens an incident (status new), linked to the events and submissions given,\n"
	    "and prints its reference (INC-YYYY-NNNN) alone on stdout. T is a date or a\n"
	    "time; without an offset it is read in the config's timezone. Needs a login\n"
	    "in role bevis_isam (docs/INCIDENTS.md).\n" },
	{ "incidents", cmd_incidents, "incidents [filters]     list incidents",
	    "incidents [--status S] [--supplier S] [--since T] [--until T]\n"
	    "                    [--personal-data] [--overdue] [--json|--csv]\n"
	    "--since and --until bound the time opened, [since, until); --personal-data\n"
	    "lists those with personal data, --overdue those past their IMY or triage\n"
	    "deadline. A protected incident's title shows only to bevis_protected.\n" },
	{ "show", cmd_show, "show INC [--json]       an incident: links, decisions, deadlines",
	    "show INC [--json]\n"
	    "The incident; its links in force (and those of incidents merged into it);\n"
	    "its decisions as a timeline (when, who, kind, before -> after, why); its open\n"
	    "deadlines with the time left. Times in the config's timezone.\n" },
	{ "triage", cmd_triage, "triage INC [changes] [--rationale TEXT]\n"
	    "                          decide on an incident (one audited decision)",
	    "triage INC [--status S] [--category C] [--cause C] [--cia LIST]\n"
	    "                    [--personal-data yes|no|unknown] [--subject-categories LIST]\n"
	    "                    [--data-categories LIST] [--subjects N] [--records N]\n"
	    "                    [--occurred-at T] [--detected-at T] [--aware-at T]\n"
	    "                    [--imy required|not-required] [--imy-notified-at T --imy-ref REF]\n"
	    "                    [--subjects-informed T|not-required|pending]\n"
	    "                    [--protected-identity yes|no] [--title T] [--description D]\n"
	    "                    [--supplier S] [--rationale TEXT]\n"
	    "One decision on INC through bevis_incident_decide(). --cia lists any of\n"
	    "disclosure, loss, change (or none); LIST is comma-separated. The database\n"
	    "says when a rationale is required (dismissing, not-required on either track,\n"
	    "reopening, a late IMY notification, changing aware-at). Needs bevis_isam.\n" },
	{ "link", cmd_link, "link INC (--event SUPPLIER:ID | --submission ID | --incident INC)...\n"
	    "                          link evidence or a related incident",
	    "link INC (--event SUPPLIER:ID | --submission ID | --incident INC)...\n"
	    "                    [--rationale TEXT]\n"
	    "Each target is linked as a decision of its own. Needs bevis_isam.\n" },
	{ "unlink", cmd_unlink, "unlink INC (--event ... | --submission ... | --incident ...)... --rationale TEXT",
	    "unlink INC (--event SUPPLIER:ID | --submission ID | --incident INC)...\n"
	    "                    --rationale TEXT\n"
	    "Ends links (the link stays on record; the unlink is a decision).\n" },
	{ "merge", cmd_merge, "merge INC --into INC --rationale TEXT\n"
	    "                          merge a duplicate into the incident that survives",
	    "merge INC --into SURVIVOR --rationale TEXT\n"
	    "INC becomes merged and points to SURVIVOR, which shows both sets of links.\n" },
	{ "unmerge", cmd_unmerge, "unmerge INC --rationale TEXT   undo a merge (INC goes back to assessing)",
	    "unmerge INC --rationale TEXT\n"
	    "Undoes a merge: INC goes back to assessing; both incidents record it.\n" },
	{ "deadlines", cmd_deadlines, "deadlines [--within DURATION] [--json]\n"
	    "                          open IMY and triage deadlines; exit 1 if one is overdue",
	    "deadlines [--within DURATION] [--json]\n"
	    "The open deadlines: IMY (Art. 33, 72 hours from aware-at) and triage\n"
	    "(triage_within days after opening), each with the time left or how long it is\n"
	    "overdue. --within (90m, 24h, 3d, 2w) lists only those due within it; overdue ones\n"
	    "are always listed. Exit 0: nothing overdue; 1: something overdue; 2: an error.\n" },
	{ "stats", cmd_stats, "stats [--year Y] [--by month|supplier|category|cause] [--json|--csv]\n"
	    "                          yearly incident figures beside the year before",
	    "stats [--year Y] [--by month|supplier|category|cause] [--json|--csv]\n"
	    "The funnel of year Y (default: this year): potential incidents, confirmed,\n"
	    "personal-data incidents, notified to IMY; the share notified within 72 hours;\n"
	    "the median hours from opening to decision and from awareness to notification;\n"
	    "each beside the year before. --by gives the four counts per group. An incident\n"
	    "counts in the year it was detected, in the config's timezone (docs/STATS.md).\n" },
	{ "quality", cmd_quality, "quality [--supplier S] [--period P | --from P --to P] [--chain] [--json|--csv]\n"
	    "                          each supplier's log quality and score per month",
	    "quality [--supplier S] [--period YYYY-MM | --from YYYY-MM --to YYYY-MM] [--json|--csv]\n"
	    "quality --supplier S --period YYYY-MM --chain [--json]\n"
	    "One row per supplier and month: events and their share of the 6-month median,\n"
	    "silent hours, the shares carrying actor.user, action, outcome, src.ip and target\n"
	    "(ISO/IEC 27001 A.8.15), the median and 99th percentile of receipt lag, events\n"
	    "dated in the future or received late, seq gaps/missing/repeats/reorderings,\n"
	    "chain.prev breaks/forks, quarantined and resent shares, the monthly report's\n"
	    "punctuality, and the score (0-100) they make with the [quality] weights. With\n"
	    "--supplier and --period, also the sub-scores; --chain lists each chain break\n"
	    "and fork. Months are in the config's timezone (docs/QUALITY.md).\n" },
	{ "review", cmd_review, "review --year Y [--lang sv|en] --out DIR\n"
	    "                          the management review: incidents, suppliers' log quality",
	    "review --year Y [--lang sv|en] --out DIR\n"
	    "Writes into DIR (made if missing) incidents-Y.md (the tables, Swedish unless\n"
	    "--lang en), incidents-Y-per-month.svg (a chart of Y against the year before),\n"
	    "incidents-Y.csv and incidents-Y-per-month.csv (the figures); then\n"
	    "quality-Y.md (each supplier's months: the log-quality score beside its\n"
	    "measures), quality-Y-SUPPLIER.svg (its score per month) and quality-Y.csv\n"
	    "(every column of bevis quality --csv). Refuses to overwrite, and writes\n"
	    "nothing when anything fails (docs/STATS.md).\n" },
	{ "reports", cmd_reports, "reports [--source S] [--period P] [--json|--csv]\n"
	    "                          list the monthly reports and their versions",
	    "reports [--source S] [--period YYYY-MM] [--json|--csv]\n"
	    "Each version of each report: source, kind, period, version (and the one that\n"
	    "supersedes it), when it came, and its entries counted as new, changed,\n"
	    "unchanged, removed and quarantined.\n" },
	{ "report", cmd_report, "report show ID [--diff] [--json]\n"
	    "                          a report's entries, or what changed since its last version",
	    "report show ID [--diff] [--json]\n"
	    "The report version ID and its entries, each with the incident it opened. --diff\n"
	    "shows instead what changed since the version it supersedes: the entries that\n"
	    "are new, changed or removed, and each changed field as before -> after.\n"
	    "--json prints one object per entry (with --diff, per changed field).\n" },
	{ "reconcile", cmd_reconcile, "reconcile --supplier S --period P [--open] [--min-severity NAME]\n"
	    "          [--json|--csv]  a supplier's monthly report against its own events",
	    "reconcile --supplier S --period YYYY-MM [--open] [--min-severity NAME] [--json|--csv]\n"
	    "The newest version of the report supplier S itself sent for the month, against\n"
	    "S's events of the month (in the config's timezone): entries claimed with no\n"
	    "event behind them, events of --min-severity (default high) or more or with\n"
	    "personal data that no entry and no incident covers, and incidents opened by\n"
	    "rules that no entry mentions (docs/RECONCILE.md has the rules). --open opens a\n"
	    "potential incident for each unreported event (a login in bevis_isam).\n"
	    "Exit 0: no findings; 1: findings, or no report came; 2: an error.\n" },
	{ "rule", cmd_rule, "rule add NAME [match] [threshold]\n"
	    "  rule list [--all] [--json]\n"
	    "  rule disable NAME       rules over events that open potential incidents",
	    "rule add NAME [--supplier S] [--category C] [--action A] [--outcome O]\n"
	    "                    [--severity-min N] [--personal-data yes|no]\n"
	    "                    [--attr POINTER=VALUE]... [--title T]\n"
	    "                    [--group-by actor.user|src.ip|target --within DURATION\n"
	    "                     [--count N]]\n"
	    "       bevis rule list [--all] [--json]\n"
	    "       bevis rule disable NAME\n"
	    "A rule matches events on every option given; --attr compares the text of the\n"
	    "attribute at a JSON Pointer (RFC 6901) into attrs, such as /export/rows=1000.\n"
	    "Without --group-by each matching event opens a potential incident; with it, N\n"
	    "(--count, default 1) matching events with the same value within DURATION (30s,\n"
	    "5m, 2h, 1d) open one, and later matches within the window join it. Adding a\n"
	    "rule that exists makes its next version. Each change is a ledger leaf; add\n"
	    "and disable need a login in role bevis_isam. --all lists every version.\n" },
	{ "checkpoint", cmd_checkpoint, "checkpoint              print the newest signed tree head",
	    "checkpoint\n"
	    "Prints the newest signed tree head (a signed note).\n" },
	{ "verify", cmd_verify, "verify [--key F] [--checkpoint F]...\n"
	    "                          recompute the ledger and check it",
	    "verify [--key FILE] [--checkpoint FILE]...\n"
	    "Recomputes every leaf, node and tree head of the ledger and checks them.\n" },
	{ "proof", cmd_proof, "proof --submission ID | --leaf N [--tree-size M] [--json]\n"
	    "                          an inclusion proof",
	    "proof --submission ID | --leaf N [--tree-size M] [--json]\n"
	    "An RFC 9162 inclusion proof of a leaf, checked before it is printed.\n" },
	{ "export", cmd_export, "export (--submission ID... | --since T --until T |\n"
	    "                          --incident INC --reason TEXT) --out DIR\n"
	    "                          an offline evidence bundle, with proofs",
	    "export (--submission ID [--submission ID]... | --since T --until T |\n"
	    "        --incident INC --reason TEXT) --out DIR [--db CONNINFO]\n"
	    "Writes the submissions, their ledger leaves and inclusion proofs against the newest\n"
	    "signed tree head into the new or empty directory DIR; check it with\n"
	    "bevis verify-bundle DIR --key ledger.pub. T is a date or an RFC 3339 time (UTC\n"
	    "without an offset); the range is [since, until) of the time of receipt.\n"
	    "--incident exports the incident's submissions and events, decisions and links\n"
	    "(with those of the incidents merged into it) and records the export as a custody\n"
	    "record (who, when, why, where to) in the ledger; --reason is required.\n" },
	{ "verify-bundle", cmd_verify_bundle, "verify-bundle DIR [--key F]\n"
	    "                          check a bundle with no database",
	    "verify-bundle DIR [--key ledger.pub]\n"
	    "Checks a bundle from bevis export with no database.\n" },
	{ "evidence", cmd_evidence, "evidence INC [--json] [--key F]\n"
	    "                          every item behind an incident, each verified",
	    "evidence INC [--json] [--key ledger.pub]\n"
	    "The auditor's view: every submission, event, report entry, decision and custody\n"
	    "record behind INC and the incidents merged into it, with its time, supplier and\n"
	    "key (or actor), the SHA-256 of its raw bytes recomputed from the stored body, its\n"
	    "ledger leaf, and whether its leaf and inclusion proof verify against the newest\n"
	    "signed tree head.\n"
	    "Exit 0: all verified; 1: something failed (each failure is named); 2: usage.\n" },
};

int
cli_usage(const char *command, FILE *f)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, command) == 0)
			fprintf(f, "usage: bevis %s", commands[i].help);
	return f == stdout ? 0 : 2;
}

/* -h or --help among a command's arguments (before "--"). */
static int
asks_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

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
			config_free(&cli.cfg);
			return usage(stdout);
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("bevis %s\n", BEVIS_VERSION);
			config_free(&cli.cfg);
			return 0;
		} else {
			config_free(&cli.cfg);
			return usage(stderr);
		}
	}
	if (i >= argc) {
		config_free(&cli.cfg);
		return usage(stderr);
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(argv[i], commands[k].name) == 0) {
			/* Every command answers --help the same way, here. */
			if (asks_help(argc - i, argv + i)) {
				config_free(&cli.cfg);
				return cli_usage(commands[k].name, stdout);
			}
			int rc = commands[k].fn(&cli, argc - i, argv + i);
			config_free(&cli.cfg);
			return rc;
		}
	}
	fprintf(stderr, "bevis: unknown command '%s'\n", argv[i]);
	config_free(&cli.cfg);
	return usage(stderr);
}
