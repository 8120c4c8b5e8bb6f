"""Scoring a team's findings against a pull request's answer key.

A finding is FILE:LINE:ITEM. It matches a planted fault when the file and the checklist item
are the same and the line falls in one of the fault's line ranges, give or take TOLERANCE lines
(a reviewer may point at the decorator above a function, or the closing line of a call). Each
fault counts once: a second finding on an already found fault is a duplicate, not a false
alarm. Every other finding is a false alarm.
"""

import re
from dataclasses import dataclass
from enum import StrEnum

from drill.checklist import Item
from drill.review.catalogue import Fault

TOLERANCE = 2
_FINDING = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<line>\d+):(?P<item>[a-z-]+)$")


class BadFinding(ValueError):
    """A --finding that is not FILE:LINE:ITEM with a known item."""


class Verdict(StrEnum):
    """What a submitted finding turned out to be."""

    FOUND = "found"
    DUPLICATE = "duplicate"
    FALSE_ALARM = "false-alarm"


@dataclass(frozen=True)
class Finding:
    """One thing a team says is wrong."""

    file: str
    line: int
    item: Item

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.item}"


def parse_finding(text: str) -> Finding:
    """FILE:LINE:ITEM, e.g. services/billing/ledger.py:90:string-built-sql-or-shell."""
    match = _FINDING.match(text.strip())
    if match is None:
        raise BadFinding(
            f"finding {text!r} is not FILE:LINE:ITEM "
            "(e.g. services/billing/ledger.py:90:float-money)"
        )
    try:
        item = Item(match.group("item"))
    except ValueError:
        items = ", ".join(i.value for i in Item)
        raise BadFinding(
            f"finding {text!r}: unknown checklist item {match.group('item')!r}; one of: {items}"
        ) from None
    line = int(match.group("line"))
    if line < 1:
        raise BadFinding(f"finding {text!r}: lines start at 1")
    file = match.group("file").removeprefix("./")
    return Finding(file, line, item)


@dataclass(frozen=True)
class Score:
    """The outcome of one submission."""

    verdicts: tuple[tuple[Finding, Verdict], ...]
    missed: tuple[Fault, ...]
    planted: int

    @property
    def found(self) -> int:
        """Planted faults the team found."""
        return self.planted - len(self.missed)

    @property
    def false_alarms(self) -> int:
        """Findings that point at no planted fault."""
        return sum(1 for _, verdict in self.verdicts if verdict is Verdict.FALSE_ALARM)


def score(faults: tuple[Fault, ...], findings: list[Finding], tolerance: int = TOLERANCE) -> Score:
    """Match the findings against the planted faults."""
    found: set[int] = set()
    verdicts = []
    for finding in findings:
        hits = [
            i
            for i, fault in enumerate(faults)
            if fault.covers(finding.file, finding.line, finding.item, tolerance)
        ]
        fresh = [i for i in hits if i not in found]
        if fresh:
            found.add(fresh[0])
            verdicts.append((finding, Verdict.FOUND))
        elif hits:
            verdicts.append((finding, Verdict.DUPLICATE))
        else:
            verdicts.append((finding, Verdict.FALSE_ALARM))
    missed = tuple(fault for i, fault in enumerate(faults) if i not in found)
    return Score(tuple(verdicts), missed, len(faults))
