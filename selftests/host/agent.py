"""Starts and stops `kerno run` for one test and reads what it wrote."""

import glob
import json
import os
import signal
import subprocess
import tempfile
import time

import otlp
import scale
from asserts import ASSERT_EQ, ASSERT_TRUE, FATAL, log

# Loading verifies the capture programs, which emulation (the VM tests,
# KERNO_TEST_SCALE < 1) makes many times slower, and more so on a busy host.
HELLO_TIMEOUT_S = 60 if scale.FACTOR == 1 else 180
STOP_TIMEOUT_S = 30
# Upper bound on any agent a test starts: if the runner dies, it still exits.
SAFETY_DURATION_S = 900
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class Agent:
    """`kerno run` with its own data dir, started in its own process group."""

    # Where the suite's time goes (runner.py prints it): agents started, and
    # seconds spent waiting for them to attach and to exit.
    started = 0
    start_s = 0.0
    stop_s = 0.0

    def __init__(self, kerno, cleanup, interval=1, duration=SAFETY_DURATION_S, extra_args=(),
                 prefix=()):
        if not os.path.exists(kerno):
            FATAL(f"kerno binary not found: {kerno} (build it with make)")
        self.data_dir = tempfile.mkdtemp(prefix="kerno-test-")
        cleanup.callback(subprocess.run, ["rm", "-rf", "--", self.data_dir], check=False)
        self.stderr_path = os.path.join(self.data_dir, "agent.stderr")
        # prefix: a command that execs the agent in place (its pid stays the agent's).
        argv = [*prefix, kerno, "run", "--data-dir", self.data_dir, "--interval", str(interval),
                "--duration", str(duration), *extra_args]
        log(f"starting {' '.join(argv)}")
        env = dict(os.environ)
        # halt_on_error makes UBSan findings fatal too; the exit code shows them.
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        t0 = time.monotonic()
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         env=env, start_new_session=True)
        self.pid = self.proc.pid
        self.returncode = None
        cleanup.callback(self._kill)
        self._wait_hello()
        Agent.started += 1
        Agent.start_s += time.monotonic() - t0

    def _kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stderr_tail(self, lines=20):
        with open(self.stderr_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def _has_hello(self):
        for path in glob.glob(os.path.join(self.data_dir, "uplink", "*.ndjson")):
            with open(path) as f:
                for line in f:
                    try:
                        if json.loads(line).get("type") == "hello":
                            return True
                    except json.JSONDecodeError:
                        pass  # a line still being written
        return False

    def _wait_hello(self):
        """Traffic may only start once the programs are attached."""
        deadline = time.monotonic() + HELLO_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._has_hello():
                log(f"agent pid {self.pid} attached")
                return
            if self.proc.poll() is not None:
                FATAL(f"agent exited with {self.proc.returncode} before hello:\n{self.stderr_tail()}")
            time.sleep(0.05)
        FATAL(f"no hello envelope within {HELLO_TIMEOUT_S}s:\n{self.stderr_tail()}")

    def running(self):
        return self.proc.poll() is None

    def wait_exit(self, timeout):
        """Waits for the agent to exit on its own (--duration); returns rc."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, expect_rc=0):
        """Signals the agent, waits for it, checks exit code and sanitizers."""
        if self.proc.poll() is None:
            t0 = time.monotonic()
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._kill()
                FATAL(f"agent ignored {signal.Signals(sig).name} for {STOP_TIMEOUT_S}s")
            finally:
                Agent.stop_s += time.monotonic() - t0
        self.returncode = self.proc.returncode
        with open(self.stderr_path, errors="replace") as f:
            stderr = f.read()
        if not ASSERT_EQ(self.returncode, expect_rc, "agent exit code"):
            print(f"    agent stderr (tail):\n{self.stderr_tail()}", flush=True)
        ASSERT_TRUE(not any(mark in stderr for mark in SANITIZER_MARKS),
                    "no sanitizer report in agent stderr", self.stderr_tail(40))
        return self.returncode

    def envelopes(self):
        return otlp.read_envelopes(self.data_dir)

    def points(self):
        return otlp.metric_points(self.envelopes())

    def wait_points(self, settled, timeout=15.0):
        """Waits until settled(points) holds for the metrics written so far.

        A traced process's hook runs when its syscall returns, which on a
        busy (emulated) machine can come after its peer already has the
        bytes: the test's next step, stopping the agent, would then race it.
        Returns whether it held before the timeout (the assertions that
        follow say what differs)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if settled(self.points()):
                return True
            time.sleep(0.25)
        return False
