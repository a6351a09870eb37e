#!/usr/bin/env bash
# `make bench`: Kerno's overhead benchmark (see bench.py for what it measures).
# About 21 runs of BENCH_SECONDS (10) each plus agent start-ups: ~5 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 selftests/bench/bench.py "$@"
