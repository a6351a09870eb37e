#!/usr/bin/python3
"""A scripted cloud end for the uplink tests: a WebSocket server over TLS
(python3-websockets 10.4) speaking docs/uplink.md, with misbehaviours in
the manner of Autobahn's client test cases.

    wsserver.py --cert C --key K --port-file F --log L --events E
                [--port N] [--mode MODE] [--deflate on|off|nocontext] [--token T]

Like a real server it keeps what it received: --log gets every envelope it
accepted, one line each, written before the ack goes out, so a server
killed and restarted on the same files resumes where it was (its first
message on every connection is an ack of the last seq it holds). --events
gets one JSON line per happening (connect, envelope, duplicate, close...)
for the test to check.

Modes apply to the first connection only; later ones are normal, so the
agent's recovery is tested too:
  normal      acks every envelope
  fragments   every ack is sent in 3 fragments with a ping between each
  close:CODE  closes with CODE after the first envelope
  badclose    sends a close frame with the invalid code 999
  utf8        sends a text message that is not UTF-8
  oversize    sends a 100000-byte text message
  binary      sends a binary message
  badaccept   answers the upgrade with a wrong Sec-WebSocket-Accept (raw)
  neverclose  takes envelopes without acking them and never answers the
              agent's close frame (raw, every connection)
  slowclose   acks every envelope but answers the agent's close frame
              only after 1.5 s (raw, every connection)
  deaf        like neverclose, and answers no ping either (raw, every
              connection)
  stuckfail   sends a binary message, then reads on and never ends the TCP
              stream, answering nothing (raw, first connection); later
              connections ack every envelope and answer the close at once
"""

import argparse
import asyncio
import base64
import hashlib
import http
import json
import os
import ssl
import struct
import sys

import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT

SUBPROTOCOL = "kerno-uplink.v1"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Store:
    """The received envelopes (the durable log) and the event file."""

    def __init__(self, log_path, events_path):
        self.log_path = log_path
        self.events = open(events_path, "a", buffering=1)
        self.last = {}
        if os.path.exists(log_path):
            with open(log_path) as f:
                for line in f:
                    env = json.loads(line)
                    stream = env["_stream"]
                    self.last[stream] = max(self.last.get(stream, 0), env["seq"])
        self.log = open(log_path, "a", buffering=1)

    def event(self, **kw):
        self.events.write(json.dumps(kw) + "\n")

    def accept(self, stream, text):
        """Store an envelope; returns the seq to ack."""
        env = json.loads(text)
        seq = env["seq"]
        last = self.last.get(stream, 0)
        if seq <= last:
            self.event(ev="duplicate", seq=seq, last=last)
            return last
        if seq != last + 1:
            self.event(ev="gap", seq=seq, last=last)
        env["_stream"] = stream
        self.log.write(json.dumps(env) + "\n")
        self.log.flush()
        self.last[stream] = seq
        self.event(ev="envelope", seq=seq, type=env["type"], bytes=len(text))
        return seq


def ack(seq):
    return json.dumps({"v": 1, "type": "ack", "seq": seq})


class Server:
    def __init__(self, args):
        self.args = args
        self.store = Store(args.log, args.events)
        self.connections = 0

    async def send_ack(self, ws, seq, scripted):
        if not (scripted and self.args.mode == "fragments"):
            await ws.send(ack(seq))
            return
        text = ack(seq).encode()
        parts = [text[:5], text[5:12], text[12:]]
        await ws.write_frame(False, OP_TEXT, parts[0])
        waiters = [await ws.ping(b"p1")]
        await ws.write_frame(False, OP_CONT, parts[1])
        waiters.append(await ws.ping(b"p2"))
        await ws.write_frame(True, OP_CONT, parts[2])
        try:
            await asyncio.wait_for(asyncio.gather(*waiters), 5)
            self.store.event(ev="pongs", count=len(waiters))
        except asyncio.TimeoutError:
            self.store.event(ev="pongs", count=0)

    async def misbehave(self, ws):
        mode = self.args.mode
        if mode == "badclose":
            await ws.write_frame(True, OP_CLOSE, struct.pack("!H", 999))
        elif mode == "utf8":
            await ws.write_frame(True, OP_TEXT, b"{\"type\":\"ack\xff\xfe\"}")
        elif mode == "oversize":
            await ws.send("x" * 100000)
        elif mode == "binary":
            await ws.write_frame(True, OP_BINARY, b"\x01\x02")

    async def handler(self, ws, path):
        self.connections += 1
        n = self.connections  # this connection's number: others may start meanwhile
        scripted = n == 1
        stream = ws.request_headers.get("Kerno-Stream", "")
        last = self.store.last.get(stream, 0)
        self.store.event(ev="connect", n=n, stream=stream, resume=last,
                         extensions=ws.response_headers.get("Sec-WebSocket-Extensions", ""),
                         client_extensions=ws.request_headers.get("Sec-WebSocket-Extensions", ""),
                         subprotocol=ws.subprotocol, peer=list(ws.remote_address[:2]))
        try:
            await self.send_ack(ws, last, scripted)
            if scripted and self.args.mode in ("badclose", "utf8", "oversize", "binary"):
                await self.misbehave(ws)
            async for text in ws:
                if not isinstance(text, str):
                    self.store.event(ev="binary_from_agent")
                    continue
                seq = self.store.accept(stream, text)
                await self.send_ack(ws, seq, scripted)
                if scripted and self.args.mode.startswith("close:"):
                    await ws.close(int(self.args.mode[6:]), "scripted")
                    break
        except websockets.ConnectionClosed:
            pass
        await ws.wait_closed()
        self.store.event(ev="closed", n=n, code=ws.close_code,
                         reason=ws.close_reason)

    async def process_request(self, path, headers):
        if self.args.token is None:
            return None
        if headers.get("Authorization") != "Bearer " + self.args.token:
            self.store.event(ev="unauthorized", auth=headers.get("Authorization", ""))
            return (http.HTTPStatus.UNAUTHORIZED, [("Content-Type", "text/plain")], b"bad token\n")
        return None

    def extensions(self):
        if self.args.deflate == "off":
            return []
        no_ctx = self.args.deflate == "nocontext"
        return [ServerPerMessageDeflateFactory(server_no_context_takeover=no_ctx,
                                               client_no_context_takeover=no_ctx)]

    async def serve(self, tls):
        async with websockets.serve(self.handler, "127.0.0.1", self.args.port, ssl=tls,
                                    compression=None, extensions=self.extensions(),
                                    subprotocols=[SUBPROTOCOL],
                                    process_request=self.process_request,
                                    ping_interval=None, max_size=256 << 20,
                                    close_timeout=5) as server:
            write_port(self.args.port_file, server.sockets[0].getsockname()[1])
            await asyncio.Future()


class RawServer:
    """The modes a WebSocket library will not produce, written by hand."""

    def __init__(self, args):
        self.args = args
        self.store = Store(args.log, args.events)
        self.connections = 0

    async def read_head(self, reader):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                fields[name.strip().lower()] = value.strip()
        return fields

    async def read_frame(self, reader):
        b0, b1 = await reader.readexactly(2)
        length = b1 & 0x7F
        if length == 126:
            length = struct.unpack("!H", await reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await reader.readexactly(8))[0]
        mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
        data = bytearray(await reader.readexactly(length))
        for i in range(length):
            data[i] ^= mask[i % 4]
        return b0 & 0x0F, bytes(data), bool(b1 & 0x80)

    async def handle(self, reader, writer):
        fields = await self.read_head(reader)
        key = fields.get("sec-websocket-key", "")
        good = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        accept = good if self.args.mode != "badaccept" else base64.b64encode(b"x" * 20).decode()
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Protocol: " + SUBPROTOCOL + "\r\n"
                      "Sec-WebSocket-Accept: " + accept + "\r\n\r\n").encode())
        stream = fields.get("kerno-stream", "")
        self.connections += 1
        n = self.connections
        self.store.event(ev="connect", n=n, stream=stream, raw=self.args.mode)
        if self.args.mode != "badaccept":
            self.send_ack(writer, self.store.last.get(stream, 0))
        stuck = self.args.mode == "stuckfail" and n == 1
        if stuck:
            self.send_frame(writer, OP_BINARY, b"\x01\x02")
        await writer.drain()
        await self.read_until_eof(reader, writer, stream, stuck)
        writer.close()

    @staticmethod
    def send_frame(writer, opcode, payload):
        """One unfragmented, unmasked frame of under 126 bytes, as a server sends it."""
        writer.write(bytes([0x80 | opcode, len(payload)]) + payload)

    def send_ack(self, writer, seq):
        self.send_frame(writer, OP_TEXT, ack(seq).encode())

    async def read_until_eof(self, reader, writer, stream, stuck=False):
        """Takes envelopes (acked in slowclose mode and stuckfail's later
        connections only) and answers pings (but in deaf mode and on a stuck
        connection); the close is answered late (slowclose), at once
        (stuckfail's later connections) or never."""
        mode = self.args.mode
        acking = mode == "slowclose" or (mode == "stuckfail" and not stuck)
        after = 0
        loop = asyncio.get_running_loop()
        close_at = None
        try:
            while True:
                opcode, data, masked = await self.read_frame(reader)
                after += 1
                if opcode == OP_TEXT and acking:
                    self.send_ack(writer, self.store.accept(stream, data.decode()))
                elif opcode == OP_TEXT:
                    self.store.event(ev="unacked", seq=json.loads(data)["seq"], masked=masked)
                elif opcode == OP_PING:
                    self.store.event(ev="ping")
                    if mode != "deaf" and not stuck:
                        self.send_frame(writer, OP_PONG, data)
                elif opcode == OP_CLOSE:
                    close_at = loop.time()
                    code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                    self.store.event(ev="close_frame", code=code, masked=masked)
                    if mode == "slowclose":
                        await asyncio.sleep(1.5)
                    if acking:
                        self.send_frame(writer, OP_CLOSE, data)
                        self.store.event(ev="close_answered")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        self.store.event(ev="eof", frames=after,
                         after_close_s=None if close_at is None else loop.time() - close_at)

    async def serve(self, tls):
        server = await asyncio.start_server(self.handle, "127.0.0.1", self.args.port, ssl=tls,
                                            reuse_address=True)
        write_port(self.args.port_file, server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()


def write_port(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--events", required=True)
    parser.add_argument("--mode", default="normal")
    parser.add_argument("--deflate", default="on", choices=("on", "off", "nocontext"))
    parser.add_argument("--token")
    args = parser.parse_args()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)
    raw = ("badaccept", "neverclose", "slowclose", "deaf", "stuckfail")
    server = RawServer(args) if args.mode in raw else Server(args)
    asyncio.run(server.serve(tls))


if __name__ == "__main__":
    sys.exit(main())
