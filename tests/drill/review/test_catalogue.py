"""The catalogue: every pull request applies to today's services, and `drill audit` finds each
fault its answer key says the audit finds, and nothing else on the lines the change touches."""

from pathlib import Path

import pytest

from drill.audit import audit, changed_lines
from drill.checklist import Item
from drill.review import catalogue
from drill.review.scoring import TOLERANCE
from tests.drill.review.conftest import git, services_repo

IDS = catalogue.ids()


def _applied(pr_id: str, tmp_path: Path) -> Path:
    """A git repository of today's services with the pull request applied."""
    repo = services_repo(tmp_path / "repo")
    patch = tmp_path / "change.patch"
    patch.write_text(catalogue.load(pr_id).patch)
    applied = git(repo, "apply", str(patch))
    assert applied.returncode == 0, applied.stderr
    return repo


def test_the_catalogue_has_at_least_eight_pull_requests_covering_every_item() -> None:
    assert len(IDS) >= 8
    planted = {fault.item for pr_id in IDS for fault in catalogue.answer_key(pr_id)}
    assert planted == set(Item)


@pytest.mark.parametrize("pr_id", IDS)
def test_the_pull_request_applies_cleanly_to_the_current_services(
    pr_id: str, tmp_path: Path
) -> None:
    repo = services_repo(tmp_path / "repo")
    patch = tmp_path / "change.patch"
    patch.write_text(catalogue.load(pr_id).patch)

    result = git(repo, "apply", "--check", str(patch))

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("pr_id", IDS)
def test_the_answer_key_points_at_lines_the_change_touches(pr_id: str, tmp_path: Path) -> None:
    repo = _applied(pr_id, tmp_path)
    changed = changed_lines(repo, "HEAD")

    for fault in catalogue.answer_key(pr_id):
        start, end = fault.ranges[0]
        assert changed.get(fault.file, set()) & set(range(start, end + 1)), fault
        assert fault.audit or fault.human_only, f"{fault}: say why only a human finds it"


@pytest.mark.parametrize("pr_id", IDS)
def test_the_audit_finds_each_fault_the_key_gives_it_and_raises_no_false_alarm(
    pr_id: str, tmp_path: Path
) -> None:
    repo = _applied(pr_id, tmp_path)

    findings = audit(repo, [repo / "services"], changed_lines(repo, "HEAD"))

    faults = catalogue.answer_key(pr_id)
    for fault in faults:
        hits = [f for f in findings if fault.covers(f.path, f.line, f.item, TOLERANCE)]
        if fault.audit:
            assert hits, f"the audit misses {fault.item} in {fault.file}: {findings}"
        else:
            assert not hits, f"the key says only a human finds {fault}, but the audit does"
    stray = [f for f in findings if not any(x.covers(f.path, f.line, f.item, 0) for x in faults)]
    assert not stray, f"findings the answer key does not plant: {stray}"
