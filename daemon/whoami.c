/* whoami.c - the "whoami" member of the pong (docs/PROTOCOL.md, PING). */
#include "whoami.h"

#include <string.h>
#include <time.h>

void
whoami_put(struct buf *b, int curve, const char *uid,
    const struct supplier *sup)
{
	if (!curve) {
		buf_puts(b, "\"whoami\":{\"mechanism\":\"NULL\"}");
		return;
	}
	buf_puts(b, "\"whoami\":{\"mechanism\":\"CURVE\",\"supplier\":");
	if (sup)
		buf_put_json_string(b, sup->name, strlen(sup->name));
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"key_fingerprint\":");
	if (uid && *uid)
		buf_put_json_string(b, uid, strlen(uid));
	else
		buf_puts(b, "null");
	buf_printf(b, ",\"key_active\":%s", sup ? "true" : "false");
	if (sup && sup->valid_until_us) {
		time_t t = (time_t)(sup->valid_until_us / 1000000);
		struct tm tm;
		char ts[32];
		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		buf_printf(b, ",\"key_valid_until\":\"%s\"", ts);
	}
	buf_putc(b, '}');
}
