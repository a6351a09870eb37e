"""The S3 uploader: SigV4 against AWS's suite and botocore, uploads over
HTTP/1.1 and h2 to s3rver read back byte for byte, credential providers
against loopback endpoints, and faults (store down, SIGKILL mid-multipart,
wrong CA, plaintext on disk).

The backend is driven through its obj_backend interface by s3put_tool (the
object store writer's calls), SigV4 by sigv4_tool, credentials by creds_tool,
all built beside the kerno binary under test.

KERNO_S3_OUTAGE_SECS sets the store-down test's outage (default 15; the
issue's two-minute figure is a run with 120).
"""

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import time

from asserts import ASSERT_EQ, ASSERT_GT, ASSERT_TRUE, FATAL, log
from s3peers import BUCKET, CredsEndpoint, Nghttpx, Pki, S3rver, read_object, s3_client, tmpdir
import s3sign

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
MIB = 1 << 20


def tool(ctx, name):
    path = os.path.join(os.path.dirname(os.path.abspath(ctx.kerno)), name)
    if not os.access(path, os.X_OK):
        FATAL(f"{path} missing: make s3-tools")
    return path


def clean_env(home, **extra):
    """No AWS_* from the caller's environment; a HOME without ~/.aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"HOME": home, "AWS_EC2_METADATA_DISABLED": "true"})
    env.update(extra)
    return env


def suite_dir():
    d = os.environ.get("KERNO_SIGV4_SUITE")
    if d:
        return d
    p = REPO
    while p != "/":
        cand = os.path.join(p, "shared", "testdata", "aws-sigv4", "v4")
        if os.path.isdir(cand):
            return cand
        p = os.path.dirname(p)
    FATAL("AWS SigV4 test suite not found: set KERNO_SIGV4_SUITE to its v4/ directory")


def test_s3_sigv4_suite(ctx):
    d = suite_dir()
    cases = len([e for e in os.listdir(d) if os.path.isdir(os.path.join(d, e))])
    out = subprocess.run([tool(ctx, "sigv4_tool"), "suite", d], capture_output=True, text=True)
    ASSERT_EQ(cases, 38, "cases in the suite")
    ASSERT_EQ(out.stdout.splitlines()[-1], "38 passed, 0 failed", "AWS SigV4 suite: " + out.stdout[-400:])
    ASSERT_EQ(out.returncode, 0, "sigv4_tool exit code")


def test_s3_sigv4_botocore(ctx):
    reqs = s3sign.generate(10000)
    out = subprocess.run([tool(ctx, "sigv4_tool"), "sign"], input=s3sign.as_jsonl(reqs),
                         capture_output=True, text=True).stdout.splitlines()
    ASSERT_EQ(len(out), 10000, "signatures out of sigv4_tool")
    same = sum(1 for r, o in zip(reqs, out) if s3sign.botocore_authorization(r) == o)
    ASSERT_EQ(same, 10000, "requests signed identically to botocore's S3SigV4Auth")
    # The comparison must be able to fail: one second later is another signature.
    shifted = [dict(r, time=r["time"] + 1) for r in reqs[:50]]
    out = subprocess.run([tool(ctx, "sigv4_tool"), "sign"], input=s3sign.as_jsonl(shifted),
                         capture_output=True, text=True).stdout.splitlines()
    ASSERT_EQ(sum(1 for r, o in zip(reqs, out) if s3sign.botocore_authorization(r) == o), 0,
              "control: signatures of shifted requests matching botocore's")


def _objects(seed, sizes):
    rng = random.Random(seed)
    # s3rver answers 404 to keys with "//" (its router): those are covered by the SigV4 tests.
    names = ["logs/year=2026/month=11/day=26/hour=13/node-a-1.json.gz", "traces/with space+plus~/ü-日本.json.gz",
             "traces/(paren) [bracket] 'quote' !*.json.gz", "logs/x=%41&y.json.gz", "big/multipart.json.gz",
             "tiny/one-byte", "logs/empty.json.gz"]
    return [(names[i % len(names)] + ("" if i < len(names) else f"-{i}"), rng.randbytes(size))
            for i, size in enumerate(sizes)]


def _write_inputs(d, objs):
    args = []
    for i, (key, data) in enumerate(objs):
        path = os.path.join(d, f"in-{i}")
        with open(path, "wb") as f:
            f.write(data)
        args += [key, path]
    return args


def _put(ctx, work, endpoint, ca, objs, extra=(), wait=120, env_extra=None, background=False):
    args = [tool(ctx, "s3put_tool"), "--s3-bucket", BUCKET, "--s3-endpoint", endpoint, "--s3-ca-file", ca,
            "--data-dir", os.path.join(work, "data"), "--host-name", "node-a", "--s3-part-size", str(5 * MIB),
            *extra, "--", "put", *_write_inputs(work, objs)]
    env = clean_env(work, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER",
                    KERNO_TEST_WAIT=str(wait), **(env_extra or {}))
    if background:
        return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=wait + 60)


def _exists(ctx, work, endpoint, ca, keys):
    args = [tool(ctx, "s3put_tool"), "--s3-bucket", BUCKET, "--s3-endpoint", endpoint, "--s3-ca-file", ca,
            "--data-dir", os.path.join(work, "data"), "--", "exists", *keys]
    out = subprocess.run(args, env=clean_env(work, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER"),
                         capture_output=True, text=True, timeout=120)
    return out.stdout.split()


def _stats(out):
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def _spool_files(work):
    spool = os.path.join(work, "data", "spool")
    return sorted(os.listdir(spool)) if os.path.isdir(spool) else []


def _upload_and_read_back(ctx, h2):
    pki = Pki(ctx.cleanup)
    s3 = S3rver(ctx.cleanup, pki)
    endpoint = Nghttpx(ctx.cleanup, pki, s3.port).endpoint if h2 else s3.endpoint
    work = tmpdir(ctx.cleanup, "s3work")
    objs = _objects(1 + h2, [1000, 300 * 1024, 3 * MIB, 100, 12 * MIB + 17, 1, 0])
    out = _put(ctx, work, endpoint, pki.ca, objs)
    st = _stats(out.stdout)
    log(out.stderr.strip())
    ASSERT_EQ(out.returncode, 0, "s3put_tool exit code: " + out.stderr[-300:])
    ASSERT_EQ(st.get("protocol"), "h2" if h2 else "http/1.1", "protocol ALPN chose")
    ASSERT_EQ(st.get("objects"), len(objs), "objects confirmed")
    ASSERT_EQ(st.get("multipart"), 1, "objects sent by multipart upload (one is over 5 MiB)")
    ASSERT_EQ(st.get("bytes"), sum(len(d) for _, d in objs), "bytes confirmed")
    client = s3_client(endpoint, pki.ca)
    for key, data in objs:
        back = read_object(client, key)
        ASSERT_EQ(None if back is None else hashlib.sha256(back).hexdigest(), hashlib.sha256(data).hexdigest(),
                  f"object {key!r} read back")
    ASSERT_EQ([f for f in _spool_files(work) if f.endswith(".obj")], [], "spool after upload")
    ASSERT_EQ(s3.open_uploads(), [], "multipart uploads left open")
    ASSERT_EQ(_exists(ctx, work, endpoint, pki.ca, [objs[0][0], "logs/never-put.json.gz"]), ["1", "0"],
              "exists(): an uploaded key, a key never put")


def test_s3_upload_http11(ctx):
    _upload_and_read_back(ctx, h2=False)


def test_s3_upload_h2(ctx):
    _upload_and_read_back(ctx, h2=True)


def test_s3_wrong_ca_refused(ctx):
    pki = Pki(ctx.cleanup)
    s3 = S3rver(ctx.cleanup, pki)
    work = tmpdir(ctx.cleanup, "s3work")
    out = _put(ctx, work, s3.endpoint, pki.wrong_ca, _objects(3, [5000]), wait=3)
    want = f"127.0.0.1:{s3.port}: certificate verify failed: unable to get local issuer certificate"
    ASSERT_EQ(out.returncode, 1, "s3put_tool exit code (object not delivered)")
    ASSERT_TRUE(want in out.stderr, "clear error line", out.stderr[-400:])
    ASSERT_EQ(s3.requests(), [], "requests s3rver received")
    ASSERT_EQ(len([f for f in _spool_files(work) if f.endswith(".obj")]), 1, "object kept in the spool")
    ASSERT_EQ(_stats(out.stdout).get("objects"), 0, "objects confirmed")


def test_s3_canary_not_in_spool(ctx):
    canary = b"kerno-canary-7f3a9c1e"
    work = tmpdir(ctx.cleanup, "s3work")
    pki = Pki(ctx.cleanup)
    lines = b"".join(b'{"body":"user said %s at %d"}\n' % (canary, i) for i in range(2000))
    objs = [("logs/canary-%d.json" % i, lines) for i in range(3)] + [("logs/big-canary.json", lines * 300)]
    # Nothing listens there: everything stays in the spool.
    out = _put(ctx, work, "https://127.0.0.1:9", pki.ca, objs, wait=2)
    ASSERT_EQ(out.returncode, 1, "s3put_tool exit code (store unreachable)")
    ASSERT_EQ(len([f for f in _spool_files(work) if f.endswith(".obj")]), 4, "objects in the spool")
    found = []
    for root, _, files in os.walk(work):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            if canary in data and not name.startswith("in-"):
                found.append(name)
    ASSERT_EQ(found, [], "files under the data directory holding the canary in plaintext")
    ASSERT_EQ(_exists(ctx, work, "https://127.0.0.1:9", pki.ca, ["logs/canary-1.json", "logs/other.json"]),
              ["1", str(-5)], "exists(): a key waiting in the spool; another, with the store unreachable (-EIO)")
    with open(os.path.join(work, "in-0"), "rb") as f:
        ASSERT_TRUE(canary in f.read(), "control: the canary is in the input")


def test_s3_store_down_then_back(ctx):
    outage = int(os.environ.get("KERNO_S3_OUTAGE_SECS", "15"))
    pki = Pki(ctx.cleanup)
    s3 = S3rver(ctx.cleanup, pki)
    s3.stop()
    work = tmpdir(ctx.cleanup, "s3work")
    objs = _objects(4, [200 * 1024] * 40)
    # A 2 MiB spool holds ten of the forty: the writer must be held back.
    proc = _put(ctx, work, s3.endpoint, pki.ca, objs, extra=("--spool-max-bytes", str(2 * MIB)),
                wait=outage + 90, background=True)
    ctx.cleanup.callback(lambda: proc.poll() is None and proc.kill())
    time.sleep(outage)
    s3.start()
    stdout, stderr = proc.communicate(timeout=outage + 150)
    st = _stats(stdout)
    log(f"outage {outage}s: {st}")
    ASSERT_EQ(proc.returncode, 0, "s3put_tool exit code: " + stderr[-300:])
    ASSERT_EQ(st.get("objects"), 40, "objects confirmed")
    ASSERT_GT(st.get("full_waits", 0), 0, "times put() said the spool was full (backpressure)")
    ASSERT_GT(st.get("retries", 0), 0, "retried rounds during the outage")
    puts = [r for r in s3.requests() if r[0] == "PUT"]
    ASSERT_EQ(len(puts), 40, "PUT requests s3rver received (none lost, none twice)")
    ASSERT_EQ(len({r[1] for r in puts}), 40, "distinct keys PUT")
    client = s3_client(s3.endpoint, pki.ca)
    same = sum(1 for key, data in objs if read_object(client, key) == data)
    ASSERT_EQ(same, 40, "objects read back identical")


def test_s3_sigkill_mid_multipart(ctx):
    pki = Pki(ctx.cleanup)
    s3 = S3rver(ctx.cleanup, pki)
    work = tmpdir(ctx.cleanup, "s3work")
    key, data = "big/killed-midway.json.gz", random.Random(5).randbytes(60 * MIB + 3)
    proc = _put(ctx, work, s3.endpoint, pki.ca, [(key, data)], extra=("--s3-connections", "1"),
                background=True)
    ctx.cleanup.callback(lambda: proc.poll() is None and proc.kill())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if len([r for r in s3.requests() if "partNumber=" in r[1]]) >= 3:
            break
        time.sleep(0.01)
    parts_before = len([r for r in s3.requests() if "partNumber=" in r[1]])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ASSERT_TRUE(3 <= parts_before < 13, "killed in the middle of the parts", f"{parts_before} parts sent")
    files = _spool_files(work)
    # A progress file being rewritten when the kill came is left as .tmp: the restart removes it.
    ASSERT_EQ(sorted(f[-4:] for f in files if not f.endswith(".tmp")), [".mpu", ".obj"],
              "spool holds the object and its progress")
    args = [tool(ctx, "s3put_tool"), "--s3-bucket", BUCKET, "--s3-endpoint", s3.endpoint, "--s3-ca-file", pki.ca,
            "--data-dir", os.path.join(work, "data"), "--host-name", "node-a", "--s3-part-size", str(5 * MIB),
            "--", "drain"]
    out = subprocess.run(args, env=clean_env(work, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER",
                                             KERNO_TEST_WAIT="120"), capture_output=True, text=True, timeout=200)
    st = _stats(out.stdout)
    ASSERT_EQ(out.returncode, 0, "restart exit code: " + out.stderr[-300:])
    ASSERT_EQ((st.get("objects"), st.get("multipart")), (1, 1), "objects completed after restart")
    reqs = s3.requests()
    creates = [r for r in reqs if r[0] == "POST" and r[1].endswith("?uploads")]
    completes = [r for r in reqs if r[0] == "POST" and "uploadId=" in r[1]]
    ASSERT_EQ(len(creates), 1, "CreateMultipartUpload calls (the restart resumed the same upload)")
    ASSERT_EQ([r[2] for r in completes], ["200"], "CompleteMultipartUpload statuses")
    ASSERT_EQ(s3.open_uploads(), [], "multipart uploads left open")
    back = read_object(s3_client(s3.endpoint, pki.ca), key)
    ASSERT_EQ(hashlib.sha256(back).hexdigest(), hashlib.sha256(data).hexdigest(), "object read back")
    ASSERT_EQ(_spool_files(work), [], "spool after the restart")


def test_s3_bad_config(ctx):
    work = tmpdir(ctx.cleanup, "s3work")
    base = [tool(ctx, "s3put_tool"), "--s3-bucket", BUCKET, "--data-dir", os.path.join(work, "data")]
    env = clean_env(work, AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b")
    cases = [(["--s3-sse", "sse-c"], "kerno: --s3-sse 'sse-c': expected AES256 or aws:kms"),
             (["--s3-kms-key-id", "k"], "kerno: --s3-kms-key-id needs --s3-sse aws:kms"),
             (["--s3-endpoint", "http://127.0.0.1:9"],
              "kerno: --s3-endpoint 'http://127.0.0.1:9': expected https://HOST[:PORT] (plain HTTP is refused)"),
             (["--s3-ca-file", "/nonexistent.pem"], "kerno: CA file /nonexistent.pem: No such file or directory")]
    for extra, want in cases:
        out = subprocess.run(base + extra + ["--", "drain"], env=env, capture_output=True, text=True)
        ASSERT_EQ((out.returncode, out.stderr.strip()), (2, want), f"{extra}")
    big = os.path.join(work, "big")
    with open(big, "wb") as f:
        f.write(b"\0" * (2 * MIB))
    out = subprocess.run(base + ["--s3-endpoint", "https://127.0.0.1:9", "--spool-max-bytes", str(MIB), "--",
                                 "put", "logs/too-big", big], env=dict(env, KERNO_TEST_WAIT="1"),
                         capture_output=True, text=True)
    ASSERT_EQ(out.returncode, 1, "object larger than the spool: exit code")
    ASSERT_TRUE("s3put_tool: put logs/too-big: File too large" in out.stderr,
                "object larger than the spool refused for good (-EFBIG), not as backpressure", out.stderr)
    out = subprocess.run(base + ["--", "drain"], env=clean_env(work), capture_output=True, text=True)
    ASSERT_EQ(out.returncode, 2, "no credentials: exit code")
    ASSERT_TRUE(out.stderr.startswith("kerno: no AWS credentials"), "no credentials: message", out.stderr)


def _creds(ctx, work, gets=1, **env):
    out = subprocess.run([tool(ctx, "creds_tool"), "eu-west-3", str(gets)], env=clean_env(work, **env),
                         capture_output=True, text=True, timeout=60)
    return out.returncode, (json.loads(out.stdout) if out.returncode == 0 else out.stderr.strip())


def test_s3_creds_env_and_file(ctx):
    work = tmpdir(ctx.cleanup, "creds")
    rc, c = _creds(ctx, work, AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="env/secret+", AWS_SESSION_TOKEN="t")
    ASSERT_EQ((rc, c["source"], c["access_key"], c["secret_key"], c["token"]),
              (0, "environment", "AKIAENV", "env/secret+", "t"), "environment")
    os.makedirs(os.path.join(work, ".aws"))
    with open(os.path.join(work, ".aws", "credentials"), "w") as f:
        f.write("[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n\n"
                "# comment\n[ other ]\naws_access_key_id=AKIAOTHER\naws_secret_access_key = o/s\n"
                "aws_session_token = tok\n")
    rc, c = _creds(ctx, work)
    ASSERT_EQ((rc, c["source"], c["access_key"], c["secret_key"]), (0, "shared-file", "AKIADEFAULT", "d"),
              "shared file, default profile")
    rc, c = _creds(ctx, work, AWS_PROFILE="other")
    ASSERT_EQ((rc, c["access_key"], c["secret_key"], c["token"]), (0, "AKIAOTHER", "o/s", "tok"),
              "shared file, AWS_PROFILE")
    rc, c = _creds(ctx, work, AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="s")
    ASSERT_EQ(c["source"], "environment", "environment before the shared file")
    rc, err = _creds(ctx, work, AWS_PROFILE="missing")
    ASSERT_EQ(rc, 1, "missing profile: exit code")
    ASSERT_TRUE("no aws_access_key_id and aws_secret_access_key in [missing]" in err, "missing profile", err)


def test_s3_creds_web_identity(ctx):
    work = tmpdir(ctx.cleanup, "creds")
    sts = CredsEndpoint(ctx.cleanup, expires_in=3600)
    token_file = os.path.join(work, "token")
    with open(token_file, "w") as f:
        f.write("eyJhbGciOi.jwt+with/odd=chars\n")
    env = dict(AWS_WEB_IDENTITY_TOKEN_FILE=token_file, AWS_ROLE_ARN="arn:aws:iam::1:role/kerno",
               AWS_ROLE_SESSION_NAME="node-a", AWS_ENDPOINT_URL_STS=f"http://127.0.0.1:{sts.port}/")
    rc, c = _creds(ctx, work, gets=3, **env)
    ASSERT_EQ((rc, c["source"], c["access_key"], c["secret_key"], c["token"]),
              (0, "web-identity", "ASIASTSEXAMPLE", "sts-secret&x", "sts-token/with+slash="), "STS credentials")
    ASSERT_EQ(c["fetches"], 1, "STS calls for three gets of credentials valid an hour")
    method, path, headers, body = sts.hits[0]
    from urllib.parse import parse_qs
    form = {k: v[0] for k, v in parse_qs(body).items()}
    ASSERT_EQ((method, path), ("POST", "/"), "STS request line")
    ASSERT_EQ(form, {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                     "RoleArn": "arn:aws:iam::1:role/kerno", "RoleSessionName": "node-a",
                     "WebIdentityToken": "eyJhbGciOi.jwt+with/odd=chars"}, "STS form")
    sts.expires_in = 120  # inside the refresh window: every get fetches again
    rc, c = _creds(ctx, work, gets=3, **env)
    ASSERT_EQ(c["fetches"], 3, "STS calls for three gets of credentials expiring in 2 minutes")
    rc, c = _creds(ctx, work, AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://127.0.0.1:{sts.port}/v1", **env)
    ASSERT_EQ(c["source"], "web-identity", "web identity before container credentials")


def test_s3_creds_pod_identity_and_imds(ctx):
    work = tmpdir(ctx.cleanup, "creds")
    ep = CredsEndpoint(ctx.cleanup)
    token_file = os.path.join(work, "eks-pod-identity-token")
    with open(token_file, "w") as f:
        f.write("pod-identity-token-xyz")
    rc, c = _creds(ctx, work, AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://127.0.0.1:{ep.port}/v1/credentials",
                   AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=token_file)
    ASSERT_EQ((rc, c["source"], c["access_key"], c["secret_key"], c["token"]),
              (0, "container", "ASIACONTAINER", "container-secret", "container-token"), "pod identity")
    ASSERT_EQ([(h[0], h[1], h[2].get("Authorization")) for h in ep.hits],
              [("GET", "/v1/credentials", "pod-identity-token-xyz")], "pod identity request")
    ep.hits.clear()
    env = dict(os.environ)
    rc, c = _creds(ctx, work, AWS_EC2_METADATA_DISABLED="false",
                   AWS_EC2_METADATA_SERVICE_ENDPOINT=f"http://127.0.0.1:{ep.port}")
    ASSERT_EQ((rc, c["source"], c["access_key"], c["token"]), (0, "imds", "ASIAIMDS", "imds-token"), "IMDSv2")
    ASSERT_EQ([(h[0], h[1]) for h in ep.hits],
              [("PUT", "/latest/api/token"), ("GET", "/latest/meta-data/iam/security-credentials/"),
               ("GET", "/latest/meta-data/iam/security-credentials/kerno-node-role")], "IMDSv2 requests")
    ASSERT_EQ([h[2].get("X-aws-ec2-metadata-token") for h in ep.hits[1:]], [ep.imds_token] * 2,
              "session token on the IMDS reads")
    del env
    rc, err = _creds(ctx, work)
    ASSERT_EQ(rc, 2, "no source at all: exit code")


def _agent_env(ctx, **env):
    """kerno run takes the test's environment: set AWS_* for it and restore after."""
    saved = {k: os.environ.get(k) for k in env}

    def restore():
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    ctx.cleanup.callback(restore)
    os.environ.update(env)


def _log_agent(ctx, work, endpoint, ca, extra=()):
    log_dir = os.path.join(work, "logs")
    os.makedirs(log_dir, exist_ok=True)
    _agent_env(ctx, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER", AWS_EC2_METADATA_DISABLED="true")
    return log_dir, ctx.agent(extra_args=("--s3-bucket", BUCKET, "--s3-endpoint", endpoint, "--s3-ca-file", ca,
                                          "--logs", os.path.join(log_dir, "*.log"), "--log-keep-all",
                                          "--object-max-age", "1", "--log-pods-root", "",
                                          "--log-docker-root", "", "--host-name", "node-e2e", *extra))


def _write_lines(path, tokens):
    with open(path, "a") as f:
        for t in tokens:
            f.write(f"2026-11-26T14:00:00Z ERROR payment failed for order {t}\n")


def _kerno_run(ctx, h2):
    import gzip
    pki = Pki(ctx.cleanup)
    s3 = S3rver(ctx.cleanup, pki)
    endpoint = Nghttpx(ctx.cleanup, pki, s3.port).endpoint if h2 else s3.endpoint
    work = tmpdir(ctx.cleanup, "s3e2e")
    log_dir, agent = _log_agent(ctx, work, endpoint, pki.ca)
    tokens = [f"tok-{h2:d}-{i:05d}-{random.randrange(1 << 30):x}" for i in range(600)]
    for k in range(3):
        _write_lines(os.path.join(log_dir, "app.log"), tokens[k * 200:(k + 1) * 200])
        time.sleep(1.5)
    time.sleep(2)
    agent.stop()
    with open(agent.stderr_path) as f:
        stderr = f.read()
    uploaded = [line for line in stderr.splitlines() if line.startswith("kerno: s3: ") and "uploaded" in line]
    ASSERT_EQ(len(uploaded), 1, "uploader's closing line")
    client = s3_client(endpoint, pki.ca)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    ASSERT_TRUE(uploaded and uploaded[0].startswith(f"kerno: s3: {len(keys)} objects ("),
                "objects the uploader confirmed = objects in the bucket", f"{uploaded} vs {len(keys)} keys")
    ASSERT_TRUE(uploaded and uploaded[0].endswith(", 0 left in the spool for the next start"), "spool emptied",
                str(uploaded))
    # The agent captures the host's traffic too: with s3rver slow (beside the
    # VM tests), nghttpx's requests to it can make a sampled span, stored
    # under traces/ (CI24), with the same layout.
    layout = r"(logs|traces)/year=\d{4}/month=\d\d/day=\d\d/hour=\d\d/node-e2e-[0-9a-f]{16}\d{6}\.json\.gz"
    ASSERT_EQ([k for k in keys if not re.fullmatch(layout, k)], [], "object keys not in the layout")
    logs = [k for k in keys if k.startswith("logs/")]
    ASSERT_GT(len(logs), 0, "log objects")
    text = b"".join(gzip.decompress(read_object(client, k)) for k in logs).decode()
    counts = [text.count(t) for t in tokens]
    ASSERT_EQ((min(counts), max(counts)), (1, 1), "each of the 600 logged lines in exactly one stored record")
    spool = os.path.join(agent.data_dir, "spool")
    ASSERT_EQ([f for f in os.listdir(spool) if f.endswith(".obj")], [], "spool after the run")


def test_s3_kerno_run_http11(ctx):
    _kerno_run(ctx, h2=False)


def test_s3_kerno_run_h2(ctx):
    _kerno_run(ctx, h2=True)


def test_s3_kerno_run_canary_sealed(ctx):
    """The store unreachable: logged lines wait in the spool, sealed."""
    canary = "canary-5d1c0e77-user-secret"
    pki = Pki(ctx.cleanup)
    work = tmpdir(ctx.cleanup, "s3e2e")
    log_dir, agent = _log_agent(ctx, work, "https://127.0.0.1:9", pki.ca)
    _write_lines(os.path.join(log_dir, "app.log"), [f"{canary} {i}" for i in range(300)])
    time.sleep(4)
    agent.stop()
    spool = os.path.join(agent.data_dir, "spool")
    objs = [f for f in os.listdir(spool) if f.endswith(".obj")]
    ASSERT_GT(len(objs), 0, "objects waiting in the spool")
    found = []
    for root, _, files in os.walk(agent.data_dir):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                if canary.encode() in f.read():
                    found.append(os.path.relpath(os.path.join(root, name), agent.data_dir))
    with open(os.path.join(log_dir, "app.log"), "rb") as f:
        ASSERT_TRUE(canary.encode() in f.read(), "control: the canary is in the workload's log")
    ASSERT_EQ([f for f in found if f.startswith("spool")], [], "spool files holding the canary in plaintext")
    log(f"files holding the canary outside the spool: {found}")


def test_s3_throttling_skew_and_stale_uploads(ctx):
    """Against S3's documented error shapes: a clock an hour behind corrected
    from the store's Date, SlowDown retried with backoff, stale multipart
    uploads aborted."""
    from s3peers import FakeS3
    now = time.time()
    uploads = [("logs/year=2026/node-a-0001.json.gz", "ours-crashed", now - 60),
               ("logs/year=2026/node-b-0001.json.gz", "theirs-recent", now - 60),
               ("logs/year=2026/node-b-0002.json.gz", "theirs-old", now - 3 * 86400)]
    pki = Pki(ctx.cleanup)
    fake = FakeS3(ctx.cleanup, pki, throttle=2, uploads=uploads, skew=3600)
    work = tmpdir(ctx.cleanup, "s3work")
    extra = ("--s3-connections", "1", "--s3-prefix", "logs")
    out = _put(ctx, work, fake.endpoint, pki.ca, [("logs/one.json.gz", b"x" * 1000)],
               extra=extra + ("--s3-sse", "aws:kms", "--s3-kms-key-id", "arn:aws:kms:eu-west-3:1:key/k1"), wait=60)
    st = _stats(out.stdout)
    ASSERT_EQ(out.returncode, 0, "s3put_tool exit code: " + out.stderr[-300:])
    ASSERT_EQ([(h[0], h[2]) for h in fake.hits], [("GET", 403), ("PUT", 503), ("PUT", 503), ("PUT", 200)],
              "requests: the first refused as skewed, then PutObject throttled twice and stored")
    import calendar
    amz = calendar.timegm(time.strptime(fake.hits[-1][3], "%Y%m%dT%H%M%SZ"))
    ASSERT_TRUE(abs(amz - (time.time() + 3600)) < 120, "signing time follows the store's Date",
                f"{fake.hits[-1][3]}")
    ASSERT_TRUE("RequestTimeTooSkewed: The difference between the request time and the current time is too large. "
                "(HTTP 403)" in out.stderr, "skew error line", out.stderr)
    ASSERT_TRUE("SlowDown: Please reduce your request rate. (HTTP 503) (will retry)" in out.stderr,
                "throttling error line", out.stderr)
    ASSERT_EQ(st.get("retries"), 2, "retried rounds")
    h = fake.hits[-1][4]
    ASSERT_EQ((h.get("x-amz-server-side-encryption"), h.get("x-amz-server-side-encryption-aws-kms-key-id"),
               h.get("x-amz-content-sha256"), h.get("content-type")),
              ("aws:kms", "arn:aws:kms:eu-west-3:1:key/k1", hashlib.sha256(b"x" * 1000).hexdigest(),
               "application/gzip"), "PutObject headers: SSE-KMS, payload hash, type")
    ASSERT_TRUE(h.get("authorization", "").startswith("AWS4-HMAC-SHA256 Credential=S3RVER/"),
                "signed", h.get("authorization"))
    # A clock in step: the start-up sweep lists the uploads and aborts the stale ones.
    fake.skew = 0
    fake.hits.clear()
    out = _put(ctx, work, fake.endpoint, pki.ca, [], extra=extra, wait=10)
    st = _stats(out.stdout)
    deletes = sorted(h[1] for h in fake.hits if h[0] == "DELETE")
    ASSERT_EQ(deletes, ["/kerno-test/logs/year%3D2026/node-a-0001.json.gz?uploadId=ours-crashed",
                        "/kerno-test/logs/year%3D2026/node-b-0002.json.gz?uploadId=theirs-old"],
              "stale uploads aborted: this node's, and another's over a day old")
    ASSERT_EQ(st.get("stale_aborted"), 2, "stale uploads counted")


def test_s3_silent_store_close_bounded(ctx):
    """A store that accepts connections and never answers: closing the backend
    still returns within its bound, and the object stays spooled."""
    import socket
    silent = socket.socket()
    ctx.cleanup.callback(silent.close)
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    pki = Pki(ctx.cleanup)
    work = tmpdir(ctx.cleanup, "s3work")
    t0 = time.monotonic()
    out = _put(ctx, work, f"https://127.0.0.1:{silent.getsockname()[1]}", pki.ca, _objects(6, [1000]), wait=1)
    took = time.monotonic() - t0
    ASSERT_EQ(out.returncode, 1, "s3put_tool exit code (nothing confirmed)")
    ASSERT_TRUE(took < 15, "close bounded (5 s flush + 3 s grace)", f"{took:.1f}s")
    ASSERT_TRUE("kerno: s3: the uploader is still waiting on the store; 1 objects stay in the spool" in out.stderr,
                "closing line", out.stderr)
    ASSERT_EQ(len([f for f in _spool_files(work) if f.endswith(".obj")]), 1, "object kept in the spool")
