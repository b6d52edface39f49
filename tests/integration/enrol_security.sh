#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Enrolment against an attacker (issue 9, items 6, 7, 9 and 10): a man in the middle with its
# own CA for the domain gets no invite code and no password; accounts cannot be told apart or
# locked out from one address; per-source limits count an IPv6 /64 as one source (ULA addresses
# on the lab LAN: srva fd00:198:18::10, bob ::102, ::103 and fd00:198:18:1::102); password
# attempts run no scrypt on the server; one password rule on both sides; the server's own
# certificate is revocable and replaced at start.
#
#     srva 198.18.0.10  ---------------[ sw: br0 ]---------------  srvb 198.18.0.20
#     vertex-server a.example.com        /       \                 vertex-server a.example.com
#     (the real one)                    /         \                (a man in the middle: the
#                   alice 198.18.0.101             bob 198.18.0.102  same domain, another CA)
#                   (the user)                     (the attacker's address)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"

vtx_require
PROBE=$VTX_BUILD/enrol_probe
[[ -x $VERTEX_SERVER && -x $PROBE ]] || fail "missing $VERTEX_SERVER or $PROBE"
domains_up

SA=$VTX_TMP/srva
CA_FPR=$(server_init srva "$DOMAIN_A")
MITM_FPR=$(server_init srvb "$DOMAIN_A")
[[ $CA_FPR == SHA256:* && $MITM_FPR == SHA256:* && $CA_FPR != "$MITM_FPR" ]] ||
	fail "two CAs for $DOMAIN_A expected: $CA_FPR / $MITM_FPR"
PW='correct horse battery staple'
pp "$VERTEX_SERVER" -D "$SA" user add alice
for u in dave erin frank; do
	printf '%s\n' "$PW" | pp "$VERTEX_SERVER" -D "$SA" user add "$u" --password-stdin
done
pp "$VERTEX_SERVER" -D "$SA" revoke frank
CODE=$("$VERTEX_SERVER" -D "$SA" invite new alice)
pass "real $DOMAIN_A CA $CA_FPR; the man in the middle's CA $MITM_FPR"

say "the password rule, the same in user add and vertex register"
LONG=$(printf 'a%.0s' $(seq 256))
for bad in "$LONG" $'caf\xc3\xa9' $'tab\there'; do
	if printf '%s\n' "$bad" | "$VERTEX_SERVER" -D "$SA" user add gina --password-stdin 2>"$VTX_TMP/rule.err"; then
		fail "user add accepted a password breaking the rule (${#bad} bytes)"
	fi
	grep -q "password refused: " "$VTX_TMP/rule.err" || fail "user add said: $(cat "$VTX_TMP/rule.err")"
	if printf '%s\n' "$bad" | "$VERTEX" register "gina@$DOMAIN_A" --password-stdin --key "$VTX_TMP/g.key" \
		--cert "$VTX_TMP/g.crt" --ca "$VTX_TMP/g.ca" --server "$SRVA_IP:$SERVER_PORT" 2>"$VTX_TMP/rule.err2"; then
		fail "register accepted a password breaking the rule"
	fi
	[[ $(sed 's/^vertex-server: //' "$VTX_TMP/rule.err") == "$(sed -n 's/^vertex register: //p' "$VTX_TMP/rule.err2" | head -1)" ]] ||
		fail "the two sides say different things: '$(cat "$VTX_TMP/rule.err")' / '$(head -1 "$VTX_TMP/rule.err2")'"
	pass "refused by both with the same reason: $(cat "$VTX_TMP/rule.err")"
done
printf '%s\n' "${LONG:1}" | pp "$VERTEX_SERVER" -D "$SA" user add gina --password-stdin
pass "a 255-byte password is accepted"

server_start srva
server_start srvb

# register NAME ADDR ARGS...: vertex register from alice's namespace to the server at ADDR.
register()
{
	local name=$1 addr=$2
	shift 2
	pretty alice "vertex register $* --server $addr:$SERVER_PORT --key $name.key --cert $name.crt --ca $name.ca"
	qn alice "$VERTEX" register "$@" --server "$addr:$SERVER_PORT" --key "$VTX_TMP/$name.key" \
		--cert "$VTX_TMP/$name.crt" --ca "$VTX_TMP/$name.ca" >"$VTX_TMP/reg.out" 2>&1
}

say "a man in the middle (another CA for $DOMAIN_A) gets no invite code"
if register alice-mitm "$SRVB_IP" "alice@$DOMAIN_A" --invite "$CODE"; then
	fail "registered with the man in the middle: $(cat "$VTX_TMP/reg.out")"
fi
grep -qF "this CA is not the one the invite code was made for: the code was not sent" "$VTX_TMP/reg.out" ||
	fail "register said: $(cat "$VTX_TMP/reg.out")"
[[ ! -e $VTX_TMP/alice-mitm.crt && ! -e $VTX_TMP/alice-mitm.ca ]] || fail "something was written"
! grep -q "refused\|enrolled" "$VTX_TMP/srvb.log" || fail "the man in the middle got an enrolment: $(cat "$VTX_TMP/srvb.log")"
pass "refused before sending anything: $(tail -1 "$VTX_TMP/reg.out")"
register alice "$SRVA_IP" "alice@$DOMAIN_A" --invite "$CODE" || fail "the code no longer works: $(cat "$VTX_TMP/reg.out")"
grep -qF "CA of $DOMAIN_A: $CA_FPR (matches the invite code)" "$VTX_TMP/reg.out" || fail "$(cat "$VTX_TMP/reg.out")"
pass "the same code then enrols alice with the real server"

say "the vertexd on alice's machine is a notary: a password goes to no CA it does not trust"
lab_agent_config alice "alice@$DOMAIN_A" fd00:5e:1::/48
lab_agent_start alice alice
if printf '%s\n' "${LONG:1}" | qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" register "gina@$DOMAIN_A" \
	--password-stdin --server "$SRVB_IP:$SERVER_PORT" --key "$VTX_TMP/gina-m.key" \
	--cert "$VTX_TMP/gina-m.crt" --ca "$VTX_TMP/gina-m.ca" >"$VTX_TMP/reg.out" 2>&1; then
	fail "registered with the man in the middle: $(cat "$VTX_TMP/reg.out")"
fi
grep -qF "the vertexd on this machine trusts CA $CA_FPR for $DOMAIN_A" "$VTX_TMP/reg.out" &&
	grep -qF "refusing a CA the local vertexd does not trust: nothing was sent" "$VTX_TMP/reg.out" ||
	fail "register said: $(cat "$VTX_TMP/reg.out")"
! grep -q "gina" "$VTX_TMP/srvb.log" || fail "the man in the middle heard of gina: $(grep gina "$VTX_TMP/srvb.log")"
pass "refused before the salt was even asked: $(tail -1 "$VTX_TMP/reg.out")"
printf '%s\n' "${LONG:1}" | qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" register "gina@$DOMAIN_A" \
	--password-stdin --server "$SRVA_IP:$SERVER_PORT" --key "$VTX_TMP/gina.key" \
	--cert "$VTX_TMP/gina.crt" --ca "$VTX_TMP/gina.ca" >"$VTX_TMP/reg.out" 2>&1 ||
	fail "gina could not register with the real server: $(cat "$VTX_TMP/reg.out")"
grep -qF "CA of $DOMAIN_A: $CA_FPR (matches the CA the local vertexd trusts)" "$VTX_TMP/reg.out" ||
	fail "$(cat "$VTX_TMP/reg.out")"
pass "with the real server the CA matches what vertexd trusts, and gina enrols"
vtx_stop alice

say "a man in the middle gets no password, only a proof bound to its own TLS connection"
if printf '%s\n' "$PW" | register dave-mitm "$SRVB_IP" "dave@$DOMAIN_A" --password-stdin; then
	fail "registered with the man in the middle"
fi
grep -q "refused a client from $ALICE_IP.*no such user" "$VTX_TMP/srvb.log" || fail "srvb log: $(cat "$VTX_TMP/srvb.log")"
for f in "$VTX_TMP"/srvb/* "$VTX_TMP/srvb.log"; do
	! grep -aqF "$PW" "$f" || fail "$f holds the password"
done
pass "the man in the middle saw an enrolment but no password"
out=$(qn bob "$PROBE" "$SRVA_IP:$SERVER_PORT" "dave@$DOMAIN_A" "dave@$DOMAIN_A" "$VTX_TMP/p.key" cleartext "$PW" || true)
[[ $out == "error protocol: passwords are no longer sent; this vertex is too old"* ]] ||
	fail "a password in clear: '$out'"
pass "the real server refuses a password in clear: $out"

say "accounts cannot be told apart: one answer, one salt per name"
# unknown, invite-only (alice), wrong password (dave), revoked with the right password (frank)
answers=$(for a in "nobody $PW" "alice $PW" "dave wrong" "frank $PW"; do
	qn alice "$PROBE" "$SRVA_IP:$SERVER_PORT" "${a%% *}@$DOMAIN_A" "${a%% *}@$DOMAIN_A" \
		"$VTX_TMP/p.key" password "${a#* }" || true
done | sort | uniq -c)
[[ $(wc -l <<<"$answers") -eq 1 && $answers == *"4 error denied: no such user, wrong password or invite code, or the account is revoked" ]] ||
	fail "the answers differ: $answers"
pass "unknown, invite-only, wrong password and revoked: $answers"
salt() { qn alice "$PROBE" "$SRVA_IP:$SERVER_PORT" "$1@$DOMAIN_A" "$1@$DOMAIN_A" "$VTX_TMP/p.key" salt - || true; }
declare -A SALT=()
for u in nobody alice dave frank; do
	SALT[$u]=$(salt "$u")
	[[ ${SALT[$u]} =~ ^salt\ 15\ [0-9a-f]{32}$ ]] || fail "salt for $u: ${SALT[$u]}"
	[[ $(salt "$u") == "${SALT[$u]}" ]] || fail "the salt for $u changes between requests"
done
[[ $(printf '%s\n' "${SALT[@]}" | sort -u | wc -l) -eq 4 ]] || fail "salts repeat: ${SALT[*]}"
pass "every name, existing or not, gets one salt of the same cost (ln 15), stable across requests"

say "no scrypt on the server: a burst of password attempts runs no thread"
SRVA_PID=${VTX_SERVER_PID[srva]}
burst=()
for i in 1 2 3 4 5 6 7 8; do
	qn bob "$PROBE" "$SRVA_IP:$SERVER_PORT" "erin@$DOMAIN_A" "erin@$DOMAIN_A" "$VTX_TMP/b$i.key" \
		password "guess$i" >"$VTX_TMP/burst$i.out" 2>&1 &
	burst+=($!)
done
wait "${burst[@]}" || true # each probe is bounded (10 s per exchange)
cat "$VTX_TMP"/burst*.out | sort | uniq -c >"$VTX_TMP/burst.out"
! grep -q "busy checking other passwords" "$VTX_TMP/burst.out" || fail "a job pool refused: $(cat "$VTX_TMP/burst.out")"
threads=$(ls "/proc/$SRVA_PID/task" | wc -l)
[[ $threads -eq 1 ]] || fail "vertex-server runs $threads threads after password attempts"
pass "8 attempts at once answered by a one-thread server: $(tr -s ' ' <"$VTX_TMP/burst.out" | paste -sd';')"

say "an attacker cannot lock a user out from one address"
out=$({ qn bob "$PROBE" "$SRVA_IP:$SERVER_PORT" "erin@$DOMAIN_A" "erin@$DOMAIN_A" "$VTX_TMP/p.key" password x 12 || true; } | sort | uniq -c)
grep -q "too many attempts for erin from $BOB_IP" <<<"$out" || fail "bob's attempts: $out"
pass "bob's attempts for erin are limited: $(paste -sd';' <<<"$out")"
printf '%s\n' "$PW" | register erin "$SRVA_IP" "erin@$DOMAIN_A" --password-stdin --ca-fingerprint "$CA_FPR" ||
	fail "erin is locked out: $(cat "$VTX_TMP/reg.out")"
pass "erin still enrols from her own address with her password"

say "per-source limits count an IPv6 /64 as one source"
N6=fd00:198:18:0
in_ns srva ip -6 addr add "$N6::10/64" dev eth0 nodad
for a in "$N6::102" "$N6::103" fd00:198:18:1::102; do
	in_ns bob ip -6 addr add "$a/64" dev eth0 nodad
done
in_ns srva ip -6 route add fd00:198:18:1::/64 dev eth0
# probe6 SOURCE USER: one invite attempt for USER from bob's address SOURCE, over IPv6.
probe6()
{
	# metric 1: preferred over the kernel's own route for the prefix (metric 256)
	qn bob ip -6 route replace "$N6::/64" dev eth0 src "$1" metric 1
	qn bob "$PROBE" "[$N6::10]:$SERVER_PORT" "$2@$DOMAIN_A" "$2@$DOMAIN_A" "$VTX_TMP/p6.key" \
		invite ABCD-EFGH-JKMN-PQRS || true
}
wait_until 10 qn bob ping -6 -c 1 -W 1 "$N6::10" || fail "bob cannot reach srva over IPv6"
for i in $(seq 20); do probe6 "$N6::102" "sixu$i"; done | sort | uniq -c >"$VTX_TMP/v6.out"
grep -q "^ *20 error denied" "$VTX_TMP/v6.out" || fail "20 attempts from $N6::102: $(cat "$VTX_TMP/v6.out")"
out=$(probe6 "$N6::103" sixu21)
[[ $out == "error rate: too many attempts from fd00:198:18:0::/64; try again in "* ]] ||
	fail "another address of the same /64 has its own budget: '$out'"
grep -q "refused a client from \[fd00:198:18::103\]:[0-9]*: too many attempts from" "$VTX_TMP/srva.log" ||
	fail "the refusal did not come from ::103: $(grep 'refused a client from \[' "$VTX_TMP/srva.log" | tail -2)"
pass "after 20 attempts from $N6::102, $N6::103 is refused too: $out"
out=$(probe6 fd00:198:18:1::102 sixu22)
[[ $out == "error denied: "* ]] || fail "another /64 is limited too: '$out'"
grep -q "refused a client from \[fd00:198:18:1::102\]" "$VTX_TMP/srva.log" || fail "not from the other /64"
pass "an address of another /64 is answered: $out"

say "the server's own certificate is recorded, revocable, and replaced at start"
old=$("$VERTEX" cert show --json "$SA/server.crt" | jq -r .fingerprint)
pp "$VERTEX_SERVER" -D "$SA" revoke server | tee "$VTX_TMP/revoke.out"
grep -q "^revoked 1 certificate(s) of server@DOMAIN; restart the server now" "$VTX_TMP/revoke.out" ||
	fail "revoke server: $(cat "$VTX_TMP/revoke.out")"
server_stop srva
server_start srva
new=$("$VERTEX" cert show --json "$SA/server.crt" | jq -r .fingerprint)
[[ $new != "$old" && $new == SHA256:* ]] || fail "server.crt not replaced: $old -> $new"
grep -q "server@$DOMAIN_A: new key and certificate $new" "$VTX_TMP/srva.log" || fail "no log line: $(tail -3 "$VTX_TMP/srva.log")"
pass "server.crt $old revoked, replaced by $new at start"
printf '%s\n' "$PW" | register dave "$SRVA_IP" "dave@$DOMAIN_A" --password-stdin --ca-fingerprint "$CA_FPR" ||
	fail "dave cannot enrol with the new server certificate: $(cat "$VTX_TMP/reg.out")"
pass "dave enrols through the server's new certificate"

server_stop srva
server_stop srvb
pass "$VTX_SCENARIO"
