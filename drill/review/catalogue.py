"""The catalogue of flawed pull requests, and their answer keys.

Each pull request is a folder `catalogue/<id>/` holding `pr.toml` (title, author, description)
and `change.patch` (a `git diff` against the current services, applied from the repo root).
Answer keys live apart, in `answer_keys/<id>.toml`, read only when a submission is scored: the
catalogue is what trainees see, the keys are for instructors (answer_keys/README.md).
"""

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from drill.checklist import Item

HERE = Path(__file__).resolve().parent
CATALOGUE = HERE / "catalogue"
ANSWER_KEYS = HERE / "answer_keys"
_ID = re.compile(r"^pr-\d{2}$")


class CatalogueError(Exception):
    """An unknown pull request id, or a catalogue entry that does not load."""


@dataclass(frozen=True)
class PullRequest:
    """A flawed change, as a reviewer sees it."""

    id: str
    title: str
    author: str
    description: str
    patch: str

    @property
    def files(self) -> list[str]:
        """The files the change touches (paths after the change)."""
        return re.findall(r"^\+\+\+ b/(\S+)$", self.patch, flags=re.MULTILINE)


@dataclass(frozen=True)
class Fault:
    """One planted fault: where it is (line ranges in the file after the change) and what."""

    file: str
    ranges: tuple[tuple[int, int], ...]
    item: Item
    audit: bool  # whether `drill audit` finds it
    why: str
    human_only: str | None  # why only a reviewer can find it, when the audit cannot

    def covers(self, file: str, line: int, item: Item, tolerance: int) -> bool:
        """Whether a finding at file:line for item points at this fault."""
        return (
            item is self.item
            and file == self.file
            and any(start - tolerance <= line <= end + tolerance for start, end in self.ranges)
        )


def ids() -> list[str]:
    """Every pull request id of the catalogue, in order."""
    return sorted(p.name for p in CATALOGUE.iterdir() if p.is_dir() and _ID.match(p.name))


@cache
def load(pr_id: str) -> PullRequest:
    """The pull request with this id."""
    folder = _folder(pr_id)
    try:
        meta = tomllib.loads((folder / "pr.toml").read_text(encoding="utf-8"))
        patch = (folder / "change.patch").read_text(encoding="utf-8")
        return PullRequest(
            id=pr_id,
            title=str(meta["title"]),
            author=str(meta["author"]),
            description=str(meta["description"]).strip(),
            patch=patch,
        )
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"pull request {pr_id} does not load: {exc}") from exc


@cache
def answer_key(pr_id: str) -> tuple[Fault, ...]:
    """The faults planted in the pull request (instructors' answer key)."""
    _folder(pr_id)
    path = ANSWER_KEYS / f"{pr_id}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        faults = []
        for entry in data["fault"]:
            ranges = [tuple(entry["lines"]), *(tuple(r) for r in entry.get("also", []))]
            faults.append(
                Fault(
                    file=str(entry["file"]),
                    ranges=tuple((int(a), int(b)) for a, b in ranges),
                    item=Item(entry["item"]),
                    audit=bool(entry["audit"]),
                    why=str(entry["why"]).strip(),
                    human_only=entry.get("human_only"),
                )
            )
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"the answer key of {pr_id} does not load: {exc}") from exc
    return tuple(faults)


def _folder(pr_id: str) -> Path:
    if pr_id not in ids():
        known = ", ".join(ids())
        raise CatalogueError(f"no pull request {pr_id!r} in the catalogue; choose one of: {known}")
    return CATALOGUE / pr_id
