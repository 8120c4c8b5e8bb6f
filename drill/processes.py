"""The background processes `drill` starts (the local lab's services, its Prometheus and
Alertmanager, a drill's Locust load), and the one way to signal them.

Each is started in a session of its own, so that its process group id is its pid and a signal
reaches its children too; it outlives the `drill` command that started it, so the pid is written
down (the local lab's `.drill/lab.json`, the drill log). A pid alone is not enough to signal it
later: once the process exits, the system may give the number to any other program (another
user's, another lab's). So every launch also records the process's start time (field 22 of
/proc/<pid>/stat, clock ticks since boot), and no signal is sent unless the pid still belongs to
a process that started at that same time. Where there is no /proc (not Linux), or for a pid
recorded without its start time, only the pid is checked.
"""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Process:
    """A process `drill` started: its pid, and its start time when known."""

    pid: int
    started: int | None = None  # clock ticks since boot (/proc/<pid>/stat); None: not recorded


def _stat(pid: int) -> tuple[str, int] | None:
    """State and start time of a live pid, from /proc/<pid>/stat; None when there is no such
    process (or no /proc)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last
    # ")". The fields after it start at field 3 (state); starttime is field 22.
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def start_time(pid: int) -> int | None:
    """When the process holding pid started (clock ticks since boot); None when unknown."""
    stat = _stat(pid)
    return None if stat is None else stat[1]


def identify(pid: int) -> Process:
    """The process holding pid now, with its start time (for a child not yet reaped, even if it
    has exited already)."""
    return Process(pid, start_time(pid))


def reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (so it does not linger as a
    zombie)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def alive(process: Process) -> bool:
    """Whether the process still runs and is the one recorded (not a program that reused the
    pid). Never true for pid 0 or below: to kill(2) those mean a whole process group, or every
    process."""
    if process.pid <= 0:
        return False
    reap(process.pid)
    if not PROC.is_dir():  # no /proc to check against: the pid is all there is
        try:
            os.kill(process.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    stat = _stat(process.pid)
    if stat is None or stat[0] == "Z":  # gone, or exited and waiting for its parent to reap it
        return False
    return process.started is None or stat[1] == process.started


def signal_group(process: Process, sig: signal.Signals) -> bool:
    """Send sig to the process's group (it was started as a session leader: group id = pid),
    only if the process is still the one recorded; True when sent."""
    if not alive(process):
        return False
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_groups(processes: Sequence[Process], timeout: float, poll: float = 0.1) -> None:
    """SIGTERM to each process's group, then SIGKILL to any still running after `timeout`
    seconds (all of them waited on together)."""
    for process in processes:
        signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        while alive(process) and time.monotonic() < deadline:
            time.sleep(poll)
        signal_group(process, signal.SIGKILL)
        reap(process.pid)


def spawn(
    argv: Sequence[str], *, cwd: Path, env: dict[str, str], log: Path
) -> tuple["subprocess.Popen[bytes]", Process]:
    """Start argv in the background, in a session of its own, its output appended to log; return
    the child and its identity (recorded before anything can reap it)."""
    with log.open("ab") as out:
        child = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
            list(argv),
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return child, identify(child.pid)
