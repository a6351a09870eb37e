#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_http1 (selftests/fuzz/corpus/http1/).

Each seed is one connection in fuzz_http1.c's input layout: a setup header,
controls (direction, mode, length of each read or write), then the bytes.
Run from anywhere; rewrites the seeds in place.
"""
import os

RX, TX = 0, 1
ONE, REPEAT, REPEAT_IN_ONE, SENDFILE = 0, 1, 2, 3
ADOPTED, CLIENT, SERVER = 0, 1, 2
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "http1")


def seed(role, pieces, poison=None, fault=None):
    """pieces: (dir, bytes, mode, r) with at most 255-byte writes; longer bytes are cut."""
    ctl = bytearray()
    payload = bytearray()
    for d, data, mode, r in pieces:
        if mode == SENDFILE:
            ctl += bytes([d << 7 | mode << 5 | r, len(data)])
            continue
        for i in range(0, len(data), 255):
            part = data[i:i + 255]
            ctl += bytes([d << 7 | mode << 5 | r, len(part)])
            payload += part
    assert len(ctl) // 2 <= 32, "at most 32 controls"
    setup = role
    pattern = b"\0" * 8
    fault_at = 0
    if poison is not None:
        setup |= 4
        pattern = poison
    if fault is not None:
        ctl_index, fault_at = fault
        setup |= 8 | ctl_index << 4
    return bytes([setup, fault_at]) + pattern + bytes([len(ctl) // 2]) + bytes(ctl) + bytes(payload)


def w(d, data, mode=ONE, r=0):
    return (d, data.encode("latin-1") if isinstance(data, str) else data, mode, r)


SEEDS = {
    "keepalive-server": seed(SERVER, [
        w(RX, "GET /users/123 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"),
        w(TX, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"),
        w(RX, "POST /orders HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\n"),
        w(RX, '{"a":12345}'),
        w(TX, "HTTP/1.1 201 Created\r\nLocation: /orders/9\r\nContent-Length: 0\r\n\r\n"),
    ]),
    "chunked-client": seed(CLIENT, [
        w(TX, "GET /wiki/550e8400-e29b-41d4-a716-446655440000?x=1 HTTP/1.1\r\nHost: w\r\n\r\n"),
        w(RX, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nwi"),
        w(RX, "ki\r\n5;ext=\"q\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n"),
        w(RX, "\r\n"),
    ]),
    "pipelined-server": seed(SERVER, [
        w(RX, "GET /p/1 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /p/2 HTTP/1.1\r\nHost: a\r\n\r\n"
              "PUT /p/3 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcde"),
        w(TX, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
              "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
              "HTTP/1.1 204 No Content\r\n\r\n"),
    ]),
    "adopted": seed(ADOPTED, [
        w(RX, "the rest of a request body that started before the agent did\r\n"),
        w(TX, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        w(RX, "DELETE /items/abcd1234 HTTP/1.1\r\nHost: a\r\n\r\n"),
        w(TX, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"),
    ]),
    "continue-upgrade": seed(SERVER, [
        w(RX, "POST /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"),
        w(TX, "HTTP/1.1 100 Continue\r\n\r\n"),
        w(RX, "body"),
        w(TX, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        w(RX, "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
        w(TX, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi"),
        w(RX, b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
    ]),
    "close-delimited": seed(CLIENT, [
        w(TX, "GET /stream HTTP/1.0\r\nHost: a\r\n\r\n"),
        w(RX, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body that runs until close"),
    ]),
    "head-304-sendfile": seed(SERVER, [
        w(RX, "HEAD /big HTTP/1.1\r\nHost: a\r\n\r\n"),
        w(TX, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"),
        w(RX, "GET /etag HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n"),
        w(TX, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"),
        w(RX, "GET /file HTTP/1.1\r\nHost: a\r\n\r\n"),
        w(TX, "HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n"),
        w(TX, "x" * 199, SENDFILE, 1),
    ]),
    "header-too-long": seed(SERVER, [
        w(RX, "GET /big HTTP/1.1\r\n"),
        w(RX, "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n", REPEAT, 24),
        w(RX, "\r\n"),
        w(TX, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n"),
    ]),
    "fifo-full": seed(CLIENT, [
        w(TX, "GET /p HTTP/1.1\r\nHost: a\r\n\r\n", REPEAT_IN_ONE, 4),
        w(RX, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", REPEAT_IN_ONE, 4),
    ]),
    "poisoned": seed(CLIENT, [
        w(TX, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        w(RX, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ], poison=b" 200\r\n:\n"),
    "read-fault": seed(SERVER, [
        w(RX, "GET /faulty HTTP/1.1\r\nHost: a\r\nX-Long: " + "b" * 300 + "\r\n\r\n"),
        w(TX, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        w(RX, "GET /fine HTTP/1.1\r\nHost: a\r\n\r\n"),
        w(TX, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ], fault=(1, 128)),
}


def main():
    os.makedirs(HERE, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {HERE}")


if __name__ == "__main__":
    main()
