#!/usr/bin/python3
"""`make bench`, upload row: MiB/s of Kerno's S3 uploader for 256 MiB of
objects (64 x 4 MiB, incompressible) over h2 and over HTTP/1.1, beside
`aws s3 cp --recursive` of the same files to the same endpoint.

The store is s3rver (npm) over TLS on loopback; h2 is nghttpx in front of it
(awscli speaks HTTP/1.1 only, so it gets both endpoints over HTTP/1.1).
Kerno's figure is from the first put() to the last object confirmed, so it
includes sealing each object into the encrypted spool and its fsync.
Each figure is the median of BENCH_S3_RUNS (3) runs.
"""

import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "selftests", "host"))

from s3peers import BUCKET, Nghttpx, Pki, S3rver  # noqa: E402

MIB = 1 << 20
N_OBJECTS, OBJECT_MIB = 64, 4
RUNS = int(os.environ.get("BENCH_S3_RUNS", "3"))
AWS = "/usr/bin/aws"


def make_inputs(d):
    rng = random.Random(11)
    files = []
    for i in range(N_OBJECTS):
        path = os.path.join(d, f"obj-{i:03d}.json.gz")
        with open(path, "wb") as f:
            f.write(rng.randbytes(OBJECT_MIB * MIB))
        files.append(path)
    return files


def env_for(work):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    cfg = os.path.join(work, "aws-config")
    with open(cfg, "w") as f:
        f.write("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env.update(HOME=work, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER", AWS_CONFIG_FILE=cfg,
               AWS_EC2_METADATA_DISABLED="true")
    return env


def kerno_run(tool, endpoint, ca, files, work, run):
    data = os.path.join(work, f"kd-{run}")
    args = [tool, "--s3-bucket", BUCKET, "--s3-endpoint", endpoint, "--s3-ca-file", ca, "--data-dir", data,
            "--host-name", "bench", "--s3-connections", "8", "--"]
    args.append("put")
    for path in files:
        args += [f"kerno/{run}/{os.path.basename(path)}", path]
    t0 = time.monotonic()
    out = subprocess.run(args, env=env_for(work), capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - t0
    shutil.rmtree(data, ignore_errors=True)
    st = json.loads(out.stdout.strip().splitlines()[-1])
    if out.returncode or st["objects"] != len(files):
        raise RuntimeError(f"kerno upload failed: {out.stderr[-500:]}")
    return st["protocol"], elapsed


def aws_run(endpoint, ca, src, work, run):
    args = [AWS, "s3", "cp", "--recursive", "--only-show-errors", "--endpoint-url", endpoint, "--ca-bundle", ca,
            src, f"s3://{BUCKET}/aws/{run}/"]
    t0 = time.monotonic()
    out = subprocess.run(args, env=env_for(work), capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - t0
    if out.returncode:
        raise RuntimeError(f"aws s3 cp failed: {out.stderr[-500:]}")
    return elapsed


def main():
    tool = os.path.join(REPO, "build", "s3put_tool")
    total_mib = N_OBJECTS * OBJECT_MIB
    with contextlib.ExitStack() as cleanup:
        work = tempfile.mkdtemp(prefix="kerno-bench-s3-")
        cleanup.callback(shutil.rmtree, work, True)
        src = os.path.join(work, "src")
        os.mkdir(src)
        files = make_inputs(src)
        pki = Pki(cleanup)
        s3 = S3rver(cleanup, pki)
        h2 = Nghttpx(cleanup, pki, s3.port)
        times = {"kerno h2": [], "kerno http/1.1": [], "aws s3 cp (to s3rver)": [],
                 "aws s3 cp (to nghttpx)": []}
        for run in range(RUNS):
            proto, t = kerno_run(tool, h2.endpoint, pki.ca, files, work, f"h2-{run}")
            assert proto == "h2", proto
            times["kerno h2"].append(t)
            proto, t = kerno_run(tool, s3.endpoint, pki.ca, files, work, f"h1-{run}")
            assert proto == "http/1.1", proto
            times["kerno http/1.1"].append(t)
            times["aws s3 cp (to s3rver)"].append(aws_run(s3.endpoint, pki.ca, src, work, f"a1-{run}"))
            times["aws s3 cp (to nghttpx)"].append(aws_run(h2.endpoint, pki.ca, src, work, f"a2-{run}"))
            # Keep the store's disk use to one run's worth.
            shutil.rmtree(os.path.join(s3.data, BUCKET, "kerno"), ignore_errors=True)
            shutil.rmtree(os.path.join(s3.data, BUCKET, "aws"), ignore_errors=True)
        print(f"upload: {total_mib} MiB in {N_OBJECTS} objects to s3rver over TLS, median of {RUNS} "
              f"(MiB/s, higher is better)")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"  {name:24s} {total_mib / med:7.1f} MiB/s   ({', '.join(f'{t:.2f}s' for t in ts)})")


if __name__ == "__main__":
    main()
