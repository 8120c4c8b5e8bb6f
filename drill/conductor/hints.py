"""`drill hint`: the scenario's hints, one more each time, every reveal recorded."""

from drill.conductor.content import Content
from drill.conductor.journal import HINT, Drill


def used(drill: Drill) -> int:
    """How many hints the team has taken in this drill."""
    return len(drill.of_kind(HINT))


def revealed(drill: Drill, content: Content) -> list[str]:
    """The hints already shown, in order."""
    return list(content.hints[: used(drill)])


def next_hint(drill: Drill, content: Content) -> tuple[int, str] | None:
    """(number, text) of the next hint, or None when all are used."""
    n = used(drill)
    return (n + 1, content.hints[n]) if n < len(content.hints) else None
