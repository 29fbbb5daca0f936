/* bundle.h - the offline evidence bundle (docs/LEDGER.md, "Offline
 * bundles"): its file names and modes, and its check, which verify-bundle
 * runs with the public key and export runs without it on what it wrote. */
#ifndef BEVIS_BUNDLE_H
#define BEVIS_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "checkpoint.h"

#define BUNDLE_FORMAT	"bevis-bundle/1"
#define MANIFEST	"manifest.json"
#define CHECKPOINT	"checkpoint.txt"
/* manifest.json and checkpoint.txt hold ids, times and digests. */
#define MODE_PUBLIC	0644
/* Bodies and event rows hold personal data (names, addresses, messages). */
#define MODE_PERSONAL	0600
#define MODE_DIR	0700
/* No file of a bundle is read beyond this. */
#define FILE_MAX	((size_t)1 << 30)
#define MAX_PROBLEMS	50

/* What a check found. Set prog and dir, zero the rest. */
struct bundle {
	const char *prog;	/* prefix of every problem line */
	const char *dir;
	long problems;
	int head_ok;		/* a usable checkpoint, agreeing with the manifest */
	uint64_t size;
	unsigned char root[32];
	char *origin;
	long submissions, redacted;
	long incidents, decisions;	/* bundle_incident.c */
	int64_t *ids, *body_ids;	/* what the manifest names, for the scan */
	size_t nids, nbody_ids;
	struct buf info;	/* lines about redactions, printed on success */
};

/* Checks the bundle in c->dir: with key, the checkpoint's signature too.
 * Returns the number of problems, each already printed (the first
 * MAX_PROBLEMS of them) on stderr. */
long bundle_check(struct bundle *c, const struct checkpoint_verifier *key,
    const char *keypath);
void bundle_free(struct bundle *c);

#endif
