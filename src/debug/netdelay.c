/* netdelay.c — the userspace delayer (see netdelay.h): libmnl + libnetfilter_queue's netlink
 * helpers on one NFQUEUE, ppoll for the next due packet, iptables (through nsenter) for the
 * rule that sends packets to it.
 */
#include "debug/netdelay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "common/clock.h"
#include "common/errbuf.h"
#include "common/log.h"
#include "common/proc.h"
#include "debug/delayq.h"

#define ND_CHAIN "PK-FAULT"
#define ND_DEV "eth0"
#define ND_QUEUE 0
#define ND_RCVBUF (16 << 20) /* netlink receive buffer: ~100k packet notices (META copy) */
#define ND_IPT_TIMEOUT_MS 10000
#define ND_READY_TIMEOUT_MS 20000
#define ND_STOP_TIMEOUT_MS 10000
#define ND_BUF (MNL_SOCKET_BUFFER_SIZE * 8)

/* Runs `nsenter -t PID -n iptables -w -t mangle WORDS...` (at most 8 words). */
static int ipt(int pid, const char *const words[], char *err, size_t errlen)
{
	char pidbuf[16];
	char *argv[24] = { "nsenter", "-t", pidbuf, "-n", "iptables", "-w", "-t", "mangle" };
	int i = 8;

	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
	for (int j = 0; words[j] && i < 23; j++)
		argv[i++] = (char *)words[j];
	argv[i] = NULL;
	return pk_proc_check(argv, ND_IPT_TIMEOUT_MS, err, errlen);
}

/* Removes the chain and its jump, as far as they are there. */
static void rules_del(int pid)
{
	static const char *const del[] = {
		"-D", "POSTROUTING", "-o", ND_DEV, "-j", ND_CHAIN, NULL
	};
	static const char *const flush[] = { "-F", ND_CHAIN, NULL };
	static const char *const drop[] = { "-X", ND_CHAIN, NULL };

	for (int i = 0; i < 8 && ipt(pid, del, NULL, 0) == 0; i++)
		;
	if (ipt(pid, flush, NULL, 0) == 0)
		ipt(pid, drop, NULL, 0);
}

static int rules_add(int pid, char *err, size_t errlen)
{
	static const char *const steps[][8] = {
		{ "-N", ND_CHAIN, NULL },
		{ "-A", ND_CHAIN, "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass", NULL },
		{ "-A", "POSTROUTING", "-o", ND_DEV, "-j", ND_CHAIN, NULL },
	};

	rules_del(pid);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int rc = ipt(pid, steps[i], err, errlen);

		if (rc) {
			rules_del(pid);
			return rc;
		}
	}
	return 0;
}

/* The delayer's state in the daemon. */
struct nd {
	const struct pk_fault_net *net;
	struct mnl_socket *nl;
	unsigned int portid, seq;
	struct pk_delayq q;
	uint64_t rng;
	char *vbuf; /* verdicts waiting to be sent, one batch */
	struct mnl_nlmsg_batch *batch;
	uint64_t held, dropped, at_once, overflow;
	int err; /* the first send error */
};

/* Sends one configuration message and waits for the kernel's acknowledgement. */
static int nl_config(struct nd *d, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++d->seq;
	if (mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(d->nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	return mnl_cb_run(buf, (size_t)n, d->seq, d->portid, NULL, NULL) < 0 ? -errno : 0;
}

/* Binds queue ND_QUEUE: packet ids only, large GSO packets unsplit, fail-open when full. */
static int nd_bind(struct nd *d, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int one = 1, size = ND_RCVBUF, rc;

	d->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!d->nl || mnl_socket_bind(d->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return pk_errbuf_set(-errno, err, errlen, "netlink (nfnetlink_queue): %s",
				     strerror(errno));
	d->portid = mnl_socket_get_portid(d->nl);
	if (setsockopt(mnl_socket_get_fd(d->nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		(void)setsockopt(mnl_socket_get_fd(d->nl), SOL_SOCKET, SO_RCVBUF, &size,
				 sizeof(size));
	(void)mnl_socket_setsockopt(d->nl, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, ND_QUEUE);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	rc = nl_config(d, nlh);
	if (rc)
		return pk_errbuf_set(rc, err, errlen, "bind NFQUEUE %d: %s%s", ND_QUEUE,
				     strerror(-rc),
				     rc == -EBUSY ? " (another delayer holds it)" : "");
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, ND_QUEUE);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_META, 0);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, PK_NETDELAY_MAX_QUEUED);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	rc = nl_config(d, nlh);
	if (rc)
		return pk_errbuf_set(rc, err, errlen, "configure NFQUEUE %d: %s", ND_QUEUE,
				     strerror(-rc));
	return fcntl(mnl_socket_get_fd(d->nl), F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
}

/* Sends the verdicts gathered so far. */
static void flush_verdicts(struct nd *d)
{
	size_t len = mnl_nlmsg_batch_size(d->batch);

	if (len && mnl_socket_sendto(d->nl, mnl_nlmsg_batch_head(d->batch), len) < 0 && !d->err)
		d->err = -errno;
	mnl_nlmsg_batch_reset(d->batch);
}

/* Adds the verdict on packet id to the batch (sending it first when it is full). */
static void verdict(struct nd *d, uint32_t id, int v)
{
	struct nlmsghdr *nlh =
		nfq_nlmsg_put(mnl_nlmsg_batch_current(d->batch), NFQNL_MSG_VERDICT, ND_QUEUE);

	nfq_nlmsg_verdict_put(nlh, (int)id, v);
	/* full: send the ones before it (reset then moves this one to the head) */
	if (!mnl_nlmsg_batch_next(d->batch))
		flush_verdicts(d);
}

/* One packet notice from the kernel: its fate. */
static int on_packet(const struct nlmsghdr *nlh, void *data)
{
	struct nd *d = data;
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	struct nfqnl_msg_packet_hdr *ph;
	uint64_t now = pk_now_ns(), due = 0;
	uint32_t id;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return MNL_CB_OK; /* not a packet: nothing to answer */
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);
	switch (pk_delayq_decide(d->net, &d->rng, now, &due)) {
	case PK_DELAY_DROP:
		d->dropped++;
		verdict(d, id, NF_DROP);
		break;
	case PK_DELAY_NOW:
		d->at_once++;
		verdict(d, id, NF_ACCEPT);
		break;
	case PK_DELAY_HOLD:
		if (pk_delayq_push(&d->q, id, due) == 0) {
			d->held++;
			break;
		}
		d->overflow++; /* past the limit (or out of memory): lost, as in netem */
		verdict(d, id, NF_DROP);
		break;
	}
	return MNL_CB_OK;
}

/* Reads every packet notice there is.  Returns 0, or -errno of a lost socket. */
static int read_packets(struct nd *d, char *buf)
{
	for (int i = 0; i < 256; i++) {
		ssize_t n = mnl_socket_recvfrom(d->nl, buf, ND_BUF);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR || errno == ENOBUFS ? 0 : -errno;
		(void)mnl_cb_run(buf, (size_t)n, 0, d->portid, on_packet, d);
	}
	return 0;
}

/* Lets every held packet go whose time has come (all of them when all). */
static void release_due(struct nd *d, bool all)
{
	uint32_t id;

	while (pk_delayq_pop_due(&d->q, all ? UINT64_MAX : pk_now_ns(), &id))
		verdict(d, id, NF_ACCEPT);
	flush_verdicts(d);
}

/* The daemon's loop until SIGTERM (sfd) or the clone's end (pidfd). */
static int serve(struct nd *d, int sfd, int pidfd)
{
	char *buf = malloc(ND_BUF);
	struct pollfd p[3] = {
		{ .fd = mnl_socket_get_fd(d->nl), .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = pidfd, .events = POLLIN },
	};
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (!rc) {
		uint64_t next = pk_delayq_next_due(&d->q), now = pk_now_ns();
		struct timespec ts, *tp = NULL;

		if (next) {
			uint64_t wait = next > now ? next - now : 0;

			ts = (struct timespec){ .tv_sec = (time_t)(wait / 1000000000u),
						.tv_nsec = (long)(wait % 1000000000u) };
			tp = &ts;
		}
		if (ppoll(p, 3, tp, NULL) < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (p[1].revents || p[2].revents)
			break;
		if (p[0].revents)
			rc = read_packets(d, buf);
		release_due(d, false);
		if (!rc && d->err)
			rc = d->err;
	}
	free(buf);
	return rc;
}

/* The daemon: enters pid's network namespace, binds, installs, tells ready_fd, serves. */
static int daemon_main(int pid, const struct pk_fault_net *n, int ready_fd)
{
	char err[256] = "", path[64];
	struct nd d = { .net = n, .rng = (uint64_t)pk_now_ns() ^ ((uint64_t)getpid() << 32) };
	int nsfd, pidfd, sfd, rc;
	sigset_t set;

	d.q.max = n->limit ? n->limit : PK_FAULT_LIMIT_DEFAULT;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	pidfd = pidfd_open(pid, 0);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	d.vbuf = malloc(ND_BUF);
	d.batch = d.vbuf ? mnl_nlmsg_batch_start(d.vbuf, ND_BUF / 2) : NULL;
	if (sfd < 0 || pidfd < 0 || nsfd < 0 || !d.batch)
		rc = pk_errbuf_set(-errno, err, sizeof(err), "set up: %s", strerror(errno));
	else if (setns(nsfd, CLONE_NEWNET) < 0)
		rc = pk_errbuf_set(-errno, err, sizeof(err), "enter the clone's network: %s",
				   strerror(errno));
	else
		rc = nd_bind(&d, err, sizeof(err));
	if (!rc)
		rc = rules_add(pid, err, sizeof(err));
	if (write(ready_fd, rc ? err : "ok", rc ? strlen(err) : 2) < 0)
		rc = rc ? rc : -EPIPE;
	close(ready_fd);
	if (!rc) {
		pk_log(PK_LOG_INFO, "fault: delayer on %s of pid %d's network", ND_DEV, pid);
		rc = serve(&d, sfd, pidfd);
		release_due(&d, true);
		rules_del(pid);
		pk_log(rc ? PK_LOG_ERROR : PK_LOG_INFO,
		       "fault: delayer ends%s%s: %" PRIu64 " packets held, %" PRIu64
		       " lost (--loss), %" PRIu64 " sent at once, %" PRIu64
		       " dropped past the limit",
		       rc ? ": " : "", rc ? strerror(-rc) : "", d.held, d.dropped, d.at_once,
		       d.overflow);
	}
	if (d.nl)
		mnl_socket_close(d.nl);
	pk_delayq_release(&d.q);
	free(d.vbuf);
	return rc;
}

int pk_netdelay_start(int pid, const struct pk_fault_net *n, const char *log, pid_t *daemon,
		      uint64_t *start, char *err, size_t errlen)
{
	char msg[256];
	struct pollfd p;
	int fds[2], rc;
	ssize_t got;
	pid_t child;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return pk_errbuf_set(-errno, err, errlen, "pipe: %s", strerror(errno));
	child = pk_proc_fork_detached(log);
	if (child == 0) {
		close(fds[0]);
		_exit(daemon_main(pid, n, fds[1]) ? 1 : 0);
	}
	close(fds[1]);
	if (child < 0) {
		close(fds[0]);
		return pk_errbuf_set((int)child, err, errlen, "fork: %s", strerror((int)-child));
	}
	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	rc = poll(&p, 1, ND_READY_TIMEOUT_MS);
	got = rc > 0 ? read(fds[0], msg, sizeof(msg) - 1) : -1;
	close(fds[0]);
	msg[got > 0 ? got : 0] = '\0';
	if (got == 2 && memcmp(msg, "ok", 2) == 0 && pk_proc_start_time(child, start) == 0) {
		*daemon = child;
		return 0;
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	rules_del(pid);
	return pk_errbuf_set(-EIO, err, errlen, "the userspace delayer did not start: %s",
			     got > 0 ? msg : "it ended without a word (see its log)");
}

int pk_netdelay_stop(pid_t daemon, uint64_t start, int pid, char *err, size_t errlen)
{
	int fd = pk_proc_open_checked(daemon, start), rc = 0;

	if (fd >= 0) {
		rc = pk_proc_stop(fd, ND_STOP_TIMEOUT_MS);
		close(fd);
	}
	if (pid > 0)
		rules_del(pid);
	if (rc)
		return pk_errbuf_set(rc, err, errlen, "stop the delayer (pid %d): %s", (int)daemon,
				     strerror(-rc));
	return 0;
}
