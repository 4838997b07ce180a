/* answers.c — which requests' answers may vary, by protocol (see answers.h). */
#include "proto/answers.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Redis commands whose answers vary: one table, by name (case-insensitive). */
#define CMD(name, kind)                                                                            \
	{                                                                                          \
		name, sizeof(name) - 1, PK_ANSWER_##kind                                           \
	}

static const struct {
	const char *name;
	size_t len;
	enum pk_answer_kind kind;
} resp_commands[] = {
	CMD("COMMAND", UNORDERED),    CMD("SMEMBERS", UNORDERED), CMD("SUNION", UNORDERED),
	CMD("SINTER", UNORDERED),     CMD("SDIFF", UNORDERED),	  CMD("HGETALL", UNORDERED),
	CMD("HKEYS", UNORDERED),      CMD("HVALS", UNORDERED),	  CMD("KEYS", UNORDERED),
	CMD("CONFIG", UNORDERED),     CMD("INFO", VOLATILE),	  CMD("TIME", VOLATILE),
	CMD("CLIENT", VOLATILE),      CMD("HELLO", VOLATILE),	  CMD("RANDOMKEY", VOLATILE),
	CMD("SRANDMEMBER", VOLATILE), CMD("SPOP", VOLATILE),	  CMD("HRANDFIELD", VOLATILE),
	CMD("ZRANDMEMBER", VOLATILE), CMD("SCAN", VOLATILE),	  CMD("SSCAN", VOLATILE),
	CMD("HSCAN", VOLATILE),	      CMD("ZSCAN", VOLATILE),	  CMD("MEMORY", VOLATILE),
	CMD("SLOWLOG", VOLATILE),     CMD("LATENCY", VOLATILE),	  CMD("LASTSAVE", VOLATILE),
	CMD("DEBUG", VOLATILE),	      CMD("OBJECT", VOLATILE),	  CMD("ROLE", VOLATILE),
	CMD("ACL", VOLATILE),	      CMD("MODULE", VOLATILE),
};

/* Substrings of a MySQL query (case-insensitive) that make its answer volatile. */
static const char *const mysql_volatile[] = {
	"now(",
	"sysdate(",
	"curdate(",
	"curtime(",
	"current_time",
	"current_date",
	"unix_timestamp(",
	"utc_time",
	"utc_date",
	"rand(",
	"uuid(",
	"uuid_short(",
	"connection_id(",
	"last_insert_id(",
	"show status",
	"show global status",
	"show session status",
	"show processlist",
	"show engine",
	"information_schema.processlist",
};

/* The command name of a RESP request: the first bulk string of an array, or the first word
 * of an inline command.  Sets *name and returns its length (0 when it is not in req). */
static size_t resp_name(const char *req, size_t n, const char **name)
{
	size_t i = 0, len = 0;

	if (n > 0 && req[0] == '*') {
		while (i < n && req[i] != '\n') /* "*N\r\n" */
			i++;
		if (++i >= n || req[i] != '$')
			return 0;
		while (i < n && req[i] != '\n') { /* "$L\r\n" */
			if (req[i] >= '0' && req[i] <= '9' && len < 1000)
				len = len * 10 + (size_t)(req[i] - '0');
			i++;
		}
		i++;
		if (i + len > n)
			return 0;
		*name = req + i;
		return len;
	}
	while (i < n && (req[i] == ' ' || req[i] == '\t'))
		i++;
	*name = req + i;
	while (i + len < n && req[i + len] != ' ' && req[i + len] != '\r' && req[i + len] != '\n')
		len++;
	return len;
}

static enum pk_answer_kind resp_kind(const char *req, size_t n)
{
	const char *name;
	size_t len = resp_name(req, n, &name);

	if (len < 3 || len > 11) /* the names of the table: 3 to 11 letters */
		return PK_ANSWER_EXACT;
	for (size_t i = 0; i < sizeof(resp_commands) / sizeof(resp_commands[0]); i++)
		if (resp_commands[i].len == len && (resp_commands[i].name[0] ^ name[0]) % 32 == 0 &&
		    strncasecmp(resp_commands[i].name, name, len) == 0)
			return resp_commands[i].kind;
	return PK_ANSWER_EXACT;
}

/* A MySQL command packet: 4 header bytes, the command byte, then (COM_QUERY 0x03) the query,
 * looked at lower-cased (its first bytes: at most QUERY_LOOK). */
#define QUERY_LOOK 256

static enum pk_answer_kind mysql_kind(const char *req, size_t n)
{
	char q[QUERY_LOOK + 1];
	size_t len;

	if (n < 5 || req[4] != 0x03)
		return PK_ANSWER_EXACT;
	len = n - 5 < QUERY_LOOK ? n - 5 : QUERY_LOOK;
	for (size_t i = 0; i < len; i++)
		q[i] = req[5 + i] ? (char)tolower((unsigned char)req[5 + i]) : ' ';
	q[len] = '\0';
	for (size_t i = 0; i < sizeof(mysql_volatile) / sizeof(mysql_volatile[0]); i++)
		if (strstr(q, mysql_volatile[i]))
			return PK_ANSWER_VOLATILE;
	return PK_ANSWER_EXACT;
}

enum pk_answer_kind pk_answer_kind(enum pk_proto proto, const char *req, size_t n)
{
	switch (proto) {
	case PK_PROTO_RESP:
		return resp_kind(req, n);
	case PK_PROTO_MYSQL:
		return mysql_kind(req, n);
	default:
		return PK_ANSWER_EXACT;
	}
}

const char *pk_answer_kind_name(enum pk_answer_kind k)
{
	static const char *const names[] = { "exact", "unordered", "volatile" };

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}
