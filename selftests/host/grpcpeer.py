"""gRPC peers for the HTTP/2 tests, with Debian's python3-grpcio and no generated code
(raw bytes in and out).

    grpcpeer.py serve                 serves kerno.test.Echo on 127.0.0.1, an ephemeral port;
                                      prints "PORT <n>", then serves until killed.
    grpcpeer.py call PORT N ERRORS [traced]
                                      N unary calls of Echo/Get, the last ERRORS of them for a
                                      missing key (NOT_FOUND), then one server-streaming call
                                      of Echo/Watch; prints "<method> <code> <count>" lines.
                                      traced: each failing call carries a traceparent, of
                                      traceparent(i) for the i-th call.

Echo/Get answers its request, or NOT_FOUND for b"missing"; Echo/Watch streams five
messages and ends OK.
"""

import sys
from concurrent import futures

import grpc

SERVICE = "kerno.test.Echo"
WATCH_MESSAGES = 5


def _get(request, context):
    if request == b"missing":
        context.abort(grpc.StatusCode.NOT_FOUND, "no such key")
    return request


def _watch(request, context):
    for i in range(WATCH_MESSAGES):
        yield request + str(i).encode()


def traceparent(i):
    """An instrumented caller's header for call i: trace id and span id of its own."""
    return f"00-{0x5eed0000 + i:032x}-{0xca11 + i:016x}-01"


def serve():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handlers = {
        "Get": grpc.unary_unary_rpc_method_handler(_get),
        "Watch": grpc.unary_stream_rpc_method_handler(_watch),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"PORT {port}", flush=True)
    server.wait_for_termination()


def call(port, n, errors, traced=False):
    counts = {}
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        get = channel.unary_unary(f"/{SERVICE}/Get")
        watch = channel.unary_stream(f"/{SERVICE}/Watch")
        for i in range(n):
            failing = i >= n - errors
            key = b"missing" if failing else b"key%d" % i
            metadata = (("traceparent", traceparent(i)),) if failing and traced else None
            try:
                get(key, timeout=30, metadata=metadata)
                code = "OK"
            except grpc.RpcError as e:
                code = e.code().name
            counts[("Get", code)] = counts.get(("Get", code), 0) + 1
        got = list(watch(b"w", timeout=30))
        code = "OK" if len(got) == WATCH_MESSAGES else "SHORT"
        counts[("Watch", code)] = 1
    for (method, code), c in sorted(counts.items()):
        print(method, code, c)


def main():
    if sys.argv[1] == "serve":
        serve()
    elif sys.argv[1] == "call":
        call(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
             len(sys.argv) > 5 and sys.argv[5] == "traced")
    else:
        sys.exit(f"usage: {sys.argv[0]} serve | call PORT N ERRORS [traced]")


if __name__ == "__main__":
    main()
