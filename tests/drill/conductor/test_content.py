"""Every scenario brings its drill content, and the page it sends says the symptom, not the
cause."""

import pytest

from drill.conductor import content, diagnose
from drill.scenarios import registry
from tests.conftest import REPO

SCENARIOS = sorted(registry())
# Words that would give a cause away: every drill's, since a page must not hint at any of them.
CAUSE_WORDS = {word for s in SCENARIOS for word in content.load(REPO, s).cause_words}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_has_complete_drill_content(scenario: str) -> None:
    found = content.load(REPO, scenario)

    assert found.source == REPO / "runbooks" / "instructor" / f"{scenario}.yml"
    assert len(found.hints) >= 3
    assert found.spec_guardrails and found.pr_guardrails and found.impact
    assert found.load_users >= 1
    for question in found.questions:
        assert question.answers and question.answers <= question.choices.keys()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_page_says_the_symptom_never_the_cause(scenario: str) -> None:
    page = content.load(REPO, scenario).pager.lower()

    assert not [word for word in CAUSE_WORDS if word in page]
    assert not [s for s in SCENARIOS if s in page]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_right_mechanism_is_not_simply_the_first_choice(scenario: str) -> None:
    mechanism = content.load(REPO, scenario).questions[1]

    assert next(iter(mechanism.choices)) not in mechanism.answers


def test_a_choice_is_taken_by_key_or_number_and_anything_else_is_refused() -> None:
    question = content.load(REPO, "float-drift").questions[0]

    assert diagnose.resolve(question, "billing") == "billing"
    assert diagnose.resolve(question, "1") == next(iter(question.choices))
    with pytest.raises(diagnose.BadChoice, match="choose one of"):
        diagnose.resolve(question, "the database")
    mechanism = content.load(REPO, "float-drift").questions[1]
    with pytest.raises(diagnose.BadChoice, match=r"choose one of: 1, 2, 3, 4, 5$") as refused:
        diagnose.resolve(mechanism, "6")
    assert not [key for key in mechanism.choices if key in str(refused.value)]


def test_missing_content_is_an_error_that_names_the_file() -> None:
    with pytest.raises(content.ContentError, match=r"no-such-drill\.yml"):
        content.load(REPO, "no-such-drill")
