"""Raw-socket HTTP/1.1 clients for the host tests.

The standard library's http.client hides exactly what these tests need to
control (how many bytes each write carries, pipelining, 100-continue, bytes
that are not HTTP at all), so requests are written by hand here.
"""

import os
import socket
import time

TIMEOUT_S = 10


def connect(port, nodelay=True):
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    if nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def request_bytes(method, path, headers=(), body=b""):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "User-Agent: kerno-selftest"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self):
        return f"Response({self.status}, {len(self.body)} body bytes)"


class Client:
    """One keep-alive connection; reads responses with HTTP/1.1 framing."""

    def __init__(self, port):
        self.sock = connect(port)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _chunked_body(self):
        body = b""
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                while self._line():  # trailers up to the empty line
                    pass
                return body
            body += self._exact(size)
            self._exact(2)

    def read_response(self, method="GET"):
        """Reads one final response (skipping 1xx) for a request of `method`."""
        while True:
            status = int(self._line().split(b" ")[1])
            headers = {}
            while line := self._line():
                name, value = line.split(b":", 1)
                headers[name.decode().strip().lower()] = value.decode().strip()
            if not 100 <= status < 200:
                break
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked_body()
        else:
            body = self._exact(int(headers.get("content-length", "0")))
        return Response(status, headers, body)

    def send(self, data, one_byte_per_write=False):
        if not one_byte_per_write:
            self.sock.sendall(data)
            return
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])

    def request(self, method, path, headers=(), body=b"", one_byte_per_write=False):
        self.send(request_bytes(method, path, headers, body), one_byte_per_write)
        return self.read_response(method)

    def pipeline(self, paths):
        """Sends all GET requests in one write, then reads all responses."""
        self.send(b"".join(request_bytes("GET", p) for p in paths))
        return [self.read_response() for _ in paths]

    def upload_expect_continue(self, path, body):
        """POST with Expect: 100-continue; sends the body only after the 100."""
        self.send(request_bytes("POST", path, [("Expect", "100-continue"),
                                               ("Content-Length", str(len(body)))]))
        line = self._line()
        if int(line.split(b" ")[1]) != 100:
            raise AssertionError(f"expected 100 Continue, got {line!r}")
        while self._line():
            pass
        self.send(body)
        return self.read_response("POST")


def get(port, path, count=1):
    """`count` GETs on one keep-alive connection; returns their statuses."""
    with Client(port) as client:
        return [client.request("GET", path).status for _ in range(count)]


# --- Traffic that is not well-formed HTTP/1.x. Each function opens its own
# connection, sends, and waits for the server to close (it never answers);
# those that send through _send_and_drain() return the bytes they wrote.

def _send_and_drain(port, *writes, sock=None):
    """Each of `writes` in one send(), then a FIN, then read until the close.
    The server (pyhttpd, nginx) reads all a client sends before it closes,
    so every write is whole and the agent sees exactly these writes."""
    sock = sock or connect(port)
    try:
        for data in writes:
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
    finally:
        sock.close()
    return sum(len(data) for data in writes)


def send_garbage(port):
    """Printable text that is not a request line."""
    return _send_and_drain(port, b"hello there, this is not http at all\r\n\r\n")


def send_binary(port):
    """Random bytes, NULs included."""
    return _send_and_drain(port, b"\x00\x01\xff\xfe" + os.urandom(4096))


def send_redis_ping(port):
    """A Redis RESP command (to a server that does not speak Redis)."""
    return _send_and_drain(port, b"*1\r\n$4\r\nPING\r\n")


def send_ssh_banner(port):
    """An SSH client's banner: a protocol Kerno does not parse."""
    return _send_and_drain(port, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")


def send_malformed_header(port):
    """A valid start line followed by a header line without a colon."""
    _send_and_drain(port, b"GET /ok HTTP/1.1\r\nHost: x\r\nthis header has no colon\r\n\r\n")


def send_long_header(port, size=64 * 1024):
    """A request whose one header line is `size` bytes long, in one write."""
    _send_and_drain(port, b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * size + b"\r\n\r\n")


def send_garbage_after_request(port):
    """A well-formed exchange (GET /ok, 200), then on the same connection a
    line of garbage and, in a second write, binary bytes."""
    client = Client(port)
    status = client.request("GET", "/ok").status
    if status != 200:
        raise AssertionError(f"GET /ok before the garbage: status {status}")
    _send_and_drain(port, b"this is not a request line\r\n\r\n", b"\x00\xff" * 32,
                    sock=client.sock)


def request_cut_mid_response(port):
    """A well-formed GET whose response the server cuts off by closing."""
    sock = connect(port)
    try:
        sock.sendall(request_bytes("GET", "/close-mid"))
        deadline = time.monotonic() + TIMEOUT_S
        while sock.recv(65536) and time.monotonic() < deadline:
            pass
    finally:
        sock.close()
