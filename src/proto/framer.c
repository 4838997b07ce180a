/* framer.c — RESP and HTTP/1.x request framing (see proto.h). */
#include "proto/proto.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#define NUM_MAX (1ll << 40)

/* RESP states */
enum { R_START, R_INLINE, R_COUNT, R_COUNT_LF, R_HDR, R_LEN, R_LEN_LF, R_DATA, R_CR, R_LF };
/* HTTP states */
enum { H_START, H_LINE, H_LF, H_BODY };
/* HTTP: where in a Content-Length value (any amount of blanks before and after the digits) */
enum { L_NONE, L_BLANKS, L_DIGITS, L_AFTER };

#define CONTENT_LENGTH "content-length:"
#define CONTENT_LENGTH_LEN (sizeof(CONTENT_LENGTH) - 1)

int pk_proto_parse(const char *name, enum pk_proto *out)
{
	if (strcmp(name, "resp") == 0)
		*out = PK_PROTO_RESP;
	else if (strcmp(name, "http") == 0)
		*out = PK_PROTO_HTTP;
	else if (strcmp(name, "none") == 0)
		*out = PK_PROTO_NONE;
	else
		return -EINVAL;
	return 0;
}

void pk_framer_init(struct pk_framer *f, enum pk_proto proto)
{
	memset(f, 0, sizeof(*f));
	f->proto = proto;
}

/* Adds digit c to the number being parsed; false (lost) on anything else or overflow. */
static bool digit(struct pk_framer *f, char c)
{
	if (!isdigit((unsigned char)c) || f->num > NUM_MAX) {
		f->lost = true;
		return false;
	}
	f->num = f->num * 10 + (c - '0');
	return true;
}

/* One RESP byte.  Returns true when this byte starts a request. */
static bool resp_byte(struct pk_framer *f, const char *p, const char *end, size_t *skip)
{
	char c = *p;
	bool starts = false;

	*skip = 0;
	switch (f->state) {
	case R_START:
		starts = true;
		if (c == '*') {
			f->state = R_COUNT;
			f->num = 0;
		} else if (c == '\r' || c == '\n') {
			starts = false; /* stray line ends between requests */
		} else {
			f->state = R_INLINE;
		}
		break;
	case R_INLINE:
		if (c == '\n')
			f->state = R_START;
		break;
	case R_COUNT:
		if (c == '\r')
			f->state = R_COUNT_LF;
		else
			digit(f, c);
		break;
	case R_COUNT_LF:
		f->left = f->num;
		f->state = f->left > 0 ? R_HDR : R_START;
		break;
	case R_HDR:
		if (c != '$') {
			f->lost = true;
			break;
		}
		f->num = 0;
		f->state = R_LEN;
		break;
	case R_LEN:
		if (c == '\r')
			f->state = R_LEN_LF;
		else
			digit(f, c);
		break;
	case R_LEN_LF:
		f->bulk = f->num;
		f->state = f->bulk > 0 ? R_DATA : R_CR;
		break;
	case R_DATA: {
		/* skip the bulk payload in one step */
		size_t avail = (size_t)(end - p),
		       take = (size_t)f->bulk < avail ? (size_t)f->bulk : avail;

		f->bulk -= (int64_t)take;
		*skip = take - 1;
		if (f->bulk == 0)
			f->state = R_CR;
		break;
	}
	case R_CR:
		f->state = R_LF;
		break;
	case R_LF:
		f->state = --f->left > 0 ? R_HDR : R_START;
		break;
	}
	return starts;
}

/* One byte of a Content-Length value (after the colon, before the line's LF); the digits are
 * read whatever the line's length.  Anything but one number between blanks loses the framer. */
static void http_length_byte(struct pk_framer *f, char c)
{
	bool blank = c == ' ' || c == '\t';

	switch (f->length_at) {
	case L_BLANKS:
		if (blank)
			return;
		f->length_at = L_DIGITS;
		f->num = 0;
		digit(f, c); /* a line end here: no value, lost */
		return;
	case L_DIGITS:
		if (blank || c == '\r')
			f->length_at = L_AFTER;
		else
			digit(f, c);
		return;
	case L_AFTER:
		if (!blank && c != '\r')
			f->lost = true;
		return;
	}
}

/* Looks at a finished header line (its LF just read) for Content-Length / Transfer-Encoding. */
static void http_header(struct pk_framer *f)
{
	size_t n = f->line < sizeof(f->hdr) ? f->line : sizeof(f->hdr);

	if (f->length_at == L_BLANKS)
		f->lost = true; /* "Content-Length:" without a value */
	else if (f->length_at != L_NONE)
		f->content_length = f->num;
	else if (n >= 18 && strncasecmp(f->hdr, "transfer-encoding:", 18) == 0)
		f->lost = true; /* chunked bodies are not framed */
	f->length_at = L_NONE;
}

/* One HTTP byte.  Returns true when this byte starts a request. */
static bool http_byte(struct pk_framer *f, const char *p, const char *end, size_t *skip)
{
	char c = *p;
	bool starts = false;

	*skip = 0;
	switch (f->state) {
	case H_START:
		if (c == '\r' || c == '\n')
			break;
		starts = true;
		f->content_length = 0;
		f->line = 0;
		f->state = H_LINE;
		/* fall through: the first byte belongs to the request line */
		/* fallthrough */
	case H_LINE:
		if (c == '\n') {
			if (f->line == 0 ||
			    (f->line == 1 && f->hdr[0] == '\r')) { /* blank: headers end */
				f->left = f->content_length;
				f->state = f->left > 0 ? H_BODY : H_START;
			} else {
				http_header(f);
			}
			f->line = 0;
			break;
		}
		if (f->length_at != L_NONE)
			http_length_byte(f, c);
		if (f->line < sizeof(f->hdr))
			f->hdr[f->line] = c;
		if (f->line < UINT32_MAX)
			f->line++;
		if (f->line == CONTENT_LENGTH_LEN &&
		    strncasecmp(f->hdr, CONTENT_LENGTH, CONTENT_LENGTH_LEN) == 0)
			f->length_at = L_BLANKS;
		break;
	case H_BODY: {
		size_t avail = (size_t)(end - p),
		       take = (size_t)f->left < avail ? (size_t)f->left : avail;

		f->left -= (int64_t)take;
		*skip = take - 1;
		if (f->left == 0)
			f->state = H_START;
		break;
	}
	}
	return starts;
}

ssize_t pk_framer_feed(struct pk_framer *f, const char *buf, size_t n)
{
	ssize_t first = -1;
	const char *end = buf + n;

	if (f->proto == PK_PROTO_NONE) {
		f->lost = true;
		return -1;
	}
	for (const char *p = buf; p < end && !f->lost; p++) {
		size_t skip;
		bool starts = f->proto == PK_PROTO_RESP ? resp_byte(f, p, end, &skip)
							: http_byte(f, p, end, &skip);

		if (starts && first < 0)
			first = p - buf;
		p += skip;
	}
	return f->lost ? -1 : first;
}
