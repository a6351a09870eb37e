"""TLS with no socket under it: a client and a server SSLObject in one
process, joined by memory BIOs (as QUIC stacks, proxies and test harnesses
use TLS). Usage: tlsmembio.py CA CERT KEY N: handshake, then N messages each
way, each one SSL_write_ex and one SSL_read_ex call with data; prints
"calls C", the plaintext calls made (4 N)."""

import ssl
import sys


def pump(src, dst):
    """Moves what src's TLS produced to dst's input."""
    data = src.outgoing.read()
    if data:
        dst.incoming.write(data)
    return bool(data)


class End:
    def __init__(self, ctx, server):
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=server,
                                server_hostname=None if server else "127.0.0.1")


def handshake(client, server):
    done = {id(client): False, id(server): False}
    while not all(done.values()):
        for end in (client, server):
            if done[id(end)]:
                continue
            try:
                end.obj.do_handshake()
                done[id(end)] = True
            except ssl.SSLWantReadError:
                pass
        moved = pump(client, server) | pump(server, client)
        if not moved and not all(done.values()):
            raise RuntimeError("handshake stalled")


def send(src, dst, payload):
    if src.obj.write(payload) != len(payload):
        raise RuntimeError("short write")
    pump(src, dst)
    got = dst.obj.read(len(payload))
    if got != payload:
        raise RuntimeError(f"read {got!r}, wrote {payload!r}")


def main():
    ca, cert, key, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.load_verify_locations(ca)
    client, server = End(client_ctx, False), End(server_ctx, True)
    handshake(client, server)
    for i in range(n):
        send(client, server, b"GET /%d HTTP/1.1\r\n\r\n" % i)
        send(server, client, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    print(f"calls {4 * n}", flush=True)


if __name__ == "__main__":
    main()
