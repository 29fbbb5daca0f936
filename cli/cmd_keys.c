/* cmd_keys.c - bevis keygen: the ledger's Ed25519 signing key pair and CURVE
 * key pairs for bevisd and suppliers. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "checkpoint.h"
#include "cli.h"
#include "curvekey.h"
#include "keyfile.h"
#include "xmalloc.h"

/* bevis keygen --curve DIR [--name NAME]: a CURVE key pair for bevisd or
 * for a supplier, as DIR/NAME.key (the Z85 secret key, 0600) and
 * DIR/NAME.pub (the Z85 public key, 0644). */
static int
keygen_curve(const char *dir, const char *name)
{
	char pub[CURVE_Z85_LEN + 1], sec[CURVE_Z85_LEN + 1], line[CURVE_Z85_LEN + 2];
	char fp[CURVE_FINGERPRINT_LEN + 1], err[300];
	int rc = 1;

	if (*name == '\0' || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		fprintf(stderr, "bevis keygen: --name must be a file name without "
		    "'/', not '%s'\n", name);
		return 2;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "bevis keygen: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (zmq_curve_keypair(pub, sec) < 0 ||
	    curvekey_fingerprint(pub, fp) < 0) {
		fprintf(stderr, "bevis keygen: no CURVE key pair: %s\n",
		    zmq_strerror(errno));
		return 1;
	}
	char *skp = xasprintf("%s/%s.key", dir, name);
	char *pkp = xasprintf("%s/%s.pub", dir, name);
	/* Neither file is overwritten; check both before writing either. */
	if (access(skp, F_OK) == 0 || access(pkp, F_OK) == 0) {
		fprintf(stderr, "bevis keygen: %s: %s\n", access(skp, F_OK) == 0 ?
		    skp : pkp, strerror(EEXIST));
		goto out;
	}
	snprintf(line, sizeof(line), "%s\n", sec);
	if (keyfile_write(skp, line, strlen(line), 0600, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis keygen: %s\n", err);
		goto out;
	}
	snprintf(line, sizeof(line), "%s\n", pub);
	if (keyfile_write(pkp, line, strlen(line), 0644, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis keygen: %s\n", err);
		unlink(skp);
		goto out;
	}
	printf("CURVE secret key %s (mode 0600): it stays where it is used\n"
	    "CURVE public key %s, fingerprint %s\n"
	    "for bevisd: curve_secret_key = %s, and clients get %s\n"
	    "for a supplier: bevis supplier add SUPPLIER --key-file %s, and "
	    "the supplier gets %s\n", skp, pkp, fp, skp, pkp, pkp, skp);
	rc = 0;
out:
	memset(sec, 0, sizeof(sec));
	memset(line, 0, sizeof(line));
	free(skp);
	free(pkp);
	return rc;
}

int
cmd_keygen(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "ledger", required_argument, NULL, 'l' },
		{ "curve", required_argument, NULL, 'C' },
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 } };
	const char *dir = NULL, *curve = NULL, *name = NULL;
	char host[128] = "localhost", defname[160], err[300];
	struct buf sk = BUF_INIT, vk = BUF_INIT;
	int ch, rc = 1;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		if (ch == 'l')
			dir = optarg;
		else if (ch == 'C')
			curve = optarg;
		else if (ch == 'n')
			name = optarg;
		else
			goto usage;
	}
	if ((dir == NULL) == (curve == NULL) || optind != argc)
		goto usage;
	if (curve)
		return keygen_curve(curve, name ? name : "curve");
	if (name == NULL) {
		gethostname(host, sizeof(host) - 1);
		snprintf(defname, sizeof(defname), "bevis-%s", host);
		name = defname;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "bevis keygen: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (checkpoint_key_generate(name, &sk, &vk, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis keygen: %s\n", err);
		return 1;
	}
	char *skp = xasprintf("%s/ledger.key", dir);
	char *vkp = xasprintf("%s/ledger.pub", dir);
	buf_putc(&sk, '\n');
	buf_putc(&vk, '\n');
	if (keyfile_write(skp, sk.data, sk.len, 0600, err, sizeof(err)) < 0 ||
	    keyfile_write(vkp, vk.data, vk.len, 0644, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis keygen: %s\n", err);
	} else {
		printf("ledger signing key %s (secret, mode 0600)\n"
		    "ledger public key  %s: give it to auditors\n"
		    "set ledger_key = %s in bevisd.conf\n", skp, vkp, skp);
		rc = 0;
	}
	memset(sk.data, 0, sk.len);
	buf_free(&sk);
	buf_free(&vk);
	free(skp);
	free(vkp);
	return rc;
usage:
	return cli_usage("keygen", stderr);
}
