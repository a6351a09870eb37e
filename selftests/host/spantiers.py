#!/usr/bin/python3
"""The front and back tiers of the span tests: real HTTP/1.1 services.

    spantiers.py back              GET /back/<n>: 200 "back <n>"
    spantiers.py front BACK_PORT [SLOW_S] [redis=PORT] [pg=PORT]
                                   per request, from the serving thread, calls
                                   the back tier (a new connection each time),
                                   then Redis (SET) and PostgreSQL (a SELECT with
                                   a string literal, DB_CANARY) when given, each
                                   on a new connection, then answers:
        /front/<n>       200
        /slow/<n>        200 after SLOW_S seconds (0.15 by default)
        /error/<n>       500
        /missing/<n>     404
        /thread/<n>      the back call is made by a new thread (joined)
        /fork/<n>        the back call is made by a child process (waited for)
        POST any of them reads the request body first
A request header X-Session-Echo: V makes the answer set the cookie sid=V.
With --tls CERT KEY CA first, both tiers serve HTTPS with CERT and KEY, and
the front calls the back over HTTPS, trusting CA.

Prints "PORT <port>" once listening. The database clients speak the wire
protocols themselves (RESP; PostgreSQL's startup, trust authentication and
simple query): Debian's Python has no client library for either here.
"""

import http.client
import os
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_S = 0.15
# With --tls: the client context of the front's calls to the back.
CLIENT_TLS = None


def call_back(port, n):
    if CLIENT_TLS:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=CLIENT_TLS)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", f"/back/{n}")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def call_children(port, kind, n):
    if kind == "thread":
        t = threading.Thread(target=call_back, args=(port, n))
        t.start()
        t.join()
    elif kind == "fork":
        pid = os.fork()
        if pid == 0:
            try:
                call_back(port, n)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    else:
        call_back(port, n)


# A literal of the front's SQL statement: the spans show the statement's shape only.
DB_CANARY = "kerno-db-canary-3b8f"
REDIS_PORT = None
PG_PORT = None


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return data


def call_redis(port, n):
    """SET kerno:front:<n> on a new connection; the reply is +OK."""
    key, value = f"kerno:front:{n}".encode(), b"v"
    cmd = b"*3\r\n$3\r\nSET\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(a), a)
                                           for a in (key, value))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(cmd)
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(64)
            if not chunk:
                break
            reply += chunk
    if reply != b"+OK\r\n":
        raise RuntimeError(f"redis said {reply!r}")


def pg_messages(sock, until):
    """Backend messages up to and including one of type `until`: [(type, body)]."""
    out = []
    while True:
        head = recv_exactly(sock, 5)
        body = recv_exactly(sock, struct.unpack("!I", head[1:])[0] - 4)
        out.append((head[:1], body))
        if head[:1] == until:
            return out


def call_pg(port, n):
    """One simple query on a new connection (user postgres, trust authentication)."""
    params = b"user\0postgres\0database\0postgres\0\0"
    startup = struct.pack("!II", 8 + len(params), 196608) + params
    query = f"SELECT '{DB_CANARY}' AS c, {n} AS n".encode() + b"\0"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(startup)
        msgs = pg_messages(sock, b"Z")
        if msgs[0][0] != b"R" or msgs[0][1][:4] != b"\0\0\0\0":
            raise RuntimeError(f"postgres did not accept the login: {msgs[0]!r}")
        sock.sendall(b"Q" + struct.pack("!I", 4 + len(query)) + query)
        msgs = pg_messages(sock, b"Z")
        if any(t == b"E" for t, _ in msgs):
            raise RuntimeError(f"postgres failed the query: {msgs!r}")
        sock.sendall(b"X\0\0\0\4")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    back_port = None

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        echo = self.headers.get("X-Session-Echo")
        if echo:
            # A cookie the test knows, set in the response.
            self.send_header("Set-Cookie", f"sid={echo}; HttpOnly")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        if self.back_port is None:
            self.answer(200, f"back {parts[-1]}".encode())
            return
        kind, n = parts[0], parts[-1]
        call_children(self.back_port, kind, n)
        if REDIS_PORT:
            call_redis(REDIS_PORT, n)
        if PG_PORT:
            call_pg(PG_PORT, n)
        if kind == "slow":
            time.sleep(SLOW_S)
        status = {"error": 500, "missing": 404}.get(kind, 200)
        self.answer(status, f"{kind} {n}".encode())

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.do_GET()


def main():
    global SLOW_S, REDIS_PORT, PG_PORT, CLIENT_TLS
    args = sys.argv[1:]
    server_tls = None
    if args[0] == "--tls":
        cert, key, ca = args[1:4]
        args = args[4:]
        server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_tls.load_cert_chain(cert, key)
        CLIENT_TLS = ssl.create_default_context(cafile=ca)
    if args[0] == "front":
        Handler.back_port = int(args[1])
        for arg in args[2:]:
            if arg.startswith("redis="):
                REDIS_PORT = int(arg[6:])
            elif arg.startswith("pg="):
                PG_PORT = int(arg[3:])
            else:
                SLOW_S = float(arg)
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if server_tls:
        # The handshake in the serving thread, at its first read: not in accept().
        server.socket = server_tls.wrap_socket(server.socket, server_side=True,
                                               do_handshake_on_connect=False)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
