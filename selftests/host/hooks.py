"""The capture's hook flavours on the running kernel, from `kerno hooks`."""

import os
import re
import subprocess

from asserts import FATAL

# Each flavour's programs, as `kerno verifier-report` names them.
PROGRAMS = {
    "sock": ("kerno_sock_send", "kerno_sock_recv", "kerno_sock_state", "kerno_span_fork",
             "kerno_parse_sock_tx"),
    "fexit": ("kerno_tcp_sendmsg", "kerno_tcp_recvmsg", "kerno_sock_state", "kerno_span_fork",
              "kerno_udp_sendmsg", "kerno_udpv6_sendmsg", "kerno_udp_recvmsg",
              "kerno_udpv6_recvmsg", "kerno_parse_tcp_tx"),
    "sys_exit": ("kerno_sys_exit", "kerno_sock_state", "kerno_span_fork"),
    "raw_tp": ("kerno_sys_exit_raw", "kerno_sock_state_raw", "kerno_span_fork"),
}


# The receive hook's own parser program, where its prototype differs from the send hook's
# (kern/capture.bpf.c, "One parser per hook"): (send hook, receive hook, is a tracepoint).
RX_PARSERS = {
    "sock": ("kerno_parse_sock_rx", "sock_send_length", "sock_recv_length", True),
    "fexit": ("kerno_parse_tcp_rx", "tcp_sendmsg", "tcp_recvmsg", False),
}

# The TLS programs (kern/tls.bpf.c), loaded on each flavour's maps.
TLS_PROGRAMS = ("kerno_ssl_read", "kerno_ssl_write", "kerno_ssl_read_ex", "kerno_ssl_write_ex",
                "kerno_ssl_handshake", "kerno_ssl_ret", "kerno_go_tls_read", "kerno_go_tls_write",
                "kerno_go_tls_ret", "kerno_go_tls_handshake", "kerno_exec", "kerno_tls_parse")


def tls_programs(flavour):
    """The TLS programs `kerno verifier-report` lists for a flavour on this kernel:
    raw tracepoints for raw_tp, the parser's legacy twin before 5.12."""
    progs = []
    for p in TLS_PROGRAMS:
        if p == "kerno_exec" and flavour == "raw_tp":
            p = "kerno_exec_raw"
        elif _release() < (5, 12) and p == "kerno_tls_parse":
            p += "_legacy"
        progs.append(p)
    return tuple(progs)


def _release():
    major, minor = os.uname().release.split(".")[:2]
    return int(major), int(minor)


def programs(flavour):
    """The programs `kerno verifier-report` lists for a flavour on this kernel:
    before 5.12 the syscall flavours load their legacy twins."""
    if _release() < (5, 12) and flavour in ("sys_exit", "raw_tp"):
        return tuple(p + "_legacy" if "sys_exit" in p else p for p in PROGRAMS[flavour])
    if flavour in RX_PARSERS:
        prog, tx, rx, tracepoint = RX_PARSERS[flavour]
        if _hook_proto(tx, tracepoint) != _hook_proto(rx, tracepoint):
            return PROGRAMS[flavour] + (prog,)
    return PROGRAMS[flavour]


def _btf_raw():
    res = subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"],
                         capture_output=True, text=True, timeout=60)
    return res.stdout


def _hook_proto(name, tracepoint):
    """The BTF id of the prototype of a function, or of a tracepoint (its btf_trace_ typedef's
    target), as bpftool prints it: the kernel lets tracing programs tail-call one another only
    when theirs agree."""
    types = {}
    for line in _btf_raw().splitlines():
        m = re.match(r"\[(\d+)\] (\w+) '([^']*)' type_id=(\d+)", line)
        if m:
            types[(m.group(2), m.group(3))] = int(m.group(4))
            types[("#", m.group(1))] = int(m.group(4))
    if tracepoint:
        ptr = types.get(("TYPEDEF", "btf_trace_" + name))
        return types.get(("#", str(ptr))) if ptr else None
    return types.get(("FUNC", name))


def listing(kerno, *args):
    """[(flavour, available, chosen)] in the agent's order of preference."""
    res = subprocess.run([kerno, "hooks", *args], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        FATAL(f"kerno hooks failed ({res.returncode}): {res.stderr.strip()}")
    rows = []
    for line in res.stdout.splitlines():
        name, state = line.split(None, 1)
        rows.append((name, state.startswith("available"), state.endswith("chosen")))
    return rows


def available(kerno):
    """Flavours this kernel can attach, best first."""
    return [name for name, ok, _ in listing(kerno) if ok]


def has_function(name):
    """Does the running kernel's BTF have this function?"""
    res = subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"],
                         capture_output=True, text=True, timeout=60)
    return f"FUNC '{name}'" in res.stdout
