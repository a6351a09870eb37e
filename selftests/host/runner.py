#!/usr/bin/python3
"""Kerno host test runner, modeled on the kernel's test_progs.

Tests are functions named test_* in selftests/host/test_*.py taking one
argument, the per-test context. They attach the real BPF programs through
`kerno run` and drive servers and clients they start themselves on loopback.

    runner.py [--kerno PATH] [-t NAME]... [-x NAME]... [-v] [--list]

Prints `#N name: OK|FAIL (SECONDS)` per test and ends with `N passed, N failed`; the
exit code is 1 if any test failed (or none ran).
"""

import argparse
import contextlib
import glob
import importlib
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import asserts  # noqa: E402
from agent import Agent  # noqa: E402
from servers import Nginx, PyServer  # noqa: E402

TEST_TIMEOUT_S = 300


class TestTimeout(Exception):
    pass


class Context:
    """What a test gets: the binary under test, and fixtures that stop
    themselves when the test ends, whatever way it ends."""

    def __init__(self, kerno, cleanup):
        self.kerno = kerno
        self.cleanup = cleanup
        self.repo = REPO

    def agent(self, **kwargs):
        return Agent(self.kerno, self.cleanup, **kwargs)

    def nginx(self, cpu=None):
        return Nginx(self.cleanup, cpu=cpu)

    def pyserver(self):
        return PyServer(self.cleanup)


def discover():
    """[(name, function)] in file then definition order."""
    tests = []
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        module = importlib.import_module(os.path.basename(path)[:-3])
        funcs = [f for n, f in vars(module).items() if n.startswith("test_") and callable(f)]
        funcs.sort(key=lambda f: f.__code__.co_firstlineno)
        tests += [(f.__name__, f) for f in funcs]
    return tests


def _on_alarm(signum, frame):
    raise TestTimeout(f"test ran longer than {TEST_TIMEOUT_S}s")


def run_one(func, kerno):
    """Runs one test; returns True if it passed."""
    asserts.reset()
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(TEST_TIMEOUT_S)
    try:
        with contextlib.ExitStack() as cleanup:
            func(Context(kerno, cleanup))
    except asserts.Fatal as exc:
        print(f"    FATAL: {exc}", flush=True)
    except Exception:  # a broken test or fixture is a failure, not a crash
        asserts.mark_failed()
        print("    ERROR: " + traceback.format_exc().rstrip().replace("\n", "\n    "), flush=True)
    finally:
        signal.alarm(0)
    return asserts.failures() == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kerno", default=os.path.join(REPO, "build", "kerno"),
                        help="agent binary under test (default: build/kerno)")
    parser.add_argument("-t", dest="selectors", action="append", default=[],
                        help="run tests whose name contains NAME (repeatable)")
    parser.add_argument("-x", dest="excluded", action="append", default=[],
                        help="skip tests whose name contains NAME (repeatable)")
    parser.add_argument("-v", dest="verbose", action="store_true", help="verbose output")
    parser.add_argument("--list", action="store_true", help="list tests and exit")
    args = parser.parse_args()

    tests = discover()
    if args.selectors:
        tests = [(n, f) for n, f in tests if any(s in n for s in args.selectors)]
    tests = [(n, f) for n, f in tests if not any(x in n for x in args.excluded)]
    if args.list:
        print("\n".join(n for n, _ in tests))
        return 0
    if os.geteuid() != 0:
        print("runner.py: the host tests load BPF programs and start servers: run them as root",
              file=sys.stderr)
        return 2

    asserts.set_verbose(args.verbose)
    kerno = os.path.abspath(args.kerno)
    if not os.path.exists(kerno):
        print(f"warning: {kerno} does not exist; tests that need the agent will fail", flush=True)
    passed, failures = 0, []
    for num, (name, func) in enumerate(tests, 1):
        start = time.monotonic()
        ok = run_one(func, kerno)
        took = time.monotonic() - start
        print(f"#{num} {name}: {'OK' if ok else 'FAIL'} ({took:.1f}s)", flush=True)
        passed += ok
        if not ok:
            failures.append(name)
    print(f"agents: {Agent.started} started, {Agent.start_s:.0f} s to attach, "
          f"{Agent.stop_s:.0f} s to exit", flush=True)
    # Named again at the end, where a long log's reader (or its tail) looks.
    if failures:
        print(f"failed: {' '.join(failures)}", flush=True)
    failed = len(failures)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
