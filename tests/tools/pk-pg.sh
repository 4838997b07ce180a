# pk-pg.sh — a throwaway PostgreSQL server for the trace tests (sourced by
# tests/integration/test_trace_logd.sh and test_trace_chain.sh): initdb + pg_ctl as user postgres
# (initdb refuses root), a Unix socket only, fsync off.
#   pg_start DIR   makes and starts it under DIR (DIR's parents must be searchable by postgres);
#                  sets PGCONN (a libpq conninfo for database postgres) and PGSOCK; on failure
#                  returns 1 with the reason in PG_WHY
#   pg_down        stops it (nothing when not started)
#   pg_rows SQL    runs SQL as postgres, unaligned tuples only
#   as_pg CMD...   runs CMD as user postgres

as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

pg_start() {
	local dir=$1
	PG_WHY=
	PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$PGBIN" ] || ! id postgres >/dev/null 2>&1; then
		PG_WHY="no PostgreSQL server binaries or no postgres user (scripts/deps.sh installs them)"
		return 1
	fi
	PGD=$dir
	PGSOCK=$dir/sock
	mkdir -p "$PGSOCK" && chown -R postgres:postgres "$dir"
	PGCONN="host=$PGSOCK port=5432 user=postgres dbname=postgres connect_timeout=5"
	if ! as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1; then
		PG_WHY="initdb: $(tail -n 3 "$dir/initdb.log" | tr '\n' ' ')"
		return 1
	fi
	if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
		-o "-k $PGSOCK -c listen_addresses='' -c fsync=off" start >/dev/null; then
		PG_WHY="pg_ctl start: $(tail -n 3 "$dir/log" | tr '\n' ' ')"
		return 1
	fi
}

pg_down() {
	[ -n "${PGD:-}" ] && [ -d "$PGD/data" ] &&
		as_pg "$PGBIN/pg_ctl" -D "$PGD/data" -m fast -w stop >/dev/null 2>&1
	return 0
}

pg_rows() { as_pg psql -XAtq -h "$PGSOCK" -U postgres -d postgres -c "$1" 2>/dev/null; }
