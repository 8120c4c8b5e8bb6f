"""The drill scenarios, as plug-ins: each module declares a `Scenario` and registers it here."""

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drill.grading import Reporter, Scorecard


@dataclass(frozen=True)
class Scenario:
    """A drill: the services it poisons and the grader that says whether they are fixed."""

    # The instructor's name for the drill: it names the planted fault, so trainees never see it.
    id: str
    # What trainees type and read: the paged symptom area, never the mechanism.
    codename: str
    # The symptom as the page states it (the verify scorecard's heading).
    title: str
    services: tuple[str, ...]
    # The checks whose names and measures say no more than the page: all a team sees of the
    # scorecard until its diagnosis is right (the others would name the cause).
    symptoms: frozenset[str]
    # Grades the lab serving the tree at Path; calls the Reporter as each check completes.
    grade: Callable[[Path, Reporter | None], Coroutine[Any, Any, Scorecard]]


def registry() -> dict[str, Scenario]:
    """Every scenario, by id."""
    from drill.scenarios import circular_deadlock, float_drift, n_plus_one

    scenarios = (float_drift.SCENARIO, circular_deadlock.SCENARIO, n_plus_one.SCENARIO)
    return {scenario.id: scenario for scenario in scenarios}


class UnknownScenario(ValueError):
    """No drill has that codename (or id); the message lists the codenames only."""


def find(name: str) -> Scenario:
    """The drill a trainee names by its codename, or an instructor by its id."""
    for scenario in registry().values():
        if name in (scenario.codename, scenario.id):
            return scenario
    raise UnknownScenario(f"unknown drill {name!r}; choose one of: {codenames()}")


def codenames() -> str:
    """Every drill's codename, as a message lists them."""
    return ", ".join(scenario.codename for scenario in registry().values())


def codename(scenario_id: str) -> str:
    """The codename of a drill recorded by its id (the drill log keeps ids)."""
    scenario = registry().get(scenario_id)
    return scenario.codename if scenario is not None else scenario_id
