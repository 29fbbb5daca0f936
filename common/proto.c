#include <stddef.h>
#include <stdio.h>
#include <string.h>
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
	if (len == sizeof(PROTO_CT_CSV) - 1 &&
	    strncasecmp(s, PROTO_CT_CSV, len) == 0)
		return CT_CSV;
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
	case CT_CSV: return PROTO_CT_CSV;
	case CT_CEF: return PROTO_CT_CEF;
	case CT_SYSLOG: return PROTO_CT_SYSLOG;
	case CT_MAPPED_NDJSON: return PROTO_CT_MAPPED_NDJSON;
	default: return "unknown";
	}
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Quotes at most 40 bytes of p for a reason, printable ASCII only. */
static void
quote_part(char *out, size_t n, const char *p, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && i < 40 && o + 5 < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

enum content_type
proto_content_type_params(const char *s, size_t len, char *why, size_t whylen)
{
	const char *semi = memchr(s, ';', len);
	size_t mlen = semi ? (size_t)(semi - s) : len;
	char q[200];

	why[0] = '\0';
	while (semi && mlen > 0 && is_ows(s[mlen - 1]))
		mlen--;
	enum content_type ct = proto_content_type(s, mlen);
	if (ct == CT_UNKNOWN || semi == NULL)
		return ct;
	const char *p = semi, *end = s + len;
	while (p < end) {
		const char *name, *val;
		size_t nl, vl;

		p++;			/* the ';' */
		while (p < end && is_ows(*p))
			p++;
		name = p;
		while (p < end && *p != '=' && *p != ';' && !is_ows(*p))
			p++;
		nl = (size_t)(p - name);
		while (p < end && is_ows(*p))
			p++;
		if (nl == 0 && (p == end || *p == ';'))
			continue;	/* an empty parameter: "a/b;" */
		if (p == end || *p != '=') {
			quote_part(q, sizeof(q), name, nl);
			snprintf(why, whylen, "the content type parameter '%s' has "
			    "no value", q);
			return CT_UNKNOWN;
		}
		p++;
		while (p < end && is_ows(*p))
			p++;
		val = p;
		if (p < end && *p == '"') {
			val = ++p;
			while (p < end && *p != '"')
				p++;
			vl = (size_t)(p - val);
			if (p == end) {
				snprintf(why, whylen, "the content type parameter "
				    "value has no closing quote");
				return CT_UNKNOWN;
			}
			p++;
		} else {
			while (p < end && *p != ';' && !is_ows(*p))
				p++;
			vl = (size_t)(p - val);
		}
		while (p < end && is_ows(*p))
			p++;
		if (p < end && *p != ';') {
			quote_part(q, sizeof(q), val, (size_t)(end - val));
			snprintf(why, whylen, "the content type parameter value "
			    "'%s' is malformed", q);
			return CT_UNKNOWN;
		}
		if (nl != 7 || strncasecmp(name, "charset", 7) != 0) {
			quote_part(q, sizeof(q), name, nl);
			snprintf(why, whylen, "the content type parameter '%s' is "
			    "not supported; the only one taken is charset=utf-8", q);
			return CT_UNKNOWN;
		}
		if (vl != 5 || strncasecmp(val, "utf-8", 5) != 0) {
			quote_part(q, sizeof(q), val, vl);
			snprintf(why, whylen, "charset '%s' is not supported: "
			    "bodies must be UTF-8 (charset=utf-8, or no charset)", q);
			return CT_UNKNOWN;
		}
	}
	return ct;
}
