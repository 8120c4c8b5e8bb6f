"""`drill diagnose`: the team names the root cause (where, and what mechanism) by multiple
choice; the time of each answer measures how fast the team isolated the fault."""

from dataclasses import dataclass
from datetime import timedelta

from drill.conductor.content import Content, Question
from drill.conductor.journal import DIAGNOSIS, Drill

# The drills' success metric (docs/contracts.md): root cause isolated in under 20 minutes.
ISOLATION_TARGET = timedelta(minutes=20)


class BadChoice(ValueError):
    """The answer is not one of the question's choices."""


def named(question: Question) -> bool:
    """Whether the choices are names a team may type (services); otherwise a team sees and gives
    only their numbers, as a choice's key is the instructor's and could name the cause."""
    return all(key == text for key, text in question.choices.items())


def resolve(question: Question, answer: str) -> str:
    """A choice's key, from its number as listed (1-based), or its key."""
    keys = list(question.choices)
    text = answer.strip()
    if text in question.choices:
        return text
    if text.isdigit() and 1 <= int(text) <= len(keys):
        return keys[int(text) - 1]
    listed = ", ".join(
        f"{n} {key}" if named(question) else str(n) for n, key in enumerate(keys, start=1)
    )
    raise BadChoice(f"{answer!r} is not a choice for {question.key!r}; choose one of: {listed}")


@dataclass(frozen=True)
class Verdict:
    """One diagnosis, judged."""

    answers: dict[str, str]  # question key -> choice key
    right: dict[str, bool]

    @property
    def correct(self) -> bool:
        """Every question answered right."""
        return all(self.right.values())


def judge(content: Content, answers: dict[str, str]) -> Verdict:
    """Check each answer (already resolved to choice keys)."""
    return Verdict(answers, {q.key: answers.get(q.key) in q.answers for q in content.questions})


def first_correct(drill: Drill) -> timedelta | None:
    """How long after the page the team first named the root cause right."""
    for event in drill.of_kind(DIAGNOSIS):
        if event.data.get("correct"):
            return event.at - drill.started_at
    return None
