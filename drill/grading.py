"""The scorecard every grader produces: one line per check, with what was measured."""

import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from drill.database import LabDatabase


class LabUnreachable(Exception):
    """The lab does not answer, so nothing can be graded (exit code 2)."""


class UnknownCheck(Exception):
    """`drill verify --check` named a check the grader does not have (exit code 2)."""


# The checks `drill verify --check NAME` asked for; None: every check.
ONLY: ContextVar[frozenset[str] | None] = ContextVar("only", default=None)


@dataclass(frozen=True)
class Measured:
    """What a check returns: its verdict and the evidence for it."""

    passed: bool
    measured: str
    expected: str
    detail: str = ""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: what it expected and what it measured. A check that passed
    where its fault cannot happen (a race on a database that serialises writes) is not proven."""

    name: str
    passed: bool
    measured: str
    expected: str
    detail: str = ""
    proven: bool = True
    duration_s: float = 0.0


@dataclass
class Scorecard:
    """Every check of one grading run."""

    scenario: str
    checks: list[CheckResult] = field(default_factory=list)
    duration_s: float = 0.0
    database: str = "unknown"

    @property
    def passed(self) -> bool:
        """True when every check passed, and was proven."""
        return bool(self.checks) and all(c.passed and c.proven for c in self.checks)

    @property
    def unproven(self) -> list[CheckResult]:
        """Checks that passed where their fault could not have shown."""
        return [c for c in self.checks if c.passed and not c.proven]

    def veiled(self, shown: Collection[str]) -> "Scorecard":
        """The scorecard as a team sees it before its diagnosis is right (see `veiled`)."""
        return replace(self, checks=[veiled(check, shown) for check in self.checks])

    def as_json(self) -> dict[str, Any]:
        """The scorecard as `drill verify --json` prints it."""
        return {
            "scenario": self.scenario,
            "passed": self.passed,
            "database": self.database,
            "duration_s": round(self.duration_s, 2),
            "checks": [asdict(check) for check in self.checks],
        }


# What a veiled check says instead of its name and measure.
VEILED = "named after a right `drill diagnose`"


def veiled(check: CheckResult, shown: Collection[str]) -> CheckResult:
    """The check as a team sees it before its diagnosis is right: unless its name is one of
    `shown` (checks that say no more than the page), only its verdict, since a check's name and
    measure would tell the team the cause it has to find."""
    if check.name in shown:
        return check
    return replace(check, name="a check", measured=VEILED, expected="", detail="")


def print_check(console: Console, check: CheckResult) -> None:
    """One line for the check with what it measured; on failure, what was expected and why."""
    mark = "[green]PASS[/]" if check.passed else "[red]FAIL[/]"
    if check.passed and not check.proven:
        mark = "[yellow]NOT PROVEN[/]"
    console.print(f"{mark}  {check.name}: {check.measured}", soft_wrap=True, highlight=False)
    if check.passed and not check.proven and check.detail:
        console.print(f"      [dim]{check.detail}[/]", soft_wrap=True, highlight=False)
    if not check.passed and check.expected:
        console.print(f"      [dim]expected {check.expected}[/]", soft_wrap=True)
        if check.detail:
            console.print(f"      [dim]{check.detail}[/]", soft_wrap=True, highlight=False)


def print_verdict(console: Console, card: Scorecard) -> None:
    """The closing line of a scorecard."""
    failed = sum(not check.passed for check in card.checks)
    if card.passed:
        verdict = "[bold green]PASS[/]: the fix holds"
    elif failed:
        verdict = f"[bold red]FAIL[/]: {failed} of {len(card.checks)} checks failed"
    else:
        verdict = (
            f"[bold yellow]NOT PROVEN[/]: {len(card.unproven)} concurrency checks cannot fail on "
            f"{card.database}; run the lab on PostgreSQL (docs/grading.md)"
        )
    console.print(f"{verdict} ({card.duration_s:.1f} s, graded on {card.database})")


Check = Callable[[], Awaitable[Measured]]
Reporter = Callable[[CheckResult], None]
"""Called with each check's result as soon as it is known (progress for long gradings)."""


async def run_checks(
    scenario: str,
    checks: Sequence[tuple[str, Check]],
    report: Reporter | None = None,
    database: LabDatabase | None = None,
    race_checks: Collection[str] = (),
) -> Scorecard:
    """Run each check in turn; a check that raises fails with the error, and grading goes on.
    The checks named in `race_checks` prove something only where writes can race (`database`)."""
    only = ONLY.get()
    if only is not None:
        names = [name for name, _ in checks]
        unknown = sorted(only - set(names))
        if unknown:
            raise UnknownCheck(
                f"no check named {', '.join(map(repr, unknown))}; the checks are: "
                + "; ".join(names)
            )
        checks = [(name, check) for name, check in checks if name in only]
    card = Scorecard(scenario, database=database.kind if database else "unknown")
    races = database is not None and database.races_possible
    unproven = (
        f"not proven: on {card.database} concurrent writes never interleave, so a race "
        "this check looks for could not happen"
    )
    start = time.perf_counter()
    for name, check in checks:
        check_start = time.perf_counter()
        try:
            outcome = await check()
            result = CheckResult(name, **asdict(outcome))
            if name in race_checks and not races:
                note = f"{unproven}; {result.detail}" if result.detail else unproven
                result = replace(result, proven=False, detail=note)
        except httpx.TransportError as exc:
            result = CheckResult(
                name, False, f"lab stopped answering: {type(exc).__name__}", "answers"
            )
        except Exception as exc:  # any grader error is a failed check, never a crash
            result = CheckResult(name, False, f"{type(exc).__name__}: {exc}", "no error")
        result = replace(result, duration_s=round(time.perf_counter() - check_start, 2))
        card.checks.append(result)
        if report is not None:
            report(result)
    card.duration_s = time.perf_counter() - start
    return card


class LoadRun(Protocol):
    """One burst of a grader's load: whether it met the bound, and whether a miss was small."""

    @property
    def passed(self) -> bool: ...

    @property
    def noise_sized(self) -> bool:
        """A miss the size of a noisy neighbour on a shared machine, not of a planted fault."""
        ...

    @property
    def summary(self) -> str: ...


R = TypeVar("R", bound=LoadRun)


async def load_runs(load: Callable[[], Awaitable[R]], attempts: int) -> list[R]:
    """Run the load once; a noise-sized miss earns another run, up to `attempts` runs in all."""
    runs = [await load()]
    while not runs[-1].passed and runs[-1].noise_sized and len(runs) < attempts:
        runs.append(await load())
    return runs


def describe_runs(runs: Sequence[LoadRun]) -> str:
    """Every run's summary, numbered, for the scorecard."""
    return "; ".join(f"run {n}: {run.summary}" for n, run in enumerate(runs, start=1))


# How to pause and resume the drill's own load generator, when a drill runs one (set by `drill
# verify`); None outside a drill.
NEIGHBOURS: ContextVar[tuple[Callable[[], object], Callable[[], object]] | None] = ContextVar(
    "neighbours", default=None
)


@contextlib.asynccontextmanager
async def quiet_neighbours() -> AsyncIterator[None]:
    """Pause the drill's own load while a latency check measures, and resume it after.

    Latency SLOs are stated at the grader's own concurrency (runbooks/specs/): with the drill's
    Locust load on top, the same service would be measured at several times that, and a correct
    fix would fail at random. Every other check runs with the load going, where it adds the
    contention that exposes races and silent fallbacks.
    """
    hooks = NEIGHBOURS.get()
    if hooks is None:
        yield
        return
    pause, resume = hooks
    pause()
    try:
        yield
    finally:
        resume()


def metric_samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample called `name` in a /metrics page, with its labels."""
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def percentile(samples: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of the samples (pct in 0..100)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(len(ordered) * pct / 100))
    return ordered[rank - 1]


async def require_ready(client: httpx.AsyncClient, service: str, url: str) -> None:
    """Raise LabUnreachable unless the service answers /readyz."""
    try:
        response = await client.get(f"{url}/readyz", timeout=5.0)
    except httpx.TransportError as exc:
        raise LabUnreachable(
            f"{service} does not answer at {url} ({type(exc).__name__}); start the lab: drill up"
        ) from exc
    if response.status_code != 200:
        raise LabUnreachable(f"{service} at {url} is not ready: {response.text[:300]}")
