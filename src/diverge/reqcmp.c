/* reqcmp.c — per-request divergence: frames the client's stream into requests and each side's
 * stream into responses (src/proto/msg.h), summarises every response as one XXH3 hash per part
 * (after masking), and decides a verdict per request and clone once production and every clone
 * still compared have answered it.
 *
 * Requests that have a response get a *slot*, numbered from 0 in order; response k of every side
 * pairs with slot k (a request without a response, MySQL's COM_STMT_CLOSE, gets none).  A slot
 * is made by whichever comes first, its request's end or a response (MySQL's greeting comes
 * before the client's first byte).  Undecided slots wait in a ring, oldest first, and are
 * decided in order:
 *
 *   slots:   base                                     base + count
 *            |  slot k  | slot k+1 | ... | slot k+n-1 |
 *            +----------+----------+-----+-----------+
 *   slot:    request (index, flags, excerpt) | production's summary | clone 0's | clone 1's ...
 *   summary: part hashes [PK_RCMP_MAX_PARTS] | number of parts | flags | excerpt | done
 *
 * Each side keeps the summary of the response it is framing; at the response's end it is copied
 * into its slot.  count never exceeds max_pending: when a slot more is needed, the slowest clone
 * still compared that has not answered the oldest slot is declared LAG ("too far behind"); when
 * no clone holds the oldest slot back (production or the client is behind), that slot is dropped
 * without a verdict (lagging clones count it as LAG).
 *
 * Sides leaving the comparison:
 *   lagging (pk_rcmp_lag, or too far behind): reported once at once, then counted LAG in every
 *           slot decided from then on (also slots that no longer wait for it).
 *   lost    (the clone's framer could not frame its stream): the next slot decided reports it
 *           DIFFERENT once ("could not frame the clone's responses"); later slots count nothing
 *           for that clone.
 *   finished (its EOF): a clone's unanswered slots are DIFFERENT each; production's unanswered
 *           slots are dropped without a verdict.
 *   production's or the request framer lost: the comparison stops silently; nothing more is
 *           counted or reported.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include <cjson/cJSON.h>

#include "common/bug.h"
#include "common/text.h"
#include "diverge/reqcmp.h"
#include "proto/answers.h"

#define PROD 0 /* side index of production; clone i is side 1 + i */
/* MySQL: where a stream is in its packets, so that a packet's 4-byte header always reaches
 * the framer in one piece (the framer learns from its sequence id whether a new message
 * starts; a header cut between two chunks would otherwise move that boundary). */
struct pkt_hdr {
	uint8_t hdr[4];
	uint8_t have;  /* header bytes held back */
	uint32_t left; /* payload bytes of the current packet still to come */
};

enum { BAG_LINE, BAG_HEADER, BAG_CONTENT };
#define SMALL_PART                                                                                 \
	256 /* parts up to this long are hashed in one go (most answers' parts) */ /* where in a   \
										      part the     \
										      bag's hash   \
										      is */
#define FOLD_PRIME 0x9E3779B185EBCA87ull /* folds part hashes past the last slot, in order */

struct summary {
	uint64_t hash[PK_RCMP_MAX_PARTS];
	uint64_t bag;	 /* an unordered answer: its parts' hashes summed (any order alike) */
	uint32_t nparts; /* parts counted, also those folded into the last hash */
	uint64_t end;	 /* production's: the offset in its stream where the response ends */
	unsigned flags;	 /* the framer's flags of the message */
	bool done;	 /* the whole response came */
	bool same;	 /* a fast clone's: production's bytes, matched whole (production's
			  * summary stands for it: clone_sum) */
	uint8_t excerpt_len;
	char excerpt[PK_RCMP_EXCERPT];
};

struct slot {
	bool req_known;	 /* its request ended: index, flags and excerpt are set */
	bool kind_known; /* kind is set (worked out from the excerpt when first needed) */
	unsigned req_flags;
	enum pk_answer_kind kind; /* how its answers may vary (proto/answers.h) */
	uint64_t req_index;
	uint8_t req_len;
	char req_excerpt[PK_RCMP_EXCERPT];
	struct summary sum[]; /* production's, then each clone's */
};

struct side {
	struct pk_msgr m;
	uint64_t nresp;	     /* responses ended: the index of the one being framed */
	bool finished;	     /* pk_rcmp_finish was called */
	bool lagging;	     /* a clone: LAG from now on */
	bool lost_pending;   /* a clone: its framer is lost, not yet reported */
	bool gone;	     /* a clone: counted no more */
	uint64_t lost_at;    /* the slot its framer was lost in */
	XXH3_state_t *xs;    /* hash of the current part (or of the folded last one) */
	uint64_t part_bytes; /* bytes of the current part */
	uint64_t msg_bytes;  /* bytes of the current message */
	struct summary cur;  /* the response being framed */
	char *mbuf;	     /* the current part, while masks may still apply */
	size_t mlen, mcap;
	bool bagging;	/* the response answers an unordered request: parts hashed for the bag too,
			 * without the aggregate headers before a leaf (RESP's "*2\r\n") */
	uint8_t bag_at; /* BAG_* */
	XXH3_state_t *bs;  /* the bag's hash of the current part (made when first needed) */
	struct pkt_hdr ph; /* MySQL */
	bool fast;	   /* a clone whose answers so far are production's bytes: not framed */
	bool nohash;	   /* production's while every clone is fast: framed, not hashed */
	uint64_t cbytes;   /* fast: the clone's bytes, all equal to production's */
	char *ahead;	   /* fast: its bytes past production's, to compare when they come */
	size_t ahead_len, ahead_cap;
	uint64_t resp_from; /* fast: where (in both streams) its first unmatched response starts */
	uint64_t framed;    /* bytes given to the framer (production's: a response's end) */
	bool streaming;	    /* the current part went past small: hashed as it comes (xs) */
	uint32_t slen;
	char small[SMALL_PART]; /* the current part while short: hashed at once at its end */
	char lag_reason[80];
};

struct pk_rcmp {
	struct pk_rcmp_config cfg;
	struct pk_rcmp_sink sink;
	uint64_t conn;
	int nclones;
	bool masks;   /* parts are buffered and masked before hashing */
	bool stopped; /* production's or the request framer is lost */
	struct pk_msgr rq;
	struct pkt_hdr rq_ph; /* MySQL */
	uint64_t nreq;	      /* requests ended */
	uint64_t nreq_slots;  /* requests ended that have a response */
	uint8_t rq_len;
	char rq_excerpt[PK_RCMP_EXCERPT];
	unsigned char *ring; /* cap slots of slot_size bytes; slot k at k % cap */
	size_t slot_size, cap, count;
	uint64_t base; /* the oldest undecided slot */
	char reason[160];
	int nfast;	   /* clones still fast */
	int nahead;	   /* of which keep bytes production has not sent (framed) yet */
	bool replaying;	   /* production's held bytes are framed again (prod_rehash) */
	unsigned rehashes; /* prod_rehash calls (message_end sees one happen within it) */
	char *hold;	   /* production's bytes from hold_base on, while a clone is fast */
	size_t hold_skip;  /* hold_base is at hold + hold_skip */
	size_t hold_cap;
	uint64_t hold_base; /* the oldest production byte a fast clone may still need */
	uint64_t pbytes;    /* production's bytes so far */
	struct side side[]; /* production's, then each clone's (1 + nclones) */
};

const char *pk_rcmp_verdict_name(enum pk_rcmp_verdict v)
{
	static const char *const names[PK_RCMP_VERDICTS] = {
		[PK_RCMP_SAME] = "same",
		[PK_RCMP_NOISE] = "noise",
		[PK_RCMP_DIFFERENT] = "different",
		[PK_RCMP_LAG] = "lag",
	};

	return (unsigned)v < PK_RCMP_VERDICTS ? names[v] : "?";
}

static struct slot *slot_at(const struct pk_rcmp *c, uint64_t k)
{
	PK_BUG_ON(k < c->base || k >= c->base + c->count);
	return (struct slot *)(c->ring + (k & (c->cap - 1)) * c->slot_size);
}

/* How the answers to slot s's request (known) may vary: worked out when first asked (most
 * answers are matched byte for byte and never ask). */
static enum pk_answer_kind slot_kind(const struct pk_rcmp *c, struct slot *s)
{
	if (!s->kind_known) {
		s->kind = pk_answer_kind(c->cfg.proto, s->req_excerpt, s->req_len);
		s->kind_known = true;
	}
	return s->kind;
}

/* Clone i's summary in slot s: production's when the clone sent production's bytes. */
static const struct summary *clone_sum(const struct slot *s, int i)
{
	return s->sum[1 + i].same ? &s->sum[PROD] : &s->sum[1 + i];
}

static bool clone_active(const struct side *s)
{
	return !s->lagging && !s->gone;
}

/* Keeps the first PK_RCMP_EXCERPT bytes of a message: buf holds *len of them, p[0..n) come. */
static void excerpt_add(char *buf, uint8_t *len, const char *p, size_t n)
{
	size_t room = PK_RCMP_EXCERPT - (size_t)*len;

	if (n > room)
		n = room;
	memcpy(buf + *len, p, n);
	*len = (uint8_t)(*len + n);
}

static void count(struct pk_rcmp *c, int clone, enum pk_rcmp_verdict v)
{
	if (c->sink.count)
		c->sink.count(c->sink.ctx, clone, v, 1);
}

/* Reports a verdict of clone on slot s (NULL: a request not seen yet, numbered req). */
static void report(struct pk_rcmp *c, int clone, const struct slot *s, uint64_t req,
		   enum pk_rcmp_verdict v, const char *reason, int part, uint64_t requests)
{
	struct pk_rcmp_report r = {
		.conn = c->conn,
		.clone = clone,
		.request = s ? s->req_index : req,
		.verdict = v,
		.reason = reason,
		.part = part,
		.requests = requests,
	};

	if (!c->sink.report)
		return;
	if (s) {
		const struct summary *p = &s->sum[PROD], *k = clone_sum(s, clone);

		pk_text_printable(r.request_excerpt, sizeof(r.request_excerpt), s->req_excerpt,
				  s->req_len, PK_TEXT_C_ESCAPES);
		pk_text_printable(r.production_excerpt, sizeof(r.production_excerpt), p->excerpt,
				  p->done ? p->excerpt_len : 0, PK_TEXT_C_ESCAPES);
		pk_text_printable(r.clone_excerpt, sizeof(r.clone_excerpt), k->excerpt,
				  k->done && v != PK_RCMP_LAG ? k->excerpt_len : 0,
				  PK_TEXT_C_ESCAPES);
	}
	c->sink.report(c->sink.ctx, &r);
}

/* ---- the decision of one slot ---- */

/* Tells whether part p is noise in slot s: two clones answered it differently from each other
 * and from production. */
static bool is_noise(const struct pk_rcmp *c, const struct slot *s, const bool *cmp, uint32_t p)
{
	const struct summary *prod = &s->sum[PROD];

	for (int a = 0; a < c->nclones; a++) {
		const struct summary *sa = clone_sum(s, a);

		if (!cmp[a] || p >= sa->nparts || sa->hash[p] == prod->hash[p])
			continue;
		for (int b = a + 1; b < c->nclones; b++) {
			const struct summary *sb = clone_sum(s, b);

			if (cmp[b] && p < sb->nparts && sb->hash[p] != prod->hash[p] &&
			    sb->hash[p] != sa->hash[p])
				return true;
		}
	}
	return false;
}

/* Tells whether two summaries are of the same parts, in order. */
static bool summary_equal(const struct summary *a, const struct summary *b)
{
	uint32_t n = a->nparts < PK_RCMP_MAX_PARTS ? a->nparts : PK_RCMP_MAX_PARTS;

	return a->nparts == b->nparts && memcmp(a->hash, b->hash, n * sizeof(a->hash[0])) == 0;
}

/* Compares clone i's summary with production's in slot s; cmp says which clones answered.
 * An unordered answer (proto/answers.h) is the same when its parts are, in any order; a
 * volatile one that differs is noise. */
static void compare(struct pk_rcmp *c, struct slot *s, const bool *cmp, int i)
{
	const struct summary *prod = &s->sum[PROD], *cl = clone_sum(s, i);
	uint32_t n = prod->nparts < cl->nparts ? prod->nparts : cl->nparts;
	enum pk_answer_kind kind;
	int noisy = -1;

	if (n > PK_RCMP_MAX_PARTS)
		n = PK_RCMP_MAX_PARTS;
	if (s->sum[1 + i].same) { /* a fast clone's: production's bytes */
		count(c, i, PK_RCMP_SAME);
		return;
	}
	kind = slot_kind(c, s);
	if (kind == PK_ANSWER_UNORDERED && prod->nparts == cl->nparts && prod->bag == cl->bag) {
		count(c, i, PK_RCMP_SAME); /* the same parts, in another order */
		return;
	}
	if (kind == PK_ANSWER_VOLATILE && !summary_equal(prod, cl)) {
		count(c, i, PK_RCMP_NOISE);
		report(c, i, s, 0, PK_RCMP_NOISE, "the answer to this request varies by nature", -1,
		       1);
		return;
	}
	for (uint32_t p = 0; p < n; p++) {
		if (prod->hash[p] == cl->hash[p])
			continue;
		if (!is_noise(c, s, cmp, p)) {
			snprintf(c->reason, sizeof(c->reason), "part %" PRIu32 " differs", p);
			count(c, i, PK_RCMP_DIFFERENT);
			report(c, i, s, 0, PK_RCMP_DIFFERENT, c->reason, (int)p, 1);
			return;
		}
		if (noisy < 0)
			noisy = (int)p;
	}
	if (prod->nparts != cl->nparts) {
		snprintf(c->reason, sizeof(c->reason),
			 "%" PRIu32 " parts where production has %" PRIu32, cl->nparts,
			 prod->nparts);
		count(c, i, PK_RCMP_DIFFERENT);
		report(c, i, s, 0, PK_RCMP_DIFFERENT, c->reason,
		       (int)(n < PK_RCMP_MAX_PARTS ? n : PK_RCMP_MAX_PARTS - 1), 1);
	} else if (noisy >= 0) {
		snprintf(c->reason, sizeof(c->reason), "part %d differs between clones too (noise)",
			 noisy);
		count(c, i, PK_RCMP_NOISE);
		report(c, i, s, 0, PK_RCMP_NOISE, c->reason, noisy, 1);
	} else {
		count(c, i, PK_RCMP_SAME);
	}
}

enum decision { WAIT, DECIDED, DROPPED };

/* Decides slot k (the oldest) if it can be: every verdict is counted and reported. */
static enum decision decide(struct pk_rcmp *c, uint64_t k)
{
	struct slot *s = slot_at(c, k);
	const struct summary *prod = &s->sum[PROD];
	bool cmp[PK_RCMP_MAX_CLONES] = { false };

	if (!s->req_known)
		return WAIT;
	if ((s->req_flags & PK_MSG_HANDSHAKE) || (prod->done && (prod->flags & PK_MSG_HANDSHAKE)))
		return DROPPED; /* connection set-up: never compared */
	if (!prod->done)
		return c->side[PROD].finished ? DROPPED : WAIT;
	for (int i = 0; i < c->nclones; i++) {
		const struct side *d = &c->side[1 + i];

		if (!clone_active(d) || (d->lost_pending && k >= d->lost_at))
			continue;
		if (s->sum[1 + i].done)
			cmp[i] = true;
		else if (!d->finished)
			return WAIT;
	}
	for (int i = 0; i < c->nclones; i++) {
		struct side *d = &c->side[1 + i];

		if (d->gone)
			continue;
		if (d->lagging) {
			count(c, i, PK_RCMP_LAG);
		} else if (d->lost_pending && k >= d->lost_at) {
			d->gone = true;
			count(c, i, PK_RCMP_DIFFERENT);
			report(c, i, s, 0, PK_RCMP_DIFFERENT,
			       "could not frame the clone's responses", -1, 1);
		} else if (!cmp[i]) {
			count(c, i, PK_RCMP_DIFFERENT);
			report(c, i, s, 0, PK_RCMP_DIFFERENT,
			       "the clone closed the connection before answering", -1, 1);
		} else {
			compare(c, s, cmp, i);
		}
	}
	return DECIDED;
}

static void pop(struct pk_rcmp *c)
{
	c->base++;
	c->count--;
}

/* Decides the oldest slots while they can be. */
static void decide_front(struct pk_rcmp *c)
{
	while (c->count > 0 && !c->stopped && decide(c, c->base) != WAIT)
		pop(c);
}

static void fast_stop(struct pk_rcmp *c, int idx);
static void fast_leave(struct pk_rcmp *c, struct side *d);
static void fast_catch_up(struct pk_rcmp *c);

/* Counts the oldest slot as not compared: LAG for lagging clones when its request is known. */
static void drop_front(struct pk_rcmp *c)
{
	struct slot *s;

	/* A fast clone that has not matched the slot needs its end to go on: it is framed.  (One
	 * that matched it needs nothing; when production's framing got here, every fast clone has
	 * — else make_room lags it — so production's bytes are never framed again from within.) */
	for (int i = 1; i <= c->nclones; i++)
		if (c->side[i].nresp <= c->base)
			fast_stop(c, i);
	if (c->count < c->cfg.max_pending)
		return; /* that decided the oldest (production had ended): room enough */
	s = slot_at(c, c->base);

	if (s->req_known && !(s->req_flags & PK_MSG_HANDSHAKE))
		for (int i = 0; i < c->nclones; i++)
			if (c->side[1 + i].lagging)
				count(c, i, PK_RCMP_LAG);
	pop(c);
}

static void lag(struct pk_rcmp *c, int i, const char *reason)
{
	struct side *d = &c->side[1 + i];
	const struct slot *first = NULL;
	uint64_t pending = 0;

	if (c->stopped || d->gone || d->lagging)
		return;
	d->lagging = true;
	d->lost_pending = false;
	fast_leave(c, d);
	snprintf(d->lag_reason, sizeof(d->lag_reason), "%s", reason ? reason : "");
	for (uint64_t k = c->base; k < c->base + c->count; k++) {
		const struct slot *s = slot_at(c, k);

		if (!s->req_known || (s->req_flags & PK_MSG_HANDSHAKE))
			continue;
		if (!first)
			first = s;
		pending++;
	}
	report(c, i, first, c->nreq, PK_RCMP_LAG, d->lag_reason, -1, pending);
	decide_front(c);
}

/* Makes room for one slot more: when production answered the oldest slot, lags the slowest
 * clone that did not; else (production or the client is behind) drops the oldest slot. */
static void make_room(struct pk_rcmp *c)
{
	int slowest = -1;

	if (c->nahead > 0 && !c->replaying)
		fast_catch_up(c); /* a clone ahead of production is not behind */
	for (int i = 0; i < c->nclones && c->side[PROD].nresp > c->base; i++) {
		const struct side *d = &c->side[1 + i];

		if (!clone_active(d) || d->finished || (d->lost_pending && c->base >= d->lost_at) ||
		    d->nresp > c->base)
			continue;
		if (slowest < 0 || d->nresp < c->side[1 + slowest].nresp)
			slowest = i;
	}
	if (slowest >= 0) {
		lag(c, slowest, "too far behind");
		return;
	}
	drop_front(c);
	decide_front(c);
}

/* Empties a slot: no request, no response (what is not set yet is never read). */
static void slot_clear(const struct pk_rcmp *c, struct slot *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i <= c->nclones; i++)
		s->sum[i].done = s->sum[i].same = false;
}

static int grow(struct pk_rcmp *c, size_t want)
{
	size_t cap = c->cap ? c->cap : 4;
	unsigned char *ring;

	while (cap < want)
		cap *= 2;
	if (cap == c->cap)
		return 0;
	ring = calloc(cap, c->slot_size);
	if (!ring)
		return -ENOMEM;
	for (uint64_t k = c->base; k < c->base + c->count; k++)
		memcpy(ring + (k & (cap - 1)) * c->slot_size, slot_at(c, k), c->slot_size);
	free(c->ring);
	c->ring = ring;
	c->cap = cap;
	return 0;
}

/* Returns slot k, made (empty) with those before it when needed; NULL when it is already decided
 * or no memory is left (then the comparison stops). */
static struct slot *get_slot(struct pk_rcmp *c, uint64_t k)
{
	while (!c->stopped && k >= c->base + c->count) {
		if (c->count >= c->cfg.max_pending) {
			make_room(c);
			continue;
		}
		if (c->count + 1 > c->cap && grow(c, c->count + 1) < 0) {
			c->stopped = true;
			return NULL;
		}
		c->count++;
		slot_clear(c, slot_at(c, c->base + c->count - 1));
	}
	if (c->stopped || k < c->base)
		return NULL;
	return slot_at(c, k);
}

/* ---- response summaries ---- */

/* Copies what is set of a summary: its part hashes and excerpt, not the unused rest. */
static void summary_copy(struct summary *to, const struct summary *from)
{
	uint32_t n = from->nparts < PK_RCMP_MAX_PARTS ? from->nparts : PK_RCMP_MAX_PARTS;

	memcpy(to->hash, from->hash, n * sizeof(from->hash[0]));
	to->nparts = from->nparts;
	to->bag = from->bag;
	to->end = from->end;
	to->flags = from->flags;
	to->done = from->done;
	to->excerpt_len = from->excerpt_len;
	memcpy(to->excerpt, from->excerpt, from->excerpt_len);
}

/* Cuts every match of each mask (in order) out of the current part p[0..n) (p has room for a
 * NUL at p[n]); returns its length after. */
static size_t hash_masked(struct pk_rcmp *c, struct side *d, char *p, size_t n)
{
	if (c->cfg.proto == PK_PROTO_HTTP && !c->cfg.no_default_ignore && n >= 5 &&
	    strncasecmp(p, "date:", 5) == 0 && p[n - 1] == '\n' && !memchr(p, '\n', n - 1)) {
		size_t eol = n >= 7 && p[n - 2] == '\r' ? 2 : 1;

		memmove(p + 5, p + n - eol, eol);
		n = 5 + eol;
	}
	for (size_t r = 0; r < c->cfg.nignore; r++) {
		size_t pos = 0, out = 0;

		p[n] = '\0'; /* REG_STARTEND bounds the match; sanitizers' regexec reads a C string
			      */

		while (pos <= n) {
			regmatch_t m = { .rm_so = (regoff_t)pos, .rm_eo = (regoff_t)n };

			if (regexec(&c->cfg.ignore[r], p, 1, &m,
				    REG_STARTEND | (pos ? REG_NOTBOL : 0)))
				break;
			memmove(p + out, p + pos, (size_t)m.rm_so - pos);
			out += (size_t)m.rm_so - pos;
			if (m.rm_eo ==
			    m.rm_so) { /* an empty match: keep one byte, go on after it */
				if ((size_t)m.rm_eo >= n) {
					pos = n;
					break;
				}
				p[out++] = p[m.rm_eo];
				pos = (size_t)m.rm_eo + 1;
			} else {
				pos = (size_t)m.rm_eo;
			}
		}
		if (pos < n) {
			memmove(p + out, p + pos, n - pos);
			out += n - pos;
		}
		n = out;
	}
	return n;
}

/* Whether the response side d starts now answers an unordered request. */
static bool answers_unordered(struct pk_rcmp *c, const struct side *d)
{
	struct slot *s;

	if (d->nresp < c->base || d->nresp >= c->base + c->count)
		return false;
	s = slot_at(c, d->nresp);
	return s->req_known && slot_kind(c, s) == PK_ANSWER_UNORDERED;
}

/* Feeds the bag's hash of the current part: the part without the aggregate headers (RESP
 * lines of types * % ~ > |) before its leaf, so that elements reordered hash alike. */
static void bag_bytes(struct side *d, const char *p, size_t n)
{
	while (n > 0 && d->bag_at != BAG_CONTENT) {
		if (d->bag_at == BAG_LINE)
			d->bag_at = memchr("*%~>|", *p, 5) && *p ? BAG_HEADER : BAG_CONTENT;
		if (d->bag_at == BAG_CONTENT)
			break;
		if (*p == '\n')
			d->bag_at = BAG_LINE;
		p++;
		n--;
	}
	if (n > 0)
		XXH3_64bits_update(d->bs, p, n);
}

/* Goes on hashing the current part of d as it comes, from what was kept of it (kept[0..n)). */
static void stream_part(struct side *d, const char *kept, size_t n)
{
	XXH3_64bits_reset(d->xs);
	XXH3_64bits_update(d->xs, kept, n);
	d->streaming = true;
}

/* n bytes of the current part of side d. */
static void part_bytes(struct pk_rcmp *c, struct side *d, const char *p, size_t n)
{
	size_t room;

	if (n == 0)
		return;
	if (d->nohash) { /* production's, while every clone is fast: its excerpt only */
		excerpt_add(d->cur.excerpt, &d->cur.excerpt_len, p, n);
		d->msg_bytes += n;
		d->part_bytes += n;
		return;
	}
	if (d->msg_bytes == 0 && answers_unordered(c, d)) {
		if (!d->bs && (d->bs = XXH3_createState()) != NULL)
			XXH3_64bits_reset(d->bs);
		d->bagging = d->bs != NULL;
	}
	if (d->bagging)
		bag_bytes(d, p, n);
	excerpt_add(d->cur.excerpt, &d->cur.excerpt_len, p, n);
	d->msg_bytes += n;
	d->part_bytes += n;
	if (d->streaming) {
		XXH3_64bits_update(d->xs, p, n);
		return;
	}
	if (!c->masks) {
		if (d->slen + n <= SMALL_PART) {
			memcpy(d->small + d->slen, p, n);
			d->slen += (uint32_t)n;
			return;
		}
		stream_part(d, d->small, d->slen);
		XXH3_64bits_update(d->xs, p, n);
		return;
	}
	room = c->cfg.mask_limit - d->mlen;
	if (n > room) { /* too long to mask: hash what was kept, then as it comes */
		stream_part(d, d->mbuf, d->mlen);
		XXH3_64bits_update(d->xs, p, n);
		return;
	}
	if (d->mlen + n > d->mcap) {
		size_t cap = d->mcap ? d->mcap : 256;
		char *b;

		while (cap < d->mlen + n)
			cap *= 2;
		if (cap > c->cfg.mask_limit)
			cap = c->cfg.mask_limit;
		b = realloc(d->mbuf, cap + 1); /* + a NUL for regexec */
		if (!b) { /* no memory to mask: hashed unmasked, as a part too long */
			stream_part(d, d->mbuf, d->mlen);
			XXH3_64bits_update(d->xs, p, n);
			return;
		}
		d->mbuf = b;
		d->mcap = cap;
	}
	memcpy(d->mbuf + d->mlen, p, n);
	d->mlen += n;
}

/* The current part of side d ended (when it has bytes: a 0-byte part is no part). */
static void part_end(struct pk_rcmp *c, struct side *d)
{
	uint32_t p = d->cur.nparts;
	uint64_t h;

	if (d->part_bytes == 0)
		return;
	if (d->nohash)
		h = 0; /* hashed again if a clone leaves the fast way (prod_rehash) */
	else if (d->streaming)
		h = XXH3_64bits_digest(d->xs);
	else if (c->masks)
		h = XXH3_64bits(d->mbuf, hash_masked(c, d, d->mbuf, d->mlen));
	else
		h = XXH3_64bits(d->small, d->slen);
	d->mlen = 0;
	d->slen = 0;
	d->streaming = false;
	d->part_bytes = 0;
	d->cur.nparts++;
	if (d->bagging) {
		d->cur.bag += XXH3_64bits_digest(d->bs);
		XXH3_64bits_reset(d->bs);
		d->bag_at = BAG_LINE;
	}
	if (p < PK_RCMP_MAX_PARTS)
		d->cur.hash[p] = h;
	else /* folds into the last hash, in order */
		d->cur.hash[PK_RCMP_MAX_PARTS - 1] =
			(d->cur.hash[PK_RCMP_MAX_PARTS - 1] ^ h) * FOLD_PRIME + p;
}

/* The response side idx was framing ended: into its slot, and decide. */
static void message_end(struct pk_rcmp *c, int idx)
{
	struct side *d = &c->side[idx];
	uint64_t k = d->nresp++;
	struct slot *s;

	part_end(c, d);
	d->cur.flags = d->m.flags;
	d->cur.done = true;
	d->cur.end = d->framed;
	if (idx == PROD || clone_active(d)) {
		unsigned rehashes = c->rehashes;

		s = get_slot(c, k);
		if (idx == PROD && c->rehashes != rehashes)
			return; /* making room framed production again, this message too: stored */
		if (s && (idx == PROD || clone_active(d)))
			summary_copy(&s->sum[idx], &d->cur);
	}
	d->cur.nparts = 0;
	d->cur.bag = 0;
	d->bagging = false;
	d->bag_at = BAG_LINE;
	d->cur.flags = 0;
	d->cur.done = false;
	d->cur.excerpt_len = 0;
	d->msg_bytes = 0;
	d->part_bytes = 0;
	if (k == c->base) /* (a later slot's change leaves the oldest waiting) */
		decide_front(c);
}

/* Stops the comparison: production's or the client's stream can no longer be framed. */
static void stop(struct pk_rcmp *c)
{
	c->stopped = true;
	c->count = 0;
}

/* Side idx's framer is lost. */
static void side_lost(struct pk_rcmp *c, int idx)
{
	struct side *d = &c->side[idx];

	if (idx == PROD) {
		stop(c);
		return;
	}
	if (!clone_active(d) || d->lost_pending)
		return;
	d->lost_pending = true;
	d->lost_at = d->nresp;
	decide_front(c);
}

/* ---- the public functions ---- */

struct pk_rcmp *pk_rcmp_new(const struct pk_rcmp_config *cfg, int nclones, uint64_t conn,
			    const struct pk_rcmp_sink *sink)
{
	struct pk_rcmp *c;

	if (!cfg || nclones < 1 || nclones > PK_RCMP_MAX_CLONES || (cfg->nignore && !cfg->ignore)) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c) + (size_t)(1 + nclones) * sizeof(c->side[0]));
	if (!c)
		goto fail;
	c->cfg = *cfg;
	if (!c->cfg.max_pending)
		c->cfg.max_pending = PK_RCMP_DEFAULT_MAX_PENDING;
	if (!c->cfg.mask_limit)
		c->cfg.mask_limit = PK_RCMP_DEFAULT_MASK_LIMIT;
	if (sink)
		c->sink = *sink;
	c->conn = conn;
	c->nclones = nclones;
	c->masks = cfg->nignore > 0 || (cfg->proto == PK_PROTO_HTTP && !cfg->no_default_ignore);
	c->slot_size = sizeof(struct slot) + (size_t)(1 + nclones) * sizeof(struct summary);
	c->slot_size = (c->slot_size + 7) & ~(size_t)7;
	pk_msgr_init(&c->rq, cfg->proto, false);
	for (int i = 1; i <= nclones && cfg->proto == PK_PROTO_RESP && !c->masks; i++) {
		c->side[i].fast = true; /* see "the fast way" */
		c->nfast++;
	}
	c->side[PROD].nohash = c->nfast > 0;
	for (int i = 0; i <= nclones; i++) {
		struct side *d = &c->side[i];

		pk_msgr_init(&d->m, cfg->proto, true);
		d->xs = XXH3_createState();
		if (!d->xs || XXH3_64bits_reset(d->xs) != XXH_OK)
			goto free_c;
	}
	if (cfg->proto == PK_PROTO_NONE) { /* one request: the whole client stream */
		struct slot *s = get_slot(c, 0);

		if (!s)
			goto free_c;
		s->req_known = true;
		c->nreq = c->nreq_slots = 1;
	}
	return c;
free_c:
	pk_rcmp_free(c);
fail:
	errno = ENOMEM;
	return NULL;
}

void pk_rcmp_free(struct pk_rcmp *c)
{
	if (!c)
		return;
	for (int i = 0; i <= c->nclones; i++) {
		XXH3_freeState(c->side[i].xs);
		XXH3_freeState(c->side[i].bs);
		free(c->side[i].mbuf);
		free(c->side[i].ahead);
	}
	free(c->ring);
	free(c->hold);
	free(c);
}

/* The request being framed ended. */
static void request_end(struct pk_rcmp *c)
{
	unsigned flags = c->rq.flags;
	uint64_t index = c->nreq++, k;
	uint8_t len = c->rq_len;
	struct slot *s;

	c->rq_len = 0;
	if (flags & PK_MSG_NO_RESPONSE)
		return;
	for (int i = 0; i <= c->nclones; i++)
		if (!c->side[i].m.lost && !c->side[i].fast)
			pk_msgr_expect(&c->side[i].m, flags);
	k = c->nreq_slots++;
	s = get_slot(c, k);
	if (!s)
		return;
	s->req_known = true;
	s->req_flags = flags;
	s->req_index = index;
	s->req_len = len;
	memcpy(s->req_excerpt, c->rq_excerpt, len);
	if (k == c->base) /* (a later slot's change leaves the oldest waiting) */
		decide_front(c);
}

typedef void feed_fn(struct pk_rcmp *c, int idx, const char *buf, size_t n);

/* Passes buf[0..n) to fn: at once, or for MySQL with every packet header whole in one call
 * (the bytes of a header cut by the chunk's end are held in ph until the rest comes). */
static void feed_packets(struct pk_rcmp *c, int idx, struct pkt_hdr *ph, const char *buf, size_t n,
			 feed_fn *fn)
{
	if (c->cfg.proto != PK_PROTO_MYSQL) {
		fn(c, idx, buf, n);
		return;
	}
	while (n > 0) {
		size_t take;

		if (ph->left == 0 && (ph->have > 0 || n < 4)) { /* a header: assemble it */
			take = (size_t)(4 - ph->have) < n ? (size_t)(4 - ph->have) : n;
			memcpy(ph->hdr + ph->have, buf, take);
			ph->have += (uint8_t)take;
			buf += take;
			n -= take;
			if (ph->have < 4)
				return;
			ph->have = 0;
			ph->left = ph->hdr[0] | ph->hdr[1] << 8 | (uint32_t)ph->hdr[2] << 16;
			fn(c, idx, (const char *)ph->hdr, 4);
			continue;
		}
		if (ph->left == 0) { /* a whole header here: it goes with what follows */
			ph->left = (uint8_t)buf[0] | (uint8_t)buf[1] << 8 |
				   (uint32_t)(uint8_t)buf[2] << 16;
			take = 4 + (ph->left < n - 4 ? ph->left : n - 4);
			ph->left -= (uint32_t)(take - 4);
		} else {
			take = ph->left < n ? ph->left : n;
			ph->left -= (uint32_t)take;
		}
		fn(c, idx, buf, take);
		buf += take;
		n -= take;
	}
}

/* Frames client bytes (idx unused). */
static void request_bytes(struct pk_rcmp *c, int idx, const char *buf, size_t n)
{
	(void)idx;
	while (n > 0 && !c->stopped) {
		enum pk_msg_event ev;
		size_t used = pk_msgr_feed(&c->rq, buf, n, &ev);

		if (used > n)
			used = n;
		excerpt_add(c->rq_excerpt, &c->rq_len, buf, used);
		buf += used;
		n -= used;
		if (ev == PK_MSG_LOST)
			stop(c);
		else if (ev == PK_MSG_END)
			request_end(c);
		else if (used == 0)
			break; /* no progress and no event: never loop on it */
	}
}

void pk_rcmp_request(struct pk_rcmp *c, const char *buf, size_t n)
{
	if (c->stopped)
		return;
	if (c->cfg.proto == PK_PROTO_NONE) {
		struct slot *s = c->count ? slot_at(c, c->base) : NULL;

		if (s && c->base == 0)
			excerpt_add(s->req_excerpt, &s->req_len, buf, n);
		return;
	}
	feed_packets(c, 0, &c->rq_ph, buf, n, request_bytes);
}

/* Handles one framer event of side idx. */
static void side_event(struct pk_rcmp *c, int idx, enum pk_msg_event ev)
{
	if (ev == PK_MSG_PART)
		part_end(c, &c->side[idx]);
	else if (ev == PK_MSG_END)
		message_end(c, idx);
	else if (ev == PK_MSG_LOST)
		side_lost(c, idx);
}

/* Tells whether side idx's bytes still matter. */
static bool side_listened(const struct pk_rcmp *c, int idx)
{
	const struct side *d = &c->side[idx];

	return !c->stopped && !d->finished && !d->m.lost && (idx == PROD || clone_active(d));
}

/* Frames side idx's bytes (production's: the fast clones that were ahead compare what they
 * kept after each of its events, as a framed clone's answer would be there already). */
static void response_bytes(struct pk_rcmp *c, int idx, const char *buf, size_t n)
{
	while (n > 0 && side_listened(c, idx)) {
		struct side *d = &c->side[idx];
		enum pk_msg_event ev;
		size_t used = pk_msgr_feed(&d->m, buf, n, &ev);

		if (used > n)
			used = n;
		if (ev != PK_MSG_LOST)
			part_bytes(c, d, buf, used);
		d->framed += used;
		buf += used;
		n -= used;
		side_event(c, idx, ev);
		if (idx == PROD && c->nahead > 0 && !c->replaying)
			fast_catch_up(c);
		if (used == 0 && ev != PK_MSG_END)
			break;
	}
}

/* ---- the fast way: a clone's answers that are production's bytes are not framed ----
 *
 * RESP without masks: while a clone sends exactly the bytes production sent, its responses are
 * production's (same parts, same hashes), so they need no framing of their own: its bytes are
 * compared with production's, held from the oldest response a fast clone has not matched whole
 * (at most HOLD_LIMIT bytes), and each response matched whole is production's (marked same in
 * its slot: production's summary stands for it, and its verdict is SAME at once).  A clone
 * that answers before production keeps the bytes production has not sent yet (at most
 * AHEAD_LIMIT) and compares them as production's are framed.  At the first byte that differs
 * (or past AHEAD_LIMIT), the clone leaves the fast way for good: its framer starts at its first
 * unmatched response, fed production's bytes from there (the clone sent the same), then the
 * clone's own. */

#define HOLD_LIMIT (4u << 20)
#define AHEAD_LIMIT (64u << 10)

/* Lets go of production's bytes that no fast clone may still need. */
static void hold_trim(struct pk_rcmp *c)
{
	uint64_t need = c->pbytes;

	for (int i = 1; i <= c->nclones; i++)
		if (c->side[i].fast && c->side[i].resp_from < need)
			need = c->side[i].resp_from;
	if (need <= c->hold_base)
		return;
	c->hold_skip += (size_t)(need - c->hold_base);
	c->hold_base = need;
	if (c->hold_base == c->pbytes)
		c->hold_skip = 0;
}

/* Production's byte at offset off (held). */
static const char *held(const struct pk_rcmp *c, uint64_t off)
{
	return c->hold + c->hold_skip + (size_t)(off - c->hold_base);
}

/* Sets how many bytes fast clone d keeps ahead of production (counting the clones that do). */
static void ahead_set(struct pk_rcmp *c, struct side *d, size_t n)
{
	c->nahead += (n > 0) - (d->ahead_len > 0);
	d->ahead_len = n;
}

/* d leaves the fast way without framing what it matched (it lags, or its stream ended). */
static void fast_leave(struct pk_rcmp *c, struct side *d)
{
	if (!d->fast)
		return;
	d->fast = false;
	c->nfast--;
	ahead_set(c, d, 0);
	hold_trim(c);
}

/* Starts d's framer afresh at the start of response k0 (a boundary), with the hints of the
 * requests from there. */
static void framer_restart(struct pk_rcmp *c, struct side *d, uint64_t k0)
{
	pk_msgr_init(&d->m, c->cfg.proto, true);
	for (uint64_t k = k0 > c->base ? k0 : c->base; k < c->base + c->count; k++) {
		const struct slot *s = slot_at(c, k);

		if (s->req_known)
			pk_msgr_expect(&d->m, s->req_flags);
	}
}

/* A clone leaves the fast way for the first time: production's responses from k0 on (they start
 * at offset from: the oldest a fast clone has not matched whole, as every fast clone may need
 * their hashes) are framed again from the held bytes, hashed this time, their summaries
 * replaced (a fast clone's matched responses are production's: clone_sum); production is hashed
 * from then on. */
static void prod_rehash(struct pk_rcmp *c, uint64_t from, uint64_t k0)
{
	struct side *p = &c->side[PROD];
	uint64_t to = p->framed; /* (production's bytes may be being framed: up to there) */
	bool ended = p->finished;

	p->nohash = false;
	c->rehashes++;
	framer_restart(c, p, k0);
	p->nresp = k0;
	p->framed = from;
	memset(&p->cur, 0, sizeof(p->cur));
	p->msg_bytes = p->part_bytes = 0;
	p->slen = 0;
	p->streaming = false;
	p->bagging = false;
	p->bag_at = BAG_LINE;
	p->finished = false; /* its stream may have ended already: framed again all the same */
	c->replaying = true;
	if (to > from)
		response_bytes(c, PROD, held(c, from), (size_t)(to - from));
	c->replaying = false;
	if (ended && side_listened(c, PROD) && pk_msgr_finish(&p->m) == PK_MSG_END)
		message_end(c, PROD);
	p->finished = ended;
	if (ended)
		decide_front(c); /* what production will never answer is dropped */
}

static void fast_stop(struct pk_rcmp *c, int idx)
{
	struct side *d = &c->side[idx];
	uint64_t from = d->resp_from, to = d->cbytes;

	if (!d->fast)
		return;
	if (c->side[PROD].nohash) { /* from the oldest response a fast clone has not matched */
		const struct side *o = d;

		for (int i = 1; i <= c->nclones; i++)
			if (c->side[i].fast && c->side[i].resp_from < o->resp_from)
				o = &c->side[i];
		prod_rehash(c, o->resp_from, o->nresp);
	}
	d->fast = false;
	c->nfast--;
	framer_restart(c, d, d->nresp);
	if (to > from) /* the hold is not moved while this runs: only hold_add() moves it */
		response_bytes(c, idx, held(c, from), (size_t)(to - from));
	if (d->ahead_len > 0) { /* then what it sent past production's bytes */
		size_t n = d->ahead_len;

		ahead_set(c, d, 0);
		response_bytes(c, idx, d->ahead, n);
	}
	hold_trim(c);
}

/* The responses of fast clone idx that its bytes matched whole take production's summaries. */
static void fast_settle(struct pk_rcmp *c, int idx)
{
	struct side *d = &c->side[idx];
	uint64_t first = d->nresp;

	while (d->nresp >= c->base && d->nresp < c->base + c->count) {
		struct slot *s = slot_at(c, d->nresp);
		const struct summary *prod = &s->sum[PROD];

		if (!prod->done || prod->end > d->cbytes)
			break;
		s->sum[idx].done = s->sum[idx].same = true;
		d->resp_from = prod->end;
		d->nresp++;
	}
	if (d->nresp > first && first == c->base)
		decide_front(c);
}

/* Keeps production's bytes buf[0..n) for the fast clones (the slowest leave the fast way when
 * more than HOLD_LIMIT would be held). */
static void hold_add(struct pk_rcmp *c, const char *buf, size_t n)
{
	size_t len;

	while (c->nfast > 0 && (size_t)(c->pbytes - c->hold_base) + n > HOLD_LIMIT) {
		int slowest = 0;

		for (int i = 1; i <= c->nclones; i++)
			if (c->side[i].fast &&
			    (!slowest || c->side[i].resp_from < c->side[slowest].resp_from))
				slowest = i;
		fast_stop(c, slowest);
	}
	if (c->nfast == 0)
		return;
	len = (size_t)(c->pbytes - c->hold_base);
	if (c->hold_skip + len + n > c->hold_cap) {
		if (c->hold_skip > 0) {
			memmove(c->hold, c->hold + c->hold_skip, len);
			c->hold_skip = 0;
		}
		if (len + n > c->hold_cap) {
			size_t cap = c->hold_cap ? c->hold_cap : 4096;
			char *b;

			while (cap < len + n)
				cap *= 2;
			b = realloc(c->hold, cap);
			if (!b) { /* no memory to hold: every clone is framed */
				for (int i = 1; i <= c->nclones; i++)
					fast_stop(c, i);
				return;
			}
			c->hold = b;
			c->hold_cap = cap;
		}
	}
	memcpy(c->hold + c->hold_skip + len, buf, n);
}

/* Compares fast clone idx's bytes buf[0..n) that follow its matched ones with production's held
 * bytes up to offset limit; returns how many matched (the rest, past limit, is ahead); *diff
 * tells whether they differ at the byte after. */
static size_t fast_match(struct pk_rcmp *c, int idx, const char *buf, size_t n, uint64_t limit,
			 bool *diff)
{
	struct side *d = &c->side[idx];
	size_t eq = limit - d->cbytes < n ? (size_t)(limit - d->cbytes) : n, m = eq;
	const char *h = eq > 0 ? held(c, d->cbytes) : NULL;

	if (eq > 0 && memcmp(h, buf, eq) != 0)
		for (m = 0; h[m] == buf[m]; m++)
			;
	d->cbytes += m;
	*diff = m < eq;
	fast_settle(c, idx);
	return m;
}

/* Keeps fast clone idx's bytes buf[0..n) that production has not sent yet (a clone may answer
 * first); past AHEAD_LIMIT it is framed instead. */
static void fast_ahead(struct pk_rcmp *c, int idx, const char *buf, size_t n)
{
	struct side *d = &c->side[idx];

	if (d->ahead_len + n > d->ahead_cap && d->ahead_len + n <= AHEAD_LIMIT) {
		size_t cap = d->ahead_cap ? d->ahead_cap : 1024;
		char *b;

		while (cap < d->ahead_len + n)
			cap *= 2;
		b = realloc(d->ahead, cap);
		if (b) {
			d->ahead = b;
			d->ahead_cap = cap;
		}
	}
	if (d->ahead_len + n > d->ahead_cap) { /* too far ahead, or no memory: framed */
		fast_stop(c, idx);
		response_bytes(c, idx, buf, n);
		return;
	}
	memcpy(d->ahead + d->ahead_len, buf, n);
	ahead_set(c, d, d->ahead_len + n);
}

/* Fast clone idx sent buf[0..n). */
static void fast_bytes(struct pk_rcmp *c, int idx, const char *buf, size_t n)
{
	struct side *d = &c->side[idx];
	bool diff = false;
	size_t m = d->ahead_len > 0 ? 0 : fast_match(c, idx, buf, n, c->pbytes, &diff);

	if (diff && d->fast) { /* a difference */
		fast_stop(c, idx);
		response_bytes(c, idx, buf + m, n - m);
	} else if (m < n && d->fast) { /* ahead of production */
		fast_ahead(c, idx, buf + m, n - m);
	}
	hold_trim(c);
}

/* Production framed more: the fast clones that were ahead compare what they kept with it. */
static void fast_catch_up(struct pk_rcmp *c)
{
	for (int i = 1; i <= c->nclones && c->nahead > 0; i++) {
		struct side *d = &c->side[i];
		bool diff = false;
		size_t m;

		if (!d->fast || d->ahead_len == 0 || !side_listened(c, i))
			continue;
		m = fast_match(c, i, d->ahead, d->ahead_len, c->side[PROD].framed, &diff);
		memmove(d->ahead, d->ahead + m, d->ahead_len - m);
		ahead_set(c, d, d->ahead_len - m);
		if (diff)
			fast_stop(c, i); /* frames what it kept from the difference on */
	}
	hold_trim(c);
}

void pk_rcmp_response(struct pk_rcmp *c, int side, const char *buf, size_t n)
{
	int idx = side + 1;

	if (side < PK_RCMP_PROD || side >= c->nclones || n == 0)
		return;
	if (idx == PROD) {
		if (c->nfast > 0)
			hold_add(c, buf, n);
		c->pbytes += n;
	} else if (c->side[idx].fast) {
		if (side_listened(c, idx))
			fast_bytes(c, idx, buf, n);
		return;
	}
	feed_packets(c, idx, &c->side[idx].ph, buf, n, response_bytes);
}

void pk_rcmp_finish(struct pk_rcmp *c, int side)
{
	int idx = side + 1;
	struct side *d;

	if (side < PK_RCMP_PROD || side >= c->nclones)
		return;
	d = &c->side[idx];
	if (side_listened(c, idx))
		fast_stop(c, idx); /* its last response is framed, to end (or be cut short) there */
	if (side_listened(c, idx)) {
		enum pk_msg_event ev = pk_msgr_finish(&d->m);

		if (ev == PK_MSG_END)
			message_end(c, idx);
	}
	d->finished = true;
	decide_front(c);
}

void pk_rcmp_lag(struct pk_rcmp *c, int clone, const char *reason)
{
	if (clone < 0 || clone >= c->nclones)
		return;
	lag(c, clone, reason);
}

int pk_rcmp_report_json(const struct pk_rcmp_report *r, const char *target, double time_s,
			struct pk_strbuf *out)
{
	char num[64];
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;
	bool ok = o != NULL;

	snprintf(num, sizeof(num), "%.6f", isfinite(time_s) ? time_s : 0.0);
	ok = ok && cJSON_AddRawToObject(o, "time", num);
	ok = ok && cJSON_AddStringToObject(o, "target", target ? target : "");
	snprintf(num, sizeof(num), "%" PRIu64, r->conn);
	ok = ok && cJSON_AddRawToObject(o, "conn", num);
	snprintf(num, sizeof(num), "%" PRIu64, r->request);
	ok = ok && cJSON_AddRawToObject(o, "request", num);
	ok = ok && cJSON_AddStringToObject(o, "verdict", pk_rcmp_verdict_name(r->verdict));
	ok = ok && cJSON_AddStringToObject(o, "reason", r->reason ? r->reason : "");
	if (r->part >= 0) {
		snprintf(num, sizeof(num), "%d", r->part);
		ok = ok && cJSON_AddRawToObject(o, "part", num);
	} else {
		ok = ok && cJSON_AddNullToObject(o, "part");
	}
	snprintf(num, sizeof(num), "%" PRIu64, r->requests);
	ok = ok && cJSON_AddRawToObject(o, "requests", num);
	ok = ok && cJSON_AddStringToObject(o, "request_excerpt", r->request_excerpt);
	ok = ok && cJSON_AddStringToObject(o, "production_excerpt", r->production_excerpt);
	ok = ok && cJSON_AddStringToObject(o, "clone_excerpt", r->clone_excerpt);
	text = ok ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!text)
		return -ENOMEM;
	pk_strbuf_append(out, text, strlen(text));
	pk_strbuf_append(out, "\n", 1);
	free(text);
	return pk_strbuf_ok(out) ? 0 : -ENOMEM;
}
