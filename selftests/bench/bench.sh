#!/usr/bin/env bash
# `make bench`: Kerno's overhead benchmark (see bench.py for what it measures),
# then the log pipeline's throughput (bench_logs.py) and the error detectors' BPF
# time per run (bench_errors.py, seconds).
# About 21 runs of BENCH_SECONDS (10) each plus agent start-ups: ~5 minutes,
# and about a minute for the log row.
set -euo pipefail
cd "$(dirname "$0")/../.."
/usr/bin/python3 selftests/bench/bench.py "$@"
/usr/bin/python3 selftests/bench/bench_logs.py --kerno build/kerno
/usr/bin/python3 selftests/bench/bench_errors.py --kerno build/kerno
