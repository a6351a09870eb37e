"""Runs h2load in HTTP/1.1 mode and parses the totals it prints.

h2load is the load generator of the Done-when criteria; its own totals are
the ground truth the agent's counts are compared with.
"""

import re
import subprocess

_REQUESTS = re.compile(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                       r"(\d+) failed, (\d+) errored, (\d+) timeout", re.M)
_STATUS = re.compile(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", re.M)
_FINISHED = re.compile(r"^finished in [\d.]+m?s, ([\d.]+) req/s", re.M)


class H2loadResult:
    def __init__(self, output, pid=None):
        self.output = output
        self.pid = pid
        req = _REQUESTS.search(output)
        status = _STATUS.search(output)
        if not req or not status:
            raise ValueError(f"unexpected h2load output:\n{output}")
        (self.total, self.started, self.done, self.succeeded,
         self.failed, self.errored, self.timeout) = map(int, req.groups())
        self.status_classes = dict(zip(("2xx", "3xx", "4xx", "5xx"), map(int, status.groups())))
        finished = _FINISHED.search(output)
        self.req_per_s = float(finished.group(1)) if finished else 0.0

    def status_class_count(self, status):
        """Responses h2load saw in the class of `status` (200 -> 2xx)."""
        return self.status_classes[f"{status // 100}xx"]


def run(url, n=None, clients=20, pipeline=1, duration=None, warmup=None, cpu=None,
        timeout=300, log_file=None):
    """Runs `h2load --h1` to completion; returns an H2loadResult with its pid.
    `url` may be a list: h2load then sends to each in turn. With log_file,
    h2load writes a line per request there (see request_times())."""
    argv = ["h2load", "--h1", "-t", "1", "-c", str(clients), "-m", str(pipeline)]
    argv += ["-n", str(n)] if n else ["-D", str(duration)]
    if warmup:
        argv += ["--warm-up-time", str(warmup)]
    if log_file:
        argv += ["--log-file", log_file]
    argv += url if isinstance(url, (list, tuple)) else [url]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"h2load exited {proc.returncode}:\n{out}")
    return H2loadResult(out, proc.pid)


def request_times(log_file):
    """Seconds from each request's start to its response's end, from the
    --log-file h2load wrote (start in us since the epoch, status, us)."""
    with open(log_file) as f:
        return [int(line.split("\t")[2]) / 1e6 for line in f if line.strip()]
