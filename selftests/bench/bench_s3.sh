#!/usr/bin/env bash
# `make bench`, upload row: Kerno's S3 uploader against `aws s3 cp` (bench_s3.py). About a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 selftests/bench/bench_s3.py "$@"
