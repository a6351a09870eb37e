"""HTTPS peers of the TLS capture tests, all built or configured by the test:
a test CA and server certificate (openssl), nginx over TLS, the C client
(tls_client.c) linked statically against OpenSSL, against BoringSSL shared and
against BoringSSL linked in (built from Debian's source package), and
a Go client and server (tlsgo/, standard library only, built offline)."""

import hashlib
import os
import shutil
import subprocess
import tempfile

from servers import free_port, spawn, stop_group, wait_listening

HERE = os.path.dirname(os.path.abspath(__file__))
BORINGSSL_INC = "/usr/include/android"
BORINGSSL_LIB = "/usr/lib/x86_64-linux-gnu/android"
# Static BoringSSL: built by selftests/setup.sh, or here when it has not run since.
BORINGSSL_STATIC_BUILD = os.path.join(HERE, "..", "boringssl", "build.sh")
BORINGSSL_STATIC_CACHE = os.path.join(HERE, "..", "..", "build", "boringssl")
PATHS = (("/ok", 200), ("/missing", 404), ("/fail", 500))


def _run(argv, **kwargs):
    res = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if res.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr[-2000:]}")
    return res.stdout


class Certs:
    """A CA and a server certificate for 127.0.0.1 signed by it."""

    def __init__(self, workdir):
        self.ca = os.path.join(workdir, "ca.pem")
        self.cert = os.path.join(workdir, "server.pem")
        self.key = os.path.join(workdir, "server.key")
        ca_key = os.path.join(workdir, "ca.key")
        csr = os.path.join(workdir, "server.csr")
        ext = os.path.join(workdir, "server.ext")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _run(["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", self.ca, "-days", "2",
              "-subj", "/CN=kerno test CA"])
        _run(["openssl", "req", *ec, "-keyout", self.key, "-out", csr, "-subj", "/CN=127.0.0.1"])
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", ca_key,
              "-CAcreateserial", "-out", self.cert, "-days", "2", "-extfile", ext])


NGINX_TLS_CONF = """\
worker_processes 1;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    default_type text/plain;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location = /ok {{ return 200 "ok\\n"; }}
        location = /missing {{ return 404 "missing\\n"; }}
        location = /fail {{ return 500 "fail\\n"; }}
        location / {{ return 404 "no such location\\n"; }}
    }}
}}
"""


class TlsNginx:
    """nginx serving HTTPS with the test's certificate: `.port`, `.worker_pids()`."""

    def __init__(self, cleanup, certs, attempts=5, cpu=None):
        self.prefix = tempfile.mkdtemp(prefix="kerno-nginx-tls-")
        os.chmod(self.prefix, 0o755)
        os.mkdir(os.path.join(self.prefix, "tmp"))
        cleanup.callback(subprocess.run, ["rm", "-rf", "--", self.prefix], check=False)
        for _ in range(attempts):
            self.port = free_port()
            conf = os.path.join(self.prefix, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_TLS_CONF.format(prefix=self.prefix, port=self.port,
                                              cert=certs.cert, key=certs.key))
            argv = ["nginx", "-c", conf, "-p", self.prefix, "-g", "daemon off;"]
            if cpu is not None:
                argv = ["taskset", "-c", str(cpu)] + argv
            self.proc = spawn(argv, cleanup, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if wait_listening(self.port, self.proc):
                return
            stop_group(self.proc)
        raise RuntimeError(f"nginx did not start; see {self.prefix}/error.log")

    def worker_pids(self):
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
            return [int(p) for p in f.read().split()]


# Built once, into build/tls-peers/<hash of the sources>/ (kept: the VM's
# emulation makes a Go build cost minutes, and the guest sees the host's
# repository). Each test copies what it runs: an executable new to the
# agent, whatever tests ran before.
_BUILT = {}
BUILD_ROOT = os.path.join(HERE, "..", "..", "build", "tls-peers")
GO_PROGRAMS = ("client", "server", "deepwrite")
SOURCES = (("tls_client.c", "tlsgo/go.mod", "tlsgo/clientargs/clientargs.go")
           + tuple(f"tlsgo/{p}/main.go" for p in GO_PROGRAMS))


def _build_dir():
    if "dir" not in _BUILT:
        digest = hashlib.sha256()
        for name in SOURCES:
            with open(os.path.join(HERE, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
        _BUILT["dir"] = os.path.abspath(os.path.join(BUILD_ROOT, digest.hexdigest()[:16]))
    return _BUILT["dir"]


def _cached(kind, build, names):
    """Paths of `names` in the build directory, built by build(dir) unless there
    already (into a temporary directory renamed into place: never half-built)."""
    final = os.path.join(_build_dir(), kind)
    if not all(os.path.exists(os.path.join(final, n)) for n in names):
        os.makedirs(os.path.dirname(final), exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=kind + ".", dir=os.path.dirname(final))
        try:
            build(tmp)
            subprocess.run(["rm", "-rf", "--", final], check=False)
            os.rename(tmp, final)
        except OSError:
            # Another runner won the race, or the tree is read-only (the VM's overlay is not).
            subprocess.run(["rm", "-rf", "--", tmp], check=False)
            if not all(os.path.exists(os.path.join(final, n)) for n in names):
                raise
    return [os.path.join(final, n) for n in names]


def _fresh_copy(path, workdir):
    dst = os.path.join(workdir, os.path.basename(path))
    shutil.copy2(path, dst)
    return dst


C_CLIENTS = {"static-openssl": "tls_client_static", "boringssl": "tls_client_boring",
             "static-boringssl": "tls_client_static_boring"}


def build_c_clients(workdir):
    """{"static-openssl": path, "boringssl": path, "static-boringssl": path}:
    tls_client.c built three times, copied into workdir."""
    paths = _cached("c", _build_c_clients, tuple(C_CLIENTS.values()))
    return {kind: _fresh_copy(path, workdir) for kind, path in zip(C_CLIENTS, paths)}


def _static_boringssl():
    """The directory of BoringSSL's headers and static libraries."""
    return _run([BORINGSSL_STATIC_BUILD, os.path.abspath(BORINGSSL_STATIC_CACHE)]).strip()


def build_go(workdir):
    """{"client": path, "server": path, "deepwrite": path}: the programs of
    tlsgo/, built, copied into workdir."""
    paths = _cached("go", _build_go, GO_PROGRAMS)
    return {name: _fresh_copy(path, workdir) for name, path in zip(GO_PROGRAMS, paths)}


def _build_c_clients(workdir):
    src = os.path.join(HERE, "tls_client.c")
    static, boring, static_boring = (os.path.join(workdir, C_CLIENTS[k]) for k in C_CLIENTS)
    # OpenSSL linked into the executable; the C library stays shared.
    _run(["cc", "-O2", "-o", static, src, "-Wl,-Bstatic", "-lssl", "-lcrypto", "-Wl,-Bdynamic",
          "-lpthread", "-ldl"])
    _run(["cc", "-O2", "-isystem", BORINGSSL_INC, "-o", boring, src, f"-L{BORINGSSL_LIB}",
          f"-Wl,-rpath,{BORINGSSL_LIB}", "-lssl", "-lcrypto", "-lpthread"])
    # BoringSSL linked into the executable: SSL_read and SSL_write are
    # symbols of its .symtab, as in a program that vendors BoringSSL.
    prefix = _static_boringssl()
    _run(["cc", "-O2", "-isystem", os.path.join(prefix, "include"), "-o", static_boring, src,
          os.path.join(prefix, "lib", "libssl.a"), os.path.join(prefix, "lib", "libcrypto.a"),
          "-lpthread"])


def _build_go(workdir):
    """The standard library only, offline."""
    gotmp = tempfile.mkdtemp(prefix="kerno-tls-go-")
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off",
               GOCACHE=os.path.join(gotmp, "cache"), GOPATH=os.path.join(gotmp, "path"))
    try:
        _run(["go", "build", "-o", workdir + "/"] + [f"./{p}" for p in GO_PROGRAMS],
             cwd=os.path.join(HERE, "tlsgo"), env=env)
    finally:
        subprocess.run(["rm", "-rf", "--", gotmp], check=False)
    return os.path.join(workdir, "client"), os.path.join(workdir, "server")


class GoServer:
    """The Go HTTPS server: `.port`, `.pid`."""

    def __init__(self, cleanup, binary, certs):
        self.proc = spawn([binary, certs.cert, certs.key], cleanup, stdout=subprocess.PIPE,
                          text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"Go server did not start (said {line!r})")
        self.port = int(line.split()[1])
        self.pid = self.proc.pid


def status_lines(text):
    """{status: count} from "STATUS COUNT" lines."""
    return {int(s): int(n) for s, n in (line.split() for line in text.splitlines() if line)}


def expected_statuses(n, paths=PATHS):
    """{(path, status): count} of n requests taking the paths in turn."""
    got = {}
    for i in range(n):
        path, status = paths[i % len(paths)]
        got[(path, status)] = got.get((path, status), 0) + 1
    return got
