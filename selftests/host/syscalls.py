"""HTTP/1.1 exchanges carried by each family of data syscalls.

The capture must follow a byte stream whichever syscall moves it: each
variant here sends its requests and reads its responses with one pair of
calls (read/write, readv/writev, recv/send, recvmsg/sendmsg, the mmsg pair
through ctypes, recv with MSG_PEEK before the real read, and sendfile for
the request).
"""

import ctypes
import os
import socket
import struct
import tempfile

import httpclient

_libc = ctypes.CDLL(None, use_errno=True)
MSG_WAITFORONE = 0x10000


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("msg_name", ctypes.c_void_p), ("msg_namelen", ctypes.c_uint32),
                ("msg_iov", ctypes.POINTER(_Iovec)), ("msg_iovlen", ctypes.c_size_t),
                ("msg_control", ctypes.c_void_p), ("msg_controllen", ctypes.c_size_t),
                ("msg_flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint32)]


def _response_done(buf):
    """Length of the first complete response in buf (Content-Length framing), or 0."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return 0
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    total = end + 4 + length
    return total if len(buf) >= total else 0


def _read_responses(recv_some, count):
    """Calls recv_some() until `count` responses arrived; returns their statuses."""
    buf, statuses = b"", []
    while len(statuses) < count:
        data = recv_some()
        if not data:
            raise ConnectionError("server closed the connection")
        buf += data
        while (n := _response_done(buf)):
            statuses.append(int(buf.split(b" ", 2)[1]))
            buf = buf[n:]
    return statuses


def _mmsg_vector(buffers):
    """An mmsghdr array with one single-iovec message per buffer."""
    vec = (_Mmsghdr * len(buffers))()
    keep = []
    for i, b in enumerate(buffers):
        iov = _Iovec(ctypes.cast(b, ctypes.c_void_p), len(b))
        keep.append(iov)
        vec[i].msg_hdr.msg_iov = ctypes.pointer(iov)
        vec[i].msg_hdr.msg_iovlen = 1
    return vec, keep


def _sendmmsg(fd, payloads):
    bufs = [ctypes.create_string_buffer(p, len(p)) for p in payloads]
    vec, _keep = _mmsg_vector(bufs)
    n = _libc.sendmmsg(fd, vec, len(payloads), 0)
    if n != len(payloads) or any(vec[i].msg_len != len(p) for i, p in enumerate(payloads)):
        raise OSError(ctypes.get_errno(), "sendmmsg sent less than asked")


def _recvmmsg_some(fd):
    """One recvmmsg of up to 3 messages (MSG_WAITFORONE: block for the first)."""
    bufs = [ctypes.create_string_buffer(40) for _ in range(3)]
    vec, _keep = _mmsg_vector(bufs)
    n = _libc.recvmmsg(fd, vec, 3, MSG_WAITFORONE, None)
    if n < 0:
        raise OSError(ctypes.get_errno(), "recvmmsg")
    return b"".join(bufs[i].raw[:vec[i].msg_len] for i in range(n))


def exchange(variant, port, path, count=2):
    """`count` GETs of path on one connection, carried by `variant`'s calls;
    returns the statuses received."""
    req = httpclient.request_bytes("GET", path)
    with httpclient.connect(port) as sock:
        # Blocking calls on the fd itself, bounded by the kernel's own timeout.
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                        struct.pack("ll", httpclient.TIMEOUT_S, 0))
        fd = sock.fileno()
        statuses = []
        for _ in range(count if variant != "mmsg" else count // 2):
            statuses += _one_round(variant, sock, fd, req)
        return statuses


def _one_round(variant, sock, fd, req):
    if variant == "read_write":
        os.write(fd, req)
        return _read_responses(lambda: os.read(fd, 50), 1)
    if variant == "readv_writev":
        os.writev(fd, [req[:5], req[5:23], req[23:]])
        a, b = bytearray(17), bytearray(60)

        def readv():
            n = os.readv(fd, [a, b])
            return (bytes(a) + bytes(b))[:n]
        return _read_responses(readv, 1)
    if variant == "send_recv":
        sock.sendall(req)
        return _read_responses(lambda: sock.recv(64), 1)
    if variant == "sendmsg_recvmsg":
        sock.sendmsg([req[:9], req[9:]])
        a, b = bytearray(23), bytearray(40)

        def recvmsg():
            n = sock.recvmsg_into([a, b])[0]
            return (bytes(a) + bytes(b))[:n]
        return _read_responses(recvmsg, 1)
    if variant == "mmsg":
        # Two requests, one message each; responses read three messages at a time.
        _sendmmsg(fd, [req, req])
        return _read_responses(lambda: _recvmmsg_some(fd), 2)
    if variant == "peek":
        sock.sendall(req)

        def peek_then_read():
            sock.recv(64, socket.MSG_PEEK)
            return sock.recv(64)
        return _read_responses(peek_then_read, 1)
    if variant == "sendfile":
        with tempfile.TemporaryFile() as f:
            f.write(req)
            f.flush()
            os.sendfile(fd, f.fileno(), 0, len(req))
        return _read_responses(lambda: sock.recv(4096), 1)
    raise ValueError(variant)


VARIANTS = ("read_write", "readv_writev", "send_recv", "sendmsg_recvmsg", "mmsg", "peek", "sendfile")
