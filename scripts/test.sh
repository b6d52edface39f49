#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The whole test suite, as CI runs it (.ci/run): dependencies, formatting (clang-format), a
# lint of the shell scripts (ShellCheck), the layering of the daemon's folders, the -Werror build and its unit tests, an ASan+UBSan
# build and its unit tests, a ThreadSanitizer build of the code that runs on threads
# (core/offload.c and its users) with its tests, every fuzz target briefly, and every
# network-namespace scenario. Each stage is headed "==== stage ====" and its lines prefixed
# with "[stage]". Every check counts once as passed, failed or skipped; the last line is
# "N passed, N failed[, N skipped]" and the exit status is non-zero if anything failed.
#
# Environment: VERTEX_BUILD_DIR (default "build"; the sanitizer and fuzz builds go to
# <dir>-asan and <dir>-fuzz), FUZZ_SECONDS (default 20 per target), VERTEX_SKIP_DEPS=1 to skip
# the apt step, JOBS (default nproc), IT_JOBS (scenarios at once, default 2).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
REPO=$(pwd)
BUILD=${VERTEX_BUILD_DIR:-build}
BUILD_ASAN=$BUILD-asan
BUILD_FUZZ=$BUILD-fuzz
BUILD_TSAN=$BUILD-tsan
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
JOBS=${JOBS:-$(nproc)}
IT_JOBS=${IT_JOBS:-2}
export VERTEX_BUILD_DIR=$BUILD

PASSED=()
FAILED=()
SKIPPED=()
# Each check's output, kept so that the summary can show why a check failed: CI may show only
# the end of the log.
CHECK_LOGS=$(mktemp -d /tmp/vertex-checks.XXXXXX)
trap 'rm -rf "$CHECK_LOGS"' EXIT

stage()
{
	printf '\n==== %s ====\n' "$*"
}

# prefixed TAG CMD...: run CMD with each output line prefixed by [TAG]; returns CMD's status.
prefixed()
{
	local tag=$1
	shift
	"$@" 2>&1 | sed -u "s/^/[$tag] /"
	return "${PIPESTATUS[0]}"
}

# record NAME STATUS: 0 passed, 77 skipped, anything else failed.
record()
{
	case $2 in
	0) PASSED+=("$1") ;;
	77) SKIPPED+=("$1") ;;
	*) FAILED+=("$1 (status $2)") ;;
	esac
}

# check_log NAME: where check NAME's output is kept.
check_log()
{
	printf '%s/%s.log' "$CHECK_LOGS" "${1//[^A-Za-z0-9_.-]/_}"
}

# check NAME CMD...: run, prefix and record one check; returns CMD's status.
check()
{
	local name=$1 rc
	shift
	prefixed "$name" "$@" | tee "$(check_log "$name")"
	rc=${PIPESTATUS[0]}
	record "$name" "$rc"
	return "$rc"
}

# check_bg NAME CMD...: check NAME run in the background (its status kept for check_collect).
check_bg()
{
	local name=$1
	shift
	(
		prefixed "$name" "$@" | tee "$(check_log "$name")"
		echo "${PIPESTATUS[0]}" >"$(check_log "$name").rc"
	) &
	BG_NAMES+=("$name")
}

# check_collect: waits for the checks check_bg started and records them, in the order started.
check_collect()
{
	local name
	wait
	for name in "${BG_NAMES[@]}"; do
		record "$name" "$(cat "$(check_log "$name").rc" 2>/dev/null || echo 1)"
	done
	BG_NAMES=()
}
BG_NAMES=()

# failure_detail NAME: the lines that say why check NAME failed (its FAIL lines, its last lines).
failure_detail()
{
	local log
	log=$(check_log "$1")
	[[ -s $log ]] || return 0
	grep -a -m 3 -B 4 -e '\[FAIL\]' -e 'FAILED' -e 'ERROR' "$log" | cut -c1-300
	echo "  ... its last lines:"
	tail -n 12 "$log" | cut -c1-300
}

stage_deps()
{
	stage "dependencies"
	if [[ -n ${VERTEX_SKIP_DEPS:-} ]]; then
		echo "skipped (VERTEX_SKIP_DEPS set)"
		return
	fi
	check deps bash scripts/install-deps.sh
}

format_check()
{
	local files bad=() f
	mapfile -t files < <(git ls-files -co --exclude-standard -- '*.c' '*.h')
	for f in "${files[@]}"; do
		clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
	done
	echo "${#files[@]} files checked"
	if [[ ${#bad[@]} -gt 0 ]]; then
		echo "not formatted (run clang-format -i on them):"
		printf '  %s\n' "${bad[@]}"
		return 1
	fi
}

# Every shell script in the tree, at shellcheck's warning level (its style notes are not
# enforced; the scripts follow its source-path directives).
shell_check()
{
	local files
	mapfile -t files < <(git ls-files -co --exclude-standard -- '*.sh' .ci/run)
	echo "${#files[@]} scripts checked"
	shellcheck -x -P SCRIPTDIR -S warning "${files[@]}"
}

# cmake_build DIR CMAKE-ARGS...: configure and build everything in DIR.
cmake_build()
{
	local dir=$1
	shift
	mkdir -p "$dir"
	cmake -S "$REPO" -B "$dir" -DVERTEX_WERROR=ON "$@" >"$dir/configure.log" 2>&1 ||
		{ cat "$dir/configure.log"; return 1; }
	cmake --build "$dir" -j "$JOBS"
}

# unit_tests DIR TAG: run ctest in DIR; record one check per unit test.
unit_tests()
{
	local dir=$1 tag=$2 names name failed_log=$1/Testing/Temporary/LastTestsFailed.log
	mapfile -t names < <(ctest --test-dir "$dir" -N | sed -n 's/^ *Test *#[0-9]*: //p')
	if [[ ${#names[@]} -eq 0 ]]; then
		echo "[$tag] no unit tests found"
		record "$tag:none" 1
		return
	fi
	rm -f "$failed_log"
	prefixed "$tag" ctest --test-dir "$dir" --output-on-failure --timeout 300 -j "$JOBS"
	for name in "${names[@]}"; do
		if [[ -f $failed_log ]] && grep -q ":$name\$" "$failed_log"; then
			record "$tag:$name" 1
		else
			record "$tag:$name" 0
		fi
	done
}

stage_fuzz()
{
	local src name corpus seeds work
	stage "fuzz (clang, libFuzzer, ${FUZZ_SECONDS} s per target)"
	if ! compgen -G "tests/fuzz/fuzz_*.c" >/dev/null; then
		echo "no fuzz targets"
		return
	fi
	check fuzz-build cmake_build "$BUILD_FUZZ" -DVERTEX_FUZZ=ON -DCMAKE_C_COMPILER=clang \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo || true
	for src in tests/fuzz/fuzz_*.c; do
		name=$(basename "$src" .c)
		if [[ ! -x $BUILD_FUZZ/$name ]]; then
			record "fuzz:$name" 1
			continue
		fi
		# New inputs go to a scratch corpus; the checked-in seeds are read only.
		work=$BUILD_FUZZ/corpus-work/$name
		mkdir -p "$work" "$BUILD_FUZZ/artifacts"
		seeds=()
		corpus=tests/fuzz/corpus/${name#fuzz_}
		[[ -d $corpus ]] && seeds=("$corpus")
		# A crash, a timeout or running out of memory fails the check: libFuzzer's own
		# exit codes for them (77, 70) would read as "skipped" here.
		# JOBS targets at once: each is one process on one core for FUZZ_SECONDS.
		check_bg "fuzz:$name" "$BUILD_FUZZ/$name" -max_total_time="$FUZZ_SECONDS" \
			-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			-error_exitcode=1 -timeout_exitcode=1 \
			-artifact_prefix="$BUILD_FUZZ/artifacts/$name-" "$work" "${seeds[@]}"
		((${#BG_NAMES[@]} < JOBS)) || check_collect
	done
	check_collect
}

# pool_wait: returns once fewer than IT_JOBS checks started by check_bg still run.
pool_wait()
{
	while (($(jobs -rp | wc -l) >= IT_JOBS)); do
		wait -n
	done
}

# Scenarios IT_JOBS at a time (default 2): each makes its own uniquely named namespaces (lib.sh:
# VTX_RUN) and uses no port or file of another, and their waits are bounded for a loaded machine.
stage_integration()
{
	local t name
	stage "integration (network namespaces, $IT_JOBS at a time)"
	for t in tests/integration/*.sh; do
		name=$(basename "$t" .sh)
		[[ $name == lib || $name == lib_* ]] && continue # sourced helpers, not scenarios
		pool_wait
		check_bg "it:$name" timeout --kill-after=10 900 bash "$t"
	done
	# The data plane once more with the AEAD on worker threads (docs/performance.md).
	pool_wait
	check_bg "it:overlay_basic-workers" env VERTEX_WORKERS=2 timeout --kill-after=10 900 \
		bash tests/integration/overlay_basic.sh
	# And with the other AEAD: ChaCha20-Poly1305 where AES-256-GCM is the default (docs/protocol.md).
	pool_wait
	check_bg "it:overlay_basic-chacha" env VERTEX_CIPHER=chacha20-poly1305 \
		timeout --kill-after=10 900 bash tests/integration/overlay_basic.sh
	# And the plain TUN path, offloads forced off: the 64 MiB transfers (sha256) and ICMP
	# path-MTU errors across the overlay (docs/performance.md, "TUN offloads").
	for t in overlay_basic overlay_pmtu overlay_ipv6_underlay; do
		pool_wait
		check_bg "it:$t-nooffload" env VERTEX_TUN_OFFLOAD=0 timeout --kill-after=10 900 \
			bash "tests/integration/$t.sh"
	done
	check_collect
}

# sanitizer_reports DIR: passes if no sanitizer wrote a report into DIR (else prints them).
sanitizer_reports()
{
	local f found=0
	for f in "$1"/*; do
		[[ -e $f ]] || continue
		found=1
		echo "--- $f"
		cat "$f"
	done
	[[ $found -eq 0 ]] && echo "no sanitizer reports"
	return "$found"
}

# A few scenarios again with the ASan+UBSan build of every program (daemons, CLI, tools):
# memory errors, undefined behaviour and leaks on real traffic and real shutdowns, which the
# unit tests alone do not exercise. Every report goes to a file, so one from any process fails.
stage_integration_asan()
{
	local t dir=$REPO/$BUILD_ASAN/sanitizer-reports
	stage "integration under ASan+UBSan ($BUILD_ASAN): selected scenarios"
	rm -rf "$dir"
	mkdir -p "$dir"
	chmod 1777 "$dir" # userspace.sh runs agents as nobody
	for t in overlay_basic bad_input udp_blocked federation notaries multidomain server_bad_input \
		server_cli server_repin rendezvous_server rendezvous relay_udp direct_upgrade failover \
		portmap tcp_mapped hooks firewall app_api userspace nat_birthday; do
		pool_wait
		check_bg "asan-it:$t" env VERTEX_BUILD_DIR="$BUILD_ASAN" \
			ASAN_OPTIONS="detect_leaks=1:log_path=$dir/asan" \
			UBSAN_OPTIONS="print_stacktrace=1:log_path=$dir/ubsan" \
			timeout --kill-after=10 900 bash "tests/integration/$t.sh"
	done
	check_collect
	check asan-reports sanitizer_reports "$dir"
}

# Threads are few (offload jobs: DNS lookups, password checks; the AEAD workers); TSan checks
# them where they run: the offload and crypto pool unit tests, the threaded lookups of the
# discovery scenario (the probe's --async mode) and overlay_basic's bulk transfer on two AEAD
# workers, any report failing the check (halt_on_error).
stage_tsan()
{
	stage "ThreadSanitizer ($BUILD_TSAN): offload jobs"
	mkdir -p "$BUILD_TSAN"
	check tsan-build bash -c "cmake -S '$REPO' -B '$BUILD_TSAN' -DVERTEX_WERROR=ON \
		-DVERTEX_TSAN=ON -DCMAKE_C_COMPILER=clang >'$BUILD_TSAN/configure.log' 2>&1 &&
		cmake --build '$BUILD_TSAN' -j $JOBS --target test_offload test_crypto_pool \
		discover_probe vertexd vertex" || return
	check tsan:test_offload env TSAN_OPTIONS=halt_on_error=1 "$BUILD_TSAN/test_offload"
	check tsan:test_crypto_pool env TSAN_OPTIONS=halt_on_error=1 "$BUILD_TSAN/test_crypto_pool"
	check tsan-it:discover env TSAN_OPTIONS=halt_on_error=1 VERTEX_BUILD_DIR="$BUILD_TSAN" \
		bash "$REPO/tests/integration/discover.sh"
	check tsan-it:overlay_basic-workers env TSAN_OPTIONS=halt_on_error=1 VERTEX_WORKERS=2 \
		VERTEX_BUILD_DIR="$BUILD_TSAN" bash "$REPO/tests/integration/overlay_basic.sh"
}

summary()
{
	local f
	stage "summary"
	printf 'passed:  %s\n' "${PASSED[*]:-none}"
	[[ ${#SKIPPED[@]} -eq 0 ]] || printf 'skipped: %s\n' "${SKIPPED[*]}"
	if [[ ${#FAILED[@]} -gt 0 ]]; then
		echo "FAILED:"
		for f in "${FAILED[@]}"; do
			printf -- '--- %s\n' "$f"
			failure_detail "${f% (status *}"
		done
		echo "FAILED: ${FAILED[*]}"
	fi
	printf 'total time %d s\n' "$SECONDS"
	if [[ ${#SKIPPED[@]} -gt 0 ]]; then
		printf '%d passed, %d failed, %d skipped\n' "${#PASSED[@]}" "${#FAILED[@]}" \
			"${#SKIPPED[@]}"
	else
		printf '%d passed, %d failed\n' "${#PASSED[@]}" "${#FAILED[@]}"
	fi
	[[ ${#FAILED[@]} -eq 0 ]]
}

stage_deps
stage "format (clang-format --dry-run -Werror)"
check format format_check
stage "shell scripts (shellcheck -S warning)"
check shellcheck shell_check
stage "layers (scripts/check-layers.sh: allowed includes between folders)"
check layers bash scripts/check-layers.sh
stage "build ($BUILD, -DVERTEX_WERROR=ON)"
check build cmake_build "$BUILD" && {
	stage "unit tests ($BUILD)"
	unit_tests "$BUILD" unit
}
stage "sanitizer build ($BUILD_ASAN, ASan+UBSan)"
check asan-build cmake_build "$BUILD_ASAN" -DVERTEX_SANITIZE=ON && {
	stage "unit tests under ASan+UBSan ($BUILD_ASAN)"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		unit_tests "$BUILD_ASAN" asan
}
stage_tsan
stage_fuzz
stage_integration
[[ " ${FAILED[*]} " == *" asan-build "* ]] || stage_integration_asan
summary
