#include <stddef.h>
#include <strings.h>

#include "proto.h"

int
proto_request_id_valid(const char *id, size_t len)
{
	if (len == 0 || len > PROTO_REQUEST_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e)
			return 0;
	return 1;
}

enum content_type
proto_content_type(const char *s, size_t len)
{
	if (len == sizeof(PROTO_CT_JSON) - 1 &&
	    strncasecmp(s, PROTO_CT_JSON, len) == 0)
		return CT_JSON;
	if (len == sizeof(PROTO_CT_NDJSON) - 1 &&
	    strncasecmp(s, PROTO_CT_NDJSON, len) == 0)
		return CT_NDJSON;
	if (len == sizeof(PROTO_CT_CEF) - 1 &&
	    strncasecmp(s, PROTO_CT_CEF, len) == 0)
		return CT_CEF;
	if (len == sizeof(PROTO_CT_SYSLOG) - 1 &&
	    strncasecmp(s, PROTO_CT_SYSLOG, len) == 0)
		return CT_SYSLOG;
	if (len == sizeof(PROTO_CT_MAPPED_NDJSON) - 1 &&
	    strncasecmp(s, PROTO_CT_MAPPED_NDJSON, len) == 0)
		return CT_MAPPED_NDJSON;
	return CT_UNKNOWN;
}

const char *
proto_content_type_name(enum content_type ct)
{
	switch (ct) {
	case CT_JSON: return PROTO_CT_JSON;
	case CT_NDJSON: return PROTO_CT_NDJSON;
	case CT_CEF: return PROTO_CT_CEF;
	case CT_SYSLOG: return PROTO_CT_SYSLOG;
	case CT_MAPPED_NDJSON: return PROTO_CT_MAPPED_NDJSON;
	default: return "unknown";
	}
}
