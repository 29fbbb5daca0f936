/* request.h - one received request on its way from the socket to the
 * database and back. The receiver creates it; a writer thread fills in the
 * reply; the receiver sends the reply and frees it. */
#ifndef BEVIS_REQUEST_H
#define BEVIS_REQUEST_H

#include <stdint.h>
#include <sys/queue.h>
#include <zmq.h>

#include "buf.h"
#include "proto.h"

struct request {
	TAILQ_ENTRY(request) entry;
	unsigned char route[256];	/* ROUTER routing id of the peer */
	size_t route_len;
	int has_delim;			/* REQ-style empty delimiter frame */
	char request_id[PROTO_REQUEST_ID_MAX + 1];
	enum content_type ct;
	zmq_msg_t body;			/* owned; the bytes are stored as sent */
	int64_t received_us;		/* receipt time, µs since the epoch */
	int32_t supplier_id;		/* authenticated supplier, 0 if none */
	char supplier_name[64];		/* its name, "" if none */
	char key_fp[33];		/* its key's fingerprint, "" if none */
	int from_spool;			/* replayed from the spool: no reply */
	int is_status;			/* STATUS of request_id (status.c) */
	uint64_t spool_seq;		/* its spool record */
	struct buf reply;		/* the JSON status, set by a writer */
	uint32_t accepted, duplicate, quarantined;	/* its items, ditto */
	struct report_meta *report;	/* REPORT: its metadata, owned */
};

TAILQ_HEAD(request_list, request);

struct spool_rec;
struct report_meta;

void request_free(struct request *r);
/* A request rebuilt from a spool record, with no one to answer; the
 * caller owns it. */
struct request *request_from_spool(const struct spool_rec *rec);

#endif
