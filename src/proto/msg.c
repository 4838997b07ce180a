/* msg.c — message framers of RESP, HTTP/1.x and MySQL streams, both directions (see msg.h).
 *
 * Each protocol's feed walks the chunk byte by byte (skipping payloads in one step) and stops
 * right after the byte that ends a part.  All state lives in struct pk_msgr: a stream cut
 * anywhere resumes exactly where it stopped, which is what keeps events independent of how the
 * stream is cut into chunks.
 */
#include "proto/msg.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#define NUM_MAX (1ll << 40) /* larger counts and lengths are not framed: lost */

/* States of all protocols (m->state); IDLE is between messages for each. */
enum {
	IDLE = 0,
	/* RESP */
	R_INLINE, /* request: an inline command, up to its LF */
	R_TYPE,	  /* response: an element's type byte; request: '$' */
	R_LINE,	  /* a simple element's line, up to its LF */
	R_NUM,	  /* the number of a length or count line (sub: type byte) */
	R_NUM_LF, /* its LF */
	R_DATA,	  /* a bulk payload (left bytes) */
	R_CR,	  /* the CR after it */
	R_LF,	  /* the LF after it */
	/* HTTP */
	H_START,      /* the start line (line: its length so far) */
	H_FIELD,      /* a header line, or the blank line that ends them */
	H_BODY,	      /* a Content-Length body (left bytes) */
	H_CHUNK_SIZE, /* a chunk-size line (sub: 0 digits, 1 extension or CR) */
	H_CHUNK_DATA, /* a chunk's data (left bytes) */
	H_CHUNK_END,  /* the line end after it (sub: CR seen) */
	H_TRAILER,    /* a trailer line or the blank line that ends the body */
	H_CLOSE,      /* a body that ends with the stream */
	/* MySQL */
	Y_HDR,	   /* a packet header (hpos: bytes of it read) */
	Y_PAYLOAD, /* a packet's payload (left bytes) */
	/* NONE */
	N_ALL,
};

/* HTTP header fields the framer reads (m->sub while in a header line's value) */
enum { F_NAME, F_OTHER, F_LENGTH, F_TE };
/* where in a Content-Length value (m->hpos) */
enum { L_BLANKS, L_DIGITS, L_AFTER };

static const struct {
	enum pk_proto proto;
	const char *name;
} protos[] = {
	{ PK_PROTO_RESP, "resp" }, { PK_PROTO_HTTP, "http" }, { PK_PROTO_MYSQL, "mysql" },
	{ PK_PROTO_NONE, "none" }, { PK_PROTO_NONE, "raw" },
};

int pk_msg_proto_parse(const char *name, enum pk_proto *out)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (strcmp(name, protos[i].name) == 0) {
			*out = protos[i].proto;
			return 0;
		}
	return -EINVAL;
}

const char *pk_msg_proto_name(enum pk_proto proto)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	return "none";
}

void pk_msgr_init(struct pk_msgr *m, enum pk_proto proto, bool response)
{
	memset(m, 0, sizeof(*m));
	m->proto = proto;
	m->response = response;
}

void pk_msgr_expect(struct pk_msgr *m, unsigned request_flags)
{
	if (m->nexpect >= PK_MSG_EXPECT_MAX)
		return;
	if (request_flags & PK_MSG_HEAD)
		m->expect_bits |= 1ull << m->nexpect;
	m->nexpect++;
}

/* Takes the oldest HEAD hint: whether the response now starting answers a HEAD request. */
static bool expect_head(struct pk_msgr *m)
{
	bool head;

	if (m->nexpect == 0)
		return false;
	head = m->expect_bits & 1;
	m->expect_bits >>= 1;
	m->nexpect--;
	return head;
}

/* A message begins at offset at of this call's chunk (its first byte past stray line ends). */
static void begin(struct pk_msgr *m, size_t at)
{
	m->in_msg = true;
	m->flags = 0;
	m->started++;
	m->start_at = m->consumed + at;
}

/* The message ends with the byte just read. */
static enum pk_msg_event end(struct pk_msgr *m)
{
	m->in_msg = false;
	m->messages++;
	m->state = IDLE;
	return PK_MSG_END;
}

static void lose(struct pk_msgr *m)
{
	m->lost = true;
}

/* Adds decimal digit c to m->num; false (and lost) on anything else or overflow. */
static bool dec_digit(struct pk_msgr *m, char c)
{
	if (c < '0' || c > '9' || m->num > NUM_MAX) {
		lose(m);
		return false;
	}
	m->num = m->num * 10 + (c - '0');
	return true;
}

/* ---- RESP ---- */

/* An element (leaf) ended with the byte just read: closes the aggregates it completes.
 * Returns the event: END when that completes the message, PART (MORE for requests, whose
 * command is one part) otherwise. */
static enum pk_msg_event resp_leaf(struct pk_msgr *m)
{
	while (m->depth > 0) {
		if (--m->stack[m->depth - 1] > 0)
			goto more;
		m->depth--;
		if (m->attr & (1u << m->depth)) { /* an attribute: the reply itself follows */
			m->attr &= ~(1u << m->depth);
			goto more;
		}
	}
	return end(m);
more:
	m->state = R_TYPE;
	return m->response ? PK_MSG_PART : PK_MSG_MORE;
}

/* A count or length line ended: opens an aggregate or a bulk payload. */
static enum pk_msg_event resp_number(struct pk_msgr *m)
{
	char type = (char)m->sub;
	int64_t n = m->neg ? -m->num : m->num;

	if (type == '$' || type == '!' || type == '=') {
		if (n < 0) /* a null bulk string: a leaf without payload */
			return resp_leaf(m);
		m->left = n;
		m->state = n > 0 ? R_DATA : R_CR;
		return PK_MSG_MORE;
	}
	if (type == '%' || type == '|')
		n *= 2; /* maps and attributes count pairs */
	if (n <= 0) {	/* null or empty aggregate: a leaf (an empty attribute is nothing) */
		if (type == '|') {
			m->state = R_TYPE;
			return PK_MSG_MORE;
		}
		return resp_leaf(m);
	}
	if (m->depth >= PK_MSG_DEPTH) {
		lose(m);
		return PK_MSG_LOST;
	}
	if (type == '|')
		m->attr |= 1u << m->depth;
	m->stack[m->depth++] = n;
	m->state = R_TYPE;
	return PK_MSG_MORE;
}

/* What a response element's type byte c opens: R_LINE (a simple element), R_NUM (a length or
 * count line), IDLE when it is no type. */
static int resp_opens(char c)
{
	switch (c) {
	case '+':
	case '-':
	case ':':
	case '_':
	case ',':
	case '#':
	case '(':
		return R_LINE;
	case '$':
	case '!':
	case '=':
	case '*':
	case '~':
	case '%':
	case '|':
	case '>':
		return R_NUM;
	default:
		return IDLE;
	}
}

/* An element's type byte. */
static void resp_type(struct pk_msgr *m, char c)
{
	int opens;

	m->sub = (unsigned char)c;
	m->num = 0;
	m->neg = false;
	m->hpos = 0; /* digits read */
	if (!m->response) {
		/* a request: an array of bulk strings (the array's type byte begins it) */
		if (m->depth == 0 ? c != '*' : c != '$')
			lose(m);
		m->state = R_NUM;
		return;
	}
	opens = resp_opens(c);
	if (opens == IDLE)
		lose(m);
	else
		m->state = opens;
}

/* A number line's digits and CRLF at p[0..n): their length (the value in *v), or 0 when they
 * are not whole here or not plain digits (up to 12: below NUM_MAX). */
static size_t whole_num(const char *p, size_t n, int64_t *v)
{
	size_t i = 0;
	int64_t x = 0;

	while (i < n && i < 12 && p[i] >= '0' && p[i] <= '9')
		x = x * 10 + (p[i++] - '0');
	if (i == 0 || n - i < 2 || p[i] != '\r' || p[i + 1] != '\n')
		return 0;
	*v = x;
	return i + 2;
}

/* A bulk string whole at p[0..n), after its type byte: its length, or 0. */
static size_t whole_bulk(const char *p, size_t n)
{
	int64_t len;
	size_t k = whole_num(p, n, &len);

	if (k == 0 || (uint64_t)len > n - k || n - k - (size_t)len < 2 || p[k + len] != '\r' ||
	    p[k + len + 1] != '\n')
		return 0;
	return k + (size_t)len + 2;
}

/* The common message whole at p[0..n) (its first byte, not a line end): a request that is an
 * array of bulk strings, a response that is one leaf.  Returns its length, or 0 to frame it
 * byte by byte (incomplete here, or anything less plain: the events are the same either way). */
static size_t resp_whole(const struct pk_msgr *m, const char *p, size_t n)
{
	int64_t count;
	size_t at, k;

	if (!m->response) {
		if (p[0] != '*' || (at = whole_num(p + 1, n - 1, &count)) == 0 || count < 1)
			return 0;
		for (at++; count > 0; count--, at += 1 + k)
			if (at >= n || p[at] != '$' ||
			    (k = whole_bulk(p + at + 1, n - at - 1)) == 0)
				return 0;
		return at;
	}
	if (resp_opens(p[0]) == R_LINE) {
		const char *lf = memchr(p + 1, '\n', n - 1);

		return lf ? (size_t)(lf - p) + 1 : 0;
	}
	if (p[0] != '$' && p[0] != '!' && p[0] != '=')
		return 0; /* an aggregate */
	if (n >= 5 && memcmp(p + 1, "-1\r\n", 4) == 0)
		return 5; /* null */
	k = whole_bulk(p + 1, n - 1);
	return k ? k + 1 : 0;
}

static size_t resp_feed(struct pk_msgr *m, const char *buf, size_t n, enum pk_msg_event *ev)
{
	size_t i = 0, k;

	*ev = PK_MSG_MORE;
	while (i < n && !m->lost && *ev == PK_MSG_MORE) {
		char c = buf[i];

		switch (m->state) {
		case IDLE:
			if (c == '\r' || c == '\n')
				break; /* stray line ends: part of the next message */
			begin(m, i);
			m->depth = 0;
			m->attr = 0;
			if ((k = resp_whole(m, buf + i, n - i)) > 0) {
				i += k;
				*ev = end(m);
				continue;
			}
			if (!m->response && c != '*') {
				m->state = R_INLINE;
				break;
			}
			resp_type(m, c);
			break;
		case R_INLINE:
		case R_LINE:
			if (c != '\n') { /* skip to the line's end in one step */
				const char *lf = memchr(buf + i, '\n', n - i);

				i = lf ? (size_t)(lf - buf) : n;
				continue;
			}
			if (m->state == R_INLINE)
				*ev = end(m);
			else
				*ev = resp_leaf(m);
			break;
		case R_TYPE:
			resp_type(m, c);
			break;
		case R_NUM:
			if (c == '\r' && m->hpos > 0) {
				m->state = R_NUM_LF;
			} else if (c == '-' && m->hpos == 0 && !m->neg && m->response) {
				m->neg = true;
			} else if (dec_digit(m, c)) {
				m->hpos = 1;
			}
			break;
		case R_NUM_LF:
			if (c != '\n' || (m->neg && m->num != 1)) {
				lose(m);
				break;
			}
			*ev = resp_number(m);
			break;
		case R_DATA: {
			size_t take = (size_t)m->left < n - i ? (size_t)m->left : n - i;

			m->left -= (int64_t)take;
			if (m->left == 0)
				m->state = R_CR;
			i += take;
			continue;
		}
		case R_CR:
			if (c == '\r')
				m->state = R_LF;
			else
				lose(m);
			break;
		case R_LF:
			if (c == '\n')
				*ev = resp_leaf(m);
			else
				lose(m);
			break;
		default:
			lose(m);
		}
		i++;
	}
	return i;
}

/* ---- HTTP/1.x ---- */

#define HTTP_HDR_BEGIN(m) ((m)->has_length = (m)->chunked = (m)->close_delimited = false)

/* The start line ended (its LF just read); m->hdr holds its first bytes. */
static void http_start_line(struct pk_msgr *m)
{
	size_t n = m->line < sizeof(m->hdr) ? m->line : sizeof(m->hdr);
	const char *sp;
	int status = 0;

	HTTP_HDR_BEGIN(m);
	m->left = 0;
	if (!m->response) {
		m->head = n >= 5 && memcmp(m->hdr, "HEAD ", 5) == 0;
		return;
	}
	/* "HTTP/1.1 200 OK": a version, one space, three digits */
	sp = n > 5 ? memchr(m->hdr, ' ', n) : NULL;
	if (!sp || memcmp(m->hdr, "HTTP/", 5) != 0 || (size_t)(sp - m->hdr) + 4 > n) {
		lose(m);
		return;
	}
	for (int i = 1; i <= 3; i++) {
		if (!isdigit((unsigned char)sp[i])) {
			lose(m);
			return;
		}
		status = status * 10 + (sp[i] - '0');
	}
	if (status < 100) {
		lose(m);
		return;
	}
	m->status = status;
	if (status >= 200 || status == 101) /* the final response: it answers a request */
		m->head = expect_head(m);
}

/* One byte of a Content-Length value (before the line's LF): one number between blanks. */
static void http_length_byte(struct pk_msgr *m, char c)
{
	bool blank = c == ' ' || c == '\t';

	switch (m->hpos) {
	case L_BLANKS:
		if (blank)
			return;
		m->hpos = L_DIGITS;
		m->num = 0;
		dec_digit(m, c); /* a line end here: no value, lost */
		return;
	case L_DIGITS:
		if (blank || c == '\r')
			m->hpos = L_AFTER;
		else
			dec_digit(m, c);
		return;
	default:
		if (!blank && c != '\r')
			lose(m);
	}
}

/* A header line ended (its LF just read): applies Content-Length or Transfer-Encoding. */
static void http_field(struct pk_msgr *m)
{
	if (m->sub == F_LENGTH) {
		if (m->hpos == L_BLANKS || (m->has_length && m->left != m->num))
			lose(m); /* no value, or two lengths that differ */
		m->has_length = true;
		m->left = m->num;
	} else if (m->sub == F_TE) {
		/* hdr: the last 7 bytes of the value that are not blanks (cmd of them) */
		m->chunked = m->cmd >= 7 && memcmp(m->hdr, "chunked", 7) == 0;
		if (!m->chunked && !m->response)
			lose(m); /* a request body that only its sender's close would end */
		m->close_delimited = !m->chunked;
	}
}

/* The blank line that ends the headers was read: where the body goes, or the message's end. */
static enum pk_msg_event http_headers_end(struct pk_msgr *m)
{
	if (m->response && m->status < 200 && m->status != 101) {
		m->state = H_START; /* an interim response: the final one follows */
		m->line = 0;
		return PK_MSG_PART;
	}
	if (m->response && (m->head || m->status == 204 || m->status == 304))
		return end(m);
	if (m->response && (m->status == 101 || (m->close_delimited && !m->chunked))) {
		m->state = H_CLOSE;
		return PK_MSG_MORE;
	}
	if (m->chunked) {
		m->state = H_CHUNK_SIZE;
		m->sub = 0;
		m->num = 0;
		return PK_MSG_MORE;
	}
	if (m->has_length && m->left > 0) {
		m->state = H_BODY;
		return PK_MSG_MORE;
	}
	if (m->response && !m->has_length) {
		m->state = H_CLOSE;
		return PK_MSG_MORE;
	}
	return end(m);
}

/* One byte of the header section (a header line or the blank line after them). */
static enum pk_msg_event http_field_byte(struct pk_msgr *m, char c)
{
	if (c == '\n') {
		bool blank =
			m->line == 0 || (m->line == 1 && m->sub == F_NAME && m->hdr[0] == '\r');

		if (blank)
			return http_headers_end(m);
		http_field(m);
		m->line = 0;
		m->sub = F_NAME;
		return m->lost ? PK_MSG_LOST : PK_MSG_PART;
	}
	switch (m->sub) {
	case F_NAME:
		if (c == ':') {
			if (m->line == 14 && memcmp(m->hdr, "content-length", 14) == 0) {
				m->sub = F_LENGTH;
				m->hpos = L_BLANKS;
			} else if (m->line == 17 && memcmp(m->hdr, "transfer-encoding", 17) == 0) {
				m->sub = F_TE;
				m->cmd = 0;
			} else {
				m->sub = F_OTHER;
			}
		} else if (m->line < sizeof(m->hdr)) {
			m->hdr[m->line] = (char)tolower((unsigned char)c);
		}
		break;
	case F_LENGTH:
		http_length_byte(m, c);
		break;
	case F_TE:
		if (c != ' ' && c != '\t' && c != '\r') {
			memmove(m->hdr, m->hdr + 1, 6);
			m->hdr[6] = (char)tolower((unsigned char)c);
			if (m->cmd < 7)
				m->cmd++;
		}
		break;
	}
	if (m->line < UINT32_MAX)
		m->line++;
	return PK_MSG_MORE;
}

/* Adds hex digit c to a chunk size; false when c is not one. */
static bool hex_digit(struct pk_msgr *m, char c)
{
	int v = isdigit((unsigned char)c) ? c - '0'
		: (c >= 'a' && c <= 'f')  ? c - 'a' + 10
		: (c >= 'A' && c <= 'F')  ? c - 'A' + 10
					  : -1;

	if (v < 0)
		return false;
	if (m->num > NUM_MAX)
		lose(m);
	m->num = m->num * 16 + v;
	return true;
}

static size_t http_feed(struct pk_msgr *m, const char *buf, size_t n, enum pk_msg_event *ev)
{
	size_t i = 0;

	*ev = PK_MSG_MORE;
	while (i < n && !m->lost && *ev == PK_MSG_MORE) {
		char c = buf[i];

		switch (m->state) {
		case IDLE:
			if (c == '\r' || c == '\n')
				break; /* stray line ends: part of the next message */
			begin(m, i);
			m->state = H_START;
			m->line = 0;
			m->head = false;
			/* the first byte of the start line */
			/* fallthrough */
		case H_START:
			if (c == '\n') {
				http_start_line(m);
				m->state = H_FIELD;
				m->line = 0;
				m->sub = F_NAME;
				*ev = PK_MSG_PART;
				break;
			}
			if (m->line < sizeof(m->hdr))
				m->hdr[m->line] = c;
			if (m->line < UINT32_MAX)
				m->line++;
			break;
		case H_FIELD:
			if (m->sub == F_OTHER && c != '\n') { /* a value not read: to its end */
				const char *lf = memchr(buf + i, '\n', n - i);
				size_t skip = (lf ? (size_t)(lf - buf) : n) - i;

				m->line = skip > UINT32_MAX - m->line ? UINT32_MAX
								      : m->line + (uint32_t)skip;
				i += skip;
				continue;
			}
			*ev = http_field_byte(m, c);
			break;
		case H_BODY:
		case H_CHUNK_DATA: {
			size_t take = (size_t)m->left < n - i ? (size_t)m->left : n - i;

			m->left -= (int64_t)take;
			i += take;
			if (m->left > 0)
				continue;
			if (m->state == H_BODY) {
				*ev = end(m);
			} else {
				m->state = H_CHUNK_END;
				m->sub = 0;
			}
			continue;
		}
		case H_CHUNK_SIZE:
			if (c == '\n') {
				if (m->sub == 0) {
					lose(m);
					break;
				}
				m->left = m->num;
				m->state = m->num > 0 ? H_CHUNK_DATA : H_TRAILER;
				m->line = 0;
			} else if (m->sub < 2 && hex_digit(m, c)) {
				m->sub = 1;
			} else if (m->sub == 0) {
				lose(m); /* a chunk-size line without a size */
			} else {
				m->sub = 2; /* an extension, or blanks and CR */
			}
			break;
		case H_CHUNK_END:
			if (c == '\r' && m->sub == 0) {
				m->sub = 1;
			} else if (c == '\n') {
				m->state = H_CHUNK_SIZE;
				m->sub = 0;
				m->num = 0;
			} else {
				lose(m);
			}
			break;
		case H_TRAILER:
			if (c == '\n') {
				if (m->line == 0 || (m->line == 1 && m->hdr[0] == '\r'))
					*ev = end(m);
				m->line = 0;
				break;
			}
			if (m->line == 0)
				m->hdr[0] = c;
			if (m->line < UINT32_MAX)
				m->line++;
			break;
		case H_CLOSE:
			i = n; /* the rest of the stream */
			continue;
		default:
			lose(m);
		}
		i++;
	}
	if (*ev == PK_MSG_END && m->head && !m->response)
		m->flags |= PK_MSG_HEAD;
	return i;
}

static enum pk_msg_event http_finish(struct pk_msgr *m)
{
	if (!m->in_msg) {
		m->state = IDLE;
		return PK_MSG_MORE;
	}
	if (m->state == H_CLOSE)
		return end(m);
	lose(m);
	return PK_MSG_LOST;
}

/* ---- MySQL ---- */

#define MYSQL_MAX_PACKET 0xffffff /* a packet this long continues in the next one */

/* Commands the server does not answer: COM_QUIT, COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE. */
static bool mysql_unanswered(uint8_t cmd)
{
	return cmd == 0x01 || cmd == 0x18 || cmd == 0x19;
}

/* A packet's header was read (its sequence id seq last, at buf + i - 1 of this call). */
static void mysql_header(struct pk_msgr *m, uint8_t seq, size_t i)
{
	if (!m->response && !m->cont) { /* a request's first packet says what it is */
		if (seq == 0) {
			m->cmds = true;
			m->sub = 1; /* the command byte comes next */
			m->started++;
			m->start_at = m->consumed + i - 4;
		} else if (!m->cmds) {
			/* the handshake: the client's first packet answers the greeting, the
			 * others (authentication switches) are answered within it */
			m->flags |= PK_MSG_HANDSHAKE | (m->messages > 0 ? PK_MSG_NO_RESPONSE : 0);
		} else {
			m->flags |= PK_MSG_NO_RESPONSE; /* LOAD DATA LOCAL's file, ... */
		}
	}
	m->seq = seq;
	m->left = m->num;
	m->cont = m->num == MYSQL_MAX_PACKET;
	m->state = Y_PAYLOAD;
}

/* A packet ended with the byte just read. */
static enum pk_msg_event mysql_packet_end(struct pk_msgr *m)
{
	m->state = Y_HDR;
	m->hpos = 0;
	m->sub = 0;
	if (m->cont)
		return PK_MSG_MORE;
	if (!m->response)
		return end(m);
	m->pending = true; /* the next packet's sequence id tells whether the response goes on */
	return PK_MSG_PART;
}

static size_t mysql_feed(struct pk_msgr *m, const char *buf, size_t n, enum pk_msg_event *ev)
{
	size_t i = 0;

	*ev = PK_MSG_MORE;
	while (i < n && *ev == PK_MSG_MORE) {
		uint8_t c = (uint8_t)buf[i];

		if (m->state == Y_PAYLOAD) {
			size_t take = (size_t)m->left < n - i ? (size_t)m->left : n - i;

			if (m->sub && take > 0) { /* a command's first byte */
				m->cmd = c;
				m->sub = 0;
				if (mysql_unanswered(c))
					m->flags |= PK_MSG_NO_RESPONSE;
			}
			m->left -= (int64_t)take;
			i += take;
			if (m->left == 0)
				*ev = mysql_packet_end(m);
			continue;
		}
		if (m->pending && i + 3u - m->hpos < n) {
			/* a response's packet ended: a new response starts with sequence id 1
			 * (after a packet whose id was not 0, which wrapped); decided here, before
			 * any byte of the header in this chunk is consumed */
			uint8_t seq = (uint8_t)buf[i + 3u - m->hpos];

			m->pending = false;
			if (seq == 1 && m->seq != 0) {
				/* the last part is empty (or a cut header's bytes) */
				*ev = end(m);
				m->state = Y_HDR;
				break;
			}
		}
		if (!m->in_msg) {
			m->in_msg = true;
			m->flags = m->response && m->messages == 0 ? PK_MSG_HANDSHAKE : 0;
			m->cont = false;
		}
		m->state = Y_HDR;
		i++;
		if (m->hpos < 3) {
			if (m->hpos == 0)
				m->num = 0;
			m->num |= (int64_t)c << (8 * m->hpos);
			m->hpos++;
			continue;
		}
		m->pending = false;
		mysql_header(m, c, i);
		if (m->left == 0)
			*ev = mysql_packet_end(m);
	}
	return i;
}

static enum pk_msg_event mysql_finish(struct pk_msgr *m)
{
	if (!m->in_msg)
		return PK_MSG_MORE;
	if (m->response && m->pending && m->hpos == 0) {
		m->pending = false;
		return end(m);
	}
	lose(m);
	return PK_MSG_LOST;
}

/* ---- all ---- */

size_t pk_msgr_feed(struct pk_msgr *m, const char *buf, size_t n, enum pk_msg_event *ev)
{
	size_t used = n;

	*ev = PK_MSG_MORE;
	if (!m->lost) {
		switch (m->proto) {
		case PK_PROTO_RESP:
			used = resp_feed(m, buf, n, ev);
			break;
		case PK_PROTO_HTTP:
			used = http_feed(m, buf, n, ev);
			break;
		case PK_PROTO_MYSQL:
			used = mysql_feed(m, buf, n, ev);
			break;
		default:
			if (n > 0 && !m->in_msg)
				begin(m, 0);
			break;
		}
	}
	if (m->lost) {
		*ev = PK_MSG_LOST;
		used = n;
	}
	m->consumed += used;
	return used;
}

enum pk_msg_event pk_msgr_finish(struct pk_msgr *m)
{
	if (m->lost)
		return PK_MSG_LOST;
	switch (m->proto) {
	case PK_PROTO_RESP:
		break;
	case PK_PROTO_HTTP:
		return http_finish(m);
	case PK_PROTO_MYSQL:
		return mysql_finish(m);
	default:
		if (m->in_msg)
			return end(m);
		return PK_MSG_MORE;
	}
	if (!m->in_msg) {
		m->state = IDLE; /* stray line ends at the end: no message */
		return PK_MSG_MORE;
	}
	lose(m);
	return PK_MSG_LOST;
}
