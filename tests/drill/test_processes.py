"""drill.processes: a recorded process is signalled only while its pid is still that process."""

import signal
import sys
from pathlib import Path

import pytest

from drill import processes

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
needs_proc = pytest.mark.skipif(not processes.PROC.is_dir(), reason="no /proc here")


def test_a_spawned_process_is_recorded_with_its_start_time_and_stopped(tmp_path: Path) -> None:
    child, process = processes.spawn(SLEEPER, cwd=tmp_path, env={}, log=tmp_path / "log")
    try:
        assert process.pid == child.pid
        assert processes.alive(process)
        processes.stop_groups([process], timeout=5)
        assert not processes.alive(process)
        assert child.poll() is not None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@needs_proc
def test_a_pid_that_now_belongs_to_another_process_is_never_signalled(tmp_path: Path) -> None:
    child, process = processes.spawn(SLEEPER, cwd=tmp_path, env={}, log=tmp_path / "log")
    try:
        assert process.started is not None
        # The same pid, recorded with another start time: what a reused pid looks like.
        impostor = processes.Process(process.pid, process.started + 1)
        assert not processes.alive(impostor)
        assert not processes.signal_group(impostor, signal.SIGKILL)
        processes.stop_groups([impostor], timeout=0.2)
        assert child.poll() is None, "the process that now holds the pid was signalled"
    finally:
        child.kill()
        child.wait()


def test_pids_that_name_groups_or_everyone_are_never_alive() -> None:
    for pid in (0, -1):
        assert not processes.alive(processes.Process(pid))
        assert not processes.signal_group(processes.Process(pid), signal.SIGTERM)


@needs_proc
def test_a_process_that_exited_is_not_alive(tmp_path: Path) -> None:
    quick = [sys.executable, "-c", "pass"]
    child, process = processes.spawn(quick, cwd=tmp_path, env={}, log=tmp_path / "log")
    assert process.started is not None  # identified before anything could reap it
    child.wait()
    assert not processes.alive(process)
