#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vertex trust: the pins of other domains' CAs, managed by the user. One agent, no peer needed:
# the list starts empty; a pin made by the user shows in list and show with exact fields and
# survives a restart of vertexd (it lives in the state database); forget removes it; every kind
# of bad input is refused with a clear message and exit status 2 (usage, caught by the CLI) or 1
# (refused by vertexd) -- and vertexd itself refuses the same bad requests sent raw, past the
# CLI's checks; a caller that is not root cannot pin or forget.
#
#   host1: alice@a.example.com (vertexd, control socket $VTX_TMP/alice.sock)
#   eth0 198.18.1.1 ------ r1 [router] r2 ------ eth0 198.18.2.1   (host2: nothing running)
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

vtx_require base64 python3 setpriv
topo_up
pair_setup "$BOB"
vtx_start "$NS1" alice

FOREIGN=b.example.com
# A fingerprint as cert_fpr_format prints it: 32 random bytes, unpadded base64.
FPR=SHA256:$(head -c 32 /dev/urandom | base64 -w0 | tr -d =)
[[ ${#FPR} -eq 50 ]] || fail "test fingerprint $FPR is not 7 + 43 characters"

# raw REQUEST: send one request line to vertexd, bypassing the CLI's checks; prints the answer.
raw()
{
	python3 - "$VTX_TMP/alice.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
PY
}

# expect_raw REQUEST ANSWER: vertexd answers REQUEST with exactly ANSWER (one line).
expect_raw()
{
	local got
	got=$(raw "$1")
	say "raw '$1' -> $got"
	[[ $got == "$2" ]] || fail "raw '$1': got '$got', want '$2'"
}

# 1. Nothing pinned yet.
out=$(vtx_ctl alice trust list)
say "$out"
[[ $out == "no pins: no other domain's CA has been met or pinned yet" ]] || fail "list not empty"
[[ $(vtx_ctl alice trust list --json | jq -c .pins) == "[]" ]] || fail "json pins not []"
pass "trust list is empty"

# 2. Pin by hand: exact fields in list and show, text and JSON.
t0=$(date +%s)
out=$(n1 "$VERTEX" -s "$VTX_TMP/alice.sock" trust pin "$FOREIGN" "$FPR")
t1=$(date +%s)
[[ $out == "pinned $FOREIGN" ]] || fail "trust pin printed '$out'"
list=$(vtx_ctl alice trust list --json)
say "list: $list"
[[ $(jq '.pins | length' <<<"$list") -eq 1 ]] || fail "want exactly one pin"
[[ $(jq -r '.pins[0].domain' <<<"$list") == "$FOREIGN" ]] || fail "pin domain"
[[ $(jq -r '.pins[0].fingerprint' <<<"$list") == "$FPR" ]] || fail "pin fingerprint"
[[ $(jq -r '.pins[0].how' <<<"$list") == "pinned by the user" ]] || fail "pin how"
first_seen=$(jq -r '.pins[0].first_seen' <<<"$list")
[[ $(jq -r '.pins[0].first_seen | type' <<<"$list") == number ]] || fail "first_seen not a number"
((first_seen >= t0 && first_seen <= t1)) || fail "first_seen $first_seen not in [$t0, $t1]"
[[ $(jq -c 'keys' <<<"$list") == '["domains","pins"]' ]] || fail "list keys"
show=$(vtx_ctl alice trust show "$FOREIGN" --json)
[[ $(jq -c .pins <<<"$show") == "$(jq -c .pins <<<"$list")" ]] || fail "show differs from list"
# Domains are case-insensitive.
show=$(vtx_ctl alice trust show B.Example.COM --json)
[[ $(jq -r '.pins[0].domain' <<<"$show") == "$FOREIGN" ]] || fail "show B.Example.COM"
text=$(vtx_ctl alice trust show "$FOREIGN")
say "$text"
when=$(date -u -d "@$first_seen" +%Y-%m-%dT%H:%M:%SZ)
want=$(printf '%s\n  fingerprint  %s\n  first seen   %s\n  how          pinned by the user' \
	"$FOREIGN" "$FPR" "$when")
[[ $(head -n 4 <<<"$text") == "$want" ]] || fail "show text is not the expected four lines"
# On the socket: the four pin facts, then whatever the foreign-domain module says, then end.
raw_show=$(raw "trust show $FOREIGN")
say "raw trust show: $raw_show"
want=$(printf 'pin %s\nfingerprint %s\nfirst_seen %s\nhow pinned by the user' \
	"$FOREIGN" "$FPR" "$first_seen")
[[ $(head -n 4 <<<"$raw_show") == "$want" ]] || fail "raw trust show: wrong pin facts"
[[ $(tail -n 1 <<<"$raw_show") == end ]] || fail "raw trust show does not end with end"
sed '1,4d;$d' <<<"$raw_show" | grep -qv '^domain' && fail "raw trust show: stray facts"
pass "pinned $FOREIGN to $FPR: list and show agree, exact fields"

# 3. The pin is in the state database: it survives a restart.
vtx_stop alice
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd exited with $VTX_LAST_RC on SIGTERM"
vtx_start "$NS1" alice
after=$(vtx_ctl alice trust list --json)
[[ $(jq -c .pins <<<"$after") == "$(jq -c .pins <<<"$list")" ]] ||
	fail "pins changed across restart: $after"
pass "the pin survives a restart, first_seen $first_seen unchanged"

# 4. Bad input: the CLI refuses (2) before asking; vertexd refuses what it cannot do (1).
expect_rc 2 vtx_ctl alice trust pin bad_domain "$FPR"
expect_err "invalid domain 'bad_domain'"
expect_rc 2 vtx_ctl alice trust pin nodots "$FPR"
expect_err "invalid domain"
expect_rc 2 vtx_ctl alice trust pin "$FOREIGN" "${FPR%?}"
expect_err "invalid fingerprint"
expect_rc 2 vtx_ctl alice trust pin "$FOREIGN" "sha256:${FPR#SHA256:}"
expect_err "invalid fingerprint"
expect_rc 2 vtx_ctl alice trust pin "$FOREIGN" "${FPR%?}="
expect_err "invalid fingerprint"
expect_rc 2 vtx_ctl alice trust pin "$FOREIGN"
expect_err "expected DOMAIN and FINGERPRINT"
expect_rc 2 vtx_ctl alice trust revoke "$FOREIGN"
expect_err "unknown verb 'revoke'"
expect_rc 2 vtx_ctl alice trust
expect_rc 2 vtx_ctl alice trust forget "$FOREIGN" --json
expect_rc 1 vtx_ctl alice trust forget c.example.com
expect_err "vertexd: no pin for c.example.com"
expect_rc 1 vtx_ctl alice trust show c.example.com
expect_err "vertexd: no pin for c.example.com"
pass "the CLI refuses bad input with exit 2, vertexd's refusals give exit 1"

# The same, raw, past the CLI: vertexd checks for itself, and nothing changes.
expect_raw "trust pin bad_domain $FPR" \
	"error invalid domain: domain contains a character other than a-z, 0-9, '-' and '.'"
expect_raw "trust pin $FOREIGN SHA256:AAAA" \
	"error invalid fingerprint: expected SHA256: and 43 base64 characters, as vertex cert show prints it"
expect_raw "trust pin $FOREIGN" "error trust pin takes 2 arguments"
expect_raw "trust list now" "error trust list takes 0 arguments"
expect_raw "trust  list" "error malformed request (words separated by single spaces)"
expect_raw "trust revoke $FOREIGN" \
	"error unknown request (expected status, peers, trust list|show|ca|forget|pin, connect, request, requests, approve, deny, revoke, resolve, netcheck or firewall)"
expect_raw "trust forget c.example.com" "error no pin for c.example.com"
[[ $(vtx_ctl alice trust list --json | jq -c .pins) == "$(jq -c .pins <<<"$list")" ]] ||
	fail "a refused request changed the pins"
pass "vertexd refuses the same requests sent raw; the pin is unchanged"

# 5. Not root. The socket is mode 0660 owned by root in a 0700 directory, so the file system
# already keeps "nobody" out; then, with the directory and socket opened up, SO_PEERCRED does.
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
for verb in "forget $FOREIGN" "pin $FOREIGN $FPR" list; do
	# shellcheck disable=SC2086 # $verb is several words on purpose
	expect_rc 1 "${as_nobody[@]}" "$VERTEX" -s "$VTX_TMP/alice.sock" trust $verb
	expect_err "Permission denied"
done
chmod 0711 "$VTX_TMP"
chmod 0666 "$VTX_TMP/alice.sock"
for verb in "forget $FOREIGN" "pin $FOREIGN $FPR"; do
	# shellcheck disable=SC2086
	expect_rc 1 "${as_nobody[@]}" "$VERTEX" -s "$VTX_TMP/alice.sock" trust $verb
	expect_err "vertexd: permission denied: only root and vertexd's user may use the control socket"
done
chmod 0700 "$VTX_TMP"
chmod 0660 "$VTX_TMP/alice.sock"
refused=$(grep -c 'refused a caller that is neither root nor our user' "$VTX_TMP/alice.log")
[[ $refused -eq 2 ]] || fail "vertexd logged $refused refused callers, want 2"
[[ $(vtx_ctl alice trust list --json | jq -c .pins) == "$(jq -c .pins <<<"$list")" ]] ||
	fail "a non-root caller changed the pins"
pass "nobody cannot pin or forget (file permissions, then SO_PEERCRED: 2 refusals logged)"

# 6. Forget: gone from list and show; forgetting again is an error.
out=$(vtx_ctl alice trust forget "$FOREIGN")
[[ $out == "forgot the pin of $FOREIGN: the next contact pins its CA on first use again" ]] ||
	fail "trust forget printed '$out'"
[[ $(vtx_ctl alice trust list --json | jq -c .pins) == "[]" ]] || fail "pin still listed"
expect_rc 1 vtx_ctl alice trust show "$FOREIGN"
expect_err "no pin for $FOREIGN"
expect_rc 1 vtx_ctl alice trust forget "$FOREIGN"
pass "forget removes the pin"

vtx_finish
