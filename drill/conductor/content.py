"""Each scenario's drill content: pager text, hints, diagnosis choices and answer, root cause,
fix, guardrails and impact metrics.

It lives beside the answer keys, in runbooks/instructor/<scenario>.yml, not in the code trainees
read while they investigate. A new scenario brings its own file; nothing here names a scenario.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from drill.paths import INSTALLED_REPO
from drill.services import SERVICES

INSTRUCTOR_DIR = Path("runbooks") / "instructor"


class ContentError(Exception):
    """A scenario's content file is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class Question:
    """A multiple-choice question of `drill diagnose`."""

    key: str
    question: str
    choices: dict[str, str]  # key -> text, in the order shown
    answers: frozenset[str]  # the keys counted right


@dataclass(frozen=True)
class ImpactMetric:
    """A measure of the harm done, read from a service's /metrics during the drill."""

    label: str
    services: tuple[str, ...]  # summed over these
    metric: str
    kind: str = "value"  # "value": sum of the samples; "p99": from a latency histogram
    route: str | None = None
    scale: float = 1.0
    unit: str = ""


@dataclass(frozen=True)
class Content:
    """Everything the conductor says about one scenario."""

    scenario: str
    load_users: int
    pager: str
    hints: tuple[str, ...]
    questions: tuple[Question, ...]
    root_cause: str
    fix: str
    spec_guardrails: tuple[str, ...]
    pr_guardrails: tuple[str, ...]
    impact: tuple[ImpactMetric, ...]
    wrap_up: tuple[str, ...]
    # Words that name the planted cause or its fix: nothing a trainee sees may hold one.
    cause_words: tuple[str, ...]
    source: Path


def content_dir(root: Path) -> Path:
    """runbooks/instructor of the lab tree, or of the installed checkout when the tree has
    none."""
    own = root / INSTRUCTOR_DIR
    return own if own.is_dir() else INSTALLED_REPO / INSTRUCTOR_DIR


def _texts(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
        raise ContentError(f"{where} must be a list of texts")
    return tuple(x.strip() for x in raw)


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ContentError(f"{where} must be a text")
    return raw.strip()


def _pager(text: str) -> str:
    """The page as two lines, its headline and its body: the file wraps the body to fit an
    editor, a terminal or a chat window wraps it again to fit itself."""
    headline, *body = text.splitlines()
    return f"{headline.strip()}\n{' '.join(line.strip() for line in body if line.strip())}"


def load(root: Path, scenario: str) -> Content:
    """The scenario's content, validated (every field the conductor needs is there)."""
    path = content_dir(root) / f"{scenario}.yml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContentError(f"no drill content for {scenario!r}: {path} is missing") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ContentError(f"cannot read {path}: {exc}") from None
    try:
        return _parse(raw, scenario, path)
    except (KeyError, TypeError, ValueError) as exc:
        raise ContentError(f"{path} is malformed: {exc!r}") from None


def _parse(raw: dict[str, Any], scenario: str, path: Path) -> Content:
    if raw.get("scenario") != scenario:
        raise ContentError(f"{path} says scenario {raw.get('scenario')!r}, not {scenario!r}")
    diagnosis = raw["diagnosis"]
    where = [str(s) for s in diagnosis["services"]]
    if unknown := set(where) - SERVICES.keys():
        raise ContentError(f"{path}: diagnosis.services names unknown services {unknown}")
    service_q = Question(
        "service",
        "Which service holds the root cause?",
        {name: name for name in SERVICES},
        frozenset(where),
    )
    mech = diagnosis["mechanism"]
    choices = {str(k): _text(v, f"{path}: choice {k}") for k, v in mech["choices"].items()}
    if mech["answer"] not in choices:
        raise ContentError(f"{path}: the mechanism answer is not one of its choices")
    mechanism_q = Question(
        "mechanism", _text(mech["question"], "question"), choices, frozenset({mech["answer"]})
    )
    impact = tuple(
        ImpactMetric(
            label=_text(item["label"], f"{path}: impact label"),
            services=(str(item["service"]), *(str(s) for s in item.get("also", []))),
            metric=_text(item["metric"], f"{path}: impact metric"),
            kind=str(item.get("kind", "value")),
            route=item.get("route"),
            scale=float(item.get("scale", 1)),
            unit=str(item.get("unit", "")),
        )
        for item in raw.get("impact", [])
    )
    users = int(raw["load_users"])
    if users < 1:
        raise ContentError(f"{path}: load_users must be at least 1")
    return Content(
        scenario=scenario,
        load_users=users,
        pager=_pager(_text(raw["pager"], f"{path}: pager")),
        hints=_texts(raw["hints"], f"{path}: hints"),
        questions=(service_q, mechanism_q),
        root_cause=_text(raw["root_cause"], f"{path}: root_cause"),
        fix=_text(raw["fix"], f"{path}: fix"),
        spec_guardrails=_texts(raw["guardrails"]["spec"], f"{path}: guardrails.spec"),
        pr_guardrails=_texts(raw["guardrails"]["pr_checklist"], f"{path}: guardrails.pr"),
        impact=impact,
        wrap_up=_texts(raw.get("wrap_up", []), f"{path}: wrap_up"),
        cause_words=tuple(w.lower() for w in _texts(raw["cause_words"], f"{path}: cause_words")),
        source=path,
    )
