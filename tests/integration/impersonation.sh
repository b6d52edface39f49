#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Cross-domain impersonation: nobody but the CA of domain B can make an agent accept a name in
# B, and nobody can make an agent accept another user's name in its own domain. Mallory forges
# certificates with the `openssl` command (our keys and certificates are OpenSSL-compatible PEM
# Ed25519), because `vertex ca sign` refuses to sign outside its CA's domain (case 5).
#
#                                 dns  198.18.0.53
#                                          |
#     srva 198.18.0.10  ---------------[ sw: br0 ]---------------  mallory 198.18.0.103
#     vertex-server a.example.com       /       \                  vertexd with forged certs,
#     (case 6 only)                    /         \                 openssl s_client (case 4)
#                    alice 198.18.0.101           bob 198.18.0.102
#                    alice@a.example.com          bob@b.example.com (the real one)
#                    ca a.example.com = CA A      ca b.example.com = CA B
#                    ca b.example.com = CA B      ca a.example.com = CA A
#
#   control  the real bob (certificate from CA B) connects to alice: tunnel up, ping works
#   1  CA A signs bob@b.example.com (openssl); mallory runs vertexd as bob at the address alice
#      dials for bob: refused, "not signed by the CA of b.example.com"
#   2  mallory@a.example.com, a valid certificate of A, answers where alice dials carol:
#      refused, "names mallory@a.example.com, expected carol@a.example.com"
#   3  mallory's own CA named b.example.com (`vertex ca init`) signs bob@b.example.com: refused
#   4  an intermediate CA named b.example.com, signed by CA A (basicConstraints CA:TRUE), signs
#      bob@b.example.com; vertexd presents the leaf, openssl s_client the whole chain, and the
#      intermediate itself as a peer certificate: all refused
#   5  `vertex ca sign` with CA A refuses --identity bob@b.example.com: exit 1, one clear line
#   6  server A: mallory, enrolled for real as mallory@a.example.com, asks to RENEW with a CSR
#      naming alice@a.example.com: refused, bad_csr
#
# In each refusal case alice logs the handshake failure with the exact reason, no tunnel comes
# up (an overlay ping fails), and `vertex peers --json` on both sides shows the peer not up.
# Every case starts fresh daemons with new state.
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib_domains.sh
source "$(dirname "$0")/lib_domains.sh"
# shellcheck source=lib_servers.sh
source "$(dirname "$0")/lib_servers.sh"

RENEW_PROBE=$VTX_BUILD/renew_probe
MALLORY_IP=198.18.0.103
A_ALICE=alice@$DOMAIN_A
A_CAROL=carol@$DOMAIN_A
A_MALLORY=mallory@$DOMAIN_A
B_BOB=bob@$DOMAIN_B

vtx_require openssl timeout
[[ -x $VERTEX_SERVER && -x $RENEW_PROBE ]] || skip "vertex-server or renew_probe not built"
domains_up
domain_node_add mallory "$MALLORY_IP"

# --- certificates ---------------------------------------------------------------------------

# The two real domain CAs, the real alice (A) and the real bob (B).
ca_new caa "$DOMAIN_A"
ca_new cab "$DOMAIN_B"
agent_cert alice "$A_ALICE" caa
agent_cert bob "$B_BOB" cab

# ossl_sign NAME CN CA-NAME [EXTFILE]: what a CA's admin can do with openssl and the CA key:
# sign NAME's Ed25519 key (made by openssl) for CN, whatever the CN says.
ossl_sign()
{
	local name=$1 cn=$2 ca=$3 ext=${4:-}
	local args=(-req -in "$VTX_TMP/$name.csr" -CA "$VTX_TMP/$ca.crt" -CAkey "$VTX_TMP/$ca.key"
		-set_serial "0x$(openssl rand -hex 8)" -days 2 -out "$VTX_TMP/$name.crt")
	[[ -e $VTX_TMP/$name.key ]] || pp openssl genpkey -algorithm ed25519 -out "$VTX_TMP/$name.key"
	pp openssl req -new -key "$VTX_TMP/$name.key" -subj "/CN=$cn" -out "$VTX_TMP/$name.csr"
	[[ -z $ext ]] || args+=(-extfile "$ext")
	pp openssl x509 "${args[@]}"
}

# --- agents ---------------------------------------------------------------------------------

# imp_config NAME IDENTITY POOL6 PEER-IDENTITY PEER-ADDR: $VTX_TMP/NAME.conf trusting the real
# CAs of both domains (configured with `ca`), one static peer at PEER-ADDR:4800. NAME's key and
# certificate are $VTX_TMP/NAME.{key,crt}; IMP_CERT overrides the certificate file.
imp_config()
{
	local name=$1 id=$2 pool6=$3 peer=$4 peer_addr=$5
	{
		printf 'identity   %s\n' "$id"
		printf 'key        %s\n' "$VTX_TMP/$name.key"
		printf 'cert       %s\n' "${IMP_CERT:-$VTX_TMP/$name.crt}"
		printf 'ca         %s %s\n' "$DOMAIN_A" "$VTX_TMP/caa.crt"
		printf 'ca         %s %s\n' "$DOMAIN_B" "$VTX_TMP/cab.crt"
		printf 'interface  vtx0\nport       %s\n' "$VTX_PORT"
		printf 'pool6      %s\n' "$pool6"
		printf 'state      %s\n' "$VTX_TMP/$name.db"
		printf 'control    %s\n' "$VTX_TMP/$name.sock"
		printf 'keepalive-seconds 5\n'
		printf 'peer %s {\n    endpoint %s:%s\n}\n' "$peer" "$peer_addr" "$VTX_PORT"
	} >"$VTX_TMP/$name.conf"
	pretty host "wrote $VTX_TMP/$name.conf ($id, peer $peer at $peer_addr)"
}

# alice_expects PEER-IDENTITY PEER-ADDR: alice, with one static peer.
alice_expects()
{
	imp_config alice "$A_ALICE" fd00:5678:a1::/48 "$1" "$2"
	vtx_start "$(ns_for alice)" alice
}

# mallory_runs IDENTITY KEY-NAME [CERT-FILE]: mallory's vertexd on 198.18.0.103, presenting
# IDENTITY with $VTX_TMP/KEY-NAME.key, dialling alice as well as answering her.
mallory_runs()
{
	IMP_CERT=${3:-} imp_config "$2" "$1" fd00:5678:66::/48 "$A_ALICE" "$ALICE_IP"
	vtx_start "$(ns_for mallory)" "$2"
	MALLORY_AGENT=$2
}

# stop_agents NAME...: stop the agents, check a clean exit, and forget their state and logs so
# the next case starts from nothing.
stop_agents()
{
	local name nss=()
	for name in "$@"; do
		vtx_stop "$name"
		[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $name exited with $VTX_LAST_RC on SIGTERM"
		rm -f "$VTX_TMP/$name.db" "$VTX_TMP/$name.log" "$VTX_TMP/$name.conf"
		nss+=("${VTX_DAEMON_NS[$name]}")
	done
	assert_clean "${nss[@]}"
}

# refused CASE REASON [FROM-LINE]: alice logs a failed handshake ending with exactly REASON
# (bounded wait), at or after line FROM-LINE of her log (default 1).
refused()
{
	local case=$1 reason=$2 from=${3:-1} line
	alice_log_has() { tail -n "+$from" "$VTX_TMP/alice.log" | grep -F "failed: $reason"; }
	wait_until 20 alice_log_has ||
		fail "case $case: alice logged no refusal \"$reason\": $(grep -i handshake \
			"$VTX_TMP/alice.log" | tail -n 3)"
	line=$(alice_log_has | head -n 1)
	pass "case $case: alice: $line"
	REFUSALS+=("case $case: $line")
}

# no_tunnel CASE: nothing came up between alice and mallory.
no_tunnel()
{
	local case=$1
	if qn alice ping -c 3 -i 0.2 -W 1 "$OVL4_PEER" >/dev/null 2>&1; then
		fail "case $case: an overlay ping works with a refused peer"
	fi
	[[ $(peer_json alice .state) != up ]] || fail "case $case: alice shows the peer up"
	[[ $(peer_json "$MALLORY_AGENT" .state) != up ]] || fail "case $case: mallory shows alice up"
	pass "case $case: no tunnel (ping fails, peers --json not up on either side)"
}

REFUSALS=()
NOT_SIGNED_BY_B="is not signed by the CA of $DOMAIN_B"

# --- positive control -----------------------------------------------------------------------

say "control: the real bob@$DOMAIN_B (certificate from CA $DOMAIN_B) connects to alice"
alice_expects "$B_BOB" "$BOB_IP"
imp_config bob "$B_BOB" fd00:5678:b2::/48 "$A_ALICE" "$ALICE_IP"
vtx_start "$(ns_for bob)" bob
wait_until 30 peer_is_up alice || fail "control: alice never sees bob up: $(vtx_ctl alice peers)"
wait_until 30 peer_is_up bob || fail "control: bob never sees alice up"
out=$(qn alice ping -c 3 -i 0.2 -w 10 "$OVL4_PEER") || fail "control: no overlay ping: $out"
grep -q '3 packets transmitted, 3 received' <<<"$out" || fail "control: ping: $out"
pass "control: tunnel up, alice -> bob ping 3/3"
stop_agents alice bob

# --- 1. CA A vouches for bob@b -------------------------------------------------------------

say "case 1: CA $DOMAIN_A signs $B_BOB with openssl; mallory presents it where alice dials bob"
ossl_sign forged1 "$B_BOB" caa
pp "$VERTEX" cert show "$VTX_TMP/forged1.crt"
alice_expects "$B_BOB" "$MALLORY_IP"
mallory_runs "$B_BOB" forged1
refused 1 "certificate of $B_BOB (issued by $DOMAIN_A) $NOT_SIGNED_BY_B"
no_tunnel 1
stop_agents alice forged1

# --- 2. another user of A -------------------------------------------------------------------

say "case 2: mallory, a real user of $DOMAIN_A, answers where alice dials $A_CAROL"
agent_cert mallory "$A_MALLORY" caa
alice_expects "$A_CAROL" "$MALLORY_IP"
mallory_runs "$A_MALLORY" mallory
refused 2 "peer certificate names $A_MALLORY, expected $A_CAROL"
no_tunnel 2
stop_agents alice mallory

# --- 3. a self-made CA named b.example.com --------------------------------------------------

say "case 3: mallory's own CA named $DOMAIN_B signs $B_BOB"
ca_new rogueb "$DOMAIN_B"
agent_cert forged3 "$B_BOB" rogueb
alice_expects "$B_BOB" "$MALLORY_IP"
mallory_runs "$B_BOB" forged3
refused 3 "certificate of $B_BOB (issued by $DOMAIN_B) $NOT_SIGNED_BY_B"
no_tunnel 3
stop_agents alice forged3

# --- 4. an intermediate CA named b.example.com, signed by CA A ------------------------------

say "case 4: CA $DOMAIN_A makes an intermediate CA '$DOMAIN_B'; it signs $B_BOB"
printf '%s\n' 'basicConstraints = critical, CA:TRUE' 'keyUsage = critical, keyCertSign, cRLSign' \
	>"$VTX_TMP/inter.ext"
ossl_sign inter "$DOMAIN_B" caa "$VTX_TMP/inter.ext"
ossl_sign forged4 "$B_BOB" inter
pp openssl verify -CAfile "$VTX_TMP/caa.crt" -untrusted "$VTX_TMP/inter.crt" \
	"$VTX_TMP/forged4.crt" || fail "case 4: the forged chain is not even a valid X.509 chain"
cat "$VTX_TMP/forged4.crt" "$VTX_TMP/inter.crt" >"$VTX_TMP/forged4.chain"
alice_expects "$B_BOB" "$MALLORY_IP"
# The leaf alone (its issuer left out): not signed by b's CA.
mallory_runs "$B_BOB" forged4 "$VTX_TMP/forged4.crt"
refused 4 "certificate of $B_BOB (issued by $DOMAIN_B) $NOT_SIGNED_BY_B"
no_tunnel 4
stop_agents forged4
# With the intermediate after the leaf (vertexd sends what its certificate file holds):
# refused at the intermediate, which wolfSSL alone would accept (every link verifies up to the
# trusted CA A): a chain may carry no CA but the anchor of its domain (issue 9, item 5: wolfSSL
# would otherwise keep the intermediate for good).
mark=$(($(wc -l <"$VTX_TMP/alice.log") + 1))
mallory_runs "$B_BOB" forged4 "$VTX_TMP/forged4.chain"
refused 4 "peer's chain carries a CA certificate that is not the anchor of its domain" "$mark"
no_tunnel 4
stop_agents forged4
# openssl s_client sends the whole chain too. Only lines after this point of alice's log
# count: mallory's vertexd has stopped.
s_client() # s_client CERT KEY [CHAIN]: one TLS 1.3 handshake from mallory to alice's port
{
	local args=(-connect "$ALICE_IP:$VTX_PORT" -tls1_3 -cert "$1" -key "$2")
	[[ -z ${3:-} ]] || args+=(-cert_chain "$3")
	pretty mallory "openssl s_client ${args[*]} </dev/null"
	qn mallory timeout 10 openssl s_client "${args[@]}" </dev/null >>"$VTX_TMP/s_client.log" 2>&1 ||
		true
}
mark=$(($(wc -l <"$VTX_TMP/alice.log") + 1))
s_client "$VTX_TMP/forged4.crt" "$VTX_TMP/forged4.key" "$VTX_TMP/inter.crt"
refused 4 "peer's chain carries a CA certificate that is not the anchor of its domain" "$mark"
tail -n "+$mark" "$VTX_TMP/alice.log" | grep -qF "handshake with unknown peer ($MALLORY_IP:" ||
	fail "case 4: the refusal after the openssl handshake is not about it"
pass "case 4: the full chain (leaf + intermediate, from openssl s_client) is refused at its intermediate"
mark=$(($(wc -l <"$VTX_TMP/alice.log") + 1))
s_client "$VTX_TMP/inter.crt" "$VTX_TMP/inter.key"
refused 4 "peer presented the CA certificate of $DOMAIN_B, not a user certificate" "$mark"
[[ $(peer_json alice .state) != up ]] || fail "case 4: alice shows the peer up"
stop_agents alice

# --- 5. vertex ca sign stays inside its domain ----------------------------------------------

say "case 5: vertex ca sign with CA $DOMAIN_A refuses --identity $B_BOB"
pp "$VERTEX" key new --key "$VTX_TMP/m5.key" --pub "$VTX_TMP/m5.pub"
rc=0
out=$("$VERTEX" ca sign --ca-key "$VTX_TMP/caa.key" --ca-cert "$VTX_TMP/caa.crt" \
	--pub "$VTX_TMP/m5.pub" --identity "$B_BOB" --out "$VTX_TMP/m5.crt" 2>&1) || rc=$?
[[ $rc -eq 1 ]] || fail "case 5: vertex ca sign exited $rc, expected 1: $out"
want="vertex ca sign: $VTX_TMP/caa.crt: the CA of $DOMAIN_A cannot sign for $B_BOB"
[[ $out == "$want" ]] || fail "case 5: vertex ca sign said '$out', expected '$want'"
[[ ! -e $VTX_TMP/m5.crt ]] || fail "case 5: a certificate file was written anyway"
pass "case 5: exit 1, '$out', no file written"
REFUSALS+=("case 5: ${out#*: }")

# --- 6. the server renews only the name it knows ---------------------------------------------

say "case 6: server $DOMAIN_A; mallory enrols as $A_MALLORY, then asks to renew as $A_ALICE"
server_init srva "$DOMAIN_A" >/dev/null
server_start srva
enrolled mallory m6 "$A_MALLORY"
renew() # renew CSR-IDENTITY: renew_probe from mallory's namespace with m6's key and certificate
{
	pretty mallory "renew_probe $SRVA_IP:$SERVER_PORT m6.key m6.crt $DOMAIN_A m6.ca $1"
	qn mallory "$RENEW_PROBE" "$SRVA_IP:$SERVER_PORT" "$VTX_TMP/m6.key" "$VTX_TMP/m6.crt" \
		"$DOMAIN_A" "$VTX_TMP/m6.ca" "$1"
}
rc=0
out=$(renew "$A_ALICE") || rc=$?
want="error bad_csr: the certificate request names $A_ALICE, not $A_MALLORY"
[[ $rc -eq 1 && $out == "$want" ]] || fail "case 6: renew_probe (exit $rc) said '$out', expected '$want'"
pass "case 6: server answered '$out'"
REFUSALS+=("case 6: ${out#error }")
grep -qF "the certificate request names $A_ALICE, not $A_MALLORY" "$VTX_TMP/srva.log" ||
	fail "case 6: the server did not log the refusal"
grep -q "renewed $A_ALICE" "$VTX_TMP/srva.log" && fail "case 6: the server renewed $A_ALICE"
# The same tool asking for mallory's own name gets a certificate: the refusal is about the name.
out=$(renew "$A_MALLORY") || fail "case 6: a renewal of mallory's own name failed: $out"
[[ $out == "cert $A_MALLORY" ]] || fail "case 6: own renewal said '$out'"
pass "case 6: control: renewing $A_MALLORY itself works ('$out')"
server_stop srva
[[ $VTX_LAST_RC -eq 0 ]] || fail "vertex-server exited with $VTX_LAST_RC on SIGTERM"

say "refusals observed:"
for r in "${REFUSALS[@]}"; do
	say "  $r"
done
pass "$VTX_SCENARIO"
