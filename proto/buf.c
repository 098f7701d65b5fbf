/*
 * buf.c - the length-checked reader and the bounded writer behind every
 * frame apikeyd, libapikey and apikeyctl exchange.
 *
 * The reader is the only code that touches untrusted bytes. Each read works
 * on a private copy of the cursor and commits it only once the whole field
 * (tag, length, value) has been checked, so a failed read never moves the
 * cursor and a decoder can report exactly where it stopped. Fields are small
 * (at most a few KB) and frames are bounded by the caller, so every check is
 * a plain comparison against what is left; nothing here allocates.
 *
 * The writer fills a caller buffer sized to the frame maximum. Its first
 * error sticks and turns every later write into a no-op, so encoders are
 * straight-line code that checks wr_error() once at the end.
 */
#include <stdint.h>
#include <string.h>

#include "buf.h"

static uint16_t
get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

void
rd_init(struct reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
}

size_t
rd_left(const struct reader *r)
{
	return r->len - r->off;
}

int
rd_end(const struct reader *r)
{
	return rd_left(r) == 0 ? BUF_OK : BUF_ETRAILING;
}

/*
 * Returns a pointer to the n bytes at *off and advances *off, or NULL when
 * fewer are left. Works on the caller's copy of the offset, never on r->off,
 * so a multi-part field commits only when all its parts were there.
 */
static const uint8_t *
rd_take(const struct reader *r, size_t *off, size_t n)
{
	const uint8_t	*p;

	if (r->len - *off < n)
		return NULL;
	p = r->p + *off;
	*off += n;
	return p;
}

int
rd_raw_u8(struct reader *r, uint8_t *v)
{
	const uint8_t	*p;
	size_t		 off = r->off;

	if ((p = rd_take(r, &off, 1)) == NULL)
		return BUF_ESHORT;
	*v = p[0];
	r->off = off;
	return BUF_OK;
}

int
rd_raw_u16(struct reader *r, uint16_t *v)
{
	const uint8_t	*p;
	size_t		 off = r->off;

	if ((p = rd_take(r, &off, 2)) == NULL)
		return BUF_ESHORT;
	*v = get_be16(p);
	r->off = off;
	return BUF_OK;
}

int
rd_raw_u32(struct reader *r, uint32_t *v)
{
	const uint8_t	*p;
	size_t		 off = r->off;

	if ((p = rd_take(r, &off, 4)) == NULL)
		return BUF_ESHORT;
	*v = get_be32(p);
	r->off = off;
	return BUF_OK;
}

int
rd_raw_bytes(struct reader *r, void *out, size_t n)
{
	const uint8_t	*p;
	size_t		 off = r->off;

	if ((p = rd_take(r, &off, n)) == NULL)
		return BUF_ESHORT;
	memcpy(out, p, n);
	r->off = off;
	return BUF_OK;
}

/*
 * Checks the tag at *off and, when it is the expected one, returns the n
 * value bytes after it, advancing *off past both.
 */
static int
rd_tagged(const struct reader *r, size_t *off, uint8_t tag, size_t n,
    const uint8_t **val)
{
	const uint8_t	*p;

	if ((p = rd_take(r, off, 1)) == NULL)
		return BUF_ESHORT;
	if (p[0] != tag)
		return BUF_ETAG;
	if ((*val = rd_take(r, off, n)) == NULL)
		return BUF_ESHORT;
	return BUF_OK;
}

int
rd_u8(struct reader *r, uint8_t *v)
{
	const uint8_t	*p;
	size_t		 off = r->off;
	int		 rv;

	if ((rv = rd_tagged(r, &off, BUF_T_U8, 1, &p)) != 0)
		return rv;
	*v = p[0];
	r->off = off;
	return BUF_OK;
}

int
rd_u32(struct reader *r, uint32_t *v)
{
	const uint8_t	*p;
	size_t		 off = r->off;
	int		 rv;

	if ((rv = rd_tagged(r, &off, BUF_T_U32, 4, &p)) != 0)
		return rv;
	*v = get_be32(p);
	r->off = off;
	return BUF_OK;
}

int
rd_u64(struct reader *r, uint64_t *v)
{
	const uint8_t	*p;
	size_t		 off = r->off;
	int		 rv;

	if ((rv = rd_tagged(r, &off, BUF_T_U64, 8, &p)) != 0)
		return rv;
	*v = get_be64(p);
	r->off = off;
	return BUF_OK;
}

/*
 * One string field at *off: the maximum is checked before the length
 * against what is left, so an absurd length is reported as too long rather
 * than as a short read.
 */
static int
rd_str_at(const struct reader *r, size_t *off, char *out, size_t max)
{
	const uint8_t	*p;
	uint32_t	 n;
	int		 rv;

	if ((rv = rd_tagged(r, off, BUF_T_STR, 4, &p)) != 0)
		return rv;
	n = get_be32(p);
	if (n > max)
		return BUF_ETOOLONG;
	if ((p = rd_take(r, off, n)) == NULL)
		return BUF_ESHORT;
	if (memchr(p, '\0', n) != NULL)
		return BUF_ENUL;
	memcpy(out, p, n);
	out[n] = '\0';
	return BUF_OK;
}

int
rd_str(struct reader *r, char *out, size_t max)
{
	size_t	off = r->off;
	int	rv;

	if ((rv = rd_str_at(r, &off, out, max)) != 0)
		return rv;
	r->off = off;
	return BUF_OK;
}

/*
 * Atomic for the cursor and *n only: when a row in the middle fails, the
 * rows before it have already been written into base. Decoders treat the
 * whole struct as unspecified on failure, so that is harmless.
 */
int
rd_strlist(struct reader *r, char *base, size_t stride, size_t maxn,
    size_t maxlen, uint32_t *n)
{
	const uint8_t	*p;
	size_t		 off = r->off;
	uint32_t	 count, i;
	int		 rv;

	if ((rv = rd_tagged(r, &off, BUF_T_LIST, 4, &p)) != 0)
		return rv;
	count = get_be32(p);
	if (count > maxn)
		return BUF_ETOOLONG;
	for (i = 0; i < count; i++) {
		rv = rd_str_at(r, &off, base + (size_t)i * stride, maxlen);
		if (rv != 0)
			return rv;
	}
	*n = count;
	r->off = off;
	return BUF_OK;
}

void
wr_init(struct writer *w, void *p, size_t cap)
{
	w->p = p;
	w->cap = cap;
	w->len = 0;
	w->err = BUF_OK;
}

int
wr_error(const struct writer *w)
{
	return w->err;
}

/*
 * Reserves n bytes and returns where to put them, or NULL once the writer
 * has failed. Whole fields are reserved at once, so a field that does not
 * fit leaves no partial bytes behind.
 */
static uint8_t *
wr_reserve(struct writer *w, size_t n)
{
	uint8_t	*p;

	if (w->err != 0)
		return NULL;
	if (w->cap - w->len < n) {
		w->err = BUF_EOVERFLOW;
		return NULL;
	}
	p = w->p + w->len;
	w->len += n;
	return p;
}

void
wr_raw_u8(struct writer *w, uint8_t v)
{
	uint8_t	*p;

	if ((p = wr_reserve(w, 1)) != NULL)
		p[0] = v;
}

void
wr_raw_u16(struct writer *w, uint16_t v)
{
	uint8_t	*p;

	if ((p = wr_reserve(w, 2)) != NULL)
		put_be16(p, v);
}

void
wr_raw_u32(struct writer *w, uint32_t v)
{
	uint8_t	*p;

	if ((p = wr_reserve(w, 4)) != NULL)
		put_be32(p, v);
}

void
wr_raw_bytes(struct writer *w, const void *v, size_t n)
{
	uint8_t	*p;

	if ((p = wr_reserve(w, n)) != NULL && n > 0)
		memcpy(p, v, n);
}

void
wr_patch_u32(struct writer *w, size_t off, uint32_t v)
{
	if (w->err != 0)
		return;
	/* Patching bytes not yet written is a caller bug; fail the frame. */
	if (off > w->len || w->len - off < 4) {
		w->err = BUF_EOVERFLOW;
		return;
	}
	put_be32(w->p + off, v);
}

void
wr_u8(struct writer *w, uint8_t v)
{
	uint8_t	*p;

	if ((p = wr_reserve(w, 2)) == NULL)
		return;
	p[0] = BUF_T_U8;
	p[1] = v;
}

void
wr_u32(struct writer *w, uint32_t v)
{
	uint8_t	*p;

	if ((p = wr_reserve(w, 5)) == NULL)
		return;
	p[0] = BUF_T_U32;
	put_be32(p + 1, v);
}

void
wr_u64(struct writer *w, uint64_t v)
{
	uint8_t	*p;

	if ((p = wr_reserve(w, 9)) == NULL)
		return;
	p[0] = BUF_T_U64;
	put_be64(p + 1, v);
}

void
wr_str(struct writer *w, const char *s)
{
	uint8_t	*p;
	size_t	 n = strlen(s);

	if (w->err == 0 && n > UINT32_MAX) {
		w->err = BUF_ETOOLONG;
		return;
	}
	if ((p = wr_reserve(w, 5 + n)) == NULL)
		return;
	p[0] = BUF_T_STR;
	put_be32(p + 1, (uint32_t)n);
	memcpy(p + 5, s, n);
}

void
wr_strlist(struct writer *w, const char *base, size_t stride, uint32_t n)
{
	uint8_t		*p;
	uint32_t	 i;

	if ((p = wr_reserve(w, 5)) == NULL)
		return;
	p[0] = BUF_T_LIST;
	put_be32(p + 1, n);
	for (i = 0; i < n; i++)
		wr_str(w, base + (size_t)i * stride);
}

const char *
buf_strerror(int err)
{
	switch (err) {
	case BUF_OK:
		return "success";
	case BUF_ESHORT:
		return "field truncated";
	case BUF_ETAG:
		return "unexpected field type";
	case BUF_ETOOLONG:
		return "string or list too long";
	case BUF_ENUL:
		return "string contains a NUL byte";
	case BUF_ETRAILING:
		return "trailing bytes after the last field";
	case BUF_EOVERFLOW:
		return "output buffer full";
	default:
		return "unknown buffer error";
	}
}
