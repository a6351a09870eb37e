#!/usr/bin/env bash
# Kerno's whole test suite (`make test`): builds the agent twice (ASan+UBSan
# into build-san/, plain into build/), runs the unit tests against the
# sanitizer build, fuzzing smoke runs (every target, two at a time: the
# HTTP/1.x parser 10 s, the others 5 s each), then the host tests of the
# capture with the sanitizer-built agent (make lint beside them, at idle
# priority), then the same BPF tests inside Debian kernels under QEMU with the
# plain agent (selftests/vmtest.sh) and, beside them, the host tests of
# userspace features.
# Ends with one line `N passed, N failed` summing all suites.
# Installs nothing: run selftests/setup.sh first.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
LOG_DIR=$(mktemp -d /tmp/kerno-tests.XXXXXX)
passed=0
failed=0

elapsed() {
	printf '%dm%02ds' $((SECONDS / 60)) $((SECONDS % 60))
}

# Every failed assertion and test again, last: a long log is often read (or
# kept) from its tail only.
failures() {
	local lines
	lines=$(grep -h -E '^(\[[^]]*\] )?(    FAIL |    FATAL|#[0-9]+ [a-z0-9_]+: FAIL|failed: |\[  FAILED  \] )|: FAILED \(full log' \
		"$LOG_DIR"/*.log 2>/dev/null | cut -c1-400)
	if [ -n "$lines" ]; then
		printf '== failures:\n%s\n' "$lines"
	fi
}

finish() {
	failures
	echo "suite took $(elapsed)"
	echo "$passed passed, $failed failed"
	if [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
		exit 1
	fi
	exit 0
}

check_tools() {
	local tool missing=()
	for tool in clang bpftool make cc chrt nginx h2load curl setpriv /usr/bin/python3 kubectl shellcheck \
		debootstrap openssl qemu-system-x86_64 busybox node nghttpx; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		echo "run_all.sh: missing ${missing[*]}: run selftests/setup.sh first" >&2
		failed=$((failed + 1))
		finish
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "run_all.sh: the host tests load BPF programs: run as root" >&2
		failed=$((failed + 1))
		finish
	fi
}

# A build failure is one failed "test": nothing after it can run.
build() {
	echo "== make -j2 $* (at $(elapsed))"
	if ! make -j2 "$@" >"$LOG_DIR/build.log" 2>&1; then
		tail -n 40 "$LOG_DIR/build.log"
		echo "run_all.sh: make $* failed (full log: $LOG_DIR/build.log)" >&2
		failed=$((failed + 1))
		finish
	fi
}

# Adds a suite's counts from its `N passed, N failed` line, or else from
# cmocka's [  PASSED  ] / [  FAILED  ] summaries; a suite that exits non-zero
# without reporting a failure still counts as one failure.
add_counts() {
	local log=$1 rc=$2 p f line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#*, }
		f=${f%% failed*}
	else
		p=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
		f=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

check_tools
build SAN=1
build

echo "== unit tests (ASan+UBSan) (at $(elapsed))"
make --no-print-directory SAN=1 unit-test 2>&1 | tee "$LOG_DIR/unit.log"
add_counts "$LOG_DIR/unit.log" "${PIPESTATUS[0]}"

# A make target that counts as one test: passed if it exited 0 ($2).
gate_result() {
	local target=$1 rc=$2 log="$LOG_DIR/$1.log"
	if [ "$rc" -eq 0 ]; then
		echo "$target: ok"
		passed=$((passed + 1))
	else
		tail -n 40 "$log"
		echo "$target: FAILED (full log: $log)" | tee -a "$LOG_DIR/gates.log"
		failed=$((failed + 1))
	fi
}

gate() {
	echo "== make $1 (at $(elapsed))"
	make --no-print-directory "$1" >"$LOG_DIR/$1.log" 2>&1
	gate_result "$1" $?
}

gate fuzz-smoke # libFuzzer, two at a time: the HTTP/1.x parser 10 s, every other target 5 s

# The host suites of userspace features (the harness's own, deploy, logs, S3,
# the WebSocket uplink, Nanobe, the Kubernetes client): they spend most of
# their time waiting on sockets, files and timers, so they run beside the VM
# tests, which keep both cores busy with emulation. The VM tests skip them.
USERSPACE_SUITES=(test_harness_ test_deploy_ test_logs_ test_s3_ test_uplink_ws_ test_nanobe_ test_kube_)
# But for those that need the machine to themselves, after lint: logs written
# at 50 MiB/s and more, or an uplink under nginx's load with a server killed
# on a schedule (beside the guests they measured 7.6 MiB/s and saw a
# reconnection too many), and the exact count of exec notices lost, which
# lint's own exec()s would raise (measured: 1 024 instead of 1 001).
ALONE_TESTS=(test_logs_rotations_no_loss test_logs_sigkill_restarts test_logs_backpressure
	test_uplink_ws_server_killed test_tls_exec_lost)

host_tests() {
	local name=$1
	shift
	/usr/bin/python3 selftests/host/runner.py --kerno build-san/kerno "$@" 2>&1 | tee "$LOG_DIR/$name.log"
	add_counts "$LOG_DIR/$name.log" "${PIPESTATUS[0]}"
}

# With test names given (-t, -x), everything runs one suite after the other.
if [ $# -gt 0 ]; then
	gate lint
	echo "== host tests against build-san/kerno (ASan+UBSan) (at $(elapsed))"
	host_tests host "$@"
	echo "== VM tests: Debian kernels under QEMU (TCG) against build/kerno (at $(elapsed))"
	selftests/vmtest.sh --kerno build/kerno "$@" 2>&1 | tee "$LOG_DIR/vm.log"
	add_counts "$LOG_DIR/vm.log" "${PIPESTATUS[0]}"
	finish
fi

skip_userspace=()
only_userspace=()
only_alone=()
for suite in "${USERSPACE_SUITES[@]}"; do
	skip_userspace+=(-x "$suite")
	only_userspace+=(-t "$suite")
done
for test in "${ALONE_TESTS[@]}"; do
	skip_userspace+=(-x "$test")
	only_userspace+=(-x "$test")
	only_alone+=(-t "$test")
done

# cppcheck and clang-tidy over user/ need no timing, and the capture tests
# leave most of the machine idle (60 % measured): lint runs beside them under
# SCHED_IDLE, which gives way at once to anything else that wants a core.
echo "== make lint, beside the next suite under SCHED_IDLE (at $(elapsed))"
setsid chrt --idle 0 make --no-print-directory lint >"$LOG_DIR/lint.log" 2>&1 &
lint_pid=$!
trap 'kill -- -"$lint_pid" 2>/dev/null; exit 130' INT TERM

echo "== host tests of the capture against build-san/kerno (ASan+UBSan) (at $(elapsed))"
host_tests host "${skip_userspace[@]}"

wait "$lint_pid"
lint_rc=$?
trap - INT TERM
echo "== make lint ended (at $(elapsed))"
gate_result lint "$lint_rc"

echo "== host tests that need the machine to themselves, against build-san/kerno (at $(elapsed))"
host_tests host-alone "${only_alone[@]}"

# Niced, so that the host tests beside them keep their timing; in a process
# group of their own, so that an interrupted suite takes the guests down too.
echo "== VM tests: Debian kernels under QEMU (TCG) against build/kerno, in the background (at $(elapsed))"
nice -n 10 setsid selftests/vmtest.sh --kerno build/kerno >"$LOG_DIR/vm.log" 2>&1 &
vm_pid=$!
trap 'kill -- -"$vm_pid" 2>/dev/null; exit 130' INT TERM

echo "== host tests of userspace features against build-san/kerno, beside the VM tests (at $(elapsed))"
host_tests host-userspace "${only_userspace[@]}"

wait "$vm_pid"
vm_rc=$?
trap - INT TERM
echo "== VM tests ended (at $(elapsed)); their log:"
cat "$LOG_DIR/vm.log"
add_counts "$LOG_DIR/vm.log" "$vm_rc"

finish
