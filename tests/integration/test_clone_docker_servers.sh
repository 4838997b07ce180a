#!/usr/bin/env bash
# test_clone_docker_servers.sh — real servers in Docker, cloned (issue 14, acceptance 2):
# MariaDB with its data directory in a named volume, and nginx, each in a container of an image
# made here (`docker import`: a root of its own, the host's /usr bind-mounted read-only, as a
# distribution image would carry it).  The MariaDB clone's CHECKSUM TABLE equals production's;
# writes in the clone never reach production's volume (its rows and its files), nor
# production's the clone's; the nginx clone serves production's page.
. "$(dirname "$0")/lib.sh"
. "$PK_ROOT/tests/tools/pk-docker.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (dockerd, namespaces, mounts, runc, criu)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE"
DB=pk-test-db$$ WEB=pk-test-ngx$$ VOLUME=pk-test-dbdata$$
trap 'for n in "$DB-dbg" "$WEB-dbg"; do "$PK_BIN" container rm "$n" >/dev/null 2>&1; done; pk_docker_stop; pk_cleanup' EXIT
sql() { timeout 30 mariadb -h "$1" -u root -N -B -e "$2"; }
sql_ok() { sql "$1" 'select 1'; }

pk_docker_start "$PK_TMP/docker" && pk_ok dockerd || { pk_fail dockerd "$PK_DOCKER_ERR"; exit 1; }
# the image: the directories a server expects, its programs and libraries from /usr (merged-usr)
root=$PK_TMP/image-usr
mkdir -p "$root"/{usr,etc,tmp,run,var/lib/mysql,var/log/nginx,var/lib/nginx,srv}
for l in bin sbin lib lib64; do ln -s "usr/$l" "$root/$l"; done
chmod 1777 "$root/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
tar -C "$root" -c . | docker import - pk-test-usr:1 >/dev/null || { pk_fail image "docker import failed"; exit 1; }

# --- MariaDB, its data directory in a named volume --------------------------------------------
docker volume create "$VOLUME" >/dev/null
VOL=$(docker volume inspect -f '{{.Mountpoint}}' "$VOLUME")
pk_check install-db mariadb-install-db --no-defaults --datadir="$VOL" --user=root --skip-test-db \
	--auth-root-authentication-method=normal || exit 1
docker run -d --name "$DB" -v /usr:/usr:ro -v "$VOLUME:/var/lib/mysql" pk-test-usr:1 \
	/usr/sbin/mariadbd --no-defaults --datadir=/var/lib/mysql --user=root --bind-address=0.0.0.0 \
	--port=3306 --socket=/tmp/mysqld.sock --pid-file=/tmp/mysqld.pid --skip-grant-tables \
	--skip-name-resolve --innodb-use-native-aio=0 --skip-log-bin >"$PK_TMP/db.run" 2>&1 ||
	{ pk_fail db-run "$(cat "$PK_TMP/db.run")"; exit 1; }
pk_docker_addr "$DB" || { pk_fail db-run "$PK_DOCKER_ERR"; exit 1; }
IP=$PK_DOCKER_ADDR
pk_wait_for "mariadb in $DB answering at $IP" 60 sql_ok "$IP" || { docker logs "$DB" 2>&1 | tail -n 5; exit 1; }
sql "$IP" "create database d; create table d.t (id int primary key auto_increment, v varchar(64)) engine=innodb"
for i in $(seq 10); do
	sql "$IP" "use d; insert into t (v) select concat('row-', seq, '-$i') from seq_1_to_500"
done
pk_expect_eq rows "$(sql "$IP" 'select count(*) from d.t')" 5000
before=$(sql "$IP" 'checksum table d.t')

pk_clone_up "docker:$DB" "$DB-dbg" || exit 1
pk_expect_eq volume-copied "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["volumes_copied"])' "$PK_TMP/clone.json")" 1
pk_expect_eq clone-checksum-equals-production "$(sql "$MGMT" 'checksum table d.t')" "$before"
pk_expect_eq production-checksum-unchanged "$(sql "$IP" 'checksum table d.t')" "$before"
sql "$IP" "insert into d.t (v) values ('production-only')"
sql "$MGMT" "delete from d.t where id <= 100; insert into d.t (v) values ('clone-only'); flush tables"
pk_expect_eq production-write-not-in-clone "$(sql "$MGMT" "select count(*) from d.t where v = 'production-only'")" 0
pk_expect_eq clone-write-not-in-production "$(sql "$IP" 'select count(*) from d.t')" 5001
pk_expect_eq clone-has-its-own-state "$(sql "$MGMT" 'select count(*) from d.t')" 4901
# the clone's InnoDB files are its copy's; production's volume never holds the clone's rows
pk_check clone-row-not-in-production-volume sh -c "! grep -rqa clone-only '$VOL'"
pk_check production-restarts-on-its-volume docker restart "$DB"
pk_wait_for "mariadb in $DB answering again" 60 sql_ok "$IP" &&
	pk_expect_eq production-volume-intact "$(sql "$IP" "select count(*), sum(v = 'clone-only') from d.t")" "5001	0"
pk_check rm-db-clone "$PK_BIN" container rm "$DB-dbg"
pk_no_debris db-clone-gone "$DB-dbg"

# --- nginx ------------------------------------------------------------------------------------
mkdir -p "$PK_TMP/site"
echo "served by $WEB" >"$PK_TMP/site/index.html"
cat >"$PK_TMP/site/nginx.conf" <<'CONF'
daemon off;
master_process on;
worker_processes 2;
user root;
pid /tmp/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path /tmp/body;
	proxy_temp_path /tmp/proxy;
	fastcgi_temp_path /tmp/fastcgi;
	uwsgi_temp_path /tmp/uwsgi;
	scgi_temp_path /tmp/scgi;
	server { listen 80; root /srv/site; }
}
CONF
docker run -d --name "$WEB" -v /usr:/usr:ro -v "$PK_TMP/site:/srv/site:ro" pk-test-usr:1 \
	/usr/sbin/nginx -c /srv/site/nginx.conf -p /tmp >"$PK_TMP/web.run" 2>&1 ||
	{ pk_fail web-run "$(cat "$PK_TMP/web.run")"; exit 1; }
pk_docker_addr "$WEB" || { pk_fail web-run "$PK_DOCKER_ERR"; exit 1; }
WIP=$PK_DOCKER_ADDR
page() { curl -s --max-time 10 "http://$1/index.html"; }
pk_wait_for "nginx in $WEB serving at $WIP" 60 page "$WIP" >/dev/null || { docker logs "$WEB" 2>&1 | tail -n 5; exit 1; }
pk_clone_up "docker:$WEB" "$WEB-dbg" || exit 1
pk_expect_eq nginx-clone-serves "$(page "$MGMT")" "served by $WEB"
pk_expect_eq nginx-production-serves "$(page "$WIP")" "served by $WEB"
pk_check rm-web-clone "$PK_BIN" container rm "$WEB-dbg"
pk_no_debris web-clone-gone "$WEB-dbg"
