#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Enrolment with a domain's server: who gets a certificate, who does not, and what is stored.
#
#                                 dns  198.18.0.53  (_vertex._tcp.a.example.com -> srva)
#                                          |
#     srva 198.18.0.10  ---------------[ sw: br0 ]---------------  srvb 198.18.0.20
#     vertex-server a.example.com        /       \
#                   alice 198.18.0.101             bob 198.18.0.102 (an attacker's address here)
#
# Refused, each with a clear error and no certificate: an unknown user, a wrong invite code, a
# CSR naming another user, a CSR naming another domain, an identity of another domain, a reused
# invite code, a wrong password. Accepted: alice with her invite (server found through DNS SRV,
# CA checked against the code's commitment and its fingerprint printed), dave with his password
# (a proof, not the password). Brute force is slowed: per (source, account) after 5 attempts,
# per source address after 20. The server's files hold neither the password nor any invite
# code in plaintext. (enrol_security.sh: men in the middle, enumeration, lockout.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_domains.sh"
source "$(dirname "$0")/lib_servers.sh"

vtx_require
PROBE=$VTX_BUILD/enrol_probe
[[ -x $VERTEX_SERVER && -x $PROBE ]] || fail "missing $VERTEX_SERVER or $PROBE"
domains_up

SA=$VTX_TMP/srva
CA_FPR=$(server_init srva "$DOMAIN_A")
[[ $CA_FPR == SHA256:* ]] || fail "init printed no CA fingerprint"
pp "$VERTEX_SERVER" -D "$SA" user add alice
printf 'correct horse battery staple\n' | pp "$VERTEX_SERVER" -D "$SA" user add dave --password-stdin
CODE=$("$VERTEX_SERVER" -D "$SA" invite new alice)
[[ $CODE =~ ^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$ ]] || fail "invite code '$CODE'"
pass "domain a initialised: CA $CA_FPR, users alice (invite) and dave (password)"

server_start srva

# register NAME-IN-FILES IDENTITY ARGS...: vertex register from alice's namespace; its output in
# $VTX_TMP/reg.out; returns its exit status.
register()
{
	local name=$1 id=$2
	shift 2
	pretty alice "vertex register $id $* --key $name.key --cert $name.crt --ca $name.ca"
	qn alice "$VERTEX" register "$id" --key "$VTX_TMP/$name.key" --cert "$VTX_TMP/$name.crt" \
		--ca "$VTX_TMP/$name.ca" "$@" >"$VTX_TMP/reg.out" 2>&1
}

# refused NAME WHAT EXPECTED ARGS...: registration must fail, say EXPECTED, leave no certificate.
refused()
{
	local name=$1 what=$2 want=$3
	shift 3
	if register "$name" "$@"; then
		fail "$what: registration succeeded: $(cat "$VTX_TMP/reg.out")"
	fi
	grep -qF "$want" "$VTX_TMP/reg.out" || fail "$what: said '$(tail -1 "$VTX_TMP/reg.out")', expected '$want'"
	[[ ! -e $VTX_TMP/$name.crt ]] || fail "$what: a certificate was written"
	pass "$what refused: $(tail -1 "$VTX_TMP/reg.out")"
}

# probe IDENTITY CSR-IDENTITY METHOD SECRET [COUNT]: raw enrolment attempts; answers on stdout.
probe()
{
	qn "${PROBE_FROM:-alice}" "$PROBE" "$SRVA_IP:$SERVER_PORT" "$1" "$2" "$VTX_TMP/probe.key" "$3" "$4" ${5:+"$5"} || true
}

say "refusals (the first four also spend alice's per-account attempts: 5 are allowed at once)"
DENIED="no such user, wrong password or invite code, or the account is revoked"
refused mallory "unknown user" "$DENIED" "mallory@$DOMAIN_A" --invite "$CODE"
# An old-style code commits to no CA: sent only with --ca-fingerprint.
refused alice "wrong invite code" "$DENIED" "alice@$DOMAIN_A" --invite ABCD-EFGH-JKMN-PQRS \
	--ca-fingerprint "$CA_FPR"
out=$(probe "alice@$DOMAIN_A" "carol@$DOMAIN_A" invite "$CODE")
[[ $out == "error bad_csr: the certificate request names carol@$DOMAIN_A, not alice@$DOMAIN_A" ]] ||
	fail "CSR naming another user: '$out'"
pass "CSR naming another user refused: $out"
out=$(probe "alice@$DOMAIN_A" "alice@$DOMAIN_B" invite "$CODE")
[[ $out == "error bad_csr: the certificate request names alice@$DOMAIN_B, not alice@$DOMAIN_A" ]] ||
	fail "CSR naming another domain: '$out'"
pass "CSR naming another domain refused: $out"
refused alice_b "identity of another domain" "this server serves $DOMAIN_A, not $DOMAIN_B" \
	"alice@$DOMAIN_B" --invite "$CODE" --server "$SRVA_IP:$SERVER_PORT"

say "alice registers with her invite (server found through SRV, CA checked against the code)"
register alice "alice@$DOMAIN_A" --invite "$CODE" || fail "registration failed: $(cat "$VTX_TMP/reg.out")"
cat "$VTX_TMP/reg.out"
grep -qF "CA of $DOMAIN_A: $CA_FPR (matches the invite code)" "$VTX_TMP/reg.out" ||
	fail "the CA fingerprint was not shown as checked against the invite code"
subject=$("$VERTEX" cert show --json "$VTX_TMP/alice.crt" | jq -r .subject)
[[ $subject == "alice@$DOMAIN_A" ]] || fail "the certificate names '$subject'"
[[ $(stat -c %a "$VTX_TMP/alice.key") == 600 ]] || fail "alice.key is not mode 0600"
pass "alice@$DOMAIN_A enrolled; key 0600, certificate names her, CA pinned in alice.ca"

refused alice2 "reused invite code" "invite code already used" "alice@$DOMAIN_A" --invite "$CODE"
refused alice3 "a 6th attempt for alice within seconds" "too many attempts for alice" \
	"alice@$DOMAIN_A" --invite "$CODE"

say "brute force from one address: 25 attempts for a user that does not exist"
PROBE_FROM=bob probe "nobody@$DOMAIN_A" "nobody@$DOMAIN_A" invite WXYZ-WXYZ-WXYZ-WXYZ 25 >"$VTX_TMP/brute.out"
denied=$(grep -c '^error denied' "$VTX_TMP/brute.out" || true)
limited=$(grep -c '^error rate' "$VTX_TMP/brute.out" || true)
[[ $denied -eq 5 && $limited -eq 20 ]] ||
	fail "expected 5 denied then 20 rate-limited, got $denied / $limited: $(sort "$VTX_TMP/brute.out" | uniq -c)"
pass "5 attempts answered, the next 20 refused by the rate limit"
grep -q "too many attempts for nobody" "$VTX_TMP/brute.out" || fail "no per-account message"
pass "the refusal says why: $(grep -m1 '^error rate' "$VTX_TMP/brute.out")"

say "passwords"
if printf 'wrong\n' | register dave "dave@$DOMAIN_A" --password-stdin --ca-fingerprint "$CA_FPR"; then
	fail "a wrong password was accepted"
fi
grep -qF "$DENIED" "$VTX_TMP/reg.out" || fail "wrong password: $(cat "$VTX_TMP/reg.out")"
pass "wrong password refused"
printf 'correct horse battery staple\n' | register dave "dave@$DOMAIN_A" --password-stdin --ca-fingerprint "$CA_FPR" ||
	fail "dave could not register: $(cat "$VTX_TMP/reg.out")"
pass "dave@$DOMAIN_A enrolled with his password (CA checked against --ca-fingerprint)"
if register eve "dave@$DOMAIN_A" --invite "$CODE" --ca-fingerprint SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; then
	fail "a CA with the wrong fingerprint was accepted"
fi
grep -q "does not match" "$VTX_TMP/reg.out" || fail "wrong fingerprint: $(cat "$VTX_TMP/reg.out")"
pass "a CA that does not match --ca-fingerprint is refused before any secret is sent"

say "nothing secret is stored in plaintext"
for f in "$SA"/*; do
	! grep -aqF "$CODE" "$f" || fail "$f contains the invite code"
	! grep -aqF "correct horse" "$f" || fail "$f contains the password"
done
pass "no file in the server's state directory contains the invite code or the password"

server_stop srva
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server exited with status $VTX_LAST_RC on SIGTERM"
grep -q "stopped: 2 enrolled" "$VTX_TMP/srva.log" || fail "server summary: $(tail -1 "$VTX_TMP/srva.log")"
pass "server stopped cleanly: $(tail -1 "$VTX_TMP/srva.log" | cut -d' ' -f3-)"
pass "$VTX_SCENARIO"
