/*
 * buf.h - the one length-checked reader and the one bounded writer.
 *
 * Every byte that crosses a socket or comes back from the store is read
 * through struct reader. Each rd_* call checks the remaining length (and, for
 * strings, a per-field maximum) before it reads; on failure it returns a
 * negative BUF_E* code and leaves the cursor where it was. Decoders finish
 * with rd_end(), which rejects trailing bytes.
 *
 * Typed fields: rd_u8/u32/u64/str/list read a one-byte type tag and then the
 * value; the tag must match. rd_raw_* read untagged integers (frame headers).
 *
 * struct writer writes into a caller-owned fixed buffer. Errors are sticky:
 * after the first overflow every write is a no-op and wr_error() reports it,
 * so an encoder checks once at the end.
 *
 * Neither struct owns memory; the caller owns the byte arrays.
 */
#ifndef APIKEY_BUF_H
#define APIKEY_BUF_H

#include <stddef.h>
#include <stdint.h>

#define BUF_OK		0
#define BUF_ESHORT	(-1)	/* fewer bytes left than the field needs */
#define BUF_ETAG	(-2)	/* type tag is not the expected one */
#define BUF_ETOOLONG	(-3)	/* string or list over its maximum */
#define BUF_ENUL	(-4)	/* string contains a NUL byte */
#define BUF_ETRAILING	(-5)	/* bytes left after the last field */
#define BUF_EOVERFLOW	(-6)	/* writer: buffer full */

/* Field type tags on the wire. */
#define BUF_T_U8	0x01
#define BUF_T_U32	0x02
#define BUF_T_U64	0x03
#define BUF_T_STR	0x04
#define BUF_T_LIST	0x05

struct reader {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
};

struct writer {
	uint8_t		*p;
	size_t		 cap;
	size_t		 len;
	int		 err;
};

void	rd_init(struct reader *, const void *, size_t);
size_t	rd_left(const struct reader *);
int	rd_end(const struct reader *);

int	rd_raw_u8(struct reader *, uint8_t *);
int	rd_raw_u16(struct reader *, uint16_t *);
int	rd_raw_u32(struct reader *, uint32_t *);
int	rd_raw_bytes(struct reader *, void *, size_t);

int	rd_u8(struct reader *, uint8_t *);
int	rd_u32(struct reader *, uint32_t *);
int	rd_u64(struct reader *, uint64_t *);
/*
 * Reads a tagged string of at most max bytes into out (which holds max + 1)
 * and NUL-terminates it. Embedded NULs are rejected.
 */
int	rd_str(struct reader *, char *out, size_t max);
/*
 * Reads a tagged list of at most maxn strings, each at most maxlen bytes,
 * into a caller array of maxn rows of stride bytes (stride >= maxlen + 1).
 * *n is written only on success.
 */
int	rd_strlist(struct reader *, char *base, size_t stride, size_t maxn,
	    size_t maxlen, uint32_t *n);

void	wr_init(struct writer *, void *, size_t);
int	wr_error(const struct writer *);
void	wr_raw_u8(struct writer *, uint8_t);
void	wr_raw_u16(struct writer *, uint16_t);
void	wr_raw_u32(struct writer *, uint32_t);
void	wr_raw_bytes(struct writer *, const void *, size_t);
/* Overwrites 4 bytes at off (already written) with v, big-endian. */
void	wr_patch_u32(struct writer *, size_t off, uint32_t v);

void	wr_u8(struct writer *, uint8_t);
void	wr_u32(struct writer *, uint32_t);
void	wr_u64(struct writer *, uint64_t);
void	wr_str(struct writer *, const char *);
void	wr_strlist(struct writer *, const char *base, size_t stride,
	    uint32_t n);

const char *buf_strerror(int);

#endif
