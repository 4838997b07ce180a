/* trace.h — the wire format between libparikshan_trace.so (preloaded into every process of a
 * traced service) and `parikshan trace logd` (the log daemon).  This is a wire format:
 * fixed-width little-endian fields, explicit padding, a version; logd treats every byte of it
 * as untrusted input.
 *
 * Each traced process (and each child after fork, and each image after exec) opens its own
 * connection to logd's Unix stream socket and sends frames: first one PK_TRACE_FRAME_HELLO
 * (struct pk_trace_hello), then PK_TRACE_FRAME_RECS frames of whole records.
 *
 *   +----------------------+
 *   | pk_trace_frame       |  magic, type, payload length, record count
 *   +----------------------+
 *   | payload              |  one pk_trace_hello, or count x pk_trace_rec
 *   +----------------------+
 *
 * A record is one call that moves request data or changes what a descriptor is: accept,
 * connect, read, write, close, fork, exec...  Its byte offset counts the bytes moved in that
 * direction on that descriptor before the call, since the library first saw the descriptor
 * (PK_TRACE_F_FROM_START when that was the connection's accept or connect), so that the two
 * sides of one TCP connection, in two processes, line up byte for byte.
 */
#ifndef PARIKSHAN_TRACE_H
#define PARIKSHAN_TRACE_H

#include <stdint.h>

#define PK_TRACE_MAGIC 0x31525450u /* "PTR1" little-endian */
#define PK_TRACE_VERSION 1
#define PK_TRACE_PEEK 64	      /* first bytes of a read or write kept in its record */
#define PK_TRACE_FRAME_MAX (1u << 20) /* largest payload of a frame */
#define PK_TRACE_EXE_MAX 256	      /* exe path in a hello, NUL-padded */
#define PK_TRACE_SOCK_DEFAULT "/run/parikshan/trace.sock"
#define PK_TRACE_ENV_SOCK "PARIKSHAN_TRACE_SOCK"    /* logd's socket (default above) */
#define PK_TRACE_ENV_LIB "PARIKSHAN_TRACE_LIB"	    /* the library's path, put back on exec */
#define PK_TRACE_ENV_SKEW "PARIKSHAN_TRACE_SKEW_MS" /* tests: added to this process's clock */
/* Attach mode: the library, loaded into a live process, reads logd's socket path from the file
 * PK_TRACE_ATTACH_DIR/<its pid> (in its own mount namespace; `trace attach` writes it and
 * removes it once loaded), else uses PK_TRACE_SOCK_DEFAULT.  The environment is not read. */
#define PK_TRACE_ATTACH_DIR "/run/parikshan/attach"

enum pk_trace_frame_type {
	PK_TRACE_FRAME_HELLO = 1, /* payload: one struct pk_trace_hello */
	PK_TRACE_FRAME_RECS = 2,  /* payload: count x struct pk_trace_rec */
};

struct pk_trace_frame {
	uint32_t magic; /* PK_TRACE_MAGIC */
	uint32_t type;	/* enum pk_trace_frame_type */
	uint32_t len;	/* payload bytes that follow, at most PK_TRACE_FRAME_MAX */
	uint32_t count; /* records in the payload (1 for a hello) */
};

/* Who is talking: sent once per connection to logd. */
struct pk_trace_hello {
	uint32_t version; /* PK_TRACE_VERSION */
	int32_t pid;	  /* as the process sees itself */
	int32_t ppid;	  /* its parent */
	uint32_t flags;	  /* PK_TRACE_HELLO_* */
	uint64_t mono_ns; /* CLOCK_MONOTONIC (+ the skew knob) when this hello was made */
	uint64_t real_ns; /* CLOCK_REALTIME at the same moment (wall time for outputs) */
	uint64_t dropped; /* records lost before this connection (logd absent, rings full) */
	char exe[PK_TRACE_EXE_MAX]; /* /proc/self/exe, NUL-padded (cut to fit) */
	char comm[16];		    /* /proc/self/comm, NUL-padded */
};

#define PK_TRACE_HELLO_FORKED 0x1u   /* a child after fork: same image as ppid's */
#define PK_TRACE_HELLO_EXECED 0x2u   /* a new image after execve in a traced process */
#define PK_TRACE_HELLO_ATTACHED 0x4u /* loaded into the live process (`trace attach`) */
/* attached through a memfd (no path in the process's file system): an image it execs is not
 * traced (LD_PRELOAD cannot name the library) */
#define PK_TRACE_HELLO_EXEC_UNTRACED 0x8u

/* What a record is. */
enum pk_trace_call {
	PK_TRACE_ACCEPT = 1, /* fd = the new connection; local/peer its endpoints */
	PK_TRACE_CONNECT,    /* fd connected (or connecting: ret -EINPROGRESS); endpoints */
	PK_TRACE_READ,	     /* read/recv/recvfrom/recvmsg/readv/SSL_read: ret bytes in */
	PK_TRACE_WRITE,	     /* write/send/sendto/sendmsg/writev/sendfile/SSL_write: out */
	PK_TRACE_CLOSE,	     /* fd closed (its last record) */
	PK_TRACE_SHUTDOWN,   /* shutdown(fd, arg) */
	PK_TRACE_FORK,	     /* arg = the child's pid (fork, vfork, clone without CLONE_VM) */
	PK_TRACE_EXEC,	     /* execve of peek (the path, cut); ret its result when it failed */
	PK_TRACE_DUP,	     /* fd duplicated into arg (dup, dup2, dup3, fcntl F_DUPFD) */
	PK_TRACE_DROPS,	     /* ret records this thread lost since its last DROPS record */
	PK_TRACE_STATIC,     /* exec of a statically linked program (peek: its path): its
				calls cannot be seen (no preload); reported, never silent */
	PK_TRACE_CALL_MAX
};

/* flags of a record */
#define PK_TRACE_F_TLS 0x01	   /* SSL_read/SSL_write: the plaintext of a TLS connection */
#define PK_TRACE_F_DGRAM 0x02	   /* a datagram socket (UDP): each record is one message */
#define PK_TRACE_F_FROM_START 0x04 /* offsets count from the connection's first byte */
#define PK_TRACE_F_SERVER 0x08	   /* this side accepted the connection */
#define PK_TRACE_F_CLIENT 0x10	   /* this side connected */
#define PK_TRACE_F_PEEK_CUT 0x20   /* the call moved more bytes than peek holds */

/* An endpoint: AF_INET (4 address bytes) or AF_INET6 (16), 0 when unknown (not a socket, or
 * a Unix socket: then port 0 and addr empty). */
struct pk_trace_addr {
	uint16_t family; /* AF_INET, AF_INET6, AF_UNIX or 0 */
	uint16_t port;	 /* host byte order */
	uint8_t addr[16];
};

/* One call: 144 bytes. */
struct pk_trace_rec {
	uint8_t call;	   /* enum pk_trace_call */
	uint8_t flags;	   /* PK_TRACE_F_* */
	uint16_t peek_len; /* bytes of peek used (<= PK_TRACE_PEEK) */
	uint32_t tid;	   /* the calling thread (as the process sees it) */
	uint64_t ts_ns;	   /* CLOCK_MONOTONIC at the call's return (+ the skew knob) */
	int32_t fd;
	int32_t arg;	 /* see enum pk_trace_call */
	int64_t ret;	 /* bytes moved, or -errno when the call failed */
	uint64_t offset; /* READ/WRITE: bytes moved that way on fd before this call */
	struct pk_trace_addr local, peer;
	uint8_t peek[PK_TRACE_PEEK]; /* the first bytes moved (READ/WRITE), a path (EXEC) */
};

#endif
