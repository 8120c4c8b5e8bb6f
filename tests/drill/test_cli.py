"""The `drill` command's usage errors and messages: clear words and the documented exit codes."""

import json
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from drill.scenarios import registry
from tests.conftest import REPO, drill


def test_unknown_scenario_is_bad_usage(tree: Path) -> None:
    for command in ("verify", "solve", "reset"):
        result = drill(tree, command, "no-such-drill")
        assert result.returncode == 2, command
        assert "unknown drill 'no-such-drill'" in result.stderr
        # The codenames a trainee may type, never the ids, which name the planted faults.
        assert all(s.codename in result.stderr for s in registry().values())
        assert not any(s.id in result.stderr for s in registry().values())


def test_verify_with_no_drill_named_or_running_lists_the_codenames(tree: Path) -> None:
    result = drill(tree, "verify")

    assert result.returncode == 2
    assert "no drill is running in this tree" in result.stderr
    assert "slow-orders" in result.stderr and "n-plus-one" not in result.stderr


def test_reset_needs_exactly_one_of_a_scenario_or_all(tree: Path) -> None:
    assert drill(tree, "reset").returncode == 2
    assert drill(tree, "reset", "float-drift", "--all").returncode == 2


def test_outside_a_lab_tree_the_command_says_where_to_run_it(tmp_path: Path) -> None:
    result = drill(tmp_path, "verify", "float-drift")

    assert result.returncode == 2
    assert "not inside a 3AM Drill Lab checkout" in result.stderr


def test_verify_without_a_running_lab_is_exit_2_and_says_how_to_start_it(tree: Path) -> None:
    # A port offset nobody uses, so a lab running elsewhere on this machine cannot answer.
    result = drill(tree, "verify", "float-drift", env={"DRILL_PORT_OFFSET": "17"})

    assert result.returncode == 2
    assert "billing does not answer" in result.stderr
    assert "drill up" in result.stderr


def test_a_bad_port_offset_is_bad_usage(tree: Path) -> None:
    result = drill(tree, "up", env={"DRILL_PORT_OFFSET": "-5"})

    assert result.returncode == 2
    assert "DRILL_PORT_OFFSET" in result.stderr


# A Docker client pointed at a socket where no engine listens: "no engine answers", on any machine.
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def test_docker_mode_without_an_engine_is_bad_usage_and_names_the_local_lab(tree: Path) -> None:
    result = drill(tree, "up", "--mode", "docker", env=NO_ENGINE)

    assert result.returncode == 2
    assert "no Docker engine answers" in result.stderr
    assert "--mode local" in result.stderr
    assert not (tree / ".drill" / "lab.json").exists()


@pytest.mark.slow
def test_auto_falls_back_to_the_local_lab_and_says_so(tree: Path) -> None:
    shutil.copy(REPO / "docker-compose.yml", tree / "docker-compose.yml")
    env = {**NO_ENGINE, "DRILL_PORT_OFFSET": "450"}
    try:
        result = drill(tree, "up", env=env)
        state = json.loads((tree / ".drill" / "lab.json").read_text())
    finally:
        drill(tree, "down", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No Docker lab: no Docker engine answers" in result.stdout
    assert "3AM Drill Lab (local)" in result.stdout
    assert state["mode"] == "local"


def test_down_when_nothing_runs_is_calm(tree: Path) -> None:
    result = drill(tree, "down")

    assert result.returncode == 0
    assert "not running" in result.stdout


def test_an_unreadable_lab_state_is_reported_not_a_traceback(tree: Path) -> None:
    state = tree / ".drill" / "lab.json"
    state.parent.mkdir()
    state.write_text("{not json")

    result = drill(tree, "down")

    assert result.returncode == 1
    assert "cannot read" in result.stderr and "delete it" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@contextmanager
def _squat_on_billing_port() -> Iterator[tuple[socket.socket, int]]:
    """A socket bound to billing's port under some valid DRILL_PORT_OFFSET, and that offset.

    The offset is picked, not the port: an OS-chosen free port can lie beyond the largest offset
    `drill` accepts, and then `drill up` rightly refuses the offset instead of the port.
    """
    for offset in range(1000, 40_000, 997):
        squatter = socket.socket()
        try:
            squatter.bind(("127.0.0.1", 8001 + offset))
        except OSError:
            squatter.close()
            continue
        with squatter:
            yield squatter, offset
        return
    pytest.fail("no free port for billing under any offset tried")


def test_up_refuses_a_port_another_program_holds(tree: Path) -> None:
    with _squat_on_billing_port() as (squatter, offset):
        squatter.listen()
        # A listener that never answers HTTP: the lab must not mistake it for a free port.
        result = drill(tree, "up", "--mode", "local", env={"DRILL_PORT_OFFSET": str(offset)})
    drill(tree, "down", env={"DRILL_PORT_OFFSET": str(offset)})

    assert result.returncode == 1
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_up_reports_where_everything_is_and_down_stops_it(lab: Path) -> None:
    state = json.loads((lab / ".drill" / "lab.json").read_text())
    assert set(state["services"]) >= {"billing"}

    again = drill(lab, "up", "--mode", "local")
    stopped = drill(lab, "down")

    assert again.returncode == 1
    assert "already running" in again.stderr
    assert stopped.returncode == 0
    assert "billing" in stopped.stdout
    assert not (lab / ".drill" / "lab.json").exists()
