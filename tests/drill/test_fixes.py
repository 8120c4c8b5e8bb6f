"""`drill solve` and `drill reset` on a tree copy: exact round trips, and no trainee edit lost."""

import subprocess
from pathlib import Path

import pytest

from drill import fixes
from tests.conftest import drill

SCENARIO = "float-drift"


def snapshot(tree: Path) -> dict[str, bytes]:
    return {
        path.relative_to(tree).as_posix(): path.read_bytes()
        for path in sorted((tree / "services").rglob("*.py"))
    }


def test_solve_lays_the_reference_fix_over_the_tree_and_reset_undoes_it(tree: Path) -> None:
    poisoned = snapshot(tree)

    solved = drill(tree, "solve", SCENARIO)

    assert solved.returncode == 0, solved.stderr
    for rel in fixes.fix_files(tree, SCENARIO):
        assert (tree / rel).read_bytes() == (tree / "solutions" / SCENARIO / rel).read_bytes()
    assert snapshot(tree) != poisoned

    reset = drill(tree, "reset", SCENARIO)

    assert reset.returncode == 0, reset.stderr
    assert snapshot(tree) == poisoned
    assert not fixes.is_solved(tree, SCENARIO)


def test_solving_twice_keeps_the_poisoned_backup(tree: Path) -> None:
    poisoned = snapshot(tree)
    drill(tree, "solve", SCENARIO)

    again = drill(tree, "solve", SCENARIO)
    drill(tree, "reset", SCENARIO)

    assert "nothing to change" in again.stdout
    assert snapshot(tree) == poisoned


def test_reset_saves_a_trainee_s_own_edits_before_restoring(tree: Path) -> None:
    ledger = tree / "services" / "billing" / "ledger.py"
    original = ledger.read_bytes()
    drill(tree, "solve", SCENARIO)
    ledger.write_text("# the trainee's attempt\n")

    result = drill(tree, "reset", SCENARIO)

    assert ledger.read_bytes() == original
    saved = list((tree / ".drill" / "saved").rglob("ledger.py"))
    assert [path.read_text() for path in saved] == ["# the trainee's attempt\n"]
    assert "Your edits were saved" in result.stdout


def test_reset_of_a_never_solved_tree_restores_from_git(tree: Path) -> None:
    git = ["git", "-C", str(tree)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run(
        [*git, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "lab"], check=True
    )
    ledger = tree / "services" / "billing" / "ledger.py"
    committed = ledger.read_bytes()
    ledger.write_text("# edited without solving\n")

    result = drill(tree, "reset", SCENARIO)

    assert result.returncode == 0, result.stderr
    assert ledger.read_bytes() == committed


def test_reset_without_a_solve_or_git_history_is_a_clear_error(tree: Path) -> None:
    result = drill(tree, "reset", SCENARIO)

    assert result.returncode == 1
    assert "never solved" in result.stderr
    assert "Traceback" not in result.stderr


def test_fix_files_of_an_unknown_scenario_is_an_error(tree: Path) -> None:
    with pytest.raises(fixes.FixError, match="no reference fix"):
        fixes.fix_files(tree, "no-such-scenario")


def test_a_fixed_copy_holds_the_other_drills_fixes_and_leaves_the_tree_alone(tree: Path) -> None:
    poisoned = snapshot(tree)
    others = ["circular-deadlock", "n-plus-one"]

    folder = fixes.fixed_copy(tree, others)

    assert snapshot(tree) == poisoned
    fixed = {rel for scenario in others for rel in fixes.fix_files(tree, scenario)}
    for scenario in others:
        for rel in fixes.fix_files(tree, scenario):
            assert (folder / rel).read_bytes() == (tree / "solutions" / scenario / rel).read_bytes()
    # Everything else is the tree's, the drill's own (poisoned) package included.
    for rel, content in poisoned.items():
        if rel not in fixed:
            assert (folder / rel).read_bytes() == content, rel


def test_a_fixed_copy_is_made_once_per_content_and_old_ones_go(tree: Path) -> None:
    first = fixes.fixed_copy(tree, ["float-drift"])
    marker = first / "services" / "marker"
    marker.write_text("made once")

    assert fixes.fixed_copy(tree, ["float-drift"]) == first
    assert marker.exists()

    served = fixes.fixed_copy(tree, ["n-plus-one"])
    # A copy a running service still serves is kept; any other is removed.
    newest = fixes.fixed_copy(tree, ["circular-deadlock"], keep=[str(served)])

    assert len({first, served, newest}) == 3
    assert not first.exists()
    assert served.is_dir() and newest.is_dir()
