"""Peers of the S3 uploader's tests: a test CA, s3rver over TLS (HTTP/1.1),
nghttpx in front of it for h2, loopback credential endpoints, and readers
that fetch objects back with botocore.

Everything listens on 127.0.0.1 on ephemeral ports and is stopped by the
test's cleanup stack.
"""

import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

from servers import free_port, spawn, stop_group, wait_listening

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
NODE = "/usr/bin/node"
BUCKET = "kerno-test"


def tmpdir(cleanup, tag):
    d = tempfile.mkdtemp(prefix=f"kerno-{tag}-")
    cleanup.callback(shutil.rmtree, d, True)
    return d


def _ossl(args, cwd):
    subprocess.run(["openssl"] + args, cwd=cwd, check=True, capture_output=True)


class Pki:
    """A CA that signs the server certificate (localhost, 127.0.0.1), and another one."""

    def __init__(self, cleanup):
        self.dir = tmpdir(cleanup, "pki")
        d = self.dir
        for ca in ("ca", "wrong-ca"):
            _ossl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                   "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN=kerno {ca}"], d)
        _ossl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "srv.key",
               "-out", "srv.csr", "-subj", "/CN=localhost"], d)
        with open(os.path.join(d, "ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        _ossl(["x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
               "-days", "2", "-extfile", "ext", "-out", "srv.pem"], d)
        self.ca = os.path.join(d, "ca.pem")
        self.wrong_ca = os.path.join(d, "wrong-ca.pem")
        self.key = os.path.join(d, "srv.key")
        self.cert = os.path.join(d, "srv.pem")


class S3rver:
    """s3rver over TLS; restartable on the same port and data directory (outages)."""

    def __init__(self, cleanup, pki):
        self.cleanup = cleanup
        self.pki = pki
        self.data = tmpdir(cleanup, "s3rver")
        self.log = os.path.join(self.data, "..", os.path.basename(self.data) + ".requests")
        cleanup.callback(lambda: os.path.exists(self.log) and os.unlink(self.log))
        open(self.log, "w").close()
        self.port = 0
        self.proc = None
        self.start()

    def start(self):
        script = os.path.join(HERE, "s3rver_run.js")
        self.proc = spawn([NODE, script, self.data, str(self.port), self.pki.key, self.pki.cert, BUCKET,
                           self.log], self.cleanup, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            raise RuntimeError("s3rver did not start (npm install s3rver: selftests/setup.sh)")
        self.port = int(line[1])

    def stop(self):
        stop_group(self.proc)

    @property
    def endpoint(self):
        return f"https://127.0.0.1:{self.port}"

    def requests(self):
        with open(self.log) as f:
            return [line.split() for line in f if line.strip()]

    def object_path(self, key):
        return os.path.join(self.data, BUCKET, key + "._S3rver_object")

    def open_uploads(self):
        """Multipart uploads s3rver holds (it keeps each in a directory until completed)."""
        found = []
        for root, dirs, _ in os.walk(os.path.join(self.data, BUCKET)):
            if os.path.basename(root) == "uploads":
                found += dirs
        return found


class Nghttpx:
    """nghttpx terminating TLS with ALPN h2 in front of s3rver (itself over TLS)."""

    def __init__(self, cleanup, pki, backend_port):
        self.port = free_port()
        self.proc = spawn(["nghttpx", "--conf=/dev/null", f"--frontend=127.0.0.1,{self.port}",
                           f"--backend=127.0.0.1,{backend_port};;tls", f"--cacert={pki.ca}",
                           "--backend-tls-sni-field=localhost", "--workers=1", "--single-process",
                           "--no-ocsp", "--errorlog-file=/dev/null",
                           "--backend-read-timeout=120", "--frontend-read-timeout=120",
                           # Windows of a bulk-upload endpoint, not nghttpx's 64 KiB defaults.
                           "--frontend-http2-window-size=4194304",
                           "--frontend-http2-connection-window-size=33554432",
                           pki.key, pki.cert], cleanup, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_listening(self.port, self.proc):
            raise RuntimeError("nghttpx did not start")

    @property
    def endpoint(self):
        return f"https://localhost:{self.port}"


def s3_client(endpoint, ca):
    """botocore S3 client for reading objects back (s3rver ignores signatures)."""
    import botocore.session
    from botocore.config import Config
    session = botocore.session.get_session()
    return session.create_client("s3", region_name="us-east-1", endpoint_url=endpoint, verify=ca,
                                 aws_access_key_id="S3RVER", aws_secret_access_key="S3RVER",
                                 config=Config(s3={"addressing_style": "path"}))


def read_object(client, key):
    """The object's bytes, or None when the store does not have it."""
    try:
        return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None


class CredsEndpoint:
    """Loopback HTTP server answering in the documented STS, container and IMDS shapes.

    `expires_in` seconds from now is the Expiration of what it hands out;
    `hits` records (method, path, headers, body) of each request.
    """

    def __init__(self, cleanup, expires_in=3600):
        self.expires_in = expires_in
        self.hits = []
        self.role = "kerno-node-role"
        self.imds_token = "imds-token-123"
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, code, body, ctype):
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                outer.hits.append((self.command, self.path, dict(self.headers), body))
                return body

            def do_POST(self):
                self._record()
                self._reply(200, outer.sts_reply(), "text/xml")

            def do_PUT(self):
                self._record()
                if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self._reply(200, outer.imds_token, "text/plain")
                self._reply(400, "", "text/plain")

            def do_GET(self):
                self._record()
                if self.path.startswith("/latest/"):
                    if self.headers.get("X-aws-ec2-metadata-token") != outer.imds_token:
                        return self._reply(401, "", "text/plain")
                    base = "/latest/meta-data/iam/security-credentials/"
                    if self.path == base:
                        return self._reply(200, outer.role + "\n", "text/plain")
                    if self.path == base + outer.role:
                        return self._reply(200, outer.json_reply("imds", code=True), "text/plain")
                    return self._reply(404, "", "text/plain")
                self._reply(200, outer.json_reply("container"), "application/json")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        t = threading.Thread(target=self.server.serve_forever, daemon=True)
        t.start()
        cleanup.callback(self.server.shutdown)

    def expiration(self):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + self.expires_in))

    def sts_reply(self):
        return ('<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                "<AssumeRoleWithWebIdentityResult>"
                "<SubjectFromWebIdentityToken>system:serviceaccount:kerno:kerno</SubjectFromWebIdentityToken>"
                "<Credentials><SessionToken>sts-token/with+slash=</SessionToken>"
                "<SecretAccessKey>sts-secret&amp;x</SecretAccessKey>"
                f"<Expiration>{self.expiration()}</Expiration>"
                "<AccessKeyId>ASIASTSEXAMPLE</AccessKeyId></Credentials>"
                "<AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/kerno</Arn></AssumedRoleUser>"
                "</AssumeRoleWithWebIdentityResult>"
                "<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
                "</AssumeRoleWithWebIdentityResponse>")

    def json_reply(self, tag, code=False):
        d = {"AccessKeyId": f"ASIA{tag.upper()}", "SecretAccessKey": f"{tag}-secret",
             "Token": f"{tag}-token", "Expiration": self.expiration()}
        if code:
            d.update({"Code": "Success", "LastUpdated": "2026-01-01T00:00:00Z", "Type": "AWS-HMAC"})
        return json.dumps(d)


class FakeS3:
    """An HTTPS endpoint answering in S3's documented shapes where s3rver cannot:
    throttling (503 SlowDown), a clock an hour ahead (403 RequestTimeTooSkewed
    until requests carry its time), and ListMultipartUploads with stale uploads.
    Records (method, path, status, x-amz-date, headers) of every request."""

    def __init__(self, cleanup, pki, throttle=2, uploads=(), skew=3600):
        import ssl
        self.skew = skew
        self.hits = []
        self.throttle = throttle
        self.uploads = list(uploads)  # (key, upload id, initiated epoch)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def date_time_string(self, timestamp=None):
                return super().date_time_string(time.time() + outer.skew)

            def _reply(self, code, body=b"", headers=()):
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                outer.hits.append((self.command, self.path, code, self.headers.get("X-Amz-Date"),
                                   {k.lower(): v for k, v in self.headers.items()}))

            def _error(self, code, s3code, msg):
                self._reply(code, (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{s3code}</Code>"
                                   f"<Message>{msg}</Message><RequestId>r1</RequestId></Error>").encode(),
                            [("Content-Type", "application/xml")])

            def _skewed(self):
                import calendar
                amz = calendar.timegm(time.strptime(self.headers.get("X-Amz-Date", "19700101T000000Z"),
                                                    "%Y%m%dT%H%M%SZ"))
                if abs(amz - (time.time() + outer.skew)) <= 300:
                    return False
                self._error(403, "RequestTimeTooSkewed",
                            "The difference between the request time and the current time is too large.")
                return True

            def do_PUT(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self._skewed():
                    return
                if outer.throttle > 0:
                    outer.throttle -= 1
                    return self._error(503, "SlowDown", "Please reduce your request rate.")
                self._reply(200, headers=[("ETag", '"0123456789abcdef"')])

            def do_GET(self):
                if self._skewed():
                    return
                if "uploads" in self.path:
                    items = "".join(
                        f"<Upload><Key>{k}</Key><UploadId>{u}</UploadId><Initiated>"
                        f"{time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime(t))}</Initiated></Upload>"
                        for k, u, t in outer.uploads)
                    return self._reply(200, f"<ListMultipartUploadsResult>{items}</ListMultipartUploadsResult>"
                                       .encode(), [("Content-Type", "application/xml")])
                self._error(404, "NoSuchKey", "The specified key does not exist.")

            def do_DELETE(self):
                self._reply(204)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.cert, pki.key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        cleanup.callback(self.server.shutdown)

    @property
    def endpoint(self):
        return f"https://127.0.0.1:{self.port}"
