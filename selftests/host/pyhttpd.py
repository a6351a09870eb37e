#!/usr/bin/python3
"""A small HTTP/1.1 server for Kerno's host tests.

It produces the response shapes nginx does not make on demand: a fixed delay,
chunked bodies, responses written one byte per write(), HEAD, 204, 304,
100-continue and a response cut off by a close. Each connection gets a thread;
keep-alive and pipelining work because requests are parsed from a buffer.

Anything that is not a well-formed request (garbage, binary, a header line
over MAX_LINE) makes the server close the connection without answering, so
that the bad traffic never turns into a countable exchange. Like nginx's
lingering close, it first reads what the client still sends (until the
client's FIN, or LINGER_S of silence): a client is never reset in the middle
of its writes, so what it wrote, and what the agent saw it write, does not
depend on when the server gave up.

Usage: pyhttpd.py [--port N]. Listens on 127.0.0.1 and prints "PORT <n>" on
stdout once it accepts connections.

Endpoints (any method unless noted):
  /ok             200 "ok"
  /delay          200 "ok" DELAY_S after the request arrived
  /delay-log      200, each /delay request's time from arrival to the send
                  of its response, so far, in microseconds, one per line
  /chunked        200, body sent as several chunks
  /split          200, whole response written one byte per send()
  /head           200 with Content-Length 1234 (HEAD sends no body)
  /nocontent      204
  /notmodified    304
  /upload         reads the body (honours Expect: 100-continue), 200
  /close-mid      200 announcing 1000 body bytes, sends 10, closes
  /status/<n>     status n, body "s"
  anything else   404
"""

import argparse
import socket
import sys
import threading
import time

DELAY_S = 0.020
# Microseconds from arrival to response send, per /delay request: what the
# server really took, for the latency test to compare the agent's figures
# with (list.append is atomic in CPython).
DELAY_LOG = []
MAX_LINE = 8192
MAX_HEADERS = 100
LINGER_S = 2.0
REASONS = {100: "Continue", 200: "OK", 204: "No Content", 304: "Not Modified",
           404: "Not Found", 500: "Internal Server Error"}


class BadRequest(Exception):
    """The peer sent something that is not HTTP/1.x: drop the connection."""


class Conn:
    """Buffered reader over one accepted socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.arrived = time.monotonic()  # when the last recv() returned data

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.arrived = time.monotonic()
        self.buf += data

    def readline(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise BadRequest("line too long")
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        if len(line) > MAX_LINE:
            raise BadRequest("line too long")
        return line

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def read_request(conn):
    """Returns (method, path, headers dict with lower-case names)."""
    start = conn.readline()
    try:
        method, target, version = start.decode("ascii").split(" ")
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("bad start line") from exc
    if not method.isalpha() or not method.isupper() or not version.startswith("HTTP/1."):
        raise BadRequest("bad start line")
    headers = {}
    while True:
        line = conn.readline()
        if not line:
            return method, target, headers
        if len(headers) >= MAX_HEADERS or b":" not in line:
            raise BadRequest("bad header")
        name, value = line.split(b":", 1)
        headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()


def read_body(conn, headers):
    if headers.get("transfer-encoding", "").lower() == "chunked":
        raise BadRequest("chunked request bodies are not needed by the tests")
    length = int(headers.get("content-length", "0"))
    return conn.read_exact(length)


def head_bytes(status, headers):
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def simple(status, body=b"ok", extra=()):
    headers = list(extra)
    if status not in (204, 304):
        headers.append(("Content-Length", str(len(body))))
    else:
        body = b""
    return head_bytes(status, headers) + body


def send_one_byte_per_write(sock, data):
    # TCP_NODELAY is set on the socket, so each send() is its own syscall
    # and, mostly, its own segment: the agent sees the response in pieces.
    for i in range(len(data)):
        sock.sendall(data[i:i + 1])


def chunked_response():
    body = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n"
                    for p in (b"hello ", b"chunked ", b"world", b"!" * 300))
    return head_bytes(200, [("Transfer-Encoding", "chunked")]) + body + b"0\r\n\r\n"


def handle(conn, method, path, headers):
    """Answers one request. Returns False when the connection must close."""
    sock = conn.sock
    path = path.split("?", 1)[0]
    if path == "/upload":
        if headers.get("expect", "").lower() == "100-continue":
            sock.sendall(head_bytes(100, []))
        read_body(conn, headers)
        sock.sendall(simple(200, b"stored"))
        return True
    read_body(conn, headers)
    if path == "/delay":
        # From the request's arrival, where the kernel starts timing it, not
        # from the end of the parse above.
        time.sleep(max(0.0, conn.arrived + DELAY_S - time.monotonic()))
        # Up to the send, where the kernel's timing ends too: on a busy
        # machine this thread can wait after the send for its next turn,
        # which is no part of the server's latency.
        sending = time.monotonic()
        sock.sendall(simple(200))
        DELAY_LOG.append(round((sending - conn.arrived) * 1e6))
    elif path == "/delay-log":
        sock.sendall(simple(200, "".join(f"{us}\n" for us in DELAY_LOG).encode()))
    elif path == "/ok":
        sock.sendall(simple(200))
    elif path == "/chunked":
        sock.sendall(chunked_response())
    elif path == "/split":
        send_one_byte_per_write(sock, simple(200, b"split-body"))
    elif path == "/head":
        resp = head_bytes(200, [("Content-Length", "1234")])
        sock.sendall(resp if method == "HEAD" else resp + b"x" * 1234)
    elif path == "/nocontent":
        sock.sendall(simple(204))
    elif path == "/notmodified":
        sock.sendall(simple(304, extra=[("ETag", '"v1"')]))
    elif path == "/close-mid":
        sock.sendall(head_bytes(200, [("Content-Length", "1000")]) + b"0123456789")
        return False
    elif path.startswith("/status/") and path[8:].isdigit():
        sock.sendall(simple(int(path[8:]), b"s"))
    else:
        sock.sendall(simple(404, b"not found"))
    return headers.get("connection", "").lower() != "close"


def linger(sock):
    """Read and discard until the client's FIN or LINGER_S of silence."""
    sock.settimeout(LINGER_S)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def serve_connection(sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = Conn(sock)
    try:
        while True:
            method, path, headers = read_request(conn)
            if not handle(conn, method, path, headers):
                break
    except (BadRequest, ValueError):
        linger(sock)
    except (EOFError, ConnectionError):
        pass
    finally:
        sock.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.port))
    lsock.listen(128)
    print(f"PORT {lsock.getsockname()[1]}", flush=True)
    while True:
        sock, _ = lsock.accept()
        threading.Thread(target=serve_connection, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
