#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vertex-server's command line, on a real state directory (no network): every verb has its own
# --help; every kind of bad argument is refused with exit status 2 and a message naming the verb
# and what is wrong, *before* the state directory is touched (a refused init creates nothing, a
# refused user add leaves the store as it was); refusals of the store itself (a user that exists
# or does not, a revoked account, a second init) exit 1 and say why; init makes its files with
# the modes promised; the verbs' outputs are exact (user list, --json, invite codes, del); and
# run stops at start-up on a missing CA, a damaged store or key, or a second address
# (--alt-address) the host does not have, saying which.
#
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

SERVER=$VTX_BUILD/vertex-server
[[ -x $SERVER ]] || skip "vertex-server not built in $VTX_BUILD"
command -v jq >/dev/null || skip "missing tool: jq"
vtx_setup_common
D=$VTX_TMP/srv

vs() # vs ARGS...: vertex-server on the test's state directory
{
	"$SERVER" -D "$D" "$@"
}

say "help: the general one lists every verb; each verb has its own, also through 'help VERB'"
expect_rc 0 "$SERVER" --help
usage=$OUT
for verb in init run user invite revoke help; do
	[[ $usage == *$'\n'"  $verb "* ]] || fail "--help does not list the verb $verb"
	expect_rc 0 "$SERVER" "$verb" --help
	[[ $OUT == "Usage: vertex-server "*" $verb"* ]] || fail "$verb --help: ${OUT%%$'\n'*}"
	by_flag=$OUT
	expect_rc 0 "$SERVER" help "$verb"
	[[ $OUT == "$by_flag" ]] || fail "'help $verb' differs from '$verb --help'"
done
expect_rc 0 "$SERVER" user add -h
[[ $OUT == *"user add USER [--password-stdin]"* ]] || fail "user add -h: $OUT"
pass "vertex-server --help, VERB --help and help VERB"

say "usage errors: exit 2, the verb and the reason named, nothing created"
expect_rc 2 "$SERVER" -D "$D" frobnicate
expect_err "unknown verb 'frobnicate'"
expect_rc 2 "$SERVER" --bogus
expect_err "unknown option '--bogus'"
expect_rc 2 vs init
expect_err "vertex-server init: needs --domain DOMAIN"
expect_rc 2 vs init --domain a.example.com --days 0
expect_err "--days wants a number of days from 1 to 36500, not '0'"
expect_rc 2 vs init --domain a.example.com --days 99999
expect_err "not '99999'"
expect_rc 2 vs init --domain a.example.com --bogus
expect_err "vertex-server init: unknown option '--bogus'"
expect_rc 2 vs init --domain
expect_err "option '--domain' needs a value"
expect_rc 2 vs init --domain a.example.com extra
expect_err "unexpected argument 'extra'"
[[ ! -e $D ]] || fail "a refused init created $D"
expect_rc 1 vs init --domain nodots
expect_err "nodots"
[[ ! -e $D/ca.key ]] || fail "init with an invalid domain made a CA"
expect_rc 2 vs run --port 0
expect_err "--port wants 1 to 65535, not '0'"
expect_rc 2 vs run --port 65536
expect_rc 2 vs run --cert-validity 5s
expect_err "--cert-validity wants a duration from 10s to 3650d"
expect_rc 2 vs run --cert-validity 7w
expect_rc 2 vs run -d nonsense
expect_err "unknown debug category in 'nonsense'"
expect_rc 2 vs run --relay-rate 1000
expect_err "--relay-rate wants bytes per second from 1024 to 4000000000, not '1000'"
expect_rc 2 vs run --relay-rate 64MiB
expect_rc 2 vs run --alt-address 198.18.0.300
expect_err "--alt-address wants an IPv4 or IPv6 address, not '198.18.0.300'"
expect_rc 2 vs run --alt-address 0.0.0.0
expect_err "--alt-address wants one address, not '0.0.0.0'"
expect_rc 2 vs run --alt-address 198.18.0.11 --alt-address 198.18.0.12
expect_err "one IPv4 --alt-address at most"
expect_rc 2 vs run --alt-address fd00::1 --alt-address fd00::2
expect_err "one IPv6 --alt-address at most"
expect_rc 2 vs run --peering-idle 5s
expect_err "--peering-idle wants a duration from 10s to 1d, such as 90s or 10m, not '5s'"
expect_rc 2 vs run --peering-idle 2d
expect_rc 2 vs run extra
expect_err "vertex-server run: unexpected argument 'extra'"
expect_rc 1 vs user list
expect_err "no account store in $D (run 'vertex-server -D $D init' first)"
[[ ! -e $D/server.db ]] || fail "an administrative verb created a store in a directory without one"
pass "bad arguments refused before anything is made"

say "init: the CA and keys with the promised modes, the fingerprint printed; a second init refused"
expect_rc 0 vs init --domain a.example.com --days 30
[[ $OUT =~ ^domain\ a\.example\.com:\ CA\ (SHA256:[A-Za-z0-9+/]{43}) ]] || fail "init printed: $OUT"
fpr=${BASH_REMATCH[1]}
[[ $(stat -c %a "$D") == 700 ]] || fail "$D is mode $(stat -c %a "$D"), want 700"
for f in ca.key server.key server.db; do
	[[ $(stat -c %a "$D/$f") == 600 ]] || fail "$f is mode $(stat -c %a "$D/$f"), want 600"
done
for f in ca.crt server.crt; do
	[[ -s $D/$f ]] || fail "init made no $f"
done
ca_sum=$(sha256sum <"$D/ca.key")
expect_rc 1 vs init --domain a.example.com
expect_err "already holds a domain CA; refusing to replace it"
[[ $(sha256sum <"$D/ca.key") == "$ca_sum" ]] || fail "the second init changed the CA key"
pass "init made $fpr, keys 0600, directory 0700, and refused to run twice"

say "user: names checked before the store is opened; exact listings"
expect_rc 2 vs user
expect_err "vertex-server user: needs add, del or list"
expect_rc 2 vs user frob
expect_err "unknown sub-verb 'frob'"
expect_rc 2 vs user add
expect_err "vertex-server user add: needs a USER"
expect_rc 2 vs user add Alice
expect_err "'Alice' is not a user name: upper-case letters"
expect_rc 2 vs user add server
expect_err "'server' is not a user name: reserved"
expect_rc 2 vs user add "a b"
expect_err "'a b' is not a user name"
expect_rc 2 vs user add "$(printf 'x%.0s' {1..65})"
expect_err "longer than 64 characters"
expect_rc 2 vs user add alice bob
expect_err "unexpected argument 'bob'"
expect_rc 2 vs user add alice --pasword-stdin
expect_err "unknown option '--pasword-stdin'"
expect_rc 2 vs user list --jsn
expect_rc 0 vs user list
[[ -z $OUT ]] || fail "refused adds left accounts behind: $OUT"
expect_rc 0 vs user add alice
[[ $OUT == "added alice" ]] || fail "user add printed: $OUT"
expect_rc 1 vs user add alice
expect_err "user alice already exists"
expect_rc 1 vs user add eve --password-stdin </dev/null
expect_err "no password on standard input"
expect_rc 1 bash -c "printf '\n' | \"\$0\" -D \"\$1\" user add eve --password-stdin" "$SERVER" "$D"
expect_err "password refused: a password cannot be empty"
expect_rc 0 bash -c "printf 'correct horse\n' | \"\$0\" -D \"\$1\" user add dave --password-stdin" \
	"$SERVER" "$D"
[[ $OUT == "added dave (with a password)" ]] || fail "user add --password-stdin printed: $OUT"
expect_rc 0 vs user list --json
jq -e '[.users[] | [.user, .password, .revoked, .certificates]] ==
	[["alice", false, 0, 0], ["dave", true, 0, 0]]' <<<"$OUT" >/dev/null ||
	fail "user list --json: $OUT"
pass "user add refuses bad names with exit 2 and adds good ones; eve, refused, is not listed"

say "invite new: exact code format, limits, unknown and revoked accounts"
expect_rc 2 vs invite alice
expect_err "the verb is 'invite new USER'"
expect_rc 2 vs invite new alice --hours 0
expect_err "--hours wants 1 to 8760, not '0'"
expect_rc 2 vs invite new alice --hours 8761
expect_rc 2 vs invite new alice --hours
expect_err "option '--hours' needs a value"
expect_rc 1 vs invite new nobody
expect_err "no user nobody (add it with 'user add')"
expect_rc 0 vs invite new alice --hours 2
[[ $OUT =~ ^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$ ]] || fail "invite code: $OUT"
code=$OUT
grep -qF "$code" "$D/server.db" && fail "the invite code is stored in plaintext"
pass "invite code $code made, stored only as a digest"

say "revoke and user del"
expect_rc 2 vs revoke
expect_err "vertex-server revoke: needs a USER"
expect_rc 1 vs revoke nobody
expect_err "no user nobody"
expect_rc 0 vs revoke alice
[[ $OUT == "revoked alice and 0 certificate(s);"* ]] || fail "revoke printed: $OUT"
expect_rc 0 vs user list
[[ $OUT == *alice*REVOKED* ]] || fail "alice not shown revoked: $OUT"
expect_rc 1 vs invite new alice
expect_err "alice is revoked and gets no invites"
# The approvals alice gave and received (as a server that relayed them would have stored them,
# approvals.c's table) go with her; b.example.com's alice and dave's own keep theirs.
approvals_sql() # approvals_sql SQL: runs SQL on the store, prints the rows
{
	python3 - "$D/server.db" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for row in db.execute(sys.argv[2]):
    print("|".join(str(c) for c in row))
db.commit()
PY
}
command -v python3 >/dev/null || skip "missing tool: python3"
approvals_sql "CREATE TABLE IF NOT EXISTS approvals (asker TEXT NOT NULL, answerer TEXT NOT NULL,
  purpose TEXT NOT NULL, proto INTEGER NOT NULL, port INTEGER NOT NULL, created INTEGER NOT NULL,
  PRIMARY KEY (asker, answerer, purpose))" >/dev/null
approvals_sql "INSERT INTO approvals VALUES
  ('alice@a.example.com', 'dave@a.example.com', 'ssh', 6, 22, 1),
  ('bob@b.example.com', 'alice@a.example.com', 'web', 6, 80, 1),
  ('alice@b.example.com', 'dave@a.example.com', 'ssh', 6, 22, 1),
  ('dave@a.example.com', 'carol@b.example.com', 'ssh', 6, 22, 1)" >/dev/null
expect_rc 0 vs user del alice
[[ $OUT == "deleted alice; 0 certificate(s) revoked, 2 approval(s) purged" ]] ||
	fail "user del printed: $OUT"
left=$(approvals_sql "SELECT asker, answerer FROM approvals ORDER BY asker")
[[ $left == $'alice@b.example.com|dave@a.example.com\ndave@a.example.com|carol@b.example.com' ]] ||
	fail "approvals left after user del: $left"
[[ $(approvals_sql "SELECT value FROM meta WHERE key = 'approvals_epoch'") == 1 ]] ||
	fail "user del did not tell a running server to reload its approvals"
expect_rc 1 vs user del alice
expect_err "no user alice"
expect_rc 0 vs user list --json
jq -e '[.users[].user] == ["dave"]' <<<"$OUT" >/dev/null || fail "after del: $OUT"
pass "revoke, user del (its approvals purged) and their refusals"

say "trust: the pins of other domains, listed, re-pinned and forgotten by the administrator"
expect_rc 0 vs trust list --json
[[ $OUT == '{"pins":[]}' ]] || fail "a fresh server has pins: $OUT"
OTHER=$(head -c 32 /dev/urandom | base64 -w0 | tr -d =)
OTHER=SHA256:$OTHER
expect_rc 2 vs trust
expect_err "vertex-server trust: needs list, show, forget or pin"
expect_rc 2 vs trust frob
expect_err "unknown sub-verb 'frob'"
expect_rc 2 vs trust show
expect_err "vertex-server trust show: takes 1 argument(s), not 0"
expect_rc 2 vs trust show bad_domain
expect_err "not a domain"
expect_rc 2 vs trust pin b.example.com
expect_rc 2 vs trust pin b.example.com "${OTHER%?}"
expect_err "not a fingerprint"
expect_rc 2 vs trust pin A.Example.COM "$OTHER"
expect_err "a.example.com is this server's own domain"
expect_rc 2 vs trust forget b.example.com --json
expect_err "unknown option '--json'"
expect_rc 1 vs trust show b.example.com
expect_err "no pin for b.example.com"
expect_rc 1 vs trust forget b.example.com
expect_err "no pin for b.example.com"
expect_rc 0 vs trust pin B.Example.com "$OTHER"
[[ $OUT == "pinned b.example.com to $OTHER; a running server applies this within 2 s" ]] ||
	fail "trust pin printed: $OUT"
expect_rc 0 vs trust show b.example.com --json
jq -e --arg f "$OTHER" '.pins == [{"domain": "b.example.com", "fingerprint": $f,
	"first_seen": .pins[0].first_seen, "how": "pinned by the administrator"}] and
	(.pins[0].first_seen | . > 1700000000)' <<<"$OUT" >/dev/null || fail "trust show --json: $OUT"
expect_rc 0 vs trust list
[[ $OUT == "b.example.com"$'\n'"  fingerprint  $OTHER"* ]] || fail "trust list: $OUT"
expect_rc 0 vs trust forget b.example.com
[[ $OUT == "forgot the pin of b.example.com:"* ]] || fail "trust forget printed: $OUT"
expect_rc 0 vs trust list --json
[[ $OUT == '{"pins":[]}' ]] || fail "the forgotten pin is still listed: $OUT"
pass "trust list, show, pin and forget, and their refusals"

# run fails before it listens here, but inside a network namespace of its own all the same.
say "run: a missing or damaged state directory stops it at start-up, named, and is left as it was"
expect_rc 1 unshare -n "$SERVER" -D "$VTX_TMP/none" run
expect_err "no domain CA in $VTX_TMP/none (make one with 'vertex-server -D $VTX_TMP/none init')"
cp "$D/server.db" "$VTX_TMP/server.db.good"
head -c 8192 /dev/urandom >"$D/server.db"
db_sum=$(sha256sum <"$D/server.db")
expect_rc 1 unshare -n "$SERVER" -D "$D" run
expect_err "accounts $D/server.db: schema: file is not a database"
expect_err "start-up failed"
[[ $(sha256sum <"$D/server.db") == "$db_sum" ]] || fail "run changed the damaged store"
cp "$VTX_TMP/server.db.good" "$D/server.db"
cp "$D/ca.key" "$VTX_TMP/ca.key.good"
echo "not a key" >"$D/ca.key"
expect_rc 1 unshare -n "$SERVER" -D "$D" run
expect_err "cannot load the domain CA from $D: $D/ca.key: not a PEM private key"
[[ $ERR != *"init"* ]] || fail "the error suggests init, which would refuse an existing CA: $ERR"
cp "$VTX_TMP/ca.key.good" "$D/ca.key"
expect_rc 0 vs user list --json
jq -e '[.users[].user] == ["dave"]' <<<"$OUT" >/dev/null || fail "the restored store: $OUT"
pass "run refuses a missing CA, a damaged store and a damaged CA key, each named"

# The namespace of unshare has only loopback, up (without any address in a namespace, Linux
# takes every address for a broadcast one, which a socket may bind): 198.18.0.11 is not one.
say "run: an --alt-address the host does not have stops it at start-up, named"
expect_rc 1 unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' "$SERVER" -D "$D" run --alt-address 198.18.0.11
expect_err "--alt-address 198.18.0.11 is not an address of this host"
pass "run refuses a second address the host does not have"

pass "$VTX_SCENARIO"
