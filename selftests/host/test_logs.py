"""Log collection: tailing through rotations and restarts, parsing, filtering, error groups.

Every test writes real files into a directory of its own, points `kerno run`
at it (--logs GLOB, or --log-pods-root / --log-docker-root), and reads back
the gzip objects under DATA_DIR/objects/logs/ and the uplink envelopes.
Lines carry a file id and a sequence number, so loss and duplication are
exact set comparisons.
"""

import calendar
import collections
import glob
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import otlp
from agent import SANITIZER_MARKS
from asserts import ASSERT_EQ, ASSERT_GE, ASSERT_TRUE, FATAL, log

LINE_BYTES = 100  # every sequence line, newline included
PAD = "x" * (LINE_BYTES - 15)
# The last three digits and the rest of the line, for 1000 lines sharing their first digits.
THOUSAND = [f"{k:03d} {PAD}\n" for k in range(1000)]
# Nothing but the logs: no Kubernetes or Docker roots of the machine.
BASE_ARGS = ["--log-pods-root", "", "--log-docker-root", "", "--object-max-age", "1",
             "--log-rotate-wait", "1"]
KEEP_ALL = ["--log-keep-all", "--log-rate-limit", "0"]
CATCH_UP_TIMEOUT_S = 180


def tmpdir(ctx, prefix):
    path = tempfile.mkdtemp(prefix=prefix)
    ctx.cleanup.callback(shutil.rmtree, path, True)
    return path


class LogAgent:
    """`kerno run` on a data dir that outlives it: restarts find their checkpoints."""

    def __init__(self, ctx, data_dir, args):
        self.ctx, self.data_dir, self.args = ctx, data_dir, args
        self.proc = None
        self.stderr_path = os.path.join(data_dir, "agent.stderr")
        ctx.cleanup.callback(self.kill)

    def hellos(self):
        n = 0
        for path in glob.glob(os.path.join(self.data_dir, "uplink", "*.ndjson")):
            with open(path, errors="replace") as f:
                n += f.read().count('"type":"hello"')
        return n

    def start(self, until="hello"):
        """Until the hello envelope (fully started), or with until="logs" only until the
        log thread runs (it does not wait for the capture programs to load)."""
        self.before = self.hellos()
        argv = [self.ctx.kerno, "run", "--data-dir", self.data_dir, "--interval", "1",
                "--duration", "900", *self.args]
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        with open(self.stderr_path, "a") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         env=env, start_new_session=True)
        self.wait_for(self.log_thread if until == "logs" else lambda: self.hellos() > self.before,
                      until)

    def log_thread(self):
        for comm in glob.glob(f"/proc/{self.proc.pid}/task/*/comm"):
            try:
                with open(comm) as f:
                    if f.read().strip() == "kerno-logs":
                        return True
            except FileNotFoundError:
                pass
        return False

    def wait_for(self, ready, what):
        deadline = time.monotonic() + 60
        while not ready():
            if self.proc.poll() is not None:
                FATAL(f"agent exited with {self.proc.returncode}:\n{self.stderr_tail()}")
            if time.monotonic() > deadline:
                FATAL(f"no {what} within 60s")
            time.sleep(0.005 if what == "logs" else 0.02)

    def wait_hello(self):
        self.wait_for(lambda: self.hellos() > self.before, "hello")

    def stderr_tail(self, n=20):
        with open(self.stderr_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()
            FATAL("agent ignored SIGTERM for 60s")
        ASSERT_EQ(rc, 0, "agent exit code")
        with open(self.stderr_path, errors="replace") as f:
            stderr = f.read()
        ASSERT_TRUE(not any(m in stderr for m in SANITIZER_MARKS), "no sanitizer report",
                    self.stderr_tail(40))


def log_events(data_dir, metric="kerno.logs.events"):
    """Sums of the log pipeline's counters over every metrics envelope."""
    totals = collections.Counter()
    try:
        envelopes = otlp.read_envelopes(data_dir)
    except ValueError:
        return totals
    for p in otlp.metric_points(envelopes):
        if p.metric == metric:
            totals[p.attrs.get("event", p.attrs.get("reason"))] += p.value
    return totals


def read_records(data_dir):
    """[(resource attributes, record)] of every log object."""
    out = []
    for path in sorted(glob.glob(os.path.join(data_dir, "objects", "logs", "**", "*.json.gz"),
                                 recursive=True)):
        with gzip.open(path, "rt") as f:
            for line in f:
                for rl in json.loads(line)["resourceLogs"]:
                    res = otlp.attrs_dict(rl["resource"]["attributes"])
                    for sl in rl["scopeLogs"]:
                        out.extend((res, rec) for rec in sl["logRecords"])
    return out


def body(rec):
    return rec["body"]["stringValue"]


def seq_counts(records):
    """Counter of (file id, sequence number) over the sequence lines."""
    counts = collections.Counter()
    for _, rec in records:
        fid, seq, _ = body(rec).split(" ", 2)
        counts[(int(fid), int(seq))] += 1
    return counts


def check_exact(counts, written, what):
    """Every (file, seq) written exactly once: no loss, no duplicate."""
    expected = {(fid, s) for fid, n in written.items() for s in range(n)}
    lost = expected - set(counts)
    dups = sum(c - 1 for c in counts.values() if c > 1)
    extra = set(counts) - expected
    ASSERT_EQ(len(lost), 0, f"{what}: lines lost (first: {sorted(lost)[:5]})")
    ASSERT_EQ(dups, 0, f"{what}: lines duplicated")
    ASSERT_EQ(len(extra), 0, f"{what}: lines never written")
    ASSERT_EQ(sum(counts.values()), sum(written.values()), f"{what}: records stored")


class SeqWriter:
    """Sequence-numbered lines into N files, with rename and copytruncate rotations."""

    def __init__(self, directory, n_files):
        self.dir = directory
        self.next = {fid: 0 for fid in range(n_files)}
        self.rotations = collections.Counter()
        self.files = {fid: open(self.path(fid), "a") for fid in range(n_files)}
        self.bytes = 0

    def path(self, fid):
        return os.path.join(self.dir, f"app{fid}.log")

    def write(self, fid, n):
        start = self.next[fid]
        if start % 1000 == 0 and n % 1000 == 0:
            # Whole thousands: one join per thousand lines, fast enough to sustain 50+ MiB/s
            # from one Python thread next to the agent.
            block = "".join(f"{fid:02d} {k:07d}" + f"{fid:02d} {k:07d}".join(THOUSAND)
                            for k in range(start // 1000, (start + n) // 1000))
        else:
            block = "".join(f"{fid:02d} {s:010d} {PAD}\n" for s in range(start, start + n))
        self.files[fid].write(block)
        self.files[fid].flush()
        self.next[fid] += n
        self.bytes += len(block)

    def rename_rotate(self, fid):
        """logrotate's default: rename, then the writer opens a new file."""
        self.rotations[fid] += 1
        self.files[fid].close()
        os.rename(self.path(fid), f"{self.path(fid)}.{self.rotations[fid]}")
        self.files[fid] = open(self.path(fid), "a")

    def copytruncate(self, fid):
        """logrotate's copytruncate: copy, then cut the file the writer keeps appending to."""
        self.rotations[fid] += 1
        shutil.copyfile(self.path(fid), f"{self.path(fid)}.{self.rotations[fid]}")
        os.truncate(self.path(fid), 0)

    def close(self):
        for f in self.files.values():
            f.close()


def wait_lines(data_dir, total, what):
    """Until the agent has read `total` lines (its counters say so)."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    seen = 0
    while time.monotonic() < deadline:
        seen = log_events(data_dir)["lines"]
        if seen >= total:
            return
        time.sleep(0.5)
    FATAL(f"{what}: the agent read {seen} of {total} lines in {CATCH_UP_TIMEOUT_S}s")


def checkpointed(data_dir):
    """inode -> offset of the last checkpoint (the pending one when its object exists)."""
    out = {}
    try:
        with open(os.path.join(data_dir, "logs", "checkpoints")) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return out
    pending = [ln[8:] for ln in lines if ln.startswith("pending ")]
    stored = pending and os.path.exists(os.path.join(data_dir, "objects", pending[0]))
    for ln in lines[1:]:
        fields = ln.split(" ")
        if len(fields) >= 7 and fields[0].isdigit():
            out[int(fields[1])] = int(fields[5] if stored else fields[4])
    return out


def wait_checkpointed(data_dir, log_dir):
    """Until the checkpoint covers every byte of every file in log_dir."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    behind = None
    while time.monotonic() < deadline:
        offs = checkpointed(data_dir)
        behind = {p: os.stat(p).st_size - offs.get(os.stat(p).st_ino, 0)
                  for p in glob.glob(os.path.join(log_dir, "*"))}
        if not any(behind.values()):
            return
        time.sleep(0.5)
    FATAL(f"the checkpoint did not catch up in {CATCH_UP_TIMEOUT_S}s: bytes behind {behind}")


def write_with_rotations(w, rounds, per_round, renames, copytruncate_round, before_copy=None):
    """Writes rounds of per_round lines to every file; rotations at the given rounds.
    Returns the seconds spent writing (before_copy's wait excluded)."""
    n_files, took = len(w.files), 0.0
    for r in range(rounds):
        t0 = time.monotonic()
        for fid in range(n_files):
            w.write(fid, per_round)
        if r in renames:
            w.rename_rotate(renames[r])
        took += time.monotonic() - t0
        if r == copytruncate_round:
            if before_copy:
                before_copy(2 % n_files)
            t0 = time.monotonic()
            w.copytruncate(2 % n_files)
            took += time.monotonic() - t0
    return took


def wait_started(data_dir, path):
    """Until the checkpoint shows the agent part way into the file: a copy must inherit."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    ino = os.stat(path).st_ino
    while checkpointed(data_dir).get(ino, 0) == 0:
        if time.monotonic() > deadline:
            FATAL(f"the agent did not start reading {path}")
        time.sleep(0.05)


def test_logs_rotations_no_loss(ctx):
    """Four files at 50+ MiB/s, five rename rotations and one copytruncate: exact sets."""
    d = tmpdir(ctx, "kerno-logs-rot-")
    data = tmpdir(ctx, "kerno-logs-data-")
    agent = LogAgent(ctx, data, BASE_ARGS + KEEP_ALL + ["--logs", f"{d}/*.log*"])
    w = SeqWriter(d, 4)
    agent.start()
    rounds, per_round = 100, 2500  # 4 x 100 x 2500 lines of 100 bytes: 95 MiB
    renames = {15: 0, 30: 1, 45: 3, 60: 0, 85: 1}
    took = write_with_rotations(w, rounds, per_round, renames, copytruncate_round=70,
                                before_copy=lambda fid: wait_started(data, w.path(fid)))
    w.close()
    rate = w.bytes / took / 2**20
    log(f"wrote {w.bytes / 2**20:.0f} MiB in {took:.2f}s: {rate:.0f} MiB/s")
    ASSERT_GE(rate, 50, "write rate in MiB/s")
    written = dict(w.next)
    wait_lines(data, sum(written.values()), "rotations")
    agent.stop()
    ev = log_events(data)
    ASSERT_EQ(ev["copies"], 1, "copytruncate copies read from the original's offset")
    ASSERT_GE(ev["truncations"], 1, "truncations seen")
    check_exact(seq_counts(read_records(data)), written, "rotations")


class PacedWriter(threading.Thread):
    """SeqWriter's lines into 4 files at a steady rate, rename rotations at fixed rounds.

    Writes `rounds` rounds of 1000 lines a file, each round due at the rate's pace (a
    late round is written at once), then goes on until `until` is set. Rotations asked
    for with between_rounds() are done before the next round. Their own time counts: the
    rate covers the whole phase, wall clock."""

    def __init__(self, w, mib_s, rounds, renames, until):
        super().__init__()
        self.w, self.rounds, self.until = w, rounds, until
        self.round_bytes = len(w.files) * 1000 * LINE_BYTES
        self.pace = self.round_bytes / (mib_s * 2**20)
        self.renames = renames
        self.asked = []
        self.lock = threading.Lock()
        self.started = threading.Event()
        self.t0 = self.t1 = None
        self.error = None

    def between_rounds(self, rotation):
        """Has rotation() done by the writer, between two of its rounds; waits for it."""
        done = threading.Event()
        with self.lock:
            self.asked.append((rotation, done))
        if not done.wait(30):
            FATAL("the writer did not rotate within 30s")

    def run(self):
        try:
            self.t0 = time.monotonic()
            self.started.set()
            r = 0
            while r < self.rounds or not self.until.is_set():
                late = self.t0 + r * self.pace - time.monotonic()
                if late > 0:
                    time.sleep(late)
                for fid in range(len(self.w.files)):
                    self.w.write(fid, 1000)
                if r in self.renames:
                    self.w.rename_rotate(self.renames[r])
                with self.lock:
                    asked, self.asked = self.asked, []
                for rotation, done in asked:
                    rotation()
                    done.set()
                r += 1
        except Exception as e:  # reported by the test thread
            self.error = e
        finally:
            self.t1 = time.monotonic()
            self.started.set()

    def rate(self):
        return self.w.bytes / (self.t1 - self.t0) / 2**20


# A record's start and its body when it is a sequence line: log_otlp.c writes records so.
RECORD_START = b'{"timeUnixNano":"'
SEQ_BODY = re.compile(rb'"body":\{"stringValue":"(\d\d) (\d{10}) ')


def seq_tally(data_dir, written):
    """Per file id, how many times each sequence number was stored (a bytearray, capped at
    255), and the records that are no sequence line of a file written. Exact like
    seq_counts(), and fast and small enough for millions of records: the sequence lines
    are matched in the objects' text rather than parsed record by record."""
    tally = {fid: bytearray(n) for fid, n in written.items()}
    records = seq = stray = 0
    for path in glob.glob(os.path.join(data_dir, "objects", "logs", "**", "*.json.gz"),
                          recursive=True):
        with gzip.open(path, "rb") as f:
            text = f.read()
        records += text.count(RECORD_START)
        for fid, num in SEQ_BODY.findall(text):
            seq += 1
            t, n = tally.get(int(fid)), int(num)
            if t is None or n >= len(t):
                stray += 1
            elif t[n] < 255:
                t[n] += 1
    return tally, stray + records - seq


def check_tally(tally, stray, written, what):
    """check_exact on tallies: every (file, seq) written stored exactly once."""
    lost = {fid: t.count(0) for fid, t in tally.items()}
    dups = {fid: sum(c - 1 for c in t if c > 1) for fid, t in tally.items()}
    first_lost = [(fid, t.index(0)) for fid, t in tally.items() if lost[fid]]
    ASSERT_EQ(sum(lost.values()), 0, f"{what}: lines lost (per file {lost}, first {first_lost})")
    ASSERT_EQ(sum(dups.values()), 0, f"{what}: lines duplicated (per file {dups})")
    ASSERT_EQ(stray, 0, f"{what}: records of lines never written")
    return sum(lost.values()), sum(dups.values())


SUSTAIN_MIB_S = 55  # the pace; 50 is the floor asserted over the whole phase
SUSTAIN_S = 8  # the writing phase as planned: 440 MiB, 4.6 million lines
KILLS = 20


def put_in_flight(data_dir):
    """The object the checkpoint names whose put has not finished, or None."""
    try:
        with open(os.path.join(data_dir, "logs", "checkpoints")) as f:
            pending = [ln[8:] for ln in f.read().splitlines() if ln.startswith("pending ")]
    except FileNotFoundError:
        return None
    if pending and not os.path.exists(os.path.join(data_dir, "objects", pending[0])):
        return pending[0]
    return None


def test_logs_sigkill_restarts(ctx):
    """SIGKILL at 20 random moments while 4 files grow at 50+ MiB/s and rotate: exact sets.

    Four rename rotations happen while the agent runs (and lags), one rename and the
    copytruncate while it is dead, between a kill and its restart."""
    d = tmpdir(ctx, "kerno-logs-kill-")
    data = tmpdir(ctx, "kerno-logs-data-")
    # 1 MiB objects: a put every few hundred milliseconds, so some kills land inside one.
    agent = LogAgent(ctx, data, BASE_ARGS + KEEP_ALL + ["--logs", f"{d}/*.log*",
                                                       "--object-max-bytes", "1048576"])
    seed = int(os.environ.get("KERNO_TEST_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    w = SeqWriter(d, 4)
    rounds = int(SUSTAIN_S * SUSTAIN_MIB_S * 2**20 / (4 * 1000 * LINE_BYTES))
    renames = {int(rounds * f): fid for f, fid in ((0.15, 0), (0.3, 1), (0.6, 0), (0.85, 1))}
    kills_done = threading.Event()
    writer = PacedWriter(w, SUSTAIN_MIB_S, rounds, renames, kills_done)
    # Random moments of the planned phase; a kill due while the agent restarts waits for it.
    moments = sorted(rng.uniform(0.02, 0.95) * SUSTAIN_S for _ in range(KILLS))
    while_dead = {rng.randrange(2, 9): ("rename", lambda: w.rename_rotate(3)),
                  rng.randrange(10, 18): ("copytruncate", lambda: w.copytruncate(2))}
    kill_times, in_flight, dead_at = [], set(), {}
    agent.start()
    writer.start()
    try:
        writer.started.wait()
        for i, m in enumerate(moments):
            time.sleep(max(0.0, writer.t0 + m - time.monotonic()))
            if not writer.is_alive():
                break
            kill_times.append(time.monotonic())
            agent.kill()
            in_flight.add(put_in_flight(data))
            if i in while_dead:
                what, rotation = while_dead[i]
                writer.between_rounds(rotation)
                dead_at[what] = time.monotonic() - writer.t0
            # Killed again as soon as its log thread runs, capture programs loaded or not:
            # restarts are then short enough for 20 kills in the phase on a busy machine.
            agent.start(until="logs")
    finally:
        kills_done.set()
        writer.join()
        w.close()
    if writer.error:
        FATAL(f"the writer failed: {writer.error!r}")
    written = dict(w.next)
    phase = writer.t1 - writer.t0
    inside = sum(1 for k in kill_times if writer.t0 < k < writer.t1)
    log(f"seed {seed}: wrote {sum(written.values())} lines, {w.bytes / 2**20:.0f} MiB in "
        f"{phase:.2f}s: {writer.rate():.1f} MiB/s; kills at "
        f"{', '.join(f'{k - writer.t0:.2f}' for k in kill_times)}s, "
        f"{len(in_flight - {None})} of them during an object's put; while dead: "
        f"{', '.join(f'{k} at {v:.2f}s' for k, v in dead_at.items())}")
    ASSERT_GE(writer.rate(), 50, "write rate over the whole phase in MiB/s")
    ASSERT_EQ(inside, KILLS, "SIGKILLs while the files were being written")
    ASSERT_EQ(sorted(dead_at), ["copytruncate", "rename"], "rotations while the agent was dead")
    ASSERT_EQ(dict(w.rotations), {0: 2, 1: 2, 2: 1, 3: 1}, "rotations done")
    agent.wait_hello()
    wait_checkpointed(data, d)
    log(f"the agent caught up {time.monotonic() - writer.t1:.1f}s after the writing stopped")
    agent.stop()
    t = time.monotonic()
    tally, stray = seq_tally(data, written)
    lost, dups = check_tally(tally, stray, written, "SIGKILL restarts")
    log(f"lost {lost}, duplicated {dups}; checked in {time.monotonic() - t:.1f}s")


def cri_lines(ts, stream, message, part=16384):
    """One message as CRI lines: P parts of `part` bytes, then the F line."""
    parts = [message[i:i + part] for i in range(0, len(message), part)] or [""]
    return "".join(f"{ts} {stream} {'P' if i < len(parts) - 1 else 'F'} {p}\n"
                   for i, p in enumerate(parts))


JAVA_TRACE = [
    'Exception in thread "main" java.lang.IllegalStateException: queue closed',
    "\tat com.example.Queue.take(Queue.java:42)",
    "\tat com.example.Worker.run(Worker.java:17)",
    "Caused by: java.io.IOException: broken pipe",
    "\tat com.example.Net.read(Net.java:88)",
    "\t... 2 more",
]
PYTHON_TRACE = [
    "ERROR:worker:job failed",
    "Traceback (most recent call last):",
    '  File "/app/worker.py", line 12, in run',
    "    result = compute(job)",
    '  File "/app/worker.py", line 30, in compute',
    "    return 1 / job.size",
    "ZeroDivisionError: division by zero",
]


def test_logs_parsing(ctx):
    """CRI partials merged byte for byte, a 1 MiB line cut and counted, traces joined."""
    root = tmpdir(ctx, "kerno-logs-pods-")
    droot = tmpdir(ctx, "kerno-logs-docker-")
    plain = tmpdir(ctx, "kerno-logs-plain-")
    data = tmpdir(ctx, "kerno-logs-data-")
    cap = 262144
    cdir = os.path.join(root, "shop_cart-7d9f_0a1b2c3d-uid", "api")
    os.makedirs(cdir)
    big = "".join(chr(0x41 + i % 26) for i in range(100000))  # six 16 KiB partials
    huge = "h" * (1 << 20)
    ts = "2026-11-26T12:00:00.123456789Z"
    with open(os.path.join(cdir, "0.log"), "w") as f:
        f.write(cri_lines(ts, "stdout", big))
        f.write(cri_lines(ts, "stdout", huge))
        f.write(cri_lines(ts, "stdout", "after the huge one"))
        for line in JAVA_TRACE:
            f.write(cri_lines(ts, "stderr", line))
        f.write(cri_lines(ts, "stdout", "INFO back to normal"))
    cid = "0123456789abcdef" * 4
    os.makedirs(os.path.join(droot, cid))
    with open(os.path.join(droot, cid, f"{cid}-json.log"), "w") as f:
        for part in ("first half, ", "second half\n"):
            f.write(json.dumps({"log": part, "stream": "stdout", "time": ts}) + "\n")
        f.write(json.dumps({"log": "level=warn msg=\"disk almost full\"\n", "stream": "stderr",
                            "time": ts}) + "\n")
    with open(os.path.join(plain, "py.log"), "w") as f:
        f.write("\n".join(PYTHON_TRACE) + "\n")
        f.write("INFO:worker:next job\n")
        f.write("p" * (1 << 20) + "\n")
        f.write("INFO:worker:done token=hunter2secret\n")
    agent = LogAgent(ctx, data, ["--log-pods-root", root, "--log-docker-root", droot,
                                 "--logs", f"{plain}/*.log", "--object-max-age", "1",
                                 "--log-max-line-bytes", str(cap)] + KEEP_ALL)
    agent.start()
    deadline = time.monotonic() + 60
    while log_events(data)["records"] < 11 and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(1.5)  # the multi-line idle flush
    agent.stop()
    recs = read_records(data)
    by_file = collections.defaultdict(list)
    for res, rec in recs:
        by_file[res.get("log.file.path")].append((res, rec))
    cri = by_file[os.path.join(cdir, "0.log")]
    bodies = [body(r) for _, r in cri]
    ASSERT_EQ(len(bodies), 5, "CRI records")
    if len(bodies) == 5:
        ASSERT_TRUE(bodies[0] == big, "16 KiB partials reassembled byte for byte",
                    f"{len(bodies[0])} bytes")
        ASSERT_EQ(len(bodies[1]), cap, "the 1 MiB CRI line cut at the cap")
        ASSERT_EQ(otlp.attrs_dict(cri[1][1]["attributes"]).get("kerno.log.truncated"), True,
                  "the cut record is marked")
        ASSERT_EQ(bodies[2], "after the huge one", "the line after the cut one")
        ASSERT_EQ(bodies[3], "\n".join(JAVA_TRACE), "the Java trace as one record")
        ASSERT_EQ(cri[3][1]["severityText"], "ERROR", "the Java trace's severity")
        ASSERT_EQ(cri[3][1]["timeUnixNano"],
                  str(calendar.timegm((2026, 11, 26, 12, 0, 0)) * 10**9 + 123456789), "CRI time")
    res = cri[0][0] if cri else {}
    ASSERT_EQ((res.get("k8s.namespace.name"), res.get("k8s.pod.name"), res.get("k8s.pod.uid"),
               res.get("k8s.container.name")), ("shop", "cart-7d9f", "0a1b2c3d-uid", "api"),
              "Kubernetes names from the path")
    dock = by_file[os.path.join(droot, cid, f"{cid}-json.log")]
    ASSERT_EQ([body(r) for _, r in dock], ["first half, second half",
                                          'level=warn msg="disk almost full"'],
              "Docker records, split line merged")
    ASSERT_EQ([r["severityText"] for _, r in dock], ["INFO", "WARN"], "Docker severities")
    ASSERT_EQ(dock[0][0].get("container.id") if dock else None, cid, "container.id")
    py = [body(r) for _, r in by_file[os.path.join(plain, "py.log")]]
    ASSERT_EQ(len(py), 4, "plain records")
    if len(py) == 4:
        ASSERT_EQ(py[0], "\n".join(PYTHON_TRACE), "the Python trace as one record")
        ASSERT_EQ(py[1], "INFO:worker:next job", "the line after the trace")
        ASSERT_EQ(len(py[2]), cap, "the 1 MiB plain line cut at the cap")
        ASSERT_EQ(py[3], "INFO:worker:done token=[REDACTED]",
                  "the line after the cut one, its credential redacted")
    ASSERT_TRUE(not any("hunter2secret" in body(r) for _, r in recs),
                "the credential is in no object")
    ASSERT_EQ(log_events(data)["redacted"], 1, "credentials redacted")
    ASSERT_EQ(log_events(data, "kerno.logs.drops")["line_cut"], 2, "cut lines counted")


TEMPLATES = [
    "alpha request served path=/home status ok in {n} ms",
    "bravo cache refreshed for region eu with {n} entries",
    "charlie user {n} logged in from web",
    "delta queue depth is {n} items",
    "echo heartbeat sent to peer node-{n}",
    "foxtrot scheduled job {n} for later",
    "golf connection pool grew to {n}",
    "hotel config reloaded version {n}",
    "india metrics flushed {n} series",
    "juliet session {n} expired",
]
ERRORS = [
    "ERROR zanzibar payment declined for order {n}",
    "ERROR quixotic upstream timeout after {n} ms",
]


def test_logs_filtering_and_error_groups(ctx):
    """1 000 000 lines of 10 templates and 100 errors: errors, first ones and the baseline kept."""
    d = tmpdir(ctx, "kerno-logs-filter-")
    data = tmpdir(ctx, "kerno-logs-data-")
    rng = random.Random(5)
    n_lines = 1_000_000
    error_at = {i: k % 2 for k, i in enumerate(sorted(rng.sample(range(n_lines), 100)))}
    per_template = collections.Counter()
    lines, errors_written = [], collections.Counter()
    for i in range(n_lines):
        if i in error_at:
            errors_written[error_at[i]] += 1
            lines.append(ERRORS[error_at[i]].format(n=i))
        else:
            t = rng.randrange(10)
            per_template[t] += 1
            lines.append(TEMPLATES[t].format(n=i))
    with open(os.path.join(d, "app.log"), "w") as f:
        f.write("\n".join(lines) + "\n")
    first_n, every = 3, 100
    agent = LogAgent(ctx, data, BASE_ARGS + ["--logs", f"{d}/*.log", "--log-first", str(first_n),
                                             "--log-sample-every", str(every),
                                             "--log-rate-limit", "0"])
    agent.start()
    wait_lines(data, n_lines, "filtering")
    agent.stop()
    recs = [r for _, r in read_records(data)]
    kept_errors = [body(r) for r in recs if r["severityText"] == "ERROR"]
    ASSERT_EQ(sorted(kept_errors), sorted(lines[i] for i in error_at), "every error line kept")
    kept = collections.Counter()
    weights = collections.Counter()
    for r in recs:
        if r["severityText"] == "ERROR":
            continue
        t = [i for i, tpl in enumerate(TEMPLATES) if body(r).startswith(tpl.split(" ")[0] + " ")]
        kept[t[0] if t else -1] += 1
        weights[t[0] if t else -1] += otlp.attrs_dict(r["attributes"]).get(
            "kerno.log.sample_weight", 1)
    expected = {t: first_n + -(-(c - first_n) // every) for t, c in per_template.items()}
    ASSERT_EQ(dict(kept), expected, "records kept per template (first ones plus 1 in 100)")
    ASSERT_EQ(sum(kept.values()), sum(expected.values()), "baseline records kept")
    groups = collections.Counter()
    for e in otlp.read_envelopes(data):
        if e.get("type") == "errors":
            for g in e["data"]["groups"]:
                if g["source"] == "logs":
                    groups[g["fingerprint"]] += g["count"]
    ASSERT_EQ(sorted(groups.values()), sorted(errors_written.values()),
              "error groups with exact counts")
    with open(glob.glob(os.path.join(data, "uplink", "*.ndjson"))[0]) as f:
        uplink = f.read()
    for word in ("zanzibar", "quixotic", "declined", "upstream"):
        ASSERT_TRUE(word not in uplink, f"'{word}' of the error text is not on the uplink")


def test_logs_tail_cases(ctx):
    """Deleted while unread, truncation, and a checkpoint whose inode was reused."""
    d = tmpdir(ctx, "kerno-logs-tail-")
    data = tmpdir(ctx, "kerno-logs-data-")
    args = BASE_ARGS + KEEP_ALL + ["--logs", f"{d}/*.log"]
    agent = LogAgent(ctx, data, args)
    w = SeqWriter(d, 3)
    w.write(0, 100)
    w.write(2, 50)
    agent.start()
    wait_lines(data, 150, "first lines")
    # A file that grows by 20 MiB and is deleted at once: read through the open descriptor.
    w.write(1, 200000)
    os.unlink(w.path(1))
    # Truncation: the file starts over, shorter; its new lines are read from 0.
    w.files[0].truncate(0)
    w.next[0] = 0
    w.write(0, 10)
    wait_lines(data, 150 + 200000 + 10, "deleted and truncated")
    agent.stop()
    ev = log_events(data)
    ASSERT_EQ(ev["truncations"], 1, "truncations")
    counts = seq_counts(read_records(data))
    file1 = {s for (fid, s) in counts if fid == 1}
    ASSERT_EQ(len(file1), 200000, "lines of the file deleted while unread")
    ASSERT_EQ(sum(c for (fid, _), c in counts.items() if fid == 0), 110,
              "lines of the truncated file, before and after")
    # Inode reuse: the checkpoint names app2.log's inode with another fingerprint.
    ckpt = os.path.join(data, "logs", "checkpoints")
    ino = str(os.stat(w.path(2)).st_ino)
    with open(ckpt) as f:
        entries = f.read().splitlines()
    for i, e in enumerate(entries):
        fields = e.split(" ")
        if len(fields) > 3 and fields[1] == ino:
            fields[3] = "123456789abcdef"
            entries[i] = " ".join(fields)
    with open(ckpt, "w") as f:
        f.write("\n".join(entries) + "\n")
    before = len(read_records(data))
    agent.start()
    wait_lines(data, 150 + 200000 + 10 + 50, "inode reuse")  # file 0 resumes, file 2 from 0
    agent.stop()
    ASSERT_EQ(log_events(data)["inode_reuse"], 1, "checkpoint entries refused as inode reuse")
    new = read_records(data)[before:]
    ASSERT_EQ(sum(1 for _, r in new if body(r).startswith("02 ")), 50,
              "the reused inode's file read from its start")
    w.close()


def test_logs_backpressure(ctx):
    """A full object store: reading pauses, memory stays put; once there is room, nothing is lost."""
    d = tmpdir(ctx, "kerno-logs-bp-")
    data = tmpdir(ctx, "kerno-logs-data-")
    objects = os.path.join(data, "objects")
    os.mkdir(objects)
    # The objects (not the checkpoints or the uplink) on a file system that fills up.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "kerno-logs-bp", objects], check=True)
    ctx.cleanup.callback(subprocess.run, ["umount", "-l", objects], check=False)
    rng = random.Random(7)
    n = 200000
    with open(os.path.join(d, "app0.log"), "w") as f:
        # Random hex compresses poorly: the objects outgrow 2 MiB quickly.
        f.write("".join(f"00 {s:010d} {rng.getrandbits(256):064x}\n" for s in range(n)))
    agent = LogAgent(ctx, data, BASE_ARGS + KEEP_ALL + ["--logs", f"{d}/*.log",
                                                       "--object-max-bytes", "1048576"])
    agent.start()
    deadline = time.monotonic() + 60
    while log_events(data)["backpressure"] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    ASSERT_GE(log_events(data)["backpressure"], 1, "the full store pushed back")
    time.sleep(1.5)
    read1 = log_events(data)["lines"]
    time.sleep(2.5)
    read2 = log_events(data)["lines"]
    ASSERT_EQ(read2, read1, "no line read while the store is full")
    ASSERT_TRUE(read2 < n, "reading stopped before the end of the file", f"{read2} of {n}")
    with open(f"/proc/{agent.proc.pid}/status") as f:
        rss = [int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")][0]
    log(f"paused at {read2} of {n} lines, RSS {rss} KiB")
    subprocess.run(["mount", "-o", "remount,size=256m", objects], check=True)
    wait_lines(data, n, "after room was made")
    agent.stop()
    ASSERT_EQ(log_events(data, "kerno.logs.drops")["store_failed"], 0, "lines lost by the store")
    check_exact(seq_counts(read_records(data)), {0: n}, "backpressure")
