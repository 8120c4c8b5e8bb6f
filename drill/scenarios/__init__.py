"""The drill scenarios, as plug-ins: each module declares a `Scenario` and registers it here."""

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drill.grading import Scorecard


@dataclass(frozen=True)
class Scenario:
    """A drill: the services it poisons and the grader that says whether they are fixed."""

    id: str
    title: str
    services: tuple[str, ...]
    grade: Callable[[Path], Coroutine[Any, Any, Scorecard]]


def registry() -> dict[str, Scenario]:
    """Every scenario, by id."""
    from drill.scenarios import float_drift, n_plus_one

    return {scenario.id: scenario for scenario in (float_drift.SCENARIO, n_plus_one.SCENARIO)}
