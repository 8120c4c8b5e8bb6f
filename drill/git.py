"""git, as every drill command runs it: an argument list, never a shell."""

import subprocess
from pathlib import Path

NOT_INSTALLED = 127  # the shell's code for a command not found


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`git -C REPO ARGS`, output captured as bytes; exit NOT_INSTALLED when there is no git."""
    argv = ["git", "-C", str(repo), *args]
    try:
        # Arguments only (a REV may come from the command line); git from PATH, as a developer
        # runs it.
        return subprocess.run(argv, capture_output=True, check=False)  # noqa: S603
    except FileNotFoundError:
        return subprocess.CompletedProcess(argv, NOT_INSTALLED, b"", b"git is not installed")
