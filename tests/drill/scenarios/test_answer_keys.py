"""Answer keys and graders agree: every fix an answer key accepts or rejects names the test that
proves it, and every such test is listed in its drill's answer key."""

import ast
import re

import pytest

from drill.scenarios import registry
from tests.conftest import REPO

SECTION = "## What the grader accepts and rejects"
LISTS = ("### Accepted fixes", "### Rejected wrong fixes")
BULLET = re.compile(r"^- `(test_\w+)`:", re.MULTILINE)
REFERENCE = "test_reference_fix_passes_every_check"


def listed(text: str) -> dict[str, set[str]]:
    """The tests each list of an answer key's section names."""
    assert SECTION in text, f"no '{SECTION}' section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    found = {}
    for heading in LISTS:
        assert heading in section, f"no '{heading}' list"
        body = section.split(heading, 1)[1].split("\n### ", 1)[0]
        found[heading] = set(BULLET.findall(body))
    return found


def grader_tests(scenario: str) -> set[str]:
    """The test functions of the drill's grader test module."""
    module = REPO / "tests" / "drill" / "scenarios" / f"test_{scenario.replace('-', '_')}_grader.py"
    tree = ast.parse(module.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("scenario", sorted(registry()))
def test_every_listed_fix_has_its_test_and_every_fix_test_is_listed(scenario: str) -> None:
    lists = listed((REPO / "runbooks" / "instructor" / f"{scenario}.md").read_text())
    tests = grader_tests(scenario)
    accepted, rejected = lists["### Accepted fixes"], lists["### Rejected wrong fixes"]

    assert REFERENCE in accepted
    assert accepted - {REFERENCE} == {t for t in tests if t.startswith("test_accepts_")}
    assert rejected == {t for t in tests if t.startswith("test_rejects_")}
    assert accepted | rejected <= tests | {REFERENCE}
    assert len(rejected) >= 2, "a grader must be shown to fail at least two plausible wrong fixes"


def test_the_section_parser_reads_only_its_own_lists() -> None:
    """The parser itself: a bullet outside the section, or under another heading, is not read."""
    text = (
        "- `test_rejects_outside`: before the section\n"
        f"{SECTION}\n### Accepted fixes\n- `test_reference_fix_passes_every_check`: ref\n"
        "### Rejected wrong fixes\n- `test_rejects_a`: a\n- `test_rejects_b`: b\n"
        "## Debrief\n- `test_rejects_after`: after\n"
    )
    lists = listed(text)

    assert lists["### Rejected wrong fixes"] == {"test_rejects_a", "test_rejects_b"}
    assert lists["### Accepted fixes"] == {REFERENCE}
