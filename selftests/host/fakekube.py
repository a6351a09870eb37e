"""A loopback stand-in for the Kubernetes API server, over TLS with the test's
CA: lists (paged with limit/continue) and watch streams (chunked, one event a
line) built from the recorded response shapes in fixtures/k8s/, scripted per
resource: bookmarks, a dropped connection, 410 Gone as an ERROR event or as
the HTTP status. Every request is recorded for the test to check."""

import base64
import json
import os
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "k8s")
TOKEN = "kube-token-for-tests-0123456789"

PATHS = {
    "/api/v1/pods": "pods", "/apis/apps/v1/replicasets": "replicasets",
    "/apis/apps/v1/deployments": "deployments", "/apis/apps/v1/statefulsets": "statefulsets",
    "/apis/apps/v1/daemonsets": "daemonsets", "/apis/batch/v1/jobs": "jobs",
    "/apis/batch/v1/cronjobs": "cronjobs", "/api/v1/services": "services",
    "/api/v1/nodes": "nodes", "/api/v1/namespaces": "namespaces", "/api/v1/events": "events",
}

GONE_STATUS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "too old resource version: 1000 (1200)", "reason": "Expired",
               "code": 410}


def load(name, subs):
    with open(os.path.join(FIXTURES, name)) as f:
        text = f.read()
    for k, v in subs.items():
        text = text.replace("${" + k + "}", v)
    return text


class FakeKube:
    """lists: resource -> [fixture file per successive list] (the last repeats;
    default "<resource>.json"). watches: resource -> [scene per successive watch],
    a scene being {"file": ndjson fixture or None, "end": "drop"|"close"|"gone"|"hold"}
    ("gone": HTTP 410 before any event). Past the script, watches hold."""

    def __init__(self, cleanup, pki, subs, lists=None, watches=None, page_size=2):
        self.subs = subs
        # A real API server may return fewer items than `limit` asks, with a continue
        # token: small pages make every list here take the paging path.
        self.page_size = page_size
        self.lists = lists or {}
        self.watches = watches or {}
        self.requests = []  # (resource, "list"|"watch", query dict)
        self.lock = threading.Lock()
        self.stopping = False
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.cert, pki.key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        cleanup.callback(self.stop)
        self.kubeconfig = os.path.join(pki.dir, "kubeconfig")
        with open(pki.ca, "rb") as f:
            ca_data = base64.b64encode(f.read()).decode()
        with open(self.kubeconfig, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: {ca_data}
    server: https://127.0.0.1:{self.port}
  name: fake
contexts:
- context:
    cluster: fake
    namespace: default
    user: tester
  name: fake
current-context: fake
preferences: {{}}
users:
- name: tester
  user:
    token: {TOKEN}
""")

    def stop(self):
        self.stopping = True
        self.httpd.shutdown()
        self.httpd.server_close()

    def count(self, resource, what):
        with self.lock:
            return sum(1 for r, w, _ in self.requests if r == resource and w == what)

    def queries(self, resource, what):
        with self.lock:
            return [q for r, w, q in self.requests if r == resource and w == what]

    def _next(self, resource, what):
        """Index of this request among its kind (0 for the first)."""
        with self.lock:
            return sum(1 for r, w, _ in self.requests if r == resource and w == what) - 1

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send_json(self, status, obj):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                resource = PATHS.get(url.path)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send_json(401, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                          "status": "Failure", "message": "Unauthorized",
                                          "reason": "Unauthorized", "code": 401})
                    return
                if not resource:
                    self._send_json(404, {"kind": "Status", "code": 404})
                    return
                what = "watch" if query.get("watch") in ("1", "true") else "list"
                with fake.lock:
                    fake.requests.append((resource, what, query))
                if what == "list":
                    self._list(resource, query)
                else:
                    self._watch(resource, query)

            def _list(self, resource, query):
                default = "events-list-1.json" if resource == "events" else f"{resource}.json"
                files = fake.lists.get(resource, [default])
                with fake.lock:  # which list this page belongs to: pages share their list's file
                    n = sum(1 for r, w, q in fake.requests
                            if r == resource and w == "list" and not q.get("continue")) - 1
                doc = json.loads(load(files[min(n, len(files) - 1)], fake.subs))
                sel = query.get("fieldSelector", "")
                if sel.startswith("spec.nodeName="):
                    node = sel.split("=", 1)[1]
                    doc["items"] = [i for i in doc["items"] if i["spec"].get("nodeName") == node]
                limit = min(int(query.get("limit", "0") or 0) or fake.page_size, fake.page_size)
                start = int(query.get("continue", "0") or 0)
                if limit and start + limit < len(doc["items"]):
                    doc["metadata"]["continue"] = str(start + limit)
                    doc["metadata"]["remainingItemCount"] = len(doc["items"]) - start - limit
                doc["items"] = doc["items"][start:start + limit] if limit else doc["items"]
                self._send_json(200, doc)

            def _chunk(self, data):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _watch(self, resource, query):
                scenes = fake.watches.get(resource, [])
                n = fake._next(resource, "watch")
                scene = scenes[n] if n < len(scenes) else {"file": None, "end": "hold"}
                if scene["end"] == "gone":
                    self._send_json(410, GONE_STATUS)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if scene.get("file"):
                    for line in load(scene["file"], fake.subs).splitlines():
                        self._chunk(line.encode() + b"\n")
                if scene["end"] == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if scene["end"] == "hold":
                    deadline = time.monotonic() + int(query.get("timeoutSeconds", "300"))
                    while not fake.stopping and time.monotonic() < deadline:
                        time.sleep(0.1)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        return Handler
