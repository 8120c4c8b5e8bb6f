"""Trees with a catalogued pull request applied, as a reviewer would check it out."""

import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run git in cwd (an identity of its own, so commits work on any machine)."""
    return subprocess.run(
        ["git", "-c", "user.name=drill", "-c", "user.email=drill@example.test", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def services_repo(destination: Path) -> Path:
    """A git repository holding a copy of the current (poisoned) services, committed."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        REPO / "services", destination / "services", ignore=shutil.ignore_patterns("__pycache__")
    )
    for args in (("init", "-q"), ("add", "-A"), ("commit", "-qm", "current services")):
        result = git(destination, *args)
        assert result.returncode == 0, result.stderr
    return destination
