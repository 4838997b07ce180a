#!/usr/bin/env bash
# Installing like a tool (issue 9, item 13): `make install DESTDIR=... PREFIX=/usr` puts the
# binary, a man page and a bash completion in place; the man page renders without warnings and
# describes every command of the command table; the completion loads in bash and completes
# commands, options and container's subcommands; then the README's "A session" block runs line
# by line, as written, with the installed binary first on the PATH (the only change: the
# container name web becomes pk-test-web, as every test container is named pk-test-...; state
# in a scratch PARIKSHAN_STATE_DIR); `make uninstall` removes what install put there.
. "$(dirname "$0")/lib.sh"
cd "$PK_ROOT" || exit 1
BUILD=$(dirname "${PK_BIN#"$PK_ROOT"/}") # build/MODE, as the Makefile names it
MODE=$(basename "$BUILD")
DEST=$PK_TMP/dest
BINDIR=$DEST/usr/bin MANPAGE=$DEST/usr/share/man/man1/parikshan.1
COMPLETION=$DEST/usr/share/bash-completion/completions/parikshan
IPROBE=$DEST/usr/lib/parikshan/libiprobe.so

if ! make -s --no-print-directory install MODE="$MODE" DESTDIR="$DEST" PREFIX=/usr \
	>"$PK_TMP/install.log" 2>&1; then
	pk_fail install "$(tail -n 5 "$PK_TMP/install.log" | tr '\n' ' ')"
	exit 1
fi
missing=""
for f in "$BINDIR/parikshan" "$IPROBE" "$MANPAGE" "$COMPLETION"; do
	[ -s "$f" ] || missing+=" $f"
done
pk_expect_eq install-puts-four-files "${missing:-none}" none || exit 1
[ -x "$BINDIR/parikshan" ] && pk_ok binary-executable || pk_fail binary-executable "$BINDIR/parikshan"

# The man page renders (no groff warning) and has a section for every command of the table.
if LC_ALL=C MANWIDTH=100 man --warnings -l "$MANPAGE" >"$PK_TMP/man.txt" 2>"$PK_TMP/man.err" &&
	[ ! -s "$PK_TMP/man.err" ]; then
	pk_ok man-renders
else
	pk_fail man-renders "$(head -c 400 "$PK_TMP/man.err")"
fi
cmds=$("$BINDIR/parikshan" --help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p')
nomention=""
for c in $cmds; do
	grep -q "^ *parikshan $c\$" "$PK_TMP/man.txt" || nomention+=" $c"
done
[ -n "$cmds" ] || nomention=" (no command table in --help)"
pk_expect_eq man-has-every-command "${nomention:-none}" none
# One source: each command's section is its --help text (here: dup's option lines).
if "$BINDIR/parikshan" dup --help | grep -E '^ +(-[a-z], )?--[a-z]' | sed 's/^ *//' |
	while read -r l; do grep -qF -- "$l" "$PK_TMP/man.txt" || { echo "$l"; exit 1; }; done >"$PK_TMP/man.miss"; then
	pk_ok man-is-the-help-text
else
	pk_fail man-is-the-help-text "not in the man page: $(cat "$PK_TMP/man.miss")"
fi

# The completion loads and completes; complete1 CWORD WORDS...: what bash would offer.
complete1() {
	local cword=$1
	shift
	bash --norc --noprofile -c 'source "$1" || exit 1; shift; cword=$1; shift
		complete -p parikshan >/dev/null || exit 1
		COMP_WORDS=("$@"); COMP_CWORD=$cword; _parikshan; echo "${COMPREPLY[*]}"' \
		sh "$COMPLETION" "$cword" "$@"
}
pk_expect_eq completes-commands "$(complete1 1 parikshan d)" "debug diverge down dup"
pk_expect_eq completes-options "$(complete1 2 parikshan dup --listen)" "--listen-port --listen-addr"
pk_expect_eq completes-subcommands "$(complete1 2 parikshan container r)" "run rm"
pk_expect_eq completes-replay-flags "$(complete1 3 parikshan replay x.pcap --ma)" "--max-memory"

# The README session, with the installed binary.
if [ "$(id -u)" -ne 0 ]; then
	pk_fail session "needs root (containers: namespaces, mounts, runc, criu)"
	exit 1
fi
NAME=pk-test-web
export PARIKSHAN_STATE_DIR=$PK_TMP/state PK_STATE=$PK_TMP/state
mkdir -p "$PK_STATE"
export PATH=$BINDIR:$PATH
trap '"$PK_BIN" down $NAME >/dev/null 2>&1; "$PK_BIN" container rm $NAME-dbg1 >/dev/null 2>&1
	"$PK_BIN" container rm $NAME >/dev/null 2>&1; pk_cleanup' EXIT
pk_expect_eq installed-binary-on-path "$(command -v parikshan)" "$BINDIR/parikshan" || exit 1
sed -n '/^## A session/,/^## /p' README.md | sed -n '/^```/,/^```/p' | sed '1d;$d' |
	sed 's/\bweb\b/pk-test-web/g' >"$PK_TMP/session"
pk_expect_eq session-has-six-lines "$(grep -c . "$PK_TMP/session")" 6 || exit 1
for p in 7000 9100; do # the session's front door and admin ports
	if pk_listening "$p"; then
		pk_fail session "port $p on this host is in use: the README session needs it"
		exit 1
	fi
done
if ip route get 10.77.0.2 2>/dev/null | grep -q ' dev pkh'; then
	pk_fail session "10.77.0.2 is already routed into a container: a leftover container"
	exit 1
fi
n=0
while IFS= read -r line; do
	n=$((n + 1))
	echo "# session $n: $line"
	if ! timeout 600 bash -c "$line" >"$PK_TMP/session.$n" 2>&1 </dev/null; then
		pk_fail "session-line-$n" "$line: $(tail -n 5 "$PK_TMP/session.$n" | tr '\n' ' ')"
		exit 1
	fi
	# redis-benchmark redraws its progress line with \r: keep its result lines only
	tr '\r' '\n' <"$PK_TMP/session.$n" | grep -v 'rps=' | tee "$PK_TMP/session.$n.out"
	pk_ok "session-line-$n"
	case $n in
	1) # production must serve before it is cloned (a user waits for it too); and nothing is
		# sent to the container's address unless it is routed into our veth
		pk_route_ok 10.77.0.2 || { pk_fail route "10.77.0.2 is not routed into our veth"; exit 1; }
		pk_wait_for "$NAME serving" "$PK_SERVE_SECONDS" pk_redis_pong 10.77.0.2 || exit 1
		;;
	3)
		grep -qE '^ *SET: [0-9.]+ requests per second' "$PK_TMP/session.3.out" &&
			grep -qE '^ *GET: [0-9.]+ requests per second' "$PK_TMP/session.3.out" &&
			pk_ok benchmark-ran || pk_fail benchmark-ran "$(cat "$PK_TMP/session.3.out")"
		;;
	4)
		grep -qE ':6379 .*in-sync' "$PK_TMP/session.4.out" && pk_ok status-shows-clone-in-sync ||
			pk_fail status-shows-clone-in-sync "$(cat "$PK_TMP/session.4.out")"
		;;
	5)
		grep -qE "^$NAME-dbg1 +clone +$NAME +10\.77\.0\.2 +[0-9.]+ +running" "$PK_TMP/session.5.out" &&
			pk_ok ls-shows-clone-and-mgmt-ip || pk_fail ls-shows-clone-and-mgmt-ip "$(cat "$PK_TMP/session.5.out")"
		;;
	esac
done <"$PK_TMP/session"
pk_no_debris session-no-debris "$NAME" "$NAME-dbg1"

if make -s --no-print-directory uninstall MODE="$MODE" DESTDIR="$DEST" PREFIX=/usr >/dev/null 2>&1 &&
	[ -z "$(find "$DEST" -type f)" ]; then
	pk_ok uninstall-removes-all
else
	pk_fail uninstall-removes-all "left: $(find "$DEST" -type f | tr '\n' ' ')"
fi
