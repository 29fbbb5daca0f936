/* proto.h - constants of the bevis ZeroMQ protocol, version 1.
 * docs/PROTOCOL.md is the normative description; keep the two in step. */
#ifndef BEVIS_PROTO_H
#define BEVIS_PROTO_H

#define PROTO_VERSION		"bevis/1"
/* The minor version this server speaks, announced in the pong
 * ("protocol"); the version frame stays PROTO_VERSION, so 1.0 clients
 * keep working (docs/PROTOCOL.md, "Versions"). */
#define PROTO_MINOR		"1.1"
#define PROTO_CMD_STATUS	"STATUS"	/* 1.1 */
#define PROTO_CMD_EVENTS	"EVENTS"
#define PROTO_CMD_PING		"PING"
#define PROTO_CMD_REPORT	"REPORT"	/* a monthly report (common/report.h) */

#define PROTO_CT_JSON		"application/json"
#define PROTO_CT_NDJSON		"application/x-ndjson"
#define PROTO_CT_CEF		"application/cef"
#define PROTO_CT_SYSLOG		"text/syslog"
/* A supplier's product JSON, one object per line, read through the field
 * map bevisd's json_maps file assigns to that supplier (docs/FORMATS.md). */
#define PROTO_CT_MAPPED_NDJSON	"application/x-mapped-ndjson"
#define PROTO_CT_CSV		"text/csv"	/* reports only */

/* Frames after the envelope: version, command, request id, content type, body. */
#define PROTO_FRAMES		5
#define PROTO_REQUEST_ID_MAX	128

#define DEFAULT_ENDPOINT	"tcp://127.0.0.1:7341"
#define DEFAULT_MAX_MESSAGE	(16u * 1024 * 1024)

/* The spool stores this as one byte on disk (daemon/spool_format.c): a value,
 * once given, never changes meaning. */
enum content_type {
	CT_UNKNOWN = 0,
	CT_JSON = 1,
	CT_NDJSON = 2,
	CT_CEF = 3,
	CT_SYSLOG = 4,
	/* A supplier's product JSON through its field map. */
	CT_MAPPED_NDJSON = 5,
	/* 8: leaves 3..7 to the event formats. Reports are never spooled. */
	CT_CSV = 8,
};

/* Returns nonzero when id is 1..PROTO_REQUEST_ID_MAX bytes of visible ASCII. */
int proto_request_id_valid(const char *id, size_t len);
enum content_type proto_content_type(const char *s, size_t len);
const char *proto_content_type_name(enum content_type ct);
/* A content type frame with optional parameters, as HTTP writes them:
 * "application/json; charset=utf-8". The only parameter taken is charset,
 * with the value utf-8 (name and value in any case, the value optionally
 * quoted, spaces around ';' and '='). CT_UNKNOWN with why set to a
 * sentence when a parameter is refused; why "" when the media type itself
 * is unknown. */
enum content_type proto_content_type_params(const char *s, size_t len,
    char *why, size_t whylen);

#endif
