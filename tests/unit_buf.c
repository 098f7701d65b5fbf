/*
 * unit_buf.c - the checked reader and the bounded writer (proto/buf.c).
 *
 * Every typed read is driven through one table: each field is encoded, then
 * read back from every truncated prefix (copied into an exact-size heap
 * buffer, so an over-read trips ASan), with a wrong tag, and whole. Failed
 * reads must leave both the cursor and the output untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../proto/buf.h"

#define SENTINEL	0x5a

/* Reads one field of a case; checks the output is untouched on failure. */
typedef int (*read_fn)(struct reader *);
typedef void (*write_fn)(struct writer *);

static int
read_u8(struct reader *r)
{
	uint8_t	v = SENTINEL;
	int	rv = rd_u8(r, &v);

	if (rv != 0)
		cr_assert_eq(v, SENTINEL);
	else
		cr_assert_eq(v, 0xfe);
	return rv;
}

static int
read_u32(struct reader *r)
{
	uint32_t	v = SENTINEL;
	int		rv = rd_u32(r, &v);

	if (rv != 0)
		cr_assert_eq(v, SENTINEL);
	else
		cr_assert_eq(v, 0xdeadbeefu);
	return rv;
}

static int
read_u64(struct reader *r)
{
	uint64_t	v = SENTINEL;
	int		rv = rd_u64(r, &v);

	if (rv != 0)
		cr_assert_eq(v, SENTINEL);
	else
		cr_assert_eq(v, 0x0102030405060708ull);
	return rv;
}

static int
read_str(struct reader *r)
{
	char	s[8];
	int	rv;

	memset(s, SENTINEL, sizeof s);
	rv = rd_str(r, s, sizeof s - 1);
	if (rv != 0)
		cr_assert_eq(s[0], SENTINEL);
	else
		cr_assert_str_eq(s, "abcdefg");
	return rv;
}

static int
read_list(struct reader *r)
{
	char		rows[3][5];
	uint32_t	n = SENTINEL;
	int		rv;

	memset(rows, 0, sizeof rows);
	rv = rd_strlist(r, rows[0], sizeof rows[0], 3, 4, &n);
	if (rv != 0) {
		cr_assert_eq(n, SENTINEL);
		return rv;
	}
	cr_assert_eq(n, 3);
	cr_assert_str_eq(rows[0], "one");
	cr_assert_str_eq(rows[1], "");
	cr_assert_str_eq(rows[2], "four");
	return rv;
}

static void
write_u8(struct writer *w)
{
	wr_u8(w, 0xfe);
}

static void
write_u32(struct writer *w)
{
	wr_u32(w, 0xdeadbeefu);
}

static void
write_u64(struct writer *w)
{
	wr_u64(w, 0x0102030405060708ull);
}

static void
write_str(struct writer *w)
{
	wr_str(w, "abcdefg");
}

static void
write_list(struct writer *w)
{
	static const char rows[3][5] = { "one", "", "four" };

	wr_strlist(w, rows[0], sizeof rows[0], 3);
}

static const struct field_case {
	const char	*name;
	write_fn	 write;
	read_fn		 read;
	uint8_t		 tag;
	size_t		 size;		/* encoded size */
} cases[] = {
	{ "u8", write_u8, read_u8, BUF_T_U8, 2 },
	{ "u32", write_u32, read_u32, BUF_T_U32, 5 },
	{ "u64", write_u64, read_u64, BUF_T_U64, 9 },
	{ "str", write_str, read_str, BUF_T_STR, 5 + 7 },
	{ "list", write_list, read_list, BUF_T_LIST, 5 + 8 + 5 + 9 },
};
#define NCASES	(sizeof cases / sizeof cases[0])

/*
 * Encodes the case after one leading byte, so a read starts at offset 1 and
 * "the cursor did not move" is not the same as "the cursor is 0".
 */
static size_t
encode_case(const struct field_case *c, uint8_t *buf, size_t cap)
{
	struct writer	w;

	wr_init(&w, buf, cap);
	wr_raw_u8(&w, 0xaa);
	c->write(&w);
	cr_assert_eq(wr_error(&w), 0, "%s", c->name);
	cr_assert_eq(w.len, 1 + c->size, "%s: %zu", c->name, w.len);
	return w.len;
}

/* Runs c->read on a heap copy of exactly len bytes, starting at offset 1. */
static int
read_prefix(const struct field_case *c, const uint8_t *buf, size_t len,
    size_t *off)
{
	struct reader	r;
	uint8_t		*copy, lead;
	int		rv;

	copy = malloc(len);
	cr_assert_not_null(copy);
	memcpy(copy, buf, len);
	rd_init(&r, copy, len);
	cr_assert_eq(rd_raw_u8(&r, &lead), 0);
	rv = c->read(&r);
	*off = r.off;
	free(copy);
	return rv;
}

Test(buf, typed_round_trip)
{
	uint8_t	buf[64];
	size_t	i, n, off;

	for (i = 0; i < NCASES; i++) {
		n = encode_case(&cases[i], buf, sizeof buf);
		cr_assert_eq(buf[1], cases[i].tag, "%s", cases[i].name);
		cr_assert_eq(read_prefix(&cases[i], buf, n, &off), 0,
		    "%s", cases[i].name);
		cr_assert_eq(off, n, "%s", cases[i].name);
	}
}

Test(buf, typed_truncated_is_short_and_cursor_stays)
{
	uint8_t	buf[64];
	size_t	i, n, cut, off;
	int	rv;

	for (i = 0; i < NCASES; i++) {
		n = encode_case(&cases[i], buf, sizeof buf);
		for (cut = 1; cut < n; cut++) {
			rv = read_prefix(&cases[i], buf, cut, &off);
			cr_assert_eq(rv, BUF_ESHORT, "%s cut %zu: %d",
			    cases[i].name, cut, rv);
			cr_assert_eq(off, 1, "%s cut %zu", cases[i].name, cut);
		}
	}
}

Test(buf, typed_wrong_tag_and_cursor_stays)
{
	uint8_t	buf[64];
	size_t	i, n, off;
	int	tag;

	for (i = 0; i < NCASES; i++) {
		n = encode_case(&cases[i], buf, sizeof buf);
		for (tag = 0; tag <= 0xff; tag++) {
			if (tag == cases[i].tag)
				continue;
			buf[1] = (uint8_t)tag;
			cr_assert_eq(read_prefix(&cases[i], buf, n, &off),
			    BUF_ETAG, "%s tag %d", cases[i].name, tag);
			cr_assert_eq(off, 1);
		}
	}
}

Test(buf, wire_bytes_are_big_endian)
{
	static const uint8_t want[] = {
		0x01, 0xfe,
		0x02, 0xde, 0xad, 0xbe, 0xef,
		0x03, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x04, 0x00, 0x00, 0x00, 0x02, 'h', 'i',
		0x05, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
		0x7f,
		0x12, 0x34,
		0x89, 0xab, 0xcd, 0xef,
		'x', 'y',
	};
	static const char row[1][1] = { "" };
	uint8_t		buf[sizeof want];
	struct writer	w;

	wr_init(&w, buf, sizeof buf);
	wr_u8(&w, 0xfe);
	wr_u32(&w, 0xdeadbeefu);
	wr_u64(&w, 0x0102030405060708ull);
	wr_str(&w, "hi");
	wr_strlist(&w, row[0], 1, 1);
	wr_raw_u8(&w, 0x7f);
	wr_raw_u16(&w, 0x1234);
	wr_raw_u32(&w, 0x89abcdefu);
	wr_raw_bytes(&w, "xy", 2);
	cr_assert_eq(wr_error(&w), 0);
	cr_assert_eq(w.len, sizeof want);
	cr_assert_arr_eq(buf, want, sizeof want);
}

Test(buf, raw_reads)
{
	static const uint8_t in[] = {
		0x7f, 0x12, 0x34, 0x89, 0xab, 0xcd, 0xef, 'x', 'y'
	};
	struct reader	r;
	uint8_t		u8;
	uint16_t	u16;
	uint32_t	u32;
	char		xy[2];

	rd_init(&r, in, sizeof in);
	cr_assert_eq(rd_left(&r), sizeof in);
	cr_assert_eq(rd_raw_u8(&r, &u8), 0);
	cr_assert_eq(u8, 0x7f);
	cr_assert_eq(rd_raw_u16(&r, &u16), 0);
	cr_assert_eq(u16, 0x1234);
	cr_assert_eq(rd_raw_u32(&r, &u32), 0);
	cr_assert_eq(u32, 0x89abcdefu);
	cr_assert_eq(rd_end(&r), BUF_ETRAILING);
	cr_assert_eq(rd_raw_bytes(&r, xy, 2), 0);
	cr_assert_eq(memcmp(xy, "xy", 2), 0);
	cr_assert_eq(rd_left(&r), 0);
	cr_assert_eq(rd_end(&r), 0);
}

Test(buf, raw_truncated_is_short_and_cursor_stays)
{
	static const uint8_t in[] = { 0xaa, 1, 2, 3 };
	struct reader	r;
	uint8_t		u8 = SENTINEL, bytes[4];
	uint16_t	u16 = SENTINEL;
	uint32_t	u32 = SENTINEL;
	size_t		len;

	for (len = 1; len <= sizeof in; len++) {
		rd_init(&r, in, len);
		cr_assert_eq(rd_raw_u8(&r, &u8), 0);
		cr_assert_eq(rd_raw_u32(&r, &u32), BUF_ESHORT);
		cr_assert_eq(r.off, 1);
		cr_assert_eq(u32, SENTINEL);
		cr_assert_eq(rd_raw_bytes(&r, bytes, len), BUF_ESHORT);
		cr_assert_eq(r.off, 1);
		if (len < 3) {
			cr_assert_eq(rd_raw_u16(&r, &u16), BUF_ESHORT);
			cr_assert_eq(r.off, 1);
			cr_assert_eq(u16, SENTINEL);
		}
		if (len < 2) {
			u8 = SENTINEL;
			cr_assert_eq(rd_raw_u8(&r, &u8), BUF_ESHORT);
			cr_assert_eq(r.off, 1);
			cr_assert_eq(u8, SENTINEL);
		}
	}
	/* A zero-length raw read always succeeds, even at the end. */
	rd_init(&r, in, 0);
	cr_assert_eq(rd_raw_bytes(&r, bytes, 0), 0);
}

Test(buf, str_limits)
{
	uint8_t		buf[64];
	char		s[8];
	struct writer	w;
	struct reader	r;

	wr_init(&w, buf, sizeof buf);
	wr_str(&w, "abcd");
	wr_str(&w, "");
	cr_assert_eq(wr_error(&w), 0);

	/* One under the length: too long, cursor and output untouched. */
	memset(s, SENTINEL, sizeof s);
	rd_init(&r, buf, w.len);
	cr_assert_eq(rd_str(&r, s, 3), BUF_ETOOLONG);
	cr_assert_eq(r.off, 0);
	cr_assert_eq(s[0], SENTINEL);
	/* Exactly the maximum is fine and NUL-terminated. */
	cr_assert_eq(rd_str(&r, s, 4), 0);
	cr_assert_str_eq(s, "abcd");
	cr_assert_eq(r.off, 9);
	/* The empty string is fine even with max 0. */
	cr_assert_eq(rd_str(&r, s, 0), 0);
	cr_assert_str_eq(s, "");
	cr_assert_eq(rd_end(&r), 0);
}

Test(buf, str_huge_length_is_too_long_or_short)
{
	static const uint8_t in[] = { BUF_T_STR, 0xff, 0xff, 0xff, 0xff, 'a' };
	struct reader	r;
	char		s[4] = "xyz";

	rd_init(&r, in, sizeof in);
	cr_assert_eq(rd_str(&r, s, 3), BUF_ETOOLONG);
	cr_assert_eq(r.off, 0);
	/* A maximum above the length field: the bytes are simply not there. */
	cr_assert_eq(rd_str(&r, s, 0xffffffffu), BUF_ESHORT);
	cr_assert_eq(r.off, 0);
	cr_assert_str_eq(s, "xyz");
}

Test(buf, str_with_nul_is_rejected)
{
	static const uint8_t in[] = {
		0xaa, BUF_T_STR, 0, 0, 0, 3, 'a', 0, 'b'
	};
	struct reader	r;
	uint8_t		lead;
	char		s[8] = "keep";

	rd_init(&r, in, sizeof in);
	cr_assert_eq(rd_raw_u8(&r, &lead), 0);
	cr_assert_eq(rd_str(&r, s, 7), BUF_ENUL);
	cr_assert_eq(r.off, 1);
	cr_assert_str_eq(s, "keep");
}

Test(buf, list_limits)
{
	static const char rows[3][6] = { "a", "bb", "ccccc" };
	uint8_t		buf[64];
	char		out[3][6];
	struct writer	w;
	struct reader	r;
	uint32_t	n = SENTINEL;

	wr_init(&w, buf, sizeof buf);
	wr_strlist(&w, rows[0], sizeof rows[0], 3);
	cr_assert_eq(wr_error(&w), 0);

	/* Count over maxn. */
	rd_init(&r, buf, w.len);
	cr_assert_eq(rd_strlist(&r, out[0], sizeof out[0], 2, 5, &n),
	    BUF_ETOOLONG);
	cr_assert_eq(r.off, 0);
	cr_assert_eq(n, SENTINEL);
	/* The last row over maxlen: earlier rows read, cursor rewound. */
	cr_assert_eq(rd_strlist(&r, out[0], sizeof out[0], 3, 4, &n),
	    BUF_ETOOLONG);
	cr_assert_eq(r.off, 0);
	cr_assert_eq(n, SENTINEL);
	/* At both limits exactly. */
	memset(out, SENTINEL, sizeof out);
	cr_assert_eq(rd_strlist(&r, out[0], sizeof out[0], 3, 5, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(out[0], "a");
	cr_assert_str_eq(out[1], "bb");
	cr_assert_str_eq(out[2], "ccccc");
	cr_assert_eq(rd_end(&r), 0);
}

Test(buf, list_empty)
{
	uint8_t		buf[8];
	char		out[1][4];
	struct writer	w;
	struct reader	r;
	uint32_t	n = SENTINEL;

	wr_init(&w, buf, sizeof buf);
	wr_strlist(&w, NULL, 4, 0);
	cr_assert_eq(wr_error(&w), 0);
	cr_assert_eq(w.len, 5);
	rd_init(&r, buf, w.len);
	cr_assert_eq(rd_strlist(&r, out[0], sizeof out[0], 0, 3, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(rd_end(&r), 0);
}

Test(buf, list_huge_count_is_too_long)
{
	static const uint8_t in[] = { BUF_T_LIST, 0xff, 0xff, 0xff, 0xff };
	struct reader	r;
	char		out[2][4];
	uint32_t	n = SENTINEL;

	rd_init(&r, in, sizeof in);
	cr_assert_eq(rd_strlist(&r, out[0], sizeof out[0], 2, 3, &n),
	    BUF_ETOOLONG);
	cr_assert_eq(r.off, 0);
	cr_assert_eq(n, SENTINEL);
}

Test(buf, list_row_with_nul_or_wrong_tag)
{
	static const uint8_t nul[] = {
		BUF_T_LIST, 0, 0, 0, 2,
		BUF_T_STR, 0, 0, 0, 1, 'a',
		BUF_T_STR, 0, 0, 0, 2, 'b', 0,
	};
	static const uint8_t tag[] = {
		BUF_T_LIST, 0, 0, 0, 1,
		BUF_T_U32, 0, 0, 0, 1,
	};
	struct reader	r;
	char		out[2][4];
	uint32_t	n = SENTINEL;

	rd_init(&r, nul, sizeof nul);
	cr_assert_eq(rd_strlist(&r, out[0], sizeof out[0], 2, 3, &n),
	    BUF_ENUL);
	cr_assert_eq(r.off, 0);
	cr_assert_eq(n, SENTINEL);

	rd_init(&r, tag, sizeof tag);
	cr_assert_eq(rd_strlist(&r, out[0], sizeof out[0], 2, 3, &n),
	    BUF_ETAG);
	cr_assert_eq(r.off, 0);
	cr_assert_eq(n, SENTINEL);
}

Test(buf, end_rejects_trailing_bytes)
{
	static const uint8_t in[] = { BUF_T_U8, 7, 0 };
	struct reader	r;
	uint8_t		v;

	rd_init(&r, in, sizeof in);
	cr_assert_eq(rd_u8(&r, &v), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(rd_left(&r), 1);
	cr_assert_eq(rd_end(&r), BUF_ETRAILING);

	rd_init(&r, in, 2);
	cr_assert_eq(rd_u8(&r, &v), 0);
	cr_assert_eq(rd_end(&r), 0);

	rd_init(&r, NULL, 0);
	cr_assert_eq(rd_end(&r), 0);
}

Test(buf, writer_overflow_is_sticky)
{
	uint8_t		buf[8];
	struct writer	w;

	memset(buf, 0, sizeof buf);
	wr_init(&w, buf, 6);
	wr_u32(&w, 0x01020304);		/* 5 bytes: fits */
	cr_assert_eq(wr_error(&w), 0);
	wr_u32(&w, 0x05060708);		/* does not fit */
	cr_assert_eq(wr_error(&w), BUF_EOVERFLOW);
	cr_assert_eq(w.len, 5);
	/* A field that would fit on its own is still refused. */
	wr_raw_u8(&w, 0xee);
	wr_str(&w, "");
	wr_strlist(&w, NULL, 1, 0);
	wr_raw_bytes(&w, "", 0);
	wr_patch_u32(&w, 0, 0xffffffffu);
	cr_assert_eq(wr_error(&w), BUF_EOVERFLOW);
	cr_assert_eq(w.len, 5);
	cr_assert_eq(buf[5], 0);
	cr_assert_eq(buf[1], 0x01);
}

Test(buf, writer_field_is_all_or_nothing)
{
	uint8_t		buf[8];
	struct writer	w;

	memset(buf, 0, sizeof buf);
	wr_init(&w, buf, 8);
	wr_str(&w, "abcd");		/* needs 9 */
	cr_assert_eq(wr_error(&w), BUF_EOVERFLOW);
	cr_assert_eq(w.len, 0);
	cr_assert_eq(buf[0], 0);
}

Test(buf, writer_patch)
{
	uint8_t		buf[8];
	struct writer	w;

	wr_init(&w, buf, sizeof buf);
	wr_raw_u32(&w, 0);
	wr_raw_u8(&w, 9);
	wr_patch_u32(&w, 0, 0x0a0b0c0d);
	cr_assert_eq(wr_error(&w), 0);
	cr_assert_eq(buf[0], 0x0a);
	cr_assert_eq(buf[3], 0x0d);
	cr_assert_eq(buf[4], 9);
	/* Bytes not written yet cannot be patched. */
	wr_patch_u32(&w, 2, 0);
	cr_assert_eq(wr_error(&w), BUF_EOVERFLOW);
	cr_assert_eq(buf[2], 0x0c);
}

Test(buf, strerror_covers_every_code)
{
	static const int codes[] = {
		BUF_OK, BUF_ESHORT, BUF_ETAG, BUF_ETOOLONG, BUF_ENUL,
		BUF_ETRAILING, BUF_EOVERFLOW,
	};
	const char	*unknown = buf_strerror(-1000);
	size_t		 i, j;

	cr_assert_not_null(unknown);
	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		cr_assert_not_null(buf_strerror(codes[i]));
		cr_assert_str_neq(buf_strerror(codes[i]), unknown);
		for (j = 0; j < i; j++)
			cr_assert_str_neq(buf_strerror(codes[i]),
			    buf_strerror(codes[j]));
	}
	cr_assert_str_eq(buf_strerror(BUF_ETRAILING),
	    "trailing bytes after the last field");
}
