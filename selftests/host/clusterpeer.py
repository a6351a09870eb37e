#!/usr/bin/python3
"""Traffic for the cluster tests, as programs the tests start.

    clusterpeer.py serve HOST      HTTP/1.1 keep-alive server on HOST, an ephemeral
                                   port; prints "PORT <n>"; GET /ok -> 200, /fail -> 500
    clusterpeer.py client CGROUP HOST PORT N PATH
                                   joins the cgroup v2 directory CGROUP (writes its pid to
                                   cgroup.procs), then sends N GETs on one connection,
                                   stays LINGER_S more; prints "DONE <n> <statuses>" and exits 0
"""

import http.client
import http.server
import os
import sys
import time

LINGER_S = 2.5


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        status = 500 if self.path.startswith("/fail") else 200
        body = b"ok\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(host):
    srv = http.server.ThreadingHTTPServer((host, 0), Handler)
    print(f"PORT {srv.server_address[1]}", flush=True)
    srv.serve_forever()


def client(cgroup, host, port, n, path):
    with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    conn = http.client.HTTPConnection(host, int(port))
    statuses = {}
    for _ in range(int(n)):
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        statuses[resp.status] = statuses.get(resp.status, 0) + 1
    conn.close()
    # Stay until the agent's next drain has read /proc/PID: a process gone
    # before that is named by its comm only.
    time.sleep(LINGER_S)
    print(f"DONE {n} {sorted(statuses.items())}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        client(*sys.argv[2:7])
