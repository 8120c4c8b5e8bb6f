"""The drill scenarios, as plug-ins: each module declares a `Scenario` and registers it here."""

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drill.grading import Reporter, Scorecard


@dataclass(frozen=True)
class Scenario:
    """A drill: the services it poisons and the grader that says whether they are fixed."""

    id: str
    title: str
    services: tuple[str, ...]
    # Grades the lab serving the tree at Path; calls the Reporter as each check completes.
    grade: Callable[[Path, Reporter | None], Coroutine[Any, Any, Scorecard]]


def registry() -> dict[str, Scenario]:
    """Every scenario, by id."""
    from drill.scenarios import circular_deadlock, float_drift, n_plus_one

    scenarios = (float_drift.SCENARIO, circular_deadlock.SCENARIO, n_plus_one.SCENARIO)
    return {scenario.id: scenario for scenario in scenarios}
