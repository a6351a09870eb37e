"""Servers the tests start themselves, on 127.0.0.1 and free ports.

Every process is started in its own session (process group) so that stopping
it also stops its children (nginx's worker), and every start registers its
stop with the test's cleanup stack, so servers die even when a test fails.
"""

import os
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"


def free_port():
    """A port nothing listens on right now (small race: callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_listen_socket(port, proc, timeout=10.0):
    """wait_listening() without a connection: until proc has a TCP socket listening
    on port for 127.0.0.1 (/proc/net/tcp, and proc's own descriptors). For servers
    started under the agent, where a probe connection would be one of theirs: a TLS
    server answers the probe's end of stream with an alert (nghttpd on OpenSSL 3:
    7 bytes), which the agent may count as a plain TCP connection of the server."""
    deadline = time.monotonic() + timeout
    want = f":{port:04X}"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with open("/proc/net/tcp") as f:
            inodes = {fields[9] for fields in (line.split() for line in f.readlines()[1:])
                      if fields[3] == "0A" and fields[1] in ("00000000" + want, "0100007F" + want)}
        try:
            fds = os.listdir(f"/proc/{proc.pid}/fd")
        except OSError:
            fds = []
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{proc.pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return True
        time.sleep(0.05)
    return False


def cpu_seconds(pid):
    """User and system CPU time process pid has used so far, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_group(proc, timeout=10.0):
    """SIGTERM the process group, then SIGKILL it if it does not go."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the group
    except ProcessLookupError:
        pass
    proc.wait()


def spawn(argv, cleanup, **kwargs):
    """Popen in a new session whose group is stopped by `cleanup` (an ExitStack)."""
    proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
    cleanup.callback(stop_group, proc)
    return proc


class PyServer:
    """pyhttpd.py in a child process; `.port`, `.pid`."""

    def __init__(self, cleanup):
        self.proc = spawn([PYTHON, os.path.join(HERE, "pyhttpd.py")], cleanup,
                          stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"pyhttpd did not start (said {line!r})")
        self.port = int(line.split()[1])
        self.pid = self.proc.pid


NGINX_CONF = """\
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
        listen 127.0.0.1:{port};
        # "return CODE TEXT" keeps the connection alive for 404 and 500; a
        # bare "return 500" would close it and break h2load's pipelining.
        location = /ok {{ return 200 "ok\\n"; }}
        location = /missing {{ return 404 "missing\\n"; }}
        location = /fail {{ return 500 "fail\\n"; }}
        location ~ ^/users/[0-9]+$ {{ return 200 "user\\n"; }}
        location / {{ return 404 "no such location\\n"; }}
    }}
}}
"""


class Nginx:
    """nginx with its own config in a temp dir: one worker, keep-alive, no
    access log. `.port`, `.master_pid`, `.worker_pids()`."""

    def __init__(self, cleanup, cpu=None, attempts=5):
        self.prefix = tempfile.mkdtemp(prefix="kerno-nginx-")
        os.chmod(self.prefix, 0o755)  # the worker runs as nobody
        os.mkdir(os.path.join(self.prefix, "tmp"))
        cleanup.callback(_rmtree, self.prefix)
        for _ in range(attempts):
            self.port = free_port()
            conf = os.path.join(self.prefix, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(prefix=self.prefix, port=self.port))
            argv = ["nginx", "-c", conf, "-p", self.prefix, "-g", "daemon off;"]
            if cpu is not None:
                argv = ["taskset", "-c", str(cpu)] + argv
            self.proc = spawn(argv, cleanup, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
            if wait_listening(self.port, self.proc):
                self.master_pid = self.proc.pid
                return
            stop_group(self.proc)
        raise RuntimeError(f"nginx did not start; see {self.prefix}/error.log")

    def worker_pids(self, timeout=10):
        """The workers' pids, once the master has started them (slow under emulation)."""
        deadline = time.monotonic() + timeout
        while True:
            with open(f"/proc/{self.master_pid}/task/{self.master_pid}/children") as f:
                pids = [int(p) for p in f.read().split()]
            if pids or time.monotonic() > deadline:
                return pids
            time.sleep(0.05)


def _rmtree(path):
    subprocess.run(["rm", "-rf", "--", path], check=False)
