"""Where things are: the lab tree the command serves, and its state folder."""

from pathlib import Path

# The checkout this package was installed from (an editable install): where runbooks/ and loadgen/
# are read when the lab tree is a copy holding only the code it serves (the tests' trees).
INSTALLED_REPO = Path(__file__).resolve().parents[1]


class NotALabTree(Exception):
    """Raised when the command runs outside a checkout of the lab."""


def find_root(start: Path | None = None) -> Path:
    """The lab tree containing `start` (default: the current directory).

    The lab serves the code of the tree it is run from, so a trainee's edits (or a temporary copy
    in the tests) are what runs and what gets graded.
    """
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "services" / "kit").is_dir() and (candidate / "solutions").is_dir():
            return candidate
    raise NotALabTree(
        f"{here} is not inside a 3AM Drill Lab checkout (no services/kit and solutions/ found); "
        "run drill from the repository root"
    )


def state_dir(root: Path) -> Path:
    """The git-ignored folder for the lab's processes, logs, databases and backups."""
    return root / ".drill"
