/* answers.h — what an answer to a request may legitimately vary in, from the request alone:
 * protocol knowledge for the divergence checker (src/diverge), so that a real client's
 * routine requests (redis-cli's COMMAND DOCS at start, an INFO, a SELECT NOW()) are not taken
 * for a clone's changed behaviour.
 */
#ifndef PK_PROTO_ANSWERS_H
#define PK_PROTO_ANSWERS_H

#include <stddef.h>

#include "proto/proto.h"

enum pk_answer_kind {
	PK_ANSWER_EXACT = 0, /* the same request on the same state gets the same bytes */
	PK_ANSWER_UNORDERED, /* the same elements, in an order the server does not define
			      * (Redis: COMMAND, SMEMBERS, HGETALL, KEYS, CONFIG GET, ...) */
	PK_ANSWER_VOLATILE,  /* differs from one server (or moment) to the next by nature (Redis:
			      * INFO, TIME, CLIENT, SCAN, SRANDMEMBER, ...; MySQL: NOW(), RAND(),
			      * UUID(), CONNECTION_ID(), SHOW STATUS/PROCESSLIST, ...) */
};

/* Classifies the request whose first n bytes are req (a whole request, or its start: the
 * command name, or for MySQL the query text, must be in it), as the client sent it in proto.
 * EXACT when nothing is known. */
enum pk_answer_kind pk_answer_kind(enum pk_proto proto, const char *req, size_t n);

/* Returns a kind's name: "exact", "unordered", "volatile"; a static string. */
const char *pk_answer_kind_name(enum pk_answer_kind k);

#endif
