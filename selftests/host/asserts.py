"""ASSERT_* helpers in the style of the kernel's test_progs.

A failed assertion prints what was compared, the expected and the actual
value, marks the running test as failed and returns False; the test goes on,
so one run shows every mismatch. A test that cannot go on after a failure
writes `if not ASSERT_EQ(...): return`. FATAL() stops the test at once.
"""

import sys

_state = {"failures": 0, "verbose": False}


class Fatal(Exception):
    """Stops the running test: it cannot meaningfully continue."""


def reset():
    _state["failures"] = 0


def mark_failed():
    _state["failures"] += 1


def failures():
    return _state["failures"]


def set_verbose(on):
    _state["verbose"] = on


def log(msg):
    """Printed with -v only: progress and figures that help read a failure."""
    if _state["verbose"]:
        print(f"    {msg}", flush=True)


def _report(ok, what, detail):
    if ok:
        log(f"ok: {what}: {detail}")
        return True
    _state["failures"] += 1
    caller = sys._getframe(2)
    where = f"{caller.f_code.co_filename.rsplit('/', 1)[-1]}:{caller.f_lineno}"
    print(f"    FAIL {where}: {what}: {detail}", flush=True)
    return False


def ASSERT_EQ(actual, expected, what):
    return _report(actual == expected, what, f"expected {expected!r}, actual {actual!r}")


def ASSERT_NE(actual, unexpected, what):
    return _report(actual != unexpected, what, f"expected anything but {unexpected!r}, actual {actual!r}")


def ASSERT_GT(actual, bound, what):
    return _report(actual > bound, what, f"expected > {bound!r}, actual {actual!r}")


def ASSERT_GE(actual, bound, what):
    return _report(actual >= bound, what, f"expected >= {bound!r}, actual {actual!r}")


def ASSERT_TRUE(cond, what, detail=""):
    return _report(bool(cond), what, detail or f"expected true, actual {cond!r}")


def ASSERT_WITHIN(actual, expected, rel, what):
    """|actual - expected| <= rel * expected."""
    ok = actual is not None and abs(actual - expected) <= rel * abs(expected)
    return _report(ok, what, f"expected {expected!r} +/- {rel:.0%}, actual {actual!r}")


def FATAL(msg):
    _state["failures"] += 1
    raise Fatal(msg)
