"""What a trainee sees of the tree during a drill names symptoms, never a planted cause: no drill
id (the ids name the faults) and no word of any drill's cause list (runbooks/instructor/*.yml,
`cause_words`) in the observability configuration, the compose files, the load, the README, the
alert runbook, the services' own READMEs and package docstrings, or any file or folder name
outside the instructor's material."""

import ast
import io
import tokenize
from pathlib import Path

import pytest

from drill.conductor import content
from drill.git import git
from drill.scenarios import registry
from tests.conftest import REPO

IDS = tuple(registry())
CAUSE_WORDS = {word for scenario in IDS for word in content.load(REPO, scenario).cause_words}
# The instructor's material and the proofs: answer keys, reference fixes, graders, their docs and
# tests. Everything else is the trainee's view.
INSTRUCTOR = (
    "runbooks/instructor/",
    "solutions/",
    "drill/scenarios/",
    "drill/review/answer_keys/",
    "docs/grading/",
    "tests/",
    "scripts/bench_",
    # General guidance, the same for every drill: the PR checklist's audit (refused while a
    # drill runs) names checklist items, not a drill's fault.
    "drill/audit/",
)
SPECS = "runbooks/specs/"
# Files a trainee reads whole during a drill (the services' code is the scene itself, exempt).
READ_WHOLE = (
    "README.md",
    "docker-compose.yml",
    ".env",
    "runbooks/alerts.md",
    "infra/prometheus/rules/",
    "infra/alertmanager/",
    "infra/grafana/",
    "infra/docker/",
    "loadgen/",
    "services/kit/README.md",
)


def tracked() -> list[str]:
    listed = git(REPO, "ls-files")
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.decode().splitlines()


def prose(path: Path) -> str:
    """What a reader takes in: a Python file's comments and strings (its code, such as `float(`
    parsing a setting, is the scene), any other file whole."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return text
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return "\n".join(t.string for t in tokens if t.type in (tokenize.COMMENT, tokenize.STRING))


def giveaways(text: str) -> list[str]:
    lowered = text.lower()
    return sorted({w for w in (*CAUSE_WORDS, *IDS) if w in lowered})


def trainee_files() -> list[str]:
    return [path for path in tracked() if not path.startswith(INSTRUCTOR)]


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in trainee_files()
        if p.startswith(READ_WHOLE) or (p.startswith("services/") and p.endswith("README.md"))
    ],
)
def test_a_file_the_trainee_reads_names_no_cause(path: str) -> None:
    assert giveaways(prose(REPO / path)) == [], path


def test_no_file_or_folder_name_of_the_trainee_view_names_a_cause() -> None:
    named = {
        path: found
        for path in trainee_files()
        if (found := giveaways(path.replace("_", "-").replace("/", " / ")))
    }
    assert named == {}


def test_the_services_package_docstrings_name_no_drill_or_cause() -> None:
    found = {}
    for init in sorted((REPO / "services").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        if words := giveaways(doc):
            found[str(init.relative_to(REPO))] = words
    assert found == {}


def test_the_check_finds_a_planted_giveaway() -> None:
    """The scan is not vacuous: a drill id or a cause word, in any case, is caught."""
    assert giveaways("see the N+1 in orders") == ["n+1"]
    assert giveaways("Drill: Float-Drift") == ["float", "float-drift"]
    assert giveaways("order history is slow") == []


def test_the_checks_a_team_sees_before_its_diagnosis_name_no_cause() -> None:
    """`drill verify` shows these in full before the diagnosis is right (drill/grading.py, veiled):
    their names must say no more than the page."""
    shown = {s.codename: giveaways(" ".join(s.symptoms)) for s in registry().values()}
    assert shown == {s.codename: [] for s in registry().values()}
    assert all(s.symptoms for s in registry().values())


@pytest.mark.parametrize(
    "path", ["runbooks/spec-template.md", *sorted(p for p in tracked() if p.startswith(SPECS))]
)
def test_a_spec_states_the_contract_without_pointing_at_a_drill(path: str) -> None:
    """A spec is the contract a fix must meet, so it may speak of exact money or calls between
    services as every spec does; it may not tie a rule to a drill, nor name the graders' proofs
    or the code as it is today."""
    text = (REPO / path).read_text(encoding="utf-8")
    lowered = text.lower()
    assert not [i for i in IDS if i in lowered]
    assert not [s.codename for s in registry().values() if s.codename in lowered]
    assert not [w for w in ("tests/", "poison", "grader", "today") if w in lowered]
