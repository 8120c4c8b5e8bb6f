"""`drill solve` and `drill reset`: apply a scenario's reference fix to the tree, and undo it.

A reference fix is a folder, solutions/<scenario>/, whose files mirror the repository paths they
replace (its README.md excepted). Solving backs up every file it overwrites into
.drill/backup/<scenario>/; resetting puts them back. Nothing a trainee wrote is ever lost: before
a reset overwrites a file the trainee changed, the file is saved under .drill/saved/.
"""

import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from drill.git import git
from drill.paths import state_dir

MANIFEST = "manifest.json"


class FixError(Exception):
    """A solve or reset could not be done; the message says why."""


@dataclass(frozen=True)
class Outcome:
    """What a solve or reset changed."""

    changed: list[str]
    saved_to: Path | None = None


def fix_files(root: Path, scenario: str) -> list[str]:
    """Repository-relative paths the scenario's reference fix replaces."""
    folder = root / "solutions" / scenario
    if not folder.is_dir():
        raise FixError(f"no reference fix for {scenario!r}: {folder} is missing")
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.name != "README.md" and "__pycache__" not in path.parts
    )


def _backup_dir(root: Path, scenario: str) -> Path:
    return state_dir(root) / "backup" / scenario


def is_solved(root: Path, scenario: str) -> bool:
    """Whether the tree holds this scenario's reference fix (as applied by `solve`)."""
    return (_backup_dir(root, scenario) / MANIFEST).is_file()


def solve(root: Path, scenario: str) -> Outcome:
    """Replace the scenario's poisoned files with the reference fix, backing them up first."""
    files = fix_files(root, scenario)
    backup = _backup_dir(root, scenario)
    if not is_solved(root, scenario):
        created = []
        for rel in files:
            current = root / rel
            if current.exists():
                (backup / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(current, backup / rel)
            else:
                created.append(rel)
        # The manifest is written last: its presence means the backup is complete.
        (backup / MANIFEST).write_text(json.dumps({"files": files, "created": created}, indent=2))
    changed = []
    for rel in files:
        fixed = (root / "solutions" / scenario / rel).read_bytes()
        target = root / rel
        if not target.exists() or target.read_bytes() != fixed:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(fixed)
            changed.append(rel)
    return Outcome(changed)


def reset(root: Path, scenario: str) -> Outcome:
    """Put the scenario's poisoned files back, saving any trainee edits first."""
    files = fix_files(root, scenario)
    poisoned = _poisoned_versions(root, scenario, files)
    solution = root / "solutions" / scenario
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    # Named by time only: the trainee reads this path, and a drill's id names its fault.
    saved = state_dir(root) / "saved" / stamp
    changed, saved_any = [], False
    for rel, original in poisoned.items():
        target = root / rel
        current = target.read_bytes() if target.exists() else None
        if current == original:
            continue
        if current is not None and current != (solution / rel).read_bytes():
            # Neither poisoned nor the reference fix: the trainee's own work. Keep a copy.
            (saved / rel).parent.mkdir(parents=True, exist_ok=True)
            (saved / rel).write_bytes(current)
            saved_any = True
        if original is None:
            target.unlink()
        else:
            target.write_bytes(original)
        changed.append(rel)
    shutil.rmtree(_backup_dir(root, scenario), ignore_errors=True)
    return Outcome(changed, saved if saved_any else None)


def _poisoned_versions(root: Path, scenario: str, files: list[str]) -> dict[str, bytes | None]:
    """Each file's poisoned content (None: the file did not exist before the fix)."""
    backup = _backup_dir(root, scenario)
    if is_solved(root, scenario):
        manifest = json.loads((backup / MANIFEST).read_text())
        return {
            rel: None if rel in manifest["created"] else (backup / rel).read_bytes()
            for rel in manifest["files"]
        }
    # Never solved here: the poisoned code is what the repository committed.
    versions: dict[str, bytes | None] = {}
    for rel in files:
        shown = git(root, "show", f"HEAD:{rel}")
        if shown.returncode != 0:
            if _absent_from_head(root, rel):
                versions[rel] = None  # the fix creates this file: the committed code has none
                continue
            raise FixError(
                f"{scenario} was never solved in this tree and git cannot show HEAD:{rel} "
                f"({shown.stderr.decode(errors='replace').strip()}); nothing to reset from"
            )
        versions[rel] = shown.stdout
    return versions


def _absent_from_head(root: Path, rel: str) -> bool:
    """Whether git answers for the tree and HEAD holds no file at `rel`."""
    listed = git(root, "ls-tree", "--name-only", "HEAD", "--", rel)
    return listed.returncode == 0 and not listed.stdout.strip()


def fixed_copy(root: Path, scenarios: Iterable[str], keep: Iterable[str] = ()) -> Path:
    """A folder whose services/ is the tree's with these scenarios' reference fixes applied, in
    .drill/fixed/<digest>/: what the lab serves the other drills' services from while a drill
    runs, so that only that drill's fault is live. The same content gives the same folder, made
    once (a service already serving it need not restart); every other such folder is removed,
    save those in `keep` (folders running services still serve)."""
    files = {
        path.relative_to(root).as_posix(): path
        for path in sorted((root / "services").rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    for scenario in scenarios:
        for rel in fix_files(root, scenario):
            if not rel.startswith("services/"):
                raise FixError(f"the reference fix of {scenario} reaches outside services/: {rel}")
            files[rel] = root / "solutions" / scenario / rel
    digest = hashlib.sha256()
    for rel, path in sorted(files.items()):
        content = path.read_bytes()
        digest.update(f"{rel}\0{len(content)}\0".encode() + content)
    parent = state_dir(root) / "fixed"
    folder = parent / digest.hexdigest()[:16]
    if not folder.is_dir():
        building = parent / f"{folder.name}.tmp"
        shutil.rmtree(building, ignore_errors=True)
        for rel, path in files.items():
            (building / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, building / rel)
        building.rename(folder)  # complete or absent: a crash leaves only a .tmp to redo
    kept = {folder, *(Path(k) for k in keep)}
    for other in parent.iterdir():
        if other not in kept:
            shutil.rmtree(other, ignore_errors=True)
    return folder
