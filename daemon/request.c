/* request.c - a received request's life: made by the receiver or rebuilt
 * from the spool, freed once its reply is sent. */
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "report.h"
#include "spool.h"
#include "xmalloc.h"

void
request_free(struct request *r)
{
	zmq_msg_close(&r->body);
	buf_free(&r->reply);
	if (r->report) {
		report_meta_free(r->report);
		free(r->report);
	}
	free(r);
}

struct request *
request_from_spool(const struct spool_rec *rec)
{
	struct request *r = xcalloc(1, sizeof(*r));

	r->from_spool = 1;
	r->spool_seq = rec->seq;
	snprintf(r->request_id, sizeof(r->request_id), "%s", rec->request_id);
	snprintf(r->supplier_name, sizeof(r->supplier_name), "%s",
	    rec->supplier_name);
	snprintf(r->key_fp, sizeof(r->key_fp), "%s", rec->key_fp);
	r->supplier_id = rec->supplier_id;
	r->ct = (enum content_type)rec->ct;
	r->received_us = rec->received_us;
	if (zmq_msg_init_size(&r->body, rec->body_len) < 0)
		fatalx("out of memory");
	memcpy(zmq_msg_data(&r->body), rec->body, rec->body_len);
	return r;
}
