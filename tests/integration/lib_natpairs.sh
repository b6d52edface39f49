#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Pairs of NAT kinds on the lab of lib_nat.sh (sourced after lib.sh, lib_domains.sh,
# lib_servers.sh, lib_nat.sh and lib_rdv.sh): one lab, one enrolment and one approval, then for
# each pair the agents stopped, both routers given their kinds (conntrack flushed: no mapping
# of the pair before survives), the agents started again (the approval is in their state), and
# the path asserted:
#
#   nat_pairs_up                      servers, alice and bob enrolled and configured
#   nat_pair KIND-A KIND-B WANT [BOB-NODE]
#                                     alice's router KIND-A, bob's KIND-B (nat_site_kind), bob's
#                                     agent in BOB-NODE's namespace (default bob; e.g. a host on
#                                     alice's LAN). WANT: direct (both agents on path udp, each
#                                     at the endpoint the kinds imply, `vertex ping` says
#                                     `via direct udp ENDPOINT`, pings cross the routers or the
#                                     LAN directly), direct6 (the same over IPv6, between the
#                                     hosts' own addresses of nat_site_ipv6), tcp (once UDP
#                                     is found blocked or without a way: both on path tcp, `vertex ping`
#                                     says `via direct tcp`, pings cross bob's router) or relay (both
#                                     agents end their fast probing unanswered, stay on the
#                                     relay, `vertex ping` says `via relay ...`, pings work and
#                                     do not cross bob's router)
#                                     Then each agent's `vertex netcheck` must classify its
#                                     NAT as its router's kind is (nat_kind_class).
#   nat_pairs_report                  one line per pair: what was asked, what came, how fast
#
# The time measured is from alice's agent connected to its server (bob's is already; for the
# first pair: from the approval) to both agents on the direct path: the session's handshake over the relay
# (the agents dial it at start, no traffic needed), the offers through the servers and the
# probes. It is printed (the issue's target for the endpoint-independent combinations is
# 2 s), not asserted: a speed, not a behaviour; a pair fails only if it is not direct in 20 s.
#
# shellcheck disable=SC2034

ALICE=alice@$DOMAIN_A
BOB=bob@$DOMAIN_B
NAT_PAIRS=0
NAT_PAIR_LINES=()

nat_pairs_up()
{
	server_init srva "$DOMAIN_A" >/dev/null
	server_init srvb "$DOMAIN_B" >/dev/null
	server_start srva
	server_start srvb
	enrolled alice alice "$ALICE"
	enrolled bob bob "$BOB"
	lab_agent_config alice "$ALICE" fd00:5678:a1::/48
	lab_agent_config bob "$BOB" fd00:5678:b1::/48
	printf 'purpose ssh tcp/22\n' >>"$VTX_TMP/bob.conf"
	# A frame on the LAN between two hosts of a site (the host path) is counted by its bridge.
	local site
	for site in nata natb; do
		qn "$site" nft -f - <<EOF
table bridge vtxlan {
	counter within { }
	chain lan {
		type filter hook forward priority 0; policy accept;
		meta l4proto udp counter name within
	}
}
EOF
	done
}

nat_lan_counter()
{
	qn "$1" nft list counter bridge vtxlan within | awk '/packets/ { print $2; exit }'
}

# nat_pair_endpoint SITE HOST-IP: where the other side sees that site's agent: its own address
# (public), its router's address and some port (symmetric), its router's address, port kept.
nat_pair_endpoint()
{
	case ${NAT_SITE_KIND[$1]} in
	public) echo "$2:4800" ;;
	symmetric) echo "${NAT_SITE_PUB[$1]}:*" ;;
	*) echo "${NAT_SITE_PUB[$1]}:4800" ;;
	esac
}

nat_pair()
{
	local ka=$1 kb=$2 want=$3 bnode=${4:-bob} n t0 t1 ep_a ep_b out before got bob_ip
	local label="$1/$2${4:+ ($4)}"
	[[ $want != direct6 ]] || label+=" v6 ${NAT_SITE_V6MODE[nata]}/${NAT_SITE_V6MODE[natb]}"
	NAT_PAIRS=$((NAT_PAIRS + 1))
	say "pair $NAT_PAIRS: alice behind $ka, bob behind $kb${4:+ on $bnode}: want $want"
	for n in alice bob; do
		[[ -n ${VTX_DAEMON_PID[$n]:-} && -z ${VTX_DAEMON_STOPPED[$n]:-} ]] || continue
		vtx_stop "$n"
		[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
		mv "$VTX_TMP/$n.log" "$VTX_TMP/$n.$((NAT_PAIRS - 1)).log"
	done
	nat_site_kind nata "$ka"
	nat_site_kind natb "$kb"
	# bob at home first: alice's agent dials him through the relay as it starts, and a dial
	# that finds him not at home yet is retried only after a back-off (up to 1.5 s).
	lab_agent_start "$bnode" bob
	wait_until 20 home_up bob || fail "bob's agent never connects to its server"
	lab_agent_start alice alice
	wait_until 20 home_up alice || fail "alice's agent never connects to its server"
	# From both agents at home (the approval kept in their state), or from the approval.
	t0=$EPOCHREALTIME
	if [[ -z ${NAT_BOB4:-} ]]; then
		rdv_ask_approve alice "$ALICE" bob "$BOB" ssh
		t0=$EPOCHREALTIME
		NAT_BOB4=$(vtx_ctl alice resolve --address "$BOB/ssh")
	fi
	bob_ip=$(qn "$bnode" ip -4 -o addr show dev eth0 | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
	if [[ $want == direct6 ]]; then
		# Over IPv6, without NAT: each sees the other's own address (nat_site_ipv6).
		ep_a="\\[${NAT_SITE_V6[natb]}:2\\]:4800"
		ep_b="\\[${NAT_SITE_V6[nata]}:2\\]:4800"
	elif [[ $bnode != bob ]]; then
		# On one LAN: each sees the other's own address.
		ep_a=$bob_ip:4800
		ep_b=$ALICE_LAN_IP:4800
	else
		ep_a=$(nat_pair_endpoint natb "$bob_ip")
		ep_b=$(nat_pair_endpoint nata "$ALICE_LAN_IP")
	fi
	if [[ $want == direct* ]]; then
		wait_until 20 nat_pair_direct || fail "$label: never direct: alice: $(vtx_ctl alice peers); bob: $(vtx_ctl bob peers)"
		t1=$EPOCHREALTIME
		# shellcheck disable=SC2053 # the endpoints are glob patterns
		[[ $(peer_field alice "$BOB" endpoint) == $ep_a && $(peer_field bob "$ALICE" endpoint) == $ep_b ]] ||
			fail "$label: alice -> $(peer_field alice "$BOB" endpoint) (want $ep_a), bob -> $(peer_field bob "$ALICE" endpoint) (want $ep_b)"
		out=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $out"
		# shellcheck disable=SC2053
		[[ $(grep reply <<<"$out") == *"via direct udp "$ep_a ]] || fail "$label: vertex ping said: $out"
		if [[ $want == direct6 ]]; then
			before=$(nat_counter6 natb)
			check_ping on_alice "$NAT_BOB4"
			got=$(($(nat_counter6 natb) - before))
		elif [[ $bnode != bob ]]; then
			before=$(nat_lan_counter nata)
			check_ping on_alice "$NAT_BOB4"
			got=$(($(nat_lan_counter nata) - before))
		else
			before=$(nat_counter natb)
			check_ping on_alice "$NAT_BOB4"
			got=$(($(nat_counter natb) - before))
		fi
		((got >= 10)) || fail "$label: only $got packets crossed directly for 5 pings"
		[[ $bnode != bob ]] || nat_pair_classes "$label"
		NAT_PAIR_LINES+=("$(printf '%-36s direct %5s ms  alice -> %s, bob -> %s; netcheck %s, %s' "$label" \
			"$(nat_ms "$t0" "$t1")" "$(peer_field alice "$BOB" endpoint)" "$(peer_field bob "$ALICE" endpoint)" \
			"$(nat_pair_netcheck alice)" "$(nat_pair_netcheck bob)")")
		pass "$label: direct in $(nat_ms "$t0" "$t1") ms: $(grep reply <<<"$out"); $got packets crossed directly"
	elif [[ $want == tcp ]]; then
		# UDP finds no way, then a direct TCP link to a candidate (direct_tcp_plan: at the
		# offer when one side's UDP is blocked, else after 10 s of fast probing).
		wait_until 40 nat_pair_tcp || fail "$label: never on direct TCP: alice: $(vtx_ctl alice peers); bob: $(vtx_ctl bob peers)"
		t1=$EPOCHREALTIME
		out=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $out"
		grep -q "reply in .* ms via direct tcp" <<<"$out" || fail "$label: vertex ping said: $out"
		before=$(nat_counter natb)
		check_ping on_alice "$NAT_BOB4"
		got=$(($(nat_counter natb) - before))
		((got >= 10)) || fail "$label: only $got packets crossed directly for 5 pings"
		[[ $bnode != bob ]] || nat_pair_classes "$label"
		NAT_PAIR_LINES+=("$(printf '%-36s tcp    %5s ms  (a direct TCP link); netcheck %s, %s' "$label" \
			"$(nat_ms "$t0" "$t1")" "$(nat_pair_netcheck alice)" "$(nat_pair_netcheck bob)")")
		pass "$label: direct TCP: $(grep reply <<<"$out"); $got packets crossed directly"
	else
		wait_until 20 qn alice ping -c 1 -W 1 "$NAT_BOB4" || fail "$label: no ping through the overlay"
		for n in alice bob; do
			wait_until 30 grep -q "direct: no answer from the .* candidate(s) of .* in 10 s" "$VTX_TMP/$n.log" ||
				fail "$label: $n's agent never ends its fast probing: $(grep direct: "$VTX_TMP/$n.log")"
		done
		path_is alice "$BOB" relay || fail "$label: alice is not on the relay: $(vtx_ctl alice peers)"
		path_is bob "$ALICE" relay || fail "$label: bob is not on the relay: $(vtx_ctl bob peers)"
		out=$(qn alice "$VERTEX" -s "$VTX_TMP/alice.sock" ping "$BOB" -c 1 -W 2) || fail "vertex ping: $out"
		grep -q "reply in .* ms via relay via $DOMAIN_A $DOMAIN_B" <<<"$out" || fail "$label: vertex ping said: $out"
		before=$(nat_counter natb)
		check_ping on_alice "$NAT_BOB4"
		got=$(($(nat_counter natb) - before))
		((got < 10)) || fail "$label: $got packets crossed bob's router directly, on the relay"
		[[ $bnode != bob ]] || nat_pair_classes "$label"
		NAT_PAIR_LINES+=("$(printf '%-36s relay (fast probing ended unanswered); netcheck %s, %s' "$label" \
			"$(nat_pair_netcheck alice)" "$(nat_pair_netcheck bob)")")
		pass "$label: relay: $(grep reply <<<"$out")"
	fi
}

# nat_kind_class KIND: what netcheck must say (mapping/filtering) behind a router of that kind,
# classified with the servers' two addresses and two ports; nothing for udp-blocked (no
# reflection gets through).
nat_kind_class()
{
	case $1 in
	apdf) echo endpoint-independent/port-dependent ;;
	adf) echo endpoint-independent/address-dependent ;;
	eif | public) echo endpoint-independent/open ;;
	symmetric) echo endpoint-dependent/port-dependent ;;
	esac
}

# nat_pair_classes LABEL: each agent's netcheck says what its router's kind is (the round of
# reflection settles within about 8 s of the agent's start).
nat_pair_classes()
{
	local n router want
	for n in alice bob; do
		router=nata
		[[ $n == alice ]] || router=natb
		want=$(nat_kind_class "${NAT_SITE_KIND[$router]}")
		[[ -n $want ]] || continue
		wait_until 15 nat_pair_class_is "$n" "$want" ||
			fail "$1: $n's netcheck says $(nat_pair_netcheck "$n") behind ${NAT_SITE_KIND[$router]}, not $want"
	done
}

nat_pair_class_is()
{
	[[ $(nat_pair_netcheck "$1") == "$2" ]]
}

# nat_pair_netcheck NAME: what NAME's netcheck says of its NAT
nat_pair_netcheck()
{
	vtx_ctl "$1" netcheck --json | jq -r '"\(.nat.mapping)/\(.nat.filtering)"' 2>/dev/null || echo '?'
}

nat_pair_tcp()
{
	path_is alice "$BOB" tcp && path_is bob "$ALICE" tcp
}

nat_pair_direct()
{
	path_is alice "$BOB" udp && path_is bob "$ALICE" udp
}

nat_ms() # nat_ms T0 T1: milliseconds between two $EPOCHREALTIME
{
	local a=${1/./} b=${2/./}
	echo $(((10#$b - 10#$a) / 1000))
}

nat_pairs_report()
{
	local line
	say "pairs (alice's router / bob's router):"
	for line in "${NAT_PAIR_LINES[@]}"; do
		say "  $line"
	done
	for n in alice bob; do
		vtx_stop "$n"
		[[ $VTX_LAST_RC -eq 0 ]] || fail "vertexd $n exited with status $VTX_LAST_RC (it crashed?)"
	done
	server_stop srva
	server_stop srvb
}
