#!/usr/bin/env bash
# Live clone of a mariadb container (issue 4, acceptance 2): the clone's CHECKSUM TABLE equals
# production's at the checkpoint, and writes to either side afterwards don't reach the other.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { pk_fail setup "needs root (namespaces, mounts, runc, criu)"; exit 1; }
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE"
chmod 755 "$PK_TMP"
PROD=pk-test-my$$ DBG=pk-test-my$$-dbg IP=10.77.207.2
trap '"$PK_BIN" container rm "$DBG" >/dev/null 2>&1; "$PK_BIN" container rm "$PROD" >/dev/null 2>&1; pk_cleanup' EXIT
sql() { timeout 30 mariadb -h "$1" -u root -N -B -e "$2"; }

pk_check install-db mariadb-install-db --no-defaults --datadir="$PK_TMP/data" --user=root \
	--skip-test-db --auth-root-authentication-method=normal || exit 1
# Runs as root: root here lacks CAP_SYS_RESOURCE, so CRIU can't dump another uid's rlimits.
sql_ok() { sql "$1" 'select 1'; }
pk_container_up "$PROD" "$IP" 3306 sql_ok -- \
	mariadbd --no-defaults --datadir="$PK_TMP/data" --user=root --bind-address=0.0.0.0 \
	--port=3306 --socket="$PK_TMP/sock" --pid-file="$PK_TMP/pid" --skip-grant-tables \
	--skip-name-resolve --innodb-use-native-aio=0 --skip-log-bin || exit 1
sql "$IP" "create database d; create table d.t (id int primary key auto_increment, v varchar(64)) engine=innodb"
for i in $(seq 20); do
	sql "$IP" "use d; insert into t (v) select concat('row-', seq, '-$i') from seq_1_to_500"
done
pk_expect_eq rows "$(sql "$IP" 'select count(*) from d.t')" 10000
before=$(sql "$IP" 'checksum table d.t')

if "$PK_BIN" clone "$PROD" "$DBG" --json >"$PK_TMP/clone.json" 2>"$PK_TMP/clone.err"; then pk_ok clone; else pk_fail clone "$(cat "$PK_TMP/clone.err")"; exit 1; fi
MGMT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mgmt_ip"])' "$PK_TMP/clone.json")
pk_route_ok "$MGMT" || { pk_fail route "$MGMT is not routed into our veth"; exit 1; }
pk_expect_eq clone-checksum-equals-production "$(sql "$MGMT" 'checksum table d.t')" "$before"
pk_expect_eq production-checksum-unchanged "$(sql "$IP" 'checksum table d.t')" "$before"

sql "$IP" "insert into d.t (v) values ('production-only')"
sql "$MGMT" "delete from d.t where id <= 100"
pk_expect_eq production-write-not-in-clone "$(sql "$MGMT" "select count(*) from d.t where v = 'production-only'")" 0
pk_expect_eq clone-write-not-in-production "$(sql "$IP" 'select count(*) from d.t')" 10001
pk_expect_eq clone-has-its-own-state "$(sql "$MGMT" 'select count(*) from d.t')" 9900
pk_check rm "$PK_BIN" container rm "$DBG"
pk_check rm-prod "$PK_BIN" container rm "$PROD"
pk_no_debris no-debris "$PROD" "$DBG"
