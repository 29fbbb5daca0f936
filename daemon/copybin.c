#include "copybin.h"

/* PostgreSQL's timestamps count from 2000-01-01T00:00:00Z. */
#define PG_EPOCH_OFFSET_US 946684800000000LL

void
copy_header(struct buf *b)
{
	static const unsigned char sig[11] = "PGCOPY\n\377\r\n";

	buf_append(b, sig, 11);
	buf_put_be32(b, 0);	/* flags */
	buf_put_be32(b, 0);	/* header extension length */
}

void
copy_trailer(struct buf *b)
{
	buf_put_be16(b, 0xffff);
}

void
copy_row(struct buf *b, uint16_t nfields)
{
	buf_put_be16(b, nfields);
}

void
copy_null(struct buf *b)
{
	buf_put_be32(b, 0xffffffffu);
}

void
copy_int2(struct buf *b, int16_t v)
{
	buf_put_be32(b, 2);
	buf_put_be16(b, (uint16_t)v);
}

void
copy_int4(struct buf *b, int32_t v)
{
	buf_put_be32(b, 4);
	buf_put_be32(b, (uint32_t)v);
}

void
copy_int8(struct buf *b, int64_t v)
{
	buf_put_be32(b, 8);
	buf_put_be64(b, (uint64_t)v);
}

void
copy_bool(struct buf *b, int v)
{
	unsigned char c = v ? 1 : 0;

	buf_put_be32(b, 1);
	buf_append(b, &c, 1);
}

void
copy_bytes(struct buf *b, const void *p, size_t n)
{
	buf_put_be32(b, (uint32_t)n);
	buf_append(b, p, n);
}

void
copy_timestamptz(struct buf *b, int64_t us)
{
	copy_int8(b, us - PG_EPOCH_OFFSET_US);
}

void
copy_inet(struct buf *b, int family, const unsigned char *addr)
{
	/* PGSQL_AF_INET is AF_INET (2); PGSQL_AF_INET6 is AF_INET + 1. */
	int n = family == 4 ? 4 : 16;
	unsigned char hdr[4] = { family == 4 ? 2 : 3, (unsigned char)(n * 8), 0,
		(unsigned char)n };

	buf_put_be32(b, 4 + (uint32_t)n);
	buf_append(b, hdr, 4);
	buf_append(b, addr, (size_t)n);
}
