#!/usr/bin/env bash
# Acceptance 6: bad input gets one line "parikshan: <what>: <why>" on stderr and the right exit
# status: 2 for usage errors, 1 for runtime failures; --help prints usage and exits 0.
. "$(dirname "$0")/lib.sh"

FREE=$(pk_free_port) BUSY=$(pk_free_port) OK=$(pk_free_port)
python3 -c 'import signal,socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); signal.pause()' "$BUSY" &
PK_PIDS+=($!)
pk_wait_port "$BUSY"

# expect NAME STATUS REGEX CMD...: the command exits with STATUS and its stderr is exactly one
# line matching REGEX.
expect() {
	local name=$1 want=$2 re=$3 rc err
	shift 3
	timeout 20 "$@" >"$PK_TMP/out" 2>"$PK_TMP/err" </dev/null
	rc=$?
	err=$(cat "$PK_TMP/err")
	if [ "$rc" -ne "$want" ]; then
		pk_fail "$name" "exit $rc, want $want; stderr: $err"
	elif [ "$(wc -l <"$PK_TMP/err")" -ne 1 ] || ! grep -qE "^parikshan: [^:]+.*: .+" "$PK_TMP/err" ||
		! grep -qE "$re" "$PK_TMP/err"; then
		pk_fail "$name" "stderr not one matching line: $err"
	elif grep -qE 'AddressSanitizer|runtime error' "$PK_TMP/err"; then
		pk_fail "$name" "sanitizer: $err"
	else
		pk_ok "$name"
	fi
}

D=("$PK_BIN" dup -h 127.0.0.1)
P=(-x 127.0.0.1 -p "$OK")
expect no-command 2 'missing command' "$PK_BIN"
expect empty-command 2 "'': unknown command" "$PK_BIN" ''
expect unknown-command 2 'nosuch: unknown command' "$PK_BIN" nosuch
expect unknown-flag 2 'dup: --bogus: unknown option' "${D[@]}" --bogus -l "$FREE" "${P[@]}"
expect unknown-short-flag 2 'dup: -Z: unknown option' "${D[@]}" -Z -l "$FREE" "${P[@]}"
expect missing-value 2 'needs a value' "${D[@]}" -l "$FREE" "${P[@]}" -b
expect bad-port-zero 2 "listen port '0': out of range" "${D[@]}" -l 0 "${P[@]}"
expect bad-port-big 2 "listen port '70000': out of range" "${D[@]}" -l 70000 "${P[@]}"
expect bad-port-text 2 "production port 'abc': not a valid value" "${D[@]}" -l "$FREE" -x 127.0.0.1 -p abc
expect missing-listen 2 'listen port is required' "${D[@]}" "${P[@]}"
expect missing-prod 2 'production host and port are required' "${D[@]}" -l "$FREE" -x 127.0.0.1
expect bad-size 2 "buffer size '4Q': not a valid value" "${D[@]}" -l "$FREE" "${P[@]}" -b 4Q
expect zero-size 2 "buffer size '0'" "${D[@]}" -l "$FREE" "${P[@]}" -b 0
expect debug-host-without-port 2 'one -d per -m' "${D[@]}" -l "$FREE" "${P[@]}" -m 127.0.0.1
expect same-target-twice 2 'same debug target' "${D[@]}" -l "$FREE" "${P[@]}" -m 127.0.0.1 -d 9 -m 127.0.0.1 -d 9
expect spill-max-without-spill 2 'needs --spill' "${D[@]}" -l "$FREE" "${P[@]}" --spill-max 1G
expect bad-admin 2 "admin '99999'" "${D[@]}" -l "$FREE" "${P[@]}" --admin 99999
expect bad-log-level 2 "log-level 'loud'" "${D[@]}" -l "$FREE" "${P[@]}" --log-level loud
expect stray-argument 2 'extra: unexpected argument' "${D[@]}" -l "$FREE" "${P[@]}" extra
expect unresolvable-host 1 "resolve production host 'no-such-host.invalid'" "${D[@]}" -l "$FREE" -x no-such-host.invalid -p 80
expect unresolvable-debug-host 1 "resolve debug host 'no-such-host.invalid'" "${D[@]}" -l "$FREE" "${P[@]}" -m no-such-host.invalid -d 80
expect port-in-use 1 "dup: listen 127.0.0.1:$BUSY: Address already in use" "${D[@]}" -l "$BUSY" "${P[@]}"
expect admin-port-in-use 1 "dup: admin listen 127.0.0.1:$BUSY: Address already in use" "${D[@]}" -l "$FREE" "${P[@]}" --admin "$BUSY"
expect missing-spill-dir 1 "spill directory '/nonexistent/pk': No such file" "${D[@]}" -l "$FREE" "${P[@]}" --spill /nonexistent/pk
expect compare-unknown-framer 2 "dup: --compare \\(raw, resp, http or mysql\\) 'smtp': not a valid value" "${D[@]}" -l "$FREE" "${P[@]}" --compare smtp
expect compare-unknown-framer-eq 2 "'smtp': not a valid value" "${D[@]}" -l "$FREE" "${P[@]}" --compare=smtp
expect compare-bad-regex 2 "dup: --compare-ignore 'a\\(': " "${D[@]}" -l "$FREE" "${P[@]}" --compare resp --compare-ignore 'a('
expect compare-ignore-without-framer 2 'needs --compare resp, http or mysql' "${D[@]}" -l "$FREE" "${P[@]}" --compare-ignore x
expect compare-log-without-compare 2 'compare-log: needs --compare' "${D[@]}" -l "$FREE" "${P[@]}" --compare-log "$PK_TMP/c.jsonl"
expect compare-log-unwritable 1 "dup: open compare log /nonexistent/c.jsonl: No such file" "${D[@]}" -l "$FREE" "${P[@]}" --compare http --compare-log /nonexistent/c.jsonl
expect window-warn-negative 2 "window-warn '-1'" "${D[@]}" -l "$FREE" "${P[@]}" --window-warn -1
expect agg-framed-compare 2 'agg: --compare: agg compares raw byte streams only' "$PK_BIN" agg -l "$FREE" -x 127.0.0.1 -p 9 -D "$OK" --compare http
expect diverge-missing-log 1 "diverge: .*/nonexistent.jsonl" "$PK_BIN" diverge "$PK_TMP/nonexistent.jsonl"
expect status-unreachable 1 "status: 127.0.0.1:$FREE: Connection refused" "$PK_BIN" status --admin "$FREE"
expect status-bad-admin 2 "status: --admin" "$PK_BIN" status --admin nope:
expect status-unknown-flag 2 "status: unknown option '--x'" "$PK_BIN" status --x

for cmd in "dup" "status"; do
	if out=$("$PK_BIN" $cmd --help) && echo "$out" | grep -q "^usage: parikshan $cmd"; then
		pk_ok "help-$cmd"
	else
		pk_fail "help-$cmd" "$out"
	fi
done
if "$PK_BIN" --help | grep -q '^  dup'; then pk_ok help-top; else pk_fail help-top "no command list"; fi
