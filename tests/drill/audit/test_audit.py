"""`drill audit` on the lab's own code: the planted faults that are code-visible are found in
the poisoned services, and nothing at all is found once every reference fix is laid over them."""

import json
import shutil
from pathlib import Path

from drill.audit import audit
from drill.checklist import Item
from tests.conftest import REPO, drill
from tests.drill.review.conftest import git, services_repo


def fixed_tree(destination: Path) -> Path:
    """services/ with every solutions/<scenario>/services/* copied over it."""
    shutil.copytree(
        REPO / "services", destination / "services", ignore=shutil.ignore_patterns("__pycache__")
    )
    for solution in sorted((REPO / "solutions").iterdir()):
        shutil.copytree(solution / "services", destination / "services", dirs_exist_ok=True)
    return destination


def test_the_poisoned_services_show_each_drills_code_visible_faults() -> None:
    found = {(f.path, f.item) for f in audit(REPO, [REPO / "services"])}

    # float-drift: float schema, column and sums; the running total reads the whole history.
    for path in ("schemas.py", "models.py", "ledger.py"):
        assert (f"services/billing/{path}", Item.FLOAT_MONEY) in found
    assert ("services/billing/ledger.py", Item.UNBOUNDED_QUERY) in found
    # circular-deadlock: the topology is a cycle.
    assert ("services/chain/topology.py", Item.CALL_CYCLE) in found
    # n-plus-one: a query per user, every order of each user loaded through the relationship.
    assert ("services/orders/history.py", Item.UNBOUNDED_QUERY) in found
    lines = {f.line for f in audit(REPO, [REPO / "services/orders/history.py"])}
    assert {18, 39, 42} <= lines  # order.lines, session.get in the loop, user.orders


def test_the_reference_fixes_are_clean(tmp_path: Path) -> None:
    tree = fixed_tree(tmp_path / "fixed")

    assert audit(tree, [tree / "services"]) == []


def test_exit_codes_and_json_output(tmp_path: Path) -> None:
    poisoned = services_repo(tmp_path / "poisoned")
    fixed = fixed_tree(tmp_path / "fixed")

    found = drill(poisoned, "audit", "--json")
    clean = drill(fixed, "audit")

    assert found.returncode == 1, found.stderr
    report = json.loads(found.stdout)
    assert {"path", "line", "item", "message", "check"} <= set(report["findings"][0])
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "clean" in clean.stdout


def test_bad_usage_is_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    repo = services_repo(tmp_path / "repo")

    missing = drill(repo, "audit", "no/such/place")
    bad_rev = drill(repo, "audit", "--diff", "no-such-rev")
    option_like = drill(repo, "audit", "--diff=--output=/tmp/x")
    both = drill(repo, "audit", "services", "--diff", "HEAD")
    not_git = drill(tmp_path, "audit", "--diff", "HEAD")

    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    assert bad_rev.returncode == 2 and "does not know the revision 'no-such-rev'" in bad_rev.stderr
    assert option_like.returncode == 2 and "not a revision" in option_like.stderr
    assert both.returncode == 2 and "not both" in both.stderr
    assert not_git.returncode == 2 and "git" in not_git.stderr


def test_diff_reports_only_the_lines_changed_since_the_revision(tmp_path: Path) -> None:
    repo = services_repo(tmp_path / "repo")
    assert drill(repo, "audit", "--diff", "HEAD").returncode == 0  # the poisoned code is old news
    schemas = repo / "services/orders/schemas.py"
    schemas.write_text(schemas.read_text() + "\n\nSHIPPING_FEE: float = 4.99\n")
    (repo / "services/orders/fees.py").write_text("def fee_total(n: int) -> float:\n    return 0\n")

    result = drill(repo, "audit", "--diff", "HEAD", "--json")

    assert result.returncode == 1
    reported = {(f["path"], f["item"]) for f in json.loads(result.stdout)["findings"]}
    assert reported == {
        ("services/orders/schemas.py", "float-money"),
        ("services/orders/fees.py", "float-money"),
    }
    assert git(repo, "status", "--short").returncode == 0
