/* test_container_docker.c — the Docker client without a Docker: inspect and list answers (a
 * real Docker 20.10 inspect of a running redis container, and that answer edited: stopped,
 * another storage driver, host or no networking, several networks, volumes, bind and tmpfs
 * mounts, published ports; missing fields, wrong types, strings and lists too long, garbage)
 * read and mapped onto a pk_ctr; the socket from $DOCKER_HOST; the GETs against a small HTTP
 * server this test runs on a Unix socket (200, 404, 500, nobody there); the OCI config found
 * through a child's parent (this test) whose cwd holds config.json; and the whole resolve
 * through that server. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/http.h"
#include "container/docker.h"
#include "unit.h"

#define ID "52a1f5784e2cb3b95b45f9b30abea0d7606555df9cd1cbeae8ca1c930ea7ddb6"
#define LAYER                                                                                      \
	"/var/lib/pk-docker-try/overlay2/"                                                         \
	"8f607a9bb5e25a25b987da6c9337db48892e8f8f39d190ec2c3648fe42fcd1e5"
#define CTR_DIR "/var/lib/pk-docker-try/containers/" ID

/* `curl --unix-socket /run/pk-docker-try.sock http://d/v1.41/containers/pkweb/json` (Docker
 * 20.10.24), cut before the value of NetworkSettings.Networks, which INSPECT_NETS holds. */
#define INSPECT_HEAD                                                                               \
	"{\"Id\":\"52a1f5784e2cb3b95b45f9b30abea0d7606555df9cd1cbeae8ca1c930ea7ddb6\",\"Created"   \
	"\":\"2026-12-06T21:00:40.631165649Z\",\"Path\":\"/bin/redis-server\",\"Args\":[\"--pro"   \
	"tected-mode\",\"no\",\"--save\",\"\"],\"State\":{\"Status\":\"running\",\"Running\":tr"   \
	"ue,\"Paused\":false,\"Restarting\":false,\"OOMKilled\":false,\"Dead\":false,\"Pid\":25"   \
	"035,\"ExitCode\":0,\"Error\":\"\",\"StartedAt\":\"2026-12-06T21:00:40.987936185Z\",\"F"   \
	"inishedAt\":\"0001-01-01T00:00:00Z\"},\"Image\":\"sha256:97892e1f970be4bc68f6367fc2200"   \
	"7614be15d4b4046aa4f88113ebecfbd93f3\",\"ResolvConfPath\":\"/var/lib/pk-docker-try/cont"   \
	"ainers/52a1f5784e2cb3b95b45f9b30abea0d7606555df9cd1cbeae8ca1c930ea7ddb6/resolv.conf\","   \
	"\"HostnamePath\":\"/var/lib/pk-docker-try/containers/52a1f5784e2cb3b95b45f9b30abea0d76"   \
	"06555df9cd1cbeae8ca1c930ea7ddb6/hostname\",\"HostsPath\":\"/var/lib/pk-docker-try/cont"   \
	"ainers/52a1f5784e2cb3b95b45f9b30abea0d7606555df9cd1cbeae8ca1c930ea7ddb6/hosts\",\"LogP"   \
	"ath\":\"/var/lib/pk-docker-try/containers/52a1f5784e2cb3b95b45f9b30abea0d7606555df9cd1"   \
	"cbeae8ca1c930ea7ddb6/52a1f5784e2cb3b95b45f9b30abea0d7606555df9cd1cbeae8ca1c930ea7ddb6-"   \
	"json.log\",\"Name\":\"/pkweb\",\"RestartCount\":0,\"Driver\":\"overlay2\",\"Platform\""   \
	":\"linux\",\"MountLabel\":\"\",\"ProcessLabel\":\"\",\"AppArmorProfile\":\"\",\"ExecID"   \
	"s\":null,\"HostConfig\":{\"Binds\":null,\"ContainerIDFile\":\"\",\"LogConfig\":{\"Type"   \
	"\":\"json-file\",\"Config\":{}},\"NetworkMode\":\"default\",\"PortBindings\":{},\"Rest"   \
	"artPolicy\":{\"Name\":\"no\",\"MaximumRetryCount\":0},\"AutoRemove\":false,\"VolumeDri"   \
	"ver\":\"\",\"VolumesFrom\":null,\"CapAdd\":null,\"CapDrop\":null,\"CgroupnsMode\":\"ho"   \
	"st\",\"Dns\":[],\"DnsOptions\":[],\"DnsSearch\":[],\"ExtraHosts\":null,\"GroupAdd\":nu"   \
	"ll,\"IpcMode\":\"private\",\"Cgroup\":\"\",\"Links\":null,\"OomScoreAdj\":0,\"PidMode"    \
	"\":\"\",\"Privileged\":false,\"PublishAllPorts\":false,\"ReadonlyRootfs\":false,\"Secu"   \
	"rityOpt\":null,\"UTSMode\":\"\",\"UsernsMode\":\"\",\"ShmSize\":67108864,\"Runtime\":"    \
	"\"runc\",\"ConsoleSize\":[0,0],\"Isolation\":\"\",\"CpuShares\":0,\"Memory\":0,\"NanoC"   \
	"pus\":0,\"CgroupParent\":\"\",\"BlkioWeight\":0,\"BlkioWeightDevice\":[],\"BlkioDevice"   \
	"ReadBps\":[],\"BlkioDeviceWriteBps\":[],\"BlkioDeviceReadIOps\":[],\"BlkioDeviceWriteI"   \
	"Ops\":[],\"CpuPeriod\":0,\"CpuQuota\":0,\"CpuRealtimePeriod\":0,\"CpuRealtimeRuntime\""   \
	":0,\"CpusetCpus\":\"\",\"CpusetMems\":\"\",\"Devices\":[],\"DeviceCgroupRules\":null,"    \
	"\"DeviceRequests\":null,\"KernelMemory\":0,\"KernelMemoryTCP\":0,\"MemoryReservation\""   \
	":0,\"MemorySwap\":0,\"MemorySwappiness\":null,\"OomKillDisable\":false,\"PidsLimit\":n"   \
	"ull,\"Ulimits\":[],\"CpuCount\":0,\"CpuPercent\":0,\"IOMaximumIOps\":0,\"IOMaximumBand"   \
	"width\":0,\"MaskedPaths\":[\"/proc/asound\",\"/proc/acpi\",\"/proc/kcore\",\"/proc/key"   \
	"s\",\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_d"   \
	"ebug\",\"/proc/scsi\",\"/sys/firmware\"],\"ReadonlyPaths\":[\"/proc/bus\",\"/proc/fs\""   \
	",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]},\"GraphDriver\":{\"Data\":{\"Lo"   \
	"werDir\":\"/var/lib/pk-docker-try/overlay2/8f607a9bb5e25a25b987da6c9337db48892e8f8f39d"   \
	"190ec2c3648fe42fcd1e5-init/diff:/var/lib/pk-docker-try/overlay2/fdd823f6ba656475fd89e1"   \
	"467daf0faf85d16b97a720f1aa66089cda386b45ff/diff\",\"MergedDir\":\"/var/lib/pk-docker-t"   \
	"ry/overlay2/8f607a9bb5e25a25b987da6c9337db48892e8f8f39d190ec2c3648fe42fcd1e5/merged\","   \
	"\"UpperDir\":\"/var/lib/pk-docker-try/overlay2/8f607a9bb5e25a25b987da6c9337db48892e8f8"   \
	"f39d190ec2c3648fe42fcd1e5/diff\",\"WorkDir\":\"/var/lib/pk-docker-try/overlay2/8f607a9"   \
	"bb5e25a25b987da6c9337db48892e8f8f39d190ec2c3648fe42fcd1e5/work\"},\"Name\":\"overlay2"    \
	"\"},\"Mounts\":[],\"Config\":{\"Hostname\":\"52a1f5784e2c\",\"Domainname\":\"\",\"User"   \
	"\":\"\",\"AttachStdin\":false,\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":fa"   \
	"lse,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":[\"/bin/redis-server"    \
	"\",\"--protected-mode\",\"no\",\"--save\",\"\"],\"Image\":\"pk-test-redis:1\",\"Volume"   \
	"s\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":{}},\"Net"   \
	"workSettings\":{\"Bridge\":\"\",\"SandboxID\":\"e343f4bae40ea32e55f38a9fd89551408d41d7"   \
	"48153d88f579d0e09f5057f1b8\",\"HairpinMode\":false,\"LinkLocalIPv6Address\":\"\",\"Lin"   \
	"kLocalIPv6PrefixLen\":0,\"Ports\":{},\"SandboxKey\":\"/run/pk-docker-try/netns/e343f4b"   \
	"ae40e\",\"SecondaryIPAddresses\":null,\"SecondaryIPv6Addresses\":null,\"EndpointID\":"    \
	"\"dcddc5872b6ed806d80b40b3fa5282462f024ca6b30bd8ff3fa1d701f7f507a8\",\"Gateway\":\"172"   \
	".17.0.1\",\"GlobalIPv6Address\":\"\",\"GlobalIPv6PrefixLen\":0,\"IPAddress\":\"172.17."   \
	"0.2\",\"IPPrefixLen\":16,\"IPv6Gateway\":\"\",\"MacAddress\":\"02:42:ac:11:00:02\",\"N"   \
	"etworks\":"
#define INSPECT_NETS                                                                               \
	"{\"bridge\":{\"IPAMConfig\":null,\"Links\":null,\"Aliases\":null,\"NetworkID\":\"82f44"   \
	"b8b489e5983f61a2a4736b4965a29612620fa01b648f4113e07737b65f5\",\"EndpointID\":\"dcddc58"   \
	"72b6ed806d80b40b3fa5282462f024ca6b30bd8ff3fa1d701f7f507a8\",\"Gateway\":\"172.17.0.1\""   \
	",\"IPAddress\":\"172.17.0.2\",\"IPPrefixLen\":16,\"IPv6Gateway\":\"\",\"GlobalIPv6Addr"   \
	"ess\":\"\",\"GlobalIPv6PrefixLen\":0,\"MacAddress\":\"02:42:ac:11:00:02\",\"DriverOpts"   \
	"\":null}}"
#define INSPECT INSPECT_HEAD INSPECT_NETS "}}"

#define NET(name, ip, prefix, gw)                                                                  \
	"\"" name "\":{\"IPAMConfig\":null,\"Links\":null,\"Aliases\":null,\"NetworkID\":\"" ID    \
	"\",\"EndpointID\":\"\",\"Gateway\":\"" gw "\",\"IPAddress\":\"" ip                        \
	"\",\"IPPrefixLen\":" #prefix ",\"IPv6Gateway\":\"\",\"GlobalIPv6Address\":\"\","          \
	"\"GlobalIPv6PrefixLen\":0,\"MacAddress\":\"\",\"DriverOpts\":null}"

#define STATE_RUNNING                                                                              \
	"\"Status\":\"running\",\"Running\":true,\"Paused\":false,\"Restarting\":false,"           \
	"\"OOMKilled\":false,\"Dead\":false,\"Pid\":25035"
#define STATE_EXITED                                                                               \
	"\"Status\":\"exited\",\"Running\":false,\"Paused\":false,\"Restarting\":false,"           \
	"\"OOMKilled\":false,\"Dead\":false,\"Pid\":0"

#define MOUNT_VOLUME                                                                               \
	"{\"Type\":\"volume\",\"Name\":\"pkdata\",\"Source\":\"/var/lib/pk-docker-try/volumes/"    \
	"pkdata/_data\",\"Destination\":\"/"                                                       \
	"data\",\"Driver\":\"local\",\"Mode\":\"z\",\"RW\":true,"                                  \
	"\"Propagation\":\"\"}"
#define MOUNT_BIND                                                                                 \
	"{\"Type\":\"bind\",\"Source\":\"/srv/pk/conf\",\"Destination\":\"/etc/redis\","           \
	"\"Mode\":\"ro\",\"RW\":false,\"Propagation\":\"rprivate\"}"
#define MOUNT_TMPFS                                                                                \
	"{\"Type\":\"tmpfs\",\"Source\":\"\",\"Destination\":\"/run/cache\",\"Mode\":\"\","        \
	"\"RW\":true,\"Propagation\":\"\"}"

#define LIST                                                                                       \
	"[{\"Id\":\"52a1f5784e2cb3b95b45f9b30abea0d7606555df9cd1cbeae8ca1c930ea7ddb6\",\"Names"    \
	"\":[\"/pkweb\"],\"Image\":\"pk-test-redis:1\",\"ImageID\":\"sha256:97892e1f970be4bc68f"   \
	"6367fc22007614be15d4b4046aa4f88113ebecfbd93f3\",\"Command\":\"/bin/redis-server --prot"   \
	"ected-mode no --save \",\"Created\":1796590840,\"Ports\":[],\"Labels\":{},\"State\":\""   \
	"running\",\"Status\":\"Up 5 minutes\",\"HostConfig\":{\"NetworkMode\":\"default\"},\"N"   \
	"etworkSettings\":{\"Networks\":{\"bridge\":{\"IPAMConfig\":null,\"Links\":null,\"Alias"   \
	"es\":null,\"NetworkID\":\"82f44b8b489e5983f61a2a4736b4965a29612620fa01b648f4113e07737b"   \
	"65f5\",\"EndpointID\":\"dcddc5872b6ed806d80b40b3fa5282462f024ca6b30bd8ff3fa1d701f7f507"   \
	"a8\",\"Gateway\":\"172.17.0.1\",\"IPAddress\":\"172.17.0.2\",\"IPPrefixLen\":16,\"IPv6"   \
	"Gateway\":\"\",\"GlobalIPv6Address\":\"\",\"GlobalIPv6PrefixLen\":0,\"MacAddress\":\"0"   \
	"2:42:ac:11:00:02\",\"DriverOpts\":null}}},\"Mounts\":[]}]"

/* A copy of text with the first from replaced by to (the check fails when from is not in it);
 * the caller frees it. */
static char *subst(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *out;

	CHECK(at != NULL);
	if (!at)
		return strdup(text);
	if (asprintf(&out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from)) < 0)
		abort();
	return out;
}

/* subst() with the given text freed. */
static char *subst_free(char *text, const char *from, const char *to)
{
	char *out = subst(text, from, to);

	free(text);
	return out;
}

/* The inspect answer with nets as the value of NetworkSettings.Networks. */
static char *with_nets(const char *nets)
{
	char *out;

	if (asprintf(&out, "%s%s}}", INSPECT_HEAD, nets) < 0)
		abort();
	return out;
}

static int parse(const char *body, struct pk_docker_ctr *d, char *err)
{
	err[0] = '\0';
	return pk_docker_inspect_parse(body, strlen(body), d, err, PK_ERR_MAX);
}

/* Checks that body is refused with -EPROTO and a reason that holds why, and d left zeroed. */
static void refused(const char *body, const char *why)
{
	struct pk_docker_ctr d;
	char err[PK_ERR_MAX];
	int rc = parse(body, &d, err);

	if (rc != -EPROTO || !strstr(err, why))
		printf("  want \"%s\": rc %d, err \"%s\"\n", why, rc, err);
	CHECK_EQ_INT(rc, -EPROTO);
	CHECK(strstr(err, why) != NULL);
	CHECK(d.id[0] == '\0' && d.pid == 0 && d.nmounts == 0);
}

static void test_inspect_running(void)
{
	struct pk_docker_ctr d;
	struct pk_ctr c;
	char err[PK_ERR_MAX];

	CHECK_EQ_INT(parse(INSPECT, &d, err), 0);
	CHECK_STR(d.id, ID);
	CHECK_STR(d.name, "pkweb");
	CHECK_STR(d.image,
		  "sha256:97892e1f970be4bc68f6367fc22007614be15d4b4046aa4f88113ebecfbd93f3");
	CHECK_STR(d.status, "running");
	CHECK(d.running);
	CHECK_EQ_INT(d.pid, 25035);
	CHECK_STR(d.driver, "overlay2");
	CHECK_STR(d.merged, LAYER "/merged");
	CHECK_STR(d.upper, LAYER "/diff");
	CHECK_STR(d.work, LAYER "/work");
	CHECK_STR(d.lower,
		  LAYER "-init/diff:/var/lib/pk-docker-try/overlay2/"
			"fdd823f6ba656475fd89e1467daf0faf85d16b97a720f1aa66089cda386b45ff/diff");
	CHECK_STR(d.network_mode, "default");
	CHECK_EQ_INT(d.nnets, 1);
	CHECK_STR(d.nets[0].name, "bridge");
	CHECK_STR(d.nets[0].ip, "172.17.0.2");
	CHECK_EQ_INT(d.nets[0].prefix, 16);
	CHECK_STR(d.nets[0].gateway, "172.17.0.1");
	CHECK(!d.nets_more && !d.ports_more);
	CHECK_EQ_INT(d.nmounts, 0);
	CHECK_EQ_INT(d.nports, 0);
	CHECK_STR(d.resolv_conf, CTR_DIR "/resolv.conf");
	CHECK_STR(d.hostname_path, CTR_DIR "/hostname");
	CHECK_STR(d.hosts_path, CTR_DIR "/hosts");

	memset(&c, 0x5a, sizeof(c));
	CHECK_EQ_INT(pk_docker_ctr_map(&d, "pkweb", &c, err, sizeof(err)), 0);
	CHECK(c.source == NULL);
	CHECK_STR(c.ref, "docker:pkweb");
	CHECK_STR(c.name, "pkweb");
	CHECK_STR(c.id, ID);
	CHECK_EQ_INT(c.pid, 25035);
	CHECK_STR(c.ip, "172.17.0.2");
	CHECK_EQ_INT(c.prefix, 16);
	CHECK_STR(c.root, d.merged);
	CHECK_STR(c.lower, d.lower);
	CHECK_STR(c.upper, d.upper);
	CHECK_STR(c.config, "");
	CHECK_STR(c.trace_sock, "");
	CHECK_EQ_INT(c.nmounts, 0);
	/* named by its id: the ref as given, the name Docker's */
	CHECK_EQ_INT(pk_docker_ctr_map(&d, "52a1f5784e2c", &c, err, sizeof(err)), 0);
	CHECK_STR(c.ref, "docker:52a1f5784e2c");
	CHECK_STR(c.name, "pkweb");
	CHECK_EQ_INT(pk_docker_ctr_map(&d, "a b", &c, err, sizeof(err)), -EINVAL);
}

/* Blanks around the object (Docker ends its answer with a newline), and a buffer that is not
 * NUL-terminated: only len bytes are read. */
static void test_inspect_bounds(void)
{
	size_t n = strlen(INSPECT);
	char *copy = malloc(n + 3);
	struct pk_docker_ctr d;
	char err[PK_ERR_MAX];

	snprintf(copy, n + 3, " %s\n", INSPECT);
	CHECK_EQ_INT(pk_docker_inspect_parse(copy, n + 2, &d, err, sizeof(err)), 0);
	free(copy);
	copy = malloc(n);
	memcpy(copy, INSPECT, n); /* no NUL after it: ASan sees any read past len */
	CHECK_EQ_INT(pk_docker_inspect_parse(copy, n, &d, err, sizeof(err)), 0);
	CHECK_EQ_INT(pk_docker_inspect_parse(copy, n - 1, &d, err, sizeof(err)), -EPROTO);
	CHECK_STR(err, "Docker's inspect answer is not JSON");
	free(copy);
}

static void test_inspect_stopped(void)
{
	char *body = subst(INSPECT, STATE_RUNNING, STATE_EXITED);
	struct pk_docker_ctr d;
	struct pk_ctr c;
	char err[PK_ERR_MAX];

	CHECK_EQ_INT(parse(body, &d, err), 0);
	CHECK(!d.running);
	CHECK_EQ_INT(d.pid, 0);
	CHECK_STR(d.status, "exited");
	CHECK_EQ_INT(pk_docker_ctr_map(&d, "pkweb", &c, err, sizeof(err)), -ESRCH);
	CHECK(strstr(err, "Docker container 'pkweb' is not running") != NULL);
	free(body);
	/* paused: running in Docker's eyes, but frozen */
	body = subst(INSPECT, "\"Status\":\"running\"", "\"Status\":\"paused\"");
	CHECK_EQ_INT(parse(body, &d, err), 0);
	CHECK_EQ_INT(pk_docker_ctr_map(&d, "pkweb", &c, err, sizeof(err)), -ESRCH);
	free(body);
	/* running with no pid is not a state Docker reports */
	body = subst(INSPECT, "\"Pid\":25035", "\"Pid\":0");
	refused(body, "'State.Pid' is 0 for a running container");
	free(body);
}

static void test_not_overlay2(void)
{
	char *body = subst(INSPECT, "\"Name\":\"overlay2\"", "\"Name\":\"vfs\"");
	struct pk_docker_ctr d;
	struct pk_ctr c;
	char err[PK_ERR_MAX];

	body = subst_free(body, "\"GraphDriver\":{\"Data\":{",
			  "\"GraphDriver\":{\"Data\":null,\"X\":{");
	CHECK_EQ_INT(parse(body, &d, err), 0);
	CHECK_STR(d.driver, "vfs");
	CHECK_STR(d.merged, "");
	CHECK_EQ_INT(pk_docker_ctr_map(&d, "pkweb", &c, err, sizeof(err)), -ENOTSUP);
	CHECK_STR(err, "Docker container 'pkweb': storage driver vfs: only overlay2 can be cloned");
	free(body);
	body = subst(INSPECT, "\"Name\":\"overlay2\"", "\"Name\":\"devicemapper\"");
	body = subst_free(body, "\"LowerDir\"",
			  "\"DeviceId\":\"12\",\"DeviceSize\":\"10737418240\",\"L\"");
	CHECK_EQ_INT(parse(body, &d, err), 0);
	CHECK_STR(d.lower, "");
	CHECK_STR(d.merged, LAYER "/merged");
	CHECK_EQ_INT(pk_docker_ctr_map(&d, "pkweb", &c, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "storage driver devicemapper") != NULL);
	free(body);
	/* overlay2 without its dirs */
	body = subst(INSPECT, "\"GraphDriver\":{\"Data\":{",
		     "\"GraphDriver\":{\"Data\":null,\"X\":{");
	refused(body, "'GraphDriver.Data' is missing");
	free(body);
}

static void test_host_and_no_network(void)
{
	static const struct {
		const char *mode, *net, *why;
	} cases[] = {
		{ "host", NET("host", "", 0, ""), "uses the host's network (--network host)" },
		{ "none", NET("none", "", 0, ""), "has no network (--network none)" },
		{ "container:" ID, "", "shares another container's network" },
		{ "default", NET("bridge", "", 0, ""),
		  "has no IPv4 address on any of its networks" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char mode[128], nets[1024], *body;
		struct pk_docker_ctr d;
		struct pk_ctr c;
		char err[PK_ERR_MAX];

		snprintf(mode, sizeof(mode), "\"NetworkMode\":\"%s\"", cases[i].mode);
		snprintf(nets, sizeof(nets), "{%s}", cases[i].net);
		body = subst_free(with_nets(nets), "\"NetworkMode\":\"default\"", mode);
		CHECK_EQ_INT(parse(body, &d, err), 0);
		CHECK_EQ_INT(d.nnets, cases[i].net[0] ? 1 : 0);
		CHECK_STR(d.nets[0].ip, "");
		CHECK_EQ_INT(pk_docker_ctr_map(&d, "pkweb", &c, err, sizeof(err)), -ENOTSUP);
		if (!strstr(err, cases[i].why))
			printf("  %s: \"%s\"\n", cases[i].mode, err);
		CHECK(strstr(err, cases[i].why) != NULL);
		CHECK(strstr(err, "Docker container 'pkweb' ") == err);
		free(body);
	}
}

/* One without an IPv4 address (IPv6 only), then two with one. */
#define THREE_NETS                                                                                 \
	"{" NET("v6only", "", 0, "") "," NET("pknet", "10.89.3.7", 24, "10.89.3.1") "," NET(       \
		"bridge", "172.17.0.2", 16, "172.17.0.1") "}"

static void test_networks(void)
{
	char *body = with_nets(THREE_NETS);
	struct pk_docker_ctr d;
	struct pk_ctr c;
	char err[PK_ERR_MAX], nets[8192];
	size_t off;

	CHECK_EQ_INT(parse(body, &d, err), 0);
	CHECK_EQ_INT(d.nnets, 3);
	CHECK_STR(d.nets[0].name, "v6only");
	CHECK_STR(d.nets[1].name, "pknet");
	CHECK_STR(d.nets[1].gateway, "10.89.3.1");
	CHECK_STR(d.nets[2].ip, "172.17.0.2");
	/* the first network with an IPv4 address, in the answer's order */
	CHECK_EQ_INT(pk_docker_ctr_map(&d, "pkweb", &c, err, sizeof(err)), 0);
	CHECK_STR(c.ip, "10.89.3.7");
	CHECK_EQ_INT(c.prefix, 24);
	free(body);
	/* more than kept: the first PK_DOCKER_NETS_MAX, and a mark */
	off = (size_t)snprintf(nets, sizeof(nets), "{");
	for (int i = 0; i < PK_DOCKER_NETS_MAX + 2; i++)
		off += (size_t)snprintf(nets + off, sizeof(nets) - off,
					"%s\"n%d\":{\"IPAddress\":\"10.0.%d.2\",\"IPPrefixLen\":24,"
					"\"Gateway\":\"\"}",
					i ? "," : "", i, i);
	snprintf(nets + off, sizeof(nets) - off, "}");
	body = with_nets(nets);
	CHECK_EQ_INT(parse(body, &d, err), 0);
	CHECK_EQ_INT(d.nnets, PK_DOCKER_NETS_MAX);
	CHECK(d.nets_more);
	CHECK_STR(d.nets[7].name, "n7");
	free(body);
}

static void test_mounts_and_ports(void)
{
	char *body = subst(INSPECT, "\"Mounts\":[]",
			   "\"Mounts\":[" MOUNT_VOLUME "," MOUNT_BIND "," MOUNT_TMPFS
			   ",{\"Type\":\"bind\",\"Source\":\"" CTR_DIR "/resolv.conf\","
			   "\"Destination\":\"/etc/resolv.conf\",\"Mode\":\"\",\"RW\":true,"
			   "\"Propagation\":\"rprivate\"}]");
	struct pk_docker_ctr d;
	struct pk_ctr c;
	char err[PK_ERR_MAX];

	body = subst_free(
		body, "\"Ports\":{}",
		"\"Ports\":{\"6379/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"16379\"},"
		"{\"HostIp\":\"::\",\"HostPort\":\"16379\"}],\"53/udp\":[{\"HostIp\":"
		"\"127.0.0.1\",\"HostPort\":\"5353\"}],\"8080/tcp\":null}");
	CHECK_EQ_INT(parse(body, &d, err), 0);
	CHECK_EQ_INT(d.nmounts, 4);
	CHECK_STR(d.mounts[0].kind, "volume");
	CHECK_STR(d.mounts[0].name, "pkdata");
	CHECK_STR(d.mounts[0].source, "/var/lib/pk-docker-try/volumes/pkdata/_data");
	CHECK_STR(d.mounts[0].dest, "/data");
	CHECK(d.mounts[0].rw);
	CHECK_STR(d.mounts[1].kind, "bind");
	CHECK_STR(d.mounts[1].name, "");
	CHECK_STR(d.mounts[1].source, "/srv/pk/conf");
	CHECK(!d.mounts[1].rw);
	CHECK_STR(d.mounts[2].kind, "tmpfs");
	CHECK_STR(d.mounts[2].source, "");
	CHECK_STR(d.mounts[2].dest, "/run/cache");
	CHECK_EQ_INT(d.nports, 3);
	CHECK_EQ_INT(d.ports[0].port, 6379);
	CHECK_STR(d.ports[0].proto, "tcp");
	CHECK_STR(d.ports[0].host_ip, "0.0.0.0");
	CHECK_EQ_INT(d.ports[0].host_port, 16379);
	CHECK_STR(d.ports[1].host_ip, "::");
	CHECK_EQ_INT(d.ports[2].port, 53);
	CHECK_STR(d.ports[2].proto, "udp");
	CHECK_EQ_INT(d.ports[2].host_port, 5353);
	/* Docker's own resolv.conf is not one of the container's mounts */
	CHECK_EQ_INT(pk_docker_ctr_map(&d, "pkweb", &c, err, sizeof(err)), 0);
	CHECK_EQ_INT(c.nmounts, 3);
	CHECK_STR(c.mounts[0].dest, "/data");
	CHECK_STR(c.mounts[1].dest, "/etc/redis");
	CHECK_STR(c.mounts[2].kind, "tmpfs");
	free(body);
}

static void test_too_many(void)
{
	char mounts[4096], ports[8192], *body;
	struct pk_docker_ctr d;
	char err[PK_ERR_MAX];
	size_t off = 0;

	for (int i = 0; i < PK_CTR_MOUNTS_MAX; i++)
		off += (size_t)snprintf(mounts + off, sizeof(mounts) - off, "%s" MOUNT_BIND,
					i ? "," : "\"Mounts\":[");
	snprintf(mounts + off, sizeof(mounts) - off, "]");
	body = subst(INSPECT, "\"Mounts\":[]", mounts);
	CHECK_EQ_INT(parse(body, &d, err), 0); /* as many as fit */
	CHECK_EQ_INT(d.nmounts, PK_CTR_MOUNTS_MAX);
	free(body);
	snprintf(mounts + off, sizeof(mounts) - off, "," MOUNT_TMPFS "]");
	body = subst(INSPECT, "\"Mounts\":[]", mounts);
	refused(body, "more than 16 mounts");
	free(body);
	off = (size_t)snprintf(ports, sizeof(ports), "\"Ports\":{");
	for (int i = 0; i < PK_DOCKER_PORTS_MAX + 5; i++)
		off += (size_t)snprintf(ports + off, sizeof(ports) - off,
					"%s\"%d/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"%d\"}]",
					i ? "," : "", 1000 + i, 2000 + i);
	snprintf(ports + off, sizeof(ports) - off, "}");
	body = subst(INSPECT, "\"Ports\":{}", ports);
	CHECK_EQ_INT(parse(body, &d, err), 0);
	CHECK_EQ_INT(d.nports, PK_DOCKER_PORTS_MAX);
	CHECK(d.ports_more);
	CHECK_EQ_INT(d.ports[31].host_port, 2031);
	free(body);
}

static void test_missing_and_wrong_fields(void)
{
	static const char *const cases[][3] = {
		{ "\"Id\":\"" ID "\"", "\"Identity\":1", "'Id' is missing" },
		{ "\"Id\":\"" ID "\"", "\"Id\":7", "'Id' is not a string" },
		{ "\"Id\":\"" ID "\"", "\"Id\":\"52A1\"", "'Id' is not 64 hex digits" },
		{ "\"Name\":\"/pkweb\"", "\"Name\":null", "'Name' is missing" },
		{ "\"Name\":\"/pkweb\"", "\"Name\":\"/\"", "'Name' is not a valid container name" },
		{ "\"Name\":\"/pkweb\"", "\"Name\":\"/pk web\"", "'Name' is not a valid" },
		{ "\"Name\":\"/pkweb\"", "\"Name\":\"/../x\"", "'Name' is not a valid" },
		{ "\"Image\":\"sha256", "\"Imagen\":\"sha256", "'Image' is missing" },
		{ "\"State\":{", "\"State\":[],\"S\":{", "'State' is not an object" },
		{ "\"Status\":\"running\"", "\"Status\":\"Running!\"",
		  "'State.Status' is not a word" },
		{ "\"Running\":true", "\"Running\":\"true\"", "'State.Running' is not a boolean" },
		{ "\"Pid\":25035", "\"Pid\":\"25035\"", "'State.Pid' is not a number" },
		{ "\"Pid\":25035", "\"Pid\":-1", "'State.Pid' is not a whole number in range" },
		{ "\"Pid\":25035", "\"Pid\":25035.5", "'State.Pid' is not a whole number" },
		{ "\"Pid\":25035", "\"Pid\":1e300", "'State.Pid' is not a whole number" },
		{ "\"Pid\":25035", "\"Pid\":4294967297", "'State.Pid' is not a whole number" },
		{ "\"GraphDriver\"", "\"GraphDrive\"", "'GraphDriver' is missing" },
		{ "\"Name\":\"overlay2\"", "\"Name\":\"\"", "'GraphDriver.Name' is not a word" },
		{ "\"Name\":\"overlay2\"", "\"Name\":2", "'GraphDriver.Name' is not a string" },
		{ "\"MergedDir\"", "\"Merged\"", "'GraphDriver.Data.MergedDir' is missing" },
		{ "\"UpperDir\":\"/", "\"UpperDir\":\"",
		  "'GraphDriver.Data.UpperDir' is not an absolute" },
		{ "\"WorkDir\":\"/var/lib/pk-docker-try/overlay2/"
		  "8f607a9bb5e25a25b987da6c9337db48892e8f8f39d190ec2c3648fe42fcd1e5/work\"",
		  "\"WorkDir\":\"\"", "'GraphDriver.Data.WorkDir' is empty" },
		{ "\"ResolvConfPath\":\"/", "\"ResolvConfPath\":\"",
		  "'ResolvConfPath' is not an absolute" },
		{ "\"HostConfig\":{", "\"HostConfig\":7,\"H\":{", "'HostConfig' is not an object" },
		{ "\"NetworkMode\":\"default\"", "\"NetworkMode\":[]",
		  "'HostConfig.NetworkMode' is not a string" },
		{ "\"NetworkSettings\"", "\"NetworkSetting\"", "'NetworkSettings' is missing" },
		{ "\"Gateway\":\"172.17.0.1\",\"IPAddress\":\"172.17.0.2\"",
		  "\"Gateway\":\"172.17.0.1\",\"IPAddress\":\"172.17.0.300\"",
		  "'NetworkSettings.Networks[0].IPAddress' is not an IPv4 address" },
		{ "\"Gateway\":\"172.17.0.1\",\"IPAddress\":\"172.17.0.2\"",
		  "\"Gateway\":\"172.17.0.1\",\"IPAddress\":\"fd00::2\"",
		  "is not an IPv4 address" },
		{ "\"Gateway\":\"172.17.0.1\",\"IPAddress\":\"172.17.0.2\"",
		  "\"Gateway\":\"172.17.0.1\",\"IPAddress\":null",
		  "'NetworkSettings.Networks[0].IPAddress' is missing" },
		{ "\"IPPrefixLen\":16,\"IPv6Gateway\":\"\",\"GlobalIPv6Address",
		  "\"IPPrefixLen\":33,\"IPv6Gateway\":\"\",\"GlobalIPv6Address",
		  "'NetworkSettings.Networks[0].IPPrefixLen' is not a whole number in range" },
		{ "\"Gateway\":\"172.17.0.1\",\"IPAddress\":\"172.17.0.2\",\"IPPrefixLen\":16,"
		  "\"IPv6",
		  "\"IPAddress\":\"172.17.0.2\",\"IPPrefixLen\":16,\"IPv6",
		  "'NetworkSettings.Networks[0].Gateway' is missing" },
		{ "{\"bridge\":{\"IPAMConfig\"", "{\"bridge\":7,\"x\":{\"IPAMConfig\"",
		  "'NetworkSettings.Networks[0]' is not an object" },
		{ "{\"bridge\":{\"IPAMConfig\"", "{\"\":{\"IPAMConfig\"",
		  "'NetworkSettings.Networks[0]' has an empty or too long name" },
		{ "\"Ports\":{}", "\"Ports\":[]", "'NetworkSettings.Ports' is not an object" },
		{ "\"Ports\":{}", "\"Ports\":{\"http\":null}",
		  "'NetworkSettings.Ports[0]' is not named" },
		{ "\"Ports\":{}", "\"Ports\":{\"0/tcp\":null}",
		  "is not named PORT/tcp, udp or sctp" },
		{ "\"Ports\":{}", "\"Ports\":{\"80/icmp\":null}", "is not named" },
		{ "\"Ports\":{}", "\"Ports\":{\"+80/tcp\":null}", "is not named" },
		{ "\"Ports\":{}", "\"Ports\":{\"80/tcp\":{}}",
		  "'NetworkSettings.Ports[0]' is not an array" },
		{ "\"Ports\":{}",
		  "\"Ports\":{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"99999\"}]}",
		  "'NetworkSettings.Ports[0][0].HostPort' is not a port" },
		{ "\"Ports\":{}", "\"Ports\":{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"80x\"}]}",
		  "'NetworkSettings.Ports[0][0].HostPort' is not a port" },
		{ "\"Ports\":{}", "\"Ports\":{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":80}]}",
		  "'NetworkSettings.Ports[0][0].HostPort' is not a string" },
		{ "\"Ports\":{}",
		  "\"Ports\":{\"80/tcp\":[{\"HostIp\":\"localhost\",\"HostPort\":\"80\"}]}",
		  "'NetworkSettings.Ports[0][0].HostIp' is not an IP address" },
		{ "\"Ports\":{}", "\"Ports\":{\"80/tcp\":[7]}",
		  "'NetworkSettings.Ports[0][0]' is not an object" },
		{ "\"Mounts\":[]", "\"Mounts\":{}", "'Mounts' is not an array" },
		{ "\"Mounts\":[]", "\"Mounts\":[7]", "'Mounts[0]' is not an object" },
		{ "\"Mounts\":[]",
		  "\"Mounts\":[{\"Type\":\"npipe\",\"Source\":\"/a\",\"Destination\":\"/"
		  "b\",\"RW\":true}]",
		  "'Mounts[0].Type' is not volume, bind or tmpfs" },
		{ "\"Mounts\":[]",
		  "\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"\",\"Destination\":\"/"
		  "b\",\"RW\":true}]",
		  "'Mounts[0].Source' is empty" },
		{ "\"Mounts\":[]",
		  "\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/"
		  "a\",\"Destination\":\"b\",\"RW\":true}]",
		  "'Mounts[0].Destination' is not an absolute path" },
		{ "\"Mounts\":[]",
		  "\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"/a\",\"Destination\":\"/b\"}]",
		  "'Mounts[0].RW' is missing" },
		{ "\"Mounts\":[]",
		  "\"Mounts\":[{\"Type\":\"volume\",\"Name\":[],\"Source\":\"/"
		  "a\",\"Destination\":\"/b\",\"RW\":true}]",
		  "'Mounts[0].Name' is not a string" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = subst(INSPECT, cases[i][0], cases[i][1]);

		refused(body, cases[i][2]);
		free(body);
	}
}

/* A string that does not fit is refused, never cut; one that just fits is taken. */
static void test_too_long(void)
{
	static const struct {
		const char *from, *to; /* @: a string of a's */
		size_t fits;	       /* the longest string that fits */
		const char *why;
	} cases[] = {
		{ "\"MergedDir\":\"" LAYER "/merged\"", "\"MergedDir\":\"/@\"", PK_CTR_PATH_MAX - 1,
		  "'GraphDriver.Data.MergedDir' is longer than 4095 bytes" },
		{ "\"Name\":\"/pkweb\"", "\"Name\":\"/@\"", PK_DOCKER_NAME_MAX + 1,
		  "'Name' is longer than 153 bytes" },
		{ "\"NetworkMode\":\"default\"", "\"NetworkMode\":\"/@\"", 255,
		  "'HostConfig.NetworkMode' is longer than 255 bytes" },
		{ "\"Mounts\":[]",
		  "\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/a\",\"Destination\":\"/"
		  "@\",\"RW\":true}]",
		  PK_CTR_MNT_PATH_MAX - 1, "'Mounts[0].Destination' is longer than 1023 bytes" },
		{ "\"Mounts\":[]",
		  "\"Mounts\":[{\"Type\":\"volume\",\"Name\":\"/@\",\"Source\":\"/"
		  "a\",\"Destination\":\"/d\",\"RW\":true}]",
		  127, "'Mounts[0].Name' is longer than 127 bytes" },
		{ "{\"bridge\":", "{\"/@\":", 127,
		  "'NetworkSettings.Networks[0]' has an empty or too long name" },
		{ "\"Image\":\"sha256:"
		  "97892e1f970be4bc68f6367fc22007614be15d4b4046aa4f88113ebecfbd93f3\"",
		  "\"Image\":\"/@\"", PK_DOCKER_IMAGE_MAX - 1, "'Image' is longer than 511 bytes" },
	};
	char *fill = malloc(PK_CTR_PATH_MAX + 2);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t extra = 0; extra < 2; extra++) {
			size_t n = cases[i].fits - 1 + extra; /* after the leading '/' */
			struct pk_docker_ctr d;
			char err[PK_ERR_MAX], *to, *body;
			int rc;

			memset(fill, 'a', n);
			fill[n] = '\0';
			to = subst(cases[i].to, "@", fill);
			body = subst(INSPECT, cases[i].from, to);
			if (extra) {
				refused(body, cases[i].why);
			} else {
				rc = parse(body, &d, err);
				if (rc)
					printf("  %s: %s\n", cases[i].why, err);
				CHECK_EQ_INT(rc, 0);
			}
			free(body);
			free(to);
		}
	}
	free(fill);
}

static void test_garbage(void)
{
	static const char *const cases[][2] = {
		{ "", "Docker's inspect answer is empty" },
		{ "   \n", "is not JSON" },
		{ "<html>502 Bad Gateway</html>", "is not JSON" },
		{ "null", "is not a JSON object" },
		{ "[]", "is not a JSON object" },
		{ "\"" ID "\"", "is not a JSON object" },
		{ "{}", "'Id' is missing" },
		{ "{\"Id\":\"" ID "\"", "is not JSON" },
		{ "{\"Id\":\"" ID "\"}}", "has text after its JSON" },
		{ "{\"Id\":\"" ID "\"}{}", "has text after its JSON" },
		{ "{\"Id\":\"" ID "\",\"Name\":\"/a\\u0000b\"}",
		  "holds a string with an escaped NUL" },
		{ "{\"Id\":\"" ID "\",\"Name\":7}", "'Name' is not a string" },
	};
	struct pk_docker_ctr d;
	char err[PK_ERR_MAX], deep[20001], *body;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(cases[i][0], cases[i][1]);
	refused("{\"Id\":\"a\\\\u0000\"}", "'Id' is not 64 hex digits"); /* an escaped backslash */
	CHECK_EQ_INT(pk_docker_inspect_parse(NULL, 0, &d, err, sizeof(err)), -EPROTO);
	CHECK_EQ_INT(pk_docker_inspect_parse("{}\0{}", 5, &d, err, sizeof(err)), -EPROTO);
	CHECK_STR(err, "Docker's inspect answer holds a NUL byte");
	body = with_nets("[]");
	refused(body, "'NetworkSettings.Networks' is not an object");
	free(body);
	body = with_nets("{\"bridge\":{}}");
	refused(body, "'NetworkSettings.Networks[0].IPAddress' is missing");
	free(body);
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	refused(deep, "is not JSON"); /* nested past cJSON's limit: refused, no deep recursion */
	CHECK_EQ_INT(pk_docker_inspect_parse("{}", 2, &d, NULL, 0), -EPROTO); /* no err buffer */
}

static void test_list_parse(void)
{
	static const char two[] =
		"[{\"Id\":\"" ID "\",\"Names\":[\"/app/db\",\"/db\"],\"Image\":\"redis:7\","
		"\"State\":\"running\",\"NetworkSettings\":{\"Networks\":{\"pknet\":{\"IPAddress\":"
		"\"10.89.0.5\"}}}},{\"Id\":\"" ID "\",\"Names\":[\"/solo\"],\"Image\":"
		"\"registry.example.com:5000/team/"
		"app@sha256:97892e1f970be4bc68f6367fc22007614be15d4b4046aa4f88113ebecfbd93f3\","
		"\"State\":\"running\",\"HostConfig\":{\"NetworkMode\":\"host\"},"
		"\"NetworkSettings\":"
		"{\"Networks\":{\"host\":{\"IPAddress\":\"\"}}}},{\"Id\":\"" ID "\",\"Names\":"
		"[\"/bare\"],\"Image\":\"x\",\"State\":\"running\"}]\n";
	static const char *const bad[][2] = {
		{ "{}", "Docker's container list is not a JSON array" },
		{ "[7]", "'[0]' is not an object" },
		{ "[{\"Names\":[\"/a\"]}]", "'[0].Id' is missing" },
		{ "[{\"Id\":\"" ID "\",\"Names\":[]}]", "'[0].Names' holds no plain name" },
		{ "[{\"Id\":\"" ID "\",\"Names\":[\"/a/b\"]}]", "'[0].Names' holds no plain name" },
		{ "[{\"Id\":\"" ID "\",\"Names\":[7]}]", "'[0].Names' holds a non-string" },
		{ "[{\"Id\":\"" ID "\",\"Names\":[\"/a b\"]}]",
		  "'[0].Names' holds an invalid name" },
		{ "[{\"Id\":\"" ID "\",\"Names\":\"/a\"}]", "'[0].Names' is not an array" },
		{ "[{\"Id\":\"" ID "\",\"Names\":[\"/a\"],\"Image\":\"x\",\"State\":\"\"}]",
		  "'[0].State' is not a word" },
		{ "[{\"Id\":\"" ID "\",\"Names\":[\"/a\"],\"Image\":\"x\",\"State\":\"running\","
		  "\"NetworkSettings\":{\"Networks\":{\"n\":{\"IPAddress\":\"1.2.3\"}}}}]",
		  "'[0].NetworkSettings.Networks[0].IPAddress' is not an IPv4 address" },
		{ "[{\"Id\":\"" ID "\",\"Names\":[\"/a\"],\"Image\":\"x\",\"State\":\"running\","
		  "\"NetworkSettings\":{\"Networks\":{\"n\":7}}}]",
		  "'[0].NetworkSettings.Networks[0]' is not an object" },
		{ "[{\"Id\":\"" ID "\",\"Names\":[\"/a\"],\"Image\":\"x\",\"State\":\"running\","
		  "\"NetworkSettings\":[]}]",
		  "'[0].NetworkSettings' is not an object" },
		{ "", "Docker's container list is empty" },
	};
	struct pk_docker_brief *b = (void *)1;
	char err[PK_ERR_MAX];
	size_t n = 99;

	CHECK_EQ_INT(pk_docker_list_parse(LIST, strlen(LIST), &b, &n, err, sizeof(err)), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_STR(b[0].id, ID);
	CHECK_STR(b[0].name, "pkweb");
	CHECK_STR(b[0].image, "pk-test-redis:1");
	CHECK_STR(b[0].state, "running");
	CHECK_STR(b[0].ip, "172.17.0.2");
	free(b);
	CHECK_EQ_INT(pk_docker_list_parse(two, strlen(two), &b, &n, err, sizeof(err)), 0);
	CHECK_EQ_INT(n, 3);
	CHECK_STR(b[0].name, "db"); /* not the link's name */
	CHECK_STR(b[0].ip, "10.89.0.5");
	CHECK_STR(b[1].name, "solo");
	CHECK(strstr(b[1].image, "registry.example.com:5000/") == b[1].image);
	CHECK_STR(b[1].ip, "");
	CHECK_STR(b[2].ip, "");
	free(b);
	CHECK_EQ_INT(pk_docker_list_parse("[]", 2, &b, &n, err, sizeof(err)), 0);
	CHECK_EQ_INT(n, 0);
	CHECK(b == NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		b = (void *)1;
		n = 99;
		err[0] = '\0';
		rc = pk_docker_list_parse(bad[i][0], strlen(bad[i][0]), &b, &n, err, sizeof(err));
		if (rc != -EPROTO || !strstr(err, bad[i][1]))
			printf("  want \"%s\": rc %d, err \"%s\"\n", bad[i][1], rc, err);
		CHECK_EQ_INT(rc, -EPROTO);
		CHECK(strstr(err, bad[i][1]) != NULL);
		CHECK(b == NULL && n == 0);
	}
}

static void test_socket_path(void)
{
	char *saved = getenv(PK_DOCKER_HOST_ENV) ? strdup(getenv(PK_DOCKER_HOST_ENV)) : NULL;
	char buf[PK_DOCKER_SOCK_MAX], longer[300];

	unsetenv(PK_DOCKER_HOST_ENV);
	CHECK_STR(pk_docker_socket(buf, sizeof(buf)), "/var/run/docker.sock");
	CHECK(pk_docker_socket(buf, 20) == NULL); /* does not fit */
	setenv(PK_DOCKER_HOST_ENV, "unix:///run/pk-docker-try.sock", 1);
	CHECK(pk_docker_socket(buf, sizeof(buf)) == buf);
	CHECK_STR(buf, "/run/pk-docker-try.sock");
	setenv(PK_DOCKER_HOST_ENV, "tcp://10.0.0.1:2375", 1);
	CHECK_STR(pk_docker_socket(buf, sizeof(buf)), "/var/run/docker.sock");
	setenv(PK_DOCKER_HOST_ENV, "unix://relative.sock", 1);
	CHECK_STR(pk_docker_socket(buf, sizeof(buf)), "/var/run/docker.sock");
	setenv(PK_DOCKER_HOST_ENV, "", 1);
	CHECK_STR(pk_docker_socket(buf, sizeof(buf)), "/var/run/docker.sock");
	snprintf(longer, sizeof(longer), "unix:///%0200d", 7);
	setenv(PK_DOCKER_HOST_ENV, longer, 1);
	CHECK(pk_docker_socket(buf, sizeof(buf)) == NULL);
	if (saved)
		setenv(PK_DOCKER_HOST_ENV, saved, 1);
	else
		unsetenv(PK_DOCKER_HOST_ENV);
	free(saved);
}

/* ---- a dockerd stand-in: one thread answering canned responses on a Unix socket ---- */

struct fake {
	char dir[64], sock[96];
	int lfd;
	pthread_t thread;
	const char *inspect; /* the body for /containers/pkweb/json */
	char last_path[256];
	int requests;
};

/* Answers each connection from its request line, until it is asked for /quit. */
static void *fake_serve(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		char req[4096], path[256] = "", *resp = NULL;
		size_t len = 0;
		int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC), quit;

		if (fd < 0)
			return NULL;
		while (len < sizeof(req) - 1 && !memmem(req, len, "\r\n\r\n", 4)) {
			ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);

			if (n <= 0)
				break;
			len += (size_t)n;
		}
		req[len] = '\0';
		sscanf(req, "GET %255s ", path);
		quit = strcmp(path, "/quit") == 0;
		if (!quit) {
			snprintf(f->last_path, sizeof(f->last_path), "%s", path);
			f->requests++;
		}
		if (strcmp(path, "/v1.41/containers/pkweb/json") == 0)
			resp = subst("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\nB",
				     "B", f->inspect);
		else if (strcmp(path, "/v1.41/containers/json") == 0)
			resp = strdup("HTTP/1.0 200 OK\r\n\r\n" LIST "\n");
		else if (strcmp(path, "/v1.41/containers/boom/json") == 0)
			resp = strdup("HTTP/1.1 500 Internal Server Error\r\n\r\n"
				      "{\"message\":\"driver failed\\n\\u001b[1m\"}");
		else if (strcmp(path, "/v1.41/containers/teapot/json") == 0)
			resp = strdup("HTTP/1.0 418 I'm a teapot\r\n\r\n<h1>no</h1>");
		else if (strcmp(path, "/v1.41/containers/mangled/json") == 0)
			resp = strdup("HTTP/1.0 200 OK\r\n\r\n{\"Id\":");
		else if (strcmp(path, "/v1.41/containers/nohttp/json") == 0)
			resp = strdup("SSH-2.0-OpenSSH_9.2\r\n");
		else
			resp = strdup(
				"HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n\r\n"
				"{\"message\":\"No such container: x\"}\n");
		if (write(fd, resp, strlen(resp)) < 0)
			quit = 1;
		free(resp);
		close(fd);
		if (quit)
			return NULL;
	}
}

/* Starts the stand-in listening (before this returns: no waiting needed to reach it). */
static int fake_start(struct fake *f, const char *inspect)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	f->inspect = inspect;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pk-docker-test.XXXXXX");
	if (!mkdtemp(f->dir))
		return -errno;
	snprintf(f->sock, sizeof(f->sock), "%s/docker.sock", f->dir);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", f->sock);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&un, sizeof(un)) < 0 ||
	    listen(f->lfd, 16) < 0 || pthread_create(&f->thread, NULL, fake_serve, f) != 0)
		return -1;
	return 0;
}

/* Asks the stand-in to quit, joins it, and removes its socket and directory. */
static void fake_stop(struct fake *f)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct pk_addr a = { .len = sizeof(un) };
	struct pk_strbuf body = { 0 };

	snprintf(un.sun_path, sizeof(un.sun_path), "%s", f->sock);
	memcpy(&a.ss, &un, sizeof(un));
	CHECK(pk_http_get(&a, "/quit", 5000, &body) == 404);
	pk_strbuf_release(&body);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->sock);
	rmdir(f->dir);
}

static void test_inspect_over_http(void)
{
	struct pk_docker_ctr d;
	struct pk_docker_brief *b;
	char err[PK_ERR_MAX], gone[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct fake f;
	size_t n;
	int rc, fd;
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	CHECK_EQ_INT(fake_start(&f, INSPECT "\n"), 0);
	CHECK_EQ_INT(pk_docker_inspect(f.sock, "pkweb", &d, err, sizeof(err)), 0);
	CHECK_STR(f.last_path, "/v1.41/containers/pkweb/json");
	CHECK_EQ_INT(d.pid, 25035);
	CHECK_STR(d.nets[0].ip, "172.17.0.2");
	CHECK_EQ_INT(pk_docker_inspect(f.sock, "x", &d, err, sizeof(err)), -ENOENT);
	CHECK_STR(err, "no Docker container 'x'");
	CHECK_EQ_INT(pk_docker_inspect(f.sock, "boom", &d, err, sizeof(err)), -EPROTO);
	CHECK_STR(err, "dockerd answered HTTP 500: driver failed\\x0a\\x1b[1m"); /* printable */
	CHECK_EQ_INT(pk_docker_inspect(f.sock, "teapot", &d, err, sizeof(err)), -EPROTO);
	CHECK_STR(err, "dockerd answered HTTP 418");
	CHECK_EQ_INT(pk_docker_inspect(f.sock, "mangled", &d, err, sizeof(err)), -EPROTO);
	CHECK_STR(err, "Docker's inspect answer is not JSON");
	CHECK_EQ_INT(pk_docker_inspect(f.sock, "nohttp", &d, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "sent a malformed HTTP answer") != NULL);
	/* names that could leave the path are never sent */
	rc = f.requests;
	CHECK_EQ_INT(pk_docker_inspect(f.sock, "../../info", &d, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a Docker container name") != NULL);
	CHECK_EQ_INT(pk_docker_inspect(f.sock, "a?b", &d, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(pk_docker_inspect(f.sock, "", &d, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(pk_docker_inspect(f.sock, NULL, &d, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(f.requests, rc);
	CHECK_EQ_INT(pk_docker_list(f.sock, &b, &n, err, sizeof(err)), 0);
	CHECK_STR(f.last_path, "/v1.41/containers/json");
	CHECK_EQ_INT(n, 1);
	CHECK_STR(b[0].name, "pkweb");
	free(b);

	/* no dockerd: no socket file, or a socket file nobody listens on */
	snprintf(gone, sizeof(gone), "%s/gone.sock", f.dir);
	CHECK_EQ_INT(pk_docker_inspect(gone, "pkweb", &d, err, sizeof(err)), -ECONNREFUSED);
	CHECK(strstr(err, "cannot reach dockerd at ") == err);
	CHECK(strstr(err, "gone.sock: No such file or directory (is it running?)") != NULL);
	CHECK_EQ_INT(pk_docker_list(gone, &b, &n, err, sizeof(err)), -ECONNREFUSED);
	CHECK(b == NULL && n == 0);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", gone);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(bind(fd, (struct sockaddr *)&un, sizeof(un)) == 0);
	close(fd);
	CHECK_EQ_INT(pk_docker_inspect(gone, "pkweb", &d, err, sizeof(err)), -ECONNREFUSED);
	CHECK(strstr(err, "Connection refused (is it running?)") != NULL);
	unlink(gone);
	fake_stop(&f);
}

/* A child of this test whose comm is awkward; this test plays its containerd shim. */
struct child {
	pid_t pid;
	int hold; /* closing it lets the child end */
};

static int child_start(struct child *ch)
{
	int ready[2], hold[2];
	char c;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0)
		return -1;
	ch->pid = fork();
	if (ch->pid == 0) {
		prctl(PR_SET_NAME, "a) b (c) S 1 ");
		close(hold[1]);
		if (write(ready[1], "r", 1) != 1 || read(hold[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	ch->hold = hold[1];
	/* wait for it to be named, up to a deadline */
	if (ch->pid < 0 || pk_sock_wait(ready[0], POLLIN, pk_now_ms() + 10000) ||
	    read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	return 0;
}

static void child_stop(struct child *ch)
{
	close(ch->hold);
	waitpid(ch->pid, NULL, 0);
}

/* A temporary bundle dir with config.json holding text, made the cwd of this test. */
struct bundle {
	char dir[64], config[96], old_cwd[PATH_MAX];
};

static int bundle_enter(struct bundle *b, const char *text)
{
	FILE *f;

	snprintf(b->dir, sizeof(b->dir), "/tmp/pk-docker-bundle.XXXXXX");
	if (!getcwd(b->old_cwd, sizeof(b->old_cwd)) || !mkdtemp(b->dir))
		return -1;
	snprintf(b->config, sizeof(b->config), "%s/config.json", b->dir);
	f = text ? fopen(b->config, "we") : NULL;
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return chdir(b->dir);
}

static void bundle_leave(struct bundle *b)
{
	CHECK(chdir(b->old_cwd) == 0);
	unlink(b->config);
	rmdir(b->dir);
}

#define OCI_CONFIG                                                                                 \
	"{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"args\":[\"/bin/"                             \
	"redis-server\"]},\"root\":{\"path\":\"/x/rootfs\"}}"

static void test_bundle_config(void)
{
	static const char *const bad[] = {
		NULL, "", "[]", "{\"process\":{}}", "{\"root\":{},\"process\":[]}", "{\"root\":{},"
	};
	struct child ch;
	struct bundle b;
	char path[PK_CTR_PATH_MAX], err[PK_ERR_MAX], real[PATH_MAX], want[PATH_MAX + 16];

	CHECK_EQ_INT(child_start(&ch), 0);
	CHECK_EQ_INT(bundle_enter(&b, OCI_CONFIG), 0);
	CHECK_EQ_INT(pk_docker_bundle_config(ch.pid, path, sizeof(path), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/config.json", realpath(b.dir, real) ? real : b.dir);
	CHECK_STR(path, want);
	CHECK_EQ_INT(pk_docker_bundle_config(ch.pid, path, 10, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "path too long") != NULL);
	CHECK_STR(path, "");
	CHECK_EQ_INT(pk_docker_bundle_config(0, path, sizeof(path), err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "cannot find the parent of the container's init 0") != NULL);
	CHECK_EQ_INT(pk_docker_bundle_config(-5, path, sizeof(path), err, sizeof(err)), -ENOENT);
	bundle_leave(&b);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(bundle_enter(&b, bad[i]), 0);
		err[0] = '\0';
		CHECK_EQ_INT(pk_docker_bundle_config(ch.pid, path, sizeof(path), err, sizeof(err)),
			     -ENOENT);
		CHECK(strstr(err, bad[i] ? "is not an OCI config" : "No such file") != NULL);
		CHECK_STR(path, "");
		bundle_leave(&b);
	}
	child_stop(&ch);
}

/* pk_docker_resolve through the stand-in, its container's init a child of this test. */
static void test_resolve(void)
{
	char *saved = getenv(PK_DOCKER_HOST_ENV) ? strdup(getenv(PK_DOCKER_HOST_ENV)) : NULL;
	char pid[32], host[128], err[PK_ERR_MAX], *body;
	struct pk_ctr c;
	struct child ch;
	struct bundle b;
	struct fake f;

	CHECK_EQ_INT(child_start(&ch), 0);
	snprintf(pid, sizeof(pid), "\"Pid\":%d", (int)ch.pid);
	body = subst(INSPECT, "\"Pid\":25035", pid);
	CHECK_EQ_INT(fake_start(&f, body), 0);
	snprintf(host, sizeof(host), "unix://%s", f.sock);
	setenv(PK_DOCKER_HOST_ENV, host, 1);
	CHECK_EQ_INT(bundle_enter(&b, OCI_CONFIG), 0);
	CHECK_EQ_INT(pk_docker_resolve("/unused", "pkweb", &c, err, sizeof(err)), 0);
	CHECK_STR(c.ref, "docker:pkweb");
	CHECK_EQ_INT(c.pid, ch.pid);
	CHECK_STR(c.ip, "172.17.0.2");
	CHECK(strstr(c.config, "/pk-docker-bundle.") && strstr(c.config, "/config.json"));
	CHECK(c.source == NULL);
	CHECK_EQ_INT(pk_docker_resolve(NULL, "x", &c, err, sizeof(err)), -ENOENT);
	CHECK_STR(err, "no Docker container 'x'");
	CHECK(c.ref[0] == '\0');
	bundle_leave(&b);
	CHECK_EQ_INT(bundle_enter(&b, NULL), 0); /* no config.json in the shim's cwd */
	CHECK_EQ_INT(pk_docker_resolve(NULL, "pkweb", &c, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "Docker container 'pkweb': no OCI config in the bundle dir") == err);
	CHECK(c.pid == 0 && c.config[0] == '\0');
	bundle_leave(&b);
	fake_stop(&f);
	setenv(PK_DOCKER_HOST_ENV, "unix:///nonexistent/pk-docker.sock", 1);
	CHECK_EQ_INT(pk_docker_resolve(NULL, "pkweb", &c, err, sizeof(err)), -ECONNREFUSED);
	CHECK_STR(err, "cannot reach dockerd at /nonexistent/pk-docker.sock: No such file or "
		       "directory (is it running?)");
	if (saved)
		setenv(PK_DOCKER_HOST_ENV, saved, 1);
	else
		unsetenv(PK_DOCKER_HOST_ENV);
	free(saved);
	free(body);
	child_stop(&ch);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	UNIT_RUN(test_inspect_running);
	UNIT_RUN(test_inspect_bounds);
	UNIT_RUN(test_inspect_stopped);
	UNIT_RUN(test_not_overlay2);
	UNIT_RUN(test_host_and_no_network);
	UNIT_RUN(test_networks);
	UNIT_RUN(test_mounts_and_ports);
	UNIT_RUN(test_too_many);
	UNIT_RUN(test_missing_and_wrong_fields);
	UNIT_RUN(test_too_long);
	UNIT_RUN(test_garbage);
	UNIT_RUN(test_list_parse);
	UNIT_RUN(test_socket_path);
	UNIT_RUN(test_inspect_over_http);
	UNIT_RUN(test_bundle_config);
	UNIT_RUN(test_resolve);
	return unit_done();
}
