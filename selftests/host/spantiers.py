#!/usr/bin/python3
"""The front and back tiers of the span tests: real HTTP/1.1 services.

    spantiers.py back              GET /back/<n>: 200 "back <n>"
    spantiers.py front BACK_PORT [SLOW_S]   per request, from the serving thread, calls
                                   the back tier (a new connection each time),
                                   then answers:
        /front/<n>       200
        /slow/<n>        200 after SLOW_S seconds (0.15 by default)
        /error/<n>       500
        /missing/<n>     404
        /thread/<n>      the back call is made by a new thread (joined)
        /fork/<n>        the back call is made by a child process (waited for)
        POST any of them reads the request body first
A request header X-Session-Echo: V makes the answer set the cookie sid=V.

Prints "PORT <port>" once listening. More children (Redis, PostgreSQL) can
be added to call_children() once their protocols are parsed.
"""

import http.client
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_S = 0.15


def call_back(port, n):
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
        if kind == "slow":
            time.sleep(SLOW_S)
        status = {"error": 500, "missing": 404}.get(kind, 200)
        self.answer(status, f"{kind} {n}".encode())

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.do_GET()


def main():
    global SLOW_S
    if sys.argv[1] == "front":
        Handler.back_port = int(sys.argv[2])
        if len(sys.argv) > 3:
            SLOW_S = float(sys.argv[3])
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
