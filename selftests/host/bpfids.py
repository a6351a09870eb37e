"""Which BPF objects a process holds, from /proc/PID/fdinfo.

Not bpftool's "pids" field: Debian's bpftool is built without the skeleton
support that field needs.
"""

import os


def ids_held_by(pid, kind):
    """Ids of the BPF objects of `kind` ("prog" or "map") whose fds `pid`
    holds (program fds and link fds both name a prog_id)."""
    key = f"{kind}_id:"
    ids = set()
    fdinfo = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                ids.update(int(line.split()[1]) for line in f if line.startswith(key))
        except (FileNotFoundError, ValueError):
            pass
    return ids
