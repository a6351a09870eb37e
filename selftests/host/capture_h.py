"""Counter names from kern/capture.h, so tests follow the kernel's enum.

The agent reports `kerno.capture.drops` with reason = the snake_case name of
a KERNO_DROP_* constant without its prefix, and `kerno.capture.connections`
with event = the same for KERNO_EV_*. The pinned `counters` array is indexed
by the enum's values.
"""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURE_H = os.path.join(HERE, "..", "..", "kern", "capture.h")


def counter_enum(path=CAPTURE_H):
    """[(NAME, value)] of enum kerno_counter, __COUNT markers excluded."""
    with open(path) as f:
        text = f.read()
    body = re.search(r"enum kerno_counter\s*\{(.*?)\};", text, re.S)
    if not body:
        raise ValueError(f"enum kerno_counter not found in {path}")
    values, names, nxt = {}, [], 0
    for item in re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S).split(","):
        item = item.strip()
        if not item:
            continue
        name, _, expr = (s.strip() for s in item.partition("="))
        value = values[expr] if expr in values else (int(expr, 0) if expr else nxt)
        values[name] = value
        nxt = value + 1
        if not name.endswith("__COUNT"):
            names.append((name, value))
    return names


def _short(name, prefix):
    return name[len(prefix):].lower()


def drop_reasons(path=CAPTURE_H):
    return [_short(n, "KERNO_DROP_") for n, _ in counter_enum(path) if n.startswith("KERNO_DROP_")]


def conn_events(path=CAPTURE_H):
    return [_short(n, "KERNO_EV_") for n, _ in counter_enum(path) if n.startswith("KERNO_EV_")]


def counter_index(short_name, path=CAPTURE_H):
    """Index in the counters array of e.g. 'unparsed' or 'requests'."""
    for name, value in counter_enum(path):
        if name in ("KERNO_DROP_" + short_name.upper(), "KERNO_EV_" + short_name.upper()):
            return value
    raise KeyError(short_name)


def counter_count(path=CAPTURE_H):
    return len(counter_enum(path))
