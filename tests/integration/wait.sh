# wait.sh — waiting on a condition with a deadline (sourced; no side effects when sourced).
# The one polling loop of the tests, the bench scripts and the demo: nothing there synchronises
# with a bare sleep.  A condition is any command; it is retried until it succeeds or the
# deadline (wall-clock time from the call, so a slow machine shortens the number of tries, not
# the time allowed) has passed.  tests/integration/lib.sh adds the reporting helpers on top.

# pk_us SECONDS: SECONDS (an integer or a decimal such as 0.5) in microseconds.
pk_us() {
	local s=$1 i f
	i=${s%%.*}
	f=${s#"$i"}
	f=${f#.}000000
	echo $((10#${i:-0} * 1000000 + 10#${f:0:6}))
}

# pk_poll SECONDS CMD...: runs CMD until it exits 0 (returns 0) or until SECONDS have passed
# since the call (returns 1, after one last try at or past the deadline).  CMD runs in a
# subshell; its output (last 300 characters) is left in PK_POLL_OUT for the failure message.
# The interval starts at 20 ms (a condition that is nearly true costs almost nothing) and
# doubles up to PK_POLL_CAP_MS, default 200 ms (a long wait costs little CPU on a loaded
# machine); a caller that must catch a short-lived state (a process to kill as it appears)
# sets a smaller cap.
pk_poll() {
	local deadline cap=${PK_POLL_CAP_MS:-200} step=20
	((step <= cap)) || step=$cap
	deadline=$((${EPOCHREALTIME/./} + $(pk_us "$1")))
	shift
	while :; do
		if PK_POLL_OUT=$("$@" 2>&1); then
			return 0
		fi
		((${#PK_POLL_OUT} <= 300)) || PK_POLL_OUT=${PK_POLL_OUT: -300}
		((${EPOCHREALTIME/./} >= deadline)) && return 1
		sleep "$(printf '0.%03d' "$step")" # the poll interval of a deadline-bounded wait
		((step < cap)) && step=$((step * 2 > cap ? cap : step * 2))
	done
}

# pk_listening PORT [NETNS]: true when a TCP socket listens on PORT (in network namespace NETNS,
# by its `ip netns` name, when given).  Never connects: servers that count their connections
# see only the test's own.
pk_listening() {
	if [ -n "${2:-}" ]; then
		[ -n "$(ip netns exec "$2" ss -Hltn "sport = :$1" 2>/dev/null)" ]
	else
		[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
	fi
}

# pk_redis_pong HOST [PORT]: true when the redis server at HOST:PORT (default 6379) answers PING.
pk_redis_pong() {
	[ "$(timeout 5 redis-cli -h "$1" -p "${2:-6379}" PING 2>/dev/null)" = PONG ]
}

# pk_gone PID: true when process PID has exited (a zombie its parent has not reaped yet counts:
# a process reparented to init waits there for init's next pass).
pk_gone() {
	local st
	kill -0 "$1" 2>/dev/null || return 0
	[ -e "/proc/$1/stat" ] || return 0
	st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ "$st" = Z ] || [ "$st" = X ]
}
